"""What a user can fix, and the one way every command reports it: one line and exit code 2.

A bad setting (:class:`lead_lite.config.ConfigError`), an unusable data file
(:class:`lead_lite.tasks.sources.DataError`) or a path the operating system refuses (an
``OSError``: a missing or unreadable file, a read-only directory, a full disk) ends a command
with one ``ERROR`` log line naming the culprit and exit code 2, never a traceback. Every entry
point's ``main`` is wrapped by :func:`entry_point`. Set ``LEAD_LITE_DEBUG=1`` to get the full
traceback instead (``--debug`` is not used: it is a TrainingArguments flag of its own).

Example:
    >>> @entry_point
    ... def main(argv):
    ...     raise UserError("--size 0: must be >= 1")
    >>> main([])
    Traceback (most recent call last):
    SystemExit: 2
"""

from __future__ import annotations

import functools
import logging
import os
import sys

logger = logging.getLogger("lead_lite")

DEBUG_ENV = "LEAD_LITE_DEBUG"  # 1: re-raise user errors with their traceback
EXIT_USER_ERROR = 2
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class UserError(ValueError):
    """Something the user can fix: a setting, a file, a path. The message names it."""

    WHAT = "error"  # the start of the reported line


def describe(exc: BaseException) -> str:
    """The one line reported for ``exc``: what kind of problem, then its first line.

    Example:
        >>> describe(FileNotFoundError(2, "No such file or directory", "data.jsonl"))
        'cannot use a file: data.jsonl: No such file or directory'
    """
    if isinstance(exc, UserError):
        what, text = exc.WHAT, str(exc)
    elif isinstance(exc, OSError) and exc.filename is not None:
        what, text = "cannot use a file", f"{exc.filename}: {exc.strerror or exc}"
    elif isinstance(exc, OSError) and not isinstance(exc, ConnectionError) and len(exc.args) == 1:
        what, text = "cannot use a file", str(exc)  # a message naming the file (lead_lite.run_files.RunFileError)
    else:
        what, text = "cannot use a file or connection", str(exc) or type(exc).__name__
    lines = [line.strip() for line in text.splitlines() if line.strip()] or [type(exc).__name__]
    return f"{what}: {lines[0]}"


def entry_point(main):
    """Wrap a command's ``main(argv)``: a :class:`UserError` or ``OSError`` becomes one error line
    and ``SystemExit(2)``; with ``LEAD_LITE_DEBUG=1`` it propagates with its traceback."""

    @functools.wraps(main)
    def wrapped(argv: list[str] | None = None):
        try:
            return main(list(sys.argv[1:] if argv is None else argv))
        except (UserError, OSError) as exc:
            if os.environ.get(DEBUG_ENV, "") not in ("", "0"):
                raise
            logging.basicConfig(level=logging.INFO, format=LOG_FORMAT)
            logger.error("%s", describe(exc))
            raise SystemExit(EXIT_USER_ERROR) from None

    return wrapped
