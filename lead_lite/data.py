"""Training data for math GRPO: generated problems or a user's file / hub dataset.

Every row reaching the trainer has ``prompt`` and ``answer`` (the gold answer, a string).
A row whose problem or answer is missing, empty or of the wrong type is reported with its index
and reason and dropped (``bad_rows: skip``, the default) or stops the run (``bad_rows: error``);
it is never trained on.
"""

from __future__ import annotations

import logging
import math
import random
from pathlib import Path

from lead_lite.config import DataArguments
from lead_lite.tasks import arithmetic
from lead_lite.tasks.arithmetic import PROMPT_SUFFIX

logger = logging.getLogger(__name__)

MAX_REPORTED = 20  # malformed rows listed one by one; the rest are counted
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


def row_issue(row: dict, problem_col: str, answer_col: str) -> str | None:
    """Why a row cannot be trained on, or None when it can.

    The problem must be a non-empty string; the answer a non-empty string or a finite number
    (a list, mapping, bool or NaN is not a gold answer).

    Example:
        >>> row_issue({"problem": "1+1?", "answer": 2}, "problem", "answer") is None
        True
        >>> row_issue({"problem": "1+1?", "answer": ["2"]}, "problem", "answer")
        'answer is a list, not a string or number'
    """
    problem, answer = row.get(problem_col), row.get(answer_col)
    if problem is None:
        return f"{problem_col} is missing"
    if not isinstance(problem, str):
        return f"{problem_col} is a {type(problem).__name__}, not a string"
    if not problem.strip():
        return f"{problem_col} is empty"
    if answer is None:
        return f"{answer_col} is missing"
    if isinstance(answer, bool) or not isinstance(answer, (str, int, float)):
        return f"{answer_col} is a {type(answer).__name__}, not a string or number"
    if isinstance(answer, float) and not math.isfinite(answer):
        return f"{answer_col} is {answer}"
    if not str(answer).strip():
        return f"{answer_col} is empty"
    return None


def clean_rows(rows: list[dict], source: str, bad_rows: str = "skip") -> list[dict]:
    """Map problem/answer columns to ``prompt``/``answer``; report unusable rows by index.

    ``bad_rows="skip"`` drops them with a warning per row; ``"error"`` raises :class:`DataError`
    naming them.
    """
    if not rows:
        raise DataError(f"{source}: no rows")
    problem_col = next((c for c in PROBLEM_COLUMNS if c in rows[0]), None)
    answer_col = next((c for c in ANSWER_COLUMNS if c in rows[0]), None)
    if problem_col is None or answer_col is None:
        raise DataError(f"{source}: needs a problem column {PROBLEM_COLUMNS} and an answer column "
                        f"{ANSWER_COLUMNS}; found {sorted(rows[0])}")
    kept, bad = [], []
    for i, row in enumerate(rows):
        issue = row_issue(row, problem_col, answer_col)
        if issue is not None:
            bad.append((i, issue))
            continue
        kept.append({"prompt": row[problem_col].strip() + PROMPT_SUFFIX, "answer": str(row[answer_col]).strip(),
                     "id": f"{source}:{i}"})
    if bad and bad_rows == "error":
        listed = "; ".join(f"row {i}: {why}" for i, why in bad[:MAX_REPORTED])
        more = f"; and {len(bad) - MAX_REPORTED} more" if len(bad) > MAX_REPORTED else ""
        raise DataError(f"{source}: {len(bad)} malformed row(s) (bad_rows=error): {listed}{more}")
    for i, why in bad[:MAX_REPORTED]:
        logger.warning("%s: row %d skipped: %s", source, i, why)
    if bad:
        logger.warning("%s: skipped %d malformed row(s) of %d%s", source, len(bad), len(rows),
                       f" (the first {MAX_REPORTED} listed above)" if len(bad) > MAX_REPORTED else "")
    if not kept:
        raise DataError(f"{source}: every row lacks a usable problem or answer")
    return kept


def load_rows(data: DataArguments, seed: int) -> tuple[list[dict], list[dict]]:
    """(train rows, held-out rows) for the configured data."""
    if data.task != "arithmetic":
        raise DataError(f"task {data.task!r} is trained by its recipe: python -m lead_lite.recipes.{data.task}")
    if data.dataset is not None:
        rows = clean_rows(_load_external(data.dataset), data.dataset, data.bad_rows)
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
