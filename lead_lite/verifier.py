"""Judging math answers: the final ``\\boxed{}`` of a completion against a gold answer.

Model output is untrusted text. Nothing here evaluates it: integers and decimals are compared
directly, anything else goes to math-verify (sympy) in a separate worker process, with a hard
per-check time limit enforced by killing that process. math-verify's own timeout uses
``signal.alarm`` and only works on the main thread; the worker makes the bound hold from any
thread (TRL's async reward path, data-loader workers, notebooks).

A check returns a :class:`Verdict`:

- ``CORRECT`` / ``WRONG``: judged.
- ``NO_ANSWER``: the completion has no ``\\boxed{}`` (or an empty one): a format failure.
- ``UNJUDGEABLE``: the gold answer does not parse, or the check ran past its time limit.
  Such a sample is reported as unjudgeable and never scored as right.
"""

from __future__ import annotations

import enum
import logging
import json
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


def _plain_number(s: str) -> Fraction | None:
    """A decimal number written plainly (``12``, ``-3.50``, ``1,000``), else None."""
    s = s.strip().strip("$").strip().rstrip(".").replace(",", "").replace("{,}", "")
    if _NUMBER.fullmatch(s):
        return Fraction(s)
    return None


def _mv_check(answer: str, gold: str) -> tuple[str, str]:
    """Runs in the worker: math-verify with its own timeouts off (the parent enforces one)."""
    from math_verify import parse, verify

    strict = dict(parsing_timeout=None, fallback_mode="no_fallback")
    gold_parsed = parse(f"${gold}$", **strict) or parse(gold, **strict)
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
        timeout_s: the most one check may take (worker killed and restarted past it).
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
        self._proc = None
        self.stats = {"checks": 0, "cache_hits": 0, "timeouts": 0, "worker_calls": 0}

    def __getstate__(self):
        state = self.__dict__.copy()
        state.update(_cache=OrderedDict(), _lock=None, _proc=None)
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        self._lock = threading.Lock()

    # -- worker process -------------------------------------------------------------------
    def _start(self) -> None:
        # A plain subprocess, not multiprocessing: it never re-imports the caller's __main__,
        # so it works from scripts without a main guard and from notebooks.
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(_PACKAGE_PARENT), env.get("PYTHONPATH")]))
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "lead_lite.verifier"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            env=env,
        )

    def _kill(self) -> None:
        if self._proc is not None:
            self._proc.kill()
            self._proc.wait(timeout=5)
            for stream in (self._proc.stdin, self._proc.stdout):
                stream.close()
        self._proc = None

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
        """Stop the worker process (it is restarted on the next check that needs it)."""
        with self._lock:
            self._kill()

    def __del__(self):
        if getattr(self, "_proc", None) is not None:
            self._kill()

    def _worker_check(self, answer: str, gold: str) -> Judgement:
        # The first call pays the worker's start (importing sympy); the time limit covers
        # the check itself, so wait for the worker to answer a ping before starting the clock.
        if self._proc is None or self._proc.poll() is not None:
            self._kill()
            self._start()
            if self._ask("0", "0", timeout=120) is None:
                self._kill()
                raise RuntimeError("the math-verify worker process did not start within 120 s")
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
        a_num, g_num = _plain_number(answer), _plain_number(gold)
        if a_num is not None and g_num is not None:
            ok = a_num == g_num
            return Judgement(Verdict.CORRECT if ok else Verdict.WRONG, answer, "number")
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
