"""The CPU benchmarks run end to end in a smoke configuration and write well-formed outputs.

They check that the scripts keep working, not the effects they measure.
"""

import csv
import importlib.util
from pathlib import Path

import pytest
import torch

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"


def _load(name: str):
    spec = importlib.util.spec_from_file_location(f"benchmarks_{name}", BENCHMARKS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def keep_torch_threads():
    threads = torch.get_num_threads()  # the benchmarks run with one thread
    yield
    torch.set_num_threads(threads)


def test_ablation_smoke(tiny_path, tmp_path, keep_torch_threads):
    ablation = _load("ablation")
    ablation.main(["--steps", "2", "--seeds", "1", "--settings", "GRPO", "GRPO-LEAD", "--eval_every", "1",
                   "--eval_size", "8", "--workers", "1", "--out", str(tmp_path)])
    rows = list(csv.DictReader((tmp_path / "ablation.csv").open()))
    assert [r["setting"] for r in rows] == ["GRPO", "GRPO-LEAD"]
    for r in rows:
        assert 0 <= float(r["final_accuracy_mean"]) <= 1 and r["seeds"] == "1" and r["steps"] == "2"
        assert r["steps_to_target_reached"] in ("0/1", "1/1")
    curves = list(csv.DictReader((tmp_path / "ablation_curves.csv").open()))
    assert [(c["setting"], c["step"]) for c in curves] == [(s, str(k)) for s in ("GRPO", "GRPO-LEAD") for k in range(3)]
    md = (tmp_path / "ablation.md").read_text()
    assert "python benchmarks/ablation.py --steps 2" in md and "CPU" in md
    assert "| GRPO-LEAD | 1 |" in md
    assert (tmp_path / "ablation.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_ablation_keeps_written_findings(tmp_path):
    ablation = _load("ablation")
    curve = [{"setting": "GRPO", "seed": 0, "step": s, "accuracy": a, "mean_length": 30.0,
              "mean_length_correct": n, "no_answer_rate": 0.0} for s, a, n in ((0, 0.5, 40.0), (5, 0.7, 18.0))]
    config = {"prompts": 4, "group": 8, "budget": 64, "lr": 3e-4, "temperature": 1.0}
    runs = [{"setting": "GRPO", "seed": 0, "wall_s": 1.0, "curve": curve, "config": config}]
    args = ablation.argparse.Namespace(target_gain=0.1, workers=1, steps=5, seeds=1, eval_size=2, eval_every=5)
    (tmp_path / "ablation.md").write_text("old table\n\n## Findings\n\nwritten by hand\n")
    ablation.write_outputs(tmp_path, runs, ["GRPO"], args, "python benchmarks/ablation.py", 1.0)
    md = (tmp_path / "ablation.md").read_text()
    assert "old table" not in md and md.endswith("## Findings\n\nwritten by hand\n")
    row = next(csv.DictReader((tmp_path / "ablation.csv").open()))
    assert row["steps_to_target_per_seed"] == "5" and row["steps_to_half_length_per_seed"] == "5"


def test_overhead_smoke(tiny_path, tmp_path, keep_torch_threads):
    overhead = _load("overhead")
    overhead.main(["--repeats", "1", "--checks", "16", "--timeout_s", "0.5", "--out", str(tmp_path)])
    md = (tmp_path / "overhead.md").read_text()
    assert "| full step (generate + score + loss + backward) |" in md
    assert "| scoring path (generation replayed) |" in md
    for name in ("typical, 8 per gold (a GRPO batch)", "typical, all golds distinct", "fuzzer's mix, all pairs distinct",
                 "adversarial"):
        assert md.count(f"| {name} |") == 2, name  # a cold and a warm row
    assert "CPU" in md and "python benchmarks/overhead.py --repeats 1" in md
    assert "sent to math-verify" in md


def test_overhead_reads_real_completions_when_present(tmp_path):
    overhead = _load("overhead")
    path = tmp_path / "samples.jsonl"
    assert overhead.completion_answers(path) is None  # absent: the set is skipped with a note
    path.write_text('{"gold": "7", "completion": "so \\\\boxed{7}", "verdict": "correct"}\n'
                    '{"gold": 12, "completion": "no box"}\n')
    assert overhead.completion_answers(path) == [("so \\boxed{7}", "7"), ("no box", "12")]
    pairs = overhead.fuzz_answers(42)
    assert len(pairs) == 42 and all("\\boxed{" in c for c, _ in pairs)


def test_smollm2_benchmark_smoke(smollm2_copy, tmp_path):
    """benchmarks/smollm2.py: one step per run through the command line, its table and per-run CSV."""
    bench = _load("smollm2")
    bench.main(["--steps", "1", "--seeds", "0", "--settings", "GRPO", "GRPO-LEAD", "--out", str(tmp_path),
                "--runs_dir", str(tmp_path / "runs"), "--extra", "--per_device_train_batch_size", "4",
                "--num_generations", "4", "--max_completion_length", "8", "--eval_size", "2", "--train_size", "8"])
    rows = list(csv.DictReader((tmp_path / "smollm2.csv").open()))
    assert [(r["setting"], r["seed"], r["steps"]) for r in rows] == [("GRPO", "0", "1"), ("GRPO-LEAD", "0", "1")]
    assert all(0 <= float(r["after_accuracy"]) <= 1 and float(r["train_tokens"]) > 0 for r in rows)
    assert "| GRPO-LEAD | 1 |" in (tmp_path / "smollm2.md").read_text() and (tmp_path / "smollm2.png").is_file()


def test_dynamic_sampling_benchmark_smoke(tiny_path, tmp_path):
    """benchmarks/dynamic_sampling.py: both arms, two steps, its table, curves and figure; a Findings
    section already in the file is kept."""
    bench = _load("dynamic_sampling")
    (tmp_path / "dynamic_sampling_tiny.md").write_text("old\n\n## Findings\n\nwritten by hand\n")
    bench.main(["--model", "tiny", "--steps", "2", "--eval_every", "1", "--seeds", "0", "--workers", "1",
                "--out", str(tmp_path), "--extra", "--eval_size", "4", "--length_reward", "false"])
    rows = list(csv.DictReader((tmp_path / "dynamic_sampling_tiny.csv").open()))
    assert [(r["arm"], r["step"]) for r in rows] == [(a, str(s)) for a in bench.ARMS for s in range(3)]
    by_arm = {a: [r for r in rows if r["arm"] == a] for a in bench.ARMS}
    assert all(float(r["tokens"]) > 0 for rs in by_arm.values() for r in rs[1:])
    assert [r["accuracy"] for r in rows][0] == by_arm["GRPO-LEAD + dynamic sampling"][0]["accuracy"]  # same start
    md = (tmp_path / "dynamic_sampling_tiny.md").read_text()
    assert "| GRPO-LEAD + dynamic sampling | 1 |" in md and md.endswith("## Findings\n\nwritten by hand\n")
    assert (tmp_path / "dynamic_sampling_tiny.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
