"""The GRPO-LEAD ablation at micro scale: the tiny model on a 2-core CPU, several seeds.

    python benchmarks/ablation.py                                   # the full run (results/ablation.*)
    python benchmarks/ablation.py --steps 2 --seeds 1 --settings GRPO GRPO-LEAD --eval_every 1 \\
        --eval_size 8 --out /tmp/ablation-smoke                     # a smoke run
    python benchmarks/ablation.py --settings GRPO GRPO+L --out /tmp/budget128 \\
        --extra --max_completion_length 128                         # any config flag, for every run
    python benchmarks/ablation.py --difficulty_profile 128         # how AD's weights spread, no training

Each setting is the paper's name for a combination of the three LEAD flags (L: length reward,
E: explicit penalty, AD: difficulty-aware advantage reweighting): GRPO, GRPO+L, GRPO+LE,
GRPO+LAD and GRPO-LEAD. Every run starts from the same warm-started tiny model
(lead_lite.models.tiny: partly right, too verbose for its 64-token budget), trains for the same number
of steps with the library's config, model loader and LEAD trainer (the tiny preset's settings:
4 prompts x 8 completions per step, LoRA, lr 3e-4, temperature 1.0; ``--extra`` overrides any)
and is evaluated greedily on one fixed held-out set every ``--eval_every`` steps (step 0
included), with the training token budget.

Reported per setting, mean +- std over seeds:

- final held-out accuracy (greedy), and each run's mean over its
  last 4 evaluations (less noisy on 100 problems);
- mean length (tokens) of the correct held-out completions, and of all completions, and the
  share of completions with no ``\\boxed{}`` answer (cut off by the token budget);
- steps to target: the first evaluation step at which held-out accuracy reaches the base
  model's accuracy + ``--target_gain`` (10 points by default); runs that never reach it are
  counted as "not reached" and left out of the mean;
- steps to half length: the first evaluation step at which the correct completions are at most
  half as long as the base model's.

Writes to ``--out``: ablation.md (table, command, machine; a "## Findings" section already in
the file is kept), ablation.csv (the table), ablation_curves.csv (every evaluation of every
run) and ablation.png (held-out accuracy and correct-completion length against steps).
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

logger = logging.getLogger("benchmarks.ablation")

# paper name -> (length_reward, explicit_penalty, difficulty_reweight)
SETTINGS = {
    "GRPO": (False, False, False),
    "GRPO+L": (True, False, False),
    "GRPO+LE": (True, True, False),
    "GRPO+LAD": (True, False, True),
    "GRPO-LEAD": (True, True, True),
}
HELD_OUT_SEED = 12345  # the held-out problems are the same for every run
CURVE_FIELDS = ("setting", "seed", "step", "accuracy", "mean_length", "mean_length_correct", "no_answer_rate")
FINDINGS = "## Findings"
LATE_EVALS = 4  # the late accuracy averages each run's last this many evaluations


def _flags(setting: str) -> list[str]:
    length, penalty, reweight = SETTINGS[setting]
    return ["--length_reward", str(length), "--explicit_penalty", str(penalty), "--difficulty_reweight", str(reweight)]


def run_one(setting: str, seed: int, steps: int, eval_every: int, eval_size: int, extra: list[str]) -> dict:
    """Train one (setting, seed) and evaluate it every ``eval_every`` steps; returns its curve."""
    import torch

    torch.set_num_threads(1)  # two runs share two cores; HF generate is far slower multi-threaded here
    from transformers import TrainerCallback, set_seed

    from lead_lite.config import method_name, resolve
    from lead_lite.models.loading import load_policy
    from lead_lite.models.sampling import evaluate_greedy
    from lead_lite.tasks.arithmetic import ArithmeticTask, generate
    from lead_lite.training import build_trainer
    from lead_lite.verifier import MathVerifier

    work = Path(tempfile.mkdtemp(prefix=f"ablation-{setting}-{seed}-"))
    (config,) = resolve(
        ["--model", "tiny", "--output_dir", str(work), "--max_steps", str(steps), "--seed", str(seed),
         "--save_strategy", "no", "--logging_steps", "1", "--report_to", "none", "--disable_tqdm", "true",
         "--reward_weights", "1.0", "0.0", *_flags(setting), *extra]
    )
    lead, data, training = config.lead, config.data, config.training
    if method_name(lead) != setting:
        raise ValueError(f"flags for {setting} resolve to {method_name(lead)}")
    set_seed(seed)
    model, tokenizer, peft_config, _ = load_policy(config.model, training)
    held_out = generate(eval_size, seed=HELD_OUT_SEED, split="test")
    budget = data.eval_max_new_tokens or training.max_completion_length
    task = ArithmeticTask(MathVerifier(timeout_s=config.verifier.verifier_timeout_s))
    curve: list[dict] = []

    class PeriodicEval(TrainerCallback):
        def _evaluate(self, step, model):
            result = evaluate_greedy(model, tokenizer, task, held_out, budget)
            curve.append({"setting": setting, "seed": seed, "step": step,
                          **{k: result[k] for k in CURVE_FIELDS[3:]}})

        def on_train_begin(self, args, state, control, model=None, **kwargs):
            self._evaluate(0, model)

        def on_step_end(self, args, state, control, model=None, **kwargs):
            if state.global_step % eval_every == 0 or state.global_step == args.max_steps:
                self._evaluate(state.global_step, model)

    trainer = build_trainer(config, model, tokenizer, peft_config, task, generate(data.train_size, seed=seed),
                            callbacks=(PeriodicEval(),))
    start = time.perf_counter()
    trainer.train()
    wall = time.perf_counter() - start
    task.close()
    shutil.rmtree(work)
    config = {"prompts": training.generation_batch_size // training.num_generations, "group": training.num_generations,
              "budget": budget, "lr": training.learning_rate, "temperature": training.temperature}
    return {"setting": setting, "seed": seed, "wall_s": wall, "curve": curve, "config": config}


def difficulty_profile(n_prompts: int, extra: list[str], seed: int = 0) -> str:
    """How the AD weights spread over the warm-started model's groups, as a Markdown table.

    Samples a group of completions for each of ``n_prompts`` training prompts as a GRPO step does
    (the preset's group size, temperature and token budget), judges them, and gives the share of
    groups at each accuracy rho with the weights AD applies: w(rho) to positive advantages,
    w(1 - rho) to negative ones. If the weights applied to the completions that carry a signal
    barely vary, AD is close to a uniform rescaling of the loss, which Adam's update undoes.
    """
    import torch

    torch.set_num_threads(1)
    from lead_lite import advantages as adv
    from lead_lite.config import resolve
    from lead_lite.models.loading import load_policy
    from lead_lite.models.sampling import sample_hf
    from lead_lite.tasks import arithmetic
    from lead_lite.verifier import MathVerifier, Verdict

    work = Path(tempfile.mkdtemp(prefix="ablation-profile-"))
    (config,) = resolve(["--model", "tiny", "--output_dir", str(work), *extra])
    training = config.training
    model, tokenizer, _, _ = load_policy(config.model, training)
    rows = arithmetic.generate(n_prompts, seed=seed, split="train")
    torch.manual_seed(seed)
    groups = sample_hf(model, tokenizer, [r["prompt"] for r in rows], training.max_completion_length,
                       num_samples=training.num_generations, temperature=training.temperature)
    verifier = MathVerifier()
    correct = torch.tensor([[float(verifier.check(c.text, r["answer"]).verdict is Verdict.CORRECT) for c in cs]
                            for cs, r in zip(groups, rows)])  # (P, G)
    verifier.close()
    shutil.rmtree(work)
    rho = adv.group_accuracy(correct)  # (P, 1)
    w_pos, w_neg = adv.difficulty_weight(rho), adv.difficulty_weight(1 - rho)  # (P, 1) each
    g = training.num_generations
    lines = ["| rho | groups (%) | w(rho), positives | w(1 - rho), negatives |", "|---|---|---|---|"]
    for k in range(g + 1):
        share = float((rho.round(decimals=4) == round(k / g, 4)).float().mean())
        lines.append(f"| {k}/{g} | {100 * share:.0f} | {adv.difficulty_weight(torch.tensor(k / g)):.2f} "
                     f"| {adv.difficulty_weight(torch.tensor(1 - k / g)):.2f} |")
    signal = ((rho > 0) & (rho < 1)).squeeze(1)  # (P,) groups with a reward spread
    applied = torch.where(correct[signal] == 1, w_pos[signal], w_neg[signal]).flatten()  # weights on completions
    lines += ["", f"{n_prompts} training prompts x {g} completions (temperature {training.temperature}, "
              f"{training.max_completion_length} tokens): accuracy {100 * float(correct.mean()):.0f}%, "
              f"{100 * float(signal.float().mean()):.0f}% of groups carry a signal; over their completions the "
              f"applied weight has mean {float(applied.mean()):.2f}, std {float(applied.std()):.2f}, "
              f"range {float(applied.min()):.2f}-{float(applied.max()):.2f}."]
    return "\n".join(lines)


def _init_worker() -> None:
    logging.basicConfig(level=logging.WARNING)
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def _logged(run: dict) -> dict:
    last = run["curve"][-1]
    logger.info("%-9s seed %d: accuracy %.3f, length of correct %.1f (%.0f s)", run["setting"], run["seed"],
                last["accuracy"], last["mean_length_correct"], run["wall_s"])
    return run


def _mean_std(values: list[float]) -> tuple[float, float]:
    values = [v for v in values if not math.isnan(v)]
    if not values:
        return math.nan, math.nan
    return statistics.mean(values), statistics.stdev(values) if len(values) > 1 else 0.0


def _fmt(mean: float, std: float, digits: int = 1, scale: float = 1.0) -> str:
    if math.isnan(mean):
        return "n/a"
    return f"{mean * scale:.{digits}f} ± {std * scale:.{digits}f}"


def first_step(curve: list[dict], reached) -> int | None:
    """The first evaluation step after step 0 where ``reached(point)`` holds, else None.

    Example:
        >>> first_step([{"step": 0, "accuracy": 0.5}, {"step": 5, "accuracy": 0.7}], lambda p: p["accuracy"] >= 0.6)
        5
    """
    return next((p["step"] for p in curve if p["step"] > 0 and reached(p)), None)


def _steps_stats(reached: list[int | None], prefix: str) -> dict:
    hit = [float(s) for s in reached if s is not None]
    mean, std = _mean_std(hit)
    return {f"{prefix}_mean": mean, f"{prefix}_std": std, f"{prefix}_reached": f"{len(hit)}/{len(reached)}",
            f"{prefix}_per_seed": " ".join("-" if s is None else str(s) for s in reached)}


def summarize(runs: list[dict], settings: list[str], target_gain: float) -> tuple[list[dict], dict]:
    """One row per setting (mean +- std over seeds) and the base model's figures (step 0)."""
    base = {"accuracy": statistics.mean(r["curve"][0]["accuracy"] for r in runs),
            "length_correct": statistics.mean(r["curve"][0]["mean_length_correct"] for r in runs)}
    base["target"] = base["accuracy"] + target_gain
    base["half_length"] = base["length_correct"] / 2
    rows = []
    for setting in settings:
        mine = sorted((r for r in runs if r["setting"] == setting), key=lambda r: r["seed"])
        finals = [r["curve"][-1] for r in mine]
        late = [statistics.mean(p["accuracy"] for p in r["curve"][-LATE_EVALS:]) for r in mine]

        def stat(name, values):
            return dict(zip((f"{name}_mean", f"{name}_std"), _mean_std(values)))

        rows.append({
            "setting": setting,
            "seeds": len(mine),
            "steps": finals[0]["step"] if finals else 0,
            **stat("final_accuracy", [f["accuracy"] for f in finals]),
            **stat("late_accuracy", late),
            **stat("length_correct", [f["mean_length_correct"] for f in finals]),
            **stat("length_all", [f["mean_length"] for f in finals]),
            **stat("no_answer_rate", [f["no_answer_rate"] for f in finals]),
            **_steps_stats([first_step(r["curve"], lambda p: p["accuracy"] >= base["target"] - 1e-9)
                            for r in mine], "steps_to_target"),
            **_steps_stats([first_step(r["curve"], lambda p: p["mean_length_correct"] <= base["half_length"])
                            for r in mine], "steps_to_half_length"),
            "wall_s_mean": statistics.mean(r["wall_s"] for r in mine) if mine else math.nan,
        })
    return rows, base


def _steps_cell(row: dict, prefix: str) -> str:
    reached = row[f"{prefix}_reached"]
    mean = "not reached" if reached.startswith("0/") else _fmt(row[f"{prefix}_mean"], row[f"{prefix}_std"])
    return f"{mean} ({reached}: {row[f'{prefix}_per_seed']})"


def markdown_table(rows: list[dict], base: dict, target_gain: float) -> str:
    lines = [
        "| setting | seeds | final accuracy (%) | accuracy, last 4 evals (%) | length of correct (tokens) "
        "| length of all (tokens) | no answer (%) | steps to target accuracy | steps to half length | s per run |",
        "|---|---|---|---|---|---|---|---|---|---|",
        f"| base (step 0) | - | {100 * base['accuracy']:.1f} | - | {base['length_correct']:.1f} | - | - | - | - | - |",
    ]
    for r in rows:
        lines.append(
            f"| {r['setting']} | {r['seeds']} | {_fmt(r['final_accuracy_mean'], r['final_accuracy_std'], scale=100)} "
            f"| {_fmt(r['late_accuracy_mean'], r['late_accuracy_std'], scale=100)} "
            f"| {_fmt(r['length_correct_mean'], r['length_correct_std'])} "
            f"| {_fmt(r['length_all_mean'], r['length_all_std'])} "
            f"| {_fmt(r['no_answer_rate_mean'], r['no_answer_rate_std'], scale=100)} "
            f"| {_steps_cell(r, 'steps_to_target')} | {_steps_cell(r, 'steps_to_half_length')} "
            f"| {r['wall_s_mean']:.0f} |"
        )
    lines += [
        "",
        f"- Target accuracy: held-out accuracy >= base + {100 * target_gain:.0f} points = "
        f"{100 * base['target']:.1f}%. Half length: mean length of the correct held-out completions "
        f"<= {base['half_length']:.1f} tokens (half the base model's). Steps: first evaluation step that "
        "reaches it, mean ± std over the seeds that did (reached / seeds: each seed's step, - = never).",
        f"- Accuracy, last {LATE_EVALS} evals: each seed's mean over its last {LATE_EVALS} evaluations, "
        "less noisy than the single final one.",
    ]
    return "\n".join(lines)


def plot(runs: list[dict], settings: list[str], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(15, 4.2))
    panels = (("accuracy", "held-out accuracy (greedy)", 100), ("mean_length_correct", "length of correct (tokens)", 1),
              ("no_answer_rate", "no \\boxed{} answer (%)", 100))
    for setting in settings:
        mine = [r for r in runs if r["setting"] == setting]
        if not mine:
            continue
        steps = [p["step"] for p in mine[0]["curve"]]
        for ax, (key, title, scale) in zip(axes, panels):
            per_step = [[r["curve"][i][key] * scale for r in mine] for i in range(len(steps))]
            stats = [_mean_std(v) for v in per_step]
            mean = [s[0] for s in stats]
            std = [0.0 if math.isnan(s[1]) else s[1] for s in stats]
            ax.plot(steps, mean, marker="o", markersize=3, label=setting)
            ax.fill_between(steps, [m - s for m, s in zip(mean, std)], [m + s for m, s in zip(mean, std)], alpha=0.15)
            ax.set_title(title)
            ax.set_xlabel("training step")
    axes[0].legend()
    fig.suptitle(f"tiny model, {len(runs) // max(1, len(settings))} seed(s) per setting: mean ± std over seeds")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write_outputs(out: Path, runs: list[dict], settings: list[str], args, command: str, total_s: float) -> str:
    rows, base = summarize(runs, settings, args.target_gain)
    table = markdown_table(rows, base, args.target_gain)
    out.mkdir(parents=True, exist_ok=True)
    with (out / "ablation.csv").open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    with (out / "ablation_curves.csv").open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=CURVE_FIELDS)
        writer.writeheader()
        for r in runs:
            writer.writerows(r["curve"])
    plot(runs, settings, out / "ablation.png")
    cfg = runs[0]["config"]
    md = out / "ablation.md"
    findings = ""
    if md.exists() and FINDINGS in md.read_text():
        findings = md.read_text()[md.read_text().index(FINDINGS):]
    md.write_text(
        "# GRPO-LEAD ablation at micro scale (tiny model, CPU)\n\n"
        f"Command: `{command}`\n\n"
        f"Machine: {os.cpu_count()}-core CPU ({platform.machine()}), no GPU; runs in {args.workers} parallel "
        f"process(es), 1 torch thread each; {total_s / 60:.1f} min in all.\n\n"
        f"Each run: {args.steps} GRPO steps of {cfg['prompts']} prompts x {cfg['group']} completions "
        f"(lr {cfg['lr']:g}, temperature {cfg['temperature']:g}, {cfg['budget']}-token budget) from the "
        f"warm-started tiny model (configs/models/tiny.yaml), seeds {' '.join(map(str, range(args.seeds)))}; "
        f"held-out set: {args.eval_size} generated test-split problems, greedy, same budget, evaluated every "
        f"{args.eval_every} steps. Mean ± std over seeds.\n\n"
        f"{table}\n\n"
        "Files: ablation.csv (this table), ablation_curves.csv (every evaluation), ablation.png (curves).\n\n"
        + findings
    )
    return table


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--steps", type=int, default=80, help="GRPO steps per run")
    p.add_argument("--seeds", type=int, default=3, help="seeds 0..N-1 per setting")
    p.add_argument("--settings", nargs="+", default=list(SETTINGS), choices=list(SETTINGS))
    p.add_argument("--eval_every", type=int, default=5)
    p.add_argument("--eval_size", type=int, default=100, help="held-out problems")
    p.add_argument("--target_gain", type=float, default=0.10, help="target accuracy = base + this")
    p.add_argument("--workers", type=int, default=2,
                   help="runs in parallel, one torch thread each (1: one after another in this process)")
    p.add_argument("--out", default=str(Path(__file__).resolve().parent / "results"))
    p.add_argument("--difficulty_profile", type=int, default=0, metavar="N",
                   help="only print how the AD weights spread over N training prompts of the untrained model")
    p.add_argument("--extra", nargs=argparse.REMAINDER, default=[],
                   help="further lead_lite config flags for every run (e.g. --extra --learning_rate 1e-4)")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    command = "python benchmarks/ablation.py " + " ".join(sys.argv[1:] if argv is None else argv)

    if args.difficulty_profile:
        print(difficulty_profile(args.difficulty_profile, args.extra))
        return
    from lead_lite.models.tiny import prepare_tiny_model

    prepare_tiny_model()  # build the cached warm start once, before the workers need it
    jobs = [(s, seed) for seed in range(args.seeds) for s in args.settings]
    start = time.perf_counter()
    if args.workers == 1:
        runs = [_logged(run_one(s, seed, args.steps, args.eval_every, args.eval_size, args.extra)) for s, seed in jobs]
    else:
        with ProcessPoolExecutor(args.workers, mp_context=get_context("spawn"), initializer=_init_worker) as pool:
            futures = [pool.submit(run_one, s, seed, args.steps, args.eval_every, args.eval_size, args.extra)
                       for s, seed in jobs]
            runs = [_logged(f.result()) for f in futures]
    total = time.perf_counter() - start
    table = write_outputs(Path(args.out), runs, args.settings, args, command.strip(), total)
    print(table)
    print(f"\n{len(runs)} runs in {total / 60:.1f} min; written to {args.out}")


if __name__ == "__main__":
    main()
