"""Countdown: GRPO -> SFT -> GRPO on the policy's own correct traces (seed 002), in one command.

    python -m lead_lite.recipes.countdown --model qwen3-1.7b                # the three stages: 8-bit, 256 tokens
    python -m lead_lite.recipes.countdown --model qwen3-1.7b --stage sft    # one stage, from RUN_DIR/grpo1
    python -m lead_lite.recipes.countdown --model qwen3-1.7b --recipe qwen3-1.7b-512   # GRPO alone, 512 tokens
    python -m lead_lite.recipes.countdown --model tiny                      # the offline CPU demo, minutes
    python -m lead_lite.recipes.countdown --model tiny --run_dir /tmp/cd --max_steps 5  # flags reach every stage

Each stage reads ``configs/countdown/RECIPE/STAGE.yaml`` (RECIPE: ``--recipe``, default the
``--model`` name; or a directory of your own), layered as in :mod:`lead_lite.config`: defaults <
``configs/models/MODEL.yaml`` < the stage YAML < flags. ``--stage all`` (the default) runs the
stages the recipe directory has, in order:

1. ``grpo1``: GRPO from the base model (a fresh LoRA adapter).
2. ``sft``: rejection sampling with the grpo1 policy on training prompts (``samples_per_prompt``
   completions per prompt at ``sample_temperature``; keep the exactly correct ones, drop
   duplicates, at most ``max_traces_per_prompt`` per prompt), then SFT with TRL's ``SFTTrainer``
   on those traces (loss on the completion only), training grpo1's adapter further.
3. ``grpo2``: GRPO again, from the SFT adapter.

A stage's ``input_dir`` names the previous stage's output; ``output_dir`` and ``input_dir`` are
resolved against ``run_dir``, so ``--run_dir`` moves a whole run. Each stage can run alone once
its input exists. A flag reaches every stage, so ``--output_dir`` on the command line would send
all of them to one directory: it is refused unless one stage runs (``--stage``). Each stage claims
its directory as ``lead_lite.train`` claims its own (:func:`lead_lite.run_files.claim_for_training`),
after its data are read; one holding an earlier run is refused before the first stage starts unless
``--overwrite_output_dir true``, which removes that run's files first.

Rewards: three columns, ``accuracy`` (1/0), ``countdown_graded`` (the seed's 1.0 / 0.8-0.3 /
0.1 / 0.0, see :mod:`lead_lite.tasks.countdown`) and ``format`` (has an answer tag), combined by
the LEAD trainer as ``reward_weights[0] * LEAD reward(accuracy) + reward_weights[1] * graded +
reward_weights[2] * format``, then group-normalised:

- the seed's recipe, graded reward alone (the default): ``reward_weights [0, 1, 0]`` with
  ``length_reward``, ``explicit_penalty`` and ``difficulty_reweight`` off;
- graded + GRPO-LEAD: ``--reward_weights 1 1 0 --length_reward true --explicit_penalty true
  --difficulty_reweight true`` (L and E act on the accuracy column, so they need its weight > 0).

How it departs from the seed (which gives no code): LoRA adapters throughout (the seed does not
say; 8-bit base weights cannot be merged into exactly), one adapter carried through the three
stages, the loss is TRL's per-token ``dapo`` loss with clip range 0.25, no KL term.

Writes ``RUN_DIR/STAGE/`` (adapter, ``resolved_config.yaml``, ``metrics.jsonl``; the sft stage
also ``traces.jsonl``) and appends one record per stage to ``RUN_DIR/stage_metrics.jsonl``:
held-out accuracy, format rate, mean graded reward (``mean_score``) and mean completion length
(greedy, :func:`lead_lite.models.sampling.evaluate_greedy`), the input and output adapter
checksums (:func:`lead_lite.models.loading.adapter_digest`), and the step count.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from lead_lite import run_files
from lead_lite.config import CONFIG_DIR, ConfigError, LeadArguments, ModelArguments, RunConfig, check_output_dir, \
    method_name, resolve, save_resolved, split_flags
from lead_lite.models.loading import adapter_digest, attach_adapter, load_policy
from lead_lite.models.sampling import evaluate_greedy, sample_hf
from lead_lite.tasks import countdown
from lead_lite.training import build_sft_trainer, build_trainer, sft_config
from lead_lite.user_errors import entry_point
from lead_lite.verifier import Verdict

logger = logging.getLogger("lead_lite.recipes.countdown")

RECIPE_DIR = CONFIG_DIR / "countdown"
STAGES = ("grpo1", "sft", "grpo2")
ADAPTER_FILE = "adapter_model.safetensors"


@dataclass
class CountdownArguments:
    """The recipe's own settings; everything else is ModelArguments / LeadArguments / DataArguments / GRPOConfig."""

    stage: str = field(default="all", metadata={"help": "grpo1, sft, grpo2, or all (the recipe's stages in order)."})
    recipe: str | None = field(
        default=None,
        metadata={"help": "Stage configs: a name under configs/countdown/ or a directory with grpo1.yaml, "
                  "sft.yaml, grpo2.yaml; default: the --model name."},
    )
    run_dir: str = field(default="runs/countdown", metadata={"help": "Every stage writes under it."})
    input_dir: str | None = field(
        default=None,
        metadata={"help": "The previous stage's output (a LoRA adapter), relative to run_dir; none for grpo1."},
    )
    numbers_per_problem: list[int] = field(
        default_factory=lambda: [3, 4], metadata={"help": "Generated problems: how many numbers (3-4 public)."}
    )
    max_number: int = field(default=99, metadata={"help": "Generated problems: numbers lie in 1..max_number."})
    max_target: int = field(default=99, metadata={"help": "Generated problems: targets lie in 1..max_target."})
    problem_seed: int = field(
        default=0, metadata={"help": "Seed of the problems; equal across stages, so they share one held-out set."}
    )
    sample_prompts: int = field(default=256, metadata={"help": "sft: training prompts sampled for traces."})
    samples_per_prompt: int = field(default=8, metadata={"help": "sft: k, completions sampled per prompt."})
    sample_temperature: float = field(default=1.0, metadata={"help": "sft: sampling temperature of the traces."})
    max_traces_per_prompt: int = field(default=2, metadata={"help": "sft: most distinct correct traces per prompt."})


def method_label(lead: LeadArguments, names: list[str], weights: list[float]) -> str:
    """The paper's name for the LEAD switches and the rewards that enter the sum.

    Example:
        >>> method_label(LeadArguments(False, False, False), ["accuracy", "countdown_graded"], [0.0, 1.0])
        'GRPO on countdown_graded'
    """
    used = [name for name, w in zip(names, weights) if w]
    return f"{method_name(lead)} on {' + '.join(used) or 'nothing'}"


def validate(config: RunConfig) -> None:
    """Recipe-level checks, before anything loads; each message names the field."""
    lead, data, training, (cd,) = config.lead, config.data, config.training, config.extra
    if cd.stage not in STAGES:
        raise ConfigError(f"stage={cd.stage!r}: must be one of {', '.join(STAGES)}, all")
    if config.task != "countdown":
        raise ConfigError(f"task={data.task!r}: the stage config must set task: countdown")
    if config.model.backend != "trl":
        raise ConfigError(f"backend={config.model.backend!r}: the recipe carries one PEFT LoRA adapter through "
                          "its stages; use backend: trl")
    if (cd.input_dir is None) != (cd.stage == "grpo1"):
        raise ConfigError(f"input_dir={cd.input_dir!r}: grpo1 starts from the base model (no input_dir); "
                          "sft and grpo2 need the previous stage's output")
    for name in ("sample_prompts", "samples_per_prompt", "max_traces_per_prompt", "max_number", "max_target"):
        if getattr(cd, name) < 1:
            raise ConfigError(f"{name}={getattr(cd, name)!r}: must be >= 1")
    lo, hi = countdown.MIN_NUMBERS, countdown.MAX_NUMBERS
    if not isinstance(cd.numbers_per_problem, list) or not cd.numbers_per_problem or not all(
            isinstance(k, int) and lo <= k <= hi for k in cd.numbers_per_problem):
        raise ConfigError(f"numbers_per_problem={cd.numbers_per_problem!r}: a list of counts in [{lo}, {hi}] "
                          "(the checker's limits)")
    if cd.max_number > countdown.MAX_LITERAL:
        raise ConfigError(f"max_number={cd.max_number!r}: must be <= {countdown.MAX_LITERAL} (the checker's limit)")
    if not 0 < cd.sample_temperature <= 10:
        raise ConfigError(f"sample_temperature={cd.sample_temperature!r}: must be in (0, 10]")
    if cd.stage == "sft":
        return
    weights = dict(zip(data.reward_funcs, training.reward_weights))
    if not weights.get("accuracy") and (lead.length_reward or lead.explicit_penalty):
        raise ConfigError("length_reward / explicit_penalty act on the accuracy reward, whose weight "
                          "(reward_weights) is 0; turn them off or give it a weight")


def stage_plan(argv: list[str]) -> list[RunConfig]:
    """Every stage to run, from the recipe's flags, each configuration resolved and checked."""
    flags, rest = split_flags(argv, "--config", "--stage", "--recipe")
    if flags["config"] is not None:
        raise ConfigError("--config: the recipe reads configs/countdown/RECIPE/STAGE.yaml; "
                          "use --recipe DIR for stage files of your own")
    stage = flags["stage"] or "all"
    recipe = flags["recipe"] or split_flags(rest, "--model")[0]["model"] or ModelArguments.model
    directory = Path(recipe) if Path(recipe).is_dir() else RECIPE_DIR / recipe
    present = [s for s in STAGES if (directory / f"{s}.yaml").exists()]
    if not present:
        raise ConfigError(f"--recipe {recipe}: {directory} has none of {', '.join(s + '.yaml' for s in STAGES)}")
    if stage != "all" and stage not in STAGES:
        raise ConfigError(f"--stage {stage}: must be one of {', '.join(STAGES)}, all")
    if stage != "all" and stage not in present:
        raise ConfigError(f"--stage {stage}: {directory / (stage + '.yaml')} does not exist")
    names = present if stage == "all" else [stage]
    output_dir = split_flags(rest, "--output_dir")[0]["output_dir"]
    if output_dir is not None and len(names) > 1:
        raise ConfigError(f"--output_dir {output_dir}: a flag reaches every stage, so {', '.join(names)} would all "
                          "write to that one directory; use --run_dir to move the whole run, or --stage to run one "
                          "stage into it")
    configs = []
    for name in names:
        (config,) = resolve(rest, extra_dataclasses=(CountdownArguments,), config_file=str(directory / f"{name}.yaml"),
                             description=__doc__)
        cd = config.extra[0]
        cd.stage, cd.recipe = name, recipe
        validate(config)
        configs.append(config)
    return configs


def _under(run_dir: Path, path: str | None) -> Path | None:
    return None if path is None else run_dir / path  # an absolute path stays as it is


def task_of(cd: CountdownArguments) -> countdown.CountdownTask:
    return countdown.CountdownTask(cd.numbers_per_problem, cd.max_number, cd.max_target, cd.problem_seed)


def collect_traces(model, tokenizer, task: countdown.CountdownTask, rows: list[dict], cd: CountdownArguments,
                   max_new_tokens: int) -> list[dict]:
    """Rejection sampling: the policy's own exactly correct, distinct completions on ``rows``."""
    samples = sample_hf(model, tokenizer, [r["prompt"] for r in rows], max_new_tokens,
                        num_samples=cd.samples_per_prompt, temperature=cd.sample_temperature)
    traces = []
    for row, completions in zip(rows, samples):
        kept: list[str] = []
        for text in (c.text for c in completions):
            if text not in kept and task.judge(text, row).verdict is Verdict.CORRECT:
                kept.append(text)
            if len(kept) == cd.max_traces_per_prompt:
                break
        traces += [{"id": row["id"], "nums": row["nums"], "target": row["target"], "prompt": row["prompt"],
                    "completion": text} for text in kept]
    return traces


def run_stage(config: RunConfig) -> dict:
    """Run one stage; return (and append to ``RUN_DIR/stage_metrics.jsonl``) its record."""
    model_args, data, training, (cd,) = config.model, config.data, config.training, config.extra

    # 1. paths and seed; the input must exist before anything loads
    started = time.monotonic()
    run_dir = Path(cd.run_dir)
    out, inp = _under(run_dir, training.output_dir), _under(run_dir, cd.input_dir)
    if inp is not None and not (inp / ADAPTER_FILE).exists():
        raise ConfigError(f"input_dir={str(inp)!r}: no LoRA adapter ({ADAPTER_FILE}); run the previous stage "
                          "first or point --input_dir at its output")
    task = task_of(cd)
    train_rows, eval_rows = task.rows(data, seed=training.seed)  # before the model: bad data fails fast
    training.output_dir = str(out)
    training.report_to = [] if training.report_to in (None, "none", ["none"]) else training.report_to
    from transformers import set_seed  # after resolve(), as in lead_lite.train

    set_seed(training.seed)
    lock = run_files.claim_for_training(out, "sft" if cd.stage == "sft" else "train", training,
                                        model_args.overwrite_output_dir)  # as lead_lite.train claims its own
    try:
        return _train_stage(config, task, train_rows, eval_rows, run_dir, out, inp, started)
    finally:
        if lock is not None:
            lock.release()


def _train_stage(config: RunConfig, task: countdown.CountdownTask, train_rows: list[dict], eval_rows: list[dict],
                 run_dir: Path, out: Path, inp: Path | None, started: float) -> dict:
    """Steps 2 to 4 of :func:`run_stage`, in its claimed directory ``out``."""
    model_args, lead, data, training, (cd,) = config.model, config.lead, config.data, config.training, config.extra

    # 2. model (base with a fresh LoRA config, or base + the previous stage's adapter)
    model, tokenizer, peft_config, _ = load_policy(model_args, training)
    if inp is not None:
        model, peft_config = attach_adapter(model, inp), None
    budget = data.eval_max_new_tokens or training.max_completion_length
    record: dict = {"stage": cd.stage, "input_dir": str(inp) if inp else model_args.model_name_or_path,
                    "input_adapter_digest": adapter_digest(inp) if inp else None, "output_dir": str(out)}
    logger.info("stage %s: %d training problems, %d held-out; %s -> %s", cd.stage, len(train_rows),
                len(eval_rows), record["input_dir"], out)

    # 3. the trainer: SFT on the policy's own correct traces, or GRPO with the Countdown rewards
    if cd.stage == "sft":
        traces = collect_traces(model, tokenizer, task, train_rows[: cd.sample_prompts], cd,
                                training.max_completion_length)
        with run_files.atomic_writer(out / "traces.jsonl") as f:
            f.writelines(json.dumps(t) + "\n" for t in traces)
        sampled = min(cd.sample_prompts, len(train_rows))
        logger.info("sft: %d correct distinct traces from %d prompts x %d samples", len(traces), sampled,
                    cd.samples_per_prompt)
        if not traces:
            raise RuntimeError(f"sft: the policy from {inp} solved none of {sampled} prompts in "
                               f"{cd.samples_per_prompt} samples; train grpo1 longer or sample more")
        save_resolved(out / "resolved_config.yaml", model_args, data, sft_config(config), cd)
        trainer = build_sft_trainer(config, model, tokenizer, None, traces)
        record.update(method="SFT on own correct traces", traces=len(traces),
                      sampled=sampled * cd.samples_per_prompt)
    else:
        save_resolved(out / "resolved_config.yaml", *config.groups())
        trainer = build_trainer(config, model, tokenizer, peft_config, task, train_rows)
        record["method"] = method_label(lead, data.reward_funcs, training.reward_weights)
        if inp is None and eval_rows:  # the base model: step 0 of the seed's accuracy table
            record["before"] = evaluate_greedy(trainer.model, tokenizer, task, eval_rows, budget)

    # 4. train, save, evaluate, record
    trainer.train()
    trainer.save_model(str(out))
    after = evaluate_greedy(trainer.model, tokenizer, task, eval_rows, budget) if eval_rows else None
    record.update(step=trainer.state.global_step, output_adapter_digest=adapter_digest(out), after=after,
                  eval_max_new_tokens=budget, seconds=round(time.monotonic() - started, 1))
    run_dir.mkdir(parents=True, exist_ok=True)
    run_files.append_line(run_dir / "stage_metrics.jsonl", record)  # whole lines, as metrics.jsonl
    if after:
        logger.info("stage %s done in %.0f s: held-out accuracy %.1f%%, format %.1f%%, mean length %.1f tokens",
                    cd.stage, record["seconds"], 100 * after["accuracy"], 100 * after["format_rate"],
                    after["mean_length"])
    return record


def check_paths(configs: list[RunConfig]) -> None:
    """Every stage's output directory is writable and holds no earlier run (unless told to overwrite:
    each stage claims its directory as it starts, :func:`lead_lite.run_files.claim_for_training`), and
    the first stage's input exists (a later stage's input is written by the stage before it)."""
    for config in configs:
        cd = config.extra[0]
        out = _under(Path(cd.run_dir), config.training.output_dir)
        check_output_dir(str(out))
        run_files.refuse_earlier_run(out, "sft" if cd.stage == "sft" else "train",
                                     overwrite=config.model.overwrite_output_dir)
    cd = configs[0].extra[0]
    inp = _under(Path(cd.run_dir), cd.input_dir)
    if inp is not None and not (inp / ADAPTER_FILE).exists():
        raise ConfigError(f"--stage {cd.stage}: {inp} has no LoRA adapter ({ADAPTER_FILE}); run the stage before "
                          "it first (grpo1, then sft, then grpo2) or point --input_dir at its output")


@entry_point
def main(argv: list[str]) -> list[dict]:
    """Run the recipe's stages; a user error ends with one line and exit code 2."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    # 1. every stage's configuration, resolved and checked before anything loads
    configs = stage_plan(argv)
    check_paths(configs)

    # 2. the stages, in order; each reads the previous one's output from disk
    return [run_stage(config) for config in configs]


if __name__ == "__main__":
    main(sys.argv[1:])
