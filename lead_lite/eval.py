"""Evaluate a policy on math benchmarks: pass@1, cons@k, pass@k, lengths and the token-budget curve.

    python -m lead_lite.eval --model tiny --data arithmetic --output_dir runs/eval-tiny
    python -m lead_lite.eval --model tiny --adapter runs/tiny --data arithmetic --output_dir runs/eval-lead
    python -m lead_lite.eval --model Qwen/Qwen3-1.7B --adapter runs/qwen --data aime24 aime25 math500 amc23 \\
        --k 32 --max_new_tokens 14336 --min_p 0.01 --output_dir runs/eval-qwen
    python -m lead_lite.eval compare runs/eval-tiny runs/eval-lead --output comparison.md

For each benchmark, k completions are sampled per problem (R1 convention: temperature 0.6,
top-p 0.95; every value is a flag) with vLLM when it is installed and a GPU is present, else
with batched HF ``generate``; ``--adapter`` applies a LoRA adapter as saved by
``lead_lite.train``. Each completion is judged by ``lead_lite.verifier.MathVerifier``, the checker
that scores training rewards. The token-budget curve (GRPO-LEAD, Figure 3) re-judges the same
samples cut to smaller budgets, without generating again (``lead_lite.metrics.at_budget``).
The metric definitions are in ``lead_lite.metrics`` and ``docs/evaluation.md``.

Writes to --output_dir: samples.jsonl (one judged completion per line), summary.json,
budget_curve.csv, budget_curve.png and resolved_config.yaml.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import logging
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from transformers import set_seed

from lead_lite import run_files
from lead_lite.config import (ConfigError, SamplingArguments, check_output_dir, parse_with_preset, resolve_engine,
                              resolve_sampling, save_resolved)
from lead_lite.metrics import Judged, at_budget, summarize
from lead_lite.models.loading import load_hf_model, load_tokenizer, model_path
from lead_lite.models.sampling import sample_hf, sample_vllm
from lead_lite.tasks.eval_sets import benchmark_name, load_benchmark
from lead_lite.tasks.sources import DataError
from lead_lite.user_errors import entry_point
from lead_lite.verifier import MathVerifier, Verdict

logger = logging.getLogger("lead_lite.eval")

N_DEFAULT_BUDGETS = 8
TEMPERATURE, TOP_P = 0.6, 0.95  # the R1 convention, this command's sampling defaults


@dataclass
class EvalArguments:
    """What to evaluate, on what, and what to report (sampling: :class:`lead_lite.config.SamplingArguments`)."""

    model: str = field(default="tiny", metadata={"help": "A preset from configs/models/ (e.g. tiny), a hub id or a local path."})
    adapter: str | None = field(default=None, metadata={"help": "A LoRA adapter directory (as saved by lead_lite.train)."})
    data: list[str] = field(
        default_factory=lambda: ["arithmetic"],
        metadata={"help": "Benchmarks: aime24, aime25, math500, amc23 (hub), arithmetic (generated), or local "
                  ".jsonl/.parquet files with problem/answer columns."},
    )
    output_dir: str = field(default="runs/eval", metadata={"help": "Where samples, summary and the curve go."})
    budgets: list[int] | None = field(
        default=None,
        metadata={"help": f"Token budgets of the budget curve, each <= max_new_tokens (default: "
                  f"{N_DEFAULT_BUDGETS} evenly spaced up to max_new_tokens)."},
    )
    pass_k: list[int] | None = field(
        default=None, metadata={"help": "The k's of pass@k, each <= k (default: powers of two up to k, and k)."}
    )
    max_problems: int | None = field(default=None, metadata={"help": "Evaluate only the first N problems of each benchmark."})


# -- configuration ---------------------------------------------------------------------------------
def parse_args(argv: list[str]):
    """(EvalArguments, SamplingArguments, VerifierArguments, ModelArguments, chat-template switches):
    defaults < the model's preset < flags; invalid values fail.

    From a preset (``configs/models/NAME.yaml``), the model-loading keys (``ModelArguments``),
    ``max_completion_length`` (the default ``--max_new_tokens``), ``prompt_format`` and
    ``chat_template_kwargs`` are used; its training keys are not. Sampling defaults to the R1
    convention: temperature 0.6, top-p 0.95.
    """
    args, sampling, verifier, model_args, values = parse_with_preset(
        (EvalArguments, SamplingArguments), argv, prog="python -m lead_lite.eval",
        description="Evaluate a model on math benchmarks (sampling defaults: temperature 0.6, top-p 0.95). "
        "To compare finished runs: python -m lead_lite.eval compare RUN_DIR [RUN_DIR ...] [--output FILE]",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="""\
writes to --output_dir:
  samples.jsonl        one judged completion per line: benchmark, problem, gold, completion, extracted
                       answer, verdict (correct / wrong / no answer / unjudgeable), length, truncated
  summary.json         per benchmark: the metrics below, mean length of all / correct / incorrect
                       completions, truncated, no-answer and unjudgeable rates; the sampling settings
  budget_curve.csv     pass@1, cons@k, no-answer and truncated rates, mean length at each --budgets
  budget_curve.png     pass@1 against the token budget
  resolved_config.yaml the flags and preset values used

metrics (k samples per problem, each judged by the training reward's checker; lead_lite.metrics):
  pass@1        the share of a problem's k samples that are correct, averaged over problems:
                the expected accuracy of a single sample
  cons@k        the share of problems whose majority answer (the answer most of the k samples
                agree on; samples without an answer abstain) is correct
  pass@k        the chance that at least one of k samples is correct, by the unbiased estimator
                1 - C(n-c, k) / C(n, k) of Chen et al. (2021), for each k in --pass_k
  budget curve  the same samples cut at each token budget and judged again: the accuracy had
                generation stopped there (GRPO-LEAD, Figure 3); no new generation
An unjudgeable sample (the gold answer does not parse, or the check timed out) never counts as
correct. python -m lead_lite.report OUTPUT_DIR draws the table and the curve on one page.""")

    chat_kwargs = resolve_sampling(sampling, values, temperature=TEMPERATURE, top_p=TOP_P)
    if args.budgets is None:
        n = sampling.max_new_tokens
        args.budgets = sorted({max(1, round(n * i / N_DEFAULT_BUDGETS)) for i in range(1, N_DEFAULT_BUDGETS + 1)})
    validate(args, sampling)
    return args, sampling, verifier, model_args, chat_kwargs


def validate(args: EvalArguments, sampling: SamplingArguments) -> None:
    """Reject invalid values before anything loads; each message names the flag."""

    def bad(name: str, why: str):
        raise ConfigError(f"--{name} {getattr(args, name)!r}: {why}")

    if not args.budgets or any(not 1 <= b <= sampling.max_new_tokens for b in args.budgets):
        bad("budgets", f"each must be in [1, max_new_tokens={sampling.max_new_tokens}]: a longer budget needs "
            "longer samples")
    if args.pass_k is not None and any(not 1 <= j <= sampling.k for j in args.pass_k):
        bad("pass_k", f"each must be in [1, k={sampling.k}]")
    if args.max_problems is not None and args.max_problems < 1:
        bad("max_problems", "must be >= 1")
    if args.adapter is not None and not (Path(args.adapter) / "adapter_config.json").is_file():
        bad("adapter", "is not a PEFT adapter directory (no adapter_config.json)")
    check_output_dir(args.output_dir)
    for spec in args.data:
        run_files.refuse_inputs_in_output(args.output_dir, {"--data": spec})
    run_files.refuse_inputs_in_output(args.output_dir, {"--adapter": args.adapter, "--model": args.model},
                                      inside_ok=("--adapter", "--model"))  # RUN/eval beside RUN's adapter
    args.budgets = sorted(set(args.budgets))


# -- sampling and judging --------------------------------------------------------------------------
def judge_samples(rows: list[dict], completions, verifier):
    """Judge every completion against its problem's gold answer.

    Returns:
        (judgements, judged): per problem, per sample, the verifier's :class:`Judgement` and the
        :class:`lead_lite.metrics.Judged` built from it.
    """
    judgements, judged = [], []
    for row, samples in zip(rows, completions, strict=True):
        js = [verifier.check(c.text, row["answer"]) for c in samples]
        judgements.append(js)
        judged.append([Judged(j.verdict, j.answer, c.length, not c.finished) for j, c in zip(js, samples)])
    return judgements, judged


def budget_curve(rows: list[dict], completions, judged, budgets: list[int], tokenizer, verifier) -> list[dict]:
    """Metrics at each token budget, from the same samples cut to that budget (no re-generation).

    Returns:
        one dict per budget: ``budget``, ``pass@1``, ``cons@k``, ``no_answer_rate``,
        ``truncated_rate`` and ``mean_length``.
    """

    def decode(ids):
        return tokenizer.decode(ids, skip_special_tokens=True)

    curve = []
    for budget in budgets:
        cut = [
            [at_budget(s, c.token_ids, budget, decode, lambda text, gold=row["answer"]: verifier.check(text, gold))
             for s, c in zip(samples, comps)]
            for row, samples, comps in zip(rows, judged, completions)
        ]
        s = summarize(cut, [1])
        curve.append({"budget": budget, "pass@1": s["pass@1"], "cons@k": s["cons@k"],
                      "no_answer_rate": s["no_answer_rate"], "truncated_rate": s["truncated_rate"],
                      "mean_length": s["mean_length"]})
    return curve


# -- outputs ---------------------------------------------------------------------------------------
CURVE_COLUMNS = ("benchmark", "budget", "pass@1", "cons@k", "no_answer_rate", "truncated_rate", "mean_length")


def write_curve(out: Path, curves: dict[str, list[dict]], title: str) -> None:
    """budget_curve.csv (one row per benchmark and budget) and budget_curve.png (pass@1 vs budget), each
    written whole (:func:`lead_lite.run_files.write_atomic`)."""
    table = io.StringIO(newline="")
    writer = csv.DictWriter(table, fieldnames=CURVE_COLUMNS)
    writer.writeheader()
    for name, curve in curves.items():
        for point in curve:
            writer.writerow({"benchmark": name, **point})
    run_files.write_atomic(out / "budget_curve.csv", table.getvalue())

    import matplotlib  # optional plotting dependency: imported only when a figure is drawn

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    for name, curve in curves.items():
        ax.plot([p["budget"] for p in curve], [100 * p["pass@1"] for p in curve], marker="o", label=name)
    ax.set_xlabel("token budget (max new tokens)")
    ax.set_ylabel("pass@1 (%)")
    ax.set_ylim(0, 100)
    ax.set_title(title, fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    image = io.BytesIO()
    fig.savefig(image, format="png", dpi=120)
    plt.close(fig)
    run_files.write_atomic(out / "budget_curve.png", image.getvalue())


def _percent(x) -> str:
    return "-" if x is None else f"{100 * x:.1f}"


def _tokens(x) -> str:
    return "-" if x is None else f"{x:.0f}"


def log_summary(name: str, s: dict) -> None:
    k = s["k"]
    logger.info(
        "%s (%d problems x %d samples): pass@1 %s%%, cons@%d %s%%, pass@%d %s%%; mean length %s tokens "
        "(correct %s, incorrect %s); truncated %s%%, no answer %s%%, unjudgeable %d",
        name, s["n_problems"], k, _percent(s["pass@1"]), k, _percent(s["cons@k"]), k,
        _percent(s["pass@k"].get(str(k))), _tokens(s["mean_length"]), _tokens(s["mean_length_correct"]),
        _tokens(s["mean_length_incorrect"]), _percent(s["truncated_rate"]), _percent(s["no_answer_rate"]),
        s["unjudgeable"],
    )


# -- the evaluation --------------------------------------------------------------------------------
@entry_point
def main(argv: list[str]) -> dict | str:
    """Evaluate (returns the summary), or ``compare`` runs (returns the Markdown table).
    A user error ends with one line and exit code 2 (:mod:`lead_lite.user_errors`)."""
    if argv[:1] == ["compare"]:
        return compare_main(argv[1:])
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    args, sampling, verifier_args, model_args, chat_kwargs = parse_args(argv)
    s = sampling

    # 1. data (before the model and the output directory: a bad benchmark fails fast, writing nothing)
    verifier = MathVerifier(timeout_s=verifier_args.verifier_timeout_s)
    benchmarks = {benchmark_name(spec): load_benchmark(spec, verifier, args.max_problems, s.prompt_format)
                  for spec in args.data}

    # 2. run directory and resolved configuration
    out = Path(args.output_dir)
    try:  # never into a training run; an earlier evaluation's files are replaced
        lock = run_files.claim_run_dir(out, "eval", overwrite=run_files.run_kind(out) == "eval")
    except run_files.RunFileError as exc:
        logger.error("%s", exc)
        raise SystemExit(2) from exc
    engine = resolve_engine(s.engine)
    save_resolved(out / "resolved_config.yaml", args, s, verifier_args, model_args)

    # 3. model and tokenizer
    path = model_path(model_args)
    tokenizer = load_tokenizer(path)
    logger.info("model %s%s; engine %s; k=%d, temperature %.2f, top-p %.2f, min-p %.2f, %d max new tokens",
                path, f" + adapter {args.adapter}" if args.adapter else "", engine, s.k, s.temperature,
                s.top_p, s.min_p, s.max_new_tokens)
    model = load_hf_model(model_args, path, args.adapter) if engine == "hf" else None

    # 4. sample, judge, summarise, cut to budgets
    summaries, curves = {}, {}
    with run_files.atomic_writer(out / "samples.jsonl") as samples_file:  # whole, or the earlier file kept
        for name, rows in benchmarks.items():
            start = time.time()
            prompts = [r["prompt"] for r in rows]
            if engine == "vllm":
                completions = sample_vllm(path, tokenizer, prompts, s.max_new_tokens, s.k, s.temperature,
                                          s.top_p, s.min_p, s.seed, args.adapter, chat_kwargs,
                                          gpu_memory_utilization=s.vllm_gpu_memory_utilization,
                                          max_model_len=s.vllm_max_model_length)
            else:
                set_seed(s.seed)  # per benchmark: its samples do not depend on the order of --data
                completions = sample_hf(model, tokenizer, prompts, s.max_new_tokens, s.k, s.temperature,
                                        s.top_p, s.min_p, s.batch_size, chat_kwargs)
            sampling_s = time.time() - start
            judgements, judged = judge_samples(rows, completions, verifier)
            summaries[name] = {**summarize(judged, args.pass_k), "sampling_seconds": round(sampling_s, 2)}
            curves[name] = budget_curve(rows, completions, judged, args.budgets, tokenizer, verifier)
            for row, comps, js, jd in zip(rows, completions, judgements, judged):
                for i, (c, j, sample) in enumerate(zip(comps, js, jd)):
                    samples_file.write(json.dumps({
                        "benchmark": name, "problem_id": row["id"], "sample_index": i, "gold": row["answer"],
                        "completion": c.text, "answer": j.answer, "verdict": j.verdict.value,
                        "correct": j.verdict is Verdict.CORRECT, "reason": j.reason, "length": sample.length,
                        "truncated": sample.truncated,
                    }) + "\n")
            log_summary(name, summaries[name])
    verifier.close()

    # 5. summary and budget curve
    summary = {
        "model": model_args.model_name_or_path, "model_path": path, "adapter": args.adapter, "engine": engine,
        "sampling": {"k": s.k, "temperature": s.temperature, "top_p": s.top_p, "min_p": s.min_p,
                     "max_new_tokens": s.max_new_tokens, "seed": s.seed},
        "benchmarks": summaries,
    }
    run_files.write_json(out / "summary.json", summary)
    title = f"{Path(model_args.model_name_or_path).name}" + (f" + {Path(args.adapter).name}" if args.adapter else "")
    write_curve(out, curves, f"{title}: pass@1 at each token budget (k={s.k})")
    lock.release()
    logger.info("samples.jsonl, summary.json, budget_curve.csv and budget_curve.png written to %s", out)
    return summary


# -- comparing runs --------------------------------------------------------------------------------
SUMMARY_KEYS = ("k", "pass@1", "cons@k", "pass@k", "mean_length", "mean_length_correct", "mean_length_incorrect",
                "truncated_rate", "no_answer_rate", "unjudgeable")  # what compare reads of each benchmark
COMPARE_COLUMNS = ("benchmark", "run", "k", "pass@1", "cons@k", "pass@k", "mean len", "len correct",
                   "len incorrect", "truncated", "no answer", "unjudgeable")


def compare(run_dirs: list[str]) -> str:
    """A Markdown table of several eval output directories, one row per benchmark and run.

    Rates are percentages; lengths are mean tokens per completion; ``pass@k`` uses the run's k.
    """
    runs = []
    for run in run_dirs:
        path = Path(run) / "summary.json"
        if not path.is_file():
            raise DataError(f"{run}: no summary.json (not an eval output directory)")
        try:
            summary = json.loads(path.read_text())
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise DataError(f"{path}: not a JSON summary ({exc})") from exc
        if not isinstance(summary, dict) or not isinstance(summary.get("benchmarks"), dict) or any(
                not isinstance(b, dict) or not set(SUMMARY_KEYS) <= set(b) for b in summary["benchmarks"].values()):
            raise DataError(f"{path}: not an eval summary (needs benchmarks, each with {', '.join(SUMMARY_KEYS)})")
        runs.append((run, summary))
    names = [Path(run).name for run, _ in runs]
    labels = names if len(set(names)) == len(names) else [run for run, _ in runs]
    benchmarks = list(dict.fromkeys(b for _, s in runs for b in s["benchmarks"]))
    lines = ["| " + " | ".join(COMPARE_COLUMNS) + " |", "|" + "---|" * len(COMPARE_COLUMNS)]
    for bench in benchmarks:
        for label, (_, summary) in zip(labels, runs):
            s = summary["benchmarks"].get(bench)
            if s is None:
                continue
            k = s["k"]
            cells = [bench, label, str(k), _percent(s["pass@1"]), _percent(s["cons@k"]),
                     _percent(s["pass@k"].get(str(k))), _tokens(s["mean_length"]),
                     _tokens(s["mean_length_correct"]), _tokens(s["mean_length_incorrect"]),
                     _percent(s["truncated_rate"]), _percent(s["no_answer_rate"]), str(s["unjudgeable"])]
            lines.append("| " + " | ".join(cells) + " |")
    lines += ["", "Rates in %; lengths in mean tokens per completion; cons@k and pass@k use each run's k."]
    return "\n".join(lines) + "\n"


def compare_main(argv: list[str]) -> str:
    parser = argparse.ArgumentParser(prog="python -m lead_lite.eval compare",
                                     description="Compare eval output directories in one Markdown table.")
    parser.add_argument("runs", nargs="+", help="eval output directories (each with a summary.json)")
    parser.add_argument("--output", help="also write the table to this file")
    args = parser.parse_args(argv)
    if args.output:  # before reading: the table never replaces a file it is made from, nor a run's record
        run_files.refuse_same_file(args.output, {f"run {run}": Path(run) / "summary.json" for run in args.runs},
                                   "--output", inside_ok=True)
        run_files.refuse_run_file(args.output, "--output")
    table = compare(args.runs)
    sys.stdout.write(table)
    if args.output:
        run_files.write_atomic(args.output, table)
    return table


if __name__ == "__main__":
    main(sys.argv[1:])
