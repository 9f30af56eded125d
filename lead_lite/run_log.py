"""The run directory's metrics file: one JSON object per logging step (``metrics.jsonl``).

Each line is appended whole (:func:`lead_lite.run_files.append_line`). A fresh run starts the
file anew; a resumed run first repairs a torn last line (a kill or a full disk) and drops the
lines logged after the step it resumes from, so every step appears once.
"""

from __future__ import annotations

import json
import logging
import math
from pathlib import Path

from lead_lite import run_files

logger = logging.getLogger(__name__)


def _clean(value):
    if isinstance(value, float) and not math.isfinite(value):
        return None  # JSON has no NaN; a metric with no samples is written as null
    return value


class JsonlMetrics:
    """Append every ``Trainer.log`` call to ``path`` as a JSON line with its step.

    The ``on_log`` event (and ``on_train_begin``) of a ``TrainerCallback``, mixed in front of
    transformers' class by :func:`lead_lite.training.metrics_callback` (so this module does not
    import transformers).

    At the start of training (main process only): a run from step 0 empties the file (the run
    directory was claimed by :func:`lead_lite.run_files.claim_run_dir`, so it is this run's); a
    resumed run at step N keeps the lines of steps <= N and drops the later ones.
    """

    def __init__(self, path: Path):
        self.path = Path(path)

    def on_train_begin(self, args, state, control, **kwargs):
        if not state.is_world_process_zero:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if state.global_step == 0:
            run_files.write_atomic(self.path, "")
            return
        run_files.repair_jsonl(self.path, owned=True)
        try:
            records = read_metrics(self.path) if self.path.exists() else []
        except (ValueError, UnicodeDecodeError) as exc:  # a broken line inside the file: not this run's to cut
            raise run_files.RunFileError(f"{exc}; fix or remove that line to resume, or start again with "
                                         "--overwrite_output_dir true") from exc
        kept = [r for r in records if r.get("step", 0) <= state.global_step]
        if len(kept) < len(records):
            logger.info("%s: dropped %d line(s) logged after step %d, the step this run resumes from", self.path,
                        len(records) - len(kept), state.global_step)
            run_files.write_atomic(self.path, "".join(json.dumps(r) + "\n" for r in kept))

    def on_log(self, args, state, control, logs=None, **kwargs):
        if not state.is_world_process_zero or not logs:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        run_files.append_line(self.path, {"step": state.global_step, **{k: _clean(v) for k, v in logs.items()}})


def read_metrics(path: Path) -> list[dict]:
    """The records of a ``metrics.jsonl`` file, in order.

    A last line without its newline that is not valid JSON (torn by a kill or a full disk) is
    skipped with a warning; any other line that is not a JSON object raises ``ValueError`` naming it.

    Example:
        >>> import tempfile
        >>> p = Path(tempfile.mkdtemp()) / "metrics.jsonl"
        >>> _ = p.write_text('{"step": 1, "loss": 0.5}\\n{"step": 2, "lo')
        >>> read_metrics(p)
        [{'step': 1, 'loss': 0.5}]
    """
    path = Path(path)
    return run_files.parse_jsonl(path, path.read_text())
