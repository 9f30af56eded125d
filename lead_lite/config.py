"""One source of truth for a run's configuration.

Precedence, lowest first: dataclass defaults < ``--model`` preset (``configs/models/NAME.yaml``)
< ``--config file.yaml`` < command-line flags. Unknown keys fail with the key's name and the
file it came from; invalid values fail here, before any model loads, naming the field.
The resolved configuration is written next to each run's output (``resolved_config.yaml``).
"""

from __future__ import annotations

import dataclasses
import json
import math
import sys
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from lead_lite import advantages as adv

REPO_ROOT = Path(__file__).resolve().parent.parent
PRESET_DIR = REPO_ROOT / "configs" / "models"
TASKS = ("arithmetic", "countdown")  # generated tasks; countdown has its own recipe
BAD_ROWS = ("skip", "error")  # what a malformed dataset row does (DataArguments.bad_rows)


class ConfigError(ValueError):
    """A configuration value, key or file is invalid; the message names it."""


@dataclass
class ModelArguments:
    """Which model to train and how to load it."""

    model: str = field(
        default="tiny",
        metadata={"help": "A preset name from configs/models/ (e.g. qwen3-1.7b, tiny), a hub id or a local path."},
    )
    model_name_or_path: str | None = field(
        default=None, metadata={"help": "Hub id or local path; set by the preset, else taken from --model."}
    )
    backend: str = field(
        default="auto",
        metadata={"help": "auto (unsloth when CUDA and unsloth are present in a single-process run, else trl), "
                  "unsloth (one GPU), or trl (also under accelerate launch / DeepSpeed)."},
    )
    load_in_4bit: bool = field(default=False, metadata={"help": "QLoRA: load the base weights in 4-bit."})
    load_in_8bit: bool = field(default=False, metadata={"help": "Load the base weights in 8-bit."})
    max_seq_length: int = field(default=2048, metadata={"help": "Prompt + completion tokens."})
    lora_r: int = field(default=16, metadata={"help": "LoRA rank."})
    lora_alpha: int = field(default=32, metadata={"help": "LoRA scaling alpha (not the LEAD alpha)."})
    lora_dropout: float = field(default=0.0, metadata={"help": "LoRA dropout."})
    lora_target_modules: list[str] = field(
        default_factory=lambda: ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"],
        metadata={"help": "Modules that get LoRA adapters."},
    )
    dry_run: bool = field(default=False, metadata={"help": "Print the GPU memory plan and exit; nothing loads."})
    gpu_memory: str | None = field(
        default=None,
        metadata={"help": "Card to plan for: GiB (e.g. 24) or one of t4, l4, rtx4090, a100-40gb, a100-80gb, h100; "
                  "default: the visible GPU."},
    )
    save_merged_16bit: bool = field(default=False, metadata={"help": "Also save a merged 16-bit model."})
    init_adapter: str | None = field(
        default=None,
        metadata={"help": "A LoRA adapter directory (e.g. from lead_lite.sft or an earlier stage) to start from "
                  "and train further; its own rank and targets apply. Default: a fresh adapter."},
    )


@dataclass
class LeadArguments:
    """GRPO-LEAD: one flag per component, each constant named after its paper symbol."""

    length_reward: bool = field(default=True, metadata={"help": "L: length-dependent accuracy reward (Eq. 2)."})
    explicit_penalty: bool = field(default=True, metadata={"help": "E: incorrect answers get `penalty` (Eq. 3)."})
    difficulty_reweight: bool = field(default=True, metadata={"help": "AD: difficulty-aware advantage weights."})
    alpha: float = field(default=adv.ALPHA, metadata={"help": "alpha in R = exp(-alpha z); official 0.05."})
    length_eps: float = field(default=adv.LENGTH_EPS, metadata={"help": "eps in z = (|o|-mu)/(sigma+eps)."})
    penalty: float = field(default=adv.PENALTY, metadata={"help": "Reward of an incorrect answer when E is on."})
    weight_A: float = field(default=adv.WEIGHT_A, metadata={"help": "A: lower bound of w(rho); official 0.4."})
    weight_B: float = field(default=adv.WEIGHT_B, metadata={"help": "B: upper bound of w(rho); official 1.5."})
    weight_k: float = field(default=adv.WEIGHT_K, metadata={"help": "k: steepness of w(rho); official 10."})
    weight_rho0: float = field(default=adv.WEIGHT_RHO0, metadata={"help": "rho0: midpoint of w(rho); official 0.75."})
    adv_eps: float = field(default=adv.ADV_EPS, metadata={"help": "eps in (R-mean)/(std+eps); official 1e-6."})
    format_failure_reward: float | None = field(
        default=None,
        metadata={"help": "Reward of a completion with no final answer. None: same as an incorrect one "
                  "(the paper); 0.0: the official code."},
    )
    length_skip_below: float | None = field(
        default=None,
        metadata={"help": "Official-code quirk: no length reward in groups whose 3 shortest completions "
                  "average <= this many tokens (official 4000). None: off (the paper)."},
    )
    drop_uninformative_groups: bool = field(
        default=False,
        metadata={"help": "Official-code quirk: zero the advantages of groups whose rewards are all <= 0 "
                  "or all == 1."},
    )
    verifier_timeout_s: float = field(default=2.0, metadata={"help": "Most seconds one answer check may take."})


@dataclass
class DataArguments:
    """Training and evaluation data."""

    task: str = field(
        default="arithmetic",
        metadata={"help": "Generated task: arithmetic (lead_lite.train) or countdown (lead_lite.recipes.countdown)."},
    )
    dataset: str | None = field(
        default=None,
        metadata={"help": "A name in lead_lite.data.DATASETS (deepscaler, grpo-lead-stage1, grpo-lead-stage2, "
                  "grpo-lead-sft, gsm8k, math), a local jsonl/json/parquet/csv file or a hub id "
                  "(countdown: `nums` and `target` columns); overrides the generated task's training data."},
    )
    problem_column: str | None = field(
        default=None,
        metadata={"help": "Column of the problem text (default: the dataset's, else problem/question/prompt)."},
    )
    answer_column: str | None = field(
        default=None,
        metadata={"help": "Column of the gold answer (default: the dataset's, else answer/final_answer/solution)."},
    )
    answer_format: str | None = field(
        default=None,
        metadata={"help": "How the gold answer is read from its column: plain, gsm8k (after ####), boxed (last "
                  "\\boxed{}), auto (boxed, else ####, else the text). Default: the dataset's, else auto."},
    )
    solution_column: str | None = field(
        default=None,
        metadata={"help": "SFT: column of the worked solution (default: the dataset's, else solution)."},
    )
    prompt_format: str = field(
        default="plain",
        metadata={"help": "Instruction and chat-template switches (lead_lite.prompts.PROMPT_FORMATS): plain, r1, "
                  "qwen3-think, qwen3-no-think. Model presets set theirs."},
    )
    bad_rows: str = field(
        default="skip",
        metadata={"help": "A --dataset row whose problem or answer is missing, empty or of the wrong type: "
                  "skip (report its index and reason, train on the rest) or error (stop before training)."},
    )
    train_size: int = field(default=512, metadata={"help": "Generated training problems."})
    eval_size: int = field(default=64, metadata={"help": "Held-out problems for the final summary (0: none)."})
    eval_max_new_tokens: int | None = field(
        default=None, metadata={"help": "Token budget of the final summary's generations (default: max_completion_length)."}
    )


def method_name(lead: LeadArguments) -> str:
    """The paper's name for a combination of the three flags (e.g. GRPO-LEAD, GRPO+LAD)."""
    parts = ("L" if lead.length_reward else "") + ("E" if lead.explicit_penalty else "") + (
        "AD" if lead.difficulty_reweight else ""
    )
    return {"": "GRPO", "LEAD": "GRPO-LEAD"}.get(parts, f"GRPO+{parts}")


def validate(model_args: ModelArguments, lead: LeadArguments, data: DataArguments, training) -> None:
    """Reject invalid values before anything loads; each message names the field."""

    def bad(name: str, value, why: str):
        raise ConfigError(f"{name}={value!r}: {why}")

    for name in ("alpha", "length_eps", "adv_eps", "weight_k", "verifier_timeout_s"):
        value = getattr(lead, name)
        if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
            bad(name, value, "must be a finite number > 0")
    if not 0 <= lead.weight_A <= lead.weight_B:
        bad("weight_A", lead.weight_A, f"must satisfy 0 <= weight_A <= weight_B (weight_B={lead.weight_B})")
    if not 0 <= lead.weight_rho0 <= 1:
        bad("weight_rho0", lead.weight_rho0, "must be in [0, 1]")
    if not lead.penalty <= 0:
        bad("penalty", lead.penalty, "must be <= 0 (a wrong answer may not earn more than nothing)")
    if model_args.backend not in ("auto", "unsloth", "trl"):
        bad("backend", model_args.backend, "must be one of auto, unsloth, trl")
    if model_args.load_in_4bit and model_args.load_in_8bit:
        bad("load_in_4bit", True, "cannot be combined with load_in_8bit")
    if model_args.gpu_memory is not None:
        from lead_lite.memory_plan import CARDS

        try:
            ok = model_args.gpu_memory in CARDS or float(model_args.gpu_memory) > 0
        except ValueError:
            ok = False
        if not ok:
            bad("gpu_memory", model_args.gpu_memory, f"use a GiB figure or one of {sorted(CARDS)}")
    if model_args.lora_r <= 0:
        bad("lora_r", model_args.lora_r, "must be > 0")
    if data.task not in TASKS:
        bad("task", data.task, f"must be one of: {', '.join(TASKS)}")
    if data.bad_rows not in BAD_ROWS:
        bad("bad_rows", data.bad_rows, f"must be one of: {', '.join(BAD_ROWS)}")
    from lead_lite.data import ANSWER_FORMATS
    from lead_lite.prompts import PROMPT_FORMATS

    if data.prompt_format not in PROMPT_FORMATS:
        bad("prompt_format", data.prompt_format, f"must be one of: {', '.join(PROMPT_FORMATS)}")
    if data.answer_format is not None and data.answer_format not in ANSWER_FORMATS:
        bad("answer_format", data.answer_format, f"must be one of: {', '.join(ANSWER_FORMATS)}")
    refuse_known_bad_combinations(model_args, training)
    if model_args.init_adapter is not None:
        from lead_lite.models import resolve_backend

        if resolve_backend(model_args.backend) == "unsloth":
            bad("init_adapter", model_args.init_adapter, "is loaded with PEFT; use backend: trl (the unsloth "
                "backend attaches fresh adapters only)")
    if data.train_size <= 0:
        bad("train_size", data.train_size, "must be > 0")
    if data.eval_size < 0:
        bad("eval_size", data.eval_size, "must be >= 0")
    if training.num_generations is None or training.num_generations < 2:
        bad("num_generations", training.num_generations, "GRPO needs a group of at least 2 completions")
    if training.generation_batch_size % training.num_generations:
        bad(
            "per_device_train_batch_size",
            training.per_device_train_batch_size,
            f"the generation batch ({training.generation_batch_size} completions) must hold whole groups of "
            f"num_generations={training.num_generations}",
        )
    if training.scale_rewards != "group":
        bad("scale_rewards", training.scale_rewards, "GRPO-LEAD normalises per group; use 'group'")
    if training.multi_objective_aggregation != "sum_then_normalize":
        bad("multi_objective_aggregation", training.multi_objective_aggregation, "must be 'sum_then_normalize'")


def refuse_known_bad_combinations(model_args: ModelArguments, training) -> None:
    """Stop, before anything loads, on a combination known to fail later; the message names the way out.

    - the trl backend, a 4-bit base and vLLM in colocate mode: TRL's weight sync into vLLM
      crashes on a bitsandbytes 4-bit policy (trl issues #4973, #3654);
    - the unsloth backend with vLLM (Unsloth's ``fast_inference``) without CUDA (a dry run,
      which only plans for a GPU, is let through).

    Example:
        >>> from types import SimpleNamespace
        >>> training = SimpleNamespace(use_vllm=True, vllm_mode="colocate")
        >>> try:
        ...     refuse_known_bad_combinations(ModelArguments(backend="trl", load_in_4bit=True), training)
        ... except ConfigError as exc:
        ...     print(str(exc).split("; ")[-1])
        use backend: unsloth, or load_in_4bit: false, or use_vllm: false, or vllm_mode: server
    """
    import torch

    from lead_lite.models import resolve_backend

    backend = resolve_backend(model_args.backend)
    # auto resolves to trl on any CPU machine, where 4-bit loading is refused on its own
    trl_on_gpu = model_args.backend == "trl" or (backend == "trl" and torch.cuda.is_available())
    if trl_on_gpu and model_args.load_in_4bit and training.use_vllm and training.vllm_mode == "colocate":
        raise ConfigError(
            f"backend={model_args.backend!r}: with load_in_4bit and use_vllm in vllm_mode colocate, TRL's weight "
            "sync into vLLM crashes (trl #4973, #3654); use backend: unsloth, or load_in_4bit: false, or "
            "use_vllm: false, or vllm_mode: server")
    if (backend == "unsloth" and training.use_vllm and not model_args.dry_run
            and not torch.cuda.is_available()):
        raise ConfigError(
            "use_vllm=True: the unsloth backend generates with vLLM through fast_inference, which needs a CUDA "
            "GPU; on this machine set use_vllm: false (Unsloth then generates with HF generate)")


def preset_path(name: str) -> Path | None:
    path = PRESET_DIR / f"{name}.yaml"
    return path if path.exists() else None


def _load_yaml(path: Path) -> dict:
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"{path}: cannot read YAML ({exc})") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: must be a YAML mapping of field: value")
    return data


def _pop_flag(argv: list[str], flag: str) -> str | None:
    """Remove ``--flag VALUE`` or ``--flag=VALUE`` from argv; return VALUE."""
    for i, arg in enumerate(argv):
        if arg == flag:
            if i + 1 >= len(argv):
                raise ConfigError(f"{flag} needs a value")
            value = argv[i + 1]
            del argv[i : i + 2]
            return value
        if arg.startswith(flag + "="):
            del argv[i]
            return arg.split("=", 1)[1]
    return None


STAGE_METHODS = ("grpo", "sft")
STAGE_FIXED = ("output_dir", "model", "model_name_or_path")  # one base model; stage dirs are output_dir/stage-N


def read_stages(argv: list[str]) -> list[dict] | None:
    """The ``stages:`` list of the ``--config`` file (None when it has none), each entry checked.

    A stage is a mapping of config keys layered over the file's top level (flags still win),
    plus ``method``: ``grpo`` (default) or ``sft``. A stage may not set ``output_dir``, ``model``
    or ``model_name_or_path`` (stages share one base model and write to ``output_dir/stage-N``);
    only the first may set ``init_adapter`` (the others start from the previous stage's adapter).
    Other keys are checked when each stage is parsed (:func:`parse_config` with ``stage``).
    """
    config_file = _pop_flag(list(argv), "--config")
    if config_file is None:
        return None
    stages = _load_yaml(Path(config_file)).get("stages")
    if stages is None:
        return None
    if not isinstance(stages, list) or not stages:
        raise ConfigError(f"{config_file}: stages must be a non-empty list of mappings")
    for i, stage in enumerate(stages):
        where = f"{config_file}: stages[{i}]"
        if not isinstance(stage, dict):
            raise ConfigError(f"{where}: must be a mapping of field: value")
        if stage.get("method", "grpo") not in STAGE_METHODS:
            raise ConfigError(f"{where}: method {stage['method']!r} must be one of {', '.join(STAGE_METHODS)}")
        fixed = sorted(set(stage) & {*STAGE_FIXED, "stages", *(("init_adapter",) if i else ())})
        if fixed:
            raise ConfigError(f"{where}: cannot set {', '.join(fixed)} (stages share one base model, write to "
                              "output_dir/stage-N and start from the previous stage's adapter)")
        if stage.get("method") == "sft" and i:
            raise ConfigError(f"{where}: an sft stage can only come first (stage 0)")
    return stages


def parse_config(argv: list[str] | None = None, extra_dataclasses: tuple = (),
                 stage: tuple[str, dict] | None = None):
    """Parse defaults < preset < YAML < stage < flags into (model, lead, data, training[, extras...]).

    ``training`` is TRL's ``GRPOConfig``. ``stage`` is (a name for messages, one entry of the
    YAML's ``stages:`` list without its ``method``), layered over the file's top-level keys; a
    file with ``stages:`` is only read with one. The prompt format's chat-template switches are
    merged into ``training.chat_template_kwargs``. Raises :class:`ConfigError` naming the bad
    key or field.
    """
    from trl import GRPOConfig, TrlParser

    from lead_lite.prompts import merged_chat_template_kwargs

    argv = list(sys.argv[1:] if argv is None else argv)
    dataclass_types = (ModelArguments, LeadArguments, DataArguments, GRPOConfig, *extra_dataclasses)
    parser = TrlParser(dataclass_types)
    known = {a.dest for a in parser._actions}

    config_file = _pop_flag(argv, "--config")
    layers: list[tuple[str, dict]] = []
    model = None
    probe = list(argv)
    model = _pop_flag(probe, "--model")
    if config_file is not None:
        user = _load_yaml(Path(config_file))
        if "stages" in user and stage is None:
            raise ConfigError(f"{config_file}: lists stages; run them with python -m lead_lite.train --config "
                              f"{config_file}")
        user = {k: v for k, v in user.items() if k != "stages"}
        model = model or user.get("model")
    model = model or ModelArguments.model
    preset = preset_path(model)
    if preset is not None:
        layers.append((str(preset), _load_yaml(preset)))
    if config_file is not None:
        layers.append((config_file, user))
    if stage is not None:
        layers.append((f"{config_file}: {stage[0]}", stage[1]))

    import torch

    # Without CUDA, train in fp32 on the CPU unless a preset or file says otherwise.
    merged: dict = {"model": model} if torch.cuda.is_available() else {"model": model, "bf16": False, "use_cpu": True}
    for source, values in layers:
        for key, value in values.items():
            if key not in known:
                raise ConfigError(f"{source}: unknown key {key!r}")
            merged[key] = value
    parser.set_defaults_with_config(**merged)
    try:
        parsed = parser.parse_args_into_dataclasses(args=argv, return_remaining_strings=True)
    except ValueError as exc:
        raise ConfigError(str(exc)) from exc
    *objs, remaining = parsed
    if remaining:
        raise ConfigError(f"unknown argument(s): {' '.join(remaining)}")
    model_args, lead, data, training = objs[:4]
    if model_args.model_name_or_path is None:
        model_args.model_name_or_path = model_args.model
    validate(model_args, lead, data, training)
    try:
        training.chat_template_kwargs = merged_chat_template_kwargs(data.prompt_format, training.chat_template_kwargs)
    except ValueError as exc:
        raise ConfigError(f"prompt_format={data.prompt_format!r}: {exc}") from exc
    return tuple(objs)


def save_resolved(path: Path, *configs) -> None:
    """Write every dataclass's fields to one YAML file (the run's resolved config)."""
    out: dict = {}
    for cfg in configs:
        for f in dataclasses.fields(cfg):
            # str-valued enums become their value; anything else without a YAML form, its str()
            out[f.name] = json.loads(json.dumps(getattr(cfg, f.name), default=str))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(out, sort_keys=True))


def parse_with_preset(dataclass_type, argv: list[str], **parser_kwargs):
    """Parse a command's own dataclass, then read the model preset its ``model`` field names.

    For commands that load a model without training it (evaluation, difficulty estimation).

    Returns:
        (args, model_args, preset values): the preset's model-loading keys fill ``model_args``;
        its other values are returned for the command to use as defaults.
    """
    from transformers import HfArgumentParser

    parser = HfArgumentParser(dataclass_type, **parser_kwargs)
    try:
        args, remaining = parser.parse_args_into_dataclasses(args=argv, return_remaining_strings=True)
    except ValueError as exc:
        raise ConfigError(str(exc)) from exc
    if remaining:
        raise ConfigError(f"unknown argument(s): {' '.join(remaining)}")
    preset = preset_path(args.model)
    values = _load_yaml(preset) if preset is not None else {}
    model_keys = {f.name for f in dataclasses.fields(ModelArguments)}
    model_args = ModelArguments(model=args.model, **{k: v for k, v in values.items() if k in model_keys and k != "model"})
    model_args.model_name_or_path = model_args.model_name_or_path or args.model
    return args, model_args, values
