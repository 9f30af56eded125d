"""What GRPO-LEAD costs on top of TRL: training-step time and answer-checking throughput.

    python benchmarks/overhead.py                       # full run, writes results/overhead.md
    python benchmarks/overhead.py --repeats 3 --checks 40 --out /tmp/overhead-smoke   # a smoke run

1. Step time. Two trainers over the same warm-started tiny model, the same LoRA initialisation
   and the same reward functions: the LEAD trainer (``lead_trainer_class()``, all three
   components on) and TRL's plain ``GRPOTrainer``. Each repeat seeds torch identically before
   each trainer's call, so both sample the same completions from the same batch (checked), and
   the order of the two alternates between repeats. Two paths are timed:

   - full step: ``training_step`` = generation + scoring + loss + backward (the optimizer step,
     identical code for both, is left out so that every repeat starts from the same weights);
   - scoring path: ``_generate_and_score_completions`` with generation replayed from a recording
     (rewards, gathering, advantages and, for LEAD, ``lead_batch``);

   and ``lead_batch`` alone. Reported: medians over repeats and the LEAD / TRL ratio.

2. Verifier throughput (``lead_lite.verifier.MathVerifier``): checks per second, median and worst
   latency, with a cold cache (a new verifier: its constructor has started the workers, not
   counted) and a warm one (the same checks again), each repeated min(--repeats, 3) times on new
   verifiers (the spread is reported). Sets: typical answers (integers, decimals, fractions,
   radicals, multiples of pi, expressions; right, wrong or unboxed) with 8 completions per gold
   and with every gold distinct; the fuzzer's mix (``tests/answer_forms.py``: 21 kinds of
   answer, right and wrong, every pair distinct); real model completions, when
   ``benchmarks/data/smollm2_completions.jsonl`` exists (rows with "gold" and "completion", as
   ``lead_lite.eval`` writes samples.jsonl; skipped with a note otherwise); sympy-bound answers
   (intervals, equations, trigonometry, sets of expressions) that only the workers judge;
   adversarial ones (towers, factorial chains, nesting, 200k characters of unclosed boxes,
   answers that keep sympy busy past any timeout). Measured one ``check`` per completion and in
   ``check_batch`` calls of --batch_checks completions, with the share of checks sent to the
   math-verify workers. The worst single check on the adversarial set is measured at timeouts
   0.1 s and --timeout_s.

Targets (reported, not asserted): step-time ratio <= 1.05; with a cold cache, one check per
call, >= 1,500 checks/s with every gold distinct and >= 10,000/s at 8 completions per gold;
every check <= timeout x 1.05 + 50 ms.

Writes ``--out``/overhead.md (a "## Findings" section already in the file is kept).
"""

from __future__ import annotations

import argparse
import copy
import importlib.util
import json
import os
import platform
import random
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

TARGET_RATIO = 1.05
TARGET_DISTINCT = 1500  # checks/s, cold cache, every gold distinct
TARGET_GROUPED = 10_000  # checks/s, cold cache, 8 completions per gold
COMPLETIONS = Path(__file__).resolve().parent / "data" / "smollm2_completions.jsonl"  # real model completions
FORMS = Path(__file__).resolve().parent.parent / "tests" / "answer_forms.py"  # the fuzzer's forms
FINDINGS = "## Findings"


# -- 1. step time ---------------------------------------------------------------------------
def _trainers(steps_batch: int, num_generations: int, max_completion_length: int):
    """(LEAD trainer, TRL trainer, the generation batch) over identical models."""
    import trl
    from transformers import set_seed

    from lead_lite.config import resolve
    from lead_lite.models.loading import load_policy
    from lead_lite.tasks.arithmetic import ArithmeticTask, generate
    from lead_lite.training import build_trainer
    from lead_lite.verifier import MathVerifier

    work = Path(tempfile.mkdtemp(prefix="overhead-"))
    (config,) = resolve(
        ["--model", "tiny", "--output_dir", str(work), "--per_device_train_batch_size", str(steps_batch),
         "--num_generations", str(num_generations), "--max_completion_length", str(max_completion_length),
         "--save_strategy", "no", "--report_to", "none", "--disable_tqdm", "true", "--reward_weights", "1.0", "0.0"]
    )
    lead, training = config.lead, config.training
    rows = generate(64, seed=0, split="train")
    task = ArithmeticTask(MathVerifier())
    built = []
    for lead_seam in (True, False):
        set_seed(0)  # same weights, same LoRA initialisation
        model, tokenizer, peft_config, _ = load_policy(config.model, training)
        if lead_seam:
            built.append(build_trainer(config, model, tokenizer, peft_config, task, rows))
        else:  # TRL's own trainer over the same parts
            built.append(trl.GRPOTrainer(model=model, reward_funcs=task.reward_funcs(config.data.reward_funcs),
                                         args=training, train_dataset=task.to_dataset(rows, tokenizer),
                                         processing_class=tokenizer, peft_config=peft_config))
    lead_t, trl_t = built
    for t in built:  # set by Trainer.train's loop, which this benchmark steps around
        t.current_gradient_accumulation_steps = training.gradient_accumulation_steps
    a = {k: v for k, v in lead_t.model.state_dict().items()}
    b = trl_t.model.state_dict()
    if a.keys() != b.keys() or any(not a[k].equal(b[k]) for k in a):
        raise RuntimeError("the two trainers' models differ before the first step")
    dataset = task.to_dataset(rows, lead_t.processing_class)
    n_prompts = steps_batch // num_generations
    batch = [dict(dataset[i]) for i in range(n_prompts) for _ in range(num_generations)]  # (N,) rows, P x G
    return lead_t, trl_t, batch, lead, work


def _timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def step_overhead(repeats: int, steps_batch: int, num_generations: int, max_completion_length: int) -> dict:
    import torch

    from lead_lite.trainer import lead_batch

    lead_t, trl_t, batch, lead, work = _trainers(steps_batch, num_generations, max_completion_length)
    trainers = {"lead": lead_t, "trl": trl_t}
    full = {"lead": [], "trl": []}
    for r in range(repeats + 1):  # repeat 0 warms up and is not counted
        order = ("lead", "trl") if r % 2 == 0 else ("trl", "lead")
        completions = {}
        for name in order:
            t = trainers[name]
            torch.manual_seed(1000 + r)
            seconds = _timed(lambda: t.training_step(t.model, batch, None))
            t.model.zero_grad(set_to_none=True)
            completions[name] = t._buffered_inputs[0]["completion_ids"]
            if r:
                full[name].append(seconds)
        if not torch.equal(completions["lead"], completions["trl"]):
            raise RuntimeError(f"repeat {r}: the two trainers sampled different completions")

    # scoring path: replay one recorded generation so only the scoring code runs
    torch.manual_seed(0)
    lead_t.model.train()
    recorded = lead_t._generate([x["prompt"] for x in batch])
    scoring = {"lead": [], "trl": []}
    for t in trainers.values():
        t.model.train()
        t._generate = lambda prompts: copy.deepcopy(recorded)
    for r in range(repeats * 4 + 1):
        order = ("lead", "trl") if r % 2 == 0 else ("trl", "lead")
        for name in order:
            t = trainers[name]
            seconds = _timed(lambda: t._generate_and_score_completions(batch))
            if r:
                scoring[name].append(seconds)

    # lead_batch alone, on the recorded batch's shape
    n = len(batch)
    cols = torch.stack([torch.randint(0, 2, (n,)).float(), torch.ones(n)], dim=1)  # (N, F)
    lengths = torch.randint(5, max_completion_length, (n,)).float()  # (N,)
    weights = torch.tensor([1.0, 0.0])
    alone = [_timed(lambda: lead_batch(cols, lengths, num_generations, weights, lead, 0, 1))
             for _ in range(repeats * 20)]
    for t in trainers.values():
        t.reward_funcs[0].verifier.close()
    shutil.rmtree(work)
    med = {k: statistics.median(v) for k, v in full.items()}
    med_s = {k: statistics.median(v) for k, v in scoring.items()}
    return {
        "completions": n, "num_generations": num_generations, "max_completion_length": max_completion_length,
        "repeats": repeats,
        "full_lead_s": med["lead"], "full_trl_s": med["trl"], "full_ratio": med["lead"] / med["trl"],
        "full_paired_ratio": statistics.median(a / b for a, b in zip(full["lead"], full["trl"])),
        "full_lead_all": full["lead"], "full_trl_all": full["trl"],
        "scoring_lead_s": med_s["lead"], "scoring_trl_s": med_s["trl"], "scoring_ratio": med_s["lead"] / med_s["trl"],
        "lead_batch_s": statistics.median(alone),
    }


# -- 2. verifier throughput -----------------------------------------------------------------
def _forms(kind: int, a: int, b: int) -> tuple[str, list[str], list[str]]:
    """(gold, equivalent right answers, wrong answers) of one problem of the given kind."""
    if kind == 0:  # integer
        return str(a), [str(a), f"{a}.0", f"\\frac{{{2 * a}}}{{2}}"], [str(a + 1), str(a - 1)]
    if kind == 1:  # decimal
        return f"{a}.5", [f"{a}.5", f"{a}.50", f"\\frac{{{2 * a + 1}}}{{2}}"], [f"{a}.25", str(a)]
    if kind == 2:  # fraction
        return (f"\\frac{{{a}}}{{{b}}}", [f"\\frac{{{a}}}{{{b}}}", f"\\dfrac{{{a}}}{{{b}}}", f"{a}/{b}"],
                [f"\\frac{{{a + 1}}}{{{b}}}", f"\\frac{{{b}}}{{{a}}}"])
    if kind == 3:  # radical
        return f"{a}\\sqrt{{{b}}}", [f"{a}\\sqrt{{{b}}}", f"{a} \\sqrt{{{b}}}"], [f"{a}\\sqrt{{{b + 1}}}", str(a * b)]
    if kind == 4:  # multiple of pi
        return f"{a}\\pi", [f"{a}\\pi", f"\\pi {a}"], [f"{a + 1}\\pi", str(a)]
    if kind == 5:  # algebraic expression
        return f"{a}+{b}x", [f"{b}x+{a}", f"{a} + {b}x"], [f"{a}+{b + 1}x", f"{b}x"]
    return f"-{a}", [f"-{a}", f"-\\frac{{{2 * a}}}{{2}}"], [str(a), f"-{a + 1}"]  # negative number


def typical_answers(n: int, group: int = 8, seed: int = 0) -> list[tuple[str, str]]:
    """``n`` (completion, gold) pairs as a GRPO run checks them: ``group`` completions per problem.

    Problems rotate over integers, decimals, fractions, radicals, multiples of pi, algebraic
    expressions and negative numbers; each completion is right (45%, in one of several equivalent
    forms), wrong (40%) or has no ``\\boxed{}`` answer (15%). Identical (answer, gold) pairs
    within a group are the verifier cache's work, as in training.
    """
    rng = random.Random(seed)
    pairs = []
    for i in range(-(-n // group)):
        gold, right, wrong = _forms(i % 7, rng.randint(2, 999), rng.randint(2, 99))
        for _ in range(group):
            u = rng.random()
            if u < 0.15:
                pairs.append((f"the answer is {gold}", gold))
            else:
                answer = rng.choice(right if u < 0.6 else wrong)
                pairs.append((f"<think>...</think> so \\boxed{{{answer}}}", gold))
    return pairs[:n]


def fuzz_answers(n: int, seed: int = 0) -> list[tuple[str, str]]:
    """``n`` (completion, gold) pairs of the differential fuzzer's mix (tests/answer_forms.py),
    each answer boxed."""
    spec = importlib.util.spec_from_file_location("answer_forms", FORMS)
    forms = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(forms)
    return [(f"so \\boxed{{{answer}}}", gold) for gold, answer in forms.fuzz_pairs(n, seed=seed)]


def completion_answers(path: Path = COMPLETIONS) -> list[tuple[str, str]] | None:
    """(completion, gold) of every row of a samples.jsonl-style file; None when it is absent."""
    if not path.exists():
        return None
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return [(str(r["completion"]), str(r["gold"])) for r in rows]


SLOW_ANSWERS = [r"(x+1)^{999}", r"(x+y+z)^{60}", r"\binom{99999}{49999}"]  # pass the screen; sympy needs seconds


def adversarial_answers() -> list[tuple[str, str]]:
    """Degenerate completions: screened forms (towers, factorial chains, nesting, size), linear
    extraction cases (10k characters, 5,000 unclosed braces, 28,571 unclosed boxes) and answers
    that pass the screen but keep sympy busy past any timeout."""
    return [(f"\\boxed{{{SLOW_ANSWERS[0]}}}", "x+1")] + [  # the verifier's first check is a slow one
        ("\\boxed{9^{9^{9^{9}}}}", "3"),
        ("\\boxed{" + "9" * 10_000 + "}", "9"),
        ("x" * 10_000 + " \\boxed{1}", "1"),
        ("\\boxed{" + "{" * 200 + "1" + "}" * 200 + "}", "1"),
        ("\\boxed{" + "{" * 5000 + "1", "1"),  # unclosed
        ("\\boxed{" * 28_571, "1"),  # 200k characters of unclosed boxes
        ("\\boxed{" + "\\frac{" * 50 + "1" + "}{2}" * 50 + "}", "1"),
        ("\\boxed{" + "(" * 60 + "1" + ")" * 60 + "}", "1"),
        ("\\boxed{2^{2^{2^{2^{2^{2}}}}}}", "4"),
        ("\\boxed{10!!!!!}", "7"),
        ("\\boxed{\\sum_{k=1}^{10^{12}} k^{k}}", "1"),
    ] + [(f"\\boxed{{{a}}}", "2") for a in SLOW_ANSWERS[1:]] + [("\\boxed{7}", "7"), ("\\boxed{x=2}", "2")]


def sympy_answers(n: int, seed: int = 0) -> list[tuple[str, str]]:
    """``n`` (completion, gold) pairs that the exact rules leave to math-verify (intervals,
    equations, trigonometry, sets of expressions), every gold distinct: the workers' share."""
    rng = random.Random(seed)
    pairs = []
    for i in range(n):
        a, b = rng.randint(2, 999), rng.randint(2, 99)
        gold, right, wrong = [
            (f"[{a}, {a + b})", f"[{a},{a + b})", f"({a},{a + b}]"),
            (f"x = {a}", f"{a}", f"x={a + 1}"),
            (f"\\sin^2 x + {a}", f"{a} + \\sin^2 x", f"\\cos^2 x + {a}"),
            (f"\\{{{a}, \\sqrt{{{b}}}\\}}", f"\\{{\\sqrt{{{b}}}, {a}\\}}", f"\\{{{a}, {b}\\}}"),
        ][i % 4]
        pairs.append((f"so \\boxed{{{right if rng.random() < 0.5 else wrong}}}", gold))
    return pairs


def verifier_throughput(pairs: list[tuple[str, str]], timeout_s: float, batch: int | None = None) -> dict:
    """Cold-cache pass then warm-cache pass over ``pairs`` with one new verifier.

    Cold means a new verifier: its constructor has started the workers (not counted) and no
    answer or gold is cached. ``batch``: judge ``batch`` completions per ``check_batch`` call
    (as the reward functions do); None: one ``check`` call per completion. Latencies are per
    call.
    """
    from lead_lite.verifier import MathVerifier

    start = time.perf_counter()
    v = MathVerifier(timeout_s=timeout_s)
    out = {"worker_start_s": time.perf_counter() - start, "n": len(pairs), "timeout_s": timeout_s, "batch": batch}
    calls = [pairs[i:i + batch] for i in range(0, len(pairs), batch)] if batch else [[p] for p in pairs]
    for phase in ("cold", "warm"):
        latencies = []
        t0 = time.perf_counter()
        for call in calls:
            completions, golds = [c for c, _ in call], [g for _, g in call]
            latencies.append(_timed(lambda: v.check_batch(completions, golds)))
        total = time.perf_counter() - t0
        out[phase] = {"checks_per_s": len(pairs) / total, "median_ms": 1000 * statistics.median(latencies),
                      "worst_ms": 1000 * max(latencies), "total_s": total}
    out["timeouts"] = v.stats["timeouts"]
    out["worker_calls"] = v.stats["worker_calls"]
    v.close()
    return out


def repeated(repeats: int, *args, **kwargs) -> dict:
    """:func:`verifier_throughput` ``repeats`` times (a new verifier each time): the run with
    the median cold throughput, plus every run's cold checks/s (the spread)."""
    runs = [verifier_throughput(*args, **kwargs) for _ in range(repeats)]
    runs.sort(key=lambda r: r["cold"]["checks_per_s"])
    median = dict(runs[len(runs) // 2])
    median["cold_all"] = [r["cold"]["checks_per_s"] for r in runs]
    median["worst_cold_ms"] = max(r["cold"]["worst_ms"] for r in runs)
    return median


# -- report ---------------------------------------------------------------------------------
def report(step: dict | None, verifier: dict, command: str) -> str:
    lines = ["# GRPO-LEAD overhead: step time and answer checking", "",
             f"Command: `{command}`", "",
             f"Machine: {os.cpu_count()}-core CPU ({platform.machine()}), no GPU, torch with 1 thread.", ""]
    if step is not None:
        ok = "meets" if step["full_ratio"] <= TARGET_RATIO else "misses"
        lines += [
            f"## Training step (tiny model, {step['completions']} completions = "
            f"{step['completions'] // step['num_generations']} prompts x {step['num_generations']}, "
            f"<= {step['max_completion_length']} tokens; median of {step['repeats']} interleaved repeats)", "",
            "| path | LEAD trainer (s) | TRL GRPOTrainer (s) | LEAD / TRL |", "|---|---|---|---|",
            f"| full step (generate + score + loss + backward) | {step['full_lead_s']:.4f} | {step['full_trl_s']:.4f} "
            f"| {step['full_ratio']:.3f} |",
            f"| scoring path (generation replayed) | {step['scoring_lead_s']:.4f} | {step['scoring_trl_s']:.4f} "
            f"| {step['scoring_ratio']:.3f} |",
            f"| `lead_batch` alone | {step['lead_batch_s'] * 1000:.3f} ms | - | - |", "",
            f"Median of the per-repeat ratios (each repeat's LEAD step / its TRL step): "
            f"{step['full_paired_ratio']:.3f}.", "",
            f"Target: full-step ratio <= {TARGET_RATIO}: {ok}. Per-repeat full-step times (s): LEAD "
            f"{' '.join(f'{x:.3f}' for x in step['full_lead_all'])}; TRL "
            f"{' '.join(f'{x:.3f}' for x in step['full_trl_all'])}.", "",
        ]
    lines += [
        "## Verifier (`MathVerifier`)", "",
        f"Load average while measuring (1 min): {verifier['load']}. Each figure is the run with the median "
        f"cold throughput of {verifier['repeats']} run(s), each on a new verifier; the spread of cold checks/s "
        "over the runs is in brackets.", "",
        "One `check` call per completion:", "",
        "| answers | checks | cache | checks/s | median (ms) | worst (ms) | sent to math-verify |",
        "|---|---|---|---|---|---|---|",
    ]
    sets = (("typical, 8 per gold (a GRPO batch)", verifier["typical"]), ("typical, all golds distinct",
            verifier["distinct"]), ("fuzzer's mix, all pairs distinct", verifier["fuzz"]),
            ("real completions (SmolLM2)", verifier["completions"]), ("adversarial", verifier["adversarial"]),
            ("sympy-bound, all golds distinct", verifier["sympy"]))
    spread = lambda r: "" if len(r.get("cold_all", [])) < 2 else (  # noqa: E731
        " [" + ", ".join(f"{x:.0f}" for x in r["cold_all"]) + "]")
    share = lambda r: f"{100 * r['worker_calls'] / r['n']:.0f}%"  # noqa: E731 - cold pass; warm hits the cache
    for name, res in sets:
        if res is None:
            continue
        for phase in ("cold", "warm"):
            r = res[phase]
            rate = f"{r['checks_per_s']:.0f}{spread(res) if phase == 'cold' else ''}"
            lines.append(f"| {name} | {res['n']} | {phase} | {rate} | {r['median_ms']:.2f} | {r['worst_ms']:.1f} | "
                         f"{share(res) if phase == 'cold' else '-'} |")
    if verifier["completions"] is None:
        lines += ["", f"Real completions: skipped, `{COMPLETIONS.relative_to(COMPLETIONS.parents[2])}` is absent "
                  "(rows with \"gold\" and \"completion\", as `lead_lite.eval` writes samples.jsonl)."]
    lines += ["", f"`check_batch` calls of {verifier['batch']} completions (what the reward functions do; the "
              "workers judge a call's undecided answers in parallel; latencies per call):", "",
              "| answers | checks | cache | checks/s | median call (ms) | worst call (ms) |",
              "|---|---|---|---|---|---|"]
    for name, res in (("typical, 8 per gold, batched", verifier["typical_batch"]),
                      ("typical, all golds distinct, batched", verifier["distinct_batch"]),
                      ("fuzzer's mix, batched", verifier["fuzz_batch"]),
                      ("real completions (SmolLM2), batched", verifier["completions_batch"]),
                      ("sympy-bound, all golds distinct, batched", verifier["sympy_batch"])):
        if res is None:
            continue
        for phase in ("cold", "warm"):
            r = res[phase]
            rate = f"{r['checks_per_s']:.0f}{spread(res) if phase == 'cold' else ''}"
            lines.append(f"| {name} | {res['n']} | {phase} | {rate} | {r['median_ms']:.1f} | {r['worst_ms']:.1f} |")
    lines += ["", "Worst single check on the adversarial set (a new verifier whose first check is a slow one; "
              "bound: timeout x 1.05 + 50 ms):", "", "| timeout (s) | worst check (ms) | bound (ms) | checks that "
              "timed out | |", "|---|---|---|---|---|"]
    for res in verifier["bounds"]:
        limit = 1000 * (res["timeout_s"] * 1.05 + 0.05)
        lines.append(f"| {res['timeout_s']} | {res['worst_cold_ms']:.1f} | {limit:.0f} | {res['timeouts']} | "
                     f"{'meets' if res['worst_cold_ms'] <= limit else 'misses'} |")
    typical, distinct = verifier["typical"], verifier["distinct"]
    lines += [
        "",
        f"Worker start (a new verifier: workers and standby import sympy and math-verify; not counted): "
        f"{typical['worker_start_s']:.2f} s. Worker calls in the cold pass: typical {typical['worker_calls']}, "
        f"distinct {distinct['worker_calls']} of {typical['n']} checks.",
        f"Targets (cold cache, one check per call): >= {TARGET_DISTINCT} checks/s with every gold distinct: "
        f"{'meets' if distinct['cold']['checks_per_s'] >= TARGET_DISTINCT else 'misses'} "
        f"({distinct['cold']['checks_per_s']:.0f}/s); >= {TARGET_GROUPED} checks/s at 8 completions per gold: "
        f"{'meets' if typical['cold']['checks_per_s'] >= TARGET_GROUPED else 'misses'} "
        f"({typical['cold']['checks_per_s']:.0f}/s).", "",
    ]
    return "\n".join(lines)


def verifier_benchmarks(checks: int, timeout_s: float, repeats: int, batch: int) -> dict:
    """Every verifier measurement of the report (section 2 of the module docstring)."""
    typical, distinct = typical_answers(checks), typical_answers(checks, group=1)
    sympy = sympy_answers(max(checks // 10, 8))
    fuzz, completions = fuzz_answers(max(checks // 4, 16)), completion_answers()
    load = [os.getloadavg()[0]]
    out = {
        "repeats": repeats, "batch": batch,
        "typical": repeated(repeats, typical, timeout_s), "distinct": repeated(repeats, distinct, timeout_s),
        "fuzz": repeated(repeats, fuzz, timeout_s), "fuzz_batch": repeated(repeats, fuzz, timeout_s, batch=batch),
        "completions": completions and repeated(repeats, completions, timeout_s),
        "completions_batch": completions and repeated(repeats, completions, timeout_s, batch=batch),
        "adversarial": repeated(1, adversarial_answers(), timeout_s),
        "sympy": repeated(repeats, sympy, timeout_s),
        "typical_batch": repeated(repeats, typical, timeout_s, batch=batch),
        "distinct_batch": repeated(repeats, distinct, timeout_s, batch=batch),
        "sympy_batch": repeated(repeats, sympy, timeout_s, batch=batch),
        "bounds": [repeated(1, adversarial_answers(), t) for t in sorted({0.1, timeout_s})],
    }
    load.append(os.getloadavg()[0])
    out["load"] = f"{load[0]:.1f} at the start, {load[1]:.1f} at the end"
    return out


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--repeats", type=int, default=21, help="interleaved repeats of each training step")
    p.add_argument("--batch", type=int, default=32, help="completions per step")
    p.add_argument("--num_generations", type=int, default=8)
    p.add_argument("--max_completion_length", type=int, default=64)
    p.add_argument("--checks", type=int, default=2000, help="typical answers checked")
    p.add_argument("--timeout_s", type=float, default=2.0, help="the verifier's per-check limit")
    p.add_argument("--batch_checks", type=int, default=64, help="completions per check_batch call")
    p.add_argument("--skip_step", action="store_true", help="verifier only")
    p.add_argument("--out", default=str(Path(__file__).resolve().parent / "results"))
    args = p.parse_args(argv)
    command = "python benchmarks/overhead.py " + " ".join(sys.argv[1:] if argv is None else argv)

    import torch

    torch.set_num_threads(1)
    step = None if args.skip_step else step_overhead(args.repeats, args.batch, args.num_generations,
                                                     args.max_completion_length)
    verifier = verifier_benchmarks(args.checks, args.timeout_s, min(args.repeats, 3), args.batch_checks)
    text = report(step, verifier, command.strip())
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    md = out / "overhead.md"
    old = md.read_text() if md.exists() else ""
    findings = old[old.index(FINDINGS):] if FINDINGS in old else ""  # written by hand, kept
    md.write_text(text + ("\n" + findings if findings else ""))
    print(text)


if __name__ == "__main__":
    main()
