"""Loading the policy: the tiny offline model, or a hub id / local path, with a LoRA config.

Backends:

- ``trl``: transformers + PEFT (LoRA), bitsandbytes 4/8-bit on CUDA when asked; TRL generates.
  This is the CPU path.
- ``unsloth``: Unsloth's ``FastLanguageModel`` (see :mod:`lead_lite.models.unsloth_backend`), chosen
  by ``auto`` when CUDA and unsloth are both present and the run is a single process (a
  multi-process launch resolves ``auto`` to ``trl``; :func:`lead_lite.config.resolve_backend`).

The configuration arrives resolved: ``model_args.backend`` is ``trl`` or ``unsloth``.
"""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path

import torch

from lead_lite.config import ModelArguments, native_bf16
from lead_lite.models.source import resolve_source
from lead_lite.models.tiny import prepare_tiny_model
from lead_lite.models.unsloth_backend import load_unsloth, refuse_multi_process

logger = logging.getLogger(__name__)

TINY = "tiny"
TINY_MODELS = {TINY: "arithmetic", "tiny-countdown": "countdown"}  # name -> task of its warm start
ADAPTER_FILE = "adapter_model.safetensors"  # where save_pretrained puts a PEFT adapter's weights


def model_path(model_args: ModelArguments) -> str:
    """The directory or hub id to load: builds (once) the tiny model for ``tiny`` / ``tiny-countdown``;
    otherwise a local folder, the hub id (cached or reachable), or a copy built from a package when
    the hub cannot be reached (:func:`lead_lite.models.source.resolve_source`)."""
    task = TINY_MODELS.get(model_args.model_name_or_path)
    if task is not None:
        return str(prepare_tiny_model(task=task))
    return resolve_source(model_args.model_name_or_path)


def lora_config(model_args: ModelArguments):
    from peft import LoraConfig

    return LoraConfig(
        r=model_args.lora_r,
        lora_alpha=model_args.lora_alpha,
        lora_dropout=model_args.lora_dropout,
        target_modules=list(model_args.lora_target_modules),
        task_type="CAUSAL_LM",
    )


def load_tokenizer(path: str):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(path)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def train_dtype(training_args) -> torch.dtype:
    """The dtype the policy's weights load in: that of the run's mixed precision (bf16 or fp16, the
    latter on GPUs without native bfloat16: :func:`lead_lite.config.settle_precision`), else float32."""
    return torch.bfloat16 if training_args.bf16 else torch.float16 if training_args.fp16 else torch.float32


def load_plain(model_args: ModelArguments, path: str, dtype: torch.dtype):
    """transformers + PEFT: (model, tokenizer, peft_config) for TRL's GRPOTrainer, the weights in
    ``dtype`` (4-bit layers compute in it, or in bfloat16 when it is float32)."""
    from transformers import AutoModelForCausalLM

    kwargs: dict = {}
    if model_args.load_in_4bit or model_args.load_in_8bit:
        if not torch.cuda.is_available():
            raise RuntimeError("load_in_4bit / load_in_8bit need a CUDA GPU (bitsandbytes); unset them on CPU")
        from transformers import BitsAndBytesConfig

        kwargs["quantization_config"] = BitsAndBytesConfig(
            load_in_4bit=model_args.load_in_4bit,
            load_in_8bit=model_args.load_in_8bit,
            bnb_4bit_quant_type="nf4",
            bnb_4bit_compute_dtype=torch.bfloat16 if dtype == torch.float32 else dtype,
            bnb_4bit_use_double_quant=True,
        )
    model = AutoModelForCausalLM.from_pretrained(path, dtype=dtype, **kwargs)
    return model, load_tokenizer(path), lora_config(model_args)


def load_hf_model(model_args: ModelArguments, path: str, adapter: str | None):
    """The base model for sampling (bf16 on a GPU, fp16 on one without native bfloat16, fp32 on CPU)
    with the LoRA ``adapter`` applied, in eval mode."""
    from peft import PeftModel

    cuda = torch.cuda.is_available()
    dtype = (torch.bfloat16 if native_bf16() else torch.float16) if cuda else torch.float32
    model, _, _ = load_plain(model_args, path, dtype)
    if cuda and not (model_args.load_in_4bit or model_args.load_in_8bit):
        model.to("cuda")  # quantized weights are placed on the GPU when they load
    if adapter is not None:
        model = PeftModel.from_pretrained(model, adapter)
    return model.eval()


def load_policy(model_args: ModelArguments, training_args):
    """Load the policy with the configured backend.

    Returns:
        (model, tokenizer, peft_config, backend); ``peft_config`` is None when the backend has
        already attached the adapters itself, or when ``init_adapter`` names one to continue.
    """
    backend = model_args.backend
    if backend == "unsloth":
        refuse_multi_process()  # before the weights are looked for
    path = model_path(model_args)
    logger.info("backend: %s; model: %s", backend, path)
    if backend == "unsloth":
        model, tokenizer = load_unsloth(model_args, path, training_args)
        return model, tokenizer, None, backend
    model, tokenizer, peft_config = load_plain(model_args, path, train_dtype(training_args))
    if model_args.init_adapter is not None:
        return attach_adapter(model, model_args.init_adapter), tokenizer, None, backend
    return model, tokenizer, peft_config, backend


def attach_adapter(model, adapter_dir):
    """The base ``model`` with the LoRA adapter saved in ``adapter_dir``, trainable (to train it further).

    The adapter's own rank, alpha and target modules apply, not this run's ``lora_*`` settings.
    """
    from peft import PeftModel

    if not (Path(adapter_dir) / "adapter_config.json").is_file():
        raise FileNotFoundError(f"{adapter_dir}: not a LoRA adapter directory (no adapter_config.json); "
                                "run the stage that writes it first")
    logger.info("starting from the LoRA adapter in %s (its rank and targets apply)", adapter_dir)
    return PeftModel.from_pretrained(model, str(adapter_dir), is_trainable=True)


def save_merged(model, tokenizer, out, backend: str) -> None:
    """Merge the LoRA adapters into the base weights and save a 16-bit model to ``out``."""
    if backend == "unsloth":
        model.save_pretrained_merged(str(out), tokenizer, save_method="merged_16bit")
        return
    merged = model.merge_and_unload()
    merged.to(torch.bfloat16).save_pretrained(out)
    tokenizer.save_pretrained(out)
    logger.info("merged 16-bit model written to %s", out)


def adapter_digest(source) -> str:
    """sha256 of LoRA weights: of a saved adapter directory, or of a PEFT model in memory.

    The in-memory weights are read as ``save_pretrained`` writes them
    (``peft.get_peft_model_state_dict``), so a model that has just loaded an adapter has that
    adapter's digest: how a stage shows it started from the previous stage's weights.
    """
    if isinstance(source, (str, Path)):
        from safetensors.torch import load_file

        state = load_file(str(Path(source) / ADAPTER_FILE))
    else:
        from peft import get_peft_model_state_dict

        state = get_peft_model_state_dict(source)
    h = hashlib.sha256()
    for name in sorted(state):
        h.update(name.encode())
        h.update(state[name].detach().cpu().float().contiguous().numpy().tobytes())
    return h.hexdigest()
