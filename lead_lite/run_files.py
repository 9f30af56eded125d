"""What a command may do to files: one run per directory, whole files, whole lines, inputs untouched.

- **One run per directory.** :func:`claim_run_dir` takes ``run_dir/.lead_lite.lock`` (the PID and
  host of its holder) for the life of the run; a second run into the same directory is refused
  while the first is alive. A lock left by a killed run (same host, PID no longer alive) is taken
  over with a warning. It also refuses a non-empty directory unless the run resumes or was told
  to overwrite, and records what kind of run the directory holds (``lead_lite_run.json``), so
  that an evaluation refuses to write into a training run (:func:`refuse_training_run`).
- **Whole files.** :func:`write_atomic` (and :func:`write_json`, standard JSON; :func:`atomic_writer`
  line by line) writes to a temporary file in the same directory, flushes
  it to disk and renames it over the target: a reader, a kill or a full disk sees the old file or
  the new one, never half of one.
- **Whole lines.** :func:`append_line` appends one JSON line in a single ``write``; a write the
  disk cannot finish is cut back, so an append-only log never holds a torn line this code wrote.
  :func:`repair_jsonl` deals with a torn last line left by something else (a power cut): an
  unterminated tail that is complete JSON gets its newline, a torn one is removed only from a
  file this run owns; any other file is refused with one line, never cut.
- **No input overwritten.** :func:`refuse_same_file` refuses an output that is, contains or sits
  inside an input (:func:`refuse_inputs_in_output` for a run directory), :func:`refuse_run_file` an
  output that would replace a run's record, :func:`refuse_non_regular` a FIFO or device as input.
- **A clean overwrite.** A run told to overwrite first removes the earlier run's checkpoints and
  record (:func:`clear_earlier_run`): nothing of it can be resumed or mixed into the new run.

Every failure is a :class:`RunFileError` whose message is one line naming the file.
"""

from __future__ import annotations

import atexit
import contextlib
import errno
import json
import logging
import math
import os
import shutil
import socket
import stat
import time
from pathlib import Path

logger = logging.getLogger(__name__)

LOCK = ".lead_lite.lock"
RUN_MARKER = "lead_lite_run.json"
TRAINING_KINDS = ("train", "sft")
# what a training run leaves in its directory, for directories written before the marker existed
TRAINING_FILES = ("adapter_config.json", "metrics.jsonl")
# what a run records: another command never writes these into a run directory
# (:func:`refuse_run_file`), and a run told to overwrite removes them with the checkpoints first
# (:func:`clear_earlier_run`), so that nothing of the earlier run is resumed or mixed into the new one
RUN_OUTPUTS = ("metrics.jsonl", "summary.json", "resolved_config.yaml", "held_out.jsonl", "report.html",
               "samples.jsonl", "budget_curve.csv", "budget_curve.png", "curriculum.json", "stage_metrics.jsonl",
               "adapter_config.json", "adapter_model.safetensors", "adapter_model.bin", "training_args.bin",
               RUN_MARKER, LOCK)
# what a run's tracker leaves in its directory: tensorboard's event files (the Trainer's default
# logging_dir, OUTPUT_DIR/runs/); an overwriting run removes it too, so no old curve joins the new ones
TRACKER_DIRS = ("runs",)


class RunFileError(OSError):
    """A file or run directory cannot be used or written; the message is one line naming it.

    Raised with the message alone (``str(exc)`` is that line); the OS error, if any, is its cause.
    """


def _describe(exc: OSError) -> str:
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return "disk full (no space left on the device)"
    return exc.strerror or str(exc)


def fsync_dir(path: Path) -> None:
    """Make a directory's entries (a rename, a new file) durable."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


# -- whole files and whole lines ------------------------------------------------------------------
def write_atomic(path: str | os.PathLike, content: str | bytes) -> Path:
    """Replace ``path`` with ``content`` whole: temporary file, fsync, rename; returns the path.

    On any error (a full disk included) the temporary file is removed, the previous ``path`` is
    left as it was, and :class:`RunFileError` says why.

    Example:
        >>> import tempfile
        >>> p = Path(tempfile.mkdtemp()) / "summary.json"
        >>> write_atomic(p, '{"steps": 2}').read_text()
        '{"steps": 2}'
    """
    path = Path(path)
    with atomic_writer(path, binary=True) as f:
        f.write(content.encode() if isinstance(content, str) else content)
    return path


@contextlib.contextmanager
def atomic_writer(path: str | os.PathLike, binary: bool = False):
    """A text file (``binary``: a binary one) to write ``path`` through, replacing it whole when the block ends.

    As :func:`write_atomic` for output too large to hold in memory (every sample of an
    evaluation): the lines go to a temporary file in the same directory, which is flushed and
    renamed over ``path`` only when the block ends without an error. On an error (a full disk
    included) the temporary file is removed and the previous ``path`` is left as it was; an
    ``OSError`` becomes :class:`RunFileError` naming ``path``.

    Example:
        >>> import tempfile
        >>> p = Path(tempfile.mkdtemp()) / "samples.jsonl"
        >>> with atomic_writer(p) as f:
        ...     _ = f.write('{"i": 0}\\n')
        >>> p.read_text()
        '{"i": 0}\\n'
    """
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with (tmp.open("wb") if binary else tmp.open("w", encoding="utf-8")) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
        fsync_dir(path.parent)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        if isinstance(exc, RunFileError):
            raise
        kept = "the previous file is unchanged" if path.exists() else "nothing was written"
        raise RunFileError(f"{path}: cannot write ({_describe(exc)}); {kept}") from exc
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _finite(value):
    """``value`` with every non-finite float replaced by None (JSON has no NaN or infinity)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value


def write_json(path: str | os.PathLike, value) -> Path:
    """Write ``value`` as indented, standard JSON, whole (:func:`write_atomic`); NaN and infinities become null.

    Example:
        >>> import tempfile
        >>> p = Path(tempfile.mkdtemp()) / "summary.json"
        >>> json.loads(write_json(p, {"mean_length_correct": float("nan"), "n": 8}).read_text())
        {'mean_length_correct': None, 'n': 8}
    """
    return write_atomic(path, json.dumps(_finite(value), indent=2, allow_nan=False))


def append_line(path: str | os.PathLike, record: dict) -> None:
    """Append ``record`` as one JSON line, in one ``write`` call: the line is in the file whole or not at all.

    A write the disk cannot finish (ENOSPC part-way) is cut back to the previous end of the file
    and raises :class:`RunFileError`; every earlier line stays.

    Example:
        >>> import tempfile
        >>> p = Path(tempfile.mkdtemp()) / "metrics.jsonl"
        >>> append_line(p, {"step": 1}); append_line(p, {"step": 2}); p.read_text()
        '{"step": 1}\\n{"step": 2}\\n'
    """
    path = Path(path)
    data = (json.dumps(record) + "\n").encode()
    try:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    except OSError as exc:
        raise RunFileError(f"{path}: cannot open for appending ({_describe(exc)})") from exc
    try:
        end = os.fstat(fd).st_size
        try:
            written = os.write(fd, data)
            while written < len(data):  # a short write: finish it, or fail and cut it back below
                written += os.write(fd, data[written:])
        except OSError as exc:
            os.ftruncate(fd, end)
            raise RunFileError(f"{path}: cannot append a line ({_describe(exc)}); "
                               "the lines written before are kept") from exc
    finally:
        os.close(fd)


def _is_json(text: bytes) -> bool:
    try:
        json.loads(text)
    except ValueError:
        return False
    return True


def parse_jsonl(path: Path, text: str, torn_prefix: str = "", torn_note: str = "skipped",
                problem=lambda record: None) -> list[dict]:
    """The JSON objects of an append-only log's ``text``, in order.

    A last line without its newline that is not JSON (and starts with ``torn_prefix``) is what a
    kill or a full disk leaves: it is left out with a warning ending in ``torn_note``. Any other
    line that is not a JSON object, or whose object ``problem(record)`` finds fault with (it
    returns the reason), raises ``ValueError`` naming ``path`` and the line.

    Example:
        >>> parse_jsonl(Path("m.jsonl"), '{"step": 1}\\n{"step": 2, "lo')
        [{'step': 1}]
    """
    lines = text.split("\n")
    records = []
    for n, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except ValueError as exc:
            if n == len(lines) and line.startswith(torn_prefix):  # no newline after it: a torn last line
                logger.warning("%s: the last line is incomplete (an interrupted write); %s", path, torn_note)
                break
            raise ValueError(f"{path}, line {n}: not JSON ({exc})") from exc
        reason = "not a JSON object" if not isinstance(record, dict) else problem(record)
        if reason is not None:
            raise ValueError(f"{path}, line {n}: {reason}")
        records.append(record)
    return records


def repair_jsonl(path: str | os.PathLike, owned: bool) -> str | None:
    """Make ``path`` end on a whole line before appending to it; returns what was done, or None.

    The bytes after the last newline are either a complete JSON value that lacks only its
    newline (the newline is added; nothing is lost), or a line torn by a kill or a full disk. A
    torn line is removed only when ``owned`` (a file this run, or the run it resumes, wrote);
    otherwise :class:`RunFileError` names the file and nothing is changed.

    Example:
        >>> import tempfile
        >>> p = Path(tempfile.mkdtemp()) / "m.jsonl"
        >>> _ = p.write_text('{"step": 1}\\n{"step": 2}')
        >>> repair_jsonl(p, owned=False), p.read_text()
        ('added the missing final newline', '{"step": 1}\\n{"step": 2}\\n')
        >>> _ = p.write_text('{"step": 1}\\n{"st'); repair_jsonl(p, owned=True), p.read_text()
        ('removed a torn last line (4 bytes)', '{"step": 1}\\n')
    """
    path = Path(path)
    if not path.is_file():
        return None
    try:
        data = path.read_bytes()
        cut = data.rfind(b"\n") + 1
        tail = data[cut:]
        if not tail.strip():
            return None
        if _is_json(tail):
            with path.open("ab") as f:
                f.write(b"\n")
            done = "added the missing final newline"
        elif not owned:
            raise RunFileError(f"{path}: the last line is incomplete JSON and this file was not "
                               "written by this command; fix or remove that line, or choose another output")
        else:
            os.truncate(path, cut)
            done = f"removed a torn last line ({len(tail)} bytes)"
    except RunFileError:
        raise
    except OSError as exc:
        raise RunFileError(f"{path}: cannot repair ({_describe(exc)})") from exc
    logger.warning("%s: %s", path, done)
    return done


def refuse_same_file(output: str | os.PathLike, inputs: dict[str, str | os.PathLike | None], flag: str,
                     inside_ok: bool = False) -> None:
    """Raise :class:`RunFileError` when ``output`` is, contains, or sits inside one of ``inputs``.

    Paths are compared resolved (symlinks followed), and an existing output and input also by
    device and inode (a hard link is the same file). Writing a directory that contains an input,
    or a file inside an input directory, would change what the command reads.

    Args:
        output: the path a command will write (a file, or a run directory).
        inputs: flag name -> input path (None: not given).
        flag: the output's flag name, for the message.
        inside_ok: an output inside an input directory is allowed (an evaluation written to
            ``RUN/eval`` next to the adapter it reads, which it never lists).

    Example:
        >>> refuse_same_file("a.jsonl", {"--data": "./a.jsonl"}, "--output")
        Traceback (most recent call last):
        ...
        lead_lite.run_files.RunFileError: --output a.jsonl is the same file as --data ./a.jsonl; write to another file
        >>> refuse_same_file("runs/x", {"--dataset": "runs/x/rows.jsonl"}, "--output_dir")
        Traceback (most recent call last):
        ...
        lead_lite.run_files.RunFileError: --output_dir runs/x contains --dataset runs/x/rows.jsonl; write to another directory or move the input out of it
    """
    out = Path(output).expanduser()
    out_real = out.resolve()
    for name, given in inputs.items():
        if given is None:
            continue
        source = Path(given).expanduser()
        source_real = source.resolve()
        same = out_real == source_real
        if not same and out.exists() and source.exists():
            same = os.path.samefile(out, source)
        if same:
            raise RunFileError(f"{flag} {output} is the same file as {name} {given}; write to another file")
        if source_real.is_relative_to(out_real):
            raise RunFileError(f"{flag} {output} contains {name} {given}; write to another directory or move "
                               "the input out of it")
        if not inside_ok and out_real.is_relative_to(source_real):
            raise RunFileError(f"{flag} {output} lies inside {name} {given}; write outside it")


def refuse_inputs_in_output(output_dir: str | os.PathLike, inputs: dict[str, str | os.PathLike | None],
                            inside_ok: tuple[str, ...] = ()) -> None:
    """:func:`refuse_same_file` for a run directory and the local paths a run reads (an adapter, a
    dataset file, a model directory); names that are not existing paths (hub ids) are skipped.

    Checked before anything loads: a run writes its adapter into ``output_dir`` and, told to
    overwrite, first clears an earlier run's files there (:func:`clear_earlier_run`).

    Args:
        inside_ok: the flags of ``inputs`` whose directory may hold ``output_dir`` (a model directory).
    """
    local = {name: given for name, given in inputs.items()
             if given is not None and Path(given).expanduser().exists()}
    for name, given in local.items():
        refuse_same_file(output_dir, {name: given}, "--output_dir", inside_ok=name in inside_ok)


def refuse_run_file(output: str | os.PathLike, flag: str, own: tuple[str, ...] = ()) -> None:
    """Raise :class:`RunFileError` when ``output`` is one of the files a run writes (:data:`RUN_OUTPUTS`)
    in a directory that holds a run: another command's output must not replace a run's record.

    Args:
        own: names this command itself writes into a run directory (``report.html`` for the report).

    Example:
        >>> import tempfile
        >>> run = Path(tempfile.mkdtemp()); _ = (run / "metrics.jsonl").write_text("")
        >>> refuse_run_file(run / "metrics.jsonl", "--output")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        lead_lite.run_files.RunFileError: --output .../metrics.jsonl is a file of the train run in ...; write to another file
    """
    out = Path(output).expanduser()
    if out.name in own or out.name not in RUN_OUTPUTS:
        return
    kind = run_kind(out.parent) if out.parent.is_dir() else None
    if kind is not None:
        raise RunFileError(f"{flag} {output} is a file of the {kind} run in {out.parent}; write to another file")


def refuse_non_regular(path: str | os.PathLike, flag: str) -> None:
    """Raise :class:`RunFileError` when an existing ``path`` is neither a regular file nor a directory
    (a FIFO would block the read forever, a device would never end).

    Example:
        >>> refuse_non_regular("/dev/zero", "--data")
        Traceback (most recent call last):
        ...
        lead_lite.run_files.RunFileError: --data /dev/zero is a character device, not a regular file
    """
    try:
        mode = os.stat(Path(path).expanduser()).st_mode
    except (OSError, ValueError):  # missing, unreadable or not a path: the reader says so
        return
    if stat.S_ISREG(mode) or stat.S_ISDIR(mode):
        return
    kind = ("a FIFO (named pipe)" if stat.S_ISFIFO(mode) else "a character device" if stat.S_ISCHR(mode)
            else "a block device" if stat.S_ISBLK(mode) else "a socket" if stat.S_ISSOCK(mode) else "a special file")
    raise RunFileError(f"{flag} {path} is {kind}, not a regular file")


# -- run directories ------------------------------------------------------------------------------
def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, owned by another user
        return True
    return True


def _read_json(path: Path) -> dict | None:
    try:
        value = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return value if isinstance(value, dict) else None


class RunLock:
    """The lock file of a claimed run directory; :meth:`release` removes it (also at exit)."""

    def __init__(self, path: Path):
        self.path = path

    def release(self) -> None:
        """Remove the lock if this process still holds it."""
        holder = _read_json(self.path)
        if holder is not None and holder.get("pid") == os.getpid() and holder.get("host") == socket.gethostname():
            self.path.unlink(missing_ok=True)

    def __enter__(self) -> RunLock:
        return self

    def __exit__(self, *exc) -> None:
        self.release()


def _take_lock(run_dir: Path) -> RunLock:
    lock = run_dir / LOCK
    me = {"pid": os.getpid(), "host": socket.gethostname(), "since": time.strftime("%Y-%m-%d %H:%M:%S")}
    tmp = run_dir / f"{LOCK}.{os.getpid()}"
    write_atomic(tmp, json.dumps(me))
    try:
        for _ in range(3):
            try:
                os.link(tmp, lock)  # atomic: fails when a lock exists, never leaves half a lock
                return RunLock(lock)
            except FileExistsError:
                pass
            holder = _read_json(lock)
            if holder is None:  # removed meanwhile, or written by something else
                if lock.exists() and time.time() - lock.stat().st_mtime > 10:
                    logger.warning("%s: an unreadable lock file; taking it over", lock)
                    lock.unlink(missing_ok=True)
                continue
            pid, host = holder.get("pid"), holder.get("host")
            same_host = host == socket.gethostname()
            if same_host and (pid == os.getpid() or not (isinstance(pid, int) and _alive(pid))):
                if pid != os.getpid():
                    logger.warning("%s: taking over the lock of process %s, which is no longer running", lock, pid)
                lock.unlink(missing_ok=True)
                continue
            where = f"process {pid}" + ("" if same_host else f" on host {host}")
            raise RunFileError(f"{run_dir} is in use by another run ({where}, since "
                               f"{holder.get('since')}); wait for it, choose another output_dir, or remove {lock} "
                               "if no run is alive")
        raise RunFileError(f"{run_dir}: could not take its lock {lock}")
    except OSError as exc:
        if isinstance(exc, RunFileError):
            raise
        raise RunFileError(f"{run_dir}: cannot lock ({_describe(exc)})") from exc
    finally:
        tmp.unlink(missing_ok=True)


def claim_run_dir(run_dir: str | os.PathLike, kind: str, resume: bool = False, overwrite: bool = False) -> RunLock:
    """Make ``run_dir`` this run's own, before anything is written or loaded; returns its lock.

    Refuses (:class:`RunFileError`, one line) when another live run holds the directory, when
    it is a file or cannot be written, when an ``eval`` would write into a training run, or when
    it already holds files and the run neither resumes (``resume``) nor may overwrite (``overwrite``). Then writes :data:`RUN_MARKER`
    (``{"kind": kind}``) whole. The lock is released by :meth:`RunLock.release`, or at the
    latest when the process ends (a killed run's lock is taken over by the next run).

    Args:
        kind: ``train`` or ``sft`` (training runs: evaluation refuses their directories) or ``eval``.
    """
    run_dir = Path(run_dir)
    if run_dir.exists() and not run_dir.is_dir():
        raise RunFileError(f"--output_dir {run_dir} is a file, not a directory")
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise RunFileError(f"--output_dir {run_dir}: cannot create ({_describe(exc)})") from exc
    lock = _take_lock(run_dir)
    try:
        if kind == "eval":
            refuse_training_run(run_dir)
        earlier = refuse_earlier_run(run_dir, kind, resume, overwrite)
        if earlier and overwrite and not resume:
            removed = clear_earlier_run(run_dir)
            logger.warning("--output_dir %s: overwriting an earlier run's files (%d entries; removed %s)", run_dir,
                           len(earlier), ", ".join(removed) or "none")
        write_atomic(run_dir / RUN_MARKER, json.dumps({"kind": kind}))
    except BaseException:
        lock.release()
        raise
    atexit.register(lock.release)
    return lock


def refuse_earlier_run(run_dir: str | os.PathLike, kind: str, resume: bool = False,
                       overwrite: bool = False) -> list[str]:
    """The names in ``run_dir`` (none when it does not exist); :class:`RunFileError` when it holds
    files and the run neither resumes nor may overwrite. :func:`claim_run_dir` asks this; an entry
    point that claims several directories in turn asks it of each before the first run starts."""
    run_dir = Path(run_dir)
    earlier = sorted(p.name for p in run_dir.iterdir() if p.name != LOCK) if run_dir.is_dir() else []
    if earlier and not resume and not overwrite:
        shown = ", ".join(earlier[:4]) + (", ..." if len(earlier) > 4 else "")
        hint = ("choose another --output_dir" if kind == "eval" else "resume it with --resume_from_checkpoint "
                "last, choose another --output_dir, or pass --overwrite_output_dir true")
        raise RunFileError(f"--output_dir {run_dir} already holds files of another run ({shown}); {hint}")
    return earlier


def clear_earlier_run(run_dir: str | os.PathLike) -> list[str]:
    """Remove an earlier run's record from ``run_dir`` (claimed, told to overwrite): its ``checkpoint-N``
    directories, its tensorboard event files (:data:`TRACKER_DIRS`) and the files of :data:`RUN_OUTPUTS`
    but the lock; returns the names removed, sorted.

    A new run then cannot resume an old checkpoint or splice old steps into its metrics, and a
    run that fails early leaves no old summary or report that looks like its own. Anything else
    in the directory is left alone (the new run replaces what it writes again).

    Example:
        >>> import tempfile
        >>> d = Path(tempfile.mkdtemp()); (d / "checkpoint-6").mkdir(); _ = (d / "metrics.jsonl").write_text("")
        >>> (d / "runs").mkdir(); _ = (d / "notes.txt").write_text("mine")
        >>> clear_earlier_run(d), sorted(p.name for p in d.iterdir())
        (['checkpoint-6', 'metrics.jsonl', 'runs'], ['notes.txt'])
    """
    run_dir = Path(run_dir)
    removed = []
    for entry in sorted(run_dir.iterdir()):
        checkpoint = entry.name.startswith("checkpoint-")
        if entry.name == LOCK or not (checkpoint or entry.name in RUN_OUTPUTS or entry.name in TRACKER_DIRS):
            continue
        try:
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry)
            else:
                entry.unlink()
        except OSError as exc:
            raise RunFileError(f"{entry}: cannot remove the earlier run's file ({_describe(exc)}); remove it "
                               "or choose another --output_dir") from exc
        removed.append(entry.name)
    return removed


def run_kind(run_dir: str | os.PathLike) -> str | None:
    """The kind recorded by :func:`claim_run_dir`; ``train`` for an unmarked directory holding a
    training run's files; None for anything else."""
    run_dir = Path(run_dir)
    marker = _read_json(run_dir / RUN_MARKER)
    if marker is not None:
        return marker.get("kind")
    if any((run_dir / name).exists() for name in TRAINING_FILES) or any(run_dir.glob("checkpoint-*")):
        return "train"
    return None


def refuse_training_run(run_dir: str | os.PathLike, flag: str = "--output_dir") -> None:
    """Raise :class:`RunFileError` when ``run_dir`` holds a training run (its files must stay its own)."""
    kind = run_kind(run_dir)
    if kind in TRAINING_KINDS:
        raise RunFileError(f"{flag} {run_dir} holds a {kind} run; write the evaluation elsewhere "
                           f"(e.g. {Path(run_dir) / 'eval'})")


def claim_for_training(run_dir: str | os.PathLike, kind: str, training, overwrite: bool) -> RunLock | None:
    """:func:`claim_run_dir` as a training entry point makes it; returns the lock (None off the main process).

    Only the main process claims (one run, one lock, under a multi-process launch too); the run
    resumes when ``training.resume_from_checkpoint`` is set. A refusal ends the command: its one
    line is logged and the exit code is 2.
    """
    resume = str(training.resume_from_checkpoint).lower() not in ("", "false", "none")
    if not training.should_save:
        return None
    try:
        return claim_run_dir(run_dir, kind, resume=resume, overwrite=overwrite)
    except RunFileError as exc:
        logger.error("%s", exc)
        raise SystemExit(2) from exc
