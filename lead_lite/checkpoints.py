"""Which checkpoints are complete, so that ``--resume_from_checkpoint last`` never loads a partial one.

A Trainer checkpoint (``checkpoint-N/``) is many files written one after another (adapter,
optimizer, scheduler, RNG states, trainer state); a run killed while saving leaves a directory
with some of them. The LEAD trainer therefore writes a completeness marker,
``lead_checkpoint.json`` (the step and every file with its size), after all processes have
finished writing and before older checkpoints are rotated away. The marker is written to a
temporary name, flushed to disk and renamed, so it is either absent or whole.

``last_complete(output_dir)`` is the newest checkpoint whose marker is present and whose files
are all there with their recorded sizes; newer directories that fail the check are named in a
warning and skipped. :func:`resume_path` turns a ``resume_from_checkpoint`` setting into the
checkpoint to load, and :class:`lead_lite.trainer.MarkedCheckpoints` is the Trainer seam that writes the markers
(mixed into the GRPO-LEAD trainer and into SFT).
"""

from __future__ import annotations

import json
import logging
import os
import re
from pathlib import Path

from lead_lite.run_files import fsync_dir

logger = logging.getLogger(__name__)

MARKER = "lead_checkpoint.json"
_CHECKPOINT_DIR = re.compile(r"^checkpoint-(\d+)$")


def unmark(checkpoint_dir: str | os.PathLike) -> None:
    """Remove the marker before a checkpoint directory is (re)written."""
    Path(checkpoint_dir, MARKER).unlink(missing_ok=True)


def mark_complete(checkpoint_dir: str | os.PathLike, global_step: int) -> Path:
    """Record every file of a fully written checkpoint; returns the marker's path.

    Example:
        >>> import tempfile
        >>> d = Path(tempfile.mkdtemp()) / "checkpoint-2"; d.mkdir(); _ = (d / "w.bin").write_bytes(b"abc")
        >>> json.loads(mark_complete(d, 2).read_text())
        {'global_step': 2, 'files': {'w.bin': 3}}
        >>> incomplete_reason(d), last_complete(d.parent) == d
        (None, True)
        >>> _ = (d / "w.bin").write_bytes(b"a"); incomplete_reason(d)
        'w.bin has 1 bytes, 3 were written'
    """
    root = Path(checkpoint_dir)
    files = {
        str(p.relative_to(root)): p.stat().st_size
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.name != MARKER and not p.name.startswith(MARKER + ".")
    }
    marker = root / MARKER
    tmp = root / f"{MARKER}.tmp"
    with tmp.open("w") as f:
        json.dump({"global_step": global_step, "files": files}, f)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, marker)
    fsync_dir(root)
    return marker


def incomplete_reason(checkpoint_dir: str | os.PathLike) -> str | None:
    """Why a checkpoint directory cannot be resumed from, or None when it is complete."""
    root = Path(checkpoint_dir)
    try:
        record = json.loads((root / MARKER).read_text())
    except FileNotFoundError:
        return f"no {MARKER} (its save was interrupted, or it was written without the LEAD trainer)"
    except (OSError, ValueError) as exc:
        return f"unreadable {MARKER} ({exc})"
    match = _CHECKPOINT_DIR.match(root.name)
    if match and int(match.group(1)) != record.get("global_step"):
        return f"{MARKER} is for step {record.get('global_step')}"
    for name, size in record.get("files", {}).items():
        path = root / name
        if not path.is_file():
            return f"{name} is missing"
        if path.stat().st_size != size:
            return f"{name} has {path.stat().st_size} bytes, {size} were written"
    return None


def last_complete(output_dir: str | os.PathLike) -> Path | None:
    """The newest complete ``checkpoint-N`` under ``output_dir``; incomplete newer ones are skipped with a warning."""
    root = Path(output_dir)
    if not root.is_dir():
        return None
    found = sorted(
        ((int(m.group(1)), p) for p in root.iterdir() if p.is_dir() and (m := _CHECKPOINT_DIR.match(p.name))),
        reverse=True,
    )
    for _, path in found:
        reason = incomplete_reason(path)
        if reason is None:
            return path
        logger.warning("skipping checkpoint %s: %s", path, reason)
    return None


def resume_path(value, output_dir: str | os.PathLike) -> str | None:
    """The checkpoint a ``resume_from_checkpoint`` setting names, or None for a fresh run.

    ``last`` / ``true``: the newest complete checkpoint in ``output_dir`` (partial ones, left by
    a kill while saving, are skipped with a warning); no complete one raises ``ValueError``.
    A path is used as given (with a warning when its marker check fails); ``None``, ``""``,
    ``false`` and ``none``: no resume.

    Example:
        >>> resume_path("false", "runs/x") is None
        True
    """
    if value is None or str(value).lower() in ("", "false", "none"):
        return None
    if str(value).lower() in ("last", "true"):
        found = last_complete(output_dir)
        if found is None:
            raise ValueError(f"--resume_from_checkpoint {value}: no complete checkpoint in {output_dir}")
        logger.info("resuming from %s", found)
        return str(found)
    reason = incomplete_reason(value)
    if reason is not None:
        logger.warning("resuming from %s, which may be incomplete: %s", value, reason)
    return str(value)
