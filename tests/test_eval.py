"""Evaluation: metric maths on hand-computed samples, budget truncation, the CLI end to end."""

import csv
import json
import math
import os
import subprocess
import sys
import types
from fractions import Fraction
from pathlib import Path

import pytest
import torch

from lead_lite.metrics import Judged, Vote, at_budget, default_pass_ks, majority_vote, pass_at_k, summarize
from lead_lite.verifier import MathVerifier, Verdict

C, W, N, U = Verdict.CORRECT, Verdict.WRONG, Verdict.NO_ANSWER, Verdict.UNJUDGEABLE
REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def verifier():
    v = MathVerifier(timeout_s=2.0)
    yield v
    v.close()


@pytest.fixture()
def one_thread():
    """The tiny model runs faster on one thread, and much faster on a CPU shared with other jobs."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


# -- pass@k ----------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "n, c, k, expected",
    [
        (5, 2, 1, 2 / 5),  # pass@1 = c / n
        (5, 2, 2, 1 - 3 / 10),  # 1 - C(3,2)/C(5,2)
        (5, 2, 3, 1 - 1 / 10),  # 1 - C(3,3)/C(5,3)
        (5, 2, 4, 1.0),  # fewer than k wrong samples: every draw of 4 holds a correct one
        (5, 0, 3, 0.0),
        (5, 5, 1, 1.0),
        (4, 1, 2, 0.5),
    ],
)
def test_pass_at_k_hand_values(n, c, k, expected):
    assert pass_at_k(n, c, k) == pytest.approx(expected)


def test_pass_at_k_matches_binomial_formula():
    for n in range(1, 11):
        for c in range(n + 1):
            for k in range(1, n + 1):
                assert pass_at_k(n, c, k) == pytest.approx(1 - math.comb(n - c, k) / math.comb(n, k))


@pytest.mark.parametrize("n, c, k", [(4, 1, 5), (4, 5, 1), (0, 0, 1), (4, 1, 0)])
def test_pass_at_k_rejects_impossible_arguments(n, c, k):
    with pytest.raises(ValueError):
        pass_at_k(n, c, k)


def test_default_pass_ks():
    assert default_pass_ks(1) == [1]
    assert default_pass_ks(8) == [1, 2, 4, 8]
    assert default_pass_ks(12) == [1, 2, 4, 8, 12]


# -- majority vote ---------------------------------------------------------------------------------
def test_majority_vote_plain_majority_and_abstentions():
    assert majority_vote(["7", "8", "8", None], [C, W, W, N]) == Vote("8", W, 2, 3)
    # three samples without an answer abstain; the one answer wins
    assert majority_vote([None, None, None, "5"], [N, N, N, C]) == Vote("5", C, 1, 1)


def test_majority_vote_ties_go_to_the_earliest_first_vote():
    assert majority_vote(["8", "7"], [W, C]).verdict is W
    assert majority_vote(["7", "8"], [C, W]).verdict is C
    # 2-2 tie: the class of sample 0 wins whether or not it is correct
    assert majority_vote(["3", "4", "3.0", "4"], [W, C, W, C]) == Vote("3", W, 2, 4)


def test_majority_vote_groups_equivalent_answers():
    # every correct answer equals the gold, so differently written correct answers are one class
    assert majority_vote(["3", r"\frac{1}{2}", "1/2"], [W, C, C]) == Vote(r"\frac{1}{2}", C, 2, 3)
    # wrong plain numbers are grouped by value, other wrong answers by their text without spaces
    assert majority_vote(["2", "3", " 3.0 ", "x + 1", "x+1", "x +1"], [C, W, W, W, W, W]) == Vote("x + 1", W, 3, 6)


def test_majority_vote_with_no_answers_or_unjudgeable_winner():
    assert majority_vote([None, "", None], [N, N, N]) == Vote(None, N, 0, 0)
    assert majority_vote([], []) == Vote(None, N, 0, 0)
    vote = majority_vote(["x", "x", "4"], [U, U, C])
    assert vote.verdict is U and vote.votes == 2  # an unjudgeable winner is not correct
    with pytest.raises(ValueError):
        majority_vote(["1"], [C, W])


# -- the benchmark summary -------------------------------------------------------------------------
def fixed_samples():
    """3 problems x 4 samples, with a tie, answers without a box and an unjudgeable one."""
    return [
        # c = 2; vote: correct 2 vs "5" 1 -> correct
        [Judged(C, "4", 10, False), Judged(C, "4", 20, False), Judged(W, "5", 30, False), Judged(N, None, 40, True)],
        # c = 2; vote: "3" 2 vs correct 2, tie -> "3" voted first -> wrong
        [Judged(W, "3", 12, False), Judged(C, "4", 8, False), Judged(W, "3.0", 16, False), Judged(C, "4", 4, False)],
        # c = 0; two without an answer; vote: "x" (unjudgeable) 1 vs "9" 1, tie -> "x" first -> not correct
        [Judged(N, None, 50, True), Judged(N, None, 50, True), Judged(U, "x", 20, False), Judged(W, "9", 30, False)],
    ]


def test_summary_of_fixed_samples_matches_hand_computation():
    s = summarize(fixed_samples(), [1, 2, 4])
    assert (s["n_problems"], s["k"], s["n_samples"]) == (3, 4, 12)
    assert s["pass@1"] == pytest.approx((2 / 4 + 2 / 4 + 0) / 3)
    assert s["cons@k"] == pytest.approx(1 / 3)
    assert s["pass@k"]["1"] == pytest.approx(s["pass@1"])
    assert s["pass@k"]["2"] == pytest.approx((5 / 6 + 5 / 6 + 0) / 3)  # 1 - C(2,2)/C(4,2) = 5/6
    assert s["pass@k"]["4"] == pytest.approx(2 / 3)
    assert s["mean_length"] == pytest.approx(290 / 12)
    assert s["mean_length_correct"] == pytest.approx((10 + 20 + 8 + 4) / 4)
    assert s["mean_length_incorrect"] == pytest.approx((30 + 40 + 12 + 16 + 50 + 50 + 30) / 7)  # wrong or no answer
    assert s["truncated_rate"] == pytest.approx(3 / 12)
    assert s["no_answer_rate"] == pytest.approx(3 / 12)
    assert s["wrong_rate"] == pytest.approx(4 / 12)
    assert s["unjudgeable"] == 1 and s["unjudgeable_rate"] == pytest.approx(1 / 12)
    assert s["cons_no_vote"] == 0


def test_summary_edge_cases():
    none_right = summarize([[Judged(W, "1", 5, False)]])
    assert none_right["mean_length_correct"] is None and none_right["pass@k"] == {"1": 0.0}
    with pytest.raises(ValueError):
        summarize([[Judged(C, "1", 5, False)], []])  # every problem needs the same k
    with pytest.raises(ValueError):
        summarize(fixed_samples(), [5])  # pass@5 from 4 samples


# -- token budgets ---------------------------------------------------------------------------------
def chars(ids):
    return "".join(map(chr, ids))


def char_ids(text):
    return [ord(ch) for ch in text]


def test_at_budget_on_hand_made_token_sequences(verifier):
    judge = lambda text: verifier.check(text, "12")  # noqa: E731
    ids = char_ids(r"so \boxed{3}, no: \boxed{12}")  # one token per character
    full = Judged(C, "12", len(ids), False)
    assert at_budget(full, ids, len(ids), chars, judge) is full  # fits: unchanged
    assert at_budget(full, ids, 100, chars, judge) is full
    # "\boxed{12" never closes: the last closed box is the earlier one, a wrong answer
    assert at_budget(full, ids, len(ids) - 1, chars, judge) == Judged(W, "3", len(ids) - 1, True)
    assert at_budget(full, ids, len(r"so \boxed{3}"), chars, judge) == Judged(W, "3", 12, True)
    assert at_budget(full, ids, len(r"so \boxed{3"), chars, judge) == Judged(N, None, 11, True)  # before any answer
    assert at_budget(full, ids, 2, chars, judge) == Judged(N, None, 2, True)
    only = char_ids(r"\boxed{12}")
    assert at_budget(Judged(C, "12", 10, False), only, 9, chars, judge) == Judged(N, None, 9, True)
    # a sample that hit the limit stays truncated at that budget
    unfinished = Judged(N, None, 5, True)
    assert at_budget(unfinished, char_ids("12345"), 5, chars, judge) is unfinished
    with pytest.raises(ValueError):
        at_budget(full, ids, 0, chars, judge)
    with pytest.raises(ValueError):
        at_budget(full, ids[:-1], 5, chars, judge)


def test_at_budget_with_the_tiny_tokenizer(verifier):
    from lead_lite.models.tiny import build_tokenizer

    tok = build_tokenizer()
    ids = tok("<think>3+4=7.</think> \\boxed{7}<|endoftext|>", add_special_tokens=False)["input_ids"]
    full = Judged(C, "7", len(ids), False)

    def decode(x):
        return tok.decode(x, skip_special_tokens=True)

    def judge(text):
        return verifier.check(text, "7")

    assert at_budget(full, ids, len(ids) - 1, decode, judge) == Judged(C, "7", len(ids) - 1, True)  # EOS cut
    assert at_budget(full, ids, len(ids) - 2, decode, judge).verdict is N  # closing brace cut


def test_budget_cut_equals_greedy_generation_with_that_budget(tiny_model, verifier, one_thread):
    """Greedy decoding: the 64-token samples cut to 16 or 32 tokens are the 16/32-token samples."""
    from lead_lite.tasks.eval_sets import load_benchmark
    from lead_lite.eval import budget_curve, judge_samples
    from lead_lite.metrics import summarize
    from lead_lite.models.sampling import sample_hf

    model, tok = tiny_model
    rows = load_benchmark("arithmetic", verifier, 6)
    prompts = [r["prompt"] for r in rows]
    long = sample_hf(model, tok, prompts, 64)
    _, judged = judge_samples(rows, long, verifier)
    curve = budget_curve(rows, long, judged, [16, 32, 64], tok, verifier)
    assert curve[0]["truncated_rate"] > 0 and curve[0]["pass@1"] < curve[-1]["pass@1"]  # the cuts matter
    for point in curve:
        short = sample_hf(model, tok, prompts, point["budget"])
        for s, l in zip(short, long):
            assert s[0].token_ids == l[0].token_ids[: point["budget"]]
        _, judged_short = judge_samples(rows, short, verifier)
        expected = summarize(judged_short, [1])
        assert point["pass@1"] == expected["pass@1"]
        assert point["no_answer_rate"] == expected["no_answer_rate"]
        assert point["truncated_rate"] == expected["truncated_rate"]


# -- benchmarks ------------------------------------------------------------------------------------
def test_benchmarks_local_file_and_errors(tmp_path, verifier):
    from lead_lite.tasks.eval_sets import BENCHMARKS, load_benchmark
    from lead_lite.tasks.sources import DataError

    assert set(BENCHMARKS) == {"aime24", "aime25", "math500", "amc23"}
    path = tmp_path / "mine.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in [
        {"problem": "What is 2+2?", "answer": "4"}, {"problem": "Half of 1?", "answer": 0.5},
        {"problem": "", "answer": "3"},  # no problem: dropped
    ]))
    rows = load_benchmark(str(path), verifier)
    assert [r["answer"] for r in rows] == ["4", "0.5"] and rows[0]["id"] == "mine:0"
    assert rows[0]["prompt"].endswith("within \\boxed{}.")
    assert len(load_benchmark(str(path), verifier, max_problems=1)) == 1
    assert len(load_benchmark("arithmetic", verifier, 5)) == 5
    with pytest.raises(DataError):
        load_benchmark("no-such-benchmark", verifier)


# -- vLLM path, against a stand-in module (vLLM itself needs a GPU) ----------------------------------
def test_vllm_path_wiring_with_a_stand_in_module(monkeypatch, tmp_path):
    import torch

    from lead_lite.models.sampling import sample_vllm
    from lead_lite.models.tiny import build_tokenizer

    calls = {}

    class SamplingParams:
        def __init__(self, **kw):
            calls["params"] = kw

    class LoRARequest:
        def __init__(self, name, int_id, path):
            calls["lora"] = (name, int_id, path)

    class LLM:
        def __init__(self, **kw):
            calls["llm"] = kw

        def generate(self, inputs, params, lora_request=None):
            calls["inputs"], calls["lora_request"] = inputs, lora_request
            out = types.SimpleNamespace
            return [out(outputs=[out(text="\\boxed{1}", token_ids=[5, 6, 0], finish_reason="stop"),
                                 out(text="1+", token_ids=[5, 7], finish_reason="length")]) for _ in inputs]

    vllm = types.ModuleType("vllm")
    vllm.LLM, vllm.SamplingParams = LLM, SamplingParams
    lora_module = types.ModuleType("vllm.lora.request")
    lora_module.LoRARequest = LoRARequest
    monkeypatch.setitem(sys.modules, "vllm", vllm)
    monkeypatch.setitem(sys.modules, "vllm.lora", types.ModuleType("vllm.lora"))
    monkeypatch.setitem(sys.modules, "vllm.lora.request", lora_module)
    (tmp_path / "adapter_config.json").write_text(json.dumps({"r": 24}))

    tok = build_tokenizer()
    out = sample_vllm("/models/base", tok, ["What is 1+1?", "What is 2-1?"], 64, 2, 0.6, 0.95, 0.0, 3, str(tmp_path))
    longest = max(len(tok(p, add_special_tokens=False)["input_ids"]) for p in ["What is 1+1?", "What is 2-1?"])
    dtype = "auto" if torch.cuda.is_available() else "float32"  # the HF path's precision on this machine
    assert calls["llm"] == dict(model="/models/base", seed=3, max_model_len=longest + 64, dtype=dtype,
                                gpu_memory_utilization=0.3, enforce_eager=not torch.cuda.is_available(),
                                enable_lora=True, max_lora_rank=32, max_loras=1)
    assert calls["params"] == dict(n=2, temperature=0.6, top_p=0.95, min_p=0.0, max_tokens=64, seed=3)
    assert calls["lora"] == ("adapter", 1, str(tmp_path))
    assert calls["inputs"][0]["prompt_token_ids"] == tok("What is 1+1?", add_special_tokens=False)["input_ids"]
    assert [[(c.text, c.length, c.finished) for c in cs] for cs in out] == [[("\\boxed{1}", 3, True), ("1+", 2, False)]] * 2


# -- end to end ------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def tiny_model():
    from lead_lite.models.loading import load_tokenizer
    from lead_lite.models.tiny import prepare_tiny_model
    from transformers import AutoModelForCausalLM

    path = prepare_tiny_model()
    return AutoModelForCausalLM.from_pretrained(path).eval(), load_tokenizer(str(path))


@pytest.fixture(scope="module")
def random_adapter(tmp_path_factory):
    """A LoRA adapter with random (non-zero) B matrices, saved as lead_lite.train saves one."""
    from lead_lite.config import ModelArguments
    from lead_lite.models.loading import lora_config
    from peft import get_peft_model
    from lead_lite.models.tiny import prepare_tiny_model
    from transformers import AutoModelForCausalLM

    base = AutoModelForCausalLM.from_pretrained(prepare_tiny_model())
    peft_model = get_peft_model(base, lora_config(ModelArguments()))
    torch.manual_seed(0)
    with torch.no_grad():
        for name, p in peft_model.named_parameters():
            if "lora_B" in name:
                p.normal_(0, 0.5)
    out = tmp_path_factory.mktemp("adapter")
    peft_model.save_pretrained(out)
    return out


EVAL_ARGS = ["--model", "tiny", "--data", "arithmetic", "--max_problems", "8", "--k", "2",
             "--budgets", "16", "32", "64"]


def read_jsonl(path):
    return [json.loads(line) for line in Path(path).read_text().splitlines()]


def test_cli_end_to_end_and_compare(tmp_path, random_adapter, one_thread):
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    base = tmp_path / "base"
    subprocess.run([sys.executable, "-m", "lead_lite.eval", *EVAL_ARGS, "--output_dir", str(base)],
                   check=True, cwd=REPO, env=env, capture_output=True, timeout=300)
    for name in ("samples.jsonl", "summary.json", "budget_curve.csv", "budget_curve.png", "resolved_config.yaml"):
        assert (base / name).is_file(), name
    assert (base / "budget_curve.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    samples = read_jsonl(base / "samples.jsonl")
    assert len(samples) == 16
    assert {"problem_id", "sample_index", "completion", "answer", "verdict", "correct", "length",
            "truncated"} <= set(samples[0])
    assert sorted({s["sample_index"] for s in samples}) == [0, 1]
    summary = json.loads((base / "summary.json").read_text())
    s = summary["benchmarks"]["arithmetic"]
    assert (s["n_problems"], s["k"], s["n_samples"]) == (8, 2, 16)
    assert summary["sampling"] == dict(k=2, temperature=0.6, top_p=0.95, min_p=0.0, max_new_tokens=64, seed=0)
    # the summary is computed from the samples
    assert s["pass@1"] == pytest.approx(sum(x["correct"] for x in samples) / 16)
    assert s["truncated_rate"] == pytest.approx(sum(x["truncated"] for x in samples) / 16)
    assert s["mean_length"] == pytest.approx(sum(x["length"] for x in samples) / 16)
    by_problem = {}
    for x in samples:
        by_problem.setdefault(x["problem_id"], []).append(x["correct"])
    assert s["pass@k"]["2"] == pytest.approx(sum(any(v) for v in by_problem.values()) / 8)
    assert all(x["length"] <= 64 for x in samples) and all(x["length"] == 64 for x in samples if x["truncated"])

    with (base / "budget_curve.csv").open() as f:
        curve = list(csv.DictReader(f))
    assert [int(r["budget"]) for r in curve] == [16, 32, 64]
    assert float(curve[-1]["pass@1"]) == pytest.approx(s["pass@1"])  # the full budget is the plain result
    assert all(float(r["mean_length"]) <= int(r["budget"]) for r in curve)

    # the same evaluation with a LoRA adapter, in-process
    from lead_lite.eval import main

    lora = tmp_path / "lora"
    lora_summary = main([*EVAL_ARGS, "--adapter", str(random_adapter), "--output_dir", str(lora)])
    assert lora_summary["adapter"] == str(random_adapter)
    lora_samples = read_jsonl(lora / "samples.jsonl")
    assert [x["completion"] for x in lora_samples] != [x["completion"] for x in samples]  # the adapter is applied

    table_file = tmp_path / "table.md"
    result = subprocess.run([sys.executable, "-m", "lead_lite.eval", "compare", str(base), str(lora),
                             "--output", str(table_file)], check=True, cwd=REPO, env=env, capture_output=True,
                            text=True, timeout=120)
    lines = [line for line in result.stdout.splitlines() if line.startswith("|")]
    assert lines[0].startswith("| benchmark | run | k | pass@1 | cons@k | pass@k |")
    assert len(lines) == 4 and lines[2].startswith("| arithmetic | base | 2 | ")
    assert lines[3].startswith("| arithmetic | lora | 2 | ")
    assert f"| {100 * s['pass@1']:.1f} |" in lines[2]
    assert table_file.read_text() == result.stdout


def test_cli_rejects_bad_settings(tmp_path):
    from lead_lite.eval import main

    for bad in (["--budgets", "128"], ["--k", "0"], ["--top_p", "0"], ["--pass_k", "4", "--k", "2"],
                ["--engine", "sglang"], ["--adapter", str(tmp_path)], ["--no_such_flag", "1"]):
        with pytest.raises(SystemExit) as exc:
            main(["--model", "tiny", "--output_dir", str(tmp_path / "x"), *bad])
        assert exc.value.code == 2, bad


def test_answer_keys_by_value():
    from lead_lite.metrics import answer_key

    assert answer_key("3.0", W) == ("number", Fraction(3))
    assert answer_key("1,000", W) == answer_key("1000", W)
    assert answer_key(r"\frac{1}{2}", C) == answer_key("7", C)


def test_metric_docstring_examples():
    import doctest

    import lead_lite.metrics

    assert doctest.testmod(lead_lite.metrics).failed == 0
