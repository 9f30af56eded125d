"""The Countdown checker: graded reward table, number rules, adversarial input, data."""

import builtins
import json
import logging
import re
import sys
import time
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lead_lite.tasks import countdown as cd
from lead_lite.tasks.countdown import check


def tagged(expr: str) -> str:
    return f"<think>working</think> <answer>{expr}</answer>"


@pytest.mark.parametrize(
    "completion, nums, target, expected",
    [
        # correct
        (tagged("(7-3)*5"), [3, 5, 7], 20, (1.0, "correct")),
        (tagged(" ( 7 - 3 ) * 5 "), [3, 5, 7], 20, (1.0, "correct")),
        (tagged("(79 - 60) + 17 = 36"), [60, 17, 79], 36, (1.0, "correct")),  # a true claimed value
        (tagged("8 / (3 - 8 / 3)"), [3, 3, 8, 8], 24, (1.0, "correct")),  # exact fractions
        (tagged("-(3-7)*5"), [3, 5, 7], 20, (1.0, "correct")),  # unary minus
        (tagged("5+5+10"), [5, 10, 5], 20, (1.0, "correct")),  # a number given twice is used twice
        ("<answer>1+1</answer> on second thought " + tagged("(7-3)*5"), [3, 5, 7], 20, (1.0, "correct")),
        # near-correct: rel = |v - t| / t, reward 0.8 - 0.5 * rel / 0.25
        (tagged("(7-3)*5"), [3, 5, 7], 22, (0.618182, "near")),  # rel 1/11
        (tagged("10+6+4"), [4, 6, 10], 16, (0.3, "near")),  # rel 0.25: the cutoff, 0.3
        (tagged("90+1+1"), [1, 1, 90], 100, (0.64, "near")),  # rel 0.08
        (tagged("(7-3)/5"), [3, 5, 7], 1, (0.4, "near")),  # rel 0.2, a fractional value
        # tagged but wrong: 0.1
        (tagged("10+6+5"), [5, 6, 10], 16, (0.1, "wrong_value")),  # rel 0.3125 > 0.25
        (tagged("(7-3)*5"), [3, 5, 7, 2], 20, (0.1, "wrong_numbers")),  # 2 not used
        (tagged("(7-3)*5*1"), [3, 5, 7], 20, (0.1, "wrong_numbers")),  # 1 not given
        (tagged("(7-3)*7"), [3, 5, 7], 28, (0.1, "wrong_numbers")),  # 7 used twice
        (tagged("(7-3)*5 = 21"), [3, 5, 7], 20, (0.1, "claimed_value_mismatch")),
        (tagged("(7-3)*5 = 20 = 20"), [3, 5, 7], 20, (0.1, "syntax_error")),
        (tagged("7/(5-5)"), [5, 5, 7], 1, (0.1, "division_by_zero")),
        (tagged("3.5*2+13"), [2, 3, 13], 20, (0.1, "non_integer_literal")),
        (tagged("7 -"), [3, 5, 7], 20, (0.1, "syntax_error")),
        (tagged("   "), [3, 5, 7], 20, (0.1, "empty")),
        (tagged("+7+3+5"), [3, 5, 7], 15, (0.1, "disallowed_syntax")),  # unary plus is not allowed
        (tagged("7 x 3 - 1"), [1, 3, 7], 20, (0.1, "bad_character")),
        (tagged("20"), [3, 5, 7], 20, (0.1, "wrong_numbers")),  # the target alone
        # wrong format: 0.0
        ("(7-3)*5 = 20", [3, 5, 7], 20, (0.0, "no_answer")),
        ("<answer>(7-3)*5", [3, 5, 7], 20, (0.0, "no_answer")),
        ("(7-3)*5</answer>", [3, 5, 7], 20, (0.0, "no_answer")),
        ("", [3, 5, 7], 20, (0.0, "no_answer")),
    ],
)
def test_graded_table(completion, nums, target, expected):
    assert check(completion, nums, target) == expected


def test_near_scale_is_linear_and_bounded():
    target = 1000
    rewards = [cd.near_reward(Fraction(target + d), target) for d in (1, 50, 100, 200, 250)]
    assert rewards == [0.798, 0.7, 0.6, 0.4, 0.3]
    assert cd.near_reward(Fraction(target + 251), target) is None
    assert cd.near_reward(Fraction(-1), 0) is None  # target 0: distance over max(|t|, 1)


@pytest.mark.parametrize("nums, target", [([1, 2], 1.5), ([1], 1), ([1, 2, 3, 4, 5, 6, 7], 1), ([0, 1], 1),
                                          ([True, 2], 3), ("12", 3), ([10**6, 1], 3)])
def test_a_malformed_problem_is_a_data_error_not_a_wrong_answer(nums, target):
    with pytest.raises(ValueError):
        check(tagged("1+2"), nums, target)


ADVERSARIAL = [
    "__import__('os').system('touch PWNED_FILE')",
    "(lambda: __import__('sys').modules.__setitem__('PWNED', 1))()",
    "[c for c in ().__class__.__base__.__subclasses__()]",
    "9**9**9",
    "2**100000",
    "2^100000",
    "(" * 10_000 + "1" + ")" * 10_000,
    "(" * 99 + "1" + ")" * 99,  # under the length bound: the parser or the depth bound stops it
    "-" * 150 + "1",  # 150 nested unary minus: the depth bound
    "1+" * 99 + "1",  # long sum: the node bound
    "1" * 1_000_000,
    "9" * 7 + "+1",  # a 7-digit literal
    "999999*999999*999999*999999*999999*999999*999999",
    "1_000_000",
    "0x10+1",
    "1e6",
    "١٢+3",  # Arabic-Indic digits
    "１２+3",  # full-width digits
    "abs(-20)",
    "x+1",
    "True+19",
    "(20).real",
    "20 if 1 else 2",
    "[20][0]",
    "'20'",
    "...",
    "1;2",
    "1\x00",
    "\\N{DIGIT ONE}",
]


@pytest.mark.parametrize("expr", ADVERSARIAL, ids=range(len(ADVERSARIAL)))
def test_adversarial_answers_are_rejected_quickly_and_never_run(expr, tmp_path, monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("model output reached eval/exec")

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(builtins, "eval", refuse)
    monkeypatch.setattr(builtins, "exec", refuse)
    completion = "<think>" + "x" * 1000 + "</think><answer>" + expr + "</answer>"
    start = time.perf_counter()
    reward, reason = check(completion, [1, 19, 2], 20)
    elapsed = time.perf_counter() - start
    assert elapsed < 0.05, f"{reason} took {elapsed * 1000:.1f} ms"
    assert reward == cd.TAGGED_REWARD and reason not in (cd.CORRECT, cd.NEAR), reason
    assert not (tmp_path / "PWNED_FILE").exists() and "PWNED" not in sys.modules


@pytest.mark.parametrize("expr", ADVERSARIAL, ids=range(len(ADVERSARIAL)))
def test_the_ast_walk_alone_rejects_them(expr, tmp_path, monkeypatch):
    """With the character pre-filter switched off, the AST walk still refuses every one."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(cd, "_ALLOWED", re.compile(r"[\s\S]*"))
    start = time.perf_counter()
    reward, reason = check(f"<answer>{expr}</answer>", [1, 19, 2], 20)
    assert time.perf_counter() - start < 0.05
    assert reward == cd.TAGGED_REWARD and reason not in (cd.CORRECT, cd.NEAR, cd.BAD_CHARACTER), reason
    assert not (tmp_path / "PWNED_FILE").exists() and "PWNED" not in sys.modules


@pytest.mark.parametrize("expr", ["abs(-20)", "x+1", "(20).real", "True+19", "20 if 1 else 2", "[20][0]",
                                  "(lambda: 20)()", "2**3", "19//1+1", "19%20+1", "not 0", "~-21"])
def test_names_calls_attributes_and_other_operators_are_disallowed_syntax(expr, monkeypatch):
    monkeypatch.setattr(cd, "_ALLOWED", re.compile(r"[\s\S]*"))
    assert check(f"<answer>{expr}</answer>", [1, 19, 20], 20) == (0.1, "disallowed_syntax")


def test_a_million_characters_without_a_tag_is_fast():
    start = time.perf_counter()
    assert check("9" * 1_000_000, [1, 2], 3) == (0.0, "no_answer")
    assert check("<answer>" * 100_000 + "</answer>" * 100_000, [1, 2], 3)[0] == 0.1
    assert time.perf_counter() - start < 0.05


def test_evaluate_reports_its_reason():
    assert cd.evaluate("8/(3-8/3)") == (Fraction(24), [8, 3, 8, 3])
    with pytest.raises(ValueError, match="disallowed_syntax"):
        cd.evaluate("2**3")


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10**6), sizes=st.sampled_from([(3,), (4,), (3, 4), (2, 5, 6)]),
       max_number=st.integers(2, 120))
def test_a_generated_problem_is_solved_by_its_own_construction(seed, sizes, max_number):
    for row in cd.generate(3, seed=seed, split="train", numbers_per_problem=sizes, max_number=max_number,
                           max_target=500):
        assert len(row["nums"]) in sizes and all(1 <= n <= max_number for n in row["nums"])
        assert 1 <= row["target"] <= 500
        assert check(tagged(row["expression"]), row["nums"], row["target"]) == (1.0, "correct")
        assert check(row["solution"], row["nums"], row["target"]) == (1.0, "correct")
        assert str(row["nums"]) in row["prompt"] and str(row["target"]) in row["prompt"]


@settings(max_examples=200, deadline=None)
@given(text=st.text(max_size=300))
def test_any_text_gets_a_reward_from_the_table(text):
    for completion in (text, f"<answer>{text}</answer>"):
        reward, reason = check(completion, [3, 5, 7], 20)
        assert reward in (0.0, 0.1, 1.0) or (reason == "near" and 0.3 <= reward <= 0.8)


def test_generation_is_seeded_and_the_splits_do_not_overlap():
    kw = dict(numbers_per_problem=(3, 4), max_number=99, max_target=99)
    train = cd.generate(400, seed=1, split="train", **kw)
    test = cd.generate(100, seed=1, split="test", **kw)
    assert train == cd.generate(400, seed=1, split="train", **kw)
    assert train != cd.generate(400, seed=2, split="train", **kw)
    key = lambda r: (tuple(sorted(r["nums"])), r["target"])  # noqa: E731
    assert not {key(r) for r in train} & {key(r) for r in test}
    assert len({key(r) for r in train}) == 400
    assert {len(r["nums"]) for r in train} == {3, 4}


def test_too_narrow_settings_fail_clearly():
    with pytest.raises(ValueError, match="cannot draw"):
        cd.generate(500, seed=0, numbers_per_problem=(2,), max_number=3, max_target=5)


def test_reward_functions_for_trl():
    conversational = [{"role": "assistant", "content": tagged("7*3-5+4")}]
    comps = [tagged("(7-3)*5"), tagged("(7-3)*5"), "20", conversational]
    nums = [[3, 5, 7], [3, 5, 7], [3, 5, 7], [3, 4, 5, 7]]
    target = [20, 22, 20, 20]
    assert cd.CountdownAccuracy()(completions=comps, nums=nums, target=target) == [1.0, 0.0, 0.0, 1.0]
    assert cd.CountdownGraded()(completions=comps, nums=nums, target=target) == [1.0, 0.618182, 0.0, 1.0]
    assert cd.CountdownFormat()(completions=comps) == [1.0, 1.0, 0.0, 1.0]
    names = [f.__name__ for f in (cd.CountdownAccuracy(), cd.CountdownGraded(), cd.CountdownFormat())]
    assert names == ["accuracy", "countdown_graded", "format"]  # TRL's metric names


def test_an_unjudgeable_problem_gives_none_never_a_reward(caplog):
    with caplog.at_level(logging.WARNING):
        out = cd.CountdownAccuracy()(completions=[tagged("1+2")] * 2, nums=[[1, 2], [1, 2.5]], target=[3, 3])
        graded = cd.CountdownGraded()(completions=[tagged("1+2")], nums=[[1, 2]], target=[None])
    assert out == [1.0, None] and graded == [None]
    assert "unjudgeable" in caplog.text


def test_public_format_loader_drops_malformed_rows_by_index(tmp_path, caplog):
    rows = [
        {"nums": [44, 19, 35], "target": 98},
        {"nums": [1], "target": 1},
        {"nums": None, "target": 3},
        {"nums": [3, 7, 5, 2], "target": 20},
        {"target": 4},
        {"nums": [0, 5, 5], "target": 10},
        {"nums": [1, 2], "target": -2_000_000_000},
    ]
    path = tmp_path / "countdown.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    with caplog.at_level(logging.WARNING):
        kept = cd.load_public(str(path))
    assert [(r["nums"], r["target"]) for r in kept] == [([44, 19, 35], 98), ([3, 7, 5, 2], 20)]
    assert [r["id"] for r in kept] == [f"{path}:0", f"{path}:3"]
    assert "dropped 5 malformed row(s)" in caplog.text
    assert all(f"row {i}:" in caplog.text for i in (1, 2, 4, 5, 6))
    assert kept[0]["prompt"] == cd.make_prompt([44, 19, 35], 98)


def test_public_format_loader_reads_parquet(tmp_path):
    from datasets import Dataset

    path = tmp_path / "train.parquet"
    Dataset.from_list([{"nums": [1, 2, 3], "target": 6}, {"nums": [4, 5, 6], "target": 15}]).to_parquet(str(path))
    assert [r["target"] for r in cd.load_public(str(path))] == [6, 15]
