"""Evaluation metrics over judged samples: pure functions, no model and no I/O.

Each problem has k sampled completions, each judged by :class:`lead_lite.verifier.MathVerifier`
(the same checker that scores training rewards). From those judgements:

- ``pass@1``: the share of correct samples, averaged over problems (the mean of c/k).
- ``pass@k``: Chen et al. (2021)'s unbiased estimator ``1 - C(n-c, k) / C(n, k)`` from n samples
  of which c are correct, averaged over problems.
- ``cons@k``: the answer most samples agree on (:func:`majority_vote`) is correct.
- lengths (all / correct / incorrect completions), truncation, no-answer and unjudgeable rates.

A sample is *correct* only with verdict CORRECT. An unjudgeable sample (gold does not parse, or
the check timed out) is never counted as correct; it is counted and reported separately.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from lead_lite.verifier import Judgement, Verdict, _plain_number


@dataclass(frozen=True)
class Judged:
    """One sampled completion, judged.

    Attributes:
        verdict: the verifier's verdict.
        answer: the extracted final answer (None when there is none).
        length: generated tokens, end-of-sequence token included when there is one.
        truncated: generation stopped at the token limit, without an end-of-sequence token.
    """

    verdict: Verdict
    answer: str | None
    length: int
    truncated: bool


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased pass@k from n samples of which c are correct (Chen et al. 2021, Eq. 1).

    ``pass@k = 1 - C(n - c, k) / C(n, k)``: the chance that k samples drawn without replacement
    from the n include at least one correct one. Computed as a product, stable for large n.

    Args:
        n: samples drawn for the problem (>= 1).
        c: correct samples among them (0 <= c <= n).
        k: the k of pass@k (1 <= k <= n).

    Returns:
        a probability in [0, 1].

    Example:
        >>> pass_at_k(4, 1, 2)  # 1 - C(3, 2) / C(4, 2) = 1 - 3/6
        0.5
        >>> pass_at_k(4, 1, 1)  # pass@1 is c / n
        0.25
    """
    if n < 1 or not 0 <= c <= n:
        raise ValueError(f"need n >= 1 and 0 <= c <= n, got n={n}, c={c}")
    if not 1 <= k <= n:
        raise ValueError(f"need 1 <= k <= n, got k={k}, n={n}")
    if n - c < k:
        return 1.0
    miss = 1.0  # C(n-c, k) / C(n, k) = prod_{i=n-c+1}^{n} (1 - k / i)
    for i in range(n - c + 1, n + 1):
        miss *= 1.0 - k / i
    return 1.0 - miss


CORRECT_KEY = ("correct",)


def answer_key(answer: str, verdict: Verdict) -> tuple:
    """The class an answer votes for in :func:`majority_vote`.

    Every correct answer equals the gold answer, so all correct answers are one class however
    they are written (``1/2`` and ``\\frac{1}{2}``). Other answers are grouped by their text with
    spaces and surrounding ``$`` removed, plain numbers by value (``3.0`` and ``3`` agree).

    Example:
        >>> answer_key(" 3.0 ", Verdict.WRONG) == answer_key("3", Verdict.WRONG)
        True
    """
    if verdict is Verdict.CORRECT:
        return CORRECT_KEY
    number = _plain_number(answer)
    if number is not None:
        return ("number", number)
    return ("text", "".join(answer.split()).strip("$"))


@dataclass(frozen=True)
class Vote:
    """The outcome of a majority vote over one problem's samples.

    Attributes:
        answer: the winning answer as its first voter wrote it; None when no sample had one.
        verdict: that voter's verdict; NO_ANSWER when no sample had an answer.
        votes: samples that voted for the winner.
        voters: samples that voted at all (had an answer).
    """

    answer: str | None
    verdict: Verdict
    votes: int
    voters: int


def majority_vote(answers: Sequence[str | None], verdicts: Sequence[Verdict]) -> Vote:
    """The answer most samples agree on (the vote behind cons@k).

    Rules:
        - a sample with no answer (verdict NO_ANSWER, or answer None / empty) abstains;
        - answers are grouped by :func:`answer_key` (all correct answers form one class);
        - an unjudgeable sample votes with its answer's text; if its class wins, the vote's
          verdict is UNJUDGEABLE, which is not correct;
        - ties go to the class whose first vote came earliest (lowest sample index): a rule
          that does not look at correctness, so it neither favours nor penalises the gold;
        - when every sample abstains there is no winner (verdict NO_ANSWER, not correct).

    Args:
        answers: the extracted answer of each sample, in sample order.
        verdicts: the verdict of each sample, same order.

    Returns:
        a :class:`Vote`.

    Example:
        >>> majority_vote(["7", "8", "8", None], [Verdict.CORRECT, Verdict.WRONG, Verdict.WRONG,
        ...                                       Verdict.NO_ANSWER]).answer
        '8'
        >>> majority_vote(["8", "7"], [Verdict.WRONG, Verdict.CORRECT]).verdict  # tie: first wins
        <Verdict.WRONG: 'wrong'>
    """
    if len(answers) != len(verdicts):
        raise ValueError(f"{len(answers)} answers but {len(verdicts)} verdicts")
    counts: dict[tuple, int] = {}
    first: dict[tuple, int] = {}
    for i, (answer, verdict) in enumerate(zip(answers, verdicts)):
        if verdict is Verdict.NO_ANSWER or not answer:
            continue
        key = answer_key(answer, verdict)
        counts[key] = counts.get(key, 0) + 1
        first.setdefault(key, i)
    if not counts:
        return Vote(None, Verdict.NO_ANSWER, 0, 0)
    winner = max(counts, key=lambda key: (counts[key], -first[key]))
    i = first[winner]
    return Vote(answers[i], verdicts[i], counts[winner], sum(counts.values()))


def _mean(values: Sequence[float]) -> float | None:
    return sum(values) / len(values) if values else None


def default_pass_ks(k: int) -> list[int]:
    """The k's reported for pass@k with k samples per problem: powers of two up to k, and k.

    Example:
        >>> default_pass_ks(12)
        [1, 2, 4, 8, 12]
    """
    ks = [2**i for i in range(k.bit_length()) if 2**i <= k]
    return ks if ks[-1] == k else ks + [k]


def summarize(problems: Sequence[Sequence[Judged]], pass_ks: Sequence[int] | None = None) -> dict:
    """Benchmark metrics from the judged samples of each problem.

    Args:
        problems: for each problem, its k judged samples (every problem has the same k).
        pass_ks: the k's of pass@k to report (each <= k); default :func:`default_pass_ks`.

    Returns:
        a dict with ``n_problems``, ``k``, ``n_samples``, ``pass@1``, ``cons@k``, ``pass@k``
        (a dict from each k, as a string, to pass@k), ``mean_length``, ``mean_length_correct``,
        ``mean_length_incorrect`` (wrong or no answer; None when there is none),
        ``truncated_rate``, ``no_answer_rate``, ``wrong_rate``, ``unjudgeable`` (a count),
        ``unjudgeable_rate`` and ``cons_no_vote`` (problems where no sample had an answer).

    Example:
        >>> c, w = Judged(Verdict.CORRECT, "4", 10, False), Judged(Verdict.WRONG, "5", 30, True)
        >>> s = summarize([[c, w], [w, w]])
        >>> s["pass@1"], s["cons@k"], s["pass@k"]["2"], s["mean_length_correct"]
        (0.25, 0.5, 0.5, 10.0)
    """
    if not problems:
        raise ValueError("no problems to summarize")
    k = len(problems[0])
    if k == 0 or any(len(samples) != k for samples in problems):
        raise ValueError(f"every problem needs the same number (>= 1) of samples; got {[len(p) for p in problems]}")
    pass_ks = list(pass_ks) if pass_ks else default_pass_ks(k)
    if any(not 1 <= j <= k for j in pass_ks):
        raise ValueError(f"pass@k needs 1 <= k <= {k} (samples per problem), got {pass_ks}")
    flat = [s for samples in problems for s in samples]
    n_correct = [sum(s.verdict is Verdict.CORRECT for s in samples) for samples in problems]
    votes = [majority_vote([s.answer for s in samples], [s.verdict for s in samples]) for samples in problems]
    counts = {v: sum(s.verdict is v for s in flat) for v in Verdict}
    return {
        "n_problems": len(problems),
        "k": k,
        "n_samples": len(flat),
        "pass@1": _mean([c / k for c in n_correct]),
        "cons@k": _mean([float(v.verdict is Verdict.CORRECT) for v in votes]),
        "pass@k": {str(j): _mean([pass_at_k(k, c, j) for c in n_correct]) for j in pass_ks},
        "mean_length": _mean([s.length for s in flat]),
        "mean_length_correct": _mean([s.length for s in flat if s.verdict is Verdict.CORRECT]),
        "mean_length_incorrect": _mean(
            [s.length for s in flat if s.verdict in (Verdict.WRONG, Verdict.NO_ANSWER)]
        ),
        "truncated_rate": _mean([float(s.truncated) for s in flat]),
        "no_answer_rate": counts[Verdict.NO_ANSWER] / len(flat),
        "wrong_rate": counts[Verdict.WRONG] / len(flat),
        "unjudgeable": counts[Verdict.UNJUDGEABLE],
        "unjudgeable_rate": counts[Verdict.UNJUDGEABLE] / len(flat),
        "cons_no_vote": sum(v.voters == 0 for v in votes),
    }


def at_budget(sample: Judged, token_ids: Sequence[int], budget: int,
              decode: Callable[[list[int]], str], judge: Callable[[str], Judgement]) -> Judged:
    """A sample as it would have been with at most ``budget`` new tokens, without re-generating.

    Sampling is autoregressive, so a generation cut at ``budget`` tokens is the first ``budget``
    tokens of a longer one drawn with the same randomness. A sample that fits the budget is
    unchanged; a longer one is cut to its first ``budget`` token ids, decoded and judged again.
    A completion cut before its final ``\\boxed{}`` closes has no answer (NO_ANSWER); one cut
    after an earlier box is judged on that earlier answer, as the shorter generation would be.

    Args:
        sample: the judged full-length sample.
        token_ids: its generated token ids (``sample.length`` of them).
        budget: the token budget (>= 1).
        decode: token ids -> text (special tokens skipped, as for the full completion).
        judge: text -> :class:`Judgement` (e.g. ``lambda t: verifier.check(t, gold)``).

    Returns:
        the :class:`Judged` sample at that budget (``truncated`` True when it was cut).

    Example:
        >>> from lead_lite.verifier import MathVerifier
        >>> chars, judge = lambda ids: "".join(map(chr, ids)), lambda t: MathVerifier().check(t, "12")
        >>> ids = [ord(c) for c in r"\\boxed{12}"]  # one token per character: 10 tokens
        >>> full = Judged(Verdict.CORRECT, "12", 10, False)
        >>> at_budget(full, ids, 10, chars, judge) == full, at_budget(full, ids, 9, chars, judge).verdict
        (True, <Verdict.NO_ANSWER: 'no_answer'>)
    """
    if budget < 1:
        raise ValueError(f"budget must be >= 1, got {budget}")
    if len(token_ids) != sample.length:
        raise ValueError(f"sample.length={sample.length} but {len(token_ids)} token ids")
    if sample.length <= budget:
        return sample
    judgement = judge(decode(list(token_ids[:budget])))
    return Judged(judgement.verdict, judgement.answer, budget, True)
