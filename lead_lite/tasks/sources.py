"""Reading rows: a local file (``.jsonl`` / ``.json`` / ``.parquet`` / ``.csv``), a hub dataset or a remote file.

Every reader returns a list of plain dicts, one per row, values as the source holds them; what a
row means is up to the task that reads it (:mod:`lead_lite.tasks`).
"""

from __future__ import annotations

import json
from pathlib import Path


FILE_TYPES = {".jsonl": "json", ".json": "json", ".parquet": "parquet", ".csv": "csv"}  # local file -> builder
LOCAL_COPY = "pass a local copy of it (a .parquet, .jsonl, .json or .csv file) instead"


class DataError(ValueError):
    """A data file or dataset cannot be used; the message names it."""


def load_rows(name: str, split: str = "train", config: str | None = None,
                   data_files: str | None = None, unreachable_hint: str = LOCAL_COPY) -> list[dict]:
    """The rows of a local file (all of them), or of one split of a hub dataset / remote file.

    A hub dataset or remote file that cannot be reached (no network, ``HF_HUB_OFFLINE=1``, a
    wrong id) raises :class:`DataError` on one line: ``name``, the reason, then ``unreachable_hint``.
    """
    from datasets import load_dataset

    path = Path(name)
    suffix = path.suffix.lower()
    if not path.exists() and data_files is None and suffix in FILE_TYPES:
        raise DataError(f"{name}: no such file")
    if path.exists() and suffix == ".jsonl":
        return read_jsonl(path)  # as written: datasets' JSON loader would coerce "1.50" to 1.5
    if path.exists():
        kind = FILE_TYPES.get(suffix)
        if kind is None:
            raise DataError(f"{name}: unsupported file type {suffix!r} (use .jsonl, .json, .parquet or .csv)")
        ds = load_dataset(kind, data_files=str(path), split="train")
    else:
        try:
            ds = load_dataset(name, config, data_files=data_files, split=split)
        except OSError as exc:  # offline: ConnectionError (hub) or FileNotFoundError (a URL's file)
            subject = data_files or name
            reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200].replace(f"'{subject}'", "it")
            raise DataError(f"{subject}: cannot be read here ({reason}); {unreachable_hint}") from exc
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

