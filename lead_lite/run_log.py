"""The run directory's metrics file: one JSON object per logging step (``metrics.jsonl``)."""

from __future__ import annotations

import json
import math
from pathlib import Path


def _clean(value):
    if isinstance(value, float) and not math.isfinite(value):
        return None  # JSON has no NaN; a metric with no samples is written as null
    return value


class JsonlMetrics:
    """Append every ``Trainer.log`` call to ``path`` as a JSON line with its step.

    The ``on_log`` event of a ``TrainerCallback``, mixed in front of transformers' class by
    :func:`lead_lite.training.metrics_callback` (so this module does not import transformers).

    Lines written before a resume are kept; a resumed run appends after them.
    """

    def __init__(self, path: Path):
        self.path = Path(path)

    def on_log(self, args, state, control, logs=None, **kwargs):
        if not state.is_world_process_zero or not logs:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        record = {"step": state.global_step, **{k: _clean(v) for k, v in logs.items()}}
        with self.path.open("a") as f:
            f.write(json.dumps(record) + "\n")


def read_metrics(path: Path) -> list[dict]:
    """The records of a ``metrics.jsonl`` file, in order."""
    with Path(path).open() as f:
        return [json.loads(line) for line in f if line.strip()]
