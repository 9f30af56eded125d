"""GRPO-LEAD with vLLM colocated (its CPU build) for 2 steps, checking that the weights reach vLLM.

Run by tests/test_vllm.py in its own process (vLLM spawns workers; its memory is freed on exit):

    python tests/vllm_colocate_worker.py OUT_DIR

Builds the trainer as ``lead_lite.train`` does and trains 2 steps. TRL pushes the policy's
weights into vLLM before each generation, so vLLM holds the policy after step 1 once step 2 has
generated. Greedy completions of fixed prompts are recorded from vLLM before training, from the HF
policy right after step 1's optimizer step, from vLLM after training, and again from both after
one more explicit sync (policy after step 2). Writes OUT_DIR/colocate.json.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

MAX_NEW_TOKENS = 24


def main(out: Path) -> None:
    from transformers import TrainerCallback, set_seed

    from lead_lite.config import parse_config
    from lead_lite.data import load_rows, to_dataset
    from lead_lite.models import load_policy
    from lead_lite.rewards import HasAnswer, MathAccuracy
    from lead_lite.run_log import JsonlMetrics
    from lead_lite.sampling import prompt_texts, sample_hf
    from lead_lite.tasks import arithmetic
    from lead_lite.trainer import lead_trainer_class
    from lead_lite.verifier import MathVerifier
    from lead_lite.vllm_cpu_weight_sync import use_for_cpu_colocate

    model_args, lead, data, training = parse_config([
        "--model", "tiny", "--output_dir", str(out), "--use_vllm", "true", "--vllm_mode", "colocate",
        "--vllm_gpu_memory_utilization", "0.05", "--max_steps", "2", "--per_device_train_batch_size", "16",
        "--num_generations", "4", "--max_completion_length", "32", "--learning_rate", "0.05",
        "--train_size", "64", "--eval_size", "0", "--logging_steps", "1", "--save_strategy", "no", "--seed", "0",
    ])
    set_seed(training.seed)
    training.report_to = []
    training.reward_weights = [1.0, 0.0]
    model, tokenizer, peft_config, backend = load_policy(model_args, training)
    train_rows, _ = load_rows(data, seed=training.seed)
    verifier = MathVerifier(timeout_s=lead.verifier_timeout_s)
    prompts = [r["prompt"] for r in arithmetic.generate(8, seed=1, split="test")]  # fixed, held out
    ids = [tokenizer(t, add_special_tokens=False)["input_ids"] for t in prompt_texts(tokenizer, prompts)]

    def hf_greedy(policy) -> list[list[int]]:
        return [list(cs[0].token_ids) for cs in sample_hf(policy, tokenizer, prompts, MAX_NEW_TOKENS)]

    after_step_1 = {}

    class AfterStep1(TrainerCallback):
        def on_step_end(self, args, state, control, model=None, **kwargs):
            if state.global_step == 1:  # the optimizer has stepped once; step 2 has not generated yet
                after_step_1["hf"] = hf_greedy(model)

    trainer = lead_trainer_class()(
        model=model, reward_funcs=[MathAccuracy(verifier), HasAnswer()], args=training,
        train_dataset=to_dataset(train_rows, tokenizer), processing_class=tokenizer, peft_config=peft_config,
        callbacks=[JsonlMetrics(out / "metrics.jsonl"), AfterStep1()], lead=lead,
    )
    replaced = use_for_cpu_colocate(trainer)
    from vllm import SamplingParams

    llm = trainer.vllm_generation.llm
    greedy = SamplingParams(temperature=0.0, max_tokens=MAX_NEW_TOKENS)

    def vllm_greedy() -> list[list[int]]:
        outputs = llm.generate([{"prompt_token_ids": x} for x in ids], greedy, use_tqdm=False)
        return [list(o.outputs[0].token_ids) for o in outputs]

    before = {"vllm": vllm_greedy(), "hf": hf_greedy(trainer.model)}
    trainer.train()
    vllm_after_step_1 = vllm_greedy()
    trainer.vllm_generation.sync_weights()
    after_step_2 = {"vllm": vllm_greedy(), "hf": hf_greedy(trainer.model)}
    verifier.close()
    result = {
        "sync_replaced": replaced, "backend": backend, "steps": trainer.state.global_step,
        "vllm_dtype": str(llm.llm_engine.model_config.dtype), "before": before,
        "after_step_1": {"vllm": vllm_after_step_1, "hf": after_step_1["hf"]}, "after_step_2": after_step_2,
        "eos": tokenizer.eos_token_id,
    }
    (out / "colocate.json").write_text(json.dumps(result))


if __name__ == "__main__":
    main(Path(sys.argv[1]))
