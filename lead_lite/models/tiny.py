"""The tiny offline model: a Qwen3-architecture model built from a config, a tokenizer built
in code, and a short SFT warm start on generated worked solutions (cached on disk).

One warm start per task (``arithmetic``, the default, or ``countdown``): each task module
provides the words its tokenizer keeps whole and the rows (``prompt``, ``solution``) to learn.

A randomly initialised model earns no reward on arithmetic, so every GRPO group would have
zero reward spread and nothing would be learned. The warm start makes the tiny model partly
right and verbose; GRPO-LEAD then has something to act on. It runs once per cache key and is
saved with ``save_pretrained``; later runs load it with ``from_pretrained`` like any local model.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import string
from pathlib import Path

import torch

from lead_lite.tasks import arithmetic, countdown

logger = logging.getLogger(__name__)

SPECIAL_TOKENS = ("<|endoftext|>", "<|pad|>", "<think>", "</think>")
TINY_CONFIG = dict(
    hidden_size=96,
    intermediate_size=288,
    num_hidden_layers=2,
    num_attention_heads=4,
    num_key_value_heads=2,
    head_dim=32,  # vLLM's CPU attention supports head sizes 32, 64, 80, ... (not 24)
    max_position_embeddings=512,
    rope_theta=10000.0,
    tie_word_embeddings=True,
)
WARM_START = dict(steps=300, batch_size=32, lr=3e-3, n_problems=2000, seed=0)
# Countdown: 3 numbers from 1..12, targets up to 50 (the configs/countdown/tiny/*.yaml settings).
COUNTDOWN_WARM_START = dict(
    steps=600, batch_size=32, lr=3e-3, n_problems=2000, seed=0,
    problems=dict(numbers_per_problem=[3], max_number=12, max_target=50),
)
# task -> (task module, warm-start settings, tokenizer options)
TASKS = {
    "arithmetic": (arithmetic, WARM_START, {}),
    # like Qwen3, <think> is an ordinary token here, so decoded completions keep their think tags
    # (the Countdown SFT stage trains on decoded completions)
    "countdown": (countdown, COUNTDOWN_WARM_START, {"think_tags_special": False}),
}
CACHE_VERSION = "3"  # bump when the tokenizer, model shape or warm-start data change


def build_tokenizer(
    words: tuple[str, ...] = arithmetic.WORDS, think_tags_special: bool = True, vocab_size: int | None = None
):
    """A word/character tokenizer for a task's ``words``, built in code (default: arithmetic).

    Every word of the task is one token, every other printable ASCII character is one token,
    so any ASCII text round-trips through encode/decode exactly. ``<think>`` and ``</think>``
    are single tokens too: special ones (dropped by ``skip_special_tokens``) unless
    ``think_tags_special`` is False.

    Args:
        vocab_size: pad the vocabulary with filler tokens ``<|fN|>`` up to this size, so a
            real-shape model (e.g. Qwen3's 151,936 rows) can decode any id it samples.

    Returns:
        a ``transformers.PreTrainedTokenizerFast`` with eos ``<|endoftext|>`` and pad ``<|pad|>``.
    """
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    chars = [c for c in string.printable if c not in "\t\n\r\x0b\x0c"] + ["\n"]
    vocab_list = list(SPECIAL_TOKENS) + sorted(set(words)) + chars
    vocab = {tok: i for i, tok in enumerate(dict.fromkeys(vocab_list))}
    for i in range(len(vocab), vocab_size or 0):
        vocab[f"<|f{i}|>"] = i
    think_tags = ("<think>", "</think>")
    words = sorted(set(words) | (set() if think_tags_special else set(think_tags)), key=len, reverse=True)
    pattern = "|".join(re.escape(w) for w in words) + r"|[\s\S]"
    tok = Tokenizer(models.WordLevel(vocab=vocab, unk_token="?"))
    tok.pre_tokenizer = pre_tokenizers.Split(Regex(pattern), behavior="isolated")
    tok.decoder = decoders.Fuse()
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        eos_token="<|endoftext|>",
        pad_token="<|pad|>",  # distinct from eos: Unsloth refuses a tokenizer whose pad is its eos
        additional_special_tokens=list(think_tags) if think_tags_special else [],
    )
    fast.padding_side = "left"
    return fast


def build_model(tokenizer, seed: int = 0):
    """A randomly initialised tiny ``Qwen3ForCausalLM`` sized for ``tokenizer``."""
    from transformers import Qwen3Config, Qwen3ForCausalLM

    torch.manual_seed(seed)
    config = Qwen3Config(
        vocab_size=len(tokenizer),
        bos_token_id=None,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        **TINY_CONFIG,
    )
    model = Qwen3ForCausalLM(config)
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    return model


def cache_dir() -> Path:
    """Where warm-started tiny models are kept: ``$LEAD_LITE_CACHE`` or ``~/.cache/lead_lite``."""
    return Path(os.environ.get("LEAD_LITE_CACHE", Path.home() / ".cache" / "lead_lite"))


def _cache_key(warm_start: dict, task: str = "arithmetic") -> str:
    key = {"v": CACHE_VERSION, "model": TINY_CONFIG, "warm": warm_start}
    if task != "arithmetic":  # arithmetic keeps the key it had before tasks existed
        module, _, tokenizer_options = TASKS[task]  # a new prompt or tokenizer rebuilds
        key.update(task=task, words=list(module.WORDS), tokenizer=tokenizer_options)
    blob = json.dumps(key, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:12]


def warm_start(model, tokenizer, steps: int, batch_size: int, lr: float, n_problems: int, seed: int,
               task: str = "arithmetic", problems: dict | None = None) -> list[float]:
    """Supervised warm start on generated worked solutions; loss on the completion tokens only.

    Args:
        task: a key of :data:`TASKS`; problems: extra arguments of that task's ``generate``.

    Returns:
        the training loss of every step.
    """
    rows = TASKS[task][0].generate(n_problems, seed=seed, split="train", **(problems or {}))
    texts_p = [r["prompt"] for r in rows]
    texts_c = [r["solution"] + tokenizer.eos_token for r in rows]
    prompt_ids = [tokenizer(t, add_special_tokens=False)["input_ids"] for t in texts_p]
    comp_ids = [tokenizer(t, add_special_tokens=False)["input_ids"] for t in texts_c]
    g = torch.Generator().manual_seed(seed)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.0)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min(1.0, (s + 1) / 50) * max(0.05, 1 - s / steps))
    model.train()
    losses = []
    for _ in range(steps):
        idx = torch.randint(len(rows), (batch_size,), generator=g).tolist()
        seqs = [prompt_ids[i] + comp_ids[i] for i in idx]
        width = max(map(len, seqs))
        input_ids = torch.full((batch_size, width), tokenizer.pad_token_id)  # (B, T)
        labels = torch.full((batch_size, width), -100)  # (B, T)
        attn = torch.zeros((batch_size, width), dtype=torch.long)  # (B, T)
        for row, i in enumerate(idx):
            seq = seqs[row]
            input_ids[row, : len(seq)] = torch.tensor(seq)
            attn[row, : len(seq)] = 1
            labels[row, len(prompt_ids[i]) : len(seq)] = torch.tensor(comp_ids[i])
        loss = model(input_ids=input_ids, attention_mask=attn, labels=labels).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        opt.zero_grad(set_to_none=True)
        losses.append(loss.item())
    model.eval()
    return losses


def prepare_tiny_model(warm: dict | None = None, task: str = "arithmetic") -> Path:
    """Build, warm-start and save the tiny model once; return its directory.

    The directory is keyed by the task, model shape, tokenizer version and warm-start settings,
    so a second call with the same settings loads nothing new and costs nothing.

    Args:
        warm: overrides of the task's warm-start settings (:data:`TASKS`).
        task: ``arithmetic`` (default) or ``countdown``.
    """
    if task not in TASKS:
        raise ValueError(f"unknown tiny task {task!r}; one of {sorted(TASKS)}")
    module, defaults, tokenizer_options = TASKS[task]
    warm = {**defaults, **(warm or {})}
    out = cache_dir() / f"tiny-{_cache_key(warm, task)}"
    if (out / "config.json").exists() and (out / "tokenizer.json").exists():
        logger.info("tiny model: using the cached warm start at %s", out)
        return out
    logger.info("tiny model: building and warm-starting (%d SFT steps, paid once) -> %s", warm["steps"], out)
    tokenizer = build_tokenizer(words=module.WORDS, **tokenizer_options)
    with torch.random.fork_rng(devices=[]):  # the caller's random state is as if the model had been cached
        model = build_model(tokenizer, seed=warm["seed"])
        losses = warm_start(model, tokenizer, task=task, **warm)
    logger.info("tiny model: warm-start loss %.3f -> %.3f", losses[0], losses[-1])
    tmp = out.with_name(out.name + f".tmp{os.getpid()}")
    model.save_pretrained(tmp)
    tokenizer.save_pretrained(tmp)
    (tmp / "warm_start.json").write_text(json.dumps({**warm, "task": task, "final_loss": losses[-1]}, indent=2))
    out.parent.mkdir(parents=True, exist_ok=True)
    try:
        tmp.rename(out)  # atomic: a half-written model is never seen under the final name
    except OSError:
        if not (out / "config.json").exists():
            raise
    return out
