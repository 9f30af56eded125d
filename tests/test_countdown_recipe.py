"""The Countdown recipe end to end on the tiny model (CPU): GRPO -> SFT -> GRPO, then one stage alone.

The first run builds the tiny model's Countdown warm start (about 30-60 s on 2 cores) and caches
it under ~/.cache/lead_lite (or $LEAD_LITE_CACHE); later runs reuse it.
"""

import json

import pytest
import yaml

from lead_lite.recipes import countdown as recipe

FEW = ["--model", "tiny", "--max_steps", "3", "--train_size", "64", "--eval_size", "16",
       "--sample_prompts", "16", "--samples_per_prompt", "8"]


def read_records(run_dir):
    return [json.loads(line) for line in (run_dir / "stage_metrics.jsonl").read_text().splitlines()]


def test_three_stages_chain_through_their_outputs(tmp_path):
    records = recipe.main([*FEW, "--run_dir", str(tmp_path)])

    assert records == read_records(tmp_path)
    assert [r["stage"] for r in records] == ["grpo1", "sft", "grpo2"]
    grpo1, sft, grpo2 = records
    for r in records:
        assert set(r["after"]) >= {"accuracy", "format_rate", "mean_score", "mean_length"}
        assert 0.0 <= r["after"]["accuracy"] <= 1.0 and r["after"]["n"] == 16
        assert r["step"] == 3
        assert (tmp_path / r["stage"] / "resolved_config.yaml").exists()
        assert (tmp_path / r["stage"] / "metrics.jsonl").exists()
    assert grpo1["before"]["n"] == 16 and grpo1["input_adapter_digest"] is None
    assert grpo1["method"] == grpo2["method"] == "GRPO on countdown_graded"
    # each stage read the adapter the previous one wrote
    assert sft["input_dir"] == str(tmp_path / "grpo1")
    assert sft["input_adapter_digest"] == grpo1["output_adapter_digest"]
    assert grpo2["input_dir"] == str(tmp_path / "sft")
    assert grpo2["input_adapter_digest"] == sft["output_adapter_digest"]
    assert len({grpo1["output_adapter_digest"], sft["output_adapter_digest"], grpo2["output_adapter_digest"]}) == 3
    # the SFT data are the grpo1 policy's own correct traces
    traces = [json.loads(line) for line in (tmp_path / "sft" / "traces.jsonl").read_text().splitlines()]
    assert 0 < sft["traces"] == len(traces) <= 16 * 2
    assert all(recipe.countdown.check(t["completion"], t["nums"], t["target"])[1] == "correct" for t in traces)
    resolved = yaml.safe_load((tmp_path / "grpo2" / "resolved_config.yaml").read_text())
    assert resolved["stage"] == "grpo2" and resolved["input_dir"] == "sft" and resolved["epsilon"] == 0.25
    assert resolved["loss_type"] == "dapo" and resolved["reward_weights"] == [0.0, 1.0, 0.0]
    trl_log = [json.loads(line) for line in (tmp_path / "grpo2" / "metrics.jsonl").read_text().splitlines()]
    assert any("rewards/countdown_graded/mean" in r and "rewards/format/mean" in r for r in trl_log)

    # a stage alone, from the previous stage's output on disk, into its directory again (told to overwrite:
    # a stage's directory is claimed as lead_lite.train claims its own)
    with pytest.raises(SystemExit):
        recipe.main([*FEW, "--run_dir", str(tmp_path), "--stage", "grpo2"])
    (again,) = recipe.main([*FEW, "--run_dir", str(tmp_path), "--stage", "grpo2", "--overwrite_output_dir", "true"])
    assert again["input_adapter_digest"] == sft["output_adapter_digest"]
    assert [r["stage"] for r in read_records(tmp_path)] == ["grpo1", "sft", "grpo2", "grpo2"]


def test_a_stage_without_its_input_says_which_stage_to_run(tmp_path, caplog):
    with pytest.raises(SystemExit) as exc:
        recipe.main([*FEW, "--run_dir", str(tmp_path), "--stage", "sft"])
    assert exc.value.code == 2 and "run the stage before it first (grpo1" in caplog.text


@pytest.mark.parametrize(
    "flags",
    [
        ["--stage", "grpo3"],
        ["--config", "configs/countdown/tiny/grpo1.yaml"],
        ["--recipe", "no-such-recipe"],
        ["--reward_weights", "1.0", "1.0"],  # three reward columns
        ["--reward_weights", "0", "1", "0", "--length_reward", "true"],  # L without the accuracy reward
        ["--max_target", "0"],
        ["--no_such_flag", "1"],
    ],
)
def test_invalid_recipe_settings_fail_before_anything_loads(flags, tmp_path):
    with pytest.raises(SystemExit) as exc:
        recipe.main(["--model", "tiny", "--run_dir", str(tmp_path), *flags])
    assert exc.value.code == 2
    assert not any(tmp_path.iterdir())


def test_every_shipped_stage_config_resolves():
    for argv in (["--model", "qwen3-1.7b"], ["--model", "qwen3-1.7b", "--recipe", "qwen3-1.7b-512"],
                 ["--model", "tiny"]):
        plan = recipe.stage_plan([*argv, "--bf16", "false", "--use_cpu", "true"])  # the GPU settings, on CPU
        for config in plan:
            model_args, data, training, (cd,) = config.model, config.data, config.training, config.extra
            assert data.task == "countdown" and training.epsilon in (0.25, 0.2)
            if argv[1] == "qwen3-1.7b":
                assert model_args.load_in_8bit and not model_args.load_in_4bit
                assert model_args.model_name_or_path == "Qwen/Qwen3-1.7B" and model_args.backend == "trl"
                assert training.max_completion_length == (512 if "qwen3-1.7b-512" in argv else 256)
            if cd.stage != "sft":
                assert training.epsilon == 0.25 and training.loss_type == "dapo" and training.beta == 0.0
                assert not training.use_vllm
        stages = [c.extra[0].stage for c in plan]
        assert stages == (["grpo1"] if "qwen3-1.7b-512" in argv else ["grpo1", "sft", "grpo2"])
