"""The same command twice on one machine gives the same metrics and summary (tiny model, CPU).

Only wall-clock fields may differ. One torch thread per run, as in the other CLI tests (a
shared 2-core machine runs two threads far slower).
"""

import json
import os
import subprocess
import sys
from pathlib import Path

from lead_lite.run_log import read_metrics

REPO = Path(__file__).resolve().parent.parent
TIMING = {"step_time", "train_runtime", "train_samples_per_second", "train_steps_per_second"}
COMMAND = ["-m", "lead_lite.train", "--model", "tiny", "--max_steps", "3", "--train_size", "32", "--eval_size", "8",
           "--per_device_train_batch_size", "8", "--num_generations", "4", "--max_completion_length", "32",
           "--logging_steps", "1", "--save_strategy", "no", "--seed", "5", "--eval_max_new_tokens", "64"]


def _run(out: Path) -> tuple[list[dict], dict]:
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(REPO))
    env.pop("WORLD_SIZE", None)
    proc = subprocess.run([sys.executable, *COMMAND, "--output_dir", str(out)], env=env, cwd=REPO,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-4000:]
    metrics = [{k: v for k, v in r.items() if k not in TIMING} for r in read_metrics(out / "metrics.jsonl")]
    return metrics, json.loads((out / "summary.json").read_text())


def test_the_same_command_twice_gives_identical_metrics_and_summary(tiny_path, tmp_path):
    (first, summary), (second, summary_again) = _run(tmp_path / "first"), _run(tmp_path / "second")
    assert [r["step"] for r in first if "loss" in r] == [1, 2, 3]
    assert first == second  # every loss, reward and lead/* value, bit for bit
    assert summary == summary_again  # accuracy and length before and after, adapter checksums
    assert summary["before"]["accuracy"] is not None and summary["adapter_digest"] != summary["start_adapter_digest"]
