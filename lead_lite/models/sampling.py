"""Sampling completions: batched HF ``generate`` (CPU or GPU) or vLLM (GPU, or its CPU build), and the greedy evaluation.

Both engines return, per prompt, a list of :class:`Completion` with the generated token ids, so
an evaluation can cut them to smaller token budgets afterwards (see ``lead_lite.metrics``).
Prompts are formatted the same way for both (and as in training): one user message through the
tokenizer's chat template when it has one, else the plain prompt text.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import torch

from lead_lite.config import VLLM_GPU_MEMORY_UTILIZATION
from lead_lite.tasks.base import Task, format_prompt
from lead_lite.verifier import Verdict


VLLM_LORA_RANKS = (1, 8, 16, 32, 64, 128, 256, 320, 512)  # vllm.config.lora.MaxLoRARanks
# vLLM's share of the accelerator's memory (weights, activations, KV cache), as TRL's default
# vllm_gpu_memory_utilization: room for others on a shared GPU; on vLLM's CPU build, the share of
# the machine's memory its KV cache may take. vLLM's own default (0.92) fails on a CPU.


@dataclass(frozen=True)
class Completion:
    """One sampled completion.

    Attributes:
        text: the decoded completion, special tokens skipped.
        token_ids: the generated ids, up to and including the first end-of-sequence token.
        finished: it ended with an end-of-sequence token (False: it hit the token limit).
    """

    text: str
    token_ids: tuple[int, ...]
    finished: bool

    @property
    def length(self) -> int:
        return len(self.token_ids)


def prompt_texts(tokenizer, prompts: list[str], chat_template_kwargs: dict | None = None) -> list[str]:
    """The model-ready text of each prompt (chat template applied, with ``chat_template_kwargs``
    such as Qwen3's ``enable_thinking``, when the tokenizer has one)."""
    out = []
    for prompt in prompts:
        formatted = format_prompt(prompt, tokenizer)
        if isinstance(formatted, list):
            formatted = tokenizer.apply_chat_template(formatted, tokenize=False, add_generation_prompt=True,
                                                      **(chat_template_kwargs or {}))
        out.append(formatted)
    return out


def prompt_token_counts(tokenizer, prompts: list[str], chat_template_kwargs: dict | None = None) -> list[int]:
    """The length in tokens of each prompt as the model sees it: chat template applied (a template's
    own system prompt included), no special tokens added, as :func:`sample_hf` and TRL encode it."""
    texts = prompt_texts(tokenizer, prompts, chat_template_kwargs)
    return [len(ids) for ids in tokenizer(texts, add_special_tokens=False)["input_ids"]]


def eos_token_ids(model, tokenizer) -> list[int]:
    """Every id that ends a generation: the generation config's (one or a list) and the tokenizer's."""
    ids = model.generation_config.eos_token_id
    ids = set(ids if isinstance(ids, (list, tuple)) else [] if ids is None else [ids])
    if tokenizer.eos_token_id is not None:
        ids.add(tokenizer.eos_token_id)
    return sorted(ids)


@torch.no_grad()
def sample_hf(model, tokenizer, prompts: list[str], max_new_tokens: int, num_samples: int = 1,
              temperature: float = 0.0, top_p: float = 1.0, min_p: float = 0.0,
              batch_size: int = 64, chat_template_kwargs: dict | None = None) -> list[list[Completion]]:
    """``num_samples`` completions per prompt with HF ``generate``, in batches of ``batch_size``.

    Temperature 0 is greedy (every sample is the same). top-k filtering is off, as in vLLM's
    default, whatever the model's ``generation_config.json`` says; seed torch beforehand for
    reproducible samples.

    Returns:
        for each prompt, its ``num_samples`` :class:`Completion` objects.
    """
    was_training = model.training
    model.eval()
    side = tokenizer.padding_side
    tokenizer.padding_side = "left"
    eos = eos_token_ids(model, tokenizer)
    sample = temperature > 0
    sampling = dict(do_sample=True, temperature=temperature, top_p=top_p, top_k=0,
                    min_p=min_p if min_p > 0 else None) if sample else dict(do_sample=False)
    texts = prompt_texts(tokenizer, prompts, chat_template_kwargs)
    out: list[list[Completion]] = [[] for _ in prompts]
    flat = [i for i in range(len(prompts)) for _ in range(num_samples)]
    try:
        for start in range(0, len(flat), batch_size):
            idx = flat[start : start + batch_size]
            enc = tokenizer([texts[i] for i in idx], return_tensors="pt", padding=True,
                            add_special_tokens=False).to(model.device)
            generated = model.generate(**enc, max_new_tokens=max_new_tokens, eos_token_id=eos,
                                       pad_token_id=tokenizer.pad_token_id, **sampling)
            completion_ids = generated[:, enc["input_ids"].shape[1] :].cpu()  # (B, T)
            is_eos = torch.isin(completion_ids, torch.tensor(eos))  # (B, T)
            finished = is_eos.any(1)  # (B,)
            # length: tokens up to and including the first end-of-sequence token, else all of them
            lengths = torch.where(finished, is_eos.int().argmax(1) + 1, completion_ids.shape[1])  # (B,)
            for j, i in enumerate(idx):
                ids = completion_ids[j, : lengths[j]].tolist()
                text = tokenizer.decode(ids, skip_special_tokens=True)
                out[i].append(Completion(text, tuple(ids), bool(finished[j])))
    finally:
        tokenizer.padding_side = side
        model.train(was_training)
    return out


def vllm_engine(model_path: str, max_model_len: int, seed: int, adapter: str | None = None,
                gpu_memory_utilization: float = VLLM_GPU_MEMORY_UTILIZATION):
    """A vLLM ``LLM`` for ``model_path``, able to apply the LoRA ``adapter`` (see :func:`sample_vllm`).

    Args:
        max_model_len: prompt + completion tokens of the longest request (sizes the KV cache).
        gpu_memory_utilization: vLLM's share of the GPU's memory (of the machine's, on its CPU build).

    vLLM starts worker processes with ``spawn``: a script that builds an engine needs an
    ``if __name__ == "__main__":`` guard.
    """
    from vllm import LLM

    lora = {}
    if adapter is not None:
        rank = json.loads((Path(adapter) / "adapter_config.json").read_text())["r"]
        allowed = [r for r in VLLM_LORA_RANKS if r >= rank]
        if not allowed:
            raise ValueError(f"{adapter}: LoRA rank {rank} is above vLLM's largest, {VLLM_LORA_RANKS[-1]}")
        lora = dict(enable_lora=True, max_lora_rank=allowed[0], max_loras=1)
    # the HF path's precision on this machine: fp32 on a CPU (where vLLM would downcast a float32
    # checkpoint to bfloat16), the checkpoint's own 16-bit type on a GPU
    dtype = "auto" if torch.cuda.is_available() else "float32"
    # on vLLM's CPU build, compiling the model (torch.compile + inductor) is most of an engine's start (measured
    # on SmolLM2-135M, 2 cores: 206 s compiled, 45 s eager) for little generation speed at these sizes
    return LLM(model=model_path, seed=seed, max_model_len=max_model_len, dtype=dtype,
               gpu_memory_utilization=gpu_memory_utilization, enforce_eager=not torch.cuda.is_available(), **lora)


def sample_vllm(model_path: str, tokenizer, prompts: list[str], max_new_tokens: int, num_samples: int,
                temperature: float, top_p: float, min_p: float, seed: int,
                adapter: str | None = None, chat_template_kwargs: dict | None = None,
                engine=None, gpu_memory_utilization: float = VLLM_GPU_MEMORY_UTILIZATION,
                max_model_len: int | None = None) -> list[list[Completion]]:
    """``num_samples`` completions per prompt with vLLM, a LoRA adapter applied per request.

    Written against vLLM's documented offline API (``LLM``, ``SamplingParams``,
    ``LoRARequest``); tested with vLLM's CPU build on the tiny model (``pytest -m vllm``). The
    base model is loaded by vLLM itself (16-bit weights), whatever the preset's 4/8-bit settings say.

    Args:
        engine: an ``LLM`` from :func:`vllm_engine` to reuse across calls; None builds one with
            ``gpu_memory_utilization`` and ``max_model_len`` (None: sized for these prompts).

    Returns:
        for each prompt, its ``num_samples`` :class:`Completion` objects.
    """
    from vllm import SamplingParams
    from vllm.lora.request import LoRARequest

    # token ids, not text: the same tokenization as the HF path (no extra special tokens)
    inputs = [{"prompt_token_ids": tokenizer(t, add_special_tokens=False)["input_ids"]}
              for t in prompt_texts(tokenizer, prompts, chat_template_kwargs)]
    # the KV cache is sized for the longest request, not the model's full context
    max_model_len = max_model_len or max(len(x["prompt_token_ids"]) for x in inputs) + max_new_tokens
    llm = engine if engine is not None else vllm_engine(model_path, max_model_len, seed, adapter,
                                                        gpu_memory_utilization)
    # with a seed, vLLM seeds the n samples of a prompt with seed, seed + 1, ..., so they differ
    params = SamplingParams(n=num_samples, temperature=temperature, top_p=top_p, min_p=min_p,
                            max_tokens=max_new_tokens, seed=seed)
    request = LoRARequest("adapter", 1, str(adapter)) if adapter is not None else None
    results = llm.generate(inputs, params, lora_request=request)
    return [
        [Completion(o.text, tuple(o.token_ids), o.finish_reason != "length") for o in result.outputs]
        for result in results
    ]


def evaluate_greedy(model, tokenizer, task: Task, rows: list[dict], max_new_tokens: int,
                    chat_template_kwargs: dict | None = None) -> dict[str, float]:
    """The greedy evaluation of every command: one completion per row, judged by ``task.judge``.

    Returns:
        ``accuracy``, ``format_rate`` (has a final answer), ``mean_score`` (the task's graded
        score; math: equal to accuracy), ``mean_length`` and ``mean_length_correct`` (tokens,
        NaN without a correct one), ``no_answer_rate``, ``unjudgeable_rate`` and ``n``.
    """
    completions = sample_hf(model, tokenizer, [r["prompt"] for r in rows], max_new_tokens,
                            chat_template_kwargs=chat_template_kwargs)
    outcomes = [task.judge(c[0].text, r) for c, r in zip(completions, rows, strict=True)]
    lengths = [c[0].length for c in completions]
    verdicts = [o.verdict for o in outcomes]
    n = len(rows)
    correct_lengths = [length for length, v in zip(lengths, verdicts) if v is Verdict.CORRECT]
    return {
        "accuracy": sum(v is Verdict.CORRECT for v in verdicts) / n,
        "format_rate": sum(v is not Verdict.NO_ANSWER for v in verdicts) / n,
        "mean_score": sum(o.score or 0.0 for o in outcomes) / n,
        "mean_length": sum(lengths) / n,
        "mean_length_correct": sum(correct_lengths) / len(correct_lengths) if correct_lengths else float("nan"),
        "no_answer_rate": sum(v is Verdict.NO_ANSWER for v in verdicts) / n,
        "unjudgeable_rate": sum(v is Verdict.UNJUDGEABLE for v in verdicts) / n,
        "n": n,
    }
