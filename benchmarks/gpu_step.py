"""GRPO-LEAD training steps on one GPU with a real-shape, random-weight model (no download).

    python benchmarks/gpu_step.py --shape Qwen/Qwen3-1.7B --backend trl --load_in_4bit \
        --steps 4 --max_completion_length 256

Builds the model from its architecture (lead_lite.memory_plan.SHAPES) with random weights and a
tokenizer padded to the model's vocabulary, runs the LEAD trainer on generated arithmetic
prompts, and prints: median step time, generation tokens/s (HF generate or vLLM, as used by the
trainer), peak GPU memory (allocated and reserved), and the memory plan's estimate for the same
settings. Random weights never emit EOS, so every completion runs to max_completion_length:
the figures are a worst case for that length.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def build_random_model(shape_name: str, out: Path) -> None:
    import torch
    from transformers import Qwen2Config, Qwen2ForCausalLM, Qwen3Config, Qwen3ForCausalLM

    from lead_lite.memory_plan import SHAPES
    from lead_lite.models.tiny import build_tokenizer

    s = SHAPES[shape_name]
    tok = build_tokenizer(vocab_size=s.vocab)
    qwen3 = "Qwen3" in shape_name
    cfg_cls, model_cls = (Qwen3Config, Qwen3ForCausalLM) if qwen3 else (Qwen2Config, Qwen2ForCausalLM)
    extra = {"head_dim": s.head_dim} if qwen3 else {}
    cfg = cfg_cls(vocab_size=s.vocab, hidden_size=s.hidden, intermediate_size=s.intermediate,
                  num_hidden_layers=s.layers, num_attention_heads=s.heads, num_key_value_heads=s.kv_heads,
                  tie_word_embeddings=s.tied, max_position_embeddings=8192, eos_token_id=tok.eos_token_id,
                  pad_token_id=tok.pad_token_id, bos_token_id=None, torch_dtype="bfloat16", **extra)
    torch.manual_seed(0)
    with torch.device("cuda"):
        model = model_cls(cfg).to(torch.bfloat16)
    model.save_pretrained(out)
    tok.save_pretrained(out)
    del model
    torch.cuda.empty_cache()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--shape", default="Qwen/Qwen3-1.7B")
    p.add_argument("--backend", default="trl", choices=["trl", "unsloth"])
    p.add_argument("--load_in_4bit", action="store_true")
    p.add_argument("--use_vllm", action="store_true")
    p.add_argument("--steps", type=int, default=4)
    p.add_argument("--max_completion_length", type=int, default=256)
    p.add_argument("--num_generations", type=int, default=8)
    p.add_argument("--prompts_per_step", type=int, default=2)
    p.add_argument("--micro_batch", type=int, default=4)
    p.add_argument("--json_out", default=None)
    a = p.parse_args()
    if a.backend == "unsloth":
        import unsloth  # noqa: F401 - before transformers (built below) and trl

    import torch
    from transformers import TrainerCallback

    from lead_lite.config import resolve
    from lead_lite.memory_plan import SHAPES, estimate
    from lead_lite.models.loading import load_policy
    from lead_lite.tasks.arithmetic import ArithmeticTask, generate
    from lead_lite.training import build_trainer
    from lead_lite.verifier import MathVerifier

    work = Path(tempfile.mkdtemp())
    t0 = time.perf_counter()
    build_random_model(a.shape, work / "model")
    print(f"built random {a.shape} in {time.perf_counter() - t0:.1f}s", flush=True)

    n = a.num_generations * a.prompts_per_step
    acc = n // a.micro_batch
    (config,) = resolve([
        "--model", str(work / "model"), "--backend", a.backend, "--load_in_4bit", str(a.load_in_4bit),
        "--max_seq_length", str(a.max_completion_length + 128), "--output_dir", str(work / "run"),
        "--max_steps", str(a.steps), "--per_device_train_batch_size", str(a.micro_batch),
        "--gradient_accumulation_steps", str(acc), "--num_generations", str(a.num_generations),
        "--max_completion_length", str(a.max_completion_length), "--use_vllm", str(a.use_vllm),
        "--vllm_mode", "colocate", "--bf16", "true", "--gradient_checkpointing", "true", "--logging_steps", "1",
        "--save_strategy", "no", "--report_to", "none", "--reward_weights", "1.0", "0.0",
        "--learning_rate", "5e-6", "--temperature", "0.8", "--loss_type", "dapo", "--beta", "0.0",
    ])
    model_args, training = config.model, config.training
    plan = estimate(SHAPES[a.shape], model_args, training, 80.0, shared_weights=a.backend == "unsloth")
    model, tokenizer, peft_config, backend = load_policy(model_args, training)

    class Timer(TrainerCallback):
        def __init__(self):
            self.times, self._t = [], None

        def on_step_begin(self, *args, **kwargs):
            torch.cuda.synchronize()
            self._t = time.perf_counter()

        def on_step_end(self, *args, **kwargs):
            torch.cuda.synchronize()
            self.times.append(time.perf_counter() - self._t)

    timer = Timer()
    trainer = build_trainer(config, model, tokenizer, peft_config, ArithmeticTask(MathVerifier()),
                            generate(64, seed=0), callbacks=(timer,))
    torch.cuda.reset_peak_memory_stats()
    trainer.train()
    logs = [h for h in trainer.state.log_history if "completions/mean_length" in h]
    gen_tokens = [h["completions/mean_length"] * n for h in logs]
    steady = timer.times[1:] or timer.times
    result = {
        "shape": a.shape, "backend": backend, "load_in_4bit": a.load_in_4bit, "use_vllm": a.use_vllm,
        "completions_per_step": n, "max_completion_length": a.max_completion_length, "micro_batch": a.micro_batch,
        "steps": a.steps, "median_step_s": statistics.median(steady),
        "completion_tokens_per_step": statistics.mean(gen_tokens),
        "tokens_per_s_whole_step": statistics.mean(gen_tokens) / statistics.median(steady),
        "peak_allocated_gib": torch.cuda.max_memory_allocated() / 2**30,
        "peak_reserved_gib": torch.cuda.max_memory_reserved() / 2**30,
        "plan_gib": plan.total, "plan_parts": plan.parts,
        "lead_metrics_logged": any("lead/accuracy" in h for h in logs),
        "device": torch.cuda.get_device_name(0),
    }
    print(json.dumps(result, indent=2), flush=True)
    if a.json_out:
        Path(a.json_out).write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
