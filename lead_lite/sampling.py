"""Sampling completions with HF ``generate`` and judging them: the CPU evaluation path."""

from __future__ import annotations

import torch

from lead_lite.data import format_prompt
from lead_lite.verifier import MathVerifier, Verdict


@torch.no_grad()
def generate(model, tokenizer, prompts: list[str], max_new_tokens: int, temperature: float = 0.0,
             num_samples: int = 1, batch_size: int = 64) -> tuple[list[list[str]], list[list[int]]]:
    """``num_samples`` completions per prompt; temperature 0 is greedy.

    Returns:
        (texts, token lengths), each a list per prompt of ``num_samples`` entries.
    """
    was_training = model.training
    model.eval()
    side = tokenizer.padding_side
    tokenizer.padding_side = "left"
    texts: list[list[str]] = [[] for _ in prompts]
    lengths: list[list[int]] = [[] for _ in prompts]
    flat = [i for i in range(len(prompts)) for _ in range(num_samples)]
    try:
        for start in range(0, len(flat), batch_size):
            idx = flat[start : start + batch_size]
            batch = [format_prompt(prompts[i], tokenizer) for i in idx]
            if isinstance(batch[0], list):
                batch = [tokenizer.apply_chat_template(m, tokenize=False, add_generation_prompt=True) for m in batch]
            enc = tokenizer(batch, return_tensors="pt", padding=True, add_special_tokens=False).to(model.device)
            sample = temperature > 0
            out = model.generate(
                **enc, max_new_tokens=max_new_tokens, do_sample=sample,
                temperature=temperature if sample else None, top_p=None, top_k=None,
                pad_token_id=tokenizer.pad_token_id,
            )
            completion_ids = out[:, enc["input_ids"].shape[1] :]  # (B, T)
            ended = completion_ids == tokenizer.eos_token_id  # (B, T)
            # length = tokens up to and including the first EOS, else all generated tokens
            first_eos = torch.where(ended.any(1), ended.int().argmax(1) + 1, completion_ids.new_full((len(idx),), completion_ids.shape[1]))
            decoded = tokenizer.batch_decode(completion_ids, skip_special_tokens=True)
            for j, i in enumerate(idx):
                texts[i].append(decoded[j])
                lengths[i].append(int(first_eos[j]))
    finally:
        tokenizer.padding_side = side
        model.train(was_training)
    return texts, lengths


def accuracy_and_length(model, tokenizer, rows: list[dict], max_new_tokens: int,
                        verifier: MathVerifier | None = None) -> dict[str, float]:
    """Greedy accuracy and mean completion length on ``rows`` (``prompt``, ``answer``)."""
    verifier = verifier or MathVerifier()
    texts, lengths = generate(model, tokenizer, [r["prompt"] for r in rows], max_new_tokens)
    verdicts = [verifier.check(t[0], r["answer"]).verdict for t, r in zip(texts, rows)]
    n = len(rows)
    correct_lengths = [l[0] for l, v in zip(lengths, verdicts) if v is Verdict.CORRECT]
    return {
        "accuracy": sum(v is Verdict.CORRECT for v in verdicts) / n,
        "mean_length": sum(l[0] for l in lengths) / n,
        "mean_length_correct": sum(correct_lengths) / len(correct_lengths) if correct_lengths else float("nan"),
        "no_answer_rate": sum(v is Verdict.NO_ANSWER for v in verdicts) / n,
        "unjudgeable_rate": sum(v is Verdict.UNJUDGEABLE for v in verdicts) / n,
        "n": n,
    }
