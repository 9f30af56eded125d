"""The Unsloth backend: a 4-bit (or 8-bit) QLoRA policy with Unsloth's fused kernels and, with
``use_vllm``, vLLM generation inside the process sharing the policy's weights
(``FastLanguageModel.from_pretrained(..., fast_inference=True)``).

Unsloth patches TRL when it is imported, so it must be imported before ``trl``:
:func:`import_first` does that at the very start of the entry points when the run will use it.
"""

from __future__ import annotations

import importlib.util
import logging
import os
from pathlib import Path

logger = logging.getLogger(__name__)


def multi_process() -> bool:
    """Whether this process is one of several launched together (accelerate launch, torchrun, deepspeed)."""
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def requested_backend(argv: list[str]) -> str:
    """The ``backend`` a run asks for, read as :func:`lead_lite.config.parse_config` layers it:
    the flag, else the ``--config`` YAML, else the model preset, else ``auto``.

    A file that cannot be read counts as ``auto`` here; ``parse_config`` then reports it.

    Example:
        >>> requested_backend(["--model", "tiny"]), requested_backend(["--backend=unsloth"])
        ('trl', 'unsloth')
    """
    from lead_lite.config import ConfigError, ModelArguments, _load_yaml, _pop_flag, preset_path

    argv = list(argv)
    try:
        flag = _pop_flag(argv, "--backend")
        if flag is not None:
            return flag
        config_file = _pop_flag(argv, "--config")
        user = _load_yaml(Path(config_file)) if config_file is not None else {}
        preset = preset_path(_pop_flag(argv, "--model") or user.get("model") or ModelArguments.model)
        layered = {**(_load_yaml(preset) if preset is not None else {}), **user}
    except ConfigError:
        return "auto"
    return str(layered.get("backend", "auto"))


def wanted(argv: list[str]) -> bool:
    """Whether this run will use Unsloth: one process, unsloth installed, and the backend asked for
    (flag, YAML or preset) is ``unsloth``, or ``auto`` with CUDA present.

    An explicit ``unsloth`` without CUDA runs in Unsloth's CPU mode (plain kernels, no
    ``fast_inference``). A multi-process launch never imports unsloth: ``auto`` resolves to ``trl``
    there, and an explicit ``unsloth`` is refused by :func:`refuse_multi_process` before anything loads.
    """
    if multi_process() or importlib.util.find_spec("unsloth") is None:
        return False
    backend = requested_backend(argv)
    if backend != "auto":
        return backend == "unsloth"
    import torch

    return torch.cuda.is_available()


def import_first(argv: list[str]) -> None:
    """Import unsloth before trl when this run will use it, so its patches apply."""
    if wanted(argv):
        import unsloth  # noqa: F401 - imported for its patches of trl / transformers
        import torch

        if not torch.cuda.is_available():
            # Unsloth's CPU mode leaves TRL's trainers unpatched; patch them as its GPU import does,
            # so the LEAD trainer subclasses Unsloth's generated GRPOTrainer here too
            from unsloth.models.rl import PatchFastRL

            PatchFastRL()


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
