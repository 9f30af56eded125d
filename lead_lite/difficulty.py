"""Problem difficulty for the current policy (pass rates from k samples) and band filtering.

    python -m lead_lite.data difficulty --model tiny --data problems.jsonl --k 8 --output pass_rates.jsonl
    python -m lead_lite.data difficulty --model qwen3-1.7b --adapter runs/sft --data deepscaler \\
        --k 8 --output runs/deepscaler_pass_rates.jsonl
    python -m lead_lite.data filter --pass_rates pass_rates.jsonl --keep 0.1:0.9 --output filtered.jsonl
    python -m lead_lite.train --model tiny --dataset filtered.jsonl      # train on the kept band

Why: GRPO learns only from groups whose completions earn different rewards. A problem the
policy always solves (pass rate 1) or never solves (pass rate 0) yields a group without reward
spread, hence no gradient; keeping the band in between spends the rollouts where there is signal.
The official GRPO-LEAD data was chosen the same way: its stage 2/3 file keeps problems by the
stage-1 model's measured ``correctness`` (see docs/data.md).

``difficulty`` samples ``k`` completions per problem with the policy (base model + optional LoRA
``--adapter``): with vLLM when it is installed and a GPU is present (one engine for the whole
run), else with batched HF ``generate``. Each completion is judged by the training verifier
(:class:`lead_lite.verifier.MathVerifier`); the problem's line, with its pass rate, is appended to
``--output`` and flushed after every chunk of ``--chunk_size`` problems. Run the same command
again after an interruption: problems whose id is already in the output are skipped, and a
half-written last line is removed first. (A resumed run draws different random samples than an
uninterrupted one would; the estimates have the same distribution.)

Pass rate = correct / judged samples; a sample that cannot be judged (verifier timeout) is
counted in ``unjudgeable`` and left out of the rate, never counted as right; a problem with no
judged sample has pass rate null and is dropped by ``filter`` (reported).
"""

from __future__ import annotations

import json
import logging
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

logger = logging.getLogger("lead_lite.difficulty")

DEFAULT_MAX_NEW_TOKENS = 4096  # when neither the flag nor the preset's max_completion_length is set
DEFAULT_TEMPERATURE = 1.0  # when neither the flag nor the preset's (training rollout) temperature is set


@dataclass
class DifficultyArguments:
    """Which policy samples which problems, how, and where the pass rates go."""

    data: str = field(metadata={"help": "A dataset name (lead_lite.data.DATASETS), local file or hub id."})
    output: str = field(default="pass_rates.jsonl", metadata={"help": "JSONL, one line per problem; appended to."})
    model: str = field(default="tiny", metadata={"help": "A preset from configs/models/, a hub id or a local path."})
    adapter: str | None = field(default=None, metadata={"help": "A LoRA adapter directory: the current policy."})
    k: int = field(default=8, metadata={"help": "Samples per problem (GRPO-LEAD's group size is 8)."})
    temperature: float | None = field(
        default=None, metadata={"help": f"Sampling temperature (default: the preset's training temperature, "
                                f"else {DEFAULT_TEMPERATURE})."})
    top_p: float = field(default=1.0, metadata={"help": "Nucleus sampling top-p (1: off, as in training)."})
    max_new_tokens: int | None = field(
        default=None, metadata={"help": f"Token limit per completion (default: the preset's max_completion_length, "
                                f"else {DEFAULT_MAX_NEW_TOKENS})."})
    problem_column: str | None = field(default=None, metadata={"help": "See lead_lite.config.DataArguments."})
    answer_column: str | None = field(default=None, metadata={"help": "See lead_lite.config.DataArguments."})
    answer_format: str | None = field(default=None, metadata={"help": "See lead_lite.config.DataArguments."})
    prompt_format: str | None = field(
        default=None, metadata={"help": "See lead_lite.prompts (default: the preset's, else plain)."})
    max_problems: int | None = field(default=None, metadata={"help": "Only the first N usable problems."})
    chunk_size: int = field(default=64, metadata={"help": "Problems sampled per call; the output is flushed after each."})
    engine: str = field(default="auto", metadata={"help": "auto (vllm with a GPU and vllm installed, else hf), hf, vllm."})
    batch_size: int = field(default=64, metadata={"help": "Sequences per HF generate call."})
    vllm_gpu_memory_utilization: float | None = field(
        default=None, metadata={"help": "vLLM engine: its share of the GPU's memory (of the machine's on vLLM's "
                                "CPU build); default: the preset's, else 0.3."})
    vllm_max_model_length: int | None = field(
        default=None, metadata={"help": "vLLM engine: prompt + completion tokens it holds (default: the longest "
                                "prompt + max_new_tokens)."})
    seed: int = field(default=0, metadata={"help": "Sampling seed."})
    verifier_timeout_s: float = field(default=2.0, metadata={"help": "Most seconds one answer check may take."})


@dataclass
class FilterArguments:
    """Which pass rates to keep."""

    pass_rates: str = field(metadata={"help": "The output of `python -m lead_lite.data difficulty`."})
    output: str = field(metadata={"help": "JSONL of the kept problems (problem, answer, solution, pass_rate)."})
    keep: str = field(default="0.1:0.9", metadata={"help": "LO:HI, the pass rates kept (both ends included)."})


# -- the output file -------------------------------------------------------------------------------
def read_records(path: Path, repair: bool = False) -> list[dict]:
    """The JSON lines of ``path`` ([] when it does not exist).

    A last line without its newline is what an interrupted write leaves: it is skipped with a
    warning, and with ``repair`` cut from the file so that appending starts on a fresh line.
    Any other line that is not JSON is an error naming the line.
    """
    if not path.exists():
        return []
    text = path.read_text()
    complete, _, partial = text.rpartition("\n")
    if partial:
        logger.warning("%s: the last line is incomplete (an interrupted write)%s", path,
                       "; removed, its problem will be sampled again" if repair else "; skipped")
        if repair:
            path.write_text(complete + "\n" if complete else "")
    records = []
    for n, line in enumerate(complete.split("\n") if complete else [], start=1):
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError as exc:
            raise ValueError(f"{path}, line {n}: not JSON ({exc})") from exc
    return records


def problem_record(row: dict, verdicts: list, lengths: list[int], truncated: list[bool]) -> dict:
    """One output line: the problem, its gold answer and the counts behind its pass rate.

    Example:
        >>> from lead_lite.verifier import Verdict as V
        >>> r = problem_record({"id": "d:0", "problem": "1+1?", "answer": "2"},
        ...                    [V.CORRECT, V.WRONG, V.NO_ANSWER, V.UNJUDGEABLE], [5, 7, 9, 3], [False] * 4)
        >>> r["pass_rate"], r["judged"], r["unjudgeable"]  # 1 correct of 3 judged
        (0.3333333333333333, 3, 1)
    """
    from lead_lite.verifier import Verdict

    correct = sum(v is Verdict.CORRECT for v in verdicts)
    unjudgeable = sum(v is Verdict.UNJUDGEABLE for v in verdicts)
    judged = len(verdicts) - unjudgeable
    record = {
        "id": row["id"], "problem": row["problem"], "answer": row["answer"],
        "pass_rate": correct / judged if judged else None,
        "correct": correct, "judged": judged, "k": len(verdicts), "unjudgeable": unjudgeable,
        "no_answer": sum(v is Verdict.NO_ANSWER for v in verdicts),
        "truncated": sum(truncated), "mean_length": sum(lengths) / len(lengths),
    }
    if row.get("solution"):
        record["solution"] = row["solution"]
    return record


# -- configuration ---------------------------------------------------------------------------------
def parse_args(argv: list[str]):
    """(DifficultyArguments, ModelArguments, DataArguments, chat_template_kwargs), preset values filled in."""
    from lead_lite.config import ConfigError, DataArguments, parse_with_preset
    from lead_lite.data import ANSWER_FORMATS
    from lead_lite.prompts import PROMPT_FORMATS, merged_chat_template_kwargs

    args, model_args, values = parse_with_preset(DifficultyArguments, argv, prog="python -m lead_lite.data difficulty")
    args.prompt_format = args.prompt_format or values.get("prompt_format", "plain")
    args.temperature = values.get("temperature", DEFAULT_TEMPERATURE) if args.temperature is None else args.temperature
    args.max_new_tokens = args.max_new_tokens or int(values.get("max_completion_length", DEFAULT_MAX_NEW_TOKENS))
    if args.vllm_gpu_memory_utilization is None:
        from lead_lite.sampling import VLLM_GPU_MEMORY_UTILIZATION

        args.vllm_gpu_memory_utilization = values.get("vllm_gpu_memory_utilization", VLLM_GPU_MEMORY_UTILIZATION)

    def bad(name: str, why: str):
        raise ConfigError(f"--{name} {getattr(args, name)!r}: {why}")

    for name in ("k", "max_new_tokens", "chunk_size", "batch_size"):
        if getattr(args, name) < 1:
            bad(name, "must be >= 1")
    if args.temperature <= 0:
        bad("temperature", "must be > 0 (a pass rate needs varied samples)")
    if not 0 < args.top_p <= 1:
        bad("top_p", "must be in (0, 1]")
    if not 0 < args.vllm_gpu_memory_utilization <= 1:
        bad("vllm_gpu_memory_utilization", "must be in (0, 1]")
    if args.vllm_max_model_length is not None and args.vllm_max_model_length < 1:
        bad("vllm_max_model_length", "must be >= 1")
    if args.max_problems is not None and args.max_problems < 1:
        bad("max_problems", "must be >= 1")
    if args.engine not in ("auto", "hf", "vllm"):
        bad("engine", "must be one of auto, hf, vllm")
    if args.prompt_format not in PROMPT_FORMATS:
        bad("prompt_format", f"must be one of {', '.join(PROMPT_FORMATS)}")
    if args.answer_format is not None and args.answer_format not in ANSWER_FORMATS:
        bad("answer_format", f"must be one of {', '.join(ANSWER_FORMATS)}")
    if args.adapter is not None and not (Path(args.adapter) / "adapter_config.json").is_file():
        bad("adapter", "is not a PEFT adapter directory (no adapter_config.json)")
    try:
        kwargs = merged_chat_template_kwargs(args.prompt_format, values.get("chat_template_kwargs"))
    except ValueError as exc:
        raise ConfigError(str(exc)) from exc
    data = DataArguments(dataset=args.data, problem_column=args.problem_column, answer_column=args.answer_column,
                         answer_format=args.answer_format, prompt_format=args.prompt_format)
    return args, model_args, data, kwargs


# -- the two commands ------------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> dict:
    """Estimate pass rates; returns counts of this run (problems sampled, skipped, band sizes)."""
    from lead_lite.config import ConfigError

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        args, model_args, data, chat_kwargs = parse_args(argv)
    except ConfigError as exc:
        logger.error("invalid configuration: %s", exc)
        raise SystemExit(2) from exc

    # 1. problems (before the model: bad data fails fast), minus those already in the output
    from lead_lite.data import dataset_rows

    rows = dataset_rows(data, with_solution=True)[: args.max_problems]
    out = Path(args.output)
    done = read_records(out, repair=True)
    other_k = sorted({r["k"] for r in done} - {args.k})
    if other_k:
        raise SystemExit(f"{out}: holds pass rates from k={other_k}, this run asks k={args.k}; use another --output")
    done_ids = {r["id"] for r in done}
    todo = [r for r in rows if r["id"] not in done_ids]
    logger.info("%s: %d usable problems; %d already in %s, %d to sample (k=%d, temperature %.2f, %d tokens, "
                "prompt format %s)", args.data, len(rows), len(rows) - len(todo), out, len(todo), args.k,
                args.temperature, args.max_new_tokens, args.prompt_format)

    # 2. the policy: base model + adapter, in the engine that will sample
    from transformers import set_seed

    from lead_lite.eval import load_hf_model, resolve_engine
    from lead_lite.models import load_tokenizer, model_path
    from lead_lite.sampling import prompt_texts, sample_hf, sample_vllm, vllm_engine
    from lead_lite.verifier import MathVerifier

    engine = resolve_engine(args.engine)
    path = model_path(model_args)
    tokenizer = load_tokenizer(path)
    model = llm = None
    if todo and engine == "hf":
        model = load_hf_model(model_args, path, args.adapter)
    elif todo:
        longest = max(len(tokenizer(t, add_special_tokens=False)["input_ids"])
                      for t in prompt_texts(tokenizer, [r["prompt"] for r in todo], chat_kwargs))
        llm = vllm_engine(path, args.vllm_max_model_length or longest + args.max_new_tokens, args.seed, args.adapter,
                          args.vllm_gpu_memory_utilization)
    set_seed(args.seed)

    # 3. sample, judge, append, flush: chunk by chunk
    verifier = MathVerifier(timeout_s=args.verifier_timeout_s)
    start = time.time()
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("a") as f:
        for first in range(0, len(todo), args.chunk_size):
            chunk = todo[first : first + args.chunk_size]
            prompts = [r["prompt"] for r in chunk]
            if engine == "hf":
                completions = sample_hf(model, tokenizer, prompts, args.max_new_tokens, args.k, args.temperature,
                                        args.top_p, batch_size=args.batch_size, chat_template_kwargs=chat_kwargs)
            else:
                completions = sample_vllm(path, tokenizer, prompts, args.max_new_tokens, args.k, args.temperature,
                                          args.top_p, 0.0, args.seed, args.adapter, chat_kwargs, engine=llm)
            for row, samples in zip(chunk, completions, strict=True):
                verdicts = [verifier.check(c.text, row["answer"]).verdict for c in samples]
                record = problem_record(row, verdicts, [c.length for c in samples], [not c.finished for c in samples])
                f.write(json.dumps(record) + "\n")
            f.flush()
            logger.info("%d / %d problems sampled (%.0f s)", first + len(chunk), len(todo), time.time() - start)
    verifier.close()

    # 4. what the file now says
    records = read_records(out)
    rates = [r["pass_rate"] for r in records if r["pass_rate"] is not None]
    counts = {"sampled": len(todo), "skipped": len(rows) - len(todo), "problems": len(records),
              "never_solved": sum(p == 0 for p in rates), "always_solved": sum(p == 1 for p in rates),
              "in_between": sum(0 < p < 1 for p in rates), "unjudged": len(records) - len(rates)}
    logger.info("%s: %d problems: %d never solved, %d always solved, %d in between, %d unjudged", out,
                counts["problems"], counts["never_solved"], counts["always_solved"], counts["in_between"],
                counts["unjudged"])
    return counts


def parse_band(keep: str) -> tuple[float, float]:
    """``"LO:HI"`` -> (LO, HI) with 0 <= LO <= HI <= 1.

    Example:
        >>> parse_band("0.1:0.9")
        (0.1, 0.9)
    """
    lo, sep, hi = keep.partition(":")
    try:
        band = (float(lo), float(hi))
    except ValueError:
        band = None
    if not sep or band is None or not 0 <= band[0] <= band[1] <= 1:
        raise ValueError(f"--keep {keep!r}: write LO:HI with 0 <= LO <= HI <= 1, e.g. 0.1:0.9")
    return band


def filter_main(argv: list[str] | None = None) -> dict:
    """Keep the problems whose pass rate lies in the band; returns the counts (also logged)."""
    from transformers import HfArgumentParser

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = HfArgumentParser(FilterArguments, prog="python -m lead_lite.data filter")
    try:
        (args,) = parser.parse_args_into_dataclasses(args=argv)
        lo, hi = parse_band(args.keep)
    except ValueError as exc:
        logger.error("invalid configuration: %s", exc)
        raise SystemExit(2) from exc

    records, seen = [], set()
    for r in read_records(Path(args.pass_rates)):
        if r["id"] not in seen:  # a problem sampled twice (two runs into one file): its first estimate
            seen.add(r["id"])
            records.append(r)
    rates = [r["pass_rate"] for r in records]
    kept = [r for r in records if r["pass_rate"] is not None and lo <= r["pass_rate"] <= hi]
    counts = {"problems": len(records), "kept": len(kept),
              "too_hard": sum(p is not None and p < lo for p in rates),
              "too_easy": sum(p is not None and p > hi for p in rates),
              "unjudged": sum(p is None for p in rates)}
    out = Path(args.output)
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w") as f:
        for r in kept:
            row = {"problem": r["problem"], "answer": r["answer"], "pass_rate": r["pass_rate"], "source_id": r["id"]}
            if r.get("solution"):
                row["solution"] = r["solution"]
            f.write(json.dumps(row) + "\n")
    logger.info("%s: kept %d of %d problems with pass rate in [%g, %g]; dropped %d below (too hard), %d above "
                "(too easy), %d unjudged -> %s", args.pass_rates, counts["kept"], counts["problems"], lo, hi,
                counts["too_hard"], counts["too_easy"], counts["unjudged"], out)
    return counts
