"""Supervised fine-tuning on worked math solutions, with TRL's SFTTrainer; writes a LoRA adapter.

    python -m lead_lite.sft --model tiny --output_dir runs/sft-tiny --max_steps 30      # generated arithmetic
    python -m lead_lite.sft --model tiny --dataset solutions.jsonl --output_dir runs/sft-tiny
    python -m lead_lite.sft --model deepseek-r1-distill-qwen-1.5b --backend trl --dataset grpo-lead-sft \\
        --problem_column instruction --solution_column output --output_dir runs/sft-r1-1.5b
    python -m lead_lite.train --model tiny --init_adapter runs/sft-tiny                  # GRPO-LEAD from it

The paper's pipeline is SFT -> GRPO-LEAD stage 1 -> stage 2/3; this is its first step, also
available as stage 0 of a curriculum (``method: sft`` in a ``stages:`` list, see
:func:`lead_lite.train.run_curriculum`). The policy loads as for GRPO
(:func:`lead_lite.models.loading.load_policy`: LoRA, 4-bit with ``load_in_4bit`` on a GPU, or
continuing ``init_adapter``).

Data: the task's worked solutions (:meth:`lead_lite.tasks.base.Task.sft_rows`): a problem column
and a worked-solution column of ``dataset`` (``problem_column`` / ``solution_column``, see
:mod:`lead_lite.tasks.math`); with no ``dataset``, ``train_size`` generated arithmetic problems
and their worked solutions. The prompt is the problem with the ``prompt_format`` instruction, as
in GRPO; the completion is the solution; the loss is on the completion only. Rows without a
problem, without a solution, or whose solution has no final ``\\boxed{}`` answer are reported and
dropped (:func:`lead_lite.tasks.math.clean_sft_rows`).

Configuration is layered as for ``lead_lite.train`` (defaults < preset < YAML < flags). The
Trainer fields (learning_rate, max_steps, per_device_train_batch_size, gradient_accumulation_steps,
bf16, logging/saving...) drive the SFTConfig; GRPO-only fields are ignored (the config is read as
one GRPOConfig, so the batch must still hold whole groups of num_generations). Sequences are cut
at ``max_seq_length`` tokens.

Writes to --output_dir: the LoRA adapter, resolved_config.yaml, metrics.jsonl and summary.json
(steps, rows, final training loss, the adapter it started from and checksums of its weights), and
with --report_to tensorboard (the presets' default) or trackio, the tracker's files.
The run directory and checkpoints follow lead_lite.train: ``--resume_from_checkpoint last``
continues from the newest complete checkpoint, ``--overwrite_output_dir true`` reuses a directory.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

from lead_lite import checkpoints, run_files
from lead_lite.config import ConfigError, RunConfig, check_output_dir, check_resume, resolve, save_resolved
from lead_lite.models.loading import adapter_digest, load_policy
from lead_lite.tasks.registry import TASKS
from lead_lite.training import build_sft_trainer, sft_config
from lead_lite.user_errors import entry_point
from lead_lite.verifier import MathVerifier

logger = logging.getLogger("lead_lite.sft")


def run(config: RunConfig) -> dict:
    """Fine-tune once with a resolved configuration; returns the summary (also written to summary.json)."""
    model_args, data, training = config.model, config.data, config.training

    # 1. data: problem + worked solution (before the run directory and the model: bad data fails fast)
    task = TASKS[config.task](MathVerifier(timeout_s=config.verifier.verifier_timeout_s))
    rows = task.sft_rows(data, seed=training.seed)
    task.close()

    # 2. seed and run directory (one run's: claimed, locked while it trains)
    from transformers import set_seed  # after resolve(): unsloth, when in use, is imported before transformers

    set_seed(training.seed)
    out = Path(training.output_dir)
    lock = run_files.claim_for_training(out, "sft", training, model_args.overwrite_output_dir)
    training.report_to = [] if training.report_to in (None, "none", ["none"]) else training.report_to
    try:
        summary = _fine_tune(config, rows, out)
    finally:
        if lock is not None:
            lock.release()
    return summary


def _fine_tune(config: RunConfig, rows: list[dict], out: Path) -> dict:
    """Steps 3 and 4 of :func:`run`: the policy, the trainer, training and saving."""
    model_args, data, training = config.model, config.data, config.training

    # 3. model (fresh LoRA, or the init_adapter trained further), tokenizer, backend
    model, tokenizer, peft_config, backend = load_policy(model_args, training)
    save_resolved(out / "resolved_config.yaml", model_args, data, sft_config(config))
    logger.info("sft: %d worked solutions from %s; backend %s", len(rows), data.dataset or "generated arithmetic",
                backend)

    # 4. trainer, train (or resume), save
    trainer = build_sft_trainer(config, model, tokenizer, peft_config, rows)
    start = adapter_digest(trainer.model)  # the LoRA weights training starts from
    result = trainer.train(resume_from_checkpoint=checkpoints.resume_path(training.resume_from_checkpoint, out))
    trainer.save_model(str(out))
    summary = {"method": "SFT", "backend": backend, "steps": trainer.state.global_step, "rows": len(rows),
               "train_loss": result.training_loss, "init_adapter": model_args.init_adapter,
               "start_adapter_digest": start, "adapter_digest": adapter_digest(out)}
    run_files.write_json(out / "summary.json", summary)
    logger.info("sft: %d steps, training loss %.3f; adapter written to %s", summary["steps"], result.training_loss, out)
    return summary


def check_sft(config: RunConfig) -> None:
    """What SFT refuses, before anything loads (an output_dir that is, holds or sits inside an input included)."""
    if config.model.dry_run:
        raise ConfigError("dry_run=True: the memory plan covers GRPO runs (python -m lead_lite.train --dry-run)")
    if config.task == "countdown":
        raise ConfigError("task='countdown': its SFT stage is part of python -m lead_lite.recipes.countdown")
    check_output_dir(config.training.output_dir)
    run_files.refuse_inputs_in_output(config.training.output_dir, {
        "--init_adapter": config.model.init_adapter, "--dataset": config.data.dataset,
        "--model": config.model.model_name_or_path}, inside_ok=("--model",))
    check_resume(config.training.resume_from_checkpoint, config.training.output_dir)


@entry_point
def main(argv: list[str]) -> dict:
    """Parse the command line and run SFT once; a user error ends with one line and exit code 2."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    (config,) = resolve(argv, description=__doc__)
    check_sft(config)
    return run(config)


if __name__ == "__main__":
    main(sys.argv[1:])
