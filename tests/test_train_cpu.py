"""The LEAD trainer on CPU with the tiny model: real training steps, LoRA moves, lead/* logged."""

import json
import math

import pytest
import torch

from lead_lite import advantages as adv
from lead_lite.config import LeadArguments
from lead_lite.run_log import read_metrics
from lead_lite.trainer import lead_batch


def _lora_state(model):
    return {k: v.detach().clone() for k, v in model.named_parameters() if "lora_" in k}


def test_two_training_steps_move_lora_and_log_lead_metrics(tiny_path, tmp_path):
    from lead_lite.config import resolve
    from lead_lite.models.loading import load_policy
    from lead_lite.tasks.arithmetic import ArithmeticTask, generate
    from lead_lite.training import build_trainer
    from lead_lite.verifier import MathVerifier

    (config,) = resolve(
        ["--model", "tiny", "--output_dir", str(tmp_path), "--max_steps", "2", "--save_steps", "100",
         "--per_device_train_batch_size", "16", "--num_generations", "4", "--reward_weights", "1.0", "0.0",
         "--logging_steps", "1"]
    )
    model, tokenizer, peft_config, backend = load_policy(config.model, config.training)
    assert backend == "trl"
    task = ArithmeticTask(MathVerifier())
    trainer = build_trainer(config, model, tokenizer, peft_config, task, generate(64, seed=1))
    before = _lora_state(trainer.model)
    assert before, "the policy has LoRA adapters"
    trainer.train()
    task.close()
    after = _lora_state(trainer.model)
    changed = [k for k in before if not torch.equal(before[k], after[k])]
    assert changed, "no LoRA weight changed after two steps"
    records = [r for r in read_metrics(tmp_path / "metrics.jsonl") if "lead/accuracy" in r]
    assert len(records) == 2
    for r in records:
        assert 0.0 <= r["lead/accuracy"] <= 1.0
        assert 0.4 <= r["lead/difficulty_weight"] <= 1.5
        assert r["lead/reward_incorrect"] in (None, -1.0)


def test_lead_batch_routes_whole_groups_and_weights_columns():
    # 2 groups of 4; accuracy column, format column (weight 0), and an extra shaping column (weight 0.5)
    correct = torch.tensor([1.0, 0.0, 1.0, math.nan, 0.0, 0.0, 0.0, 1.0])
    fmt = torch.tensor([1.0, 0.0, 1.0, 1.0, 1.0, 1.0, 0.0, 1.0])
    extra = torch.tensor([0.2, 0.0, 0.0, 0.0, 0.1, 0.0, 0.0, 0.0])
    cols = torch.stack([correct, fmt, extra], dim=1)  # (N, F)
    lengths = torch.tensor([10.0, 20.0, 30.0, 5.0, 7.0, 8.0, 9.0, 40.0])
    lead = LeadArguments()
    a, metrics = lead_batch(cols, lengths, 4, torch.tensor([1.0, 0.0, 0.5]), lead, acc_col=0, fmt_col=1)
    c = correct.view(2, 4)
    r = adv.length_regularized_reward(c, lengths.view(2, 4)) + 0.5 * extra.view(2, 4)
    expected = adv.lead_advantages(r, c).reshape(-1)
    assert torch.allclose(a, expected)
    assert a[3] == 0  # unjudgeable
    assert metrics["lead/accuracy"] == pytest.approx(3 / 7)
    assert metrics["lead/unjudgeable_frac"] == pytest.approx(1 / 8)
    # the grpo estimator is used when AD is off
    lead_no_ad = LeadArguments(difficulty_reweight=False)
    a2, _ = lead_batch(cols, lengths, 4, torch.tensor([1.0, 0.0, 0.5]), lead_no_ad, acc_col=0, fmt_col=1)
    assert torch.allclose(a2, adv.grpo_advantages(r).reshape(-1))
    with pytest.raises(ValueError, match="whole groups"):
        lead_batch(cols[:6], lengths[:6], 4, torch.ones(3), lead, acc_col=0)


def test_cli_tiny_run_writes_outputs(tiny_path, tmp_path):
    from lead_lite.train import main

    summary = main(["--model", "tiny", "--output_dir", str(tmp_path), "--max_steps", "3", "--eval_size", "8",
                    "--save_steps", "2"])
    assert summary["steps"] == 3
    for name in ("resolved_config.yaml", "metrics.jsonl", "adapter_config.json", "adapter_model.safetensors",
                 "summary.json"):
        assert (tmp_path / name).exists(), name
    assert "backend_in_use: trl" in (tmp_path / "resolved_config.yaml").read_text()
    saved = json.loads((tmp_path / "summary.json").read_text())
    assert 0 <= saved["after"]["accuracy"] <= 1 and saved["after"]["n"] == 8
    assert (tmp_path / "checkpoint-2").is_dir()


def test_cli_resume_continues_from_last_checkpoint(tiny_path, tmp_path):
    from lead_lite.train import main

    main(["--model", "tiny", "--output_dir", str(tmp_path), "--max_steps", "2", "--eval_size", "0",
          "--save_steps", "2", "--logging_steps", "1"])
    summary = main(["--model", "tiny", "--output_dir", str(tmp_path), "--max_steps", "4", "--eval_size", "0",
                    "--save_steps", "2", "--logging_steps", "1", "--resume_from_checkpoint", "last"])
    assert summary["steps"] == 4
    steps = [r["step"] for r in read_metrics(tmp_path / "metrics.jsonl") if "lead/accuracy" in r]
    assert steps == [1, 2, 3, 4]


def test_cli_rejects_bad_config_before_loading(tmp_path, caplog):
    from lead_lite.train import main

    with pytest.raises(SystemExit) as exc:
        main(["--model", "tiny", "--output_dir", str(tmp_path), "--alpha", "-0.5"])
    assert exc.value.code == 2
    assert "alpha" in caplog.text
    assert not (tmp_path / "resolved_config.yaml").exists()
