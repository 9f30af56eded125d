"""The presets' data, offline: every registered dataset read from a local file of its hub format
through the code path the hub uses, the presets' default dataset, and the one-line failure without
network. No dataset is downloaded: only ``datasets.load_dataset`` is replaced, by a function that
reads a local file of the same type with the real ``datasets`` builder."""

import json
import logging
import os
import subprocess
import sys

import datasets
import pytest

from lead_lite.config import REPO_ROOT, DataArguments, resolve
from lead_lite.tasks import math as M
from lead_lite.tasks.sources import DataError
from lead_lite.verifier import MathVerifier

PRESETS = sorted(p.stem for p in (REPO_ROOT / "configs" / "models").glob("*.yaml") if p.stem not in ("tiny", "smollm2-135m"))  # the GPU presets
REAL_LOAD = datasets.load_dataset
STAGE1_FILE = "stage1_data.json"


@pytest.fixture(scope="module")
def verifier():
    v = MathVerifier()
    yield v
    v.close()


# One small file per registered dataset, in its source's file type, columns and answer format (the
# docs/data.md table says how each was checked). The last row of each has a gold the verifier cannot
# parse, so cleaning must drop it.
def write_parquet(path, rows):
    datasets.Dataset.from_list(rows).to_parquet(str(path))


def write_json_array(indent):
    def write(path, rows):  # json.dump of a list, as the official notebook writes the stage files
        path.write_text(json.dumps(rows, indent=indent))
    return write


SOURCES = {
    # hub parquet shards (data/train-*); columns problem, answer, solution; plain answers
    "deepscaler": ("parquet", write_parquet, [
        {"problem": "What is $\\frac{1}{2}+\\frac{1}{4}$?", "answer": "\\frac{3}{4}", "solution": "Add: $\\boxed{\\frac{3}{4}}$."},
        {"problem": "Compute $2^{10}$.", "answer": "1024", "solution": "$2^{10}=1024$."},
        {"problem": "Broken gold.", "answer": "\\frac{1}{", "solution": ""},
    ], ["\\frac{3}{4}", "1024"]),
    # the official notebook's json.dump(filtered_data, f): one JSON array of DeepScaleR's source entries,
    # whose keys differ by source (as in the stage 2&3 file below, minus correctness); difficulty >= 3.5
    "grpo-lead-stage1": ("json", write_json_array(None), [
        {"problem": "Find $x$ if $3x = 12$.", "answer": "4", "solution": "$x = 4$", "difficulty": 4.0,
         "domain": ["Mathematics -> Algebra -> Linear Equations"], "source": "omni_math"},
        {"problem": "Evaluate $\\sqrt{50}$.", "answer": "5\\sqrt{2}", "difficulty": 5.0, "type": "Algebra"},
        {"problem": "Broken gold.", "answer": "\\frac{1}{", "solution": "s", "difficulty": 4.0,
         "year": 1983, "aime_number": 1, "problem_number": 3},
    ], ["4", "5\\sqrt{2}"]),
    # the repository's stage_2&3_data.json as read here: an indented JSON array with problem, answer,
    # correctness (pass rate over 16 samples) and difficulty, a solution in most rows, and per-source keys
    # (domain + source, year + aime_number + problem_number, type); a gold that does not parse is dropped
    "grpo-lead-stage2": ("json", write_json_array(2), [
        {"problem": "What is the area of a 3 by 4 rectangle?", "answer": "12", "correctness": 0.4375,
         "solution": "3*4 = 12", "difficulty": 2.6875},
        {"problem": "Simplify $(x+1)^2 - x^2$.", "answer": "2x+1", "correctness": 1.0, "difficulty": 5.0,
         "type": "Algebra"},
        {"problem": "Broken gold.", "answer": "\\frac{1}{", "correctness": 0.5, "solution": "s",
         "difficulty": 6.0, "domain": ["Mathematics -> Discrete Mathematics -> Combinatorics"], "source": "usamo"},
    ], ["12", "2x+1"]),
    # hub parquet, config main: question / answer with the worked solution ending in "#### N"
    "gsm8k": ("parquet", write_parquet, [
        {"question": "Tom has 3 pens and buys 4 more. How many pens?", "answer": "3+4=<<3+4=7>>7\n#### 7"},
        {"question": "A box holds 1,000 balls; 24 are red. How many are not?", "answer": "1000-24=976\n#### 976"},
        {"question": "Broken gold.", "answer": "no final line"},
    ], ["7", "976"]),
    # hub parquet: problem, level, type, solution (the gold is the solution's last \boxed{})
    "math": ("parquet", write_parquet, [
        {"problem": "What is $1+1$?", "level": "Level 1", "type": "Prealgebra", "solution": "So $\\boxed{2}$."},
        {"problem": "Solve $x^2=9$, $x>0$.", "level": "Level 2", "type": "Algebra", "solution": "$x=\\boxed{3}$"},
        {"problem": "Broken gold.", "level": "Level 5", "type": "Algebra", "solution": "no boxed answer"},
    ], ["2", "3"]),
}


def offline_hub(monkeypatch, tmp_path, name):
    """Replace ``datasets.load_dataset`` with a reader of a local file in ``name``'s hub format; returns its calls."""
    kind, write, rows, _ = SOURCES[name]
    local = tmp_path / f"{name}.{kind}"
    write(local, rows)
    calls = []

    def load_dataset(path, name=None, data_files=None, split=None, **kwargs):
        calls.append({"path": path, "config": name, "data_files": data_files, "split": split})
        return REAL_LOAD(kind, data_files=str(local), split="train")

    monkeypatch.setattr(datasets, "load_dataset", load_dataset)
    return calls


@pytest.mark.parametrize("name", sorted(SOURCES))
def test_registered_dataset_loads_and_cleans_through_the_hub_path(monkeypatch, tmp_path, caplog, verifier, name):
    calls = offline_hub(monkeypatch, tmp_path, name)
    spec = M.DATASETS[name]
    with caplog.at_level(logging.WARNING):
        train, held_out = M.MathTask(verifier).rows(DataArguments(dataset=name, eval_size=0, prompt_format="r1"), 0)
    assert calls == [{"path": spec.path, "config": spec.config, "data_files": spec.data_files, "split": spec.split}]
    assert held_out == [] and sorted(r["answer"] for r in train) == sorted(SOURCES[name][3])
    assert sorted(r["id"] for r in train) == [f"{name}:0", f"{name}:1"]
    assert all(r["prompt"].endswith("\nLet's think step by step and put the final answer within \\boxed{}")
               for r in train)
    assert "dropped 1 row(s) with an unparsable answer (first indices: [2])" in caplog.text


@pytest.mark.parametrize("name", sorted(SOURCES))
def test_a_local_copy_reads_as_the_registry_entry(monkeypatch, tmp_path, verifier, name):
    """What the offline error says to do (--dataset FILE, plus --answer_format unless plain) gives the same rows."""
    offline_hub(monkeypatch, tmp_path, name)
    registry = M.dataset_rows(DataArguments(dataset=name, eval_size=0), verifier)
    kind, fmt = SOURCES[name][0], M.DATASETS[name].answer_format
    hint = M.local_copy_hint(name)
    assert ("--answer_format" in hint) == (fmt != "plain")
    local = M.dataset_rows(DataArguments(dataset=str(tmp_path / f"{name}.{kind}"), eval_size=0,
                                         answer_format=None if fmt == "plain" else fmt), verifier)
    strip = [{k: v for k, v in r.items() if k != "id"} for r in registry]
    assert strip == [{k: v for k, v in r.items() if k != "id"} for r in local] and len(strip) == 2


def test_official_files_are_pinned_to_a_commit():
    for name in ("grpo-lead-stage1", "grpo-lead-stage2"):
        assert f"/GRPO-LEAD/{M.OFFICIAL_COMMIT}/deepscaler/data/train/" in M.DATASETS[name].data_files
    assert M.DATASETS["grpo-lead-stage1"].data_files.endswith("/" + STAGE1_FILE)


def test_sft_set_loads_its_json_array(monkeypatch, tmp_path, verifier):
    """grpo-lead-sft as LLaMA-Factory's alpaca layout (instruction / input / output; columns unverified)."""
    local = tmp_path / "sft-data.json"
    local.write_text(json.dumps([
        {"instruction": "What is 2+3?", "input": "", "output": "<think>2+3=5</think> The answer is \\boxed{5}."},
        {"instruction": "What is 2+2?", "input": "", "output": "four"},  # no boxed answer: dropped
    ]))
    monkeypatch.setattr(datasets, "load_dataset", lambda path, name=None, data_files=None, split=None, **kw:
                        REAL_LOAD("json", data_files=str(local), split="train"))
    rows = M.MathTask(verifier).sft_rows(DataArguments(dataset="grpo-lead-sft"), seed=0)
    assert [(r["completion"], r["id"]) for r in rows] == [(
        "<think>2+3=5</think> The answer is \\boxed{5}.", "grpo-lead-sft:0")]


# -- the presets' data -----------------------------------------------------------------------------
@pytest.mark.parametrize("preset", PRESETS)
def test_every_real_preset_trains_on_the_official_stage1_data_and_names_it(preset, caplog):
    (config,) = resolve(["--model", preset])
    assert (config.task, config.data.dataset, config.data.prompt_format) == ("math", "grpo-lead-stage1", "r1")
    assert config.data.eval_size > 0
    header = (REPO_ROOT / "configs" / "models" / f"{preset}.yaml").read_text()
    assert STAGE1_FILE in header and M.OFFICIAL_COMMIT[:7] in header and "Why this one" in header

    from lead_lite.train import main

    with caplog.at_level(logging.INFO), pytest.raises(SystemExit):
        main(["--model", preset, "--dry-run", "--gpu_memory", "80"])
    assert f"dataset grpo-lead-stage1 (file {M.DATASETS['grpo-lead-stage1'].data_files})" in caplog.text


def test_tiny_keeps_the_generated_task(caplog):
    from lead_lite.train import main

    (config,) = resolve(["--model", "tiny"])
    assert (config.task, config.data.dataset) == ("arithmetic", None)
    with caplog.at_level(logging.INFO), pytest.raises(SystemExit) as exc:
        main(["--model", "tiny", "--dry-run"])
    assert exc.value.code == 0 and "data: task arithmetic, 512 generated problems, 64 held out" in caplog.text


# -- without network --------------------------------------------------------------------------------
def test_unreachable_hub_fails_in_one_line_before_any_model_loads(monkeypatch, tmp_path, caplog):
    import lead_lite.train as T

    def no_network(path, name=None, data_files=None, split=None, **kwargs):
        raise ConnectionError(f"Couldn't reach '{path}' on the Hub (OfflineModeIsEnabled)")

    def no_model(*args, **kwargs):
        raise AssertionError("the model loaded before the data failed")

    monkeypatch.setattr(datasets, "load_dataset", no_network)
    monkeypatch.setattr(T, "load_policy", no_model)
    with caplog.at_level(logging.ERROR), pytest.raises(SystemExit) as exc:
        T.main(["--model", "qwen3-0.6b", "--dataset", "deepscaler", "--output_dir", str(tmp_path / "run")])
    assert exc.value.code == 2
    (error,) = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert "\n" not in error and "dataset deepscaler" in error and "agentica-org/DeepScaleR-Preview-Dataset" in error
    assert "--dataset deepscaler.parquet" in error


def test_missing_local_file_is_named():
    with pytest.raises(DataError, match=r"^nope\.parquet: no such file$"):
        M.read_source("nope.parquet")


def test_offline_default_preset_exits_2_with_one_line(tmp_path):
    """The real command, with the hub switched off: one error line naming the dataset and the way out."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "PYTHONPATH": str(REPO_ROOT)}
    proc = subprocess.run([sys.executable, "-m", "lead_lite.train", "--model", "qwen3-0.6b",
                           "--output_dir", str(tmp_path / "run")],
                          cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2, proc.stderr[-2000:]
    errors = [line for line in proc.stderr.splitlines() if " ERROR " in line]
    assert len(errors) == 1 and "Traceback" not in proc.stderr
    assert "dataset grpo-lead-stage1" in errors[0] and f"--dataset {STAGE1_FILE}" in errors[0]
    assert "lead_lite.train: method:" not in proc.stderr  # logged once the model has loaded

