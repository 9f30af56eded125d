"""Assembling trainers: the one place a GRPO-LEAD or SFT trainer is built from a resolved configuration.

:func:`build_trainer` serves ``lead_lite.train``, the Countdown recipe, curricula and the
benchmarks; :func:`build_sft_trainer` serves ``lead_lite.sft`` and the recipe's SFT stage. Both
take the policy as loaded by :func:`lead_lite.models.loading.load_policy` and rows from a task.
"""

from __future__ import annotations

import dataclasses
import functools
from pathlib import Path

from lead_lite import vllm_cpu_weight_sync
from lead_lite.config import RunConfig
from lead_lite.console_log import ConsoleLine, QuietLog
from lead_lite.run_log import JsonlMetrics
from lead_lite.tasks.base import Task, format_prompt
from lead_lite.trainer import MarkedCheckpoints, lead_trainer_class



@functools.cache
def _callbacks() -> dict[str, type]:
    """transformers' callback classes with lead_lite's events mixed in, made on first use: after
    ``resolve()``, so that unsloth (when in use) is imported before transformers."""
    from transformers.trainer_callback import PrinterCallback, ProgressCallback, TrainerCallback

    return {
        "metrics": type("JsonlMetrics", (JsonlMetrics, TrainerCallback), {"__doc__": JsonlMetrics.__doc__}),
        "console": type("ConsoleLine", (ConsoleLine, TrainerCallback), {"__doc__": ConsoleLine.__doc__}),
        "progress": type("QuietProgress", (QuietLog, ProgressCallback), {"__doc__": QuietLog.__doc__}),
        "printer": PrinterCallback, "tqdm": ProgressCallback,
    }


def metrics_callback(output_dir) -> JsonlMetrics:
    """The ``TrainerCallback`` that appends every logged step to ``output_dir/metrics.jsonl``."""
    return _callbacks()["metrics"](Path(output_dir) / "metrics.jsonl")


def compact_console(trainer) -> None:
    """Show one :class:`~lead_lite.console_log.ConsoleLine` per logging step instead of the Trainer's
    print of every logged value; the progress bar stays, ``metrics.jsonl`` keeps every value."""
    classes = _callbacks()
    if trainer.pop_callback(classes["tqdm"]) is not None:
        trainer.add_callback(classes["progress"])
    trainer.pop_callback(classes["printer"])
    trainer.add_callback(classes["console"])


def build_trainer(config: RunConfig, model, tokenizer, peft_config, task: Task, train_rows: list[dict],
                  callbacks: tuple = ()):
    """The GRPO-LEAD trainer (over Unsloth's patched ``GRPOTrainer`` when Unsloth is imported).

    Args:
        config: the run's resolved configuration (``training`` is TRL's ``GRPOConfig``; its
            ``reward_weights`` hold one weight per name in ``data.reward_funcs``).
        model, tokenizer, peft_config: from :func:`lead_lite.models.loading.load_policy`.
        task: supplies the reward functions (``data.reward_funcs``, by name) and the dataset columns.
        train_rows: the task's training rows.
        callbacks: more ``TrainerCallback`` objects; metrics go to ``output_dir/metrics.jsonl``, and
            the console shows one line per logging step (:func:`compact_console`).
    """
    trainer = lead_trainer_class()(
        model=model,
        reward_funcs=task.reward_funcs(config.data.reward_funcs),
        args=config.training,
        train_dataset=task.to_dataset(train_rows, tokenizer),
        processing_class=tokenizer,
        peft_config=peft_config,
        callbacks=[metrics_callback(config.training.output_dir), *callbacks],
        lead=config.lead,
    )
    compact_console(trainer)
    if config.training.use_vllm:
        vllm_cpu_weight_sync.use_for_cpu_colocate(trainer)  # vLLM's CPU build only; TRL's own weight sync everywhere else
    return trainer


def sft_config(config: RunConfig):
    """TRL ``SFTConfig`` sharing the run's Trainer fields (learning rate, steps, batch, precision...)."""
    from transformers import TrainingArguments
    from trl import SFTConfig

    shared = {f.name: getattr(config.training, f.name) for f in dataclasses.fields(TrainingArguments) if f.init}
    return SFTConfig(**shared, max_length=config.model.max_seq_length, completion_only_loss=True)


def sft_dataset(rows: list[dict], tokenizer, chat_template_kwargs: dict | None = None):
    """Prompt-completion rows for ``SFTTrainer``: conversational when the tokenizer has a chat template.

    Args:
        rows: dicts with ``prompt`` and ``completion`` text.
        chat_template_kwargs: the prompt format's template switches, passed per row.
    """
    from datasets import Dataset

    out = []
    for r in rows:
        prompt = format_prompt(r["prompt"], tokenizer)
        completion = r["completion"] if isinstance(prompt, str) else [{"role": "assistant", "content": r["completion"]}]
        row = {"prompt": prompt, "completion": completion}
        if chat_template_kwargs and not isinstance(prompt, str):
            row["chat_template_kwargs"] = chat_template_kwargs
        out.append(row)
    return Dataset.from_list(out)


def build_sft_trainer(config: RunConfig, model, tokenizer, peft_config, rows: list[dict], callbacks: tuple = ()):
    """TRL's ``SFTTrainer`` on prompt-completion ``rows`` (loss on the completion only), its checkpoints
    marked complete as the GRPO trainer's are (:class:`lead_lite.trainer.MarkedCheckpoints`)."""
    from trl import SFTTrainer

    marked = type("SFTTrainer", (MarkedCheckpoints, SFTTrainer), {})  # resumable checkpoints
    return marked(model=model, args=sft_config(config),
                      train_dataset=sft_dataset(rows, tokenizer, config.training.chat_template_kwargs),
                      processing_class=tokenizer, peft_config=peft_config,
                      callbacks=[metrics_callback(config.training.output_dir), *callbacks])
