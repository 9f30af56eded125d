"""The Unsloth backend: a 4-bit (or 8-bit) QLoRA policy with Unsloth's fused kernels and, with
``use_vllm``, vLLM generation inside the process sharing the policy's weights
(``FastLanguageModel.from_pretrained(..., fast_inference=True)``).

Unsloth patches TRL when it is imported, so it must be imported before ``trl``:
:func:`lead_lite.config.resolve` does that, once it has resolved the backend from the flags, the
config file and the preset, before it imports ``trl``.
"""

from __future__ import annotations

import logging
import os

from lead_lite.config import multi_process

logger = logging.getLogger(__name__)


def refuse_multi_process() -> None:
    """Unsloth's backend is single-GPU; a multi-process launch fails here with directions."""
    if multi_process():
        raise RuntimeError(
            f"the unsloth backend trains on one GPU, but this launch has {os.environ['WORLD_SIZE']} processes. "
            "For several GPUs use the plain backend: `accelerate launch --config_file "
            "configs/accelerate/<ddp|zero2|zero3>.yaml --num_processes N -m lead_lite.train --backend trl ...` "
            "(zero2/zero3 need `pip install deepspeed`; see docs/scaling.md). For one GPU, run "
            "`python -m lead_lite.train ...` without a multi-process launcher."
        )


def load_unsloth(model_args, path: str, training_args):
    """``FastLanguageModel`` with LoRA adapters attached; returns (model, tokenizer)."""
    refuse_multi_process()
    from unsloth import FastLanguageModel

    model, tokenizer = FastLanguageModel.from_pretrained(
        model_name=path,
        max_seq_length=model_args.max_seq_length,
        load_in_4bit=model_args.load_in_4bit,
        load_in_8bit=model_args.load_in_8bit,
        fast_inference=bool(training_args.use_vllm),
        max_lora_rank=model_args.lora_r,
        gpu_memory_utilization=training_args.vllm_gpu_memory_utilization,
    )
    model = FastLanguageModel.get_peft_model(
        model,
        r=model_args.lora_r,
        lora_alpha=model_args.lora_alpha,
        lora_dropout=model_args.lora_dropout,
        target_modules=list(model_args.lora_target_modules),
        use_gradient_checkpointing="unsloth",
        random_state=training_args.seed,
    )
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return model, tokenizer
