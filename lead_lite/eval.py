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
import importlib.util
import json
import logging
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

logger = logging.getLogger("lead_lite.eval")

DEFAULT_MAX_NEW_TOKENS = 4096  # when neither --max_new_tokens nor the preset's max_completion_length is set
N_DEFAULT_BUDGETS = 8


@dataclass
class EvalArguments:
    """What to evaluate, on what, and how to sample."""

    model: str = field(default="tiny", metadata={"help": "A preset from configs/models/ (e.g. tiny), a hub id or a local path."})
    adapter: str | None = field(default=None, metadata={"help": "A LoRA adapter directory (as saved by lead_lite.train)."})
    data: list[str] = field(
        default_factory=lambda: ["arithmetic"],
        metadata={"help": "Benchmarks: aime24, aime25, math500, amc23 (hub), arithmetic (generated), or local "
                  ".jsonl/.parquet files with problem/answer columns."},
    )
    output_dir: str = field(default="runs/eval", metadata={"help": "Where samples, summary and the curve go."})
    k: int = field(default=8, metadata={"help": "Samples per problem (official GRPO-LEAD eval: 32)."})
    temperature: float = field(default=0.6, metadata={"help": "Sampling temperature (R1 convention 0.6; 0: greedy)."})
    top_p: float = field(default=0.95, metadata={"help": "Nucleus sampling top-p (R1 convention 0.95)."})
    min_p: float = field(default=0.0, metadata={"help": "min-p filtering (0: off; official GRPO-LEAD eval: 0.01)."})
    max_new_tokens: int | None = field(
        default=None,
        metadata={"help": "Token limit per completion (default: the preset's max_completion_length, else "
                  f"{DEFAULT_MAX_NEW_TOKENS}; official GRPO-LEAD eval: 14k)."},
    )
    budgets: list[int] | None = field(
        default=None,
        metadata={"help": f"Token budgets of the budget curve, each <= max_new_tokens (default: "
                  f"{N_DEFAULT_BUDGETS} evenly spaced up to max_new_tokens)."},
    )
    pass_k: list[int] | None = field(
        default=None, metadata={"help": "The k's of pass@k, each <= k (default: powers of two up to k, and k)."}
    )
    max_problems: int | None = field(default=None, metadata={"help": "Evaluate only the first N problems of each benchmark."})
    prompt_format: str | None = field(
        default=None, metadata={"help": "Instruction and chat-template switches (lead_lite.prompts); default: the "
                                "preset's, as in training, else plain."})
    engine: str = field(default="auto", metadata={"help": "auto (vllm with a GPU and vllm installed, else hf), hf, or vllm."})
    batch_size: int = field(default=64, metadata={"help": "Sequences per HF generate call."})
    vllm_gpu_memory_utilization: float | None = field(
        default=None, metadata={"help": "vLLM engine: its share of the GPU's memory (of the machine's on vLLM's "
                                "CPU build); default: the preset's, else 0.3."})
    vllm_max_model_length: int | None = field(
        default=None, metadata={"help": "vLLM engine: prompt + completion tokens it holds (default: the longest "
                                "prompt + max_new_tokens)."})
    seed: int = field(default=0, metadata={"help": "Sampling seed."})
    verifier_timeout_s: float = field(default=2.0, metadata={"help": "Most seconds one answer check may take."})


# -- configuration ---------------------------------------------------------------------------------
def parse_args(argv: list[str]):
    """(EvalArguments, ModelArguments): defaults < the model's preset < flags; invalid values fail.

    From a preset (``configs/models/NAME.yaml``), the model-loading keys (``ModelArguments``) and
    ``max_completion_length`` (the default ``--max_new_tokens``) are used; its training keys are not.
    """
    from lead_lite.config import parse_with_preset

    args, model_args, values = parse_with_preset(
        EvalArguments, argv, prog="python -m lead_lite.eval",
        description="Evaluate a model on math benchmarks. To compare finished runs: "
        "python -m lead_lite.eval compare RUN_DIR [RUN_DIR ...] [--output FILE]")
    if args.max_new_tokens is None:
        args.max_new_tokens = int(values.get("max_completion_length", DEFAULT_MAX_NEW_TOKENS))
    args.prompt_format = args.prompt_format or values.get("prompt_format", "plain")
    if args.vllm_gpu_memory_utilization is None:
        from lead_lite.sampling import VLLM_GPU_MEMORY_UTILIZATION

        args.vllm_gpu_memory_utilization = values.get("vllm_gpu_memory_utilization", VLLM_GPU_MEMORY_UTILIZATION)
    if args.budgets is None:
        n = args.max_new_tokens
        args.budgets = sorted({max(1, round(n * i / N_DEFAULT_BUDGETS)) for i in range(1, N_DEFAULT_BUDGETS + 1)})
    validate(args)
    return args, model_args


def validate(args: EvalArguments) -> None:
    """Reject invalid values before anything loads; each message names the flag."""
    from lead_lite.config import ConfigError

    def bad(name: str, why: str):
        raise ConfigError(f"--{name} {getattr(args, name)!r}: {why}")

    if args.k < 1:
        bad("k", "must be >= 1")
    if args.temperature < 0:
        bad("temperature", "must be >= 0")
    if not 0 < args.top_p <= 1:
        bad("top_p", "must be in (0, 1]")
    if not 0 <= args.min_p < 1:
        bad("min_p", "must be in [0, 1)")
    if not 0 < args.vllm_gpu_memory_utilization <= 1:
        bad("vllm_gpu_memory_utilization", "must be in (0, 1]")
    if args.vllm_max_model_length is not None and args.vllm_max_model_length < 1:
        bad("vllm_max_model_length", "must be >= 1")
    if args.max_new_tokens < 1:
        bad("max_new_tokens", "must be >= 1")
    if not args.budgets or any(not 1 <= b <= args.max_new_tokens for b in args.budgets):
        bad("budgets", f"each must be in [1, max_new_tokens={args.max_new_tokens}]: a longer budget needs longer samples")
    if args.pass_k is not None and any(not 1 <= j <= args.k for j in args.pass_k):
        bad("pass_k", f"each must be in [1, k={args.k}]")
    if args.max_problems is not None and args.max_problems < 1:
        bad("max_problems", "must be >= 1")
    if args.engine not in ("auto", "hf", "vllm"):
        bad("engine", "must be one of auto, hf, vllm")
    from lead_lite.prompts import PROMPT_FORMATS

    if args.prompt_format not in PROMPT_FORMATS:
        bad("prompt_format", f"must be one of {', '.join(PROMPT_FORMATS)}")
    if args.batch_size < 1:
        bad("batch_size", "must be >= 1")
    if args.verifier_timeout_s <= 0:
        bad("verifier_timeout_s", "must be > 0")
    if args.adapter is not None and not (Path(args.adapter) / "adapter_config.json").is_file():
        bad("adapter", "is not a PEFT adapter directory (no adapter_config.json)")
    args.budgets = sorted(set(args.budgets))


def resolve_engine(requested: str) -> str:
    """``auto`` -> ``vllm`` when CUDA and vllm are both available, else ``hf``."""
    if requested != "auto":
        return requested
    import torch

    if torch.cuda.is_available() and importlib.util.find_spec("vllm") is not None:
        return "vllm"
    return "hf"


# -- sampling and judging --------------------------------------------------------------------------
def load_hf_model(model_args, path: str, adapter: str | None):
    """The base model (bf16 on a GPU, fp32 on CPU) with the LoRA adapter applied, in eval mode."""
    import torch

    from lead_lite.models import load_plain

    cuda = torch.cuda.is_available()
    model, _, _ = load_plain(model_args, path, bf16=cuda)
    if cuda and not (model_args.load_in_4bit or model_args.load_in_8bit):
        model.to("cuda")  # quantized weights are placed on the GPU when they load
    if adapter is not None:
        from peft import PeftModel

        model = PeftModel.from_pretrained(model, adapter)
    return model.eval()


def judge_samples(rows: list[dict], completions, verifier):
    """Judge every completion against its problem's gold answer.

    Returns:
        (judgements, judged): per problem, per sample, the verifier's :class:`Judgement` and the
        :class:`lead_lite.metrics.Judged` built from it.
    """
    from lead_lite.metrics import Judged

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
    from lead_lite.metrics import at_budget, summarize

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
    """budget_curve.csv (one row per benchmark and budget) and budget_curve.png (pass@1 vs budget)."""
    with (out / "budget_curve.csv").open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=CURVE_COLUMNS)
        writer.writeheader()
        for name, curve in curves.items():
            for point in curve:
                writer.writerow({"benchmark": name, **point})

    import matplotlib

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
    fig.savefig(out / "budget_curve.png", dpi=120)
    plt.close(fig)


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
def main(argv: list[str] | None = None) -> dict | str:
    """Evaluate (returns the summary), or ``compare`` runs (returns the Markdown table)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["compare"]:
        return compare_main(argv[1:])
    from lead_lite.config import ConfigError, save_resolved

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        args, model_args = parse_args(argv)
    except ConfigError as exc:
        logger.error("invalid configuration: %s", exc)
        raise SystemExit(2) from exc

    # 1. run directory and resolved configuration
    out = Path(args.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    engine = resolve_engine(args.engine)
    save_resolved(out / "resolved_config.yaml", args, model_args)

    # 2. data (before the model: a bad benchmark name fails fast)
    from lead_lite.benchmarks import benchmark_name, load_benchmark
    from lead_lite.prompts import PROMPT_FORMATS

    benchmarks = {benchmark_name(spec): load_benchmark(spec, args.max_problems, args.prompt_format)
                  for spec in args.data}
    chat_kwargs = PROMPT_FORMATS[args.prompt_format].chat_template_kwargs

    # 3. model and tokenizer
    from lead_lite.models import load_tokenizer, model_path

    path = model_path(model_args)
    tokenizer = load_tokenizer(path)
    logger.info("model %s%s; engine %s; k=%d, temperature %.2f, top-p %.2f, min-p %.2f, %d max new tokens",
                path, f" + adapter {args.adapter}" if args.adapter else "", engine, args.k, args.temperature,
                args.top_p, args.min_p, args.max_new_tokens)
    model = load_hf_model(model_args, path, args.adapter) if engine == "hf" else None

    # 4. sample, judge, summarise, cut to budgets
    from transformers import set_seed

    from lead_lite.metrics import summarize
    from lead_lite.sampling import sample_hf, sample_vllm
    from lead_lite.verifier import MathVerifier, Verdict

    verifier = MathVerifier(timeout_s=args.verifier_timeout_s)
    summaries, curves = {}, {}
    with (out / "samples.jsonl").open("w") as samples_file:
        for name, rows in benchmarks.items():
            start = time.time()
            prompts = [r["prompt"] for r in rows]
            if engine == "vllm":
                completions = sample_vllm(path, tokenizer, prompts, args.max_new_tokens, args.k, args.temperature,
                                          args.top_p, args.min_p, args.seed, args.adapter, chat_kwargs,
                                          gpu_memory_utilization=args.vllm_gpu_memory_utilization,
                                          max_model_len=args.vllm_max_model_length)
            else:
                set_seed(args.seed)  # per benchmark: its samples do not depend on the order of --data
                completions = sample_hf(model, tokenizer, prompts, args.max_new_tokens, args.k, args.temperature,
                                        args.top_p, args.min_p, args.batch_size, chat_kwargs)
            sampling_s = time.time() - start
            judgements, judged = judge_samples(rows, completions, verifier)
            summaries[name] = {**summarize(judged, args.pass_k), "sampling_seconds": round(sampling_s, 2)}
            curves[name] = budget_curve(rows, completions, judged, args.budgets, tokenizer, verifier)
            for row, comps, js, jd in zip(rows, completions, judgements, judged):
                for i, (c, j, s) in enumerate(zip(comps, js, jd)):
                    samples_file.write(json.dumps({
                        "benchmark": name, "problem_id": row["id"], "sample_index": i, "gold": row["answer"],
                        "completion": c.text, "answer": j.answer, "verdict": j.verdict.value,
                        "correct": j.verdict is Verdict.CORRECT, "reason": j.reason, "length": s.length,
                        "truncated": s.truncated,
                    }) + "\n")
            log_summary(name, summaries[name])
    verifier.close()

    # 5. summary and budget curve
    summary = {
        "model": model_args.model_name_or_path, "model_path": path, "adapter": args.adapter, "engine": engine,
        "sampling": {"k": args.k, "temperature": args.temperature, "top_p": args.top_p, "min_p": args.min_p,
                     "max_new_tokens": args.max_new_tokens, "seed": args.seed},
        "benchmarks": summaries,
    }
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    title = f"{Path(model_args.model_name_or_path).name}" + (f" + {Path(args.adapter).name}" if args.adapter else "")
    write_curve(out, curves, f"{title}: pass@1 at each token budget (k={args.k})")
    logger.info("samples.jsonl, summary.json, budget_curve.csv and budget_curve.png written to %s", out)
    return summary


# -- comparing runs --------------------------------------------------------------------------------
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
            raise FileNotFoundError(f"{run}: no summary.json (not an eval output directory)")
        runs.append((run, json.loads(path.read_text())))
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
    table = compare(args.runs)
    sys.stdout.write(table)
    if args.output:
        Path(args.output).write_text(table)
    return table


if __name__ == "__main__":
    main(sys.argv[1:])
