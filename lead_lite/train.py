"""Train a policy with GRPO-LEAD.

    python -m lead_lite.train --model qwen3-1.7b          # a preset from configs/models/
    python -m lead_lite.train --model tiny                # the offline CPU demo (default)
    python -m lead_lite.train --model tiny --config my.yaml --alpha 0.1 --difficulty_reweight false
    python -m lead_lite.train --model tiny --init_adapter runs/sft-tiny   # continue an SFT adapter
    python -m lead_lite.train --config configs/curriculum/tiny.yaml       # stages, see lead_lite.curriculum

How it departs from textbook GRPO (Shao et al. 2024): the reward of a correct completion depends
on its length relative to the group's other correct completions, wrong answers are penalised,
and advantages are rescaled by the prompt's difficulty (see lead_lite.advantages). The three
components switch on and off with --length_reward / --explicit_penalty / --difficulty_reweight.

Writes to --output_dir: resolved_config.yaml, metrics.jsonl, checkpoints, the LoRA adapter and
summary.json (held-out accuracy and mean completion length before and after training, and
checksums of the LoRA weights training started from and saved). A config with a ``stages:``
list runs each stage in order into output_dir/stage-N (:mod:`lead_lite.curriculum`).
"""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path

logger = logging.getLogger("lead_lite.train")


def _resume_arg(value, output_dir):
    """TrainingArguments' resume_from_checkpoint: a path, or 'last' / 'true' for the newest complete
    checkpoint in output_dir (partial ones, left by a kill while saving, are skipped with a warning)."""
    from lead_lite import checkpoints

    if value is None or str(value).lower() in ("", "false", "none"):
        return None
    if str(value).lower() in ("last", "true"):
        found = checkpoints.last_complete(output_dir)
        if found is None:
            raise ValueError(f"--resume_from_checkpoint {value}: no complete checkpoint in {output_dir}")
        logger.info("resuming from %s", found)
        return str(found)
    reason = checkpoints.incomplete_reason(value)
    if reason is not None:
        logger.warning("resuming from %s, which may be incomplete: %s", value, reason)
    return value


def main(argv: list[str] | None = None, stage: tuple[str, dict] | None = None) -> dict | list[dict]:
    """Train once (returns the summary), or run a config's stages (returns their records).

    ``stage`` is one curriculum stage's (name, overrides), passed by :func:`lead_lite.curriculum.run`.
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    from lead_lite import unsloth_backend

    unsloth_backend.import_first(argv)  # before trl, so Unsloth's patches apply
    from lead_lite.config import ConfigError, method_name, parse_config, read_stages, save_resolved

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        stages = read_stages(argv) if stage is None else None
        if stages:
            from lead_lite import curriculum

            return curriculum.run(argv, stages)
        model_args, lead, data, training = parse_config(argv, stage=stage)
    except ConfigError as exc:
        logger.error("invalid configuration: %s", exc)
        raise SystemExit(2) from exc

    # 0. memory plan (--dry-run stops here; nothing has loaded)
    from lead_lite.memory_plan import dry_run
    from lead_lite.models import TINY, resolve_backend

    import torch

    if model_args.model_name_or_path != TINY and (model_args.dry_run or torch.cuda.is_available()):
        # auto plans for unsloth, the backend a GPU install (requirements-gpu.txt) resolves to
        planned = "unsloth" if model_args.backend == "auto" and not torch.cuda.is_available() else resolve_backend(
            model_args.backend)
        fits, plan = dry_run(model_args, training, model_args.gpu_memory, planned)
        logger.info("%s", plan)
        if model_args.dry_run:
            if not fits:
                logger.error("the planned run does not fit; change the settings above or pick a larger card")
            raise SystemExit(0 if fits else 3)
    elif model_args.dry_run:
        logger.info("the tiny model runs on the CPU; no GPU memory plan to make")
        raise SystemExit(0)

    # 1. seed and run directory
    from transformers import set_seed

    set_seed(training.seed)
    out = Path(training.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    training.report_to = [] if training.report_to in (None, "none", ["none"]) else training.report_to
    if training.reward_weights is None:
        training.reward_weights = [1.0, 0.0]  # accuracy drives the reward; format is logged only

    # 2. model, tokenizer, backend
    from lead_lite.models import load_policy

    model, tokenizer, peft_config, backend = load_policy(model_args, training)
    logger.info("method: %s; backend: %s", method_name(lead), backend)
    if training.should_save:  # one writer under a multi-process launch
        save_resolved(out / "resolved_config.yaml", model_args, lead, data, training)
        with (out / "resolved_config.yaml").open("a") as f:
            f.write(f"backend_in_use: {backend}\nmethod_name: {method_name(lead)}\n")

    # 3. data
    from lead_lite.data import load_rows, to_dataset

    train_rows, eval_rows = load_rows(data, seed=training.seed)
    logger.info("data: %d training prompts, %d held-out", len(train_rows), len(eval_rows))

    # 4. rewards and trainer
    from lead_lite.rewards import HasAnswer, MathAccuracy
    from lead_lite.run_log import JsonlMetrics
    from lead_lite.trainer import lead_trainer_class
    from lead_lite.verifier import MathVerifier

    verifier = MathVerifier(timeout_s=lead.verifier_timeout_s)
    trainer = lead_trainer_class()(
        model=model,
        reward_funcs=[MathAccuracy(verifier), HasAnswer()],
        args=training,
        train_dataset=to_dataset(train_rows, tokenizer),
        processing_class=tokenizer,
        peft_config=peft_config,
        callbacks=[JsonlMetrics(out / "metrics.jsonl")],
        lead=lead,
    )
    if training.use_vllm:
        from lead_lite.vllm_cpu_weight_sync import use_for_cpu_colocate

        use_for_cpu_colocate(trainer)  # vLLM's CPU build only; TRL's own sync elsewhere

    # 5. evaluate, train, save, evaluate
    from lead_lite.models import adapter_digest
    from lead_lite.sampling import accuracy_and_length

    budget = data.eval_max_new_tokens or training.max_completion_length
    chat = training.chat_template_kwargs
    before = accuracy_and_length(trainer.model, tokenizer, eval_rows, budget, verifier, chat) if eval_rows else {}
    start = adapter_digest(trainer.model)  # the LoRA weights training starts from
    trainer.train(resume_from_checkpoint=_resume_arg(training.resume_from_checkpoint, out))
    trainer.save_model(str(out))
    after = accuracy_and_length(trainer.model, tokenizer, eval_rows, budget, verifier, chat) if eval_rows else {}
    if model_args.save_merged_16bit and training.should_save:
        from lead_lite.models import save_merged

        save_merged(trainer.model, tokenizer, out / "merged-16bit", backend)
    summary = {"method": method_name(lead), "backend": backend, "steps": trainer.state.global_step,
               "before": before, "after": after, "init_adapter": model_args.init_adapter,
               "start_adapter_digest": start}
    if training.should_save:  # the main process saved the adapter; the others have no file to read
        summary["adapter_digest"] = adapter_digest(out)
        (out / "summary.json").write_text(json.dumps(summary, indent=2))
    verifier.close()
    if eval_rows:
        logger.info(
            "summary (%d held-out problems, greedy, %d tokens): accuracy %.1f%% -> %.1f%%, "
            "mean completion length %.1f -> %.1f tokens",
            len(eval_rows), budget, 100 * before["accuracy"], 100 * after["accuracy"],
            before["mean_length"], after["mean_length"],
        )
    logger.info("adapter, metrics.jsonl and summary.json written to %s", out)
    return summary


if __name__ == "__main__":
    main(sys.argv[1:])
