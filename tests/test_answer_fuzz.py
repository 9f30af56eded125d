"""Differential fuzzer: the exact rules (``lead_lite.answers.decide``) against math-verify alone.

Seeded (gold, answer) pairs in the forms maths datasets use (tests/answer_forms.py). Where the
exact rules decide, they must agree with math-verify (``verify`` with its defaults, as the
workers call it), or the pair must be an instance of a deliberate departure listed, with its
reason and examples, in docs/answer_checking.md ("Deliberate departures"). A pair judged
correct that math-verify judges wrong fails the test: no departure may accept more.
"""

import logging
import random
import re
import time
from pathlib import Path

import pytest
from answer_forms import KINDS, fuzz_pairs

from lead_lite.answers import EXACT_GOLD_PLACES, decide, gold_places
from lead_lite.verifier import _mv_check, for_math_verify

SEED = 23
N_PAIRS = 4000
DOC = Path(__file__).resolve().parent.parent / "docs" / "answer_checking.md"


def math_verify(answer: str, gold: str, float_rounding: int = 6) -> bool | None:
    """math-verify's verdict (None: the gold does not parse), as the workers reach it."""
    verdict = _mv_check(for_math_verify(answer), for_math_verify(gold), float_rounding)[0]
    return None if verdict == "unjudgeable" else verdict == "correct"


def _has_decimal(s: str) -> bool:
    return re.search(r"\d\.\d|(?<![\w.])\.\d", s) is not None


def _bare_list(s: str) -> bool:
    s = s.strip()
    return "," in s and s[:1] not in "([{\\" and "=" not in s


# name -> does the pair (gold, answer) belong to it? Each is a row of the table in the doc.
DEPARTURES = {
    # an integer or exact gold needs an exact answer: math-verify rounds both to 6 places
    "rounded decimal for an exact gold": lambda gold, answer: (
        gold_places(gold) == EXACT_GOLD_PLACES and _has_decimal(answer)
        and math_verify(answer, gold, float_rounding=EXACT_GOLD_PLACES) is False),
    # an ordered tuple must keep the order of a bare-list gold: math-verify reads the list as a set
    "tuple in another order for a bare list": lambda gold, answer: (
        answer.strip().startswith("(") and _bare_list(gold)),
}


@pytest.fixture(scope="module")
def judged():
    logging.getLogger("math_verify").setLevel(logging.CRITICAL)
    rows = []
    for gold, answer in fuzz_pairs(N_PAIRS, seed=SEED):
        ours = decide(answer, gold)
        if ours is not None:
            rows.append((gold, answer, ours, math_verify(answer, gold)))
    return rows


def test_the_fuzzer_covers_every_form(judged):
    pairs = fuzz_pairs(N_PAIRS, seed=SEED)
    assert len(pairs) == N_PAIRS and len(set(pairs)) > N_PAIRS * 0.8
    assert len(KINDS) >= 20
    assert len(judged) >= N_PAIRS // 4  # the exact rules decide a good share in-process
    assert sum(ours for *_, ours, _ in judged) >= 200 and sum(not ours for *_, ours, _ in judged) >= 200


def test_no_false_positives_against_math_verify(judged):
    accepted_wrongly = [(g, a) for g, a, ours, mv in judged if ours and mv is False]
    assert accepted_wrongly == []


def test_every_disagreement_is_a_deliberate_departure(judged):
    unexplained = [(g, a) for g, a, ours, mv in judged
                   if mv is not None and ours != mv and not any(d(g, a) for d in DEPARTURES.values())]
    assert unexplained == []


def _doc_departures() -> list[dict]:
    """The rows of the departures table in docs/answer_checking.md."""
    text = DOC.read_text()
    section = text[text.index("## 7. Deliberate departures"):]
    rows = []
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 6 and cells[1].startswith("`"):
            name, gold, answer, ours, mv, _reason = cells
            rows.append({"name": name, "gold": gold.strip("`"), "answer": answer.strip("`"),
                         "ours": ours == "correct", "mv": mv == "correct"})
    return rows


def test_the_documented_departures_are_the_tested_ones():
    rows = _doc_departures()
    assert {r["name"] for r in rows} == set(DEPARTURES)
    for r in rows:
        assert decide(r["answer"], r["gold"]) is r["ours"], r
        assert math_verify(r["answer"], r["gold"]) is r["mv"], r
        assert r["ours"] is False and r["mv"] is True  # a departure only ever rejects
        assert DEPARTURES[r["name"]](r["gold"], r["answer"]), r


@pytest.mark.parametrize(
    "gold, answer",
    [  # the cases: judged correct by the old exact rules, wrong by math-verify
        (r"2\frac{1}{3}", r"\frac{2}{3}"), (r"\frac14", r"1\frac14"), ("1.5", "3 1/2"),
        ("3628800", "3628801.0"), ("1000000", "999999.5"), ("5", "4.999999"), ("2520", "2520.001"),
        (r"2\sqrt{3}", "3.4641"), (r"\pi", "3.14159"), ("x", r"\sqrt{x^2}"), ("x-1", r"\sqrt{(x-1)^2}"),
        ("6", "2 3"), ("30", "5 6"), ("0", "10^10"), ("9", "3^21"), ("10,20", "10.2"),
    ],
)
def test_the_reported_false_positives_are_closed(gold, answer):
    assert decide(answer, gold) is not True
    assert math_verify(answer, gold) is False


@pytest.mark.parametrize(
    "gold, answer",
    [  # the correct answers the exact rules judged wrong: now right, or left to math-verify
        (r"2\frac13", r"\frac73"), (r"3\frac12", "3.5"), ("10,20", "20, 10"), ("5", "5 cm"),
        ("5", r"5\mathrm{cm}"), ("2", "2 km"), ("30", "30 s"), ("No", "no"), (r"\{5\}", "5"),
    ],
)
def test_the_reported_false_negatives_are_closed(gold, answer):
    assert decide(answer, gold) is not False
    assert math_verify(answer, gold) is True


def test_junk_never_raises_and_stays_fast():
    """Model output is untrusted: seeded strings of answer tokens in any order are decided or left
    undecided, never an exception (6,000 decisions: about 0.3 s; the bound leaves room for load)."""
    rng = random.Random(SEED)
    start = time.perf_counter()
    tokens = list("0123456789+-*/^{}()[],.: xyabAB%") + [
        "\\frac", "\\sqrt", "\\pi", "\\cdot", "\\{", "\\}", "\\!", "{,}", "\\left(", "\\right)", "\\text{", "e", "i"]
    for _ in range(3000):
        answer, gold = ("".join(rng.choice(tokens) for _ in range(rng.randint(0, 30))) for _ in range(2))
        assert decide(answer, gold) in (True, False, None)
        assert decide(gold, gold) in (True, None)  # a string read as itself is never wrong
    assert time.perf_counter() - start < 10
