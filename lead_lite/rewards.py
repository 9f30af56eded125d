"""TRL reward functions: per-completion judgements, no group statistics.

TRL calls each reward as ``reward(prompts=..., completions=..., completion_ids=..., **columns)``
and reads ``__name__`` as the metric name. These two report *facts* about each completion;
the LEAD reward (which needs whole groups) is computed later by the trainer from them:

- ``accuracy``: 1.0 correct, 0.0 incorrect (wrong or no answer), None unjudgeable.
- ``format``: 1.0 when the completion has a final answer, 0.0 when not (a format failure).

Both read a batch's answers with one call to :func:`batch_answers`, which remembers the last
batch, so each completion is extracted once for the two rewards; ``accuracy`` then judges the
whole batch with one :meth:`MathVerifier.judge_batch` call (parallel workers).
"""

from __future__ import annotations

import logging
import threading

from lead_lite.verifier import MathVerifier, Verdict, extract_boxed

logger = logging.getLogger(__name__)

ACCURACY = "accuracy"
FORMAT = "format"


def completion_text(completion) -> str:
    """The text of a completion, standard (str) or conversational (list of messages)."""
    if isinstance(completion, str):
        return completion
    if isinstance(completion, list) and completion and isinstance(completion[-1], dict):
        return str(completion[-1].get("content", ""))
    raise TypeError(f"cannot read a completion of type {type(completion).__name__}")


_last_batch: tuple[tuple[str, ...], list[str | None]] = ((), [])
_last_lock = threading.Lock()


def batch_answers(texts: list[str]) -> list[str | None]:
    """The final ``\\boxed{}`` answer of each text; the last batch is remembered, so the
    accuracy and format rewards of one batch extract once.

    Example:
        >>> batch_answers([r"\\boxed{4}", "four"])
        ['4', None]
    """
    global _last_batch
    key = tuple(texts)
    with _last_lock:
        if _last_batch[0] == key:
            return list(_last_batch[1])
    answers = [extract_boxed(t) for t in texts]
    with _last_lock:
        _last_batch = (key, answers)
    return list(answers)


class MathAccuracy:
    """Correctness of the final ``\\boxed{}`` answer against the ``answer`` column.

    Returns 1.0 / 0.0 / None (unjudgeable: the gold does not parse, or an internal error; the
    verdict policy is in :mod:`lead_lite.verifier`). An exception while judging one completion
    marks that completion unjudgeable and is logged; it does not end the run. ``verifier`` is a
    :class:`MathVerifier` (judged a batch at a time) or any object with ``check(text, gold)``.

    Example:
        >>> MathAccuracy()(completions=[r"\\boxed{4}", r"\\boxed{5}", "no idea"], answer=["4"] * 3)
        [1.0, 0.0, 0.0]
    """

    __name__ = ACCURACY

    def __init__(self, verifier: MathVerifier | None = None):
        self.verifier = verifier or MathVerifier()

    def __call__(self, completions, answer, **kwargs) -> list[float | None]:
        texts = [completion_text(c) for c in completions]
        golds = list(answer)
        if len(golds) != len(texts):
            raise ValueError(f"{len(texts)} completions but {len(golds)} answers")
        judge_batch = getattr(self.verifier, "judge_batch", None)
        if judge_batch is not None:  # one call for the batch (it isolates per-answer failures)
            verdicts = [j.verdict for j in judge_batch(batch_answers(texts), golds)]
        else:  # any object with check(text, gold), one completion at a time
            verdicts = []
            for i, (text, gold) in enumerate(zip(texts, golds)):
                try:
                    verdicts.append(self.verifier.check(text, gold).verdict)
                except Exception:  # noqa: BLE001 - one bad sample must not end the run
                    logger.exception("judging completion %d failed; marked unjudgeable", i)
                    verdicts.append(Verdict.UNJUDGEABLE)
        return [None if v is Verdict.UNJUDGEABLE else float(v is Verdict.CORRECT) for v in verdicts]


class HasAnswer:
    """1.0 when the completion ends with a final ``\\boxed{}`` answer, 0.0 when it does not.

    Example:
        >>> HasAnswer()(completions=[r"\\boxed{4}", "4"])
        [1.0, 0.0]
    """

    __name__ = FORMAT

    def __call__(self, completions, **kwargs) -> list[float]:
        return [float(bool(a)) for a in batch_answers([completion_text(c) for c in completions])]
