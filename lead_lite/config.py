"""One source of truth for a run's configuration, resolved once by the entry point.

Precedence, lowest first: dataclass defaults < ``--model`` preset (``configs/models/NAME.yaml``)
< ``--config file.yaml`` (< a curriculum stage's keys) < command-line flags. Unknown keys fail
with the key's name and the file it came from; invalid values fail here, before any model loads,
naming the field. :func:`resolve` returns a :class:`RunConfig` of resolved objects (the backend
``auto`` resolved too, so whether Unsloth is imported follows the YAML as well as the flags);
entry points pass it down and nothing below them reads ``sys.argv`` or YAML again. The resolved
configuration is written next to each run's output (``resolved_config.yaml``).

Commands that sample from a model without training it (evaluation, difficulty estimation) share
:class:`SamplingArguments` (one validation, one default token limit, one chat-template rule,
:func:`resolve_sampling`); every command that judges answers shares :class:`VerifierArguments`.
"""

from __future__ import annotations

import argparse
import dataclasses
import difflib
import importlib.util
import json
import logging
import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import torch
import yaml

from lead_lite import advantages as adv
from lead_lite import checkpoints
from lead_lite.gold_answers import ANSWER_FORMATS
from lead_lite.memory_plan import CARDS
from lead_lite.official import OFFICIAL_CODE, REPETITION
from lead_lite.prompts import DEFAULT_FORMAT, PROMPT_FORMATS, merged_chat_template_kwargs
from lead_lite.rewards import ACCURACY
from lead_lite.tasks.arithmetic import KINDS, SPLIT_SIZES
from lead_lite.tasks.registry import TASKS
from lead_lite.run_files import write_atomic
from lead_lite.user_errors import UserError
from lead_lite.verifier import MIN_TIMEOUT_S

logger = logging.getLogger(__name__)

REPO_ROOT = Path(__file__).resolve().parent.parent
_BUNDLED_CONFIGS = Path(__file__).resolve().parent / "configs"  # where an installed wheel carries configs/
CONFIG_DIR = _BUNDLED_CONFIGS if _BUNDLED_CONFIGS.is_dir() else REPO_ROOT / "configs"  # else a checkout's
PRESET_DIR = CONFIG_DIR / "models"
BAD_ROWS = ("skip", "error")  # what a malformed dataset row does (DataArguments.bad_rows)
BACKENDS = ("auto", "unsloth", "trl")
ENGINES = ("auto", "hf", "vllm")  # generation engines of evaluation and difficulty estimation
# a vLLM engine's share of the GPU memory (TRL's own default); it also works on vLLM's CPU build,
# where 0.92 (vLLM's default) fails and 0.3 of a 24 GiB machine holds the tiny model's cache
VLLM_GPU_MEMORY_UTILIZATION = 0.3
DEFAULT_MAX_NEW_TOKENS = 4096  # sampling commands: when neither the flag nor the preset's max_completion_length is set
SCALE_REWARDS = ("group", "none")  # TRL scale_rewards LEAD honours: per-group std, or none (Dr. GRPO)
# TRL loss types whose normaliser counts only unmasked tokens, so removed groups leave it
GROUP_REMOVAL_LOSS_TYPES = ("bnpo", "dapo", "cispo")
MAX_SIZE = 1_000_000  # generated training problems; a million is far past any run on one GPU
MAX_TOKENS = 1 << 20  # any token length (sequence, completion, budget)
PROMPT_CHARS_PER_TOKEN = 4  # default max_prompt_length: the memory plan's prompt room in characters
MIN_PROMPT_TOKENS = 256  # ... and at least this many tokens' worth
MAX_SAMPLES = 4096  # samples per problem, sequences per generate call
ALPHA_MAX = 5.0
PENALTY_MIN = -100.0


class ConfigError(UserError):
    """A configuration value, key or file is invalid; the message names it."""

    WHAT = "invalid configuration"


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
    overwrite_output_dir: bool = field(
        default=False,
        metadata={"help": "Write into an output_dir that holds an earlier run's files (refused otherwise, unless "
                  "the run resumes with resume_from_checkpoint)."},
    )
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
        metadata={"help": "Official-code quirk (ray_trainer.py, rejection_sample): remove groups whose rewards are "
                  "all <= 0 or all == 1 from the loss; their tokens leave the loss normaliser too "
                  f"(loss_type one of {', '.join(GROUP_REMOVAL_LOSS_TYPES)})."},
    )
    dynamic_sampling: bool = field(
        default=False,
        metadata={"help": "DAPO's dynamic sampling (verl algorithm.filter_groups; not in the paper or the official "
                  "code): generate further prompts, one generation batch at a time, until the step holds "
                  "dynamic_sampling_groups groups whose LEAD rewards are not all equal, or "
                  "dynamic_sampling_max_rounds rounds have run. The batch keeps its size."},
    )
    dynamic_sampling_groups: int | None = field(
        default=None,
        metadata={"help": "Informative groups a step waits for (at most the generation batch's groups). "
                  "Default: every group of the generation batch."},
    )
    dynamic_sampling_max_rounds: int = field(
        default=4,
        metadata={"help": "Generation rounds per step at most, the first included; then the step trains on the "
                  "informative groups it has, filled up with others (zero advantage)."},
    )
    repetition_reward: float | None = field(
        default=None,
        metadata={"help": "Official-code quirk: reward of a completion with no final answer that repeats itself "
                  "(an n-gram 10+ times in a row or a 120+ character word; official -2). None: off."},
    )
    answer_before_think_end: bool = field(
        default=False,
        metadata={"help": "Official-code quirk: the answer is the last \\boxed{} before the first </think>; a "
                  "completion without </think> has no answer."},
    )
    official_code: bool = field(
        default=False,
        metadata={"help": "Every official-code behaviour at once: fields still at their defaults take the official "
                  "values (lead_lite.official.OFFICIAL_CODE); fields you set keep yours."},
    )

    def __post_init__(self):
        if self.official_code:
            for name, value in OFFICIAL_CODE.items():
                if getattr(self, name) == _LEAD_DEFAULTS[name]:
                    setattr(self, name, value)


@dataclass
class VerifierArguments:
    """How answers are judged: shared by training, data cleaning, evaluation and difficulty estimation."""

    verifier_timeout_s: float = field(default=2.0, metadata={"help": "Most seconds one answer check may take."})


_LEAD_DEFAULTS = {f.name: f.default for f in dataclasses.fields(LeadArguments)}


@dataclass
class DataArguments:
    """Training and evaluation data."""

    task: str | None = field(
        default=None,
        metadata={"help": "lead_lite.tasks.registry.TASKS: arithmetic or addition (generated), math (the rows of `dataset`) or "
                  "countdown (lead_lite.recipes.countdown). Default: math with a dataset, else arithmetic."},
    )
    reward_funcs: list[str] | None = field(
        default=None,
        metadata={"help": "Reward functions by name from the task's registry (math: accuracy, format; countdown: "
                  "accuracy, countdown_graded, format). Default: all of the task's. LEAD needs accuracy."},
    )
    dataset: str | None = field(
        default=None,
        metadata={"help": "A name in lead_lite.tasks.math.DATASETS (deepscaler, grpo-lead-stage1, grpo-lead-stage2, "
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
        default=DEFAULT_FORMAT,
        metadata={"help": "Instruction and chat-template switches (lead_lite.prompts.PROMPT_FORMATS): plain, boxed, r1, "
                  "qwen3-think, qwen3-no-think. Model presets set theirs."},
    )
    bad_rows: str = field(
        default="skip",
        metadata={"help": "A --dataset row whose problem or answer is missing, empty or of the wrong type: "
                  "skip (report its index and reason, train on the rest) or error (stop before training)."},
    )
    max_prompt_length: int | None = field(
        default=None,
        metadata={"help": "Longest prompt (problem + instruction) in characters: a longer --dataset row is "
                  "malformed (see bad_rows). Default: 4 x (max_seq_length - max_completion_length), the "
                  "prompt room of the memory plan at about 4 characters per token, at least 1024 (tiny: 1024, "
                  "24 GB presets: 2048)."},
    )
    train_size: int = field(default=512, metadata={"help": f"Generated training problems (at most {MAX_SIZE:,}; "
                                                           f"arithmetic: {SPLIT_SIZES['train']:,})."})
    eval_size: int = field(default=64, metadata={"help": "Held-out problems for the final summary (0: none; "
                                                         f"arithmetic: at most {SPLIT_SIZES['test']})."})
    eval_max_new_tokens: int | None = field(
        default=None, metadata={"help": "Token budget of the final summary's generations (default: max_completion_length)."}
    )


def method_name(lead: LeadArguments) -> str:
    """The paper's name for a combination of the three flags (e.g. GRPO-LEAD, GRPO+LAD)."""
    parts = ("L" if lead.length_reward else "") + ("E" if lead.explicit_penalty else "") + (
        "AD" if lead.difficulty_reweight else ""
    )
    return {"": "GRPO", "LEAD": "GRPO-LEAD"}.get(parts, f"GRPO+{parts}")


def multi_process() -> bool:
    """Whether this process is one of several launched together (accelerate launch, torchrun, deepspeed)."""
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def resolve_backend(requested: str) -> str:
    """``auto`` -> ``unsloth`` when CUDA and unsloth are available in a single-process run, else ``trl``."""
    if requested != "auto":
        return requested
    if multi_process():
        return "trl"  # Unsloth's backend is single-GPU; accelerate / DeepSpeed launches use TRL's
    if torch.cuda.is_available() and importlib.util.find_spec("unsloth") is not None:
        return "unsloth"
    return "trl"


# -- settings that follow the machine ----------------------------------------------------------------
# A file's setting (a preset, a recipe stage, a --config file) is a default: where this machine cannot
# honour it, it is replaced and one line says so. The same setting on the command line is the user's
# request: where the machine cannot honour it, the run is refused in one line before anything loads.
def native_bf16() -> bool:
    """Whether the visible CUDA GPU computes in bfloat16 natively: compute capability 8.0 or newer
    (A100, A10 / L4, RTX 30xx / 40xx, H100). T4 (7.5), V100 (7.0) and P100 (6.0) only emulate it,
    slowly, and Unsloth loads models for them in float16. (``torch.cuda.is_bf16_supported()``
    counts emulation, so it says True on a T4.)"""
    return torch.cuda.is_available() and torch.cuda.get_device_capability()[0] >= 8


def vllm_usable(backend: str, dry_run: bool = False) -> bool:
    """Whether vLLM can generate for a run on this machine: it is installed (a CUDA build, or
    vLLM's CPU build for TRL's colocate mode) and, for the unsloth backend, whose
    ``fast_inference`` needs it, there is a CUDA GPU. A dry run on a machine without CUDA plans for
    a GPU install (``requirements-gpu.txt`` has vLLM), so there vLLM counts as usable."""
    if dry_run and not torch.cuda.is_available():
        return True
    if importlib.util.find_spec("vllm") is None:
        return False
    return resolve_backend(backend) != "unsloth" or torch.cuda.is_available()


def command_line_keys(argv: list[str]) -> set[str]:
    """The fields set on the command line: ``--name value``, ``--name=value`` or a bare ``--name``
    (dashes read as underscores, as the parser's aliases are).

    Example:
        >>> sorted(command_line_keys(["--use-vllm", "--bf16=false", "--penalty", "-1"]))
        ['bf16', 'penalty', 'use_vllm']
    """
    return {a[2:].split("=", 1)[0].replace("-", "_") for a in argv if a.startswith("--")}


def settle_precision(merged: dict, origin: dict, given: set[str]) -> None:
    """On a GPU without native bfloat16, train in fp16 mixed precision instead of bf16 (TRL's
    default, or a file's ``bf16: true``), saying so in one line; ``merged`` (the layered defaults,
    ``origin`` naming the file of each) is changed in place. Nothing changes on a CPU, on a GPU with
    bf16, when a file asks for fp32 (``bf16: false``) or fp16, or when ``--bf16`` / ``--fp16`` are on
    the command line (an explicit ``--bf16 true`` there is refused: :func:`refuse_known_bad_combinations`)."""
    if not torch.cuda.is_available() or native_bf16() or given & {"bf16", "fp16"}:
        return
    if merged.get("bf16") is False or merged.get("fp16"):
        return
    major, minor = torch.cuda.get_device_capability()
    where = f"bf16: true in {origin['bf16']}" if merged.get("bf16") else "bf16 (TRL's default)"
    logger.info("%s: %s (compute capability %d.%d) has no native bfloat16; training in fp16 mixed precision "
                "instead (--fp16 / --bf16 on the command line choose yourself)", where,
                torch.cuda.get_device_name(), major, minor)
    merged.update(bf16=False, fp16=True)


def settle_generation(model_args: ModelArguments, training, origin: dict, given: set[str]) -> None:
    """vLLM when it can generate here, else HF generate, for a file's ``use_vllm: true``; one line
    says which. ``training.use_vllm`` is changed in place. An explicit ``--use_vllm true`` is left
    as it is (refused where vLLM cannot run: :func:`refuse_known_bad_combinations`)."""
    if not training.use_vllm or "use_vllm" in given:
        return
    if vllm_usable(model_args.backend, model_args.dry_run):
        logger.info("generation: vLLM (use_vllm: true in %s, vllm_mode %s)", origin["use_vllm"], training.vllm_mode)
        return
    why = ("Unsloth's fast_inference needs vLLM and a CUDA GPU" if resolve_backend(model_args.backend) == "unsloth"
           else "vLLM is not installed")
    logger.info("generation: HF generate, not vLLM (use_vllm: true in %s, but %s)", origin["use_vllm"], why)
    training.use_vllm = False


def resolve_task(data: DataArguments) -> str:
    """The task a run trains on: ``task`` when set, else ``math`` with a dataset, else ``arithmetic``."""
    return data.task or ("math" if data.dataset is not None else "arithmetic")


def reward_names(data: DataArguments, lead: LeadArguments) -> list[str]:
    """The reward functions by name: ``reward_funcs`` when set, else the task's defaults, with
    ``repetition`` when the official repetition score is on (``repetition_reward``)."""
    if data.reward_funcs is not None:
        return list(data.reward_funcs)
    repetition = [REPETITION] if lead.repetition_reward is not None else []
    return [*TASKS[resolve_task(data)].DEFAULT_REWARDS, *repetition]


def _bad(name: str, value, why: str):
    raise ConfigError(f"{name}={value!r}: {why}")


@dataclass(frozen=True)
class Range:
    """Where a numeric field's value may lie: finite, between ``lo`` and ``hi`` (each end closed
    unless ``open_lo`` / ``open_hi``), a whole number when ``integer``; ``why`` is said on failure."""

    lo: float
    hi: float = math.inf
    open_lo: bool = False
    open_hi: bool = False
    integer: bool = False
    why: str = ""

    def holds(self, value) -> bool:
        if isinstance(value, bool) or not isinstance(value, int if self.integer else (int, float)):
            return False
        return math.isfinite(value) and (self.lo < value if self.open_lo else self.lo <= value) and (
            value < self.hi if self.open_hi else value <= self.hi)

    def __str__(self) -> str:
        kind = "a whole number" if self.integer else "a finite number"
        lo, hi = _number(self.lo), _number(self.hi)
        if self.hi == math.inf:
            where = f"{'>' if self.open_lo else '>='} {lo}"
        else:
            where = f"in {'(' if self.open_lo else '['}{lo}, {hi}{')' if self.open_hi else ']'}"
        return f"must be {kind} {where}" + (f" ({self.why})" if self.why else "")


def _number(x: float) -> str:
    """``1000000.0`` -> ``1000000``; ``0.05`` -> ``0.05``."""
    return f"{int(x)}" if math.isfinite(x) and float(x).is_integer() else f"{x:g}"


def _positive(hi: float = math.inf, why: str = "") -> Range:
    return Range(0, hi, open_lo=True, why=why)


def _count(lo: int = 1, hi: float = math.inf, why: str = "") -> Range:
    return Range(lo, hi, integer=True, why=why)


# Every numeric setting of lead_lite's groups and the GRPOConfig fields a run uses; None (unset) is allowed.
RANGES: dict[str, Range] = {
    # LEAD (LeadArguments)
    "alpha": _positive(ALPHA_MAX, "R = exp(-alpha z) with z up to sqrt(G-1) standard deviations: beyond this the "
                       "rewards of correct completions leave float range and their gradients vanish; official 0.05"),
    "length_eps": _positive(), "adv_eps": _positive(1.0), "weight_k": _positive(1000.0),
    "weight_A": Range(0, 100), "weight_B": Range(0, 100), "weight_rho0": Range(0, 1),
    "penalty": Range(PENALTY_MIN, 0, why="a wrong answer earns at most nothing; below -100 it swamps every length "
                     "difference in the group statistics"),
    "format_failure_reward": Range(PENALTY_MIN, 1, why="never above a correct answer's reward"),
    "length_skip_below": Range(0),
    "dynamic_sampling_groups": _count(1, MAX_SAMPLES), "dynamic_sampling_max_rounds": _count(1, 100),
    # model and data
    "max_seq_length": _count(1, MAX_TOKENS), "lora_r": _count(1, 4096), "lora_alpha": _positive(),
    "lora_dropout": Range(0, 1, open_hi=True, why="a probability"),
    "train_size": _count(1, MAX_SIZE), "eval_size": _count(0, MAX_SIZE), "eval_max_new_tokens": _count(1, MAX_TOKENS),
    "max_prompt_length": _count(1, MAX_TOKENS * PROMPT_CHARS_PER_TOKEN),
    "verifier_timeout_s": Range(MIN_TIMEOUT_S, 3600.0, why="below it sympy and the worker's reply have no time "
                                "to judge an answer on a loaded machine"),
    # optimisation and generation (TRL's GRPOConfig)
    "learning_rate": _positive(1.0), "num_train_epochs": _positive(), "warmup_steps": Range(0),
    "weight_decay": Range(0), "max_grad_norm": Range(0), "beta": Range(0), "epsilon": _positive(),
    "epsilon_high": _positive(), "per_device_train_batch_size": _count(), "gradient_accumulation_steps": _count(),
    "num_generations": _count(2, why="GRPO needs a group of at least 2 completions"),
    "generation_batch_size": _count(), "steps_per_generation": _count(), "num_iterations": _count(),
    "max_completion_length": _count(1, MAX_TOKENS), "temperature": _positive(10.0, "the policy's logits are "
                                                                                 "divided by it; 0 is not allowed"),
    "top_p": Range(0, 1, open_lo=True), "top_k": _count(0), "min_p": Range(0, 1, open_hi=True),
    "repetition_penalty": _positive(10.0), "logging_steps": _positive(), "save_steps": _positive(),
    "save_total_limit": _count(0), "seed": _count(0, 2**32 - 1),
}


def check_ranges(values: dict) -> None:
    """Check every field of ``values`` (name -> value) that :data:`RANGES` bounds; None passes.

    ``max_steps`` is >= 1, or TRL's -1: train ``num_train_epochs`` epochs instead (0 would train
    one step; any other negative number is refused).

    Example:
        >>> check_ranges({"alpha": 0.05, "temperature": None})
        >>> check_ranges({"penalty": float("-inf")})
        Traceback (most recent call last):
        lead_lite.config.ConfigError: penalty=-inf: must be a finite number in [-100, 0] (a wrong answer earns at most nothing; below -100 it swamps every length difference in the group statistics)
    """
    for name, value in values.items():
        bound = RANGES.get(name)
        if bound is not None and value is not None and not bound.holds(value):
            _bad(name, value, str(bound))
    steps = values.get("max_steps")
    if steps is not None and steps != -1 and not _count().holds(steps):
        _bad("max_steps", steps, "must be a whole number >= 1 (or -1: train num_train_epochs epochs)")


HUB_ID = re.compile(r"[A-Za-z0-9][\w.-]*(/[A-Za-z0-9][\w.-]*)?")  # name or org/name


def check_model_path(name: str, field_name: str = "model_name_or_path") -> None:
    """Refuse a model that looks like a local path (not a preset name or an ``org/name`` hub id) and
    does not exist; a hub id is left to the loader.

    Example:
        >>> check_model_path("Qwen/Qwen3-1.7B")
        >>> check_model_path("./no-such-model")
        Traceback (most recent call last):
        lead_lite.config.ConfigError: model_name_or_path='./no-such-model': no such directory (a local path; a hub id is org/name)
    """
    if not HUB_ID.fullmatch(name) and not Path(name).expanduser().exists():
        _bad(field_name, name, "no such directory (a local path; a hub id is org/name)")


def check_model_name(name: str) -> None:
    """Refuse a ``--model`` that is no preset, no local directory and no ``org/name`` hub id: a bare
    name is most often a mistyped preset (which would otherwise be planned and loaded as a hub id).

    Example:
        >>> check_model_name("qwen3-1.7bb")
        Traceback (most recent call last):
        lead_lite.config.ConfigError: model='qwen3-1.7bb': not a preset of configs/models/ (did you mean qwen3-1.7b?), a local directory or an org/name hub id
    """
    if "/" in name or preset_path(name) is not None or Path(name).expanduser().exists():
        return
    presets = sorted(p.stem for p in PRESET_DIR.glob("*.yaml"))
    close = difflib.get_close_matches(name, presets, n=1)
    hint = f"did you mean {close[0]}?" if close else f"presets: {', '.join(presets)}"
    _bad("model", name, f"not a preset of configs/models/ ({hint}), a local directory or an org/name hub id")


def check_output_dir(path: str, field_name: str = "output_dir") -> None:
    """Refuse an output directory that is a file, lies under a file, or cannot be written.

    Example:
        >>> check_output_dir("/proc/version")
        Traceback (most recent call last):
        lead_lite.config.ConfigError: output_dir='/proc/version': is a file, not a directory
    """
    target = Path(path).expanduser()
    if target.exists() and not target.is_dir():
        _bad(field_name, path, "is a file, not a directory")
    existing = next(p for p in (target, *target.parents) if p.exists())
    if not existing.is_dir():
        _bad(field_name, path, f"{existing} is a file, not a directory")
    if not os.access(existing, os.W_OK | os.X_OK):
        _bad(field_name, path, f"{existing} is not writable")


def validate(model_args: ModelArguments, lead: LeadArguments, data: DataArguments, verifier: VerifierArguments,
             training) -> None:
    """Reject invalid values before anything loads; each message names the field."""
    bad = _bad
    check_ranges({**vars(model_args), **vars(lead), **vars(data), **vars(training)})
    validate_verifier(verifier)
    check_model_path(model_args.model_name_or_path)
    modules = model_args.lora_target_modules
    if not isinstance(modules, list) or not modules or not all(isinstance(m, str) and m for m in modules):
        bad("lora_target_modules", modules, "must be a non-empty list of module names")
    if not 0 <= lead.weight_A <= lead.weight_B:
        bad("weight_A", lead.weight_A, f"must satisfy 0 <= weight_A <= weight_B (weight_B={lead.weight_B})")
    if model_args.backend not in BACKENDS:
        bad("backend", model_args.backend, f"must be one of {', '.join(BACKENDS)}")
    if model_args.load_in_4bit and model_args.load_in_8bit:
        bad("load_in_4bit", True, "cannot be combined with load_in_8bit")
    if model_args.gpu_memory is not None:
        try:
            ok = model_args.gpu_memory in CARDS or float(model_args.gpu_memory) > 0
        except ValueError:
            ok = False
        if not ok:
            bad("gpu_memory", model_args.gpu_memory, f"use a GiB figure or one of {sorted(CARDS)}")
    if data.task is not None and data.task not in TASKS:
        bad("task", data.task, f"must be one of: {', '.join(TASKS)}")
    if data.task in KINDS and data.dataset is not None:
        bad("task", data.task, f"generates its problems; for the rows of dataset={data.dataset!r} use task: math "
            "(or leave task unset)")
    task = TASKS[resolve_task(data)]
    names = reward_names(data, lead)
    if not names or any(n not in task.REWARDS for n in names) or ACCURACY not in names:
        bad("reward_funcs", data.reward_funcs, f"names from task {task.NAME!r}'s {', '.join(task.REWARDS)}, "
            f"including {ACCURACY!r} (LEAD's correctness fact)")
    if lead.repetition_reward is not None and REPETITION not in names:
        bad("reward_funcs", data.reward_funcs, f"repetition_reward needs the {REPETITION!r} reward function")
    if training.reward_weights is not None and len(training.reward_weights) != len(names):
        bad("reward_weights", training.reward_weights, f"one weight per reward function {names}")
    if data.bad_rows not in BAD_ROWS:
        bad("bad_rows", data.bad_rows, f"must be one of: {', '.join(BAD_ROWS)}")
    if data.prompt_format not in PROMPT_FORMATS:
        bad("prompt_format", data.prompt_format, f"must be one of: {', '.join(PROMPT_FORMATS)}")
    if lead.answer_before_think_end and PROMPT_FORMATS[data.prompt_format].chat_template_kwargs.get(
            "enable_thinking") is False:
        bad("answer_before_think_end", True, f"prompt_format={data.prompt_format!r} closes </think> in the prompt, "
            "so no completion would have an answer")
    if data.answer_format is not None and data.answer_format not in ANSWER_FORMATS:
        bad("answer_format", data.answer_format, f"must be one of: {', '.join(ANSWER_FORMATS)}")
    refuse_known_bad_combinations(model_args, training)
    if model_args.backend == "unsloth" and not model_args.dry_run and importlib.util.find_spec("unsloth") is None:
        bad("backend", "unsloth", "unsloth is not installed (pip install -r requirements-gpu.txt); or use backend: trl")
    if model_args.init_adapter is not None and resolve_backend(model_args.backend) == "unsloth":
        bad("init_adapter", model_args.init_adapter, "is loaded with PEFT; use backend: trl (the unsloth "
            "backend attaches fresh adapters only)")
    kind = resolve_task(data)
    if kind in KINDS:
        sizes = KINDS[kind][1]
        for name, split in (("train_size", "train"), ("eval_size", "test")):
            if getattr(data, name) > sizes[split]:
                bad(name, getattr(data, name), f"the {kind} task has {sizes[split]} distinct {split} problems")
    if training.num_generations is None:
        bad("num_generations", None, "GRPO needs a group of at least 2 completions")
    if training.generation_batch_size % training.num_generations:
        bad(
            "per_device_train_batch_size",
            training.per_device_train_batch_size,
            f"the generation batch ({training.generation_batch_size} completions) must hold whole groups of "
            f"num_generations={training.num_generations}",
        )
    if training.scale_rewards not in SCALE_REWARDS:
        bad("scale_rewards", training.scale_rewards, "GRPO-LEAD normalises per group: use 'group' (divide by the "
            "group's std) or 'none' (Dr. GRPO)")
    if lead.drop_uninformative_groups and training.loss_type not in GROUP_REMOVAL_LOSS_TYPES:
        bad("loss_type", training.loss_type, "drop_uninformative_groups removes groups from the loss normaliser, "
            f"which only {', '.join(GROUP_REMOVAL_LOSS_TYPES)} allow")
    if lead.dynamic_sampling_groups is not None and not lead.dynamic_sampling:
        bad("dynamic_sampling_groups", lead.dynamic_sampling_groups, "is read only with dynamic_sampling: true")
    if lead.dynamic_sampling_groups is not None:
        groups = training.generation_batch_size // training.num_generations
        if lead.dynamic_sampling_groups > groups:
            bad("dynamic_sampling_groups", lead.dynamic_sampling_groups, f"a step generates {groups} groups "
                f"(generation batch {training.generation_batch_size} / num_generations {training.num_generations})")
    if lead.repetition_reward is not None and not (math.isfinite(lead.repetition_reward) and lead.repetition_reward <= 0):
        bad("repetition_reward", lead.repetition_reward, "must be a finite number <= 0")
    if training.multi_objective_aggregation != "sum_then_normalize":
        bad("multi_objective_aggregation", training.multi_objective_aggregation, "must be 'sum_then_normalize'")


def validate_verifier(verifier: VerifierArguments) -> None:
    check_ranges(vars(verifier))


def check_resume(value, output_dir: str) -> None:
    """Refuse ``resume_from_checkpoint`` when there is nothing whole to resume: ``last`` / ``true``
    with no complete checkpoint in ``output_dir``, a path that is missing or partial (a kill
    while saving leaves one), or a checkpoint with a damaged file (:func:`lead_lite.checkpoints.damaged_file`:
    the line names the file and the way on)."""
    if value is None or str(value).lower() in ("", "false", "none"):
        return
    if str(value).lower() in ("last", "true"):
        found = checkpoints.last_complete(output_dir)
        if found is None:
            _bad("resume_from_checkpoint", value, f"no complete checkpoint in {output_dir}")
    else:
        found = Path(value)
        if not found.is_dir():
            _bad("resume_from_checkpoint", value, "no such checkpoint directory")
        reason = checkpoints.incomplete_reason(found)
        if reason is not None:
            _bad("resume_from_checkpoint", value, f"is partial ({reason}); use last for the newest complete one")
    damaged = checkpoints.damaged_file(found)
    if damaged is not None:
        path, why = damaged
        _bad("resume_from_checkpoint", value, f"{path} is damaged ({why}); delete {found} and resume from the "
             "checkpoint before it, or start over with --overwrite_output_dir true")


# -- reading the layers ------------------------------------------------------------------------------
def refuse_known_bad_combinations(model_args: ModelArguments, training) -> None:
    """Stop, before anything loads, on a combination known to fail later; the message names the way out.

    - the trl backend, a 4-bit base and vLLM in colocate mode: TRL's weight sync into vLLM
      crashes on a bitsandbytes 4-bit policy (trl issues #4973, #3654);
    - the unsloth backend with vLLM (Unsloth's ``fast_inference``) without CUDA (a dry run,
      which only plans for a GPU, is let through);
    - vLLM asked for where it cannot run (:func:`vllm_usable`), and bf16 on a GPU without native
      bfloat16 (:func:`native_bf16`). A file's ``use_vllm: true`` or ``bf16: true`` never gets here:
      :func:`settle_generation` and :func:`settle_precision` replaced it; what is left was asked for
      on the command line.

    Example:
        >>> from types import SimpleNamespace
        >>> training = SimpleNamespace(use_vllm=True, vllm_mode="colocate")
        >>> try:
        ...     refuse_known_bad_combinations(ModelArguments(backend="trl", load_in_4bit=True), training)
        ... except ConfigError as exc:
        ...     print(str(exc).split("; ")[-1])
        use backend: unsloth, or load_in_4bit: false, or use_vllm: false, or vllm_mode: server
    """
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
    if training.use_vllm and not vllm_usable(model_args.backend, model_args.dry_run):
        raise ConfigError("use_vllm=True: vLLM is not installed (pip install -r requirements-gpu.txt); "
                          "use_vllm: false generates with HF generate")
    if getattr(training, "bf16", False) and torch.cuda.is_available() and not native_bf16():
        raise ConfigError(f"bf16=True: {torch.cuda.get_device_name()} has no native bfloat16 (compute capability "
                          f"{'.'.join(map(str, torch.cuda.get_device_capability()))}); use fp16: true, or set "
                          "neither (fp16 is then chosen)")


def preset_path(name: str) -> Path | None:
    path = PRESET_DIR / f"{name}.yaml"
    return path if path.exists() else None


def _load_yaml(path: Path) -> dict:
    if path.exists() and not (path.is_file() or path.is_dir()):  # a FIFO would block the read
        raise ConfigError(f"{path}: not a regular file (a FIFO, device or socket); name a YAML file")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start}); save it as UTF-8 YAML") from exc
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"{path}: cannot read YAML ({exc})") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: must be a YAML mapping of field: value")
    return data


def split_flags(argv: list[str], *flags: str) -> tuple[dict, list[str]]:
    """The values of ``flags`` in argv (None when absent) and argv without them.

    The only reading of the command line before the full parse: the config file, the model and
    the backend decide which layers (and whether Unsloth) come into play.
    """
    pre = argparse.ArgumentParser(add_help=False, allow_abbrev=False)
    for flag in flags:
        pre.add_argument(flag)
    try:
        known, rest = pre.parse_known_args(argv)
    except SystemExit as exc:  # argparse exits on a flag without its value
        raise ConfigError(f"{' / '.join(flags)}: a flag needs a value") from exc
    return vars(known), rest


@dataclass
class RunConfig:
    """One run's resolved configuration: the objects every layer below the entry point receives.

    Attributes:
        model / lead / data / verifier: lead_lite's argument groups; training: TRL's ``GRPOConfig``.
        extra: a command's own dataclasses, parsed with the rest (e.g. the Countdown recipe's).
        stage: a curriculum stage's name (``stage-N``), None for a single run.
        method: ``grpo`` or ``sft`` (a curriculum stage's method).
        requested_backend: ``auto``, ``trl`` or ``unsloth`` as configured; ``model.backend`` is
            what it resolved to on this machine.
    """

    model: ModelArguments
    lead: LeadArguments
    data: DataArguments
    verifier: VerifierArguments
    training: object
    extra: tuple = ()
    stage: str | None = None
    method: str = "grpo"
    requested_backend: str = "auto"  # what was asked for; ``model.backend`` holds its resolution

    @property
    def task(self) -> str:
        return resolve_task(self.data)

    def groups(self) -> tuple:
        """Every argument group, for :func:`save_resolved`."""
        return (self.model, self.lead, self.data, self.verifier, self.training, *self.extra)


def _parse(argv: list[str], layers: list[tuple[str, dict]], model: str, extra_dataclasses: tuple,
           description: str | None = None) -> tuple:
    """The dataclasses from defaults < ``layers`` (in order) < ``argv``, checked."""
    from trl import GRPOConfig, TrlParser

    parser = TrlParser((ModelArguments, LeadArguments, DataArguments, VerifierArguments, GRPOConfig,
                        *extra_dataclasses), exit_on_error=False, description=description,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    actions = {a.dest: a for a in parser._actions}
    # Without CUDA, train in fp32 on the CPU unless a preset or file says otherwise.
    merged: dict = {"model": model} if torch.cuda.is_available() else {"model": model, "bf16": False, "use_cpu": True}
    origin: dict = {}  # key -> the file that set it last
    for source, values in layers:
        for key, value in values.items():
            if key not in actions:
                raise ConfigError(f"{source}: unknown key {key!r}")
            if actions[key].nargs in ("+", "*") and value is not None and not isinstance(value, list):
                raise ConfigError(f"{source}: {key} must be a list (e.g. {key}: [{value}]), not a "
                                  f"{type(value).__name__}")
            merged[key], origin[key] = value, source
    given = command_line_keys(argv)
    settle_precision(merged, origin, given)  # before parsing: TrainingArguments checks bf16 as it is built
    parser.set_defaults_with_config(**merged)
    objs, remaining = _parse_checked(parser, argv)
    if remaining:
        raise ConfigError(f"unknown argument(s): {' '.join(remaining)}")
    model_args, lead, data, verifier, training = objs[:5]
    settle_generation(model_args, training, origin, given)
    if model_args.model_name_or_path is None:
        check_model_name(model_args.model)
        model_args.model_name_or_path = model_args.model
    if data.max_prompt_length is None:
        room = model_args.max_seq_length - (training.max_completion_length or 0)
        data.max_prompt_length = PROMPT_CHARS_PER_TOKEN * max(room, MIN_PROMPT_TOKENS)
    validate(model_args, lead, data, verifier, training)
    task = TASKS[resolve_task(data)]
    data.task = task.NAME
    data.reward_funcs = reward_names(data, lead)
    if training.reward_weights is None:
        training.reward_weights = [task.REWARD_WEIGHTS[n] for n in data.reward_funcs]
    try:
        training.chat_template_kwargs = merged_chat_template_kwargs(data.prompt_format, training.chat_template_kwargs)
    except ValueError as exc:
        raise ConfigError(f"prompt_format={data.prompt_format!r}: {exc}") from exc
    return tuple(objs)


def _parse_checked(parser, argv: list[str], ranges: bool = True) -> tuple[list, list[str]]:
    """(dataclasses, remaining strings); argparse's and the dataclasses' own errors become a ConfigError.

    With ``ranges``, the values are checked (:func:`check_ranges`) before the dataclasses are built,
    so that TRL's own ``__post_init__`` never meets e.g. a group of zero completions.
    """
    try:
        if ranges:
            check_ranges(vars(parser.parse_known_args(args=argv)[0]))
        *objs, remaining = parser.parse_args_into_dataclasses(args=argv, return_remaining_strings=True)
    except ConfigError:
        raise
    except (argparse.ArgumentError, ValueError, TypeError, ZeroDivisionError) as exc:  # argparse's or TRL's
        raise ConfigError(str(exc) or type(exc).__name__) from exc
    return objs, remaining


def _import_backend(backend: str) -> None:
    if resolve_backend(backend) != "unsloth" or importlib.util.find_spec("unsloth") is None:
        return  # validate() refuses an explicit unsloth that is not installed (a dry run only plans)
    import unsloth  # noqa: F401 - optional GPU dependency, imported before trl so that its patches apply
    if not torch.cuda.is_available():
        # Unsloth's CPU mode leaves TRL's trainers unpatched; patch them as its GPU import does, so
        # the LEAD trainer subclasses Unsloth's generated GRPOTrainer here too
        from unsloth.models.rl import PatchFastRL  # optional GPU dependency, as above

        PatchFastRL()


STAGE_METHODS = ("grpo", "sft")
STAGE_FIXED = ("output_dir", "model", "model_name_or_path")  # one base model; stage dirs are output_dir/stage-N


def _check_stages(stages, config_file: str) -> list[dict]:
    """The ``stages:`` list of a config file, each entry checked.

    A stage is a mapping of config keys layered over the file's top level (flags still win),
    plus ``method``: ``grpo`` (default) or ``sft``. A stage may not set ``output_dir``, ``model``
    or ``model_name_or_path`` (stages share one base model and write to ``output_dir/stage-N``);
    only the first may set ``init_adapter`` (the others start from the previous stage's adapter).
    """
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


def stage_names(stages: list[dict]) -> list[str]:
    """``stage-N`` for each stage: GRPO stages from 1, a leading SFT stage 0 (as in the paper).

    Example:
        >>> stage_names([{"method": "sft"}, {}, {"max_steps": 5}])
        ['stage-0', 'stage-1', 'stage-2']
    """
    first = 0 if stages and stages[0].get("method") == "sft" else 1
    return [f"stage-{first + i}" for i in range(len(stages))]


def resolve(argv: list[str], extra_dataclasses: tuple = (), config_file: str | None = None,
            allow_stages: bool = False, description: str | None = None) -> list[RunConfig]:
    """Resolve a command line into run configurations: one, or one per curriculum stage.

    Layers, lowest first: defaults < the ``--model`` preset < ``--config`` (or ``config_file``)
    < a stage's keys < flags. A config file with a ``stages:`` list gives one
    :class:`RunConfig` per stage: stage N writes to ``output_dir/stage-N`` and starts from the
    previous stage's adapter (the first from ``init_adapter``, when set). Every stage is resolved
    and checked here, before anything trains. Only ``lead_lite.train`` runs stages
    (``allow_stages``); other commands refuse such a file. ``description`` heads ``--help`` (the
    entry point's docstring).

    Raises:
        ConfigError: naming the bad key, field or file.
    """
    flags, argv = split_flags(list(argv), "--config")
    config_file = flags["config"] or config_file
    helping = any(a in ("-h", "--help") for a in argv)  # --help helps even when the file cannot be read
    user = _load_yaml(Path(config_file)) if config_file is not None and not helping else {}
    stages = user.pop("stages", None)
    if stages is not None and not allow_stages:
        raise ConfigError(f"{config_file}: lists stages; run them with python -m lead_lite.train --config {config_file}")
    located, _ = split_flags(argv, "--model", "--backend")
    model = located["model"] or user.get("model") or ModelArguments.model
    preset = preset_path(model)
    layers = [(str(preset), _load_yaml(preset))] if preset is not None else []
    if config_file is not None:
        layers.append((config_file, user))
    backend = located["backend"] or next((v["backend"] for _, v in reversed(layers) if "backend" in v), "auto")
    if backend not in BACKENDS:
        raise ConfigError(f"backend={backend!r}: must be one of {', '.join(BACKENDS)}")
    _import_backend(backend)
    if stages is None:
        return [_run_config(_parse(argv, layers, model, extra_dataclasses, description))]
    stages = _check_stages(stages, config_file)
    placed, rest = split_flags(argv, "--output_dir", "--init_adapter")
    names = stage_names(stages)
    base = placed["output_dir"] or next((v["output_dir"] for _, v in reversed(layers) if "output_dir" in v), None)
    if base is None:
        raise ConfigError(f"{config_file}: a curriculum writes output_dir/stage-N; set output_dir in the file "
                          "or pass --output_dir")
    configs: list[RunConfig] = []
    for i, (name, stage) in enumerate(zip(names, stages)):
        values = {k: v for k, v in stage.items() if k != "method"}
        values["output_dir"] = str(Path(base) / name)
        if i:
            values["init_adapter"] = configs[-1].training.output_dir
        elif placed["init_adapter"] is not None:
            values["init_adapter"] = placed["init_adapter"]
        config = _run_config(_parse(rest, [*layers, (f"{config_file}: {name}", values)], model, extra_dataclasses,
                                    description))
        config.stage, config.method = name, stage.get("method", "grpo")
        configs.append(config)
    return configs


def _run_config(objs: tuple) -> RunConfig:
    requested = objs[0].backend
    objs[0].backend = resolve_backend(requested)
    return RunConfig(*objs[:5], extra=tuple(objs[5:]), requested_backend=requested)


def save_resolved(path: Path, *configs, extra: dict | None = None) -> None:
    """Write every dataclass's fields (and ``extra`` facts of the run) to one YAML file, whole."""
    out: dict = {}
    for cfg in configs:
        for f in dataclasses.fields(cfg):
            # str-valued enums become their value; anything else without a YAML form, its str()
            out[f.name] = json.loads(json.dumps(getattr(cfg, f.name), default=str))
    write_atomic(path, yaml.safe_dump({**out, **(extra or {})}, sort_keys=True))


# -- commands that sample without training -----------------------------------------------------------
@dataclass
class SamplingArguments:
    """How evaluation and difficulty estimation sample from a model (one set, one validation)."""

    k: int = field(default=8, metadata={"help": "Samples per problem (official GRPO-LEAD eval: 32; its group size: 8)."})
    temperature: float | None = field(
        default=None, metadata={"help": "Sampling temperature (0: greedy). Default: the command's (see its --help)."})
    top_p: float | None = field(default=None, metadata={"help": "Nucleus sampling top-p. Default: the command's."})
    min_p: float = field(default=0.0, metadata={"help": "min-p filtering (0: off; official GRPO-LEAD eval: 0.01)."})
    max_new_tokens: int | None = field(
        default=None,
        metadata={"help": "Token limit per completion (default: the preset's max_completion_length, else "
                  f"{DEFAULT_MAX_NEW_TOKENS})."},
    )
    prompt_format: str | None = field(
        default=None, metadata={"help": "Instruction and chat-template switches (lead_lite.prompts); default: the "
                                "preset's, as in training, else plain."})
    engine: str = field(default="auto", metadata={"help": "auto (vllm with a GPU and vllm installed, else hf), hf, or vllm."})
    batch_size: int = field(default=64, metadata={"help": "Sequences per HF generate call."})
    vllm_gpu_memory_utilization: float | None = field(
        default=None, metadata={"help": "vLLM engine: its share of the GPU's memory (of the machine's on vLLM's "
                                f"CPU build); default: the preset's, else {VLLM_GPU_MEMORY_UTILIZATION}."})
    vllm_max_model_length: int | None = field(
        default=None, metadata={"help": "vLLM engine: prompt + completion tokens it holds (default: the longest "
                                "prompt + max_new_tokens)."})
    seed: int = field(default=0, metadata={"help": "Sampling seed."})


def resolve_sampling(sampling: SamplingArguments, preset: dict, temperature: float, top_p: float,
                     greedy_ok: bool = True) -> dict:
    """Fill the command's defaults and the preset's values into ``sampling``, check every field, and
    return the chat-template switches (the prompt format's merged with the preset's).

    Args:
        preset: the model preset's values (``max_completion_length``, ``prompt_format``,
            ``chat_template_kwargs``, ``temperature`` are read).
        temperature / top_p: the command's defaults when neither the flag nor the preset sets them.
        greedy_ok: whether temperature 0 is allowed (a pass rate needs varied samples).
    """
    s = sampling
    if s.max_new_tokens is None:  # 0 is refused below, never replaced
        s.max_new_tokens = int(preset.get("max_completion_length", DEFAULT_MAX_NEW_TOKENS))
    s.prompt_format = s.prompt_format or preset.get("prompt_format", DEFAULT_FORMAT)
    s.temperature = temperature if s.temperature is None else s.temperature
    s.top_p = top_p if s.top_p is None else s.top_p
    if s.vllm_gpu_memory_utilization is None:
        s.vllm_gpu_memory_utilization = preset.get("vllm_gpu_memory_utilization", VLLM_GPU_MEMORY_UTILIZATION)

    def bad(name: str, why: str):
        raise ConfigError(f"--{name} {getattr(s, name)!r}: {why}")

    for name, most in (("k", MAX_SAMPLES), ("max_new_tokens", MAX_TOKENS), ("batch_size", MAX_SAMPLES)):
        if not 1 <= getattr(s, name) <= most:
            bad(name, f"must be in [1, {most}]")
    if not 0 <= s.temperature <= 10 or (s.temperature == 0 and not greedy_ok):
        bad("temperature", "must be in [0, 10]" if greedy_ok else "must be in (0, 10] (a pass rate needs varied "
            "samples)")
    if not 0 < s.top_p <= 1:
        bad("top_p", "must be in (0, 1]")
    if not 0 <= s.min_p < 1:
        bad("min_p", "must be in [0, 1)")
    if not 0 < s.vllm_gpu_memory_utilization <= 1:
        bad("vllm_gpu_memory_utilization", "must be in (0, 1]")
    if s.vllm_max_model_length is not None and not 1 <= s.vllm_max_model_length <= MAX_TOKENS:
        bad("vllm_max_model_length", f"must be in [1, {MAX_TOKENS}]")
    if s.engine not in ENGINES:
        bad("engine", f"must be one of {', '.join(ENGINES)}")
    if s.prompt_format not in PROMPT_FORMATS:
        bad("prompt_format", f"must be one of {', '.join(PROMPT_FORMATS)}")
    try:
        return merged_chat_template_kwargs(s.prompt_format, preset.get("chat_template_kwargs"))
    except ValueError as exc:
        raise ConfigError(str(exc)) from exc


def resolve_engine(requested: str) -> str:
    """``auto`` -> ``vllm`` when CUDA and vllm are both available, else ``hf``."""
    if requested != "auto":
        return requested
    if torch.cuda.is_available() and importlib.util.find_spec("vllm") is not None:
        return "vllm"
    return "hf"


def parse_with_preset(dataclass_types: tuple, argv: list[str], **parser_kwargs):
    """Parse a command's dataclasses (with :class:`VerifierArguments`), then read the model preset
    that the first one's ``model`` field names.

    For commands that load a model without training it (evaluation, difficulty estimation).

    Returns:
        (the command's objects..., verifier args, model_args, preset values): the preset's
        model-loading keys fill ``model_args``; its other values are returned for the command
        to use as defaults (:func:`resolve_sampling`).
    """
    from transformers import HfArgumentParser

    parser = HfArgumentParser((*dataclass_types, VerifierArguments), exit_on_error=False, **parser_kwargs)
    objs, remaining = _parse_checked(parser, argv, ranges=False)  # sampling: resolve_sampling checks it
    if remaining:
        raise ConfigError(f"unknown argument(s): {' '.join(remaining)}")
    validate_verifier(objs[-1])
    name = objs[0].model
    if preset_path(name) is None:
        check_model_path(name, "model")
    preset = preset_path(name)
    values = _load_yaml(preset) if preset is not None else {}
    model_keys = {f.name for f in dataclasses.fields(ModelArguments)}
    model_args = ModelArguments(model=name, **{k: v for k, v in values.items() if k in model_keys and k != "model"})
    model_args.model_name_or_path = model_args.model_name_or_path or name
    return (*objs, model_args, values)
