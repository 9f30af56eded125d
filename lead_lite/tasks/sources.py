"""Reading rows: a local file (``.jsonl`` / ``.json`` / ``.parquet`` / ``.csv``), a hub dataset or a remote file.

Every reader returns a list of plain dicts, one per row, values as the source holds them; what a
row means is up to the task that reads it (:mod:`lead_lite.tasks`).
"""

from __future__ import annotations

import json
from pathlib import Path


class DataError(ValueError):
    """A data file or dataset cannot be used; the message names it."""


def load_rows(name: str, split: str = "train", config: str | None = None,
                   data_files: str | None = None) -> list[dict]:
    """The rows of a local file (all of them), or of one split of a hub dataset / remote file."""
    from datasets import load_dataset

    path = Path(name)
    suffix = path.suffix.lower()
    if path.exists() and suffix == ".jsonl":
        return read_jsonl(path)  # as written: datasets' JSON loader would coerce "1.50" to 1.5
    if path.exists():
        kind = {".jsonl": "json", ".json": "json", ".parquet": "parquet", ".csv": "csv"}.get(suffix)
        if kind is None:
            raise DataError(f"{name}: unsupported file type {suffix!r} (use .jsonl, .json, .parquet or .csv)")
        ds = load_dataset(kind, data_files=str(path), split="train")
    else:
        ds = load_dataset(name, config, data_files=data_files, split=split)
    return list(ds)


def read_jsonl(path: Path) -> list[dict]:
    """Every line of a JSONL file, values exactly as written; a broken line names its number."""
    rows = []
    with path.open() as f:
        for n, line in enumerate(f, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise DataError(f"{path}: line {n} is not valid JSON ({exc.msg})") from exc
            if not isinstance(row, dict):
                raise DataError(f"{path}: line {n} is a {type(row).__name__}, not a JSON object")
            rows.append(row)
    return rows

