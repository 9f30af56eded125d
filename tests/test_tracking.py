"""Experiment tracking without an account: a tiny run's lead/* metrics land in tensorboard's event
files and in trackio's local database, with the values metrics.jsonl has; the run writes its report."""

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from lead_lite.config import PRESET_DIR
from lead_lite.run_log import read_metrics

REPO = Path(__file__).resolve().parent.parent
TINY_RUN = ["--model", "tiny", "--max_steps", "2", "--logging_steps", "1", "--eval_size", "0", "--save_strategy", "no",
            "--per_device_train_batch_size", "8", "--num_generations", "4"]


def _lead_records(run_dir: Path) -> list[dict]:
    return [r for r in read_metrics(run_dir / "metrics.jsonl") if "lead/accuracy" in r]


def test_every_preset_tracks_offline_by_default():
    for preset in sorted(PRESET_DIR.glob("*.yaml")):
        assert yaml.safe_load(preset.read_text())["report_to"] == "tensorboard", preset.name


def test_tiny_run_logs_lead_metrics_to_tensorboard_and_ends_with_its_report(tiny_path, tmp_path, caplog):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    from lead_lite.train import main

    caplog.set_level("INFO")
    main([*TINY_RUN, "--output_dir", str(tmp_path)])  # report_to: the preset's tensorboard
    (event_dir,) = {p.parent for p in (tmp_path / "runs").rglob("events.out.tfevents.*")}
    events = EventAccumulator(str(event_dir))
    events.Reload()
    records = _lead_records(tmp_path)
    assert [r["step"] for r in records] == [1, 2]
    for key in ("lead/accuracy", "lead/reward", "lead/difficulty_weight", "lead/length_correct"):
        logged = [(e.step, e.value) for e in events.Scalars("train/" + key)]
        expected = [(r["step"], r[key]) for r in records if r[key] is not None]
        assert [s for s, _ in logged] == [s for s, _ in expected], key
        assert [v for _, v in logged] == pytest.approx([v for _, v in expected], rel=1e-6), key
    report = tmp_path / "report.html"
    assert report.is_file() and "Accuracy" in report.read_text()
    ours = [r.getMessage() for r in caplog.records if r.name.startswith("lead_lite")]
    assert ours[-1] == f"report: {report.resolve()}"  # the run's last line


@pytest.mark.slow
def test_tiny_run_logs_lead_metrics_to_trackio_locally(tiny_path, tmp_path):
    pytest.importorskip("trackio", reason="pip install trackio (requirements-dev.txt, or the trackio extra)")
    env = {**os.environ, "TRACKIO_DIR": str(tmp_path / "trackio")}
    run_dir = tmp_path / "run"
    result = subprocess.run(
        [sys.executable, "-m", "lead_lite.train", *TINY_RUN, "--output_dir", str(run_dir), "--report_to", "trackio",
         "--project", "lead-lite-test", "--run_name", "tiny"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stderr[-3000:]
    (database,) = (tmp_path / "trackio").glob("*.db")
    with sqlite3.connect(database) as db:
        rows = db.execute("SELECT step, metrics FROM metrics WHERE run_name = 'tiny' ORDER BY step").fetchall()
    logged: dict[int, dict] = {}  # a step can have several rows (TRL also logs its profiling timings)
    for step, metrics in rows:
        logged.setdefault(step, {}).update(json.loads(metrics))
    records = _lead_records(run_dir)
    assert [r["step"] for r in records] == [1, 2]
    for r in records:
        for key in ("lead/accuracy", "lead/reward", "lead/difficulty_weight"):
            assert logged[r["step"]]["train/" + key] == pytest.approx(r[key], rel=1e-6), (r["step"], key)
