"""Files a run writes: one run per directory, whole files and lines (a full disk included), no input
overwritten, torn lines repaired only where this run owns the file; then the same rules through
the entry points (train, sft, eval, difficulty, filter) on the tiny model."""

import errno
import json
import logging
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from lead_lite import run_files
from lead_lite.run_files import RunFileError
from lead_lite.run_log import JsonlMetrics, read_metrics

REPO = Path(__file__).resolve().parent.parent


def enospc(*_args, **_kwargs):
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


# -- whole files, whole lines ----------------------------------------------------------------------
def test_write_atomic_on_a_full_disk_keeps_the_old_file_and_leaves_no_temporary(tmp_path, monkeypatch):
    path = tmp_path / "summary.json"
    run_files.write_atomic(path, '{"steps": 8}')
    monkeypatch.setattr(run_files.os, "fsync", enospc)
    with pytest.raises(RunFileError) as exc:
        run_files.write_atomic(path, '{"steps": 9}')
    assert str(exc.value) == f"{path}: cannot write (disk full (no space left on the device)); the previous file is unchanged"
    assert "\n" not in str(exc.value)
    assert path.read_text() == '{"steps": 8}'
    assert sorted(p.name for p in tmp_path.iterdir()) == ["summary.json"]


def test_append_line_on_a_full_disk_cuts_back_the_partial_line(tmp_path, monkeypatch):
    path = tmp_path / "metrics.jsonl"
    run_files.append_line(path, {"step": 1, "loss": 0.5})
    real_write = os.write

    def half_then_full(fd, data):  # the disk fills part-way through the line
        real_write(fd, data[: len(data) // 2])
        enospc()

    monkeypatch.setattr(run_files.os, "write", half_then_full)
    with pytest.raises(RunFileError, match="disk full.*the lines written before are kept"):
        run_files.append_line(path, {"step": 2, "loss": 0.25})
    assert path.read_text() == '{"step": 1, "loss": 0.5}\n'
    monkeypatch.undo()
    run_files.append_line(path, {"step": 2, "loss": 0.25})
    assert [r["step"] for r in read_metrics(path)] == [1, 2]


def test_a_short_write_is_finished(tmp_path, monkeypatch):
    real_write = os.write
    monkeypatch.setattr(run_files.os, "write", lambda fd, data: real_write(fd, data[:3]))
    run_files.append_line(tmp_path / "m.jsonl", {"step": 7})
    assert (tmp_path / "m.jsonl").read_text() == '{"step": 7}\n'


def test_repair_never_loses_a_complete_line_and_never_cuts_a_file_it_does_not_own(tmp_path):
    path = tmp_path / "data.jsonl"
    path.write_text('{"k": 1}\n{"k": 2}')  # a user's file without a final newline: complete, not torn
    assert run_files.repair_jsonl(path, owned=False) == "added the missing final newline"
    assert path.read_text() == '{"k": 1}\n{"k": 2}\n'
    assert run_files.repair_jsonl(path, owned=True) is None  # already whole

    path.write_text('{"k": 1}\n{"k": 2, "no')
    with pytest.raises(RunFileError, match="not written by this command"):
        run_files.repair_jsonl(path, owned=False)
    assert path.read_text() == '{"k": 1}\n{"k": 2, "no'  # untouched
    assert run_files.repair_jsonl(path, owned=True) == "removed a torn last line (12 bytes)"
    assert path.read_text() == '{"k": 1}\n'
    assert run_files.repair_jsonl(tmp_path / "absent.jsonl", owned=True) is None


def test_read_metrics_skips_a_torn_last_line_but_names_a_broken_middle_one(tmp_path):
    path = tmp_path / "metrics.jsonl"
    path.write_text('{"step": 1}\n{"step": 2}\n{"ste')
    assert read_metrics(path) == [{"step": 1}, {"step": 2}]
    path.write_text('{"step": 1}\nnot json\n{"step": 3}\n')
    with pytest.raises(ValueError, match="line 2: not JSON"):
        read_metrics(path)


def test_an_output_equal_to_an_input_is_refused(tmp_path, monkeypatch):
    data = tmp_path / "problems.jsonl"
    data.write_text("{}\n")
    (tmp_path / "link.jsonl").symlink_to(data)
    os.link(data, tmp_path / "hard.jsonl")
    monkeypatch.chdir(tmp_path)
    for output in (data, "problems.jsonl", "./sub/../problems.jsonl", tmp_path / "link.jsonl", "hard.jsonl"):
        with pytest.raises(RunFileError, match="is the same file as --data"):
            run_files.refuse_same_file(output, {"--data": str(data)}, "--output")
    run_files.refuse_same_file("other.jsonl", {"--data": str(data), "--adapter": None}, "--output")


# -- run directories -------------------------------------------------------------------------------
def _lock_of(run_dir, pid, host=None):
    (run_dir / run_files.LOCK).write_text(json.dumps({"pid": pid, "host": host or socket.gethostname(),
                                                      "since": "2026-01-01 00:00:00"}))


def test_a_live_lock_refuses_and_a_stale_one_is_taken_over(tmp_path, caplog):
    live = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        _lock_of(tmp_path, live.pid)
        with pytest.raises(RunFileError, match=f"in use by another run \\(process {live.pid}, since"):
            run_files.claim_run_dir(tmp_path, "train")
        _lock_of(tmp_path, live.pid, host="elsewhere")
        with pytest.raises(RunFileError, match="on host elsewhere"):
            run_files.claim_run_dir(tmp_path, "train")
    finally:
        live.kill()
        live.wait()
    _lock_of(tmp_path, live.pid)  # its process is gone: a killed run's lock
    with caplog.at_level(logging.WARNING, logger="lead_lite.run_files"):
        lock = run_files.claim_run_dir(tmp_path, "train", resume=True)
    assert f"taking over the lock of process {live.pid}, which is no longer running" in caplog.text
    assert json.loads(lock.path.read_text())["pid"] == os.getpid()
    lock.release()
    assert not lock.path.exists()


def test_a_non_empty_directory_needs_resume_or_overwrite(tmp_path, caplog):
    (tmp_path / "metrics.jsonl").write_text('{"step": 1}\n')
    with pytest.raises(RunFileError) as exc:
        run_files.claim_run_dir(tmp_path, "train")
    assert str(exc.value) == (f"--output_dir {tmp_path} already holds files of another run (metrics.jsonl); resume it "
                              "with --resume_from_checkpoint last, choose another --output_dir, or pass "
                              "--overwrite_output_dir true")
    assert not (tmp_path / run_files.LOCK).exists()  # a refused claim leaves no lock behind
    run_files.claim_run_dir(tmp_path, "train", resume=True).release()
    with caplog.at_level(logging.WARNING):
        run_files.claim_run_dir(tmp_path, "train", overwrite=True).release()
    assert "overwriting an earlier run's files" in caplog.text
    assert run_files.run_kind(tmp_path) == "train"
    run_files.claim_run_dir(tmp_path / "fresh", "sft").release()  # created, empty: fine
    assert run_files.run_kind(tmp_path / "fresh") == "sft"


def test_eval_refuses_a_training_run_and_a_file_is_not_a_directory(tmp_path):
    run_files.claim_run_dir(tmp_path / "run", "train").release()
    with pytest.raises(RunFileError, match="holds a train run; write the evaluation elsewhere"):
        run_files.claim_run_dir(tmp_path / "run", "eval", overwrite=True)
    old = tmp_path / "old"  # a training run written before runs were marked
    old.mkdir()
    (old / "adapter_config.json").write_text("{}")
    with pytest.raises(RunFileError, match="holds a train run"):
        run_files.refuse_training_run(old)
    (tmp_path / "file").write_text("x")
    with pytest.raises(RunFileError, match="is a file, not a directory"):
        run_files.claim_run_dir(tmp_path / "file", "eval")


class _State:
    def __init__(self, step):
        self.global_step, self.is_world_process_zero = step, True


def test_metrics_file_fresh_run_starts_anew_and_resume_drops_later_lines(tmp_path):
    path = tmp_path / "metrics.jsonl"
    path.write_text("".join(json.dumps({"step": s, "loss": s / 10}) + "\n" for s in (1, 2, 3, 4)) + '{"step": 5, "lo')
    JsonlMetrics(path).on_train_begin(None, _State(2), None)  # resumed from checkpoint-2
    assert [r["step"] for r in read_metrics(path)] == [1, 2] and path.read_text().endswith("\n")
    callback = JsonlMetrics(path)
    callback.on_log(None, _State(3), None, logs={"loss": float("nan")})
    assert read_metrics(path)[-1] == {"step": 3, "loss": None}
    callback.on_train_begin(None, _State(0), None)  # a fresh run (overwrite): no earlier line survives
    assert path.read_text() == ""


# -- through the entry points ----------------------------------------------------------------------
def _env():
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(REPO))
    env.pop("WORLD_SIZE", None)
    return env


def _cli(module, *args):
    return subprocess.run([sys.executable, "-m", module, *map(str, args)], env=_env(), cwd=REPO,
                          capture_output=True, text=True, timeout=300)


TINY = ["--model", "tiny", "--eval_size", "0", "--train_size", "32", "--per_device_train_batch_size", "8",
        "--num_generations", "4", "--max_completion_length", "16", "--logging_steps", "1", "--save_steps", "2"]


def _steps(run_dir):
    return [r["step"] for r in read_metrics(run_dir / "metrics.jsonl") if "loss" in r]


def test_train_refuses_a_second_run_and_resume_never_duplicates_lines(tiny_path, tmp_path, caplog):
    from lead_lite import eval as evaluation
    from lead_lite import train

    run = tmp_path / "run"
    first = _cli("lead_lite.train", *TINY, "--max_steps", "4", "--output_dir", run)
    assert first.returncode == 0, first.stderr[-3000:]
    assert not (run / run_files.LOCK).exists() and run_files.run_kind(run) == "train"
    summary = (run / "summary.json").read_text()

    # a plain rerun, and an evaluation into the run: refused before anything loads or is written
    for main, argv, why in ((train.main, [*TINY, "--max_steps", "4"], "already holds files of another run"),
                            (evaluation.main, ["--model", "tiny", "--k", "1"], f"--output_dir {run} holds a train run")):
        caplog.clear()
        with pytest.raises(SystemExit) as exc:
            main([*argv, "--output_dir", str(run)])
        assert exc.value.code == 2 and why in caplog.text and "loading" not in caplog.text.lower()
    assert _steps(run) == [1, 2, 3, 4] and (run / "summary.json").read_text() == summary

    # killed after step 3 was logged, with a line torn by the kill; checkpoint-4 never written
    import shutil

    shutil.rmtree(run / "checkpoint-4")
    lines = (run / "metrics.jsonl").read_text().splitlines(keepends=True)
    (run / "metrics.jsonl").write_text("".join(lines[:3]) + lines[3][:20])
    resumed = _cli("lead_lite.train", *TINY, "--max_steps", "4", "--output_dir", run, "--resume_from_checkpoint", "last")
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "removed a torn last line" in resumed.stderr and "dropped 1 line(s) logged after step 2" in resumed.stderr
    assert _steps(run) == [1, 2, 3, 4]

    overwritten = _cli("lead_lite.train", *TINY, "--max_steps", "2", "--output_dir", run, "--overwrite_output_dir", "true")
    assert overwritten.returncode == 0, overwritten.stderr[-3000:]
    assert _steps(run) == [1, 2] and json.loads((run / "summary.json").read_text())["steps"] == 2


def test_sft_resumes_from_its_last_checkpoint(tiny_path, tmp_path):
    run = tmp_path / "sft"
    sft = ["--model", "tiny", "--train_size", "32", "--per_device_train_batch_size", "8", "--num_generations", "4",
           "--logging_steps", "1", "--save_steps", "2", "--output_dir", run]
    first = _cli("lead_lite.sft", *sft, "--max_steps", "2")
    assert first.returncode == 0, first.stderr[-3000:]
    assert (run / "checkpoint-2" / "lead_checkpoint.json").exists()
    resumed = _cli("lead_lite.sft", *sft, "--max_steps", "4", "--resume_from_checkpoint", "last")
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert f"resuming from {run / 'checkpoint-2'}" in resumed.stderr
    assert json.loads((run / "summary.json").read_text())["steps"] == 4
    assert _steps(run) == [1, 2, 3, 4]
    assert sorted(p.name for p in run.glob("checkpoint-*")) == ["checkpoint-2", "checkpoint-4"]


PASS_RATE = {"id": "p:0", "problem": "What is 1+1?", "answer": "2", "pass_rate": 0.5, "correct": 1, "judged": 2,
             "k": 2, "unjudgeable": 0, "no_answer": 0, "truncated": 0, "mean_length": 9.0}


def test_difficulty_and_filter_never_modify_their_inputs(tmp_path, caplog):
    from lead_lite.difficulty import filter_main, main

    data = tmp_path / "problems.jsonl"
    data.write_text('{"problem": "What is 1+1?", "answer": "2"}\n{"problem": "What is 2+2?", "answer": "4"}')
    before = data.read_bytes()
    for argv, why in (
        (["--data", data, "--output", data], "is the same file as --data"),
        (["--data", data, "--output", tmp_path], "is a directory"),
        (["--data", data, "--output", tmp_path / "other.jsonl"], "line 1: not a pass-rate record"),
    ):
        (tmp_path / "other.jsonl").write_text('{"problem": "x", "answer": "1"}')
        caplog.clear()
        with pytest.raises(SystemExit) as exc:
            main([str(a) for a in argv])
        assert exc.value.code == 2 and why in caplog.text, (argv, caplog.text)
    assert data.read_bytes() == before and (tmp_path / "other.jsonl").read_text() == '{"problem": "x", "answer": "1"}'

    rates = tmp_path / "rates.jsonl"
    rates.write_text(json.dumps(PASS_RATE))  # complete, without its final newline
    binary = tmp_path / "binary.jsonl"
    binary.write_bytes(b"\x00\xff\xfe" * 10)
    broken = tmp_path / "broken.jsonl"
    broken.write_text(json.dumps(PASS_RATE) + "\n{oops\n" + json.dumps(PASS_RATE) + "\n")
    for argv, why in (
        (["--pass_rates", rates, "--output", rates], "is the same file as --pass_rates"),
        (["--pass_rates", tmp_path / "none.jsonl", "--output", tmp_path / "o.jsonl"], "none.jsonl: no such file"),
        (["--pass_rates", binary, "--output", tmp_path / "o.jsonl"], "not UTF-8 text"),
        (["--pass_rates", broken, "--output", tmp_path / "o.jsonl"], "broken.jsonl, line 2: not JSON"),
    ):
        caplog.clear()
        with pytest.raises(SystemExit) as exc:
            filter_main([str(a) for a in argv])
        assert exc.value.code == 2 and why in caplog.text, (argv, caplog.text)
    assert not (tmp_path / "o.jsonl").exists() and rates.read_text() == json.dumps(PASS_RATE)
    counts = filter_main(["--pass_rates", str(rates), "--keep", "0.1:0.9", "--output", str(tmp_path / "o.jsonl")])
    assert counts["kept"] == 1 and json.loads((tmp_path / "o.jsonl").read_text())["source_id"] == "p:0"
