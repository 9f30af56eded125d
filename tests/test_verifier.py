"""Answer checking: extraction, verdicts, time bounds, threads and the cache."""

import threading
import time

import pytest

from lead_lite.rewards import HasAnswer, MathAccuracy
from lead_lite.verifier import MathVerifier, Verdict, extract_boxed


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
        (r"\boxed{8}", "7", Verdict.WRONG),
        (r"\boxed{\frac{1}{2}}", "0.5", Verdict.CORRECT),
        (r"\boxed{\frac{14}{2}}", "7", Verdict.CORRECT),
        (r"\boxed{x+1}", "1+x", Verdict.CORRECT),
        (r"\boxed{\sqrt{2}/2}", r"\frac{\sqrt{2}}{2}", Verdict.CORRECT),
        (r"\boxed{hello world}", "3", Verdict.WRONG),
        ("the answer is 7", "7", Verdict.NO_ANSWER),
        (r"\boxed{}", "7", Verdict.NO_ANSWER),
        (r"\boxed{2}", r"\frac{a}{", Verdict.UNJUDGEABLE),
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
    v.check(r"\boxed{\frac{2}{4}}", "1/2")
    calls = v.stats["worker_calls"]
    v.check(r"\boxed{\frac{2}{4}}", "1/2")
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
