"""Supervised fine-tuning on worked math solutions, with TRL's SFTTrainer; writes a LoRA adapter.

    python -m lead_lite.sft --model tiny --output_dir runs/sft-tiny --max_steps 30      # generated arithmetic
    python -m lead_lite.sft --model tiny --dataset solutions.jsonl --output_dir runs/sft-tiny
    python -m lead_lite.sft --model deepseek-r1-distill-qwen-1.5b --backend trl --dataset grpo-lead-sft \\
        --problem_column instruction --solution_column output --output_dir runs/sft-r1-1.5b
    python -m lead_lite.train --model tiny --init_adapter runs/sft-tiny                  # GRPO-LEAD from it

The paper's pipeline is SFT -> GRPO-LEAD stage 1 -> stage 2/3; this is its first step, also
available as stage 0 of a curriculum (``method: sft`` in a ``stages:`` list, see
:mod:`lead_lite.curriculum`). The policy loads as for GRPO (:func:`lead_lite.models.load_policy`:
LoRA, 4-bit with ``load_in_4bit`` on a GPU, or continuing ``init_adapter``).

Data: a problem column and a worked-solution column (``problem_column`` / ``solution_column``,
see :mod:`lead_lite.data`); with no ``dataset``, ``train_size`` generated arithmetic problems and
their worked solutions. The prompt is the problem with the ``prompt_format`` instruction, as in
GRPO; the completion is the solution; the loss is on the completion only. Rows without a
problem, without a solution, or whose solution has no final ``\\boxed{}`` answer are reported and
dropped (:func:`lead_lite.data.clean_sft_rows`).

Configuration is layered as for ``lead_lite.train`` (defaults < preset < YAML < flags). The
Trainer fields (learning_rate, max_steps, per_device_train_batch_size, gradient_accumulation_steps,
bf16, logging/saving...) drive the SFTConfig; GRPO-only fields are ignored (the config is read as
one GRPOConfig, so the batch must still hold whole groups of num_generations). Sequences are cut
at ``max_seq_length`` tokens.

Writes to --output_dir: the LoRA adapter, resolved_config.yaml, metrics.jsonl and summary.json
(steps, rows, final training loss, the adapter it started from and checksums of its weights), and
with --report_to tensorboard (the presets' default) or trackio, the tracker's files.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import sys
from pathlib import Path

logger = logging.getLogger("lead_lite.sft")


def sft_dataset(rows: list[dict], tokenizer, chat_template_kwargs: dict | None = None):
    """Prompt-completion rows for ``SFTTrainer``: conversational when the tokenizer has a chat template.

    Args:
        rows: dicts with ``prompt`` and ``completion`` text.
        chat_template_kwargs: the prompt format's template switches, passed per row.
    """
    from datasets import Dataset

    from lead_lite.data import format_prompt

    out = []
    for r in rows:
        prompt = format_prompt(r["prompt"], tokenizer)
        completion = r["completion"] if isinstance(prompt, str) else [{"role": "assistant", "content": r["completion"]}]
        row = {"prompt": prompt, "completion": completion}
        if chat_template_kwargs and not isinstance(prompt, str):
            row["chat_template_kwargs"] = chat_template_kwargs
        out.append(row)
    return Dataset.from_list(out)


def sft_config(training, model_args):
    """TRL ``SFTConfig`` sharing the run's Trainer fields (learning rate, steps, batch, precision...)."""
    from transformers import TrainingArguments
    from trl import SFTConfig

    shared = {f.name: getattr(training, f.name) for f in dataclasses.fields(TrainingArguments) if f.init}
    return SFTConfig(**shared, max_length=model_args.max_seq_length, completion_only_loss=True)


def main(argv: list[str] | None = None, stage: tuple[str, dict] | None = None) -> dict:
    """Run SFT; ``stage`` is a curriculum stage's (name, overrides), see :func:`lead_lite.config.parse_config`."""
    argv = list(sys.argv[1:] if argv is None else argv)
    from lead_lite import unsloth_backend

    unsloth_backend.import_first(argv)  # before trl, so Unsloth's patches apply
    from lead_lite.config import ConfigError, parse_config, save_resolved

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        model_args, _, data, training = parse_config(argv, stage=stage, description=__doc__)
        if model_args.dry_run:
            raise ConfigError("dry_run=True: the memory plan covers GRPO runs (python -m lead_lite.train --dry-run)")
        if data.task != "arithmetic":
            raise ConfigError(f"task={data.task!r}: its SFT stage is part of python -m lead_lite.recipes.{data.task}")
    except ConfigError as exc:
        logger.error("invalid configuration: %s", exc)
        raise SystemExit(2) from exc

    # 1. seed and run directory
    from transformers import set_seed

    set_seed(training.seed)
    out = Path(training.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    training.report_to = [] if training.report_to in (None, "none", ["none"]) else training.report_to
    args = sft_config(training, model_args)

    # 2. model (fresh LoRA, or the init_adapter trained further), tokenizer, backend
    from lead_lite.models import load_policy

    model, tokenizer, peft_config, backend = load_policy(model_args, training)
    save_resolved(out / "resolved_config.yaml", model_args, data, args)

    # 3. data: problem + worked solution
    from lead_lite.data import load_sft_rows

    rows = load_sft_rows(data, seed=training.seed)
    logger.info("sft: %d worked solutions from %s; backend %s", len(rows), data.dataset or "generated arithmetic",
                backend)

    # 4. trainer, train, save
    from trl import SFTTrainer

    from lead_lite.models import adapter_digest
    from lead_lite.run_log import JsonlMetrics

    trainer = SFTTrainer(model=model, args=args, train_dataset=sft_dataset(rows, tokenizer, training.chat_template_kwargs),
                         processing_class=tokenizer, peft_config=peft_config,
                         callbacks=[JsonlMetrics(out / "metrics.jsonl")])
    start = adapter_digest(trainer.model)  # the LoRA weights training starts from
    result = trainer.train()
    trainer.save_model(str(out))
    summary = {"method": "SFT", "backend": backend, "steps": trainer.state.global_step, "rows": len(rows),
               "train_loss": result.training_loss, "init_adapter": model_args.init_adapter,
               "start_adapter_digest": start, "adapter_digest": adapter_digest(out)}
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    logger.info("sft: %d steps, training loss %.3f; adapter written to %s", summary["steps"], result.training_loss, out)
    return summary


if __name__ == "__main__":
    main(sys.argv[1:])
