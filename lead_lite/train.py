"""Train a policy with GRPO-LEAD.

    python -m lead_lite.train --model qwen3-1.7b          # a preset from configs/models/
    python -m lead_lite.train --model tiny                # the offline CPU demo (default)
    python -m lead_lite.train --model tiny --config my.yaml --alpha 0.1 --difficulty_reweight false
    python -m lead_lite.train --model tiny --init_adapter runs/sft-tiny   # continue an SFT adapter
    python -m lead_lite.train --config configs/curriculum/tiny.yaml       # stages, see run_curriculum

How it departs from textbook GRPO (Shao et al. 2024): the reward of a correct completion depends
on its length relative to the group's other correct completions, wrong answers are penalised,
and advantages are rescaled by the prompt's difficulty (see lead_lite.advantages). The three
components switch on and off with --length_reward / --explicit_penalty / --difficulty_reweight.

Writes to --output_dir: resolved_config.yaml, held_out.jsonl (the held-out problems, for
``python -m lead_lite.eval --data OUTPUT_DIR/held_out.jsonl``), metrics.jsonl, checkpoints, the LoRA adapter and
summary.json (held-out accuracy and mean completion length before and after training, and
checksums of the LoRA weights training started from and saved), report.html (the curves, the
before / after and the configuration on one page, :mod:`lead_lite.report`), and with
--report_to tensorboard (the presets' default) or trackio, the tracker's files: tensorboard's
event files under --logging_dir (default OUTPUT_DIR/runs/), trackio's database in its own
directory ($TRACKIO_DIR). --save_gguf and --push_to_hub export after training
(:mod:`lead_lite.export`). A config with a ``stages:`` list runs each stage in order into
output_dir/stage-N (:func:`run_curriculum`).

``main`` only parses the command line (:func:`lead_lite.config.resolve`); :func:`run` does the
work for one resolved configuration.
An output_dir is one run's (:mod:`lead_lite.run_files`): one holding another run's files is
refused unless the run resumes (--resume_from_checkpoint last) or --overwrite_output_dir true.
"""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path

import torch

from lead_lite import checkpoints, export, run_files, sft
from lead_lite.config import (ConfigError, RunConfig, check_output_dir, check_resume, method_name, resolve,
                              save_resolved)
from lead_lite.memory_plan import dry_run
from lead_lite.prompts import get_format
from lead_lite.models.loading import TINY, adapter_digest, load_policy, load_tokenizer, model_path, save_merged
from lead_lite.models.sampling import evaluate_greedy, prompt_token_counts
from lead_lite.report import write_report
from lead_lite.tasks.math import source_of
from lead_lite.tasks.registry import TASKS
from lead_lite.training import build_trainer
from lead_lite.user_errors import UserError, entry_point
from lead_lite.verifier import MathVerifier

logger = logging.getLogger("lead_lite.train")

REPORT_FILE = "report.html"
HELD_OUT_FILE = "held_out.jsonl"  # the run's held-out problems, for ``lead_lite.eval --data OUTPUT_DIR/held_out.jsonl``


def held_out_lines(rows: list[dict], prompt_format: str) -> str:
    """The held-out rows as JSONL with ``problem`` (without the format's instruction), ``answer`` and ``id``.

    Example:
        >>> held_out_lines([{"prompt": "What is 2 + 3? Put the final answer within \\\\boxed{}.", "answer": "5",
        ...                  "id": "a-0"}], "boxed")
        '{"problem": "What is 2 + 3?", "answer": "5", "id": "a-0"}\\n'
    """
    instruction = get_format(prompt_format).instruction
    return "".join(json.dumps({"problem": r.get("problem") or r["prompt"].removesuffix(instruction),
                               "answer": r["answer"], "id": r["id"]}) + "\n" for r in rows)


def data_line(config: RunConfig) -> str:
    """The run's data in one line: the dataset and where it is read from, or the generated task.

    Example:
        >>> from lead_lite.config import resolve
        >>> data_line(resolve(["--model", "tiny"])[0])
        'data: task arithmetic, 512 generated problems, 64 held out'
    """
    data = config.data
    if data.dataset is None:
        return f"data: task {config.task}, {data.train_size} generated problems, {data.eval_size} held out"
    return (f"data: task {config.task}, dataset {data.dataset} ({source_of(data.dataset)}), "
            f"prompt format {data.prompt_format}, up to {data.eval_size} rows (a tenth at most) held out")


def plan_memory(config: RunConfig) -> int | None:
    """Log the GPU memory plan when it applies; return the exit code of ``--dry-run`` (else None)."""
    model_args, training = config.model, config.training
    if model_args.dry_run:
        logger.info("%s", data_line(config))
    if model_args.model_name_or_path != TINY and (model_args.dry_run or torch.cuda.is_available()):
        # without CUDA, auto plans for unsloth: the backend a GPU install (requirements-gpu.txt) resolves to
        planned = "unsloth" if config.requested_backend == "auto" and not torch.cuda.is_available() \
            else model_args.backend
        fits, plan = dry_run(model_args, training, model_args.gpu_memory, planned)
        logger.info("%s", plan)
        if model_args.dry_run:
            if not fits:
                logger.error("the planned run does not fit; change the settings above or pick a larger card")
            return 0 if fits else 3
    elif model_args.dry_run:
        logger.info("the tiny model runs on the CPU; no GPU memory plan to make")
        return 0
    return None


def fit_prompt_room(rows: list[dict], tokenizer, config: RunConfig, what: str) -> list[dict]:
    """The rows whose prompt, counted in the model's own tokens (chat template and its system prompt
    included), leaves ``max_completion_length`` tokens within ``max_seq_length``. Longer ones are
    reported and dropped (``bad_rows: skip``) or stop the run (``bad_rows: error``); none left is an error.
    """
    if not rows:
        return rows
    room = config.model.max_seq_length - config.training.max_completion_length
    counts = prompt_token_counts(tokenizer, [r["prompt"] for r in rows], config.training.chat_template_kwargs)
    long = {i for i, n in enumerate(counts) if n > room}
    if not long:
        return rows
    detail = (f"{len(long)} of {len(rows)} {what} prompts have more than {room} tokens (max_seq_length="
              f"{config.model.max_seq_length} - max_completion_length={config.training.max_completion_length}; "
              f"longest {max(counts)}), e.g. row {min(long)}")
    if config.data.bad_rows == "error" or len(long) == len(rows):
        raise ConfigError(f"max_seq_length: {detail}; raise max_seq_length or shorten the prompts")
    logger.warning("%s: dropped (bad_rows: skip)", detail)
    return [r for i, r in enumerate(rows) if i not in long]


def check_prompts_per_step(rows: list[dict], training) -> None:
    """Refuse a run whose training rows cannot fill one step's prompts: TRL draws whole generation
    batches of ``generation_batch_size / num_generations`` distinct prompts and drops a short one, so
    such a run would train 0 steps and save an untrained adapter as if it had trained.

    Example:
        >>> from types import SimpleNamespace
        >>> check_prompts_per_step([{}] * 4, SimpleNamespace(generation_batch_size=64, num_generations=4,
        ...                                                  per_device_train_batch_size=64))
        Traceback (most recent call last):
        ...
        lead_lite.config.ConfigError: per_device_train_batch_size=64: a step samples 16 prompts (generation_batch_size 64 / num_generations 4) but there are only 4 training prompts; lower per_device_train_batch_size or give more data (train_size, dataset)
    """
    per_step = training.generation_batch_size // training.num_generations
    if len(rows) < per_step:
        raise ConfigError(
            f"per_device_train_batch_size={training.per_device_train_batch_size}: a step samples {per_step} prompts "
            f"(generation_batch_size {training.generation_batch_size} / num_generations {training.num_generations}) "
            f"but there are only {len(rows)} training prompts; lower per_device_train_batch_size or give more data "
            "(train_size, dataset)")


def run(config: RunConfig) -> dict:
    """Train once with a resolved configuration; returns the summary (also written to summary.json)."""
    model_args, lead, data, training = config.model, config.lead, config.data, config.training

    # 0. exports and memory plan (--dry-run stops here; nothing has loaded)
    exports = export.plan(config.extra[0], model_args, training, model_args.backend)
    training.push_to_hub = False  # lead_lite uploads once, after training (lead_lite.export)
    if exports.push and exports.upload == "merged":
        model_args.save_merged_16bit = True
    code = plan_memory(config)
    if code is not None:
        raise SystemExit(code)

    # 1. task and data (before the run directory and the model: bad data fails fast, writes nothing)
    task = TASKS[config.task](MathVerifier(timeout_s=config.verifier.verifier_timeout_s),
                              answer_before_think_end=lead.answer_before_think_end)
    train_rows, eval_rows = task.rows(data, seed=training.seed)
    logger.info("data: %d training prompts, %d held-out (task %s)", len(train_rows), len(eval_rows), task.NAME)
    tokenizer = load_tokenizer(model_path(model_args))  # a copy of the model is built here if need be
    train_rows = fit_prompt_room(train_rows, tokenizer, config, "training")
    eval_rows = fit_prompt_room(eval_rows, tokenizer, config, "held-out")
    check_prompts_per_step(train_rows, training)

    # 2. seed and run directory (one run's: claimed, locked while it trains)
    from transformers import set_seed  # after resolve(): unsloth, when in use, is imported before transformers

    set_seed(training.seed)
    out = Path(training.output_dir)
    lock = run_files.claim_for_training(out, "train", training, model_args.overwrite_output_dir)
    training.report_to = [] if training.report_to in (None, "none", ["none"]) else training.report_to
    try:
        summary = _train(config, task, train_rows, eval_rows, out, exports)
    finally:
        task.close()
        if lock is not None:
            lock.release()
    logger.info("adapter, metrics.jsonl and summary.json written to %s", out)
    if training.should_save:
        logger.info("report: %s", (out / REPORT_FILE).resolve())
    return summary


def _train(config: RunConfig, task, train_rows: list[dict], eval_rows: list[dict], out: Path,
           exports: export.ExportPlan) -> dict:
    """Steps 3 to 5 of :func:`run`: the policy, the trainer, training, the before / after evaluation,
    then the exports and the run's report."""
    model_args, lead, data, training = config.model, config.lead, config.data, config.training

    # 3. model, tokenizer, backend
    model, tokenizer, peft_config, backend = load_policy(model_args, training)
    logger.info("method: %s; backend: %s", method_name(lead), backend)
    if training.should_save:  # one writer under a multi-process launch
        facts = {"backend_in_use": backend, "method_name": method_name(lead)}
        if data.dataset is not None:
            facts["dataset_source"] = source_of(data.dataset)
        save_resolved(out / "resolved_config.yaml", *config.groups(), extra=facts)
        if eval_rows:
            run_files.write_atomic(out / HELD_OUT_FILE, held_out_lines(eval_rows, data.prompt_format))

    # 4. trainer, evaluate, train, save, evaluate
    trainer = build_trainer(config, model, tokenizer, peft_config, task, train_rows)
    budget = data.eval_max_new_tokens or training.max_completion_length
    chat = training.chat_template_kwargs
    before = evaluate_greedy(trainer.model, tokenizer, task, eval_rows, budget, chat) if eval_rows else {}
    start = adapter_digest(trainer.model)  # the LoRA weights training starts from
    try:
        trainer.train(resume_from_checkpoint=checkpoints.resume_path(training.resume_from_checkpoint, out))
    except checkpoints.CheckpointWriteError:  # a full disk while saving: report the steps trained so far
        if training.should_save:
            report_so_far(out)
        raise
    trainer.save_model(str(out))
    after = evaluate_greedy(trainer.model, tokenizer, task, eval_rows, budget, chat) if eval_rows else {}
    if model_args.save_merged_16bit and training.should_save:
        save_merged(trainer.model, tokenizer, out / "merged-16bit", backend)
    summary = {"method": method_name(lead), "backend": backend, "steps": trainer.state.global_step,
               "before": before, "after": after, "init_adapter": model_args.init_adapter,
               "start_adapter_digest": start}
    if training.should_save:  # the main process saved the adapter; the others have no file to read
        summary["adapter_digest"] = adapter_digest(out)
        run_files.write_json(out / "summary.json", summary)
        # 5. the run's report, then the exports (GGUF, Hub upload: a failed upload leaves the report written)
        write_report([out], out / REPORT_FILE)
        export.finish(exports, trainer.model, tokenizer, out)
    if eval_rows:
        logger.info(
            "summary (%d held-out problems, greedy, %d tokens): accuracy %.1f%% -> %.1f%%, "
            "mean completion length %.1f -> %.1f tokens",
            len(eval_rows), budget, 100 * before["accuracy"], 100 * after["accuracy"],
            before["mean_length"], after["mean_length"],
        )
    return summary


def report_so_far(out: Path) -> None:
    """Write the report of a run that stopped early, from its metrics so far; a failure to write it
    (the disk that stopped the run is full) is a warning, the run's own error is the one reported."""
    try:
        write_report([out], out / REPORT_FILE)
    except (OSError, UserError) as exc:
        logger.warning("the report of the steps trained so far was not written: %s", exc)
        return
    logger.info("report of the steps trained so far: %s", (out / REPORT_FILE).resolve())


def run_curriculum(stages: list[RunConfig]) -> list[dict]:
    """Run resolved curriculum stages in order; returns (and writes to curriculum.json) one record per stage.

    A training config may list stages; ``python -m lead_lite.train --config FILE`` then runs them::

        model: tiny
        output_dir: runs/curriculum-tiny
        stages:
          - {method: sft, max_steps: 30}                    # stage-0: SFT on worked solutions
          - {max_completion_length: 48, max_steps: 20}      # stage-1: GRPO-LEAD
          - {dataset: filtered.jsonl, max_steps: 20}        # stage-2: GRPO-LEAD on a pass-rate band

    Each stage's keys are layered over the file's top-level keys, and command-line flags over both
    (``--max_steps 2`` reaches every stage). ``method`` is ``grpo`` (default; :func:`run`) or ``sft``
    (:func:`lead_lite.sft.run`, first stage only). Stage N writes to ``output_dir/stage-N``: GRPO
    stages count from 1 and a leading SFT stage is stage 0, as in the paper (SFT, then GRPO-LEAD
    stage 1, stage 2/3). The first stage starts from a fresh adapter or from ``init_adapter``;
    every later stage loads the previous stage's adapter onto the base model and trains it further
    (:func:`lead_lite.models.loading.attach_adapter`), so its LoRA rank and targets are those of the
    first stage. Every stage's configuration was resolved and checked before the first one trains
    (:func:`lead_lite.config.resolve`). With ``--dry-run``, each GRPO stage prints its memory plan.

    Writes ``output_dir/curriculum.json`` (rewritten after each stage): for each stage its method,
    directory, the adapter it started from, checksums of the LoRA weights it started from and
    saved (:func:`lead_lite.models.loading.adapter_digest`), its step count and its summary.
    """
    if stages[0].model.dry_run:  # the memory plan of every GRPO stage; nothing loads or trains
        codes = []
        for config in stages:
            if config.method == "sft":
                logger.info("curriculum %s (sft): no memory plan for SFT", config.stage)
                continue
            codes.append(plan_memory(config) or 0)
        raise SystemExit(max(codes, default=0))
    parent = Path(stages[0].training.output_dir).parent
    parent.mkdir(parents=True, exist_ok=True)
    records = []
    for config in stages:
        logger.info("curriculum %s (%s) -> %s", config.stage, config.method, config.training.output_dir)
        summary = (sft.run if config.method == "sft" else run)(config)
        init = summary["init_adapter"]
        records.append({
            "stage": config.stage, "method": config.method, "output_dir": config.training.output_dir,
            "init_adapter": init, "init_adapter_digest": adapter_digest(init) if init else None,
            "start_adapter_digest": summary["start_adapter_digest"], "adapter_digest": summary.get("adapter_digest"),
            "steps": summary["steps"], "summary": summary,
        })
        run_files.write_json(parent / "curriculum.json", records)
    logger.info("curriculum: %d stages done; records in %s", len(records), parent / "curriculum.json")
    return records


def run_inputs(config: RunConfig) -> dict[str, str | None]:
    """The paths a training run reads, by flag: its output_dir may not be, hold or sit inside them."""
    return {"--init_adapter": config.model.init_adapter, "--dataset": config.data.dataset,
            "--model": config.model.model_name_or_path}


def check_paths(configs: list[RunConfig]) -> None:
    """What would otherwise fail after the model loads: every output directory (never one of the
    run's inputs, :func:`run_inputs`), the checkpoint a single run resumes from and the adapter the
    first run starts from."""
    for config in configs:
        check_output_dir(config.training.output_dir)
        run_files.refuse_inputs_in_output(config.training.output_dir, run_inputs(config), inside_ok=("--model",))
    first = configs[0]
    if first.stage is None:
        check_resume(first.training.resume_from_checkpoint, first.training.output_dir)
    init = first.model.init_adapter
    if init is not None and not (Path(init) / "adapter_config.json").is_file():
        raise ConfigError(f"init_adapter={init!r}: not a LoRA adapter directory (no adapter_config.json)")


@entry_point
def main(argv: list[str]) -> dict | list[dict]:
    """Parse the command line; train once (returns the summary) or run a config's stages (their records).
    A user error ends with one line and exit code 2 (:mod:`lead_lite.user_errors`)."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    configs = resolve(argv, extra_dataclasses=(export.ExportArguments,), allow_stages=True, description=__doc__)
    exports = [export.plan(config.extra[0], config.model, config.training, config.model.backend)
               for config in configs]  # the export flags are checked before anything loads
    if configs[0].task == "countdown":
        raise ConfigError("task=countdown: trained by its recipe, python -m lead_lite.recipes.countdown")
    check_paths(configs)
    for config, planned in zip(configs, exports):  # the network last: every local check has passed
        if planned.push:
            export.check_hub(planned, Path(config.training.output_dir).resolve().name)
    if configs[0].stage is not None:
        return run_curriculum(configs)
    return run(configs[0])


if __name__ == "__main__":
    main(sys.argv[1:])
