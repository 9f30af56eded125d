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
(:class:`lead_lite.verifier.MathVerifier`); problems are sampled ``--chunk_size`` at a time, and
each problem's line, with its pass rate, is appended to ``--output`` whole, in one write. Run the
same command again after an interruption: problems whose id is already in the output are
skipped, and a torn last line is removed first. (A resumed run draws different random samples
than an uninterrupted one would; the estimates have the same distribution.) ``--output`` must
not be ``--data``, and an existing ``--output`` must hold pass-rate lines only: any other file is
refused, never appended to or cut.

Pass rate = correct / judged samples; a sample that cannot be judged (verifier timeout) is
counted in ``unjudgeable`` and left out of the rate, never counted as right; a problem with no
judged sample has pass rate null and is dropped by ``filter`` (reported).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from transformers import HfArgumentParser, set_seed

from lead_lite import run_files
from lead_lite.config import (ConfigError, DataArguments, SamplingArguments, parse_with_preset, resolve_engine,
                              resolve_sampling)
from lead_lite.gold_answers import ANSWER_FORMATS
from lead_lite.models.loading import load_hf_model, load_tokenizer, model_path
from lead_lite.models.sampling import prompt_texts, sample_hf, sample_vllm, vllm_engine
from lead_lite.tasks.math import dataset_rows
from lead_lite.verifier import MathVerifier, Verdict

logger = logging.getLogger("lead_lite.difficulty")

DEFAULT_TEMPERATURE = 1.0  # when neither the flag nor the preset's (training rollout) temperature is set
DEFAULT_TOP_P = 1.0  # off, as in training


@dataclass
class DifficultyArguments:
    """Which policy samples which problems and where the pass rates go (sampling:
    :class:`lead_lite.config.SamplingArguments`; default temperature: the preset's, else 1.0; top-p 1)."""

    data: str = field(metadata={"help": "A dataset name (lead_lite.tasks.math.DATASETS), local file or hub id."})
    output: str = field(default="pass_rates.jsonl", metadata={"help": "JSONL, one line per problem; appended to."})
    model: str = field(default="tiny", metadata={"help": "A preset from configs/models/, a hub id or a local path."})
    adapter: str | None = field(default=None, metadata={"help": "A LoRA adapter directory: the current policy."})
    problem_column: str | None = field(default=None, metadata={"help": "See lead_lite.config.DataArguments."})
    answer_column: str | None = field(default=None, metadata={"help": "See lead_lite.config.DataArguments."})
    answer_format: str | None = field(default=None, metadata={"help": "See lead_lite.config.DataArguments."})
    max_problems: int | None = field(default=None, metadata={"help": "Only the first N usable problems."})
    chunk_size: int = field(default=64, metadata={"help": "Problems sampled per call."})


@dataclass
class FilterArguments:
    """Which pass rates to keep."""

    pass_rates: str = field(metadata={"help": "The output of `python -m lead_lite.data difficulty`."})
    output: str = field(metadata={"help": "JSONL of the kept problems (problem, answer, solution, pass_rate)."})
    keep: str = field(default="0.1:0.9", metadata={"help": "LO:HI, the pass rates kept (both ends included)."})


# -- the output file -------------------------------------------------------------------------------
PASS_RATE_KEYS = ("id", "problem", "answer", "pass_rate", "judged", "k")  # in every line this command writes


def read_records(path: Path, repair: bool = False) -> list[dict]:
    """The pass-rate records of ``path`` ([] when it does not exist).

    A last line without its newline that begins like a pass-rate record but is not JSON is what
    an interrupted write leaves: it is skipped with a warning, and with ``repair`` made whole before appending (:func:`lead_lite.run_files.repair_jsonl`):
    a complete line gets its newline, a torn one is removed, and only from a file whose every
    line is a pass-rate record written by this command. A line that is not such a record, a
    binary or non-UTF-8 file, or a path that cannot be read raises ``ValueError`` naming it.

    Example:
        >>> import tempfile
        >>> p = Path(tempfile.mkdtemp()) / "rates.jsonl"
        >>> line = '{"id": "a:0", "problem": "1+1?", "answer": "2", "pass_rate": 0.5, "judged": 2, "k": 2}'
        >>> _ = p.write_text(line + '\\n{"id": "a:1", "pro')
        >>> [r["id"] for r in read_records(p, repair=True)], p.read_text().count("\\n")
        (['a:0'], 1)
    """
    if not path.exists():
        return []
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ValueError(f"{path}: not a pass-rate file (not UTF-8 text: {exc.reason} at byte {exc.start})") from exc
    except OSError as exc:
        raise ValueError(f"{path}: cannot read ({exc.strerror or exc})") from exc
    records = run_files.parse_jsonl(
        path, text, torn_prefix='{"id": ', torn_note="removed, its problem will be sampled again" if repair else "skipped",
        problem=lambda r: None if all(k in r for k in PASS_RATE_KEYS) else
        "not a pass-rate record (one of python -m lead_lite.data difficulty's output lines)")
    if repair:
        run_files.repair_jsonl(path, owned=True)  # every complete line above is a pass-rate record
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
    """(DifficultyArguments, SamplingArguments, VerifierArguments, ModelArguments, DataArguments,
    chat-template switches), preset values filled in; invalid values fail."""
    args, sampling, verifier, model_args, values = parse_with_preset(
        (DifficultyArguments, SamplingArguments), argv, prog="python -m lead_lite.data difficulty", description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    chat_kwargs = resolve_sampling(sampling, values, temperature=values.get("temperature", DEFAULT_TEMPERATURE),
                                   top_p=DEFAULT_TOP_P, greedy_ok=False)

    def bad(name: str, why: str):
        raise ConfigError(f"--{name} {getattr(args, name)!r}: {why}")

    if args.chunk_size < 1:
        bad("chunk_size", "must be >= 1")
    if args.max_problems is not None and args.max_problems < 1:
        bad("max_problems", "must be >= 1")
    if args.adapter is not None and not (Path(args.adapter) / "adapter_config.json").is_file():
        bad("adapter", "is not a PEFT adapter directory (no adapter_config.json)")
    if args.answer_format is not None and args.answer_format not in ANSWER_FORMATS:
        bad("answer_format", f"must be one of {', '.join(ANSWER_FORMATS)}")
    data = DataArguments(dataset=args.data, problem_column=args.problem_column, answer_column=args.answer_column,
                         answer_format=args.answer_format, prompt_format=sampling.prompt_format)
    return args, sampling, verifier, model_args, data, chat_kwargs


# -- the two commands ------------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> dict:
    """Estimate pass rates; returns counts of this run (problems sampled, skipped, band sizes)."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        args, s, verifier_args, model_args, data, chat_kwargs = parse_args(argv)
    except ConfigError as exc:
        logger.error("invalid configuration: %s", exc)
        raise SystemExit(2) from exc

    # 1. problems (before the model: bad data fails fast), minus those already in the output
    verifier = MathVerifier(timeout_s=verifier_args.verifier_timeout_s)
    out = Path(args.output)
    try:
        run_files.refuse_non_regular(args.data, "--data")
        run_files.refuse_non_regular(out, "--output")  # read before it is appended to
        if out.is_dir():
            raise ValueError(f"--output {out} is a directory; name a .jsonl file")
        run_files.refuse_same_file(out, {"--data": args.data}, "--output")
        run_files.refuse_run_file(out, "--output")
        rows = dataset_rows(data, verifier, with_solution=True)[: args.max_problems]
        done = read_records(out, repair=True)
    except (ValueError, OSError) as exc:  # DataError and RunFileError included
        verifier.close()
        logger.error("%s", exc)
        raise SystemExit(2) from exc
    other_k = sorted({r["k"] for r in done} - {s.k})
    if other_k:
        verifier.close()
        logger.error("%s: holds pass rates from k=%s, this run asks k=%d; use another --output", out, other_k, s.k)
        raise SystemExit(2)
    done_ids = {r["id"] for r in done}
    todo = [r for r in rows if r["id"] not in done_ids]
    logger.info("%s: %d usable problems; %d already in %s, %d to sample (k=%d, temperature %.2f, %d tokens, "
                "prompt format %s)", args.data, len(rows), len(rows) - len(todo), out, len(todo), s.k,
                s.temperature, s.max_new_tokens, s.prompt_format)

    # 2. the policy: base model + adapter, in the engine that will sample
    engine = resolve_engine(s.engine)
    path = model_path(model_args)
    tokenizer = load_tokenizer(path)
    model = llm = None
    if todo and engine == "hf":
        model = load_hf_model(model_args, path, args.adapter)
    elif todo:
        longest = max(len(tokenizer(t, add_special_tokens=False)["input_ids"])
                      for t in prompt_texts(tokenizer, [r["prompt"] for r in todo], chat_kwargs))
        llm = vllm_engine(path, s.vllm_max_model_length or longest + s.max_new_tokens, s.seed, args.adapter,
                          s.vllm_gpu_memory_utilization)
    set_seed(s.seed)

    # 3. sample, judge, append whole lines: chunk by chunk
    start = time.time()
    out.parent.mkdir(parents=True, exist_ok=True)
    for first in range(0, len(todo), args.chunk_size):
        chunk = todo[first : first + args.chunk_size]
        prompts = [r["prompt"] for r in chunk]
        if engine == "hf":
            completions = sample_hf(model, tokenizer, prompts, s.max_new_tokens, s.k, s.temperature,
                                    s.top_p, s.min_p, s.batch_size, chat_kwargs)
        else:
            completions = sample_vllm(path, tokenizer, prompts, s.max_new_tokens, s.k, s.temperature,
                                      s.top_p, s.min_p, s.seed, args.adapter, chat_kwargs, engine=llm)
        for row, samples in zip(chunk, completions, strict=True):
            verdicts = [verifier.check(c.text, row["answer"]).verdict for c in samples]
            record = problem_record(row, verdicts, [c.length for c in samples], [not c.finished for c in samples])
            run_files.append_line(out, record)
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
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = HfArgumentParser(FilterArguments, prog="python -m lead_lite.data filter", description=__doc__,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
    try:
        (args,) = parser.parse_args_into_dataclasses(args=argv)
        lo, hi = parse_band(args.keep)
    except ValueError as exc:
        logger.error("invalid configuration: %s", exc)
        raise SystemExit(2) from exc

    try:
        run_files.refuse_non_regular(args.pass_rates, "--pass_rates")
        if not Path(args.pass_rates).is_file():
            raise ValueError(f"--pass_rates {args.pass_rates}: no such file")
        run_files.refuse_same_file(args.output, {"--pass_rates": args.pass_rates}, "--output")
        run_files.refuse_run_file(args.output, "--output")
        found = read_records(Path(args.pass_rates))
    except (ValueError, OSError) as exc:  # RunFileError included
        logger.error("%s", exc)
        raise SystemExit(2) from exc
    records, seen = [], set()
    for r in found:
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
    lines = []
    for r in kept:
        row = {"problem": r["problem"], "answer": r["answer"], "pass_rate": r["pass_rate"], "source_id": r["id"]}
        if r.get("solution"):
            row["solution"] = r["solution"]
        lines.append(json.dumps(row) + "\n")
    try:
        run_files.write_atomic(out, "".join(lines))
    except run_files.RunFileError as exc:
        logger.error("%s", exc)
        raise SystemExit(2) from exc
    logger.info("%s: kept %d of %d problems with pass rate in [%g, %g]; dropped %d below (too hard), %d above "
                "(too easy), %d unjudged -> %s", args.pass_rates, counts["kept"], counts["problems"], lo, hi,
                counts["too_hard"], counts["too_easy"], counts["unjudged"], out)
    return counts
