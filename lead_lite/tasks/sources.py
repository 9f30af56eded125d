"""Reading rows: a local file (``.jsonl`` / ``.json`` / ``.parquet`` / ``.csv``), a hub dataset or a remote file.

Every reader returns a list of plain dicts, one per row, values as the source holds them; what a
row means is up to the task that reads it (:mod:`lead_lite.tasks`). A file that cannot be read as
its type says (missing, a directory, a FIFO or device, not UTF-8 text, broken JSON or CSV) raises :class:`DataError`
naming it, before any model loads.
"""

from __future__ import annotations

import contextlib
import json
import logging
from pathlib import Path

from lead_lite.user_errors import UserError

FILE_TYPES = {".jsonl": "json", ".json": "json", ".parquet": "parquet", ".csv": "csv"}  # suffix -> datasets builder


class DataError(UserError):
    """A data file or dataset cannot be used; the message names it."""

    WHAT = "unusable data"


def looks_local(name: str) -> bool:
    """Whether ``name`` can only mean a local file: a data-file suffix, or a path rather than ``org/name``.

    Example:
        >>> looks_local("problems.jsonl"), looks_local("./data"), looks_local("openai/gsm8k")
        (True, True, False)
    """
    return Path(name).suffix.lower() in FILE_TYPES or name.startswith(("/", ".", "~")) or name.count("/") > 1


def load_rows(name: str, split: str = "train", config: str | None = None,
              data_files: str | None = None) -> list[dict]:
    """The rows of a local file (all of them), or of one split of a hub dataset / remote file.

    Raises:
        DataError: naming the file or dataset that is missing or cannot be read.
    """
    from datasets import load_dataset
    from datasets.exceptions import DatasetGenerationError

    path = Path(name).expanduser()
    suffix = path.suffix.lower()
    if path.exists() and not (path.is_file() or path.is_dir()):  # a FIFO blocks, a device never ends
        raise DataError(f"{name}: not a regular file (a FIFO, device or socket); name a data file")
    if path.is_dir() and suffix in FILE_TYPES:
        raise DataError(f"{name}: is a directory, not a {suffix} file")
    if not path.exists() and looks_local(name) and data_files is None:
        raise DataError(f"{name}: no such file")
    if path.exists() and suffix == ".jsonl":
        return read_jsonl(path)  # as written: datasets' JSON loader would coerce "1.50" to 1.5
    if path.exists():
        kind = FILE_TYPES.get(suffix)
        if kind is None:
            raise DataError(f"{name}: unsupported file type {suffix!r} (use .jsonl, .json, .parquet or .csv)")
        try:
            with _quiet("datasets"):  # its own error line would repeat ours
                rows = list(load_dataset(kind, data_files=str(path), split="train"))
        except (DatasetGenerationError, ValueError, OSError) as exc:  # pyarrow's errors are ValueErrors
            raise DataError(f"{name}: cannot be read as {suffix[1:]} ({_first_line(exc)})") from exc
        return rows
    try:
        return list(load_dataset(name, config, data_files=data_files, split=split))
    except (DatasetGenerationError, ValueError, OSError, ConnectionError) as exc:  # not found, offline, malformed
        raise DataError(f"{name}: cannot be loaded ({_first_line(exc)})") from exc


@contextlib.contextmanager
def _quiet(logger_name: str):
    """Silence a library's logger (below CRITICAL) for the duration of the block."""
    log = logging.getLogger(logger_name)
    level = log.level
    log.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        log.setLevel(level)


def _first_line(exc: BaseException) -> str:
    cause = exc.__cause__ or exc  # datasets wraps the parser's error
    text = str(cause).strip().splitlines()
    return f"{type(cause).__name__}: {text[0]}" if text else type(cause).__name__


def read_jsonl(path: Path) -> list[dict]:
    """Every line of a JSONL file, values exactly as written; a broken line names its number."""
    rows = []
    with path.open("rb") as f:
        for n, raw in enumerate(f, start=1):
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise DataError(f"{path}: line {n} is not UTF-8 text (a binary file?)") from exc
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
