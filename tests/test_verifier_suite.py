"""The external answer-equivalence suite: math-verify's own test cases and golds in the formats
of MATH, AIME and the GRPO-LEAD stage files (tests/data/answer_equivalence.jsonl; its sources are
in tests/data/build_answer_equivalence.py)."""

import json
from pathlib import Path

import pytest

from lead_lite.verifier import MathVerifier, Verdict

ROWS = [json.loads(line) for line in (Path(__file__).parent / "data" / "answer_equivalence.jsonl").open()]


@pytest.fixture(scope="module")
def judged():
    v = MathVerifier(timeout_s=5.0)  # agreement, not speed: a generous limit on a loaded machine
    try:
        verdicts = [j.verdict for j in v.check_batch([r["completion"] for r in ROWS], [r["gold"] for r in ROWS])]
    finally:
        v.close()
    return [int(verdict is Verdict.CORRECT) for verdict in verdicts]


def test_the_suite_covers_its_sources():
    sources = {r["source"].split("::")[0] for r in ROWS}
    assert len([r for r in ROWS if r["source"].startswith("math-verify")]) >= 190
    assert {"lead_lite: a gold in the MATH format", "lead_lite: a gold in the AIME format",
            "lead_lite: a gold in the stage format"} <= sources


def test_no_false_positives(judged):
    wrongly_accepted = [r for r, got in zip(ROWS, judged) if got and not r["expected"]]
    assert wrongly_accepted == []


def test_every_disagreement_is_a_documented_departure(judged):
    disagree = [r for r, got in zip(ROWS, judged) if got != r["expected"]]
    assert [r for r in disagree if "departs" not in r] == []
    assert [r for r, got in zip(ROWS, judged) if "departs" in r and got == r["expected"]] == []


def test_agreement_with_the_labels(judged):
    agree = [got == r["expected"] for r, got in zip(ROWS, judged)]
    mv = [a for a, r in zip(agree, ROWS) if r["source"].startswith("math-verify")]
    assert sum(agree) / len(agree) >= 0.96  # every miss is a listed departure (the test above)
    assert sum(mv) / len(mv) >= 0.95
