"""The console during training: one compact line per logging step.

The Trainer's own console output prints every logged value (dozens per step). A LEAD run shows
instead one line of what a user watches, read from the values the LEAD trainer logged (the
rewards and advantages the loss used, see :mod:`lead_lite.trainer`)::

    step 12/200 | reward 0.412 | accuracy 56.2% | length(correct) 183 | weight 1.02 | unjudgeable 0.0% | 1.84 s/step

With dynamic sampling on, one more field says what filling the step took (``dynamic/*``)::

    ... | groups 4 informative of 8 sampled in 2 rounds (first 75%) | 0.52 s/step

The full record of each step stays in ``metrics.jsonl`` (:class:`lead_lite.run_log.JsonlMetrics`).
The callbacks here are ``on_log`` events, mixed in front of transformers' classes by
:func:`lead_lite.training.build_trainer` (so this module does not import transformers).
"""

from __future__ import annotations

import logging
import math

logger = logging.getLogger(__name__)


def _num(value, fmt: str) -> str:
    if not isinstance(value, (int, float)) or not math.isfinite(value):
        return "n/a"  # a metric with no samples this step (e.g. no correct answer to measure)
    return format(value, fmt)


def format_line(step: int, max_steps: int, logs: dict) -> str | None:
    """The compact line of one training log record, or None for a record that is not a step's.

    Args:
        step: the global step; max_steps: the planned number of steps (0 or less: unknown).
        logs: one ``Trainer.log`` record (TRL's ``reward`` and ``step_time``, LEAD's ``lead/*``).

    Returns:
        the line, or None when ``logs`` carries no training reward (evaluation, the final summary).

    Example:
        >>> format_line(12, 200, {"reward": 0.4123, "lead/accuracy": 0.5625, "lead/length_correct": 183.2,
        ...                       "lead/difficulty_weight": 1.019, "lead/unjudgeable_frac": 0.0, "step_time": 1.842})
        'step 12/200 | reward 0.412 | accuracy 56.2% | length(correct) 183 | weight 1.02 | unjudgeable 0.0% | 1.84 s/step'

    With dynamic sampling (``dynamic/*``), what filling the step took comes before the time:

        >>> format_line(3, 0, {"reward": 0.1, "lead/accuracy": 0.5, "dynamic/groups_trained": 4.0,
        ...                    "dynamic/prompts_sampled": 8.0, "dynamic/rounds": 2.0,
        ...                    "dynamic/informative_share": 0.75, "step_time": 0.52}).split(" | ")[-2:]
        ['groups 4 informative of 8 sampled in 2 rounds (first 75%)', '0.52 s/step']
    """
    if "reward" not in logs or "lead/accuracy" not in logs:
        return None
    steps = f"{step}/{max_steps}" if max_steps > 0 else str(step)
    parts = [
        f"step {steps}",
        f"reward {_num(logs['reward'], '.3f')}",
        f"accuracy {_num(logs['lead/accuracy'], '.1%')}",
        f"length(correct) {_num(logs.get('lead/length_correct'), '.0f')}",
        f"weight {_num(logs.get('lead/difficulty_weight'), '.2f')}",
        f"unjudgeable {_num(logs.get('lead/unjudgeable_frac'), '.1%')}",
    ]
    if "dynamic/groups_trained" in logs:  # dynamic sampling: what filling the step took
        parts.append(f"groups {_num(logs['dynamic/groups_trained'], '.0f')} informative of "
                     f"{_num(logs.get('dynamic/prompts_sampled'), '.0f')} sampled in "
                     f"{_num(logs.get('dynamic/rounds'), '.0f')} rounds "
                     f"(first {_num(logs.get('dynamic/informative_share'), '.0%')})")
    parts.append(f"{_num(logs.get('step_time'), '.2f')} s/step")
    return " | ".join(parts)


class ConsoleLine:
    """Log :func:`format_line` of every training log record, on the main process only."""

    def on_log(self, args, state, control, logs=None, **kwargs):
        if not state.is_world_process_zero or not logs:
            return
        line = format_line(state.global_step, state.max_steps, logs)
        if line is not None:
            logger.info("%s", line)


class QuietLog:
    """A progress bar's ``on_log`` without its print of every logged value."""

    def on_log(self, args, state, control, logs=None, **kwargs):
        return
