"""Answer checking: extraction, verdicts, time bounds, threads and the cache."""

import threading
import time

import pytest

from lead_lite.rewards import HasAnswer, MathAccuracy
from lead_lite.verifier import MathVerifier, Verdict, _mv_check, extract_boxed


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
        ("no box at all", None),
        (r"\boxed{}", ""),
    ],
)
def test_extract_boxed(text, expected):
    assert extract_boxed(text) == expected


@pytest.mark.parametrize(
    "completion, gold, verdict",
    [
        (r"<think>3+4=7</think> \boxed{7}", "7", Verdict.CORRECT),
        (r"\boxed{7.0}", "7", Verdict.CORRECT),
        (r"\boxed{1,000}", "1000", Verdict.CORRECT),
        (r"\boxed{123}", "1,2,3", Verdict.WRONG),  # a tuple gold is not a thousands-separated number
        (r"\boxed{8}", "7", Verdict.WRONG),
        (r"\boxed{\frac{1}{2}}", "0.5", Verdict.CORRECT),
        (r"\boxed{\frac{14}{2}}", "7", Verdict.CORRECT),
        (r"\boxed{x+1}", "1+x", Verdict.CORRECT),
        (r"\boxed{\sqrt{2}/2}", r"\frac{\sqrt{2}}{2}", Verdict.CORRECT),
        (r"\boxed{hello world}", "3", Verdict.WRONG),
        ("the answer is 7", "7", Verdict.NO_ANSWER),
        (r"\boxed{}", "7", Verdict.NO_ANSWER),
        (r"\boxed{2}", r"\frac{a}{", Verdict.UNJUDGEABLE),
        (r"\boxed{\frac{1}{}}", r"\frac{1}{}", Verdict.UNJUDGEABLE),  # an unparsable gold, even copied
        (r"\boxed{2}", "", Verdict.UNJUDGEABLE),
        ("\\boxed{" + "1" * 600 + "}", "1", Verdict.WRONG),
    ],
)
def test_verdicts(verifier, completion, gold, verdict):
    assert verifier.check(completion, gold).verdict is verdict


def test_hanging_check_is_bounded_and_unjudgeable(verifier):
    start = time.perf_counter()
    j = verifier.check(r"\boxed{9^{9^{9^{9}}}}", "3")
    elapsed = time.perf_counter() - start
    assert j.verdict is Verdict.UNJUDGEABLE and "timed out" in j.reason
    assert elapsed < verifier.timeout_s + 0.5
    # the worker restarts and keeps judging
    assert verifier.check(r"\boxed{\frac{6}{3}}", "2").verdict is Verdict.CORRECT


def test_works_off_the_main_thread(verifier):
    results = []
    t = threading.Thread(target=lambda: results.append(verifier.check(r"\boxed{\frac{3}{6}}", "1/2").verdict))
    t.start()
    t.join(30)
    assert results == [Verdict.CORRECT]


def test_cache_hits_repeated_pairs():
    v = MathVerifier(cache_size=4)
    v.check(r"\boxed{\sqrt{4}}", "2")  # a pair the worker judges (fractions take the exact path)
    calls = v.stats["worker_calls"]
    v.check(r"\boxed{\sqrt{4}}", "2")
    assert v.stats["worker_calls"] == calls and v.stats["cache_hits"] == 1
    v.close()


def test_reward_callables_never_score_unjudgeable_as_right(verifier):
    acc = MathAccuracy(verifier)
    out = acc(completions=[r"\boxed{4}", r"\boxed{5}", "four", r"\boxed{4}"], answer=["4", "4", "4", r"\frac{"])
    assert out == [1.0, 0.0, 0.0, None]
    conversational = [[{"role": "assistant", "content": r"\boxed{4}"}]]
    assert acc(completions=conversational, answer=["4"]) == [1.0]
    assert HasAnswer()(completions=[r"\boxed{4}", "4"]) == [1.0, 0.0]
    assert acc.__name__ == "accuracy" and HasAnswer().__name__ == "format"


def test_reward_exception_marks_one_sample_unjudgeable():
    class Broken(MathVerifier):
        def check(self, completion, gold):
            if "boom" in completion:
                raise RuntimeError("boom")
            return super().check(completion, gold)

    acc = MathAccuracy(Broken())
    assert acc(completions=["boom", r"\boxed{1}"], answer=["1", "1"]) == [None, 1.0]


def test_bad_timeout_is_rejected():
    with pytest.raises(ValueError, match="timeout_s"):
        MathVerifier(timeout_s=0)


RATIONAL_PAIRS = [
    ("1/2", r"\frac{2}{4}"), (r"\dfrac{5}{2}", "2.5"), (r"-\frac{3}{4}", "-0.75"), (r"\frac{-3}{4}", r"-\frac{3}{4}"),
    (r"\frac{7}{1}", "7"), (r"\tfrac{3}{6}", "1/2"), (r"\frac{22}{7}", "3.142857"), ("0.3333333", "1/3"),
    ("0.333", r"\frac{1}{3}"), (r"\frac{333333}{1000000}", r"\frac{1}{3}"), (r"\frac{1000001}{1000000}", "1"),
    ("5/2", r"\frac{5}{3}"), ("2.0", r"\frac{5}{2}"), (r"\frac{1}{0}", "1"), ("3", "-3"), ("1,000", "1000"),
]


@pytest.mark.parametrize("answer, gold", RATIONAL_PAIRS)
def test_exact_paths_agree_with_math_verify(verifier, answer, gold):
    expected = Verdict(_mv_check(answer, gold)[0])  # math-verify itself, in this process
    assert verifier.judge_answer(answer, gold).verdict is expected


def test_exact_paths_skip_the_worker():
    v = MathVerifier()
    assert v.check(r"\boxed{\frac{6}{4}}", "3/2").verdict is Verdict.CORRECT
    assert v.check(r"\boxed{\frac{6}{5}}", "3/2").verdict is Verdict.WRONG
    assert v.stats["worker_calls"] == 0 and v._proc is None


def test_standby_worker_takes_over_after_a_timeout():
    v = MathVerifier(timeout_s=1.0)
    assert v.check(r"\boxed{\sqrt{9}}", "3").verdict is Verdict.CORRECT
    standby = v._standby.pid
    assert v.check(r"\boxed{9^{9^{9^{9}}}}", "3").verdict is Verdict.UNJUDGEABLE
    assert v.check(r"\boxed{\sqrt{16}}", "4").verdict is Verdict.CORRECT
    assert v._proc.pid == standby and v._standby is not None and v._standby.pid != standby
    v.close()
    assert v._proc is None and v._standby is None
