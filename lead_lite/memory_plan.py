"""A GPU memory plan made before anything loads (``python -m lead_lite.train ... --dry-run``).

The estimate adds, in GiB:

- weights: quantised linear layers at 4 bits (+ NF4 double-quant scales, ~0.53 byte/param) or
  8 bits (~1.0 byte/param), embeddings / LM head in bf16 (2 bytes/param);
- LoRA: adapter params in fp32 with their gradients and AdamW moments (16 bytes/param);
- activations of one micro-batch of the policy's forward/backward with gradient checkpointing:
  the hidden states kept at every layer boundary, one layer's recomputed activations, and the
  logits of the completion tokens (bf16) plus their fp32 log-softmax;
- generation: the KV cache for the generation batch (vLLM's pool when it is used, sized by
  ``vllm_gpu_memory_utilization``; HF generate's cache otherwise; nothing on the training GPU with
  ``vllm_mode: server``, where ``trl vllm-serve`` generates on a GPU of its own);
- a fixed CUDA context / allocator reserve.

It is a planning figure, not a measurement; ``benchmarks/gpu_results.md`` compares it with
measured peaks where a GPU run exists.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

GIB = 1024**3
CUDA_RESERVE_GIB = 1.5  # CUDA context, cuBLAS workspaces, allocator fragmentation


@dataclass(frozen=True)
class Shape:
    """The numbers of a decoder-only transformer that set its memory."""

    hidden: int
    layers: int
    heads: int
    kv_heads: int
    head_dim: int
    intermediate: int
    vocab: int
    tied: bool

    @property
    def linear_params(self) -> int:
        """Parameters of the attention and MLP projections (what gets quantised)."""
        attn = self.hidden * self.head_dim * (2 * self.heads + 2 * self.kv_heads)
        mlp = 3 * self.hidden * self.intermediate
        return self.layers * (attn + mlp)

    @property
    def embedding_params(self) -> int:
        return self.vocab * self.hidden * (1 if self.tied else 2)

    def lora_params(self, r: int, targets: list[str]) -> int:
        dims = {
            "q_proj": (self.hidden, self.heads * self.head_dim),
            "k_proj": (self.hidden, self.kv_heads * self.head_dim),
            "v_proj": (self.hidden, self.kv_heads * self.head_dim),
            "o_proj": (self.heads * self.head_dim, self.hidden),
            "gate_proj": (self.hidden, self.intermediate),
            "up_proj": (self.hidden, self.intermediate),
            "down_proj": (self.intermediate, self.hidden),
        }
        return self.layers * sum(r * (dims[t][0] + dims[t][1]) for t in targets if t in dims)

    @property
    def kv_bytes_per_token(self) -> int:
        return 2 * self.layers * self.kv_heads * self.head_dim * 2  # K and V, bf16


# Architectures of the presets, from each model's config.json on the hub.
SHAPES = {
    "Qwen/Qwen3-0.6B": Shape(1024, 28, 16, 8, 128, 3072, 151936, True),
    "Qwen/Qwen3-1.7B": Shape(2048, 28, 16, 8, 128, 6144, 151936, True),
    "Qwen/Qwen3-4B": Shape(2560, 36, 32, 8, 128, 9728, 151936, True),
    "Qwen/Qwen3-8B": Shape(4096, 36, 32, 8, 128, 12288, 151936, False),
    "Qwen/Qwen3-14B": Shape(5120, 40, 40, 8, 128, 17408, 151936, False),
    "deepseek-ai/DeepSeek-R1-Distill-Qwen-1.5B": Shape(1536, 28, 12, 2, 128, 8960, 151936, False),
    "deepseek-ai/DeepSeek-R1-Distill-Qwen-7B": Shape(3584, 28, 28, 4, 128, 18944, 152064, False),
    "deepseek-ai/DeepSeek-R1-Distill-Qwen-14B": Shape(5120, 48, 40, 8, 128, 13824, 152064, False),
    "HuggingFaceTB/SmolLM2-135M-Instruct": Shape(576, 30, 9, 3, 64, 1536, 49152, True),
}

# Usable memory of common cards, GiB.
CARDS = {"t4": 15.0, "l4": 22.0, "rtx4090": 24.0, "a100-40gb": 40.0, "a100-80gb": 80.0, "h100": 80.0}


def shape_of(model: str) -> Shape | None:
    """The shape of a preset's hub id, or of a local model directory's config.json."""
    if model in SHAPES:
        return SHAPES[model]
    cfg = Path(model) / "config.json"
    if not cfg.exists():
        return None
    c = json.loads(cfg.read_text())
    heads = c["num_attention_heads"]
    return Shape(
        hidden=c["hidden_size"], layers=c["num_hidden_layers"], heads=heads,
        kv_heads=c.get("num_key_value_heads", heads), head_dim=c.get("head_dim") or c["hidden_size"] // heads,
        intermediate=c["intermediate_size"], vocab=c["vocab_size"], tied=c.get("tie_word_embeddings", False),
    )


@dataclass
class Plan:
    parts: dict[str, float]  # GiB per component
    card_gib: float

    @property
    def total(self) -> float:
        return sum(self.parts.values())

    @property
    def fits(self) -> bool:
        return self.total <= self.card_gib

    def render(self) -> str:
        lines = [f"  {name:<48} {gib:7.2f} GiB" for name, gib in self.parts.items()]
        lines.append(f"  {'total':<48} {self.total:7.2f} GiB  (card: {self.card_gib:.1f} GiB)")
        return "\n".join(lines)


def estimate(shape: Shape, model_args, training, card_gib: float, shared_weights: bool = False) -> Plan:
    """The memory plan of one run configuration on a card of ``card_gib`` GiB."""
    bits = 4 if model_args.load_in_4bit else 8 if model_args.load_in_8bit else 16
    linear_bytes = {4: 0.53, 8: 1.0, 16: 2.0}[bits]
    weights = shape.linear_params * linear_bytes + shape.embedding_params * 2
    lora = shape.lora_params(model_args.lora_r, list(model_args.lora_target_modules)) * 16

    micro = training.per_device_train_batch_size
    t_completion = training.max_completion_length
    t_total = model_args.max_seq_length  # prompt + completion, the longest a sequence may be
    tokens = micro * t_total
    boundaries = shape.layers * tokens * shape.hidden * 2  # checkpointed layer inputs, bf16
    one_layer = tokens * (6 * shape.hidden + 3 * shape.intermediate + 2 * shape.heads * shape.head_dim) * 2
    logits = micro * t_completion * shape.vocab * (2 + 4)  # bf16 logits + fp32 log-softmax
    activations = boundaries + one_layer + logits

    gen_tokens = training.generation_batch_size * t_total
    kv = gen_tokens * shape.kv_bytes_per_token / GIB
    parts = {
        f"weights ({bits}-bit linear, bf16 embeddings)": weights / GIB,
        f"LoRA r={model_args.lora_r} + grads + AdamW": lora / GIB,
        f"activations (micro-batch {micro}, {t_total} tok)": activations / GIB,
    }
    if training.use_vllm and training.vllm_mode == "server":
        parts["generation: on the vLLM server's GPU"] = 0.0
    elif training.use_vllm:
        # Unsloth's fast_inference shares the policy's weights with vLLM; TRL's colocate mode
        # loads a second, 16-bit copy inside vLLM's pool.
        pool = training.vllm_gpu_memory_utilization * card_gib
        inside = weights / GIB if shared_weights else shape.linear_params * 2 / GIB + shape.embedding_params * 2 / GIB
        if shared_weights:
            parts.pop(f"weights ({bits}-bit linear, bf16 embeddings)")
        parts[f"vLLM pool ({training.vllm_gpu_memory_utilization:.0%} of card: weights + KV)"] = pool
        if kv > pool - inside:
            parts["KV the pool lacks for one generation batch"] = kv - (pool - inside)
    else:
        parts[f"KV cache, HF generate ({training.generation_batch_size} seqs)"] = kv
    parts["CUDA context and allocator reserve"] = CUDA_RESERVE_GIB
    return Plan(parts, card_gib)


def suggest(shape: Shape, model_args, training, card_gib: float) -> list[str]:
    """Settings that would make a plan that does not fit fit, cheapest change first."""
    tips = []
    if not (model_args.load_in_4bit or model_args.load_in_8bit):
        tips.append("--load_in_4bit true (QLoRA)")
    if training.per_device_train_batch_size > 1:
        tips.append(f"--per_device_train_batch_size {max(1, training.per_device_train_batch_size // 2)} "
                    f"--gradient_accumulation_steps {training.gradient_accumulation_steps * 2}")
    if training.max_completion_length > 1024:
        tips.append(f"--max_completion_length {training.max_completion_length // 2}")
    if training.num_generations > 4:
        tips.append(f"--num_generations {training.num_generations // 2} (smaller groups)")
    bigger = [n for n, g in sorted(CARDS.items(), key=lambda kv: kv[1]) if g > card_gib]
    if bigger:
        tips.append(f"a larger card ({bigger[0]}, {CARDS[bigger[0]]:.0f} GiB)")
    return tips


def card_memory(requested: str | None) -> tuple[str, float]:
    """(name, GiB) of the card to plan for: a CARDS name, a number of GiB, or the visible GPU."""
    if requested:
        if requested in CARDS:
            return requested, CARDS[requested]
        try:
            return f"{float(requested):g} GiB card", float(requested)
        except ValueError:
            raise ValueError(f"gpu_memory={requested!r}: use a GiB figure or one of {sorted(CARDS)}") from None
    import torch

    if torch.cuda.is_available():
        props = torch.cuda.get_device_properties(0)
        return props.name, props.total_memory / GIB
    return "rtx4090 (no GPU visible; pass --gpu_memory to plan for another card)", CARDS["rtx4090"]


def dry_run(model_args, training, gpu_memory: str | None, backend: str) -> tuple[bool, str]:
    """The plan as text, and whether it fits."""
    card, gib = card_memory(gpu_memory)
    shape = shape_of(model_args.model_name_or_path)
    if shape is None:
        return False, (f"no architecture known for {model_args.model_name_or_path!r}: use a preset or a local "
                       f"model directory with a config.json")
    plan = estimate(shape, model_args, training, gib, shared_weights=backend == "unsloth")
    head = (f"memory plan for {model_args.model_name_or_path} on {card}: "
            f"{'fits' if plan.fits else 'DOES NOT FIT'} ({plan.total:.1f} of {gib:.1f} GiB)")
    text = head + "\n" + plan.render()
    if not plan.fits:
        text += "\nto make it fit, try: " + "; or ".join(suggest(shape, model_args, training, gib))
    return plan.fits, text

