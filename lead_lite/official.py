"""The official code's text rules: the ``</think>``-aware answer and the repetition detector.

The official GRPO-LEAD code (github.com/aeroplanepaper/GRPO-LEAD, verl fork, May 2025) judges a
completion with rules that are not in the paper's equations. This module holds the text side of
them as pure, bounded functions (linear time, at most :data:`MAX_TEXT_CHARS` characters read),
plus TRL reward callables that report them as per-completion facts. The group side (the scores
-2 / 0 / -1 and the three-shortest skip rule) is in :mod:`lead_lite.advantages`; the switches are
fields of :class:`lead_lite.config.LeadArguments` (``official_code`` turns them all on).

Official source of each rule (file, function):

- ``deepscaler/rewards/math_reward.py``, ``RewardMathFn.__call__``: the answer is the last
  ``\\boxed{}`` of the text *before the first* ``</think>``; a completion without ``</think>``
  has no answer (a format failure, score 0 after ``main_ppo.py`` maps it).
- ``deepscaler/rewards/math_reward.py``, ``deepscaler_reward_fn``: a completion with no answer
  scores -2 instead when it repeats itself: an n-gram (n = 1..30 whitespace-separated words,
  ``max_continuous_ngram``) repeated 10 or more times in a row, or a "word" of 120 or more
  characters (``find_largest_word``).

Where this module departs from the official code, on purpose:

- The official code checks the decoded prompt + completion; here only the completion (the model's
  output) is read. The paper's prompt ends in "put the final answer within \\boxed{}", so there a
  completion with ``</think>`` but no boxed answer before it is graded with the prompt's empty
  ``\\boxed{}`` (a wrong answer, -1); here it is a format failure (0).
- A text longer than :data:`MAX_TEXT_CHARS` is judged on its last :data:`MAX_TEXT_CHARS`
  characters (the detector) or first ones (the answer region); 200,000 characters is far above
  any completion budget these presets use.
"""

from __future__ import annotations

from lead_lite.rewards import HasAnswer, MathAccuracy, completion_text

THINK_END = "</think>"  # deepscaler/globals.py, THOUGHT_DELIMITER_END
REPEAT_MAX_N = 30  # math_reward.py, deepscaler_reward_fn: max_continuous_ngram(..., max_ngram=30)
REPEAT_MIN_RUN = 10  # math_reward.py, deepscaler_reward_fn: best_count >= 10
LONG_WORD_CHARS = 120  # math_reward.py, deepscaler_reward_fn: len(find_largest_word(...)) >= 120
REPETITION_REWARD = -2.0  # math_reward.py, deepscaler_reward_fn returns -2; main_ppo.py RewardManager keeps it
FORMAT_FAILURE_REWARD = 0.0  # main_ppo.py, RewardManager.__call__: score -1 (no answer) -> 0.0
LENGTH_SKIP_BELOW = 4000.0  # main_ppo.py, RewardManager.get_reweight_rewards: avg_min <= 4000 -> no reweight
MAX_TEXT_CHARS = 200_000  # size cap on what one rule reads (not in the official code)

REPETITION = "repetition"  # metric / column name of the repetition fact

# LeadArguments fields and the values ``official_code: true`` gives them.
OFFICIAL_CODE = {
    "format_failure_reward": FORMAT_FAILURE_REWARD,
    "repetition_reward": REPETITION_REWARD,
    "answer_before_think_end": True,
    "length_skip_below": LENGTH_SKIP_BELOW,
    "drop_uninformative_groups": True,
}


def answer_region(text: str) -> str | None:
    """The part of a completion the official code takes its answer from.

    Args:
        text: the completion.

    Returns:
        the text before the first ``</think>``, or None when there is none (a format failure).

    Example:
        >>> answer_region(r"so \\boxed{4}</think> The answer is \\boxed{5}.")
        'so \\\\boxed{4}'
        >>> answer_region(r"\\boxed{4}") is None
        True
    """
    end = text.find(THINK_END, 0, MAX_TEXT_CHARS)
    return None if end < 0 else text[:end]


def longest_repeat_run(text: str, max_n: int = REPEAT_MAX_N, stop_at: int | None = None) -> int:
    """The longest run of identical, adjacent n-grams, as ``max_continuous_ngram`` counts it.

    The words are ``text.split()``. For each n in 1..max_n the words are cut into consecutive
    non-overlapping chunks of n from the first word on (the official code's partition; a
    repetition that starts off that grid is seen by a smaller or larger n, or not at all), and a
    run is a stretch of equal adjacent chunks. Runs shorter than 2 count as 0. Time: about
    ``W * (1 + 1/2 + ... + 1/max_n)`` chunk comparisons for W words.

    Args:
        text: the text; only its last :data:`MAX_TEXT_CHARS` characters are read.
        max_n: the largest n-gram size.
        stop_at: return as soon as a run this long is found (None: find the longest).

    Returns:
        the number of chunks in the longest run (0 when nothing repeats back to back).

    Example:
        >>> longest_repeat_run("a b a b a b c")  # (a b) three times
        3
        >>> longest_repeat_run("one two three")
        0
    """
    words = text[-MAX_TEXT_CHARS:].split()
    ids: dict[str, int] = {}
    seq = [ids.setdefault(w, len(ids)) for w in words]  # each distinct word -> a small int
    best = 0
    for n in range(1, min(max_n, len(seq)) + 1):
        run = 1
        for start in range(n, len(seq) - n + 1, n):
            if seq[start : start + n] == seq[start - n : start]:
                run += 1
                if run > best:
                    best = run
                    if stop_at is not None and best >= stop_at:
                        return best
            else:
                run = 1
    return best if best >= 2 else 0


def longest_word(text: str) -> int:
    """Characters in the longest whitespace-separated "word" (``find_largest_word``).

    Example:
        >>> longest_word("a bb " + "x" * 130)
        130
    """
    return max((len(w) for w in text[-MAX_TEXT_CHARS:].split()), default=0)


def is_repetitive(text: str) -> bool:
    """The official repetition test: an n-gram (n <= 30) 10+ times in a row, or a 120+ char word.

    Args:
        text: the completion.

    Returns:
        True when the official code would score it -2 had it no answer.

    Example:
        >>> is_repetitive("wait " * 10), is_repetitive("wait " * 9), is_repetitive("=" * 120)
        (True, False, True)
    """
    return longest_word(text) >= LONG_WORD_CHARS or longest_repeat_run(text, stop_at=REPEAT_MIN_RUN) >= REPEAT_MIN_RUN


class Repetition:
    """1.0 when a completion repeats itself (:func:`is_repetitive`), else 0.0: a fact, not a score.

    The trainer gives a completion without an answer that repeats itself ``repetition_reward``
    (official code: -2).

    Example:
        >>> Repetition()(completions=["wait " * 12, "so 4"])
        [1.0, 0.0]
    """

    __name__ = REPETITION

    def __call__(self, completions, **kwargs) -> list[float]:
        return [float(is_repetitive(completion_text(c))) for c in completions]


def _regions(completions) -> list[str]:
    """Each completion's answer region; "" (no answer) when it never closes ``</think>``."""
    return [answer_region(completion_text(c)) or "" for c in completions]


class ThinkEndAccuracy(MathAccuracy):
    """:class:`~lead_lite.rewards.MathAccuracy` on the text before the first ``</think>``.

    A completion without ``</think>`` has no answer, so it is incorrect (0.0).

    Example:
        >>> ThinkEndAccuracy()(completions=[r"\\boxed{4}</think>", r"\\boxed{4}"], answer=["4", "4"])
        [1.0, 0.0]
    """

    answer_before_think_end = True

    def __call__(self, completions, answer, **kwargs) -> list[float | None]:
        return super().__call__(_regions(completions), answer, **kwargs)


class ThinkEndHasAnswer(HasAnswer):
    """:class:`~lead_lite.rewards.HasAnswer` on the text before the first ``</think>``.

    Example:
        >>> ThinkEndHasAnswer()(completions=[r"\\boxed{4}</think>", r"</think>\\boxed{4}", r"\\boxed{4}"])
        [1.0, 0.0, 0.0]
    """

    answer_before_think_end = True

    def __call__(self, completions, **kwargs) -> list[float]:
        return super().__call__(_regions(completions), **kwargs)
