"""Every user error ends with one error line naming the culprit and exit code 2, and writes nothing.

Almost every case fails before any model loads, so the file runs in seconds: each entry point's
``main`` is called in this process and its log is read; two cases run the real command line to
check stderr (one line, no traceback; ``LEAD_LITE_DEBUG=1`` brings the traceback back).
"""

import errno
import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from lead_lite import data as data_cmd
from lead_lite import eval as eval_cmd
from lead_lite import sft, train
from lead_lite.recipes import countdown as recipe
from lead_lite.tasks import arithmetic
from lead_lite.tasks.math import clean_rows
from lead_lite.verifier import MathVerifier

REPO = Path(__file__).resolve().parent.parent
TINY = ["--model", "tiny", "--max_steps", "1", "--eval_size", "0"]


def fails(main, argv, culprit, caplog, untouched=()):
    """Run ``main(argv)``: exit code 2, exactly one error record, one line, naming ``culprit``; no
    path of ``untouched`` exists afterwards."""
    caplog.clear()
    with caplog.at_level(logging.INFO), pytest.raises(SystemExit) as exc:
        main(argv)
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert exc.value.code == 2, errors
    assert len(errors) == 1 and "\n" not in errors[0], errors
    assert culprit in errors[0], errors
    for path in untouched:
        assert not Path(path).exists(), f"{path} was written"
    return errors[0]


# -- settings ------------------------------------------------------------------------------------
BAD_FLAGS = [
    (["--penalty=-inf"], "penalty=-inf"),
    (["--weight_B=inf"], "weight_B=inf"),
    (["--weight_k", "nan"], "weight_k=nan"),
    (["--alpha", "1e300"], "alpha=1e+300"),
    (["--max_steps", "0"], "max_steps=0"),
    (["--max_steps", "-5"], "max_steps=-5"),
    (["--num_generations", "0"], "num_generations=0"),
    (["--learning_rate", "-1"], "learning_rate=-1"),
    (["--temperature", "0"], "temperature=0"),
    (["--temperature", "-1"], "temperature=-1"),
    (["--max_completion_length", "0"], "max_completion_length=0"),
    (["--lora_dropout", "5"], "lora_dropout=5"),
    (["--train_size", "100000000"], "train_size=100000000"),
    (["--eval_size", "100000"], "eval_size=100000"),
    (["--train_size", "5000"], "arithmetic task has 2217"),
    (["--max_steps", "1.5"], "--max_steps"),
    (["--max_prompt_length", "0"], "max_prompt_length=0"),
    (["--model", "/no/such/model"], "model_name_or_path='/no/such/model'"),
    (["--model", "./no-such-model"], "no such directory"),
    (["--model", "qwen3-1.7bb", "--dry-run"], "did you mean qwen3-1.7b?"),
]


@pytest.mark.parametrize("flags, culprit", BAD_FLAGS, ids=[" ".join(f) for f, _ in BAD_FLAGS])
def test_a_bad_setting_is_one_line_and_exit_2(tmp_path, caplog, flags, culprit):
    out = tmp_path / "run"
    fails(train.main, [*TINY, "--output_dir", str(out), *flags], culprit, caplog, [out])


BAD_YAML = [
    ({"lora_target_modules": "q_proj"}, "lora_target_modules must be a list"),
    ({"reward_funcs": "accuracy"}, "reward_funcs must be a list"),
    ({"num_generations": 0}, "num_generations=0"),
    ({"learning_rate": "fast"}, "learning_rate"),
    ({"max_completion_length": 2.5}, "max_completion_length=2.5"),
    ({"penalty": ".inf"}, "penalty=inf"),
]


@pytest.mark.parametrize("values, culprit", BAD_YAML, ids=[next(iter(v)) + "-" + str(i) for i, (v, _) in
                                                            enumerate(BAD_YAML)])
def test_a_bad_yaml_value_is_refused_naming_the_field(tmp_path, caplog, values, culprit):
    cfg = tmp_path / "c.yaml"
    cfg.write_text(yaml.safe_dump(values).replace("'.inf'", ".inf"))
    out = tmp_path / "run"
    fails(train.main, [*TINY, "--config", str(cfg), "--output_dir", str(out)], culprit, caplog, [out])


def test_sft_and_the_recipe_refuse_bad_settings(tmp_path, caplog):
    out = tmp_path / "sft"
    fails(sft.main, [*TINY, "--lora_dropout", "1", "--output_dir", str(out)], "lora_dropout=1", caplog, [out])
    few = ["--model", "tiny", "--max_steps", "1", "--run_dir", str(tmp_path / "cd")]
    fails(recipe.main, [*few, "--numbers_per_problem", "9"], "numbers_per_problem=[9]", caplog, [tmp_path / "cd"])
    message = fails(recipe.main, [*few, "--stage", "sft"], "--stage sft", caplog, [tmp_path / "cd"])
    assert "grpo1" in message


def test_sampling_commands_refuse_bad_settings(tmp_path, caplog):
    out = tmp_path / "eval"
    for flags, culprit in ((["--temperature", "-1"], "--temperature -1"), (["--top_p", "nan"], "--top_p nan"),
                           (["--k", "100000"], "--k 100000"), (["--model", "/no/such"], "model='/no/such'")):
        fails(eval_cmd.main, ["--model", "tiny", "--output_dir", str(out), *flags], culprit, caplog, [out])
    rates = tmp_path / "rates.jsonl"
    fails(data_cmd.main, ["difficulty", "--data", "arithmetic", "--output", str(rates), "--temperature", "0"],
          "--temperature 0", caplog, [rates])


# -- data files ------------------------------------------------------------------------------------
def _write(path: Path, content) -> Path:
    if isinstance(content, bytes):
        path.write_bytes(content)
    elif content is None:
        path.mkdir()
    else:
        path.write_text(content)
    return path


GOOD = json.dumps({"problem": "What is 1+1?", "answer": "2"}) + "\n"
BAD_FILES = [
    ("broken.jsonl", GOOD + '{"problem": "1+2?", "answer": \n', "line 2 is not valid JSON"),
    ("missing.jsonl", "", "no such file"),
    ("latin1.jsonl", GOOD.encode() + '{"problem": "caf\xe9", "answer": "1"}\n'.encode("latin-1"), "line 2 is not UTF-8"),
    ("binary.jsonl", bytes(range(255, -1, -1)) * 4, "line 1 is not UTF-8"),
    ("list.jsonl", "[1, 2]\n", "line 1 is a list"),
    ("dir.jsonl", None, "is a directory"),
    ("broken.csv", 'problem,answer\n"1+1?,2\n3,4,5,6\n', "cannot be read as csv"),
    ("broken.json", '{"problem": ["1+1?"], "answer": [', "cannot be read as json"),
    ("data.txt", "1+1?,2\n", "unsupported file type"),
]


@pytest.mark.parametrize("name, content, culprit", BAD_FILES, ids=[n for n, _, _ in BAD_FILES])
def test_a_bad_data_file_fails_before_the_model_naming_the_file(tmp_path, caplog, name, content, culprit):
    path = tmp_path / name
    if name != "missing.jsonl":
        _write(path, content)
    out = tmp_path / "run"
    message = fails(train.main, [*TINY, "--dataset", str(path), "--output_dir", str(out)], culprit, caplog, [out])
    assert str(path) in message


def test_data_errors_in_eval_difficulty_and_the_recipe(tmp_path, caplog):
    broken = _write(tmp_path / "broken.jsonl", GOOD + "{oops\n")
    out, rates = tmp_path / "eval", tmp_path / "rates.jsonl"
    fails(eval_cmd.main, ["--model", "tiny", "--data", str(broken), "--output_dir", str(out)], str(broken), caplog,
          [out])
    fails(eval_cmd.main, ["--model", "tiny", "--data", str(tmp_path / "nope.jsonl"), "--output_dir", str(out)],
          "nope.jsonl", caplog, [out])
    fails(data_cmd.main, ["difficulty", "--data", str(broken), "--output", str(rates)], str(broken), caplog, [rates])
    fails(data_cmd.main, ["difficulty", "--data", str(tmp_path / "nope.csv"), "--output", str(rates)],
          "nope.csv: no such file", caplog, [rates])
    run_dir = tmp_path / "cd"
    fails(recipe.main, ["--model", "tiny", "--max_steps", "1", "--run_dir", str(run_dir), "--stage", "grpo1",
                        "--dataset", str(broken)], str(broken), caplog, [run_dir])


def test_eval_compare_names_a_missing_or_malformed_summary(tmp_path, caplog):
    fails(eval_cmd.main, ["compare", str(tmp_path / "nothing")], "no summary.json", caplog)
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "summary.json").write_text("{not json")
    fails(eval_cmd.main, ["compare", str(tmp_path / "bad")], "summary.json: not a JSON summary", caplog)
    (tmp_path / "bad" / "summary.json").write_text(json.dumps({"benchmarks": {"aime": {"k": 4}}}))
    fails(eval_cmd.main, ["compare", str(tmp_path / "bad")], "not an eval summary", caplog)


# -- output paths and checkpoints --------------------------------------------------------------------
def test_an_output_dir_that_is_a_file_or_read_only_is_refused(tmp_path, caplog, monkeypatch):
    a_file = _write(tmp_path / "file", "x")
    fails(train.main, [*TINY, "--output_dir", str(a_file)], "is a file", caplog)
    fails(train.main, [*TINY, "--output_dir", str(a_file / "run")], "is a file", caplog)
    fails(eval_cmd.main, ["--model", "tiny", "--output_dir", str(a_file)], "is a file", caplog)
    fails(sft.main, [*TINY, "--output_dir", str(a_file)], "is a file", caplog)
    assert a_file.read_text() == "x"
    # root may write anywhere, so the refusal is checked through os.access, as a non-root user meets it
    read_only = tmp_path / "ro"
    read_only.mkdir()
    monkeypatch.setattr(os, "access", lambda path, mode: Path(path) != read_only)
    fails(train.main, [*TINY, "--output_dir", str(read_only / "run")], "is not writable", caplog,
          [read_only / "run"])


def test_resume_without_a_complete_checkpoint_is_refused(tmp_path, caplog):
    out = tmp_path / "run"
    fails(train.main, [*TINY, "--output_dir", str(out), "--resume_from_checkpoint", "last"],
          "no complete checkpoint", caplog, [out])
    partial = out / "checkpoint-2"
    partial.mkdir(parents=True)
    (partial / "adapter_model.safetensors").write_bytes(b"half")
    fails(train.main, [*TINY, "--output_dir", str(out), "--resume_from_checkpoint", str(partial)],
          "is partial", caplog)
    fails(train.main, [*TINY, "--output_dir", str(out), "--resume_from_checkpoint", str(out / "checkpoint-9")],
          "no such checkpoint", caplog)
    assert sorted(p.name for p in out.iterdir()) == ["checkpoint-2"]


# -- prompt length -------------------------------------------------------------------------------
def test_a_prompt_longer_than_max_prompt_length_is_a_malformed_row(tmp_path, caplog):
    rows = [{"problem": "What is 1+1?", "answer": "2"}, {"problem": "x" * 200_000 + " 1+2?", "answer": "3"},
            {"problem": "What is 2+2?", "answer": "4"}]
    verifier = MathVerifier()
    try:
        with caplog.at_level(logging.WARNING):
            kept = clean_rows(rows, "big", verifier, max_prompt_length=1024)
    finally:
        verifier.close()
    assert [r["id"] for r in kept] == ["big:0", "big:2"]
    assert "row 1 skipped: the prompt has 2000" in caplog.text and "max_prompt_length=1024" in caplog.text
    path = tmp_path / "big.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = tmp_path / "run"
    fails(train.main, [*TINY, "--dataset", str(path), "--output_dir", str(out), "--bad_rows", "error"],
          "row 1: the prompt has", caplog, [out])


def test_the_default_prompt_bound_follows_the_preset():
    from lead_lite.config import resolve

    (tiny,) = resolve(["--model", "tiny"])
    (qwen,) = resolve(["--model", "qwen3-1.7b"])
    (mine,) = resolve(["--model", "tiny", "--max_prompt_length", "99"])
    assert tiny.data.max_prompt_length == 4 * 256  # tiny: 192 tokens of room, at least 256 tokens' worth
    assert qwen.data.max_prompt_length == 4 * (4096 - 3584)
    assert mine.data.max_prompt_length == 99


def test_arithmetic_split_sizes_count_every_template():
    texts = {f"What is {a}+{b}-{c}?" for a in range(1, 10) for b in range(1, 10) for c in range(1, 10)}
    for name in arithmetic.NAMES:
        for item in arithmetic.ITEMS:
            for a in range(1, 10):
                for b in range(1, 10):
                    texts.add(f"{name} has {a} {item} and gets {b} more. How many {item} does {name} have now?")
                    texts.add(f"{name} has {max(a, b)} {item} and gives {min(a, b)} away. "
                              f"How many {item} does {name} have now?")
    test = sum(arithmetic._stable_hash(t) % 5 == 0 for t in texts)
    assert arithmetic.SPLIT_SIZES == {"train": len(texts) - test, "test": test}
    assert len(arithmetic.generate(test, seed=0, split="test")) == test  # every one can be drawn


# -- the real command line -------------------------------------------------------------------------
def test_the_command_line_shows_one_line_and_debug_shows_the_traceback(tmp_path):
    env = dict(os.environ, PYTHONPATH=str(REPO), OMP_NUM_THREADS="1")
    env.pop("LEAD_LITE_DEBUG", None)
    cmd = [sys.executable, "-m", "lead_lite.train", "--model", "tiny", "--num_generations", "0",
           "--output_dir", str(tmp_path / "run")]
    quiet = subprocess.run(cmd, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert quiet.returncode == 2
    assert "Traceback" not in quiet.stderr
    errors = [line for line in quiet.stderr.splitlines() if " ERROR " in line]
    assert len(errors) == 1 and "num_generations=0" in errors[0] and quiet.stderr.rstrip().endswith(errors[0])
    loud = subprocess.run(cmd, env={**env, "LEAD_LITE_DEBUG": "1"}, cwd=tmp_path, capture_output=True, text=True,
                          timeout=300)
    assert loud.returncode == 1 and "Traceback" in loud.stderr and "ConfigError: num_generations=0" in loud.stderr
    assert not (tmp_path / "run").exists()


def test_a_full_disk_or_a_refused_path_is_one_line(caplog):
    from lead_lite.user_errors import entry_point

    @entry_point
    def writes(argv):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    @entry_point
    def opens(argv):
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), "/runs/x/summary.json")

    fails(writes, [], "No space left on device", caplog)
    fails(opens, [], "/runs/x/summary.json: Permission denied", caplog)
