"""Evaluation sets: math test sets on the Hugging Face hub, local files, generated problems.

``load_benchmark(name)`` returns rows with ``prompt`` (the problem followed by the instruction of
a prompt format, :mod:`lead_lite.prompts`; by default the GRPO-LEAD suffix), ``answer`` (the gold
answer, a string) and ``id``:

- a name in :data:`BENCHMARKS` (needs network, or the dataset in the local hub cache);
- ``arithmetic`` / ``addition``: the generated test split of :mod:`lead_lite.tasks.arithmetic`
  (offline; the held-out problems of the tiny and smollm2-135m presets with seed 0);
- a path to a local ``.jsonl`` / ``.json`` / ``.parquet`` / ``.csv`` file with a problem column
  (``problem``, ``question`` or ``prompt``) and an answer column (``answer``, ``final_answer``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from lead_lite.prompts import DEFAULT_FORMAT
from lead_lite.tasks import arithmetic
from lead_lite.tasks.math import clean_rows, reformat
from lead_lite.tasks.sources import DataError, load_rows
from lead_lite.verifier import MathVerifier


@dataclass(frozen=True)
class HubBenchmark:
    """A math test set on the Hugging Face hub: where it is and which columns hold what."""

    hub_id: str
    split: str
    problem: str
    answer: str
    note: str


BENCHMARKS: dict[str, HubBenchmark] = {
    "aime24": HubBenchmark("HuggingFaceH4/aime_2024", "train", "problem", "answer",
                           "30 problems of AIME 2024 I and II; columns read from the dataset card"),
    "aime25": HubBenchmark("yentinglin/aime_2025", "train", "problem", "answer",
                           "30 problems of AIME 2025 I and II; split and columns unverified"),
    "math500": HubBenchmark("HuggingFaceH4/MATH-500", "test", "problem", "answer",
                            "500 MATH problems (Lightman et al. 2023); columns read from copies' cards"),
    "amc23": HubBenchmark("math-ai/amc23", "test", "question", "answer",
                          "40 AMC 2023 problems; columns read from code that loads it"),
}

ARITHMETIC = "arithmetic"
ARITHMETIC_SIZE = 64  # the held-out set train.py reports on by default (eval_size 64, seed 0)
ARITHMETIC_SEED = 0
# generated set -> its default size: the held-out set of the preset that trains on it (seed 0)
GENERATED = {ARITHMETIC: ARITHMETIC_SIZE, "addition": arithmetic.KINDS["addition"][1]["test"]}


def benchmark_name(spec: str) -> str:
    """A short name for a benchmark spec: the name itself, or a file's stem."""
    if spec in BENCHMARKS or spec in GENERATED:
        return spec
    return Path(spec).stem


def load_benchmark(spec: str, verifier: MathVerifier, max_problems: int | None = None,
                   prompt_format: str = DEFAULT_FORMAT) -> list[dict]:
    """The rows of a benchmark (see the module docstring for what ``spec`` may be).

    Args:
        spec: a benchmark name, ``arithmetic`` / ``addition``, or a local file path.
        verifier: judges whether each gold answer parses (the evaluation's verifier).
        max_problems: keep only the first this many problems (None: all).
        prompt_format: the instruction after each problem (:mod:`lead_lite.prompts`), as in training.

    Returns:
        rows with ``prompt``, ``answer`` and ``id``; rows without a problem or an answer are
        reported and dropped by :func:`lead_lite.tasks.math.clean_rows`.
    """
    if spec in GENERATED:
        rows = reformat(arithmetic.generate(max_problems or GENERATED[spec], seed=ARITHMETIC_SEED, split="test",
                                            kind=spec), prompt_format)
        return [{"prompt": r["prompt"], "answer": r["answer"], "id": r["id"]} for r in rows]
    if spec in BENCHMARKS:
        bench = BENCHMARKS[spec]
        raw = load_rows(bench.hub_id, split=bench.split)
        missing = {bench.problem, bench.answer} - set(raw[0]) if raw else set()
        if missing:
            raise DataError(f"{spec} ({bench.hub_id}): no column(s) {sorted(missing)}; found {sorted(raw[0])}")
        rows = clean_rows([{"problem": r[bench.problem], "answer": r[bench.answer]} for r in raw], spec,
                          verifier, prompt_format=prompt_format)
    elif Path(spec).exists() and not Path(spec).is_dir():  # a FIFO or device is refused by load_rows
        rows = clean_rows(load_rows(spec), benchmark_name(spec), verifier, prompt_format=prompt_format)
    else:
        raise DataError(f"{spec!r}: not a benchmark ({', '.join([*BENCHMARKS, *GENERATED])}) "
                        "and not a local .jsonl/.json/.parquet/.csv file")
    return rows[:max_problems] if max_problems else rows
