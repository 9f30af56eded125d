"""What a hostile user's input gets, one table per class: an output that is (or holds, or sits in) an
input is refused before any work and the input is left byte for byte; ``--overwrite_output_dir``
leaves nothing of the earlier run to resume or splice; a run that would train 0 steps and
impossible generation settings are refused; a push to the Hub that cannot happen is refused before the
model loads; a FIFO or device is never read; every refusal is one line and exit code 2; a file written by
a command is whole or not there; the Countdown recipe claims its stage directories. Each of these stops
before training (tiny model, in-process). Faults that come after the start, a checkpoint damaged at its
own size and a full disk while one is saved, end in one line naming the file, with what was trained kept
(one two-step training run per module, and one per full-disk case)."""

import errno
import json
import logging
import os
import shutil
from pathlib import Path

import httpx
import huggingface_hub
import pytest
import torch
from huggingface_hub.errors import (HfHubHTTPError, LocalTokenNotFoundError, OfflineModeIsEnabled,
                                   RepositoryNotFoundError)

from lead_lite import checkpoints, data, eval as eval_cmd, export, report, run_files, sft, train
from lead_lite.recipes import countdown as recipe
from lead_lite.run_log import JsonlMetrics
from lead_lite.tasks.math import split_held_out

RUN_FILES = {"metrics.jsonl": '{"step": 1, "loss": 0.5}\n{"step": 2, "loss": 0.25}\n',
             "summary.json": '{"steps": 2, "before": {}, "after": {}}',
             "adapter_config.json": "{}", "adapter_model.safetensors": "weights",
             "lead_lite_run.json": '{"kind": "train"}'}
EVAL_SUMMARY = json.dumps({"benchmarks": {"arithmetic": {
    "k": 1, "pass@1": 0.5, "cons@k": 0.5, "pass@k": {"1": 0.5}, "mean_length": 3.0, "mean_length_correct": 3.0,
    "mean_length_incorrect": 3.0, "truncated_rate": 0.0, "no_answer_rate": 0.0, "unjudgeable": 0}}})
PASS_RATES = '{"id": "a:0", "problem": "1+1?", "answer": "2", "pass_rate": 0.5, "judged": 2, "k": 2}\n'
ROWS = "".join(json.dumps({"problem": f"What is {i} + 1?", "answer": str(i + 1)}) + "\n" for i in range(40))
TINY = ["--model", "tiny", "--max_steps", "1", "--train_size", "16", "--eval_size", "0", "--report_to", "none",
        "--per_device_train_batch_size", "8", "--num_generations", "4", "--max_completion_length", "16"]
SAVING = [*TINY, "--max_steps", "2", "--save_steps", "1"]  # two steps, a checkpoint after each


@pytest.fixture
def place(tmp_path):
    """A training run ``run/``, evaluations ``a/`` and ``b/``, an adapter ``adapter/``, pass rates, a dataset."""
    for name, text in RUN_FILES.items():
        (tmp_path / "run").mkdir(exist_ok=True)
        (tmp_path / "run" / name).write_text(text)
    for ev in ("a", "b"):
        (tmp_path / ev).mkdir()
        (tmp_path / ev / "summary.json").write_text(EVAL_SUMMARY)
        (tmp_path / ev / "lead_lite_run.json").write_text('{"kind": "eval"}')
    (tmp_path / "adapter").mkdir()
    (tmp_path / "adapter" / "adapter_config.json").write_text("{}")
    (tmp_path / "adapter" / "adapter_model.safetensors").write_text("weights")
    (tmp_path / "adapter-link").symlink_to(tmp_path / "adapter")
    (tmp_path / "rates.jsonl").write_text(PASS_RATES)
    (tmp_path / "run" / "rows.jsonl").write_text(ROWS)
    (tmp_path / "metrics-link.jsonl").symlink_to(tmp_path / "run" / "metrics.jsonl")
    os.link(tmp_path / "run" / "summary.json", tmp_path / "summary-hardlink.json")
    return tmp_path


def snapshot(root: Path) -> dict:
    """Every file under ``root`` (links not followed) and its bytes."""
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
            and not p.is_symlink()}


def refused(main, argv, caplog) -> str:
    """Run ``main(argv)``, expecting one ERROR line and exit code 2; returns the line."""
    caplog.clear()
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1 and "\n" not in errors[0], errors
    return errors[0]


# -- 1. no command writes what it reads --------------------------------------------------------------
SAME_AS_INPUT = [
    # (command, argv with {d} for the directory, fragment of the error line)
    ("report", ["{d}/run", "--output", "{d}/run/metrics.jsonl"], "is the same file as the run file"),
    ("report", ["{d}/run", "--output", "{d}/run/summary.json"], "is the same file as the run file"),
    ("report", ["{d}/run", "--output", "{d}/metrics-link.jsonl"], "is the same file as the run file"),
    ("report", ["{d}/run", "--output", "{d}/summary-hardlink.json"], "is the same file as the run file"),
    ("report", ["{d}/a", "--output", "{d}/run/metrics.jsonl"], "is a file of the train run"),
    ("compare", ["compare", "{d}/a", "{d}/b", "--output", "{d}/a/summary.json"], "is the same file as run"),
    ("compare", ["compare", "{d}/a", "--output", "{d}/run/summary.json"], "is a file of the train run"),
    ("filter", ["filter", "--pass_rates", "{d}/rates.jsonl", "--output", "{d}/run/metrics.jsonl"],
     "is a file of the train run"),
    ("filter", ["filter", "--pass_rates", "{d}/rates.jsonl", "--output", "{d}/rates.jsonl"], "is the same file"),
    ("train", [*TINY, "--init_adapter", "{d}/adapter", "--output_dir", "{d}/adapter", "--overwrite_output_dir",
               "true"], "is the same file as --init_adapter"),
    ("train", [*TINY, "--init_adapter", "{d}/adapter", "--output_dir", "{d}/adapter-link",
               "--overwrite_output_dir", "true"], "is the same file as --init_adapter"),
    ("train", [*TINY, "--init_adapter", "{d}/adapter", "--output_dir", "{d}", "--overwrite_output_dir", "true"],
     "contains --init_adapter"),
    ("train", [*TINY, "--init_adapter", "{d}/adapter", "--output_dir", "{d}/adapter/next"],
     "lies inside --init_adapter"),
    ("train", [*TINY, "--task", "math", "--dataset", "{d}/run/rows.jsonl", "--output_dir", "{d}/run",
               "--overwrite_output_dir", "true"], "contains --dataset"),
    ("sft", [*TINY, "--init_adapter", "{d}/adapter", "--output_dir", "{d}/adapter", "--overwrite_output_dir",
             "true"], "is the same file as --init_adapter"),
    ("eval", ["--model", "tiny", "--data", "{d}/run/rows.jsonl", "--output_dir", "{d}/run"], "contains --data"),
]
MAINS = {"report": report.main, "compare": eval_cmd.main, "eval": eval_cmd.main, "filter": data.main,
         "train": train.main, "sft": sft.main}


@pytest.mark.parametrize("command, argv, fragment", SAME_AS_INPUT,
                         ids=[f"{c}-{i}" for i, (c, *_) in enumerate(SAME_AS_INPUT)])
def test_an_output_that_is_holds_or_sits_in_an_input_is_refused_before_work(place, caplog, command, argv,
                                                                              fragment):
    before = snapshot(place)
    line = refused(MAINS[command], [a.format(d=place) for a in argv], caplog)
    assert fragment in line
    assert snapshot(place) == before  # nothing written, nothing replaced


def test_an_evaluation_may_sit_beside_the_adapter_it_reads(place):
    run_files.refuse_inputs_in_output(place / "adapter" / "eval", {"--adapter": place / "adapter"},
                                      inside_ok=("--adapter",))


# -- 2. --overwrite_output_dir starts a clean run ------------------------------------------------------
def test_overwrite_leaves_no_checkpoint_to_resume_and_no_metrics_to_splice(tmp_path, caplog):
    out = tmp_path / "run"
    checkpoint = out / "checkpoint-6"
    checkpoint.mkdir(parents=True)
    (checkpoint / "adapter_model.safetensors").write_text("w")
    checkpoints.mark_complete(checkpoint, 6)
    for name, text in RUN_FILES.items():
        (out / name).write_text(text)
    (out / "notes.txt").write_text("the user's own")
    (out / "runs" / "Dec04_16-17-46_host").mkdir(parents=True)  # tensorboard's event files of the earlier run
    (out / "runs" / "Dec04_16-17-46_host" / "events.out.tfevents.1.host").write_bytes(b"old curves")
    assert checkpoints.last_complete(out) == checkpoint
    with run_files.claim_run_dir(out, "train", overwrite=True):
        assert checkpoints.last_complete(out) is None
        assert sorted(p.name for p in out.iterdir()) == [run_files.LOCK, "lead_lite_run.json", "notes.txt"]
    assert "removed adapter_config.json, adapter_model.safetensors, checkpoint-6, lead_lite_run.json, " \
           "metrics.jsonl, runs, summary.json" in caplog.text
    with pytest.raises(ValueError, match="no complete checkpoint"):
        checkpoints.resume_path("last", out)


# -- 3. no run without training, no impossible setting replaced, no held-out problem trained on -------
REFUSED_SETTINGS = [
    (train.main, [*TINY, "--train_size", "4", "--per_device_train_batch_size", "64", "--output_dir", "{d}/out"],
     "a step samples 16 prompts (generation_batch_size 64 / num_generations 4) but there are only 4 training prompts"),
    (eval_cmd.main, ["--model", "tiny", "--max_new_tokens", "0", "--output_dir", "{d}/out"],
     "--max_new_tokens 0: must be in [1,"),
    (train.main, [*TINY, "--push_to_hub", "--hub_model_id", "me/bad name!", "--output_dir", "{d}/out"],
     "hub_model_id: 'me/bad name!' is not a valid Hub repository id"),
]


@pytest.mark.parametrize("main, argv, fragment", REFUSED_SETTINGS, ids=["zero-steps", "no-new-tokens", "hub-id"])
def test_settings_that_cannot_work_are_refused_before_the_model_loads(tmp_path, caplog, main, argv, fragment):
    line = refused(main, [a.format(d=tmp_path) for a in argv], caplog)
    assert fragment in line
    assert not (tmp_path / "out").exists()


def _raises(exc):
    def call(*_args, **_kwargs):
        raise exc
    return call


def _account(role="write", name="me", orgs=()):
    account = {"name": name, "orgs": [{"name": o} for o in orgs], "auth": {"accessToken": {"role": role}}}
    return lambda *_a, **_k: account


_HUB_API = "https://huggingface.co/api/whoami-v2"
HUB_FAULTS = [
    # (id, HfApi.model_info, HfApi.whoami, --hub_model_id, fragment of the line)
    ("offline", _raises(httpx.ConnectError("[Errno -3] Temporary failure in name resolution")), _account(),
     "me/run", "push_to_hub: cannot reach the Hub to check 'me/run' (ConnectError: [Errno -3] Temporary failure"),
    ("timeout", _raises(httpx.ReadTimeout("timed out")), _account(), "me/run",
     "cannot reach the Hub to check 'me/run' (ReadTimeout: timed out)"),
    ("hf-hub-offline", _raises(OfflineModeIsEnabled("HF_HUB_OFFLINE is set")), _account(), "me/run",
     "cannot reach the Hub to check 'me/run' (OfflineModeIsEnabled"),
    ("no-token", None, _raises(LocalTokenNotFoundError("no token")), "me/run", "push_to_hub: no Hugging Face token"),
    ("bad-token", None, _raises(HfHubHTTPError("Invalid user token.", response=httpx.Response(
        401, request=httpx.Request("GET", _HUB_API)))), "me/run", "the Hub refused the token (HTTP 401"),
    ("read-only-token", None, _account(role="read"), "me/run", "the token of 'me' is read-only"),
    ("other-namespace", None, _account(orgs=("my-lab",)), "someone-else/run",
     "the token of 'me' cannot write to 'someone-else' (it may write to 'me', 'my-lab')"),
]


@pytest.mark.parametrize("name, model_info, whoami, repo, fragment", HUB_FAULTS, ids=[c[0] for c in HUB_FAULTS])
def test_a_push_that_cannot_happen_is_refused_before_the_model_loads(tmp_path, caplog, monkeypatch, name, model_info,
                                                                     whoami, repo, fragment):
    monkeypatch.setattr(huggingface_hub.HfApi, "model_info", model_info or (lambda *_a, **_k: None))
    monkeypatch.setattr(huggingface_hub.HfApi, "whoami", whoami)
    line = refused(train.main, [*TINY, "--push_to_hub", "--hub_model_id", repo, "--output_dir", str(tmp_path / "out")],
                   caplog)
    assert fragment in line and line.endswith("or run without --push_to_hub and upload the adapter later")
    assert not (tmp_path / "out").exists()


def test_a_push_the_token_may_make_passes_the_check(monkeypatch):
    seen = []
    monkeypatch.setattr(huggingface_hub.HfApi, "model_info", lambda self, repo, timeout=None: seen.append(timeout))
    monkeypatch.setattr(huggingface_hub.HfApi, "whoami", _account(orgs=("my-lab",)))
    assert export.check_hub(export.ExportPlan(push=True, repo_id="my-lab/run"), "out") == "my-lab/run"
    assert export.check_hub(export.ExportPlan(push=True), "out") == "out"  # under the token's account
    assert seen == [export.HUB_TIMEOUT_S] * 2
    missing = RepositoryNotFoundError("404", response=httpx.Response(404, request=httpx.Request("GET", _HUB_API)))
    monkeypatch.setattr(huggingface_hub.HfApi, "model_info", _raises(missing))  # not there yet: the upload makes it
    assert export.check_hub(export.ExportPlan(push=True, repo_id="me/new"), "out") == "me/new"


@pytest.mark.parametrize("copies, n_eval", [(1, 4), (3, 4), (10, 4), (1000, 8)])
def test_held_out_problems_never_occur_in_training(copies, n_eval):
    rows = [{"prompt": f"What is {i % 20} + 1?", "n": i} for i in range(20 * copies)]
    train_rows, held = split_held_out(rows, n_eval, "dups.jsonl")
    held_prompts = {r["prompt"] for r in held}
    assert len(held) == n_eval == len(held_prompts)
    assert not held_prompts & {r["prompt"] for r in train_rows}
    assert len(train_rows) == (20 - n_eval) * copies


# -- 4. only regular files are read; one line, exit 2, everywhere --------------------------------------
def _fifo(path: Path) -> Path:
    os.mkfifo(path)
    return path


def _written(path: Path, content: bytes) -> Path:
    path.write_bytes(content)
    return path


BAD_INPUT = [
    ("data-no-command", data.main, lambda d: [], None),
    ("data-unknown-command", data.main, lambda d: ["nope"], None),
    ("fifo-pass-rates", data.main,
     lambda d: ["filter", "--pass_rates", str(_fifo(d / "p.jsonl")), "--output", str(d / "o.jsonl")],
     "is a FIFO (named pipe), not a regular file"),
    ("dev-zero-pass-rates", data.main,
     lambda d: ["filter", "--pass_rates", "/dev/zero", "--output", str(d / "o.jsonl")],
     "/dev/zero is a character device"),
    ("fifo-dataset", train.main,
     lambda d: [*TINY, "--task", "math", "--dataset", str(_fifo(d / "rows.jsonl")), "--output_dir", str(d / "o")],
     "not a regular file (a FIFO, device or socket)"),
    ("fifo-eval-data", eval_cmd.main,
     lambda d: ["--model", "tiny", "--data", str(_fifo(d / "rows.jsonl")), "--output_dir", str(d / "o")],
     "not a regular file (a FIFO, device or socket)"),
    ("fifo-config", train.main, lambda d: ["--config", str(_fifo(d / "c.yaml"))], "not a regular file"),
    ("non-utf8-config", train.main, lambda d: ["--config", str(_written(d / "c.yaml", b"alpha: \xff\xfe\n"))],
     "not UTF-8 text"),
]


@pytest.mark.parametrize("name, main, argv, fragment", BAD_INPUT, ids=[c[0] for c in BAD_INPUT])
def test_bad_input_ends_in_one_line_and_exit_code_2(tmp_path, caplog, capsys, name, main, argv, fragment):
    if fragment is None:  # a usage error: argparse's form, on stderr
        with pytest.raises(SystemExit) as exc:
            main(argv(tmp_path))
        assert exc.value.code == 2 and "choose one of difficulty, filter" in capsys.readouterr().err
        return
    assert fragment in refused(main, argv(tmp_path), caplog)
    assert not (tmp_path / "o").exists() and not (tmp_path / "o.jsonl").exists()


def _earlier_stage(d: Path) -> list[str]:
    (d / "grpo1").mkdir()
    (d / "grpo1" / "metrics.jsonl").write_text('{"step": 1}\n')
    return ["--model", "tiny", "--run_dir", str(d), "--stage", "grpo1"]


RECIPE_ATTACKS = [
    ("output-dir-to-every-stage", lambda d: ["--model", "tiny", "--run_dir", str(d), "--output_dir", str(d / "o")],
     "--output_dir {d}/o: a flag reaches every stage, so grpo1, sft, grpo2 would all write to that one directory; "
     "use --run_dir to move the whole run, or --stage to run one stage into it"),
    ("stage-dir-holds-a-run", _earlier_stage,
     "--output_dir {d}/grpo1 already holds files of another run (metrics.jsonl); resume it with"),
]


@pytest.mark.parametrize("name, argv, fragment", RECIPE_ATTACKS, ids=[c[0] for c in RECIPE_ATTACKS])
def test_the_countdown_recipe_claims_its_stage_directories_before_anything_loads(tmp_path, caplog, name, argv,
                                                                                  fragment):
    args = argv(tmp_path)
    before = snapshot(tmp_path)
    assert fragment.format(d=tmp_path) in refused(recipe.main, args, caplog)
    assert snapshot(tmp_path) == before and not (tmp_path / "o").exists()


def test_help_helps_even_when_the_config_file_is_missing(tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        train.main(["--config", str(tmp_path / "missing.yaml"), "--help"])
    assert exc.value.code == 0 and "--alpha" in capsys.readouterr().out


BROKEN_RUNS = [
    ("summary-a-list", "summary.json", "[1, 2]", "summary.json: the summary is a list, not a mapping"),
    ("summary-not-json", "summary.json", "{", "cannot read the summary (not JSON"),
    ("config-a-string", "resolved_config.yaml", "just text", "the configuration is a str, not a mapping"),
    ("metrics-not-utf8", "metrics.jsonl", b'{"step": 1}\n\xff\n', "metrics.jsonl: not UTF-8 text"),
    ("metrics-no-step", "metrics.jsonl", '{"loss": 1}\n', "metrics.jsonl, line 1: no integer step"),
    ("metrics-torn-middle", "metrics.jsonl", '{"step": 1}\n{"st\n{"step": 3}\n', "metrics.jsonl, line 2: not JSON"),
    ("curve-bad-row", "budget_curve.csv", "benchmark,budget,pass@1\narith,many,0.5\n",
     "budget_curve.csv, line 2: not a budget-curve row"),
]


@pytest.mark.parametrize("name, file, content, fragment", BROKEN_RUNS, ids=[c[0] for c in BROKEN_RUNS])
def test_report_reports_a_malformed_run_in_one_line(tmp_path, caplog, name, file, content, fragment):
    run = tmp_path / "run"
    run.mkdir()
    (run / "metrics.jsonl").write_text('{"step": 1, "loss": 0.5}\n')
    target = run / file
    target.write_bytes(content) if isinstance(content, bytes) else target.write_text(content)
    assert fragment in refused(report.main, [str(run)], caplog)
    assert not (run / "report.html").exists()


def test_report_into_a_directory_is_one_line_and_a_torn_last_line_is_skipped(tmp_path, caplog):
    run = tmp_path / "run"
    run.mkdir()
    (run / "metrics.jsonl").write_text('{"step": 1, "loss": 0.5}\n{"step": 2, "lo')  # what a kill leaves
    (tmp_path / "page.html").mkdir()
    assert "page.html: cannot write" in refused(report.main, [str(run), "--output", str(tmp_path / "page.html")],
                                                caplog)
    assert report.main([str(run)]) == run / "report.html"
    assert "the last line is incomplete" in caplog.text


def test_a_torn_middle_line_of_metrics_on_resume_is_one_line_naming_the_file(tmp_path):
    path = tmp_path / "metrics.jsonl"
    path.write_text('{"step": 1}\n{"st\n{"step": 3}\n')
    state = type("State", (), {"is_world_process_zero": True, "global_step": 2})()
    with pytest.raises(run_files.RunFileError) as exc:
        JsonlMetrics(path).on_train_begin(None, state, None)
    assert str(exc.value).startswith(f"{path}, line 2: not JSON")
    assert str(exc.value).endswith("fix or remove that line to resume, or start again with --overwrite_output_dir true")
    assert path.read_text() == '{"step": 1}\n{"st\n{"step": 3}\n'


# -- 5. what a command writes is whole, and a full disk names the file ----------------------------------
def _full_disk(*_args, **_kwargs):
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


WRITERS = [
    ("budget_curve.csv", lambda out: eval_cmd.write_curve(out, {"arithmetic": [
        {"budget": 8, "pass@1": 0.5, "cons@k": 0.5, "no_answer_rate": 0.0, "truncated_rate": 0.0,
         "mean_length": 3.0}]}, "t")),
    ("samples.jsonl", lambda out: _write_samples(out / "samples.jsonl")),
    ("comparison.md", lambda out: eval_cmd.compare_main([str(out / "a"), "--output", str(out / "comparison.md")])),
    ("report.html", lambda out: report.write_report([out / "a"], out / "report.html")),
]


def _write_samples(path):
    with run_files.atomic_writer(path) as f:
        f.write('{"sample": 1}\n')


@pytest.mark.parametrize("name, write", WRITERS, ids=[w[0] for w in WRITERS])
def test_a_full_disk_keeps_the_previous_file_and_names_it(tmp_path, monkeypatch, name, write):
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "summary.json").write_text(EVAL_SUMMARY)
    (tmp_path / name).write_text("the previous file")
    monkeypatch.setattr(run_files.os, "fsync", _full_disk)
    with pytest.raises(run_files.RunFileError) as exc:
        write(tmp_path)
    assert str(exc.value) == (f"{tmp_path / name}: cannot write (disk full (no space left on the device)); "
                              "the previous file is unchanged")
    assert (tmp_path / name).read_text() == "the previous file"
    assert not [p.name for p in tmp_path.iterdir() if ".tmp" in p.name]


# -- 6. faults after the start: a damaged checkpoint, a full disk while saving -----------------------------
@pytest.fixture(scope="module")
def trained(tiny_path, tmp_path_factory):
    """A finished two-step run with ``checkpoint-1`` and ``checkpoint-2`` (trained once for the module)."""
    out = tmp_path_factory.mktemp("trained") / "run"
    train.main([*SAVING, "--output_dir", str(out)])
    return out


def _zeroed(path: Path) -> None:
    path.write_bytes(bytes(path.stat().st_size))  # the same size, other bytes: the marker's sizes still match


def _flipped(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))


DAMAGED = [
    ("adapter_model.safetensors", _zeroed, "its safetensors header is not JSON"),
    ("trainer_state.json", _zeroed, "not JSON"),
    ("optimizer.pt", _zeroed, "not a readable torch archive"),
    ("optimizer.pt", _flipped, "fails the CRC check"),
    ("scheduler.pt", _zeroed, "not a readable torch archive"),
    ("rng_state.pth", _zeroed, "not a readable torch archive"),
    ("rng_state.pth", _flipped, "fails the CRC check"),
]


@pytest.mark.parametrize("resume", ["last", "path"])
@pytest.mark.parametrize("name, damage, why", DAMAGED, ids=[f"{n}-{d.__name__[1:]}" for n, d, _ in DAMAGED])
def test_a_damaged_checkpoint_is_named_before_training(trained, tmp_path, caplog, resume, name, damage, why):
    out = tmp_path / "run"
    shutil.copytree(trained, out)
    checkpoint = out / "checkpoint-2"
    damage(checkpoint / name)
    assert checkpoints.last_complete(out) == checkpoint  # every size still matches its marker
    before = snapshot(out)
    value = "last" if resume == "last" else str(checkpoint)
    line = refused(train.main, [*SAVING, "--max_steps", "3", "--output_dir", str(out), "--resume_from_checkpoint",
                                value], caplog)
    assert f"{checkpoint / name} is damaged (" in line and why in line
    assert line.endswith(f"delete {checkpoint} and resume from the checkpoint before it, or start over with "
                         "--overwrite_output_dir true")
    assert "weights_only" not in line
    assert snapshot(out) == before  # nothing trained, nothing written


def test_the_checkpoints_a_run_saves_pass_the_damage_check(trained):
    assert checkpoints.damaged_file(trained / "checkpoint-1") is None
    assert checkpoints.damaged_file(trained / "checkpoint-2") is None


def _torch_full_disk(_obj, f):  # what torch.save raises when the disk fills under its zip writer
    Path(f).write_bytes(b"PK")  # it has begun the file
    raise RuntimeError("[enforce fail at inline_container.cc:664] . unexpected pos 1216 vs 1110")


def _full_disk_at(_obj, f):  # what open() / write() raise
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(f))


SAVE_FAILURES = [
    # (id, what torch.save raises, fragment of the line, whether the report can still be written)
    ("torch", _torch_full_disk, "optimizer.pt: cannot write the checkpoint (a full disk, most likely: "
     "[enforce fail at inline_container.cc:664]", True),
    ("enospc", _full_disk_at, "optimizer.pt: cannot write the checkpoint (disk full (no space left on "
     "the device))", True),
    ("enospc-no-report", _full_disk_at, "optimizer.pt: cannot write the checkpoint (disk full", False),
]


@pytest.mark.parametrize("name, fail, fragment, reported", SAVE_FAILURES, ids=[c[0] for c in SAVE_FAILURES])
def test_a_full_disk_while_saving_a_checkpoint_keeps_the_one_before_and_the_report(tiny_path, tmp_path, caplog,
                                                                                      monkeypatch, name, fail,
                                                                                      fragment, reported):
    save = torch.save

    def optimizer_fails_at_step_2(obj, f, *args, **kwargs):
        if str(f).endswith("checkpoint-2/optimizer.pt"):  # the largest file of the checkpoint
            fail(obj, f)
        return save(obj, f, *args, **kwargs)

    monkeypatch.setattr(torch, "save", optimizer_fails_at_step_2)
    if not reported:  # the full disk refuses the report too: a warning, the checkpoint's line stays the error
        monkeypatch.setattr(train, "write_report", lambda _runs, page: _full_disk_at(None, page))
    out = tmp_path / "run"
    line = refused(train.main, [*SAVING, "--output_dir", str(out)], caplog)
    assert fragment in line and str(out / "checkpoint-2") in line
    assert line.endswith("the unfinished checkpoint-2 was removed and the newest complete checkpoint, checkpoint-1, "
                         "is kept: free space, then resume with --resume_from_checkpoint last")
    assert not (out / "checkpoint-2").exists()
    assert checkpoints.last_complete(out) == out / "checkpoint-1" and not checkpoints.damaged_file(out / "checkpoint-1")
    assert (out / "report.html").is_file() == reported  # the report of the steps trained so far
