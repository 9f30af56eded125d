"""The Unsloth seam and the backend choices around it.

The test marked ``unsloth`` runs in the second CI stage's venv (Unsloth 2026.10.9 in its CPU mode);
the others need no Unsloth and run in the main suite.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
from helpers import parse

REPO = Path(__file__).resolve().parent.parent


def test_backend_is_read_from_the_flag_then_yaml_then_preset(tmp_path):
    from lead_lite.config import resolve

    config = tmp_path / "run.yaml"
    config.write_text("model: qwen3-1.7b\nbackend: trl\nuse_vllm: false\n")
    out = ["--output_dir", str(tmp_path / "run")]
    assert resolve(["--config", str(config), *out])[0].requested_backend == "trl"
    assert resolve(["--model", "qwen3-1.7b", *out])[0].requested_backend == "auto"  # the preset's
    assert resolve(["--model", "tiny", *out])[0].requested_backend == "trl"
    flagged = resolve(["--config", str(config), "--backend", "auto", *out])[0]
    assert flagged.requested_backend == "auto" and flagged.model.backend == "trl"  # no CUDA: auto is trl


def test_known_bad_combinations_stop_before_anything_loads():
    from lead_lite.config import ConfigError, ModelArguments, refuse_known_bad_combinations

    with pytest.raises(ConfigError, match="use backend: unsloth, or load_in_4bit: false, or use_vllm: false") as exc:
        parse(["--model", "qwen3-1.7b", "--backend", "trl", "--use_vllm", "true"])  # the preset: 4-bit, colocate
    assert "#4973" in str(exc.value) and "\n" not in str(exc.value)
    # the server holds its own 16-bit copy: allowed (planned, so that vLLM need not be installed here)
    server = SimpleNamespace(use_vllm=True, vllm_mode="server")
    refuse_known_bad_combinations(ModelArguments(backend="trl", load_in_4bit=True, dry_run=True), server)

    assert not torch.cuda.is_available()
    with pytest.raises(ConfigError, match="fast_inference, which needs a CUDA GPU.*set use_vllm: false"):
        parse(["--model", "tiny", "--backend", "unsloth", "--use_vllm", "true"])
    parse(["--model", "qwen3-1.7b", "--backend", "unsloth", "--dry-run"])  # a dry run only plans
    if importlib.util.find_spec("unsloth") is None:
        with pytest.raises(ConfigError, match="unsloth is not installed"):
            parse(["--model", "tiny", "--backend", "unsloth"])
    else:
        model_args, _, _, training = parse(["--model", "tiny", "--backend", "unsloth"])
        assert model_args.backend == "unsloth" and not training.use_vllm


@pytest.mark.unsloth
def test_unsloth_backend_runs_grpo_lead_in_cpu_mode(tmp_path):
    if importlib.util.find_spec("unsloth") is None:
        pytest.skip("unsloth is not installed (requirements-vllm-cpu.txt)")
    config = tmp_path / "run.yaml"
    config.write_text("model: tiny\nbackend: unsloth\n")  # the backend from YAML, no flag
    script = """
import json, sys
from lead_lite import train
summary = train.main(sys.argv[1:])
from lead_lite.trainer import lead_trainer_class
print("RESULT " + json.dumps({"summary": summary, "mro": [c.__name__ for c in lead_trainer_class().__mro__]}))
"""
    proc = subprocess.run(
        [sys.executable, "-c", script, "--config", str(config), "--output_dir", str(tmp_path / "run"),
         "--max_steps", "2", "--per_device_train_batch_size", "8", "--num_generations", "4",
         "--max_completion_length", "24", "--train_size", "32", "--eval_size", "4", "--logging_steps", "1",
         "--save_strategy", "no", "--dynamic_sampling", "true", "--length_reward", "false"],
        cwd=REPO, env={**os.environ, "TOKENIZERS_PARALLELISM": "false"}, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-6000:]
    result = json.loads(proc.stdout.split("RESULT ", 1)[1])
    assert result["summary"]["backend"] == "unsloth" and result["summary"]["steps"] == 2
    mro = result["mro"]
    # the LEAD overrides sit in front of Unsloth's generated GRPOTrainer (its rewrite of TRL's)
    assert mro[:5] == ["LeadGRPOTrainer", "LeadMixin", "MarkedCheckpoints", "UnslothGRPOTrainer",
                       "_UnslothGRPOTrainer"]
    metrics = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    logged = [m for m in metrics if "lead/reward" in m]
    assert len(logged) == 2 and all("lead/accuracy" in m and "lead/difficulty_weight" in m for m in logged)
    # dynamic sampling through Unsloth's trainer: its rounds and the chosen rows went through the same seam
    assert all(m["dynamic/prompts_sampled"] == 2 * m["dynamic/rounds"] for m in logged)
    assert "backend_in_use: unsloth" in (tmp_path / "run" / "resolved_config.yaml").read_text()
