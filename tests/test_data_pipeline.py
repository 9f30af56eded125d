"""The math data pipeline end to end on the tiny model (CPU): a dataset with bad rows -> pass rates
with the policy (interrupted and resumed) -> a pass-rate band -> a two-stage curriculum, each
stage starting from the adapter the previous one saved; then SFT as stage 0 from the shipped config.

The tiny model's warm start is built once and cached (see tests/conftest.py).
"""

import json

import pytest
import torch
import yaml

from lead_lite.models.loading import adapter_digest
from lead_lite.data import main as data_main
from lead_lite.tasks import arithmetic
from lead_lite.train import main as train_main

BAD = {2: "a missing problem", 5: "a missing answer", 7: "an unparsable answer"}  # index -> reason
# Completion budget of both the pass rates and training: the tiny preset's. The warm-started tiny
# model writes 30-50 tokens before its answer, so a shorter training budget cuts most completions
# before their answer, every group is all wrong, and a GRPO step has no gradient.
BUDGET = 64


@pytest.fixture(autouse=True)
def one_thread():
    """Two torch threads on a shared 2-core machine are far slower than one."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def write_problems(path, n_good: int = 10) -> list[int]:
    """GSM8K-style rows (question, answer ending in ``#### N``, worked solution), bad ones at BAD."""
    rows = [{"question": r["prompt"].removesuffix(arithmetic.PROMPT_SUFFIX), "answer": f"Work it out.\n#### {r['answer']}",
             "solution": r["solution"]} for r in arithmetic.generate(n_good, seed=7)]
    bad_rows = {2: {"question": "", "answer": "#### 3"}, 5: {"question": "What is 1+1?", "answer": None},
                7: {"question": "What is x?", "answer": "#### \\frac{1}{"}}
    for i in sorted(bad_rows):
        rows.insert(i, bad_rows[i])
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    return [i for i in range(len(rows)) if i not in bad_rows]


def read_jsonl(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_bad_rows_pass_rates_band_and_two_stage_curriculum(tiny_path, tmp_path, caplog):
    problems, pass_rates, band = tmp_path / "problems.jsonl", tmp_path / "pass_rates.jsonl", tmp_path / "band.jsonl"
    good = write_problems(problems)
    difficulty = ["difficulty", "--data", str(problems), "--k", "4", "--output", str(pass_rates),
                  "--max_new_tokens", str(BUDGET), "--chunk_size", "4"]

    # 1. pass rates: bad rows reported with their reason and index, and never sampled
    with caplog.at_level("WARNING"):
        counts = data_main(difficulty)
    for i, reason in BAD.items():
        assert f"dropped 1 row(s) with {reason} (first indices: [{i}])" in caplog.text
    records = read_jsonl(pass_rates)
    assert [r["id"] for r in records] == [f"{problems}:{i}" for i in good]
    assert counts == {**counts, "sampled": len(good), "skipped": 0, "problems": len(good)}
    for r in records:
        assert r["k"] == 4 and r["judged"] == 4 and r["pass_rate"] == r["correct"] / 4
        assert r["answer"] == str(int(r["answer"])) and "\\boxed{" in r["solution"]  # read from "#### N"

    # 2. interrupted after 3 problems, mid-line: the run resumes without redoing them
    lines = pass_rates.read_text().splitlines(keepends=True)
    pass_rates.write_text("".join(lines[:3]) + lines[3][:25])
    counts = data_main(difficulty)
    assert counts["skipped"] == 3 and counts["sampled"] == len(good) - 3
    resumed = read_jsonl(pass_rates)
    assert sorted(r["id"] for r in resumed) == sorted(r["id"] for r in records) and resumed[:3] == records[:3]

    # 3. keep the band where GRPO has signal
    counts = data_main(["filter", "--pass_rates", str(pass_rates), "--keep", "0.1:0.9", "--output", str(band)])
    kept = read_jsonl(band)
    expected = [r for r in resumed if 0.1 <= r["pass_rate"] <= 0.9]
    assert 0 < len(kept) == counts["kept"] == len(expected)  # the warm-started tiny model is partly right
    assert [k["source_id"] for k in kept] == [r["id"] for r in expected]
    assert counts["too_hard"] + counts["too_easy"] + counts["kept"] == len(resumed)

    # 4. two GRPO stages: the cleaned problems, then the band; stage 2 starts from stage 1's adapter.
    # Training completions get the budget the pass rates were measured with, and stage 2's one step
    # holds every band problem with 8 completions each, so it has groups with reward spread (with
    # pass rates >= 0.25, all 8 completions of a problem agree with probability <= 0.1 per problem).
    run = tmp_path / "run"
    cfg = tmp_path / "curriculum.yaml"
    cfg.write_text(yaml.safe_dump({
        "model": "tiny", "output_dir": str(run), "eval_size": 0, "save_strategy": "no", "logging_steps": 1,
        "per_device_train_batch_size": 8, "num_generations": 4, "max_completion_length": BUDGET,
        "stages": [{"dataset": str(problems), "max_steps": 2},
                   {"dataset": str(band), "max_steps": 1, "num_generations": 8,
                    "per_device_train_batch_size": 8 * len(kept)}],
    }))
    caplog.clear()
    with caplog.at_level("WARNING"):
        stage1, stage2 = train_main(["--config", str(cfg)])
    assert "dropped 1 row(s) with an unparsable answer (first indices: [7])" in caplog.text  # reported again
    assert (stage1["stage"], stage1["steps"], stage2["stage"], stage2["steps"]) == ("stage-1", 2, "stage-2", 1)
    assert stage1["init_adapter"] is None and stage2["init_adapter"] == str(run / "stage-1")
    saved1 = adapter_digest(run / "stage-1")
    assert stage2["start_adapter_digest"] == stage2["init_adapter_digest"] == stage1["adapter_digest"] == saved1
    assert adapter_digest(run / "stage-2") == stage2["adapter_digest"] != saved1  # stage 2 trained it further
    for name, dataset, steps in (("stage-1", problems, 2), ("stage-2", band, 1)):
        resolved = yaml.safe_load((run / name / "resolved_config.yaml").read_text())
        assert resolved["dataset_source"] == f"local file {dataset}"
        assert (resolved["dataset"], resolved["max_steps"], resolved["output_dir"]) == (str(dataset), steps,
                                                                                       str(run / name))
    assert json.loads((run / "curriculum.json").read_text()) == [stage1, stage2]


def test_shipped_tiny_curriculum_sft_then_grpo(tiny_path, tmp_path):
    from lead_lite.config import REPO_ROOT

    run = tmp_path / "cur"
    records = train_main(["--config", str(REPO_ROOT / "configs/curriculum/tiny.yaml"), "--output_dir", str(run),
                          "--max_steps", "1", "--train_size", "32", "--eval_size", "0"])
    assert [(r["stage"], r["method"], r["steps"]) for r in records] == [
        ("stage-0", "sft", 1), ("stage-1", "grpo", 1), ("stage-2", "grpo", 1)]
    for prev, cur in zip(records, records[1:]):
        assert cur["init_adapter"] == prev["output_dir"]
        assert cur["start_adapter_digest"] == prev["adapter_digest"] == adapter_digest(prev["output_dir"])
    sft_summary = json.loads((run / "stage-0" / "summary.json").read_text())
    assert sft_summary["method"] == "SFT" and sft_summary["rows"] == 32 and sft_summary["train_loss"] > 0

    # a single GRPO run can start from the SFT adapter too
    summary = train_main(["--model", "tiny", "--init_adapter", str(run / "stage-0"), "--output_dir",
                          str(tmp_path / "grpo"), "--max_steps", "1", "--eval_size", "0", "--train_size", "32",
                          "--save_strategy", "no"])
    assert summary["start_adapter_digest"] == adapter_digest(run / "stage-0")
