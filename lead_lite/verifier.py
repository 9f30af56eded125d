"""Judging math answers: the final ``\\boxed{}`` of a completion against a gold answer.

Model output is untrusted text: nothing here evaluates it, and every step of judging one
completion is bounded in time. Extraction is linear in the completion's length
(:func:`extract_boxed`); exact rules decide most answers in this process
(:mod:`lead_lite.answers`); math-verify (sympy) decides the rest in worker processes that are
killed when a check runs past ``timeout_s``.

Verdict policy (each rule is tested in ``tests/test_verifier.py``):

1. ``NO_ANSWER``: the completion has no closed ``\\boxed{}``, or an empty one (a format failure).
2. ``UNJUDGEABLE``: only when the gold answer does not parse (empty or malformed), or on an
   internal error (an exception in the checker, a worker that died before the gold parsed).
   Such a sample gets no reward and advantage 0.
3. ``WRONG``, when the gold parses and the answer is pathological: longer than 512 characters,
   brackets nested deeper than 12, a power tower (``2^{2^{100}}``), a numeric exponent of more
   than six digits, more than two factorial signs or a factorial of a five-digit number. The
   screen runs before sympy; when the gold itself trips it, math-verify judges the answer under
   the time limit. ``WRONG`` also when math-verify cannot parse the answer or crashes on it (a
   worker may use 4 GiB), and whenever a check is not done within ``timeout_s`` (a slow answer,
   a gold slow to parse, no worker ready), so no answer form earns more than a plain wrong
   answer unless it is correct.
4. ``CORRECT`` when the answer is the gold itself, character for character, and the gold
   parses; else by the exact rules of :func:`lead_lite.answers.decide`, which decide only where
   they agree with math-verify (numbers, fractions, tuples, lists, sets, expressions; one rule
   for decimals: a decimal gold is met to 6 places, any other gold to 12, see
   :func:`lead_lite.answers.gold_places`); else by math-verify (``verify(gold, answer)`` with
   ``float_rounding`` from the same rule).
5. Several boxes in a row (``\\boxed{1}, \\boxed{2}``) are one answer ``1, 2``; a gold answer is
   read the same way, so boxes separated by words are never merged.

Time: every check ends within ``timeout_s`` x 1.05 + 50 ms. The exact rules are bounded (512
characters, 1,024-bit numbers); a worker's own alarm stops math-verify shortly before
``timeout_s`` (the worker survives), and a worker that still does not reply is killed. The
constructor starts the first worker and waits until it answers, so no check pays for importing
sympy; a second worker (batches run in parallel) and a standby start in the background, and
the standby takes over at once after a kill. ``timeout_s`` below :data:`MIN_TIMEOUT_S` is
refused.
"""

from __future__ import annotations

import enum
import functools
import json
import logging
import os
import resource
import select
import signal
import subprocess
import sys
import threading
import time
from collections import OrderedDict, deque
from dataclasses import dataclass

from lead_lite.answers import (  # noqa: F401 - re-exported: public names of this module
    MAX_ANSWER_CHARS,
    MAX_COMPLETION_CHARS,
    Outcome,
    _plain_number,
    compare,
    decide,
    extract_boxed,
    for_math_verify,
    gold_is_plain,
    gold_places,
    gold_text,
    screen,
)

logger = logging.getLogger(__name__)
_PACKAGE_PARENT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
START_TIMEOUT_S = 120.0  # the most a new worker may take to import sympy and math-verify
WORKER_MEMORY_BYTES = 4 << 30  # address space of a worker: an answer that needs more is wrong
MIN_TIMEOUT_S = 0.1  # a shorter limit leaves sympy no time on a loaded machine (config refuses it too)
_WORKER_MARGIN_S = 0.02  # a worker stops itself this much before the limit, so its reply arrives in time


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


# -- the worker process ---------------------------------------------------------------------
@functools.lru_cache(maxsize=4096)
def _parse_gold(gold: str) -> tuple:
    """Runs in the worker: a gold answer parsed once (a GRPO group checks G answers against it)."""
    from math_verify import parse

    strict = dict(parsing_timeout=None, fallback_mode="no_fallback")
    return tuple(parse(f"${gold}$", **strict) or parse(gold, **strict))


def _mv_verdict(answer: str, gold_parsed: list, float_rounding: int) -> tuple[str, str]:
    """Runs in the worker: math-verify on a parsed gold, its own timeouts off (the worker's alarm
    and the parent's kill bound it); decimals compared at ``float_rounding`` places."""
    from math_verify import parse, verify

    answer_parsed = parse(f"\\boxed{{{answer}}}", parsing_timeout=None, fallback_mode="no_fallback")
    if not answer_parsed:
        return Verdict.WRONG.value, "answer does not parse"
    ok = verify(gold_parsed, answer_parsed, float_rounding=float_rounding, timeout_seconds=None)
    return (Verdict.CORRECT if ok else Verdict.WRONG).value, "math-verify"


def _mv_check(answer: str, gold: str, float_rounding: int = 6) -> tuple[str, str]:
    """math-verify's verdict on an extracted answer, in this process. The default, 6 places, is
    math-verify's own (the fuzzer's reference); the workers use :func:`gold_places`."""
    gold_parsed = list(_parse_gold(gold))
    if not gold_parsed:
        return Verdict.UNJUDGEABLE.value, f"gold answer {gold[:80]!r} does not parse"
    return _mv_verdict(answer, gold_parsed, float_rounding)


_WARM_UP = [("1/2", "0.5"), ("\\frac{\\sqrt{2}}{2}", "\\sqrt{2}/2"), ("x+1", "1+x"), ("[0,1)", "[0,1)"),
            ("x=2", "2"), ("\\{1,2\\}", "1,2"), ("\\sin(\\pi/6)", "\\frac{1}{2}")]


class _OutOfTime(BaseException):
    """Raised in the worker by its alarm; a BaseException, so no ``except Exception`` in sympy or
    math-verify swallows it."""


def _serve() -> None:  # pragma: no cover - runs in the worker process
    """Worker loop. Request: one JSON line ``[answer, gold, mode, seconds]``. Replies:
    ``["gold", ok]`` once the gold is parsed (ok None: out of time), then (mode "check", gold ok)
    ``["verdict", verdict, reason]``. An alarm stops the work ``_WORKER_MARGIN_S`` before the
    parent's limit, so a slow answer costs a reply, not a new process; the parent still kills a
    worker that does not reply (a signal cannot stop a long C call)."""
    logging.getLogger("math_verify").setLevel(logging.CRITICAL)
    resource.setrlimit(resource.RLIMIT_AS, (WORKER_MEMORY_BYTES, WORKER_MEMORY_BYTES))  # a bomb raises MemoryError
    out = sys.stdout
    sys.stdout = sys.stderr  # nothing but replies goes to the protocol stream
    for answer, gold in _WARM_UP:  # import sympy and its lazily loaded parts before "ready"
        _mv_check(answer, gold)
    armed = [False]

    def alarm(signum, frame):
        if armed[0]:
            armed[0] = False
            raise _OutOfTime

    signal.signal(signal.SIGALRM, alarm)

    def send(*reply):
        out.write(json.dumps(reply) + "\n")
        out.flush()

    def timed(fn, *args):
        """fn(*args), or None when the alarm rang first."""
        try:
            armed[0] = True
            result = fn(*args)
            armed[0] = False
            return result
        except _OutOfTime:
            return None
        finally:
            armed[0] = False

    send("ready")
    for line in sys.stdin:
        answer, gold, mode, seconds = json.loads(line)
        signal.setitimer(signal.ITIMER_REAL, max(seconds - _WORKER_MARGIN_S, seconds * 0.8))
        try:
            gold_parsed = timed(lambda: list(_parse_gold(gold)))
        except Exception:  # noqa: BLE001 - a gold that breaks the parser does not parse
            gold_parsed = []
        send("gold", None if gold_parsed is None else bool(gold_parsed))
        if gold_parsed and mode == "check":
            try:
                verdict = timed(_mv_verdict, answer, gold_parsed, gold_places(gold))
                if verdict is None:
                    verdict = (Verdict.WRONG.value, f"not judged within {seconds}s")
            except Exception as exc:  # noqa: BLE001 - any sympy failure on the answer is a wrong answer
                verdict = (Verdict.WRONG.value, f"math-verify error: {type(exc).__name__}")
            send("verdict", *verdict)
        signal.setitimer(signal.ITIMER_REAL, 0)


class _Worker:
    """One math-verify process and the job it is running."""

    def __init__(self):
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(_PACKAGE_PARENT), env.get("PYTHONPATH")]))
        # A plain subprocess, not multiprocessing: it never re-imports the caller's __main__,
        # so it works from scripts without a main guard and from notebooks.
        self.proc = subprocess.Popen([sys.executable, "-m", "lead_lite.verifier"], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env)
        self.started = time.monotonic()
        self.ready = False
        self.buffer = b""
        self.job: _Job | None = None
        self.deadline = 0.0

    def fileno(self) -> int:
        return self.proc.stdout.fileno()

    def alive(self) -> bool:
        return self.proc.poll() is None

    def send(self, job: _Job, timeout_s: float) -> None:
        request = [for_math_verify(job.answer), for_math_verify(job.gold), job.mode, timeout_s]
        self.proc.stdin.write((json.dumps(request) + "\n").encode())
        self.proc.stdin.flush()
        self.job, self.deadline = job, time.monotonic() + timeout_s

    def read(self) -> list[list] | None:
        """The complete reply lines available now; None when the process has exited."""
        data = os.read(self.fileno(), 1 << 16)
        if not data:
            return None
        self.buffer += data
        *lines, self.buffer = self.buffer.split(b"\n")
        return [json.loads(line) for line in lines if line]

    def kill(self) -> None:
        """Kill the process without waiting for it (:meth:`reaped` collects it later)."""
        self.proc.kill()

    def reaped(self) -> bool:
        """True once a killed process is gone (its pipes are then closed)."""
        if self.proc.poll() is None:
            return False
        for stream in (self.proc.stdin, self.proc.stdout):
            stream.close()
        return True

    def stop(self) -> None:
        self.proc.kill()
        self.proc.wait(timeout=5)
        self.reaped()


@dataclass
class _Job:
    """An answer the worker judges (mode "check"), or a gold whose parse is all we need ("gold")."""

    index: int
    answer: str
    gold: str
    mode: str
    gold_ok: bool | None = None


class MathVerifier:
    """Bounded, cached judge of ``\\boxed{}`` answers against gold answers (policy: module doc).

    Args:
        timeout_s: the most one check may take (an answer not judged by then is wrong); at least
            :data:`MIN_TIMEOUT_S`.
        cache_size: judged (answer, gold) pairs kept (LRU); 0 disables the cache.
        workers: math-verify processes that judge a batch in parallel (plus one standby).

    Example:
        >>> v = MathVerifier()
        >>> v.check(r"<think>3+4=7</think> \\boxed{7}", "7").verdict
        <Verdict.CORRECT: 'correct'>
        >>> [j.verdict.value for j in v.check_batch([r"\\boxed{13}", r"\\boxed{10!!!!!}"], ["12", "12"])]
        ['wrong', 'wrong']
        >>> v.close()
    """

    def __init__(self, timeout_s: float = 2.0, cache_size: int = 65536, workers: int = 2):
        if not timeout_s >= MIN_TIMEOUT_S:
            raise ValueError(f"timeout_s must be >= {MIN_TIMEOUT_S} s, got {timeout_s}")
        if workers < 1:
            raise ValueError(f"workers must be >= 1, got {workers}")
        self.timeout_s = timeout_s
        self.cache_size = cache_size
        self.workers = workers
        self._cache: OrderedDict[tuple[str, str], Judgement] = OrderedDict()
        self._gold_ok: OrderedDict[str, bool] = OrderedDict()
        self._lock = threading.Lock()
        self._pool: list[_Worker] = []  # active workers (ready or starting)
        self._standby: _Worker | None = None
        self._spawner: threading.Thread | None = None  # starts a new standby off the clock
        self._dying: list[_Worker] = []  # killed, not yet reaped
        self.stats = {"checks": 0, "cache_hits": 0, "timeouts": 0, "worker_calls": 0, "screened": 0, "restarts": 0}
        self.start()

    def __getstate__(self):
        state = self.__dict__.copy()
        state.update(_cache=OrderedDict(), _gold_ok=OrderedDict(), _lock=None, _pool=[], _standby=None,
                     _spawner=None, _dying=[])
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        self._lock = threading.Lock()

    # -- worker processes -----------------------------------------------------------------
    def start(self) -> None:
        """Start the worker processes and the standby, and wait until every one answers.

        The constructor calls it, so the import of sympy is never charged to a check; after
        :meth:`close` (or unpickling) the next check that needs a worker calls it again.
        """
        self._join_spawner()
        self._reap()
        while len(self._pool) < self.workers:
            self._pool.append(_Worker())
        if self._standby is None or not self._standby.alive():
            self._standby = _Worker()
        deadline = time.monotonic() + START_TIMEOUT_S
        while not all(w.ready for w in self._pool + [self._standby]):
            starting = [w for w in self._pool + [self._standby] if not w.ready]
            if time.monotonic() > deadline or not all(w.alive() for w in starting):
                self._shutdown()
                raise RuntimeError(f"the math-verify worker processes did not start within {START_TIMEOUT_S:.0f} s")
            self._wait(deadline - time.monotonic(), starting_only=True)

    def _reap(self) -> None:
        """Drop workers that exited."""
        for w in [w for w in self._pool if not w.alive()]:
            self._pool.remove(w)
            w.stop()

    def _wait(self, seconds: float, starting_only: bool = False) -> list[tuple[_Worker, list]]:
        """Wait up to ``seconds`` for replies; mark started workers ready; return (worker, reply)
        pairs of busy workers (an exited worker yields ``(worker, None)``)."""
        watched = [w for w in self._pool + [self._standby] if w is not None and (
            (not w.ready and w.alive()) or (w.job is not None and not starting_only))]  # a dead busy one: EOF
        if not watched:
            return []
        readable, _, _ = select.select(watched, [], [], max(seconds, 0.0))
        replies = []
        for w in readable:
            lines = w.read()
            if lines is None:
                replies.append((w, None))
                continue
            for line in lines:
                if line == ["ready"]:
                    w.ready = True
                else:
                    replies.append((w, line))
        return replies

    def _replace(self, worker: _Worker) -> None:
        """Kill ``worker``; the standby takes its place and a new standby starts in a thread
        (starting a process takes 10-30 ms that no check should wait for)."""
        worker.kill()
        self.stats["restarts"] += 1
        self._dying.append(worker)
        self._pool.remove(worker)
        if self._standby is None:  # the previous standby is still being started
            self._join_spawner()
        standby, self._standby = self._standby, None
        self._pool.append(standby if standby is not None and standby.alive() else _Worker())

        def spawn():
            self._standby = _Worker()

        self._spawner = threading.Thread(target=spawn, name="math-verify-standby", daemon=True)
        self._spawner.start()

    def _join_spawner(self) -> None:
        if self._spawner is not None:
            self._spawner.join()
            self._spawner = None
        self._dying = [w for w in self._dying if not w.reaped()]

    def _shutdown(self) -> None:
        self._join_spawner()
        for w in self._pool + [self._standby] + self._dying:
            if w is not None:
                w.stop()
        self._pool, self._standby, self._dying = [], None, []

    def close(self) -> None:
        """Stop the worker processes (started again by the next check that needs one)."""
        with self._lock:
            self._shutdown()

    def __del__(self):
        for w in getattr(self, "_pool", []) + [getattr(self, "_standby", None)] + getattr(self, "_dying", []):
            if w is not None and w.alive():
                w.proc.kill()

    def _run(self, jobs: list[_Job]) -> dict[int, tuple[Verdict, str]]:
        """Judge ``jobs`` on the workers, in parallel; each job bounded by ``timeout_s``."""
        if not self._pool:
            self.start()
        queue, results = deque(jobs), {}
        no_worker_since = None
        while queue or any(w.job is not None for w in self._pool):
            for w in [w for w in self._pool if w.job is None and not w.alive()]:
                self._replace(w)
            if self._standby is not None and self._standby.ready and any(not w.ready for w in self._pool):
                slow = next(w for w in self._pool if not w.ready)  # a fresh standby beats a slow start
                self._pool[self._pool.index(slow)], self._standby = self._standby, slow
            idle = [w for w in self._pool if w.ready and w.job is None and w.alive()]
            for w in idle:
                if not queue:
                    break
                job = queue.popleft()
                self.stats["worker_calls"] += 1
                try:
                    w.send(job, self.timeout_s)
                except (BrokenPipeError, OSError):  # it exited between jobs: the next worker takes the job
                    queue.appendleft(job)
                    self._replace(w)
            busy = [w for w in self._pool if w.job is not None]
            if queue and not busy and not idle:  # every worker is starting
                no_worker_since = no_worker_since or time.monotonic()
                if time.monotonic() - no_worker_since > self.timeout_s:
                    logger.warning("no math-verify worker ready within %.1fs; %d answers judged wrong",
                                   self.timeout_s, len(queue))
                    for job in queue:
                        results[job.index] = (Verdict.WRONG, f"not judged within {self.timeout_s}s: "
                                                             "no checking worker ready")
                    queue.clear()
                    continue
            else:
                no_worker_since = None
            now = time.monotonic()
            wait = min([w.deadline - now for w in busy], default=self.timeout_s)
            if queue and not busy:
                wait = min(wait, self.timeout_s - (now - (no_worker_since or now)))
            for w, reply in self._wait(wait):
                job = w.job
                if job is None:
                    continue
                if reply is None:  # the answer crashed the worker (e.g. past its memory limit)
                    results[job.index] = (Verdict.WRONG, "the checker crashed on this answer") if job.gold_ok \
                        else (Verdict.UNJUDGEABLE, "internal error: the math-verify worker exited")
                    w.job = None
                    self._replace(w)
                elif reply[0] == "gold":
                    job.gold_ok = reply[1]
                    if reply[1] is None:  # the worker's alarm rang while it parsed the gold
                        self.stats["timeouts"] += 1
                        results[job.index] = (Verdict.WRONG, f"not judged within {self.timeout_s}s")
                        w.job = None
                        continue
                    self._remember_gold(job.gold, reply[1])
                    if not reply[1]:
                        results[job.index] = (Verdict.UNJUDGEABLE, f"gold answer {job.gold[:80]!r} does not parse")
                        w.job = None
                    elif job.mode != "check":
                        results[job.index] = (Verdict.CORRECT, "gold parses")  # the caller decides
                        w.job = None
                else:
                    if reply[2].startswith("not judged within"):
                        self.stats["timeouts"] += 1
                    results[job.index] = (Verdict(reply[1]), reply[2])
                    w.job = None
            now = time.monotonic()
            for w in [w for w in self._pool if w.job is not None and now >= w.deadline]:
                job, w.job = w.job, None
                self.stats["timeouts"] += 1
                self._replace(w)
                results[job.index] = (Verdict.WRONG, f"not judged within {self.timeout_s}s")  # gold parsed or not
                logger.warning("answer check timed out after %.2fs: %r", self.timeout_s, job.answer[:80])
        self._dying = [w for w in self._dying if not w.reaped()]
        return results

    # -- verdicts -------------------------------------------------------------------------
    def _remember_gold(self, gold: str, ok: bool) -> None:
        self._gold_ok[gold] = ok
        if len(self._gold_ok) > max(self.cache_size, 1024):
            self._gold_ok.popitem(last=False)

    def _gold_parses(self, gold: str) -> bool | None:
        known = self._gold_ok.get(gold)
        if known is None and gold_is_plain(gold):
            self._remember_gold(gold, True)
            return True
        return known

    def _decide(self, answer: str | None, gold: str) -> Judgement | _Job:
        """A verdict reached in this process, or the job the worker must do (bounded in time)."""
        if not answer:
            return Judgement(Verdict.NO_ANSWER, None, "no \\boxed{} answer")
        if not gold:
            return Judgement(Verdict.UNJUDGEABLE, answer, "empty gold answer")
        why = screen(answer)
        if why is not None:
            self.stats["screened"] += 1
            if screen(gold) is not None:  # a pathological gold: only math-verify, under the limit, judges
                return self._unless_gold_fails(gold, answer) or _Job(0, answer, gold, "check")
            ok = self._gold_parses(gold)
            if ok is None:
                return _Job(0, answer[:80], gold, "gold")
            return Judgement(Verdict.WRONG, answer[:80], f"pathological answer: {why}") if ok else \
                Judgement(Verdict.UNJUDGEABLE, answer[:80], f"gold answer {gold[:80]!r} does not parse")
        if answer == gold:  # the gold itself: correct once the gold parses, whatever math-verify makes of it
            ok = self._gold_parses(gold)
            if ok is None:
                return _Job(0, answer, gold, "same")
            return Judgement(Verdict.CORRECT if ok else Verdict.UNJUDGEABLE, answer,
                             "identical to the gold answer" if ok else f"gold answer {gold[:80]!r} does not parse")
        decided = decide(answer, gold)
        if decided is not None:
            return Judgement(Verdict.CORRECT if decided else Verdict.WRONG, answer, "exact rules")
        return self._unless_gold_fails(gold, answer) or _Job(0, answer, gold, "check")

    def _unless_gold_fails(self, gold: str, answer: str) -> Judgement | None:
        if self._gold_ok.get(gold) is False:
            return Judgement(Verdict.UNJUDGEABLE, answer[:80], f"gold answer {gold[:80]!r} does not parse")
        return None

    def judge_batch(self, answers: list[str | None], golds: list[str]) -> list[Judgement]:
        """Judge extracted answers (None: no answer) against gold answers, one Judgement each.

        Answers the exact rules cannot decide go to the workers together, in parallel. An
        exception while judging one answer makes that one unjudgeable (logged).

        Example:
            >>> v = MathVerifier()
            >>> [j.verdict.value for j in v.judge_batch(["4", None, "x+1"], ["4", "4", "1+x"])]
            ['correct', 'no_answer', 'correct']
            >>> v.close()
        """
        if len(answers) != len(golds):
            raise ValueError(f"answers and golds differ in length: {len(answers)} != {len(golds)}")
        out: list[Judgement | None] = [None] * len(answers)
        jobs: list[_Job] = []
        with self._lock:
            for i, (answer, gold) in enumerate(zip(answers, golds)):
                try:
                    gold = gold_text(gold)
                    key = (answer, gold)
                    hit = self._cache.get(key) if answer else None
                    if hit is not None:
                        self._cache.move_to_end(key)
                        self.stats["cache_hits"] += 1
                        out[i] = hit
                        continue
                    decided = self._decide(answer, gold)
                except Exception:  # noqa: BLE001 - one bad sample must not end the batch
                    logger.exception("judging answer %d failed; marked unjudgeable", i)
                    out[i] = Judgement(Verdict.UNJUDGEABLE, answer, "internal error")
                    continue
                if isinstance(decided, Judgement):
                    out[i] = self._store(answer, gold, decided)
                else:
                    decided.index = i
                    jobs.append(decided)
            if jobs:
                try:
                    results = self._run(jobs)
                except (OSError, RuntimeError, ValueError):
                    logger.exception("the math-verify workers failed; %d answers marked unjudgeable", len(jobs))
                    self._shutdown()
                    results = {j.index: (Verdict.UNJUDGEABLE, "internal error: math-verify workers failed")
                               for j in jobs}
                for job in jobs:
                    verdict, reason = results[job.index]
                    if job.mode == "gold" and verdict is Verdict.CORRECT:  # the gold parses: screened answer
                        verdict, reason = Verdict.WRONG, f"pathological answer: {screen(answers[job.index])}"
                    elif job.mode == "same" and verdict is Verdict.CORRECT:
                        reason = "identical to the gold answer"
                    out[job.index] = self._store(answers[job.index], job.gold, Judgement(verdict, job.answer, reason))
        return out

    def _store(self, answer: str | None, gold: str, judgement: Judgement) -> Judgement:
        internal = judgement.verdict is Verdict.UNJUDGEABLE and judgement.reason.startswith("internal")
        if self.cache_size and answer and not internal:
            self._cache[(answer, gold)] = judgement
            if len(self._cache) > self.cache_size:
                self._cache.popitem(last=False)
        return judgement

    def judge_answer(self, answer: str, gold: str) -> Judgement:
        """Judge an extracted answer string against the gold answer string."""
        return self.judge_batch([answer], [gold])[0]

    def check_batch(self, completions: list[str], golds: list[str]) -> list[Judgement]:
        """Judge whole completions: extract each final ``\\boxed{}`` and compare with its gold."""
        self.stats["checks"] += len(completions)
        return self.judge_batch([extract_boxed(c) for c in completions], golds)

    def check(self, completion: str, gold: str) -> Judgement:
        """Judge a whole completion: extract its final ``\\boxed{}`` and compare with ``gold``."""
        return self.check_batch([completion], [gold])[0]


if __name__ == "__main__":
    _serve()
