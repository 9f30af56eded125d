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
