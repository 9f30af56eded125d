"""Training data for math GRPO: generated problems or a user's file / hub dataset.

Every row reaching the trainer has ``prompt`` and ``answer`` (the gold answer, a string).
Rows with a missing or empty problem or answer are reported (count and first indices) and
dropped, never trained on.
"""

from __future__ import annotations

import logging
import random
from pathlib import Path

from lead_lite.config import DataArguments
from lead_lite.tasks import arithmetic
from lead_lite.tasks.arithmetic import PROMPT_SUFFIX

logger = logging.getLogger(__name__)

PROBLEM_COLUMNS = ("problem", "question", "prompt")
ANSWER_COLUMNS = ("answer", "final_answer", "solution")


class DataError(ValueError):
    """A data file or dataset cannot be used; the message names it."""


def _load_external(name: str, split: str = "train") -> list[dict]:
    """The rows of a local file (all of them) or of one split of a hub dataset."""
    from datasets import load_dataset

    path = Path(name)
    suffix = path.suffix.lower()
    if path.exists():
        kind = {".jsonl": "json", ".json": "json", ".parquet": "parquet", ".csv": "csv"}.get(suffix)
        if kind is None:
            raise DataError(f"{name}: unsupported file type {suffix!r} (use .jsonl, .json, .parquet or .csv)")
        ds = load_dataset(kind, data_files=str(path), split="train")
    else:
        ds = load_dataset(name, split=split)
    return list(ds)


def clean_rows(rows: list[dict], source: str) -> list[dict]:
    """Map problem/answer columns to ``prompt``/``answer``; report and drop unusable rows."""
    if not rows:
        raise DataError(f"{source}: no rows")
    problem_col = next((c for c in PROBLEM_COLUMNS if c in rows[0]), None)
    answer_col = next((c for c in ANSWER_COLUMNS if c in rows[0]), None)
    if problem_col is None or answer_col is None:
        raise DataError(f"{source}: needs a problem column {PROBLEM_COLUMNS} and an answer column "
                        f"{ANSWER_COLUMNS}; found {sorted(rows[0])}")
    kept, bad = [], []
    for i, row in enumerate(rows):
        problem, answer = row.get(problem_col), row.get(answer_col)
        if not isinstance(problem, str) or not problem.strip() or answer is None or not str(answer).strip():
            bad.append(i)
            continue
        kept.append({"prompt": problem.strip() + PROMPT_SUFFIX, "answer": str(answer).strip(), "id": f"{source}:{i}"})
    if bad:
        logger.warning("%s: dropped %d row(s) with a missing problem or answer (first indices: %s)",
                       source, len(bad), bad[:10])
    if not kept:
        raise DataError(f"{source}: every row lacks a problem or an answer")
    return kept


def load_rows(data: DataArguments, seed: int) -> tuple[list[dict], list[dict]]:
    """(train rows, held-out rows) for the configured data."""
    if data.task != "arithmetic":
        raise DataError(f"task {data.task!r} is trained by its recipe: python -m lead_lite.recipes.{data.task}")
    if data.dataset is not None:
        rows = clean_rows(_load_external(data.dataset), data.dataset)
        random.Random(seed).shuffle(rows)
        n_eval = min(data.eval_size, len(rows) // 10)  # at most a tenth is held out
        return rows[n_eval:], rows[:n_eval]
    eval_rows = arithmetic.generate(data.eval_size, seed=seed, split="test") if data.eval_size else []
    return arithmetic.generate(data.train_size, seed=seed, split="train"), eval_rows


def format_prompt(prompt: str, tokenizer):
    """Conversational (one user message) when the tokenizer has a chat template, else plain text."""
    if getattr(tokenizer, "chat_template", None):
        return [{"role": "user", "content": prompt}]
    return prompt


def to_dataset(rows: list[dict], tokenizer):
    """A ``datasets.Dataset`` with ``prompt`` (formatted for the tokenizer) and ``answer``."""
    from datasets import Dataset

    return Dataset.from_list(
        [{"prompt": format_prompt(r["prompt"], tokenizer), "answer": r["answer"]} for r in rows]
    )
