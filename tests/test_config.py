"""Configuration: precedence, unknown keys and invalid values fail before any model loads."""

import pytest

from helpers import parse

from lead_lite.config import ConfigError, method_name


def test_precedence_defaults_preset_yaml_flags(tmp_path):
    model, lead, data, training = parse(["--model", "tiny", "--output_dir", str(tmp_path)])
    assert model.model_name_or_path == "tiny"  # from the preset
    assert training.max_completion_length == 64  # preset over GRPOConfig's default
    assert lead.alpha == 0.05  # dataclass default
    cfg = tmp_path / "c.yaml"
    cfg.write_text("alpha: 0.1\nmax_completion_length: 48\nweight_B: 2.0\n")
    _, lead, _, training = parse(["--model", "tiny", "--config", str(cfg), "--weight_B", "1.8",
                                         "--output_dir", str(tmp_path)])
    assert lead.alpha == 0.1 and training.max_completion_length == 48  # YAML over preset
    assert lead.weight_B == 1.8  # flag over YAML


def test_unknown_yaml_key_names_key_and_file(tmp_path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text("alpha: 0.1\nalpah: 0.2\n")
    with pytest.raises(ConfigError, match=r"c.yaml: unknown key 'alpah'"):
        parse(["--config", str(cfg)])


def test_unknown_flag_fails(tmp_path):
    with pytest.raises(ConfigError, match="--alpah"):
        parse(["--alpah", "0.1", "--output_dir", str(tmp_path)])


@pytest.mark.parametrize(
    "flags, field",
    [
        (["--alpha", "0"], "alpha"),
        (["--alpha", "-1"], "alpha"),
        (["--weight_A", "2", "--weight_B", "1"], "weight_A"),
        (["--weight_rho0", "1.5"], "weight_rho0"),
        (["--penalty", "0.5"], "penalty"),
        (["--backend", "jax"], "backend"),
        (["--num_generations", "8", "--per_device_train_batch_size", "12"], "generation_batch_size"),
        (["--scale_rewards", "batch"], "scale_rewards"),
        (["--task", "chess"], "task"),
    ],
)
def test_invalid_values_name_the_field(tmp_path, flags, field):
    with pytest.raises(ConfigError, match=field):
        parse(["--model", "tiny", "--output_dir", str(tmp_path), *flags])


def test_bad_yaml_file(tmp_path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text("- just\n- a list\n")
    with pytest.raises(ConfigError, match="YAML mapping"):
        parse(["--config", str(cfg)])


def test_hub_id_without_preset():
    model, *_ = parse(["--model", "someone/some-model", "--output_dir", "/tmp/x"])
    assert model.model_name_or_path == "someone/some-model"


@pytest.mark.parametrize(
    "flags, name",
    [
        ([], "GRPO-LEAD"),
        (["--length_reward", "false", "--explicit_penalty", "false", "--difficulty_reweight", "false"], "GRPO"),
        (["--explicit_penalty", "false", "--difficulty_reweight", "false"], "GRPO+L"),
        (["--explicit_penalty", "false"], "GRPO+LAD"),
        (["--difficulty_reweight", "false"], "GRPO+LE"),
    ],
)
def test_method_names(flags, name):
    _, lead, _, _ = parse(["--output_dir", "/tmp/x", *flags])
    assert method_name(lead) == name


# -- settings that follow the machine: a file's is a default, the command line's a request ----------------
def test_a_presets_vllm_becomes_hf_generate_without_vllm_in_one_line(tmp_path, caplog, monkeypatch):
    import importlib.util
    import logging

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "vllm" else real(name, *a))
    with caplog.at_level(logging.INFO, logger="lead_lite.config"):
        _, _, _, training = parse(["--model", "qwen3-1.7b", "--output_dir", str(tmp_path)])
    assert not training.use_vllm
    (line,) = [r.getMessage() for r in caplog.records if r.getMessage().startswith("generation:")]
    assert line.startswith("generation: HF generate, not vLLM (use_vllm: true in ")
    assert "qwen3-1.7b.yaml, but vLLM is not installed)" in line
    _, _, _, training = parse(["--model", "qwen3-1.7b", "--output_dir", str(tmp_path), "--dry-run"])
    assert training.use_vllm  # without CUDA, a dry run plans for a GPU install, which has vLLM


@pytest.mark.parametrize("flag", [["--use_vllm", "true"], ["--use_vllm"], ["--use-vllm=True"]])
def test_vllm_asked_for_on_the_command_line_without_vllm_is_refused(tmp_path, monkeypatch, flag):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "vllm" else real(name, *a))
    with pytest.raises(ConfigError, match=r"^use_vllm=True: vLLM is not installed .*use_vllm: false generates"):
        parse(["--model", "tiny", "--output_dir", str(tmp_path), *flag])


def fake_gpu(monkeypatch, capability, name):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda device=None: capability)
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda device=None: name)
    # torch counts emulated bf16: True on a T4 too; the capability decides
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda including_emulation=True: True)


@pytest.mark.parametrize("capability, name, bf16", [((7, 5), "Tesla T4", False), ((7, 0), "Tesla V100", False),
                                                    ((6, 0), "Tesla P100", False), ((8, 0), "A100", True),
                                                    ((9, 0), "H100", True)])
def test_gpus_without_native_bf16_train_in_fp16(monkeypatch, caplog, capability, name, bf16):
    import logging

    from lead_lite.config import native_bf16, settle_precision

    fake_gpu(monkeypatch, capability, name)
    assert native_bf16() is bf16
    preset, recipe = {"model": "qwen3-1.7b"}, {"model": "qwen3-1.7b", "bf16": True}  # TRL's default; a file's
    with caplog.at_level(logging.INFO, logger="lead_lite.config"):
        settle_precision(preset, {}, set())
        settle_precision(recipe, {"bf16": "grpo1.yaml"}, set())
    if bf16:
        assert "fp16" not in preset and recipe["bf16"] and not caplog.records
        return
    assert preset["fp16"] and recipe["fp16"] and preset["bf16"] is False and recipe["bf16"] is False
    lines = [r.getMessage() for r in caplog.records]
    assert lines == [f"{w}: {name} (compute capability {capability[0]}.{capability[1]}) has no native bfloat16; "
                     "training in fp16 mixed precision instead (--fp16 / --bf16 on the command line choose yourself)"
                     for w in ("bf16 (TRL's default)", "bf16: true in grpo1.yaml")]


def test_precision_chosen_in_a_file_or_on_the_command_line_is_kept_or_refused(monkeypatch):
    from types import SimpleNamespace

    from lead_lite.config import ModelArguments, refuse_known_bad_combinations, settle_precision

    fake_gpu(monkeypatch, (7, 5), "Tesla T4")
    fp32 = {"bf16": False}
    settle_precision(fp32, {"bf16": "mine.yaml"}, set())  # a file's fp32 stays fp32
    flagged = {"bf16": True}
    settle_precision(flagged, {"bf16": "mine.yaml"}, {"bf16"})
    assert fp32 == {"bf16": False} and flagged == {"bf16": True}
    with pytest.raises(ConfigError, match=r"^bf16=True: Tesla T4 has no native bfloat16 \(compute capability 7.5\); "
                                          r"use fp16: true"):
        refuse_known_bad_combinations(ModelArguments(), SimpleNamespace(use_vllm=False, bf16=True))


def test_vllm_asked_for_without_vllm_exits_2_in_one_line_before_any_model_loads(tmp_path, caplog, monkeypatch):
    import importlib.util
    import logging

    import lead_lite.train as T

    def no_model(*args, **kwargs):
        raise AssertionError("the model loaded before the setting was refused")

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "vllm" else real(name, *a))
    monkeypatch.setattr(T, "load_policy", no_model)
    with caplog.at_level(logging.ERROR), pytest.raises(SystemExit) as exc:
        T.main(["--model", "qwen3-1.7b", "--use_vllm", "true", "--output_dir", str(tmp_path / "run")])
    assert exc.value.code == 2
    (error,) = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert error.startswith("invalid configuration: use_vllm=True: vLLM is not installed") and "\n" not in error
    assert not (tmp_path / "run").exists()
