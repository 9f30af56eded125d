"""Which checkpoints are complete, so that ``--resume_from_checkpoint last`` never loads a partial one.

A Trainer checkpoint (``checkpoint-N/``) is many files written one after another (adapter,
optimizer, scheduler, RNG states, trainer state); a run killed while saving leaves a directory
with some of them. The LEAD trainer therefore writes a completeness marker,
``lead_checkpoint.json`` (the step and every file with its size), after all processes have
finished writing and before older checkpoints are rotated away. The marker is written to a
temporary name, flushed to disk and renamed, so it is either absent or whole.

``last_complete(output_dir)`` is the newest checkpoint whose marker is present and whose files
are all there with their recorded sizes; newer directories that fail the check are named in a
warning and skipped. A complete checkpoint whose bytes were damaged afterwards (same size, other
content) is found by :func:`damaged_file` before anything loads: every ``.safetensors`` header
must parse and span the file, every ``.json`` file must parse, and every torch archive
(``optimizer.pt``, ``scheduler.pt``, ``rng_state*.pth``, ``*.bin``: zip files) must pass its CRC-32
checks, which cover every byte of every record. :func:`resume_path` turns a ``resume_from_checkpoint`` setting into the
checkpoint to load, and :class:`lead_lite.trainer.MarkedCheckpoints` is the Trainer seam that writes the markers
(mixed into the GRPO-LEAD trainer and into SFT).
"""

from __future__ import annotations

import errno
import json
import logging
import os
import re
import shutil
import struct
import zipfile
from pathlib import Path

from lead_lite.run_files import RunFileError, fsync_dir

logger = logging.getLogger(__name__)

MARKER = "lead_checkpoint.json"
_CHECKPOINT_DIR = re.compile(r"^checkpoint-(\d+)$")
# how a write that the disk refused shows in the errors of writers that raise no OSError: torch.save
# (a RuntimeError from its zip writer, inline_container.cc) and safetensors (SafetensorError)
_WRITE_FAILED = ("inline_container.cc", "file write failed", "No space left", "StorageFull")


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


class CheckpointWriteError(RunFileError):
    """A checkpoint could not be written (a full disk, most often); the message says what was kept."""


def save_failure(checkpoint_dir: str | os.PathLike, exc: BaseException) -> CheckpointWriteError | None:
    """The one-line error for a checkpoint save that failed with ``exc``, or None when ``exc`` is not a
    write failure (a bug: let it show its traceback).

    The unfinished directory is removed (it has no marker, so nothing would resume from it; its
    space is freed). The line names the file being written, the newest complete checkpoint, which
    is kept, and what to do.

    Example:
        >>> import tempfile
        >>> d = Path(tempfile.mkdtemp()) / "checkpoint-4"; d.mkdir(); _ = (d / "optimizer.pt").write_bytes(b"PK")
        >>> err = save_failure(d, RuntimeError("[enforce fail at inline_container.cc:664] . unexpected pos 64 vs 0"))
        >>> print(str(err).replace(str(d.parent), "RUN")); d.exists()
        RUN/checkpoint-4/optimizer.pt: cannot write the checkpoint (a full disk, most likely: [enforce fail at inline_container.cc:664] . unexpected pos 64 vs 0); the unfinished checkpoint-4 was removed and no complete checkpoint is left: free space, then start the run again
        False
    """
    root = Path(checkpoint_dir)
    if isinstance(exc, OSError):
        file = Path(exc.filename) if exc.filename else None
        why = ("disk full (no space left on the device)" if exc.errno in (errno.ENOSPC, errno.EDQUOT)
               else exc.strerror or str(exc))
    elif any(sign in str(exc) for sign in _WRITE_FAILED):
        written = [p for p in root.rglob("*") if p.is_file()] if root.is_dir() else []
        file = max(written, key=lambda p: p.stat().st_mtime_ns, default=None)  # the one being written
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        why = f"a full disk, most likely: {first}"
    else:
        return None
    shutil.rmtree(root, ignore_errors=True)
    kept = last_complete(root.parent)
    then = (f"the newest complete checkpoint, {kept.name}, is kept: free space, then resume with "
            "--resume_from_checkpoint last" if kept is not None
            else "no complete checkpoint is left: free space, then start the run again")
    return CheckpointWriteError(f"{file or root}: cannot write the checkpoint ({why}); the unfinished {root.name} "
                                f"was removed and {then}")


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


def _safetensors_problem(path: Path) -> str | None:
    """Why ``path`` is not a whole safetensors file (an 8-byte header length, a JSON header, tensors
    that end where the file ends), or None."""
    size = path.stat().st_size
    with path.open("rb") as f:
        head = f.read(8)
        if len(head) < 8:
            return "shorter than a safetensors header"
        (n,) = struct.unpack("<Q", head)
        if n > size - 8:
            return f"its header claims {n} bytes, the file has {size}"
        try:
            header = json.loads(f.read(n))
        except (UnicodeDecodeError, ValueError):
            return "its safetensors header is not JSON"
    tensors = [t for k, t in header.items() if k != "__metadata__"] if isinstance(header, dict) else None
    if tensors is None or not all(isinstance(t, dict) and isinstance(t.get("data_offsets"), list)
                                  and len(t["data_offsets"]) == 2 for t in tensors):
        return "its safetensors header does not describe tensors"
    if max((t["data_offsets"][1] for t in tensors), default=0) != size - 8 - n:
        return "its safetensors header does not match the tensor data"
    return None


def _torch_archive_problem(path: Path) -> str | None:
    """Why ``path`` is not a whole torch archive (``torch.save``'s zip format, CRC-checked), or None."""
    try:
        with zipfile.ZipFile(path) as archive:
            bad = archive.testzip()
    except (zipfile.BadZipFile, EOFError, ValueError, NotImplementedError) as exc:
        return f"not a readable torch archive ({exc})"
    return None if bad is None else f"its record {bad} fails the CRC check"


def damaged_file(checkpoint_dir: str | os.PathLike) -> tuple[Path, str] | None:
    """The first file of a complete checkpoint whose content is damaged, and why; None when every file checks.

    Catches what :func:`incomplete_reason` cannot see: a file overwritten at its own size (a
    faulty disk, a copy gone wrong). Reads every checked file once; loads nothing.

    Example:
        >>> import tempfile
        >>> d = Path(tempfile.mkdtemp()); _ = (d / "trainer_state.json").write_text('{"global_step": 2}')
        >>> damaged_file(d) is None
        True
        >>> _ = (d / "trainer_state.json").write_text('{"global_step"? 2}'); damaged_file(d)[1]
        'not JSON'
    """
    root = Path(checkpoint_dir)
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        if path.suffix == ".json":
            try:
                json.loads(path.read_bytes())
            except (UnicodeDecodeError, ValueError):
                return path, "not JSON"
            continue
        if path.suffix == ".safetensors":
            problem = _safetensors_problem(path)
        elif path.suffix in (".pt", ".pth", ".bin"):
            problem = _torch_archive_problem(path)
        else:
            continue
        if problem is not None:
            return path, problem
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
