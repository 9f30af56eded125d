"""Answer checking: extraction, the verdict policy, time bounds, batches, threads and the cache."""

import threading
import time

import pytest
import torch

from lead_lite import rewards as rewards_module
from lead_lite.advantages import lead_advantages, lead_rewards
from lead_lite.answers import screen
from lead_lite.rewards import HasAnswer, MathAccuracy, batch_answers
from lead_lite.verifier import MIN_TIMEOUT_S, MathVerifier, Verdict, extract_boxed

SLOW = r"(x+1)^{999}"  # passes the screen; math-verify needs seconds on it


SCHEDULER_ALLOWANCE = 0.15  # s: a shared 2-core machine at load 15 stalls any process this long


def bound(timeout_s: float) -> float:
    """The promised worst check, plus what a loaded machine adds to any wall-clock measurement
    (benchmarks/overhead.py reports the exact worst check against the promise)."""
    return timeout_s * 1.05 + 0.05 + SCHEDULER_ALLOWANCE


@pytest.fixture(scope="module")
def verifier():
    v = MathVerifier(timeout_s=1.0)
    yield v
    v.close()


@pytest.mark.parametrize(
    "text, expected",
    [
        (r"\boxed{42}", "42"),
        (r"a \boxed{1} then \boxed{2}", "2"),
        (r"\boxed{\frac{1}{2}}", r"\frac{1}{2}"),
        (r"\boxed{ {a}^{ {b} } }", "{a}^{ {b} }"),
        (r"\fbox{7}", "7"),
        (r"\boxed{unclosed", None),
        (r"\boxed{3} \boxed{unclosed", "3"),
        ("no box at all", None),
        (r"\boxed{}", ""),
        (r"\boxed{\{1, 2\}}", r"\{1, 2\}"),
        (r"\boxed{1},\boxed{2},\boxed{3}", "1, 2, 3"),  # several boxes in a row are one answer
        (r"$\boxed{(2, 2)} \quad \text{and} \quad \boxed{(6, 2)}$", "(2, 2), (6, 2)"),
        (r"\boxed{1} no no \boxed{2}", "2"),  # words between boxes: separate answers
    ],
)
def test_extract_boxed(text, expected):
    assert extract_boxed(text) == expected


@pytest.mark.parametrize("n", [28_571, 100_000])
def test_extraction_is_linear_on_degenerate_text(n):
    """28,571 unclosed boxes (200k characters) took minutes with the old quadratic scan."""
    for text in ("\\boxed{" * n, "\\boxed{" * n + "}" * n, "{" * (7 * n), "\\boxed{1}" * n):
        start = time.perf_counter()
        extract_boxed(text)
        assert time.perf_counter() - start < 0.1 + SCHEDULER_ALLOWANCE


@pytest.mark.parametrize(
    "completion, gold, verdict",
    [
        (r"<think>3+4=7</think> \boxed{7}", "7", Verdict.CORRECT),
        (r"\boxed{7.0}", "7", Verdict.CORRECT),
        (r"\boxed{1,000}", "1000", Verdict.CORRECT),
        (r"\boxed{123}", "1,2,3", Verdict.WRONG),  # a list gold is not a thousands-separated number
        (r"\boxed{8}", "7", Verdict.WRONG),
        (r"\boxed{\frac{1}{2}}", "0.5", Verdict.CORRECT),
        (r"\boxed{\frac{14}{2}}", "7", Verdict.CORRECT),
        (r"\boxed{x+1}", "1+x", Verdict.CORRECT),
        (r"\boxed{\sqrt{2}/2}", r"\frac{\sqrt{2}}{2}", Verdict.CORRECT),
        (r"\boxed{2\sqrt{3}}", r"\sqrt{12}", Verdict.CORRECT),
        (r"\boxed{\pi 5}", r"5\pi", Verdict.CORRECT),
        (r"\boxed{hello world}", "3", Verdict.WRONG),
        (r"\boxed{x=3}", "3", Verdict.CORRECT),  # math-verify: the value of an equation
        (r"\boxed{(0,1]}", "[0,1)", Verdict.WRONG),
        ("the answer is 7", "7", Verdict.NO_ANSWER),
        (r"\boxed{}", "7", Verdict.NO_ANSWER),
        (r"\boxed{2}", r"\frac{a}{", Verdict.UNJUDGEABLE),
        (r"\boxed{\frac{1}{}}", r"\frac{1}{}", Verdict.UNJUDGEABLE),  # an unparsable gold, even copied
        (r"\boxed{2}", "", Verdict.UNJUDGEABLE),
    ],
)
def test_verdicts(verifier, completion, gold, verdict):
    assert verifier.check(completion, gold).verdict is verdict


@pytest.mark.parametrize(
    "completion, gold",
    [
        (r"\boxed{0.0}", r"\frac{1}{3000000}"),  # no nonzero gold accepts 0
        (r"\boxed{0.000000}", r"\frac{1}{3000000}"),
        (r"\boxed{0}", r"\frac{1}{3000000}"),
        (r"\boxed{111}", "0,111"),  # a comma after a lone leading zero is a decimal comma
        (r"\boxed{-250}", "-0,250"),
        (r"\boxed{(2, 1)}", "1,2"),  # an ordered tuple is not the list in another order
        (r"\boxed{1, 2}", r"\boxed{1} no no \boxed{2}"),  # the gold's boxes are not merged
        (r"\boxed{0.333}", r"\frac{1}{3}"),
        (r"\boxed{10^{17}+1}", r"10^{17}"),
        (r"\boxed{1.22}", "1,22"),  # a comma between digits that is not a thousands separator: a list
        (r"\boxed{10.2}", "10,20"),
        (r"\boxed{1 000}", "1000"),  # math-verify: not one number
        (r"\boxed{2\frac{1}{3}}", r"\frac{2}{3}"),  # a mixed number, not a product
        (r"\boxed{3 1/2}", "1.5"),
        (r"\boxed{2 3}", "6"),  # a space is not a product
        (r"\boxed{10^10}", "0"),  # 10^{10} to math-verify
        (r"\boxed{\sqrt{x^2}}", "x"),  # |x|
        # an integer or exact gold needs an exact answer; a decimal gold is met to 6 places
        (r"\boxed{3628801.0}", "3628800"), (r"\boxed{4.999999}", "5"), (r"\boxed{2520.001}", "2520"),
        (r"\boxed{3.14159}", r"\pi"), (r"\boxed{3.141593}", r"\pi"), (r"\boxed{1.414214}", r"\sqrt{2}"),
        (r"\boxed{0.3333333}", r"\frac{1}{3}"), (r"\boxed{0.693147}", r"\ln 2"),  # also where math-verify judges
        (r"\boxed{0.333}", "0.3333"),
    ],
)
def test_false_positives_are_wrong(verifier, completion, gold):
    assert verifier.check(completion, gold).verdict is Verdict.WRONG


@pytest.mark.parametrize(
    "completion, gold",
    [
        (r"\boxed{1 - \frac{1}{\mathrm{e}}}", r"1 - \frac{1}{\mathrm{e}}"),  # written exactly as the gold
        (r"\boxed{12:00}", "12:00"),  # the gold itself, though math-verify cannot read it twice alike
        (r"\boxed{0.111}", "0,111"),  # math-verify reads a comma after a lone 0 as a decimal comma
        (r"\boxed{1,000}", "1000"),
        (r"\boxed{1},\boxed{2},\boxed{3}", "1,2,3"),  # several boxed parts
        (r"\boxed{3}, \boxed{1} and \boxed{2}", "1,2,3"),  # a list in any order
        (r"\boxed{(1, 2)}", "(1,2)"),
        (r"\boxed{\{2, 1\}}", r"\{1,2\}"),
        (r"\boxed{28}", r"28\%"),  # percent
        (r"\boxed{28\%}", "28"),
        (r"\boxed{0.3333333}", "0.333333"),  # a decimal gold: equal after rounding to 6 places
        (r"\boxed{-24.1999999}", "-24.2"),
        (r"\boxed{0.5}", r"\frac{1}{2}"),
        (r"\boxed{2}", r"\boxed{1} no no \boxed{2}"),
        (r"\boxed{\frac73}", r"2\frac13"),  # a mixed number
        (r"\boxed{5 cm}", "5"), (r"\boxed{5\mathrm{cm}}", "5"), (r"\boxed{30 s}", "30"),  # units
        (r"\boxed{no}", "No"), (r"\boxed{5}", r"\{5\}"), (r"\boxed{0.28}", r"28\%"),
    ],
)
def test_false_negatives_are_correct(verifier, completion, gold):
    assert verifier.check(completion, gold).verdict is Verdict.CORRECT


PATHOLOGICAL = [
    r"10!!!!!", r"2^{2^{100}}", r"9^{9^{9^{9}}}", r"2^{2^{2^{2^{2^{2}}}}}", r"10^{1000000000}",
    r"\sum_{k=1}^{10^{12}} k^{k}", "(" * 60 + "1" + ")" * 60, "\\frac{" * 50 + "1" + "}{2}" * 50,
    "{" * 200 + "1" + "}" * 200, "9" * 10_000, r"123456!",
]


@pytest.mark.parametrize("answer", PATHOLOGICAL)
def test_pathological_answers_are_wrong_without_sympy(verifier, answer):
    calls = verifier.stats["worker_calls"]
    start = time.perf_counter()
    j = verifier.check(f"\\boxed{{{answer}}}", "12")
    assert time.perf_counter() - start < SCHEDULER_ALLOWANCE
    assert j.verdict is Verdict.WRONG and j.reason.startswith("pathological")
    assert verifier.stats["worker_calls"] == calls
    assert screen(answer) is not None


def test_pathological_answer_against_an_unparsable_gold_is_unjudgeable(verifier):
    assert verifier.check(r"\boxed{10!!!!!}", r"\frac{1}{").verdict is Verdict.UNJUDGEABLE


def test_a_gold_with_a_tower_is_not_screened_against(verifier):
    assert verifier.check(r"\boxed{2^{2^{3}}}", "2^{2^{3}}").verdict is Verdict.CORRECT
    assert screen("e^{x^2}") is None  # a power inside an exponent is a tower only on a number


def test_the_issue_reward_hack_is_closed(verifier):
    """A wrong answer sympy cannot finish used to be unjudgeable (advantage 0 beats -1)."""
    assert MathAccuracy(verifier)(completions=[r"\boxed{13}", r"\boxed{10!!!!!}"], answer=["12", "12"]) == [0.0, 0.0]


@pytest.mark.parametrize("timeout_s", [0.1, 0.3, 1.0])
def test_a_slow_check_is_wrong_within_the_bound(timeout_s):
    v = MathVerifier(timeout_s=timeout_s)
    try:
        start = time.perf_counter()
        j = v.check(f"\\boxed{{{SLOW}}}", "x+1")  # the very first check of this verifier
        elapsed = time.perf_counter() - start
        assert j.verdict is Verdict.WRONG and "not judged within" in j.reason
        assert elapsed <= bound(timeout_s)
        # the standby takes over: the next check is judged, within the bound again
        if timeout_s >= 0.3:  # sympy itself may need more than 0.1 s on a loaded machine
            assert v.check(r"\boxed{x=3}", "3").verdict is Verdict.CORRECT
    finally:
        v.close()


def test_an_answer_that_crashes_the_worker_is_wrong():
    """A worker that dies on an answer (past its memory limit, say) makes that answer wrong once the
    gold has parsed: a crash must not turn a wrong answer into an unjudgeable one."""
    v = MathVerifier(timeout_s=30.0)
    try:
        assert v.check(r"\boxed{\sin(\pi/6)}", r"\frac{1}{2}").verdict is Verdict.CORRECT  # gold parse cached
        busy = []

        def kill_when_busy():
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline and not busy:
                busy.extend(w for w in v._pool if w.job is not None and w.job.gold_ok)
                time.sleep(0.01)
            for w in busy:
                w.proc.kill()

        killer = threading.Thread(target=kill_when_busy)
        killer.start()
        start = time.perf_counter()
        j = v.check(f"\\boxed{{{SLOW}}}", "x+1")
        killer.join()
        assert busy and j.verdict is Verdict.WRONG and "crashed" in j.reason
        assert time.perf_counter() - start < 20
        assert v.check(r"\boxed{\sin(\pi/2)}", "1").verdict is Verdict.CORRECT  # the standby took over
    finally:
        v.close()


def test_every_check_is_within_the_bound_on_mixed_answers():
    v = MathVerifier(timeout_s=0.5)
    answers = [SLOW, r"\sin^2 x+\cos^2 x", "7", r"[0,1)", SLOW, r"x=3", r"10!!!!!", SLOW, r"\frac{a}{b}"]
    try:
        worst = 0.0
        for a in answers:
            start = time.perf_counter()
            j = v.check(f"\\boxed{{{a}}}", "3")
            worst = max(worst, time.perf_counter() - start)
            assert j.verdict is not Verdict.UNJUDGEABLE or j.reason.startswith("internal")
        assert worst <= bound(0.5)
    finally:
        v.close()


PATHOLOGICAL_GOLDS = [r"2^{2^n}+1", r"\frac{10!}{3!\,3!\,4!}"]  # each trips the screen itself


@pytest.mark.parametrize("gold", PATHOLOGICAL_GOLDS)
def test_a_pathological_gold_keeps_every_check_within_the_bound(gold):
    """A gold that trips the screen used to leave the answer unscreened and the exact rules
    unbounded (2,000 copies of 65521^{256}: 54.8 s; a 68k-character answer: 158 s)."""
    assert screen(gold) is not None
    v = MathVerifier(timeout_s=0.3)
    answers = [r"65521^{256}", r"\frac{1}{65521^{256}}", r"\frac{1}{65519^{256}}", "+".join(["65521^{256}"] * 40),
               "1+" * 30_000 + "1", "9" * 60_000, SLOW, "7"]
    try:
        worst, verdicts = 0.0, []
        for answer in answers:
            start = time.perf_counter()
            verdicts.append(v.check(f"\\boxed{{{answer}}}", gold).verdict)
            worst = max(worst, time.perf_counter() - start)
        assert worst <= bound(0.3)
        assert verdicts == [Verdict.WRONG] * len(answers)
        start = time.perf_counter()
        acc = MathAccuracy(v)(completions=[f"\\boxed{{\\frac{{1}}{{{p}^{{256}}}}}}" for p in range(60_001, 60_013)],
                              answer=[gold] * 12)
        assert acc == [0.0] * 12 and time.perf_counter() - start <= 12 * bound(0.3)
    finally:
        v.close()


def test_a_limit_below_a_worker_restart_still_judges(monkeypatch):
    """At 0.1 s (below the ~0.7 s a new worker needs) slow answers are wrong, never unjudgeable,
    and the workers survive them: the alarm inside the worker ends the work, not a kill."""
    v = MathVerifier(timeout_s=MIN_TIMEOUT_S)
    try:
        golds = [f"x+{k}" for k in range(6)]
        judgements = v.check_batch([f"\\boxed{{{SLOW}}}"] * 6, golds)
        assert [j.verdict for j in judgements] == [Verdict.WRONG] * 6
        assert all("not judged within" in j.reason for j in judgements)
        after = v.check_batch([r"\boxed{\sin(\pi/6)}", r"\boxed{x=3}", r"\boxed{[0,1)}"], [r"\frac12", "3", "[0,1)"])
        assert all(j.verdict is not Verdict.UNJUDGEABLE for j in after)
        assert v.stats["timeouts"] == 6
        assert v.stats["restarts"] <= 2  # the alarm ends the work (none here at load 5; margin for a loaded machine)
    finally:
        v.close()


def test_works_off_the_main_thread(verifier):
    results = []
    t = threading.Thread(target=lambda: results.append(verifier.check(r"\boxed{\sin(\pi/2)}", "1").verdict))
    t.start()
    t.join(30)
    assert results == [Verdict.CORRECT]


def test_cache_hits_repeated_pairs():
    v = MathVerifier(cache_size=4)
    v.check(r"\boxed{\sin(\pi/2)}", "1")  # a pair the worker judges
    calls = v.stats["worker_calls"]
    v.check(r"\boxed{\sin(\pi/2)}", "1")
    assert v.stats["worker_calls"] == calls and v.stats["cache_hits"] == 1
    v.close()


def test_batch_equals_one_by_one(verifier):
    texts = [r"\boxed{4}", "four", r"\boxed{\sin(\pi/6)}", r"\boxed{[1,2]}", r"\boxed{2^{2^{9}}}", r"\boxed{x}"]
    golds = ["4", "4", r"\frac{1}{2}", "[1,2]", "4", r"\frac{a}{"]
    batch = [j.verdict for j in verifier.check_batch(texts, golds)]
    assert batch == [verifier.check(t, g).verdict for t, g in zip(texts, golds)]
    assert batch == [Verdict.CORRECT, Verdict.NO_ANSWER, Verdict.CORRECT, Verdict.CORRECT, Verdict.WRONG,
                     Verdict.UNJUDGEABLE]


def test_rewards_share_one_extraction_per_batch(monkeypatch, verifier):
    calls = []
    monkeypatch.setattr(rewards_module, "extract_boxed", lambda t: calls.append(t) or extract_boxed(t))
    completions = [r"\boxed{4}", r"\boxed{5}", "four", r"\boxed{x^2}"]
    acc = MathAccuracy(verifier)(completions=completions, answer=["4"] * 4)
    fmt = HasAnswer()(completions=completions)
    assert acc == [1.0, 0.0, 0.0, 0.0] and fmt == [1.0, 1.0, 0.0, 1.0]
    assert len(calls) == 4  # once per completion, for both rewards
    assert batch_answers(["\\boxed{1}"]) == ["1"]


def test_reward_callables_never_score_unjudgeable_as_right(verifier):
    acc = MathAccuracy(verifier)
    out = acc(completions=[r"\boxed{4}", r"\boxed{5}", "four", r"\boxed{4}"], answer=["4", "4", "4", r"\frac{"])
    assert out == [1.0, 0.0, 0.0, None]
    conversational = [[{"role": "assistant", "content": r"\boxed{4}"}]]
    assert acc(completions=conversational, answer=["4"]) == [1.0]
    assert HasAnswer()(completions=[r"\boxed{4}", "4"]) == [1.0, 0.0]
    assert acc.__name__ == "accuracy" and HasAnswer().__name__ == "format"


def test_an_exception_marks_one_answer_unjudgeable(monkeypatch, verifier):
    import lead_lite.verifier as verifier_module

    real = verifier_module.decide

    def broken(answer, gold):
        if answer == "boom":
            raise RuntimeError("boom")
        return real(answer, gold)

    monkeypatch.setattr(verifier_module, "decide", broken)
    acc = MathAccuracy(verifier)
    assert acc(completions=[r"\boxed{boom}", r"\boxed{1}"], answer=["1", "1"]) == [None, 1.0]


def test_a_plain_check_object_still_works():
    from lead_lite.verifier import Judgement

    class OnlyCheck:
        def check(self, completion, gold):
            if "boom" in completion:
                raise RuntimeError("boom")
            return Judgement(Verdict.CORRECT if extract_boxed(completion) == gold else Verdict.WRONG, None, "test")

    assert MathAccuracy(OnlyCheck())(completions=["boom", r"\boxed{1}"], answer=["1", "1"]) == [None, 1.0]


def test_bad_arguments_are_rejected():
    with pytest.raises(ValueError, match="timeout_s"):
        MathVerifier(timeout_s=0)
    with pytest.raises(ValueError, match="timeout_s"):
        MathVerifier(timeout_s=MIN_TIMEOUT_S / 2)
    with pytest.raises(ValueError, match="workers"):
        MathVerifier(workers=0)


ADVERSARIAL_FORMS = [  # no form of a wrong answer may earn more than a plain wrong answer
    "\\boxed{13}",  # the plain wrong answer, first
    "no answer at all", "\\boxed{}", "\\boxed{" * 1000, "\\boxed{10!!!!!}", "\\boxed{2^{2^{100}}}",
    "\\boxed{9^{9^{9^{9}}}}", "\\boxed{" + "(" * 60 + "1" + ")" * 60 + "}", "\\boxed{" + "9" * 600 + "}",
    f"\\boxed{{{SLOW}}}", "\\boxed{\\frac{1}{0}}", "\\boxed{12.001}", "\\boxed{11.99}", "\\boxed{12 \\pm 1}",
    "\\boxed{x}", "\\boxed{\\text{twelve}}", "\\boxed{1, 2}", "\\boxed{(12, 12)}",
    "\\boxed{\\infty}", "\\boxed{0/0}", "\\boxed{}\\boxed{13}", "\\boxed{\\boxed{13}}",
]


def test_no_answer_form_earns_more_than_a_plain_wrong_answer():
    v = MathVerifier(timeout_s=0.5)
    try:
        completions = ADVERSARIAL_FORMS + ["\\boxed{12}"]  # the right answer last
        acc = MathAccuracy(v)(completions=completions, answer=["12"] * len(completions))
        fmt = HasAnswer()(completions=completions)
    finally:
        v.close()
    assert acc[-1] == 1.0 and all(a == 0.0 for a in acc[:-1]), acc
    g = len(acc)
    correct = torch.tensor([acc], dtype=torch.float32)  # (1, G)
    lengths = torch.full((1, g), 50.0)
    has_answer = torch.tensor([fmt])
    for kwargs in ({}, {"format_failure_reward": -1.0}, {"explicit_penalty": False}):
        r = lead_rewards(correct, lengths, has_answer, **kwargs)  # (1, G)
        adv = lead_advantages(r, correct)  # (1, G)
        assert not torch.isnan(r).any()
        assert (r[0, 1:-1] <= r[0, 0]).all() and (adv[0, 1:-1] <= adv[0, 0] + 1e-6).all()
        assert r[0, -1] > r[0, 0] and adv[0, -1] > adv[0, 0]


@pytest.mark.parametrize(
    "completion, reward",
    [
        ("<answer>(7-3)*5</answer></answer>", 1.0),  # a stray closing tag after a correct answer
        ("<answer>(7-3)*5</answer> done </answer>", 1.0),
        ("<answer>(7-3)*5</answer> <answer>", 1.0),  # an unclosed tag leaves the complete answer
        ("<answer>(7-3)*5 </answer>", 1.0),
        ("(7-3)*5</answer>", 0.0),  # no opening tag: no answer
        ("<answer>7-3-5</answer></answer>", 0.1),
    ],
)
def test_countdown_answer_tags(completion, reward):
    from lead_lite.tasks.countdown import check

    assert check(completion, [3, 5, 7], 20)[0] == reward
