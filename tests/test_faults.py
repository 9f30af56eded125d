"""Faults on CPU with the tiny model: a killed run resumes on the same trajectory, a kill while
saving never leaves a checkpoint that ``last`` loads, a verifier exception marks one completion
unjudgeable, and malformed dataset rows are reported by index and skipped (or rejected)."""

import doctest
import json
import logging
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from lead_lite import checkpoints
from lead_lite.run_log import read_metrics

REPO = Path(__file__).resolve().parent.parent
RUN = ["--model", "tiny", "--max_steps", "8", "--save_steps", "2", "--logging_steps", "1", "--eval_size", "0",
       "--per_device_train_batch_size", "16", "--num_generations", "4", "--seed", "3"]
KILL_WHILE_SAVING = textwrap.dedent("""
    import os, signal, sys
    from transformers import Trainer
    save_rng_state = Trainer._save_rng_state

    def killed_at_step_4(self, output_dir):  # adapter and optimizer written, RNG and trainer state not yet
        if self.state.global_step == 4:
            os.kill(os.getpid(), signal.SIGKILL)
        save_rng_state(self, output_dir)

    Trainer._save_rng_state = killed_at_step_4
    from lead_lite.train import main
    main(sys.argv[1:])
""")


def _env():
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(REPO))
    env.pop("WORLD_SIZE", None)
    return env


def _train(out, *extra, code=None):
    head = ["-c", code] if code else ["-m", "lead_lite.train"]
    return subprocess.run([sys.executable, *head, *RUN, "--output_dir", str(out), *extra], env=_env(), cwd=REPO,
                          capture_output=True, text=True, timeout=300)


def _records(run_dir):
    """(step, {loss, lead/*}) for every training-step record, in the order written."""
    return [(r["step"], {k: v for k, v in r.items() if k == "loss" or k.startswith("lead/")})
            for r in read_metrics(run_dir / "metrics.jsonl") if "loss" in r]


def _assert_same_trajectory(run_dir, reference):
    expected = dict(reference)
    records = _records(run_dir)
    assert sorted({step for step, _ in records}) == sorted(expected)
    for step, values in records:  # lines logged before the kill and after the resume alike
        assert values.keys() == expected[step].keys(), step
        for key, value in values.items():
            want = expected[step][key]
            assert (value is None and want is None) or value == pytest.approx(want, rel=1e-5, abs=1e-6), (step, key)


@pytest.fixture(scope="module")
def reference(tiny_path, tmp_path_factory):
    """The uninterrupted run's per-step loss and lead/* metrics."""
    out = tmp_path_factory.mktemp("uninterrupted")
    proc = _train(out)
    assert proc.returncode == 0, proc.stderr[-4000:]
    records = _records(out)
    assert [step for step, _ in records] == list(range(1, 9))
    return records


def test_killed_run_resumes_from_last_checkpoint_on_the_same_trajectory(reference, tmp_path):
    proc = subprocess.Popen([sys.executable, "-m", "lead_lite.train", *RUN, "--output_dir", str(tmp_path)],
                            env=_env(), cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    marker = tmp_path / "checkpoint-2" / checkpoints.MARKER
    deadline = time.monotonic() + 240
    while not marker.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    assert proc.wait() == -signal.SIGKILL, "the run ended before it could be killed"
    assert not (tmp_path / "summary.json").exists()

    resumed = _train(tmp_path, "--resume_from_checkpoint", "last")
    assert resumed.returncode == 0, resumed.stderr[-4000:]
    assert "resuming from" in resumed.stderr
    _assert_same_trajectory(tmp_path, reference)
    assert json.loads((tmp_path / "summary.json").read_text())["steps"] == 8


def test_a_kill_while_saving_leaves_no_checkpoint_that_last_would_load(reference, tmp_path):
    from transformers.trainer_utils import get_last_checkpoint

    killed = _train(tmp_path, code=KILL_WHILE_SAVING)
    assert killed.returncode == -signal.SIGKILL
    partial = tmp_path / "checkpoint-4"
    assert (partial / "adapter_model.safetensors").exists() and not (partial / "trainer_state.json").exists()
    assert get_last_checkpoint(str(tmp_path)) == str(partial)  # what the Trainer alone would resume from
    assert checkpoints.last_complete(tmp_path) == tmp_path / "checkpoint-2"

    resumed = _train(tmp_path, "--resume_from_checkpoint", "last")
    assert resumed.returncode == 0, resumed.stderr[-4000:]
    assert f"skipping checkpoint {partial}: no {checkpoints.MARKER}" in resumed.stderr
    assert f"resuming from {tmp_path / 'checkpoint-2'}" in resumed.stderr
    _assert_same_trajectory(tmp_path, reference)
    kept = sorted(p.name for p in tmp_path.glob("checkpoint-*"))
    assert kept == ["checkpoint-6", "checkpoint-8"]  # save_total_limit 2 (tiny preset), each complete
    assert all(checkpoints.incomplete_reason(tmp_path / name) is None for name in kept)


def test_checkpoint_marker_checks(tmp_path):
    assert doctest.testmod(checkpoints).failed == 0
    ckpt = tmp_path / "checkpoint-6"
    ckpt.mkdir()
    (ckpt / "optimizer.pt").write_bytes(b"x" * 10)
    assert "no lead_checkpoint.json" in checkpoints.incomplete_reason(ckpt)
    checkpoints.mark_complete(ckpt, 6)
    assert checkpoints.incomplete_reason(ckpt) is None
    (ckpt / "optimizer.pt").unlink()
    assert checkpoints.incomplete_reason(ckpt) == "optimizer.pt is missing"
    checkpoints.mark_complete(ckpt, 4)
    assert "for step 4" in checkpoints.incomplete_reason(ckpt)
    (ckpt / checkpoints.MARKER).write_text('{"global_st')  # cannot happen (written by rename); still refused
    assert "unreadable" in checkpoints.incomplete_reason(ckpt)
    assert checkpoints.last_complete(tmp_path) is None and checkpoints.last_complete(tmp_path / "none") is None


class FlakyVerifier:
    """A real verifier that raises on every 4th completion it is asked to judge."""

    def __init__(self):
        from lead_lite.verifier import MathVerifier, Verdict

        self.inner, self.unjudgeable_verdict = MathVerifier(), Verdict.UNJUDGEABLE
        self.unjudgeable: list[bool] = []  # per call: raised or judged unjudgeable

    def check(self, completion, gold):
        if len(self.unjudgeable) % 4 == 0:
            self.unjudgeable.append(True)
            raise RecursionError("maximum recursion depth exceeded while parsing")
        judgement = self.inner.check(completion, gold)
        self.unjudgeable.append(judgement.verdict is self.unjudgeable_verdict)
        return judgement


def test_a_verifier_exception_marks_one_completion_unjudgeable_and_training_goes_on(tiny_path, tmp_path, caplog):
    from lead_lite.config import resolve
    from lead_lite.models.loading import load_policy
    from lead_lite.tasks.arithmetic import ArithmeticTask, generate
    from lead_lite.training import build_trainer

    (config,) = resolve(
        ["--model", "tiny", "--output_dir", str(tmp_path), "--max_steps", "2", "--save_steps", "100",
         "--per_device_train_batch_size", "16", "--num_generations", "4", "--reward_weights", "1.0", "0.0",
         "--logging_steps", "1"])
    model, tokenizer, peft_config, _ = load_policy(config.model, config.training)
    verifier = FlakyVerifier()
    trainer = build_trainer(config, model, tokenizer, peft_config, ArithmeticTask(verifier), generate(64, seed=1))
    with caplog.at_level(logging.WARNING, logger="lead_lite.rewards"):
        trainer.train()
    verifier.inner.close()
    assert trainer.state.global_step == 2
    assert len(verifier.unjudgeable) == 2 * 16
    logged = [r["lead/unjudgeable_frac"] for r in read_metrics(tmp_path / "metrics.jsonl") if "loss" in r]
    per_step = [sum(verifier.unjudgeable[i:i + 16]) / 16 for i in (0, 16)]
    assert logged == pytest.approx(per_step) and min(logged) >= 0.25
    assert caplog.text.count("failed; marked unjudgeable") == 2 * 4
    assert "RecursionError" in caplog.text


BAD_ROWS = [
    ({"problem": "Ann has 2 pens and gets 3 more. How many pens does Ann have now?"}, "answer is missing"),
    ({"problem": "   ", "answer": "4"}, "problem is empty"),
    ({"problem": 7, "answer": "7"}, "problem is a int, not a string"),
    ({"problem": "Sam has 1 pens and gets 1 more. How many pens does Sam have now?", "answer": ["2"]},
     "answer is a list, not a string or number"),
    ({"problem": "Tom has 3 pens and gets 3 more. How many pens does Tom have now?", "answer": {"value": 6}},
     "answer is a dict, not a string or number"),
    ({"problem": "Mia has 5 pens and gets 1 more. How many pens does Mia have now?", "answer": True},
     "answer is a bool, not a string or number"),
    ({"problem": "Bob has 4 pens and gets 4 more. How many pens does Bob have now?", "answer": " "},
     "answer is empty"),
]


def _dataset(path):
    from lead_lite.tasks import arithmetic
    from lead_lite.tasks.arithmetic import PROMPT_SUFFIX

    good = [{"problem": r["prompt"].removesuffix(PROMPT_SUFFIX), "answer": r["answer"]}
            for r in arithmetic.generate(10, seed=5)]
    good[3]["answer"] = int(good[3]["answer"])  # a numeric gold answer is a usable answer
    rows, bad_at = list(good), {}
    for k, (row, why) in enumerate(BAD_ROWS):
        at = 2 * k + 1
        rows.insert(at, row)
        bad_at[at] = why
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    return len(good), bad_at


def test_malformed_rows_are_reported_by_index_and_skipped_through_the_cli(tiny_path, tmp_path):
    n_good, bad_at = _dataset(tmp_path / "mine.jsonl")
    proc = subprocess.run(
        [sys.executable, "-m", "lead_lite.train", "--model", "tiny", "--dataset", str(tmp_path / "mine.jsonl"),
         "--max_steps", "1", "--eval_size", "0", "--per_device_train_batch_size", "8", "--num_generations", "4",
         "--output_dir", str(tmp_path / "run")],
        env=_env(), cwd=REPO, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-4000:]
    for at, why in bad_at.items():
        assert f"row {at} skipped: {why}" in proc.stderr
    assert f"skipped {len(bad_at)} malformed row(s) of {n_good + len(bad_at)}" in proc.stderr
    assert f"data: {n_good} training prompts" in proc.stderr
    assert json.loads((tmp_path / "run" / "summary.json").read_text())["steps"] == 1


def test_malformed_rows_stop_the_run_with_bad_rows_error(tiny_path, tmp_path, caplog):
    from lead_lite.tasks.sources import DataError
    from lead_lite.train import main

    _, bad_at = _dataset(tmp_path / "mine.jsonl")
    common = ["--model", "tiny", "--dataset", str(tmp_path / "mine.jsonl"), "--max_steps", "1", "--eval_size", "0",
              "--output_dir", str(tmp_path / "run")]
    with caplog.at_level("ERROR"), pytest.raises(SystemExit) as exc:  # one error line, exit code 2
        main([*common, "--bad_rows", "error"])
    assert exc.value.code == 2 and isinstance(exc.value.__cause__, DataError)
    (line,) = [r.getMessage() for r in caplog.records if r.levelname == "ERROR"]
    assert f"{len(bad_at)} malformed row(s) (bad_rows=error)" in line and "\n" not in line
    for at, why in bad_at.items():
        assert f"row {at}: {why}" in line
    assert not (tmp_path / "run" / "metrics.jsonl").exists()
    with pytest.raises(SystemExit) as bad_value:
        main([*common, "--bad_rows", "ignore"])
    assert bad_value.value.code == 2 and "bad_rows='ignore'" in caplog.text
