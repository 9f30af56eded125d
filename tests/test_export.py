"""Exports after training: the checks made before a run starts, GGUF through Unsloth's method, and the
Hub upload up to the network (huggingface_hub's HfApi is replaced by a recorder)."""

import fnmatch
from types import SimpleNamespace

import huggingface_hub
import pytest

from lead_lite import export


def _training(**kw):
    return SimpleNamespace(**{"push_to_hub": False, "hub_model_id": None, "hub_token": None, "output_dir": "runs/tiny",
                              "hub_private_repo": None, **kw})


@pytest.fixture
def hub(monkeypatch):
    """Record HfApi.create_repo / upload_folder calls instead of reaching the network."""
    calls = []

    def create_repo(self, repo_id, private=None, exist_ok=False, **kw):
        calls.append(("create_repo", repo_id, private, exist_ok))
        return SimpleNamespace(repo_id=repo_id if "/" in repo_id else f"me/{repo_id}")

    def upload_folder(self, repo_id, folder_path, allow_patterns=None, commit_message=None, **kw):
        calls.append(("upload_folder", repo_id, folder_path, allow_patterns))

    def model_info(self, repo_id, timeout=None, **kw):  # the check before training (lead_lite.export.check_hub)
        calls.append(("model_info", repo_id, timeout))

    def whoami(self, *args, **kw):
        calls.append(("whoami",))
        return {"name": "me", "orgs": [], "auth": {"accessToken": {"role": "write"}}}

    monkeypatch.setattr(huggingface_hub.HfApi, "create_repo", create_repo)
    monkeypatch.setattr(huggingface_hub.HfApi, "upload_folder", upload_folder)
    monkeypatch.setattr(huggingface_hub.HfApi, "model_info", model_info)
    monkeypatch.setattr(huggingface_hub.HfApi, "whoami", whoami)
    return calls


def test_plan_rejects_bad_flags_and_reads_the_trainers_push_flags():
    with pytest.raises(export.ExportError, match="hub_upload='everything'"):
        export.plan(export.ExportArguments(hub_upload="everything"), SimpleNamespace(), _training(), "trl")
    with pytest.raises(export.ExportError, match="save_gguf='q4_k_m'.*unsloth backend"):
        export.plan(export.ExportArguments(save_gguf="q4_k_m"), SimpleNamespace(), _training(), "trl")
    model_args, training = SimpleNamespace(save_merged_16bit=False), _training(push_to_hub=True, hub_private_repo=True)
    p = export.plan(export.ExportArguments(hub_upload="merged"), model_args, training, "trl")
    assert (p.push, p.upload, p.private) == (True, "merged", True)
    assert training.push_to_hub is True and model_args.save_merged_16bit is False  # plan() changes nothing
    p = export.plan(export.ExportArguments(), SimpleNamespace(save_merged_16bit=False), _training(), "unsloth")
    assert not p.push and p.gguf is None


def test_gguf_is_unsloths_save_pretrained_gguf(tmp_path):
    calls = []

    class UnslothModel:
        def save_pretrained_gguf(self, directory, tokenizer, quantization_method):
            calls.append((directory, tokenizer, quantization_method))

    made = export.finish(export.ExportPlan(gguf="q8_0"), UnslothModel(), "tok", tmp_path)
    assert calls == [(str(tmp_path / "gguf"), "tok", "q8_0")] and made == {"gguf": str(tmp_path / "gguf")}
    with pytest.raises(export.ExportError, match="not loaded by Unsloth"):
        export.finish(export.ExportPlan(gguf="q8_0"), object(), "tok", tmp_path)


def test_adapter_upload_sends_the_adapter_not_the_run(tmp_path, hub):
    for name in ("adapter_config.json", "adapter_model.safetensors", "tokenizer.json", "tokenizer_config.json",
                 "metrics.jsonl", "summary.json", "report.html", "checkpoint-2/adapter_model.safetensors"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("x")
    made = export.finish(export.ExportPlan(push=True, repo_id="me/lead", private=True), None, None, tmp_path)
    assert made == {"hub_repo": "me/lead"}
    assert hub[0] == ("create_repo", "me/lead", True, True)
    (_, repo, folder, patterns) = hub[1]
    assert (repo, folder) == ("me/lead", str(tmp_path))
    files = [p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*") if p.is_file()]
    sent = sorted(f for f in files if any(fnmatch.fnmatch(f, pattern) for pattern in patterns))
    assert sent == ["adapter_config.json", "adapter_model.safetensors", "tokenizer.json", "tokenizer_config.json"]


def test_merged_upload_needs_the_merged_model(tmp_path, hub):
    with pytest.raises(export.ExportError, match="merged-16bit was not written"):
        export.finish(export.ExportPlan(push=True, upload="merged"), None, None, tmp_path)
    (tmp_path / "merged-16bit").mkdir()
    made = export.finish(export.ExportPlan(push=True, upload="merged"), None, None, tmp_path)
    assert made == {"hub_repo": f"me/{tmp_path.name}"}  # default name: the output directory's
    assert hub[-1] == ("upload_folder", f"me/{tmp_path.name}", str(tmp_path / "merged-16bit"), None)


def test_cli_rejects_gguf_without_unsloth_before_loading(tmp_path, caplog):
    from lead_lite.train import main

    with pytest.raises(SystemExit) as exc:
        main(["--model", "tiny", "--output_dir", str(tmp_path), "--save_gguf", "q4_k_m"])
    assert exc.value.code == 2 and "save_gguf" in caplog.text
    assert not (tmp_path / "resolved_config.yaml").exists()


def test_tiny_run_pushes_its_adapter_once_after_training(tiny_path, tmp_path, hub):
    from lead_lite.train import main

    main(["--model", "tiny", "--output_dir", str(tmp_path), "--max_steps", "1", "--eval_size", "0",
          "--save_strategy", "no", "--report_to", "none", "--per_device_train_batch_size", "8",
          "--num_generations", "4", "--push_to_hub", "--hub_model_id", "me/tiny-lead"])
    # the check before training, then one repository creation (the Trainer did not make its own) and one upload
    assert [c[0] for c in hub] == ["model_info", "whoami", "create_repo", "upload_folder"]
    assert hub[3][1:3] == ("me/tiny-lead", str(tmp_path))
    assert (tmp_path / "adapter_model.safetensors").is_file() and (tmp_path / "report.html").is_file()
