"""TRL reward functions: per-completion judgements, no group statistics.

TRL calls each reward as ``reward(prompts=..., completions=..., completion_ids=..., **columns)``
and reads ``__name__`` as the metric name. These two report *facts* about each completion;
the LEAD reward (which needs whole groups) is computed later by the trainer from them:

- ``accuracy``: 1.0 correct, 0.0 incorrect (wrong or no answer), None unjudgeable.
- ``format``: 1.0 when the completion has a final answer, 0.0 when not (a format failure).
"""

from __future__ import annotations

import logging

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


class MathAccuracy:
    """Correctness of the final ``\\boxed{}`` answer against the ``answer`` column.

    Returns 1.0 / 0.0 / None (unjudgeable: gold does not parse, or the check timed out).
    An exception while judging one completion marks that completion unjudgeable and is
    logged; it does not end the run.

    Example:
        >>> MathAccuracy()(completions=[r"\\boxed{4}", r"\\boxed{5}", "no idea"], answer=["4"] * 3)
        [1.0, 0.0, 0.0]
    """

    __name__ = ACCURACY

    def __init__(self, verifier: MathVerifier | None = None):
        self.verifier = verifier or MathVerifier()

    def __call__(self, completions, answer, **kwargs) -> list[float | None]:
        out: list[float | None] = []
        for i, (completion, gold) in enumerate(zip(completions, answer, strict=True)):
            try:
                verdict = self.verifier.check(completion_text(completion), gold).verdict
            except Exception:  # noqa: BLE001 - one bad sample must not end the run
                logger.exception("judging completion %d failed; marked unjudgeable", i)
                verdict = Verdict.UNJUDGEABLE
            out.append(None if verdict is Verdict.UNJUDGEABLE else float(verdict is Verdict.CORRECT))
        return out


class HasAnswer:
    """1.0 when the completion ends with a final ``\\boxed{}`` answer, 0.0 when it does not.

    Example:
        >>> HasAnswer()(completions=[r"\\boxed{4}", "4"])
        [1.0, 0.0]
    """

    __name__ = FORMAT

    def __call__(self, completions, **kwargs) -> list[float]:
        return [float(bool(extract_boxed(completion_text(c)))) for c in completions]
