"""Judging math answers: the final ``\\boxed{}`` of a completion against a gold answer.

Model output is untrusted text. Nothing here evaluates it. Cheap exact paths come first: an
answer written exactly as the gold one is correct, and integers, decimals and fractions
(``\\frac{p}{q}``, ``p/q``) are compared as exact rationals wherever math-verify would reach the
same verdict. Anything else goes to math-verify (sympy) in a separate worker process, with a
hard per-check time limit enforced by killing that process. math-verify's own timeout uses
``signal.alarm`` and only works on the main thread; the worker makes the bound hold from any
thread (TRL's async reward path, data-loader workers, notebooks). A standby worker, started in
the background, takes over after a kill, so the check after a timed-out one does not wait for
a new worker to import sympy.

A check returns a :class:`Verdict`:

- ``CORRECT`` / ``WRONG``: judged.
- ``NO_ANSWER``: the completion has no ``\\boxed{}`` (or an empty one): a format failure.
- ``UNJUDGEABLE``: the gold answer does not parse (even when the answer is the same string), or
  the check ran past its time limit. Such a sample is reported as unjudgeable and never scored
  as right.
"""

from __future__ import annotations

import enum
import functools
import json
import logging
import os
import re
import select
import subprocess
import sys
import threading
from collections import OrderedDict
from dataclasses import dataclass
from fractions import Fraction

logger = logging.getLogger(__name__)
_PACKAGE_PARENT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

MAX_COMPLETION_CHARS = 200_000  # only the tail of a longer completion is searched
MAX_ANSWER_CHARS = 512  # a longer boxed answer is judged WRONG without parsing it


class Verdict(enum.Enum):
    CORRECT = "correct"
    WRONG = "wrong"
    NO_ANSWER = "no_answer"
    UNJUDGEABLE = "unjudgeable"


@dataclass(frozen=True)
class Judgement:
    """A verdict, the answer it was reached on, and why."""

    verdict: Verdict
    answer: str | None
    reason: str


_BOXED = re.compile(r"\\(?:boxed|fbox)\s*\{")


def extract_boxed(text: str) -> str | None:
    """The content of the last ``\\boxed{...}`` (or ``\\fbox{...}``) in ``text``, braces balanced.

    Args:
        text: a completion; only its last ``MAX_COMPLETION_CHARS`` characters are searched.

    Returns:
        the stripped content, or None when there is no closed box.

    Example:
        >>> extract_boxed(r"so \\boxed{\\frac{1}{2}} and finally \\boxed{ 42 }")
        '42'
    """
    text = text[-MAX_COMPLETION_CHARS:]
    starts = [m.end() for m in _BOXED.finditer(text)]
    for start in reversed(starts):
        depth = 1
        for i in range(start, len(text)):
            ch = text[i]
            if ch == "{":
                depth += 1
            elif ch == "}":
                depth -= 1
                if depth == 0:
                    return text[start:i].strip()
    return None


_NUMBER = re.compile(r"[+-]?(\d{1,64}(\.\d{0,64})?|\.\d{1,64})")


_THOUSANDS = re.compile(r"[+-]?\d{1,3}(,\d{3})+(\.\d*)?")


def _plain_number(s: str) -> Fraction | None:
    """A decimal number written plainly (``12``, ``-3.50``, ``1,000``), else None.

    Commas count only as thousands separators: ``1,2,3`` is a tuple, not 123.

    Example:
        >>> _plain_number("1{,}000.5"), _plain_number("1,2,3")
        (Fraction(2001, 2), None)
    """
    s = s.strip().strip("$").strip().rstrip(".").replace("{,}", ",")
    if _THOUSANDS.fullmatch(s):
        s = s.replace(",", "")
    if _NUMBER.fullmatch(s):
        return Fraction(s)
    return None


_FRACTION = re.compile(r"([+-]?)\\[dt]?frac\{([+-]?\d{1,64})\}\{([+-]?\d{1,64})\}|([+-]?\d{1,64})/([+-]?\d{1,64})")


def _simple_fraction(s: str) -> Fraction | None:
    """``\\frac{p}{q}`` (also ``\\dfrac``, ``\\tfrac``, a leading sign) or ``p/q`` with integers, else None.

    Example:
        >>> _simple_fraction(r"-\\dfrac{6}{4}"), _simple_fraction("3/0"), _simple_fraction("x/2")
        (Fraction(-3, 2), None, None)
    """
    m = _FRACTION.fullmatch(s.strip().strip("$").strip().replace(" ", ""))
    if m is None:
        return None
    sign, p, q = (m.group(1), m.group(2), m.group(3)) if m.group(2) is not None else ("", m.group(4), m.group(5))
    if int(q) == 0:
        return None
    return Fraction(int(p), int(q)) * (-1 if sign == "-" else 1)


def _rational_verdict(answer: str, gold: str) -> Verdict | None:
    """An exact verdict when both sides are plain rationals and math-verify would agree, else None.

    Two plain numbers: equal or not. Integers and fractions: math-verify compares them exactly,
    so equal or not. A decimal against a fraction: equal is correct; unequal is left to
    math-verify, which accepts a rounded decimal (``0.3333333`` for ``1/3``).
    """
    a_num, g_num = _plain_number(answer), _plain_number(gold)
    if a_num is not None and g_num is not None:
        return Verdict.CORRECT if a_num == g_num else Verdict.WRONG
    a_val = a_num if a_num is not None else _simple_fraction(answer)
    g_val = g_num if g_num is not None else _simple_fraction(gold)
    if a_val is None or g_val is None:
        return None
    if a_val == g_val:
        return Verdict.CORRECT
    decimal = (a_num is not None and "." in answer) or (g_num is not None and "." in gold)
    return None if decimal else Verdict.WRONG


@functools.lru_cache(maxsize=4096)
def _parse_gold(gold: str) -> tuple:
    """Runs in the worker: a gold answer parsed once (a GRPO group checks G answers against it)."""
    from math_verify import parse

    strict = dict(parsing_timeout=None, fallback_mode="no_fallback")
    return tuple(parse(f"${gold}$", **strict) or parse(gold, **strict))


def _mv_check(answer: str, gold: str) -> tuple[str, str]:
    """Runs in the worker: math-verify with its own timeouts off (the parent enforces one)."""
    from math_verify import parse, verify

    strict = dict(parsing_timeout=None, fallback_mode="no_fallback")
    gold_parsed = list(_parse_gold(gold))
    if not gold_parsed:
        return Verdict.UNJUDGEABLE.value, f"gold answer {gold[:80]!r} does not parse"
    answer_parsed = parse(f"\\boxed{{{answer}}}", **strict)
    if not answer_parsed:
        return Verdict.WRONG.value, "answer does not parse"
    ok = verify(gold_parsed, answer_parsed, timeout_seconds=None)
    return (Verdict.CORRECT if ok else Verdict.WRONG).value, "math-verify"


def _serve() -> None:  # pragma: no cover - runs in the worker process
    """Worker loop: one JSON request per stdin line, one JSON reply per stdout line."""
    logging.getLogger("math_verify").setLevel(logging.ERROR)
    out = sys.stdout
    sys.stdout = sys.stderr  # nothing but replies goes to the protocol stream
    _mv_check("1/2", "0.5")  # import sympy and math-verify now: a standby is ready before it is needed
    for line in sys.stdin:
        answer, gold = json.loads(line)
        try:
            reply = _mv_check(answer, gold)
        except Exception as exc:  # noqa: BLE001 - any sympy failure is a wrong answer, reported
            reply = (Verdict.WRONG.value, f"math-verify error: {type(exc).__name__}")
        out.write(json.dumps(reply) + "\n")
        out.flush()


class MathVerifier:
    """Bounded, cached judge of ``\\boxed{}`` answers against gold answers.

    Args:
        timeout_s: the most one check may take (worker killed past it; a standby takes over).
        cache_size: judged (answer, gold) pairs kept (LRU); 0 disables the cache.

    Example:
        >>> v = MathVerifier()
        >>> v.check(r"<think>3+4=7</think> \\boxed{7}", "7").verdict
        <Verdict.CORRECT: 'correct'>
    """

    def __init__(self, timeout_s: float = 2.0, cache_size: int = 65536):
        if timeout_s <= 0:
            raise ValueError(f"timeout_s must be > 0, got {timeout_s}")
        self.timeout_s = timeout_s
        self.cache_size = cache_size
        self._cache: OrderedDict[tuple[str, str], Judgement] = OrderedDict()
        self._lock = threading.Lock()
        self._proc = None  # the worker that answers
        self._standby = None  # a started worker that takes over after a kill
        self.stats = {"checks": 0, "cache_hits": 0, "timeouts": 0, "worker_calls": 0}

    def __getstate__(self):
        state = self.__dict__.copy()
        state.update(_cache=OrderedDict(), _lock=None, _proc=None, _standby=None)
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        self._lock = threading.Lock()

    # -- worker processes -----------------------------------------------------------------
    @staticmethod
    def _spawn() -> subprocess.Popen:
        # A plain subprocess, not multiprocessing: it never re-imports the caller's __main__,
        # so it works from scripts without a main guard and from notebooks.
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(_PACKAGE_PARENT), env.get("PYTHONPATH")]))
        return subprocess.Popen(
            [sys.executable, "-m", "lead_lite.verifier"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            env=env,
        )

    @staticmethod
    def _stop(proc: subprocess.Popen | None) -> None:
        if proc is not None:
            proc.kill()
            proc.wait(timeout=5)
            for stream in (proc.stdin, proc.stdout):
                stream.close()

    def _kill(self) -> None:
        """Stop the active worker (a standby, if started, takes over on the next check)."""
        self._stop(self._proc)
        self._proc = None

    def _ready(self) -> None:
        """Make sure a live worker answers, and a standby is starting behind it.

        The first start pays the import of sympy; the time limit covers the check itself, so
        the worker must answer a ping before the clock starts. After a kill the standby, which
        imported meanwhile, takes over at once and a new standby starts in the background.
        """
        if self._proc is not None and self._proc.poll() is None:
            return
        self._kill()
        if self._standby is not None and self._standby.poll() is None:
            self._proc, self._standby = self._standby, None
        else:
            self._stop(self._standby)
            self._standby = None
            self._proc = self._spawn()
        if self._ask("0", "0", timeout=120) is None:
            self._kill()
            raise RuntimeError("the math-verify worker process did not start within 120 s")
        self._standby = self._spawn()

    def _ask(self, answer: str, gold: str, timeout: float) -> tuple[str, str] | None:
        """Send one request; the reply, or None when none came within ``timeout`` seconds."""
        self._proc.stdin.write(json.dumps([answer, gold]) + "\n")
        self._proc.stdin.flush()
        ready, _, _ = select.select([self._proc.stdout], [], [], timeout)
        if not ready:
            return None
        line = self._proc.stdout.readline()
        if not line:
            raise RuntimeError("the math-verify worker process exited")
        return tuple(json.loads(line))

    def close(self) -> None:
        """Stop the worker processes (restarted on the next check that needs one)."""
        with self._lock:
            self._kill()
            self._stop(self._standby)
            self._standby = None

    def __del__(self):
        for name in ("_proc", "_standby"):
            if getattr(self, name, None) is not None:
                self._stop(getattr(self, name))
                setattr(self, name, None)

    def _worker_check(self, answer: str, gold: str) -> Judgement:
        self._ready()
        self.stats["worker_calls"] += 1
        reply = self._ask(answer, gold, self.timeout_s)
        if reply is not None:
            verdict, reason = reply
            return Judgement(Verdict(verdict), answer, reason)
        self.stats["timeouts"] += 1
        self._kill()
        logger.warning("answer check timed out after %.1fs: %r", self.timeout_s, answer[:80])
        return Judgement(Verdict.UNJUDGEABLE, answer, f"check timed out after {self.timeout_s}s")

    # -- public ---------------------------------------------------------------------------
    def judge_answer(self, answer: str, gold: str) -> Judgement:
        """Judge an extracted answer string against the gold answer string."""
        gold = str(gold).strip()
        if not gold:
            return Judgement(Verdict.UNJUDGEABLE, answer, "empty gold answer")
        if len(answer) > MAX_ANSWER_CHARS:
            return Judgement(Verdict.WRONG, answer[:80], f"answer longer than {MAX_ANSWER_CHARS} chars")
        exact = _rational_verdict(answer, gold)
        if exact is not None:
            return Judgement(exact, answer, "number")
        key = (answer, gold)
        with self._lock:
            hit = self._cache.get(key)
            if hit is not None:
                self._cache.move_to_end(key)
                self.stats["cache_hits"] += 1
                return hit
            result = self._worker_check(answer, gold)
            if self.cache_size:
                self._cache[key] = result
                if len(self._cache) > self.cache_size:
                    self._cache.popitem(last=False)
        return result

    def check(self, completion: str, gold: str) -> Judgement:
        """Judge a whole completion: extract its final ``\\boxed{}`` and compare with ``gold``."""
        self.stats["checks"] += 1
        answer = extract_boxed(completion)
        if not answer:
            return Judgement(Verdict.NO_ANSWER, None, "no \\boxed{} answer")
        return self.judge_answer(answer, gold)


if __name__ == "__main__":
    _serve()
