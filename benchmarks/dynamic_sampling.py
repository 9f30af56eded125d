"""Dynamic sampling on and off: held-out accuracy against training time and generated tokens.

    python benchmarks/dynamic_sampling.py --model smollm2-135m --steps 12 --eval_every 6   # results/dynamic_sampling_smollm2-135m.*
    python benchmarks/dynamic_sampling.py --model tiny --steps 40 --eval_every 5 --seeds 0 1 2 3 4
    python benchmarks/dynamic_sampling.py --model tiny --steps 2 --eval_every 1 --seeds 0 \\
        --out /tmp/ds-smoke --extra --eval_size 8                                         # a smoke run

Two arms, each a GRPO-LEAD run of the model's preset (``--model``; every LEAD default, the preset's
prompts, group size, token budget, learning rate), differing in one flag: ``--dynamic_sampling true``
(with its default bound, 4 generation rounds per step) or not. Each (arm, seed) trains in its own
process through the library's own path (``lead_lite.config.resolve``, the task's rows and held-out
problems for that seed, ``load_policy``, ``build_trainer``), with one torch thread, ``--workers`` at
a time; both arms of a seed see the same training set and held-out problems.

Every ``--eval_every`` steps (and at step 0 and the last step) the policy is evaluated greedily on
the seed's held-out problems (the preset's eval_size and token budget). Each evaluation is recorded
with the training time so far (wall clock of the training loop, evaluations excluded) and the
completion tokens generated so far (the trainer's ``lead/generated_tokens``, every generation round
counted). Reported per arm, mean +- sample std over seeds: final held-out accuracy, training time,
tokens generated, and dynamic sampling's own figures (rounds per step, informative share of the
first round, informative groups trained per step, steps that reached their target).

Writes to ``--out``: dynamic_sampling_<model>.md (table, per-run rows, command, machine; a
"## Findings" section already in the file is kept), dynamic_sampling_<model>.csv (every evaluation of
every run) and dynamic_sampling_<model>.png (held-out accuracy against training time and against
generated tokens, the mean over seeds per evaluation point).
"""

from __future__ import annotations

import argparse
import csv
import logging
import math
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

logger = logging.getLogger("benchmarks.dynamic_sampling")
ARMS = {"GRPO-LEAD": [], "GRPO-LEAD + dynamic sampling": ["--dynamic_sampling", "true"]}
FINDINGS = "## Findings"
CURVE_FIELDS = ("arm", "seed", "step", "train_s", "tokens", "accuracy", "format_rate")


def run_one(model_name: str, arm: str, seed: int, steps: int, eval_every: int, extra: list[str]) -> dict:
    """Train one (arm, seed), evaluating every ``eval_every`` steps; returns its curve and step records."""
    import torch

    torch.set_num_threads(1)  # runs share the cores; HF generate is far slower multi-threaded here
    from transformers import TrainerCallback, set_seed

    from lead_lite.config import resolve
    from lead_lite.models.loading import load_policy, load_tokenizer, model_path
    from lead_lite.models.sampling import evaluate_greedy
    from lead_lite.tasks.registry import TASKS
    from lead_lite.train import fit_prompt_room
    from lead_lite.training import build_trainer
    from lead_lite.verifier import MathVerifier

    work = Path(tempfile.mkdtemp(prefix=f"ds-{seed}-"))
    (config,) = resolve(
        ["--model", model_name, "--output_dir", str(work), "--max_steps", str(steps), "--seed", str(seed),
         "--save_strategy", "no", "--logging_steps", "1", "--report_to", "none", "--disable_tqdm", "true",
         *ARMS[arm], *extra])
    data, training = config.data, config.training
    task = TASKS[config.task](MathVerifier(timeout_s=config.verifier.verifier_timeout_s),
                              answer_before_think_end=config.lead.answer_before_think_end)
    train_rows, eval_rows = task.rows(data, seed=training.seed)
    tokenizer = load_tokenizer(model_path(config.model))
    train_rows = fit_prompt_room(train_rows, tokenizer, config, "training")
    eval_rows = fit_prompt_room(eval_rows, tokenizer, config, "held-out")
    set_seed(training.seed)
    model, tokenizer, peft_config, _ = load_policy(config.model, training)
    budget = data.eval_max_new_tokens or training.max_completion_length
    points: list[dict] = []
    records: list[dict] = []

    class Measure(TrainerCallback):
        train_s = 0.0
        mark = 0.0

        def _evaluate(self, step, model):
            self.train_s += time.perf_counter() - self.mark
            result = evaluate_greedy(model, tokenizer, task, eval_rows, budget, training.chat_template_kwargs)
            points.append({"arm": arm, "seed": seed, "step": step, "train_s": self.train_s,
                           "accuracy": result["accuracy"], "format_rate": result["format_rate"]})
            self.mark = time.perf_counter()

        def on_train_begin(self, args, state, control, model=None, **kwargs):
            self.mark = time.perf_counter()
            self._evaluate(0, model)

        def on_step_end(self, args, state, control, model=None, **kwargs):
            if state.global_step % eval_every == 0 or state.global_step == args.max_steps:
                self._evaluate(state.global_step, model)

        def on_log(self, args, state, control, logs=None, **kwargs):
            if logs and "lead/generated_tokens" in logs:
                records.append({"step": state.global_step, **{k: v for k, v in logs.items()
                                                              if k.startswith(("lead/", "dynamic/", "frac_"))}})

    trainer = build_trainer(config, model, tokenizer, peft_config, task, train_rows, callbacks=(Measure(),))
    start = time.perf_counter()
    trainer.train()
    wall = time.perf_counter() - start
    task.close()
    shutil.rmtree(work)
    for point in points:  # the tokens generated up to each evaluation
        point["tokens"] = sum(r["lead/generated_tokens"] for r in records if r["step"] <= point["step"])
    return {"arm": arm, "seed": seed, "wall_s": wall, "curve": points, "records": records,
            "prompts": training.generation_batch_size // training.num_generations, "group": training.num_generations}


def _init_worker() -> None:
    logging.basicConfig(level=logging.WARNING)
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def _mean_std(values: list[float]) -> tuple[float, float]:
    values = [v for v in values if not math.isnan(v)]
    if not values:
        return math.nan, math.nan
    return statistics.mean(values), statistics.stdev(values) if len(values) > 1 else 0.0


def _cell(values: list[float], scale: float = 1.0, digits: int = 1) -> str:
    mean, std = _mean_std([v * scale for v in values])
    return "n/a" if math.isnan(mean) else f"{mean:.{digits}f} ± {std:.{digits}f}"


def _dynamic(run: dict, key: str) -> float:
    """The run's mean of a per-step dynamic sampling figure; without dynamic sampling, what the
    one generation round of each step was: 1 round, its informative share, its informative groups."""
    values = [r[key] for r in run["records"] if key in r]
    if values:
        return statistics.mean(values)
    informative = [1.0 - r["frac_reward_zero_std"] for r in run["records"]]  # share of groups with a spread
    plain = {"dynamic/rounds": [1.0] * len(informative), "dynamic/informative_share": informative,
             "dynamic/groups_trained": [run["prompts"] * v for v in informative],
             "dynamic/target_reached": [float(v == 1.0) for v in informative]}
    return statistics.mean(plain[key]) if informative else math.nan


def table(runs: list[dict]) -> str:
    head = ("| arm | seeds | accuracy before (%) | accuracy after (%) | answer in the required form after (%) | training time (s) "
            "| tokens generated | rounds per step | informative share, first round (%) "
            "| informative groups trained per step | steps at target (%) |")
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    for arm in ARMS:
        rs = [r for r in runs if r["arm"] == arm]
        if not rs:
            continue
        first, last = [r["curve"][0] for r in rs], [r["curve"][-1] for r in rs]
        lines.append(" | ".join([
            f"| {arm}", str(len(rs)), _cell([p["accuracy"] for p in first], 100),
            _cell([p["accuracy"] for p in last], 100), _cell([p["format_rate"] for p in last], 100),
            _cell([p["train_s"] for p in last], digits=0), _cell([p["tokens"] for p in last], digits=0),
            _cell([_dynamic(r, "dynamic/rounds") for r in rs], digits=2),
            _cell([_dynamic(r, "dynamic/informative_share") for r in rs], 100),
            _cell([_dynamic(r, "dynamic/groups_trained") for r in rs], digits=2),
            _cell([_dynamic(r, "dynamic/target_reached") for r in rs], 100),
        ]) + " |")
    return "\n".join(lines)


def per_run(runs: list[dict]) -> str:
    lines = ["| arm | seed | accuracy per evaluation (%) at step | training time (s) | tokens generated |",
             "|---|---|---|---|---|"]
    for r in sorted(runs, key=lambda r: (r["seed"], list(ARMS).index(r["arm"]))):
        curve = ", ".join(f"{p['step']}: {100 * p['accuracy']:.1f}" for p in r["curve"])
        last = r["curve"][-1]
        lines.append(f"| {r['arm']} | {r['seed']} | {curve} | {last['train_s']:.0f} | {last['tokens']:.0f} |")
    return "\n".join(lines)


def plot(runs: list[dict], path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for ax, key, label in ((axes[0], "train_s", "training time (s, evaluations excluded)"),
                           (axes[1], "tokens", "completion tokens generated")):
        for arm in ARMS:
            rs = [r for r in runs if r["arm"] == arm]
            if not rs:
                continue
            for r in rs:  # each run, faint
                ax.plot([p[key] for p in r["curve"]], [100 * p["accuracy"] for p in r["curve"]], alpha=0.25,
                        color="C0" if arm == "GRPO-LEAD" else "C1")
            steps = sorted({p["step"] for r in rs for p in r["curve"]})
            xs = [statistics.mean(p[key] for r in rs for p in r["curve"] if p["step"] == s) for s in steps]
            ys = [statistics.mean(100 * p["accuracy"] for r in rs for p in r["curve"] if p["step"] == s)
                  for s in steps]
            ax.plot(xs, ys, marker="o", label=f"{arm} (mean of {len(rs)} seeds)",
                    color="C0" if arm == "GRPO-LEAD" else "C1")
        ax.set_xlabel(label)
        ax.set_ylabel("held-out accuracy, greedy (%)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="smollm2-135m", help="a preset: smollm2-135m or tiny")
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--steps", type=int, default=12)
    parser.add_argument("--eval_every", type=int, default=6)
    parser.add_argument("--workers", type=int, default=2, help="runs at a time, one torch thread each")
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "results")
    parser.add_argument("--extra", nargs=argparse.REMAINDER, default=[], help="more flags for every run")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    if len(args.seeds) < 3:
        logger.warning("fewer than 3 seeds: no claim can be made from this run")

    from lead_lite.config import resolve
    from lead_lite.models.loading import model_path

    (config,) = resolve(["--model", args.model, "--output_dir", tempfile.gettempdir(), *args.extra])
    model_path(config.model)  # the model built or fetched once, here, before the runs need it
    jobs = [(args.model, arm, seed, args.steps, args.eval_every, args.extra) for seed in args.seeds for arm in ARMS]
    start = time.perf_counter()
    runs = []
    if args.workers == 1:  # in this process
        done = (run_one(*job) for job in jobs)
    else:
        pool = ProcessPoolExecutor(args.workers, mp_context=get_context("spawn"), initializer=_init_worker)
        done = pool.map(run_one, *zip(*jobs))
    for run in done:
        last = run["curve"][-1]
        logger.info("%s seed %d: accuracy %.1f%% after %d steps, %.0f s training, %.0f tokens", run["arm"],
                    run["seed"], 100 * last["accuracy"], last["step"], last["train_s"], last["tokens"])
        runs.append(run)
    if args.workers > 1:
        pool.shutdown()
    total = time.perf_counter() - start

    import torch

    args.out.mkdir(parents=True, exist_ok=True)
    stem = args.out / f"dynamic_sampling_{args.model}"
    with stem.with_suffix(".csv").open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=CURVE_FIELDS)
        writer.writeheader()
        for r in runs:
            writer.writerows(r["curve"])
    plot(runs, stem.with_suffix(".png"), f"Dynamic sampling on {args.model}: held-out accuracy")
    command = "python benchmarks/dynamic_sampling.py " + " ".join(argv if argv is not None else sys.argv[1:])
    old = stem.with_suffix(".md").read_text() if stem.with_suffix(".md").exists() else ""
    findings = old[old.index(FINDINGS):] if FINDINGS in old else f"{FINDINGS}\n\n(to be written from the table)\n"
    prompts, group = runs[0]["prompts"], runs[0]["group"]
    text = "\n\n".join([
        f"# Dynamic sampling on {args.model} (CPU)",
        f"Command: `{command.strip()}`",
        f"Machine: {platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}; {len(runs)} runs in "
        f"{total / 60:.1f} min, {args.workers} at a time, one torch thread each. Each step generates {prompts} "
        f"prompts x {group} completions per round; {args.steps} optimizer steps per run.",
        "Held-out accuracy is greedy, on the seed's held-out problems, at step 0 and at the last step; training "
        "time is the training loop's wall clock without the evaluations; tokens are completion tokens generated "
        "in training, every round counted. Mean ± sample std over seeds. Without dynamic sampling a step has "
        "one round, so its 'first round' share is the share of informative groups it trained on and 'at "
        "target' means every group of the step was informative.",
        table(runs), "Per run:", per_run(runs), findings.rstrip() + "\n",
    ])
    stem.with_suffix(".md").write_text(text)
    logger.info("wrote %s.{md,csv,png}", stem)


if __name__ == "__main__":
    main()
