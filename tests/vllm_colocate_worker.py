"""``python -m lead_lite.train`` with vLLM colocated (its CPU build) for 2 steps, watching the weights reach vLLM.

Run by tests/test_vllm.py in its own process (vLLM's memory is freed when it exits):

    python tests/vllm_colocate_worker.py OUT_DIR [MODEL]      # MODEL: tiny (default) or smollm2-135m

The entry point runs unchanged; this script only watches the trainer it builds, by wrapping
:func:`lead_lite.vllm_cpu_weight_sync.use_for_cpu_colocate` (called by ``lead_lite.train`` right
after the trainer is made). TRL pushes the policy's weights into vLLM before each step's
generation, so once step 2 has generated, vLLM holds the policy as it was after step 1.

For fixed held-out prompts it records, from the HF policy and from TRL's vLLM engine, greedy
completions and the log-probability of each token of fixed sequences (the base model's greedy
completions of those prompts; teacher-forced, vLLM's prompt log-probs): before training (base
weights in both), right after step 1's optimizer step (HF) against vLLM after training, and after
one more explicit sync (the policy after step 2). Writes OUT_DIR/colocate.json.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

MAX_NEW_TOKENS = 24
# model -> (its held-out prompts' task and prompt format, extra training flags)
MODELS = {
    "tiny": ("arithmetic", "plain", ["--train_size", "64"]),
    # 8 groups a step: the base model seldom writes \boxed{}, and step 1 must have a group with reward spread
    # and a gentler step than the tiny model's 0.02: at 0.02 one step moved its tokens' log-probs by ~8 nats,
    # far enough from the base model that the engine's bfloat16 and the policy's float32 differed by ~1 on a token
    "smollm2-135m": ("addition", "boxed", ["--train_size", "64", "--per_device_train_batch_size", "32",
                                           "--learning_rate", "0.001"]),
}


def main(out: Path, model: str = "tiny") -> None:
    import torch
    from transformers import TrainerCallback

    from lead_lite import train, vllm_cpu_weight_sync
    from lead_lite.models.sampling import prompt_texts, sample_hf
    from lead_lite.tasks import arithmetic
    from lead_lite.tasks.math import reformat

    kind, prompt_format, flags = MODELS[model]
    rows = reformat(arithmetic.generate(8, seed=1, split="test", kind=kind), prompt_format)
    prompts = [r["prompt"] for r in rows]  # fixed, held out
    seen: dict = {}

    def hf_record(policy, tokenizer) -> dict:
        """Greedy completions of the HF policy and its log-prob of each token of the fixed sequences."""
        greedy = [list(cs[0].token_ids) for cs in sample_hf(policy, tokenizer, prompts, MAX_NEW_TOKENS)]
        seen.setdefault("fixed", greedy)  # the base model's greedy completions, scored at every stage
        logprobs = []
        with torch.no_grad():
            for prompt, completion in zip(seen["prompt_ids"], seen["fixed"]):
                ids = torch.tensor([prompt + completion])  # (1, T)
                logits = policy(input_ids=ids).logits[0, len(prompt) - 1 : -1].float()  # (T_c, V)
                logprobs.append(torch.log_softmax(logits, -1).gather(1, ids[0, len(prompt) :, None])[:, 0].tolist())
        return {"greedy": greedy, "logprobs": logprobs}

    def vllm_record(llm) -> dict:
        """vLLM's greedy completions, and its log-prob of each token of the fixed sequences (teacher-forced)."""
        from vllm import SamplingParams

        inputs = [{"prompt_token_ids": p} for p in seen["prompt_ids"]]
        greedy = llm.generate(inputs, SamplingParams(temperature=0.0, max_tokens=MAX_NEW_TOKENS), use_tqdm=False)
        forced = [{"prompt_token_ids": p + c} for p, c in zip(seen["prompt_ids"], seen["fixed"])]
        # temperature 1: TRL's engine reports processed log-probs, which then equal the model's own
        scored = llm.generate(forced, SamplingParams(temperature=1.0, max_tokens=1, prompt_logprobs=0), use_tqdm=False)
        logprobs = []
        for p, c, r in zip(seen["prompt_ids"], seen["fixed"], scored):
            positions = r.prompt_logprobs[len(p) :]  # one {token id: Logprob} per completion token
            logprobs.append([pos[tok].logprob for pos, tok in zip(positions, c)])
        return {"greedy": [list(r.outputs[0].token_ids) for r in greedy], "logprobs": logprobs}

    class AfterStep1(TrainerCallback):
        def on_step_end(self, args, state, control, model=None, **kwargs):
            if state.global_step == 1:  # the optimizer has stepped once; step 2 has not generated yet
                seen["after_step_1_hf"] = hf_record(model, seen["tokenizer"])

    wrapped = vllm_cpu_weight_sync.use_for_cpu_colocate

    def watch(trainer):
        tokenizer = trainer.processing_class
        seen.update(trainer=trainer, tokenizer=tokenizer, replaced=wrapped(trainer), prompt_ids=[
            tokenizer(t, add_special_tokens=False)["input_ids"] for t in prompt_texts(tokenizer, prompts)],
            prompt_text=prompt_texts(tokenizer, prompts)[0])
        trainer.add_callback(AfterStep1())
        seen["before"] = {"hf": hf_record(trainer.model, tokenizer), "vllm": vllm_record(trainer.vllm_generation.llm)}
        return seen["replaced"]

    vllm_cpu_weight_sync.use_for_cpu_colocate = watch
    summary = train.main([
        "--model", model, "--output_dir", str(out), "--use_vllm", "true", "--vllm_mode", "colocate",
        "--vllm_gpu_memory_utilization", "0.05", "--max_steps", "2", "--per_device_train_batch_size", "16",
        "--num_generations", "4", "--max_completion_length", "32", "--learning_rate", "0.02",
        *flags, "--eval_size", "0", "--report_to", "none", "--logging_steps", "1", "--save_strategy", "no", "--seed", "0",
    ])
    trainer, llm = seen["trainer"], seen["trainer"].vllm_generation.llm
    after_1_vllm = vllm_record(llm)
    trainer.vllm_generation.sync_weights()
    result = {
        "sync_replaced": seen["replaced"], "prompt_text": seen["prompt_text"], "summary": summary, "vllm_dtype": str(llm.llm_engine.model_config.dtype),
        "before": seen["before"], "after_step_1": {"hf": seen["after_step_1_hf"], "vllm": after_1_vllm},
        "after_step_2": {"hf": hf_record(trainer.model, seen["tokenizer"]), "vllm": vllm_record(llm)},
    }
    (out / "colocate.json").write_text(json.dumps(result))


if __name__ == "__main__":
    main(Path(sys.argv[1]), *sys.argv[2:])
