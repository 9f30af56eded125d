"""Beyond one process: the accelerate configs, the backend under a multi-process launch, and LEAD
statistics when a group's completions are split across processes (2 CPU processes, gloo)."""

import importlib.util
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from helpers import parse

from lead_lite import advantages as adv
from lead_lite.config import LeadArguments
from lead_lite.run_log import read_metrics
from lead_lite.trainer import lead_batch

REPO = Path(__file__).resolve().parent.parent
ACCELERATE_CONFIGS = REPO / "configs" / "accelerate"


@pytest.mark.parametrize("name,zero_stage", [("ddp", None), ("zero2", "2"), ("zero3", "3")])
def test_accelerate_configs_resolve_as_accelerate_launch_reads_them(name, zero_stage):
    from accelerate.commands.launch import _validate_launch_command, launch_command_parser
    from accelerate.utils.launch import prepare_deepspeed_cmd_env, prepare_multi_gpu_env

    path = ACCELERATE_CONFIGS / f"{name}.yaml"
    args = launch_command_parser().parse_args(
        ["--config_file", str(path), "--num_processes", "4", "-m", "lead_lite.train", "--backend", "trl"])
    args, defaults, mp_from_config = _validate_launch_command(args)
    assert args.num_processes == 4 and args.mixed_precision == "bf16"
    if zero_stage is None:
        assert args.multi_gpu and not args.use_deepspeed
        prepare_multi_gpu_env(args)
        return
    assert args.use_deepspeed and not args.multi_gpu
    # what `accelerate launch` does before handing over to the DeepSpeed launcher
    args.deepspeed_fields_from_accelerate_config = ",".join([*defaults.deepspeed_config, "mixed_precision"])
    _, env = prepare_deepspeed_cmd_env(args)
    assert env["ACCELERATE_USE_DEEPSPEED"] == "true"
    assert env["ACCELERATE_DEEPSPEED_ZERO_STAGE"] == zero_stage
    assert env["ACCELERATE_DEEPSPEED_ZERO3_INIT"] == ("true" if zero_stage == "3" else "false")


def test_unsloth_backend_is_single_process_and_auto_falls_back_to_trl(monkeypatch):
    from lead_lite.config import ModelArguments, resolve, resolve_backend
    from lead_lite.models.loading import load_policy

    find_spec, is_available = importlib.util.find_spec, torch.cuda.is_available
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)  # a GPU machine with unsloth installed
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: object() if name == "unsloth" else find_spec(name, *a))
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    assert resolve_backend("auto") == "unsloth"

    monkeypatch.setenv("WORLD_SIZE", "2")  # as under accelerate launch / torchrun / deepspeed
    assert resolve_backend("auto") == "trl"
    # TrainingArguments sets up its device while parsing (a pretended GPU or a 2-process launch without
    # its rendezvous fails there): resolve on this machine as it is
    monkeypatch.setattr(torch.cuda, "is_available", is_available)
    monkeypatch.delenv("WORLD_SIZE")
    (config,) = resolve(["--model", "qwen3-1.7b", "--output_dir", "/tmp/x"])  # unsloth is not imported
    assert config.model.backend == "trl" and config.requested_backend == "auto"
    monkeypatch.setenv("WORLD_SIZE", "2")
    explicit = ModelArguments(model="qwen3-1.7b", model_name_or_path="Qwen/Qwen3-1.7B", backend="unsloth")
    with pytest.raises(RuntimeError, match="trains on one GPU") as exc:
        load_policy(explicit, training_args=None)  # refused before anything loads
    message = str(exc.value)
    assert "2 processes" in message and "--backend trl" in message and "docs/scaling.md" in message
    assert "accelerate launch --config_file configs/accelerate/<ddp|zero2|zero3>.yaml" in message
    for name in ("ddp", "zero2", "zero3"):
        assert (ACCELERATE_CONFIGS / f"{name}.yaml").is_file()
    assert (REPO / "docs" / "scaling.md").is_file()


def _same(x: float, y: float) -> bool:
    """Equal within float32 noise, or both NaN (an unjudgeable value, a metric with no samples)."""
    return (math.isnan(x) and math.isnan(y)) or x == pytest.approx(y, abs=1e-6)


def test_groups_split_across_two_processes_get_single_process_lead_statistics(tiny_path, tmp_path):
    """2 processes x 6 completions, groups of G = 4: the middle group has 2 completions on each.

    Each process runs the real entry point and LEAD trainer (tests/dist_worker.py records what it
    sees). Here, in one process, the same completions are judged again and routed through
    ``lead_batch``: rewards, rho, advantages and the lead/* metrics must be the same.
    """
    from lead_lite.rewards import HasAnswer, MathAccuracy

    n_local, group = 6, 4
    assert n_local % group, "the test needs a group split across the two processes"
    run_dir = tmp_path / "run"
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(REPO), LEAD_DIST_RECORD=str(tmp_path))
    env.pop("WORLD_SIZE", None)
    cmd = [sys.executable, "-m", "accelerate.commands.launch", "--config_file", str(ACCELERATE_CONFIGS / "ddp.yaml"),
           "--num_processes", "2", str(REPO / "tests" / "dist_worker.py"),
           "--model", "tiny", "--output_dir", str(run_dir), "--max_steps", "2", "--save_steps", "2",
           "--per_device_train_batch_size", str(n_local), "--num_generations", str(group),
           "--eval_size", "0", "--logging_steps", "1"]
    proc = subprocess.run(cmd, env=env, cwd=REPO, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-4000:]

    records = [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in (0, 1)]
    assert [r["world_size"] for r in records] == [2, 2]
    assert len(records[0]["rounds"]) == len(records[1]["rounds"]) == 2
    lead = LeadArguments()
    accuracy, has_answer = MathAccuracy(), HasAnswer()
    for step, (r0, r1) in enumerate(zip(records[0]["rounds"], records[1]["rounds"], strict=True)):
        texts, answers = r0["texts"] + r1["texts"], r0["answers"] + r1["answers"]
        assert len(texts) == 2 * n_local
        # a split group: its prompt's answer on both sides of the process boundary
        assert answers[n_local - 1] == answers[n_local]
        acc = [math.nan if v is None else v for v in accuracy(completions=texts, answer=answers)]
        columns = torch.tensor([acc, has_answer(completions=texts)]).T  # (N, F)
        lengths = torch.tensor(r0["lengths"] + r1["lengths"], dtype=torch.float32)  # (N,)
        expected, expected_metrics = lead_batch(columns, lengths, group, torch.tensor([1.0, 0.0]), lead, 0, 1)

        correct = columns[:, 0].view(-1, group)  # (P, G)
        expected_rewards = adv.lead_rewards(correct, lengths.view(-1, group))  # (P, G)
        expected_rho = adv.group_accuracy(correct)  # (P, 1)
        for rank, rec in enumerate((r0, r1)):
            seen = torch.tensor(rec["gathered_columns"])  # (N, F) what this process's LEAD trainer routed
            seen_lengths = torch.tensor(rec["gathered_lengths"])  # (N,)
            assert torch.allclose(seen, columns, equal_nan=True), (step, rank)
            assert torch.equal(seen_lengths, lengths), (step, rank)
            seen_correct = seen[:, 0].view(-1, group)
            assert torch.allclose(adv.lead_rewards(seen_correct, seen_lengths.view(-1, group)), expected_rewards,
                                  equal_nan=True)
            assert torch.allclose(adv.group_accuracy(seen_correct), expected_rho, equal_nan=True)
            local = expected[rank * n_local:(rank + 1) * n_local]
            assert torch.allclose(torch.tensor(rec["advantages"]), local, atol=1e-6), (step, rank)
            generated = rec["metrics"].pop("lead/generated_tokens")  # every process's completions
            assert generated == float(lengths.sum()), (step, rank)
            assert set(rec["metrics"]) == set(expected_metrics)
            assert all(_same(v, expected_metrics[k]) for k, v in rec["metrics"].items()), (step, rank)

    # the entry point under 2 processes: one writer for the run's files, one metrics line per step
    steps = [r["step"] for r in read_metrics(run_dir / "metrics.jsonl") if "lead/accuracy" in r]
    assert steps == [1, 2]
    assert (run_dir / "resolved_config.yaml").read_text().count("backend_in_use: trl") == 1
    assert json.loads((run_dir / "summary.json").read_text())["steps"] == 2
    assert (run_dir / "checkpoint-2" / "lead_checkpoint.json").is_file()
    assert (run_dir / "checkpoint-2" / "rng_state_1.pth").is_file()  # both processes' RNG states saved


def test_memory_plan_of_a_training_gpu_in_vllm_server_mode():
    from lead_lite.memory_plan import dry_run

    # trl + 4-bit + colocate is refused when resolved (TRL's weight sync crashes); planned here all the same
    model, _, _, training = parse(["--model", "qwen3-8b", "--backend", "trl", "--vllm_mode", "server", "--dry-run"])
    training.vllm_mode = "colocate"
    colocate_fits, colocate = dry_run(model, training, "24", backend="trl")
    training.vllm_mode = "server"
    server_fits, server = dry_run(model, training, "24", backend="trl")
    assert not colocate_fits and "vLLM pool" in colocate  # a second, 16-bit copy inside vLLM's pool
    assert server_fits and "vLLM pool" not in server and "on the vLLM server's GPU" in server
