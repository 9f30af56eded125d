"""Math data without training: dataset registry, gold-answer reading, prompt formats, stage configs."""

import json
import sys
import types

import pytest
import yaml

from helpers import parse

from lead_lite.gold_answers import ANSWER_FORMATS
from lead_lite.config import ConfigError, DataArguments, resolve
from lead_lite.prompts import FINAL_ANSWER, PROMPT_FORMATS, merged_chat_template_kwargs
from lead_lite.tasks import arithmetic
from lead_lite.tasks import math as M
from lead_lite.tasks.sources import DataError
from lead_lite.verifier import MathVerifier


@pytest.fixture(scope="module")
def verifier():
    v = MathVerifier()
    yield v
    v.close()


# -- registry and gold answers ----------------------------------------------------------------------
def test_registry_entries_are_complete():
    assert {"deepscaler", "grpo-lead-stage1", "grpo-lead-stage2", "grpo-lead-sft", "gsm8k", "math"} <= set(M.DATASETS)
    for name, spec in M.DATASETS.items():
        assert spec.answer_format in ANSWER_FORMATS, name
        assert spec.problem and spec.checked, name
        assert (spec.path == "json") == (spec.data_files is not None), name
        assert spec.answer is not None or spec.solution is not None, name  # GRPO data or SFT data


@pytest.mark.parametrize(
    "fmt, text, gold",
    [
        ("gsm8k", "Natalia sold 48/2 = <<48/2=24>>24 clips.\n#### 1,024", "1,024"),
        ("gsm8k", "no final line", None),
        ("boxed", r"So $x = \frac{1}{2}$, i.e. $\boxed{\frac{1}{2}}$.", r"\frac{1}{2}"),
        ("boxed", "no box", None),
        ("plain", " 42 ", "42"),
        ("auto", r"thus \boxed{7}", "7"),
        ("auto", "steps\n#### 7", "7"),
        ("auto", "7", "7"),
    ],
)
def test_gold_answer_formats(fmt, text, gold):
    assert ANSWER_FORMATS[fmt](text) == gold


def test_clean_rows_maps_columns_and_reports_bad_rows(caplog, verifier):
    rows = [
        {"q": "What is 2+2?", "sol": "2+2=4, so \\boxed{4}"},
        {"q": "", "sol": "\\boxed{1}"},  # no problem
        {"q": "Half of 1?", "sol": None},  # no answer
        {"q": "Third of 3?", "sol": "no boxed answer"},  # no gold where a boxed column has it
        {"q": "Broken?", "sol": "\\boxed{\\frac{1}{}}"},  # a gold the verifier cannot parse
        {"q": "Third of 3?", "sol": "\\boxed{1}"},
    ]
    with caplog.at_level("WARNING"):
        kept = M.clean_rows(rows, "mine", verifier, problem_column="q", answer_column="sol", answer_format="boxed")
    assert [(r["problem"], r["answer"], r["id"]) for r in kept] == [("What is 2+2?", "4", "mine:0"),
                                                                  ("Third of 3?", "1", "mine:5")]
    assert kept[0]["prompt"] == "What is 2+2?" + arithmetic.PROMPT_SUFFIX
    assert "dropped 1 row(s) with a missing problem (first indices: [1])" in caplog.text
    assert "dropped 1 row(s) with a missing answer (first indices: [2])" in caplog.text
    assert "dropped 2 row(s) with an unparsable answer (first indices: [3, 4])" in caplog.text
    with pytest.raises(DataError, match="no problem column 'nope'"):
        M.clean_rows(rows, "mine", verifier, problem_column="nope")
    with pytest.raises(DataError, match="no row has both"):
        M.clean_rows(rows[1:3], "mine", verifier, problem_column="q", answer_column="sol", answer_format="boxed")


def test_registry_name_loads_with_its_columns(monkeypatch, verifier):
    """GSM8K through the registry (the hub call replaced by its rows): question column, #### answers."""
    calls = {}

    def fake_load(name, split="train", config=None, data_files=None):
        calls.update(name=name, split=split, config=config, data_files=data_files)
        return [{"question": "Tom has 3 pens and gets 4 more. How many?", "answer": "3+4=7\n#### 7"},
                {"question": "Broken", "answer": "no final line"}]

    monkeypatch.setattr(M, "load_rows", fake_load)
    rows = M.dataset_rows(DataArguments(dataset="gsm8k", prompt_format="r1"), verifier, with_solution=True)
    assert calls == dict(name="openai/gsm8k", split="train", config="main", data_files=None)
    assert [r["answer"] for r in rows] == ["7"] and rows[0]["solution"] == "3+4=7\n#### 7"
    assert rows[0]["prompt"].endswith("\nLet's think step by step and put the final answer within \\boxed{}")
    sft = M.clean_sft_rows([{"question": "Q?", "answer": "3+4=7\n#### 7"}], "gsm8k", solution_column="answer")
    assert sft[0]["completion"] == "3+4=7\nThe final answer is \\boxed{7}."
    with pytest.raises(DataError, match="no gold answers"):
        M.dataset_rows(DataArguments(dataset="grpo-lead-sft"), verifier)


def test_sft_rows_need_a_boxed_solution(tmp_path, caplog, verifier):
    path = tmp_path / "sft.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in [
        {"problem": "What is 1+1?", "solution": "1+1=2. \\boxed{2}"},
        {"problem": "What is 2+2?", "solution": "it is four"},  # no final answer: would teach none
        {"problem": "What is 3+3?", "solution": ""},
    ]))
    rows = M.MathTask(verifier).sft_rows(DataArguments(dataset=str(path)), seed=0)
    assert rows == [{"prompt": "What is 1+1?" + arithmetic.PROMPT_SUFFIX, "completion": "1+1=2. \\boxed{2}",
                     "id": f"{path}:0"}]
    assert "no final \\boxed{} answer in the solution (first indices: [1])" in caplog.text
    assert "a missing solution (first indices: [2])" in caplog.text
    generated = arithmetic.ArithmeticTask(verifier).sft_rows(DataArguments(train_size=4), seed=0)
    assert len(generated) == 4 and all("\\boxed{" in r["completion"] for r in generated)


# -- prompt formats ------------------------------------------------------------------------------
def test_prompt_formats_ask_for_a_boxed_answer_and_keep_the_tiny_prompt(verifier):
    for name, fmt in PROMPT_FORMATS.items():
        assert FINAL_ANSWER in fmt.instruction and fmt.source, name
    assert PROMPT_FORMATS["plain"].prompt("What is 2+2?") == (
        "What is 2+2? Let's think step by step and put the final answer within \\boxed{}.")
    train, held_out = arithmetic.ArithmeticTask(verifier).rows(DataArguments(train_size=8, eval_size=4), seed=0)
    assert train == arithmetic.generate(8, seed=0, split="train")  # the tiny path is unchanged
    qwen, _ = arithmetic.ArithmeticTask(verifier).rows(
        DataArguments(train_size=8, eval_size=0, prompt_format="qwen3-no-think"), seed=0)
    assert qwen[0]["prompt"].endswith("\nPlease reason step by step, and put your final answer within \\boxed{}.")
    assert qwen[0]["prompt"].removesuffix(PROMPT_FORMATS["qwen3-no-think"].instruction) + arithmetic.PROMPT_SUFFIX \
        == train[0]["prompt"]


def test_chat_template_gets_the_format_switches():
    from lead_lite.models.sampling import prompt_texts
    from lead_lite.models.tiny import build_tokenizer

    tok = build_tokenizer()
    assert prompt_texts(tok, ["Q"], {"enable_thinking": False}) == ["Q"]  # no template: plain text
    tok.chat_template = ("{% for m in messages %}<u>{{ m['content'] }}{% endfor %}<a>"
                         "{% if enable_thinking is defined and not enable_thinking %}<think></think>{% endif %}")
    assert prompt_texts(tok, ["Q"], merged_chat_template_kwargs("qwen3-no-think", None)) == ["<u>Q<a><think></think>"]
    assert prompt_texts(tok, ["Q"], merged_chat_template_kwargs("qwen3-think", None)) == ["<u>Q<a>"]
    with pytest.raises(ValueError, match="contradicts"):
        merged_chat_template_kwargs("qwen3-think", {"enable_thinking": False})


def test_prompt_format_comes_from_the_preset():
    cpu = ["--output_dir", "/tmp/x", "--bf16", "false", "--use_cpu", "true"]
    _, _, data, training = parse(["--model", "tiny", *cpu])
    assert data.prompt_format == "plain" and training.chat_template_kwargs == {}
    _, _, data, training = parse(["--model", "qwen3-1.7b", *cpu])  # the paper's prompt; Qwen3's template thinks
    assert data.prompt_format == "r1" and training.chat_template_kwargs == {}
    _, _, data, training = parse(["--model", "qwen3-1.7b", "--prompt_format", "qwen3-think", *cpu])
    assert training.chat_template_kwargs == {"enable_thinking": True}
    _, _, data, training = parse(["--model", "qwen3-1.7b", "--prompt_format", "qwen3-no-think", *cpu])
    assert training.chat_template_kwargs == {"enable_thinking": False}
    _, _, data, _ = parse(["--model", "deepseek-r1-distill-qwen-1.5b", *cpu])
    assert data.prompt_format == "r1"
    with pytest.raises(ConfigError, match="prompt_format"):
        parse(["--model", "tiny", "--prompt_format", "chatml", *cpu])
    with pytest.raises(ConfigError, match="answer_format"):
        parse(["--model", "tiny", "--answer_format", "latex", *cpu])


def test_evaluation_uses_the_training_prompt_format(verifier):
    from lead_lite.tasks.eval_sets import load_benchmark
    from lead_lite.eval import parse_args

    assert parse_args(["--model", "qwen3-1.7b"])[1].prompt_format == "r1"
    assert parse_args(["--model", "tiny"])[1].prompt_format == "plain"
    rows = load_benchmark("arithmetic", verifier, 2, "r1")
    assert rows[0]["prompt"].endswith("?\nLet's think step by step and put the final answer within \\boxed{}")
    assert load_benchmark("arithmetic", verifier, 2) == [{**r, "prompt": r["prompt"].replace(
        PROMPT_FORMATS["r1"].instruction, arithmetic.PROMPT_SUFFIX)} for r in rows]


# -- curriculum configs --------------------------------------------------------------------------
@pytest.mark.parametrize(
    "stages, match",
    [
        ([], "non-empty list"),
        ([{"max_steps": 1}, {"output_dir": "x"}], r"stages\[1\]: cannot set output_dir"),
        ([{"max_steps": 1}, {"init_adapter": "x"}], r"stages\[1\]: cannot set init_adapter"),
        ([{"model": "qwen3-1.7b"}], "cannot set model"),
        ([{"method": "dpo"}], "method 'dpo'"),
        ([{}, {"method": "sft"}], "sft stage can only come first"),
    ],
)
def test_bad_stage_lists_fail_before_anything_loads(tmp_path, stages, match):
    cfg = tmp_path / "c.yaml"
    cfg.write_text(yaml.safe_dump({"model": "tiny", "stages": stages}))
    with pytest.raises(ConfigError, match=match):
        resolve(["--config", str(cfg)], allow_stages=True)


def test_stage_keys_are_checked_and_a_stage_file_needs_the_stage_runner(tmp_path):
    from lead_lite.train import main

    cfg = tmp_path / "c.yaml"
    cfg.write_text(yaml.safe_dump({"model": "tiny", "stages": [{"max_steps": 1}, {"max_stpes": 2}]}))
    with pytest.raises(SystemExit) as exc:
        main(["--config", str(cfg), "--output_dir", str(tmp_path / "run")])
    assert exc.value.code == 2 and not (tmp_path / "run").exists()
    with pytest.raises(ConfigError, match="lists stages"):
        parse(["--config", str(cfg)])


def test_curriculum_dry_run_trains_nothing(tmp_path):
    from lead_lite.config import REPO_ROOT
    from lead_lite.train import main

    with pytest.raises(SystemExit) as exc:
        main(["--config", str(REPO_ROOT / "configs/curriculum/tiny.yaml"), "--output_dir", str(tmp_path / "run"),
              "--dry-run"])
    assert exc.value.code == 0 and not (tmp_path / "run").exists()


def test_every_shipped_curriculum_resolves():
    from lead_lite.config import REPO_ROOT

    files = sorted((REPO_ROOT / "configs" / "curriculum").glob("*.yaml"))
    assert len(files) >= 2
    for path in files:
        argv = ["--config", str(path), "--bf16", "false", "--use_cpu", "true", "--output_dir", "/tmp/cur"]
        stages = resolve(argv, allow_stages=True)
        assert [c.training.output_dir for c in stages] == [f"/tmp/cur/stage-{i}" for i in range(len(stages))]
        assert stages[0].method == "sft" and all(c.method == "grpo" for c in stages[1:])
        for prev, config in zip(stages, stages[1:]):
            assert config.model.init_adapter == prev.training.output_dir


# -- difficulty: the vLLM path, against a stand-in module (vLLM itself needs a GPU) -----------------
def test_difficulty_builds_one_vllm_engine_for_all_chunks(monkeypatch, tmp_path, tiny_path):
    from lead_lite.data import main

    made, generated = [], []

    class LLM:
        def __init__(self, **kw):
            made.append(kw)

        def generate(self, inputs, params, lora_request=None):
            generated.append(len(inputs))
            out = types.SimpleNamespace
            return [out(outputs=[out(text="\\boxed{7}", token_ids=[5, 0], finish_reason="stop"),
                                 out(text="\\boxed{8}", token_ids=[5, 6, 0], finish_reason="stop")]) for _ in inputs]

    vllm = types.ModuleType("vllm")
    vllm.LLM, vllm.SamplingParams = LLM, lambda **kw: kw
    lora = types.ModuleType("vllm.lora.request")
    lora.LoRARequest = lambda *a: a
    monkeypatch.setitem(sys.modules, "vllm", vllm)
    monkeypatch.setitem(sys.modules, "vllm.lora", types.ModuleType("vllm.lora"))
    monkeypatch.setitem(sys.modules, "vllm.lora.request", lora)
    problems = tmp_path / "p.jsonl"
    problems.write_text("\n".join(json.dumps({"problem": f"What is {a}+{7 - a}?", "answer": "7"}) for a in range(5)))
    out = tmp_path / "pr.jsonl"
    counts = main(["difficulty", "--data", str(problems), "--k", "2", "--output", str(out), "--engine", "vllm",
                   "--chunk_size", "2", "--max_new_tokens", "16"])
    assert len(made) == 1 and generated == [2, 2, 1]
    assert counts["sampled"] == 5 and counts["in_between"] == 5
    assert [json.loads(line)["pass_rate"] for line in out.read_text().splitlines()] == [0.5] * 5
