"""GRPO-LEAD inside TRL's GRPOTrainer: a thin, declared seam.

The LEAD trainer overrides two methods of TRL's ``GRPOTrainer`` (trl 1.14.2) for LEAD, and one
for safe resumption, and calls ``super()`` in each, so whatever Unsloth patches into them keeps
running:

- ``_calculate_rewards``: after TRL has run the reward functions and gathered their columns over
  all processes (whole groups, row = group * G + j), remember those columns and gather the
  completion lengths the same way. Nothing is changed.
- ``_generate_and_score_completions``: after TRL has built the batch, compute the LEAD rewards
  and advantages over whole groups with the pure functions of :mod:`lead_lite.advantages`,
  replace this process's slice of ``"advantages"``, and make what TRL logs LEAD's: its
  ``reward``, ``reward_std`` and ``frac_reward_zero_std`` metrics, the completion table's
  ``advantage`` column and a ``lead_reward`` column (``log_completions``), plus ``lead/*``
  metrics. With ``drop_uninformative_groups`` the dropped groups' rows also get a zero
  ``completion_mask`` and ``num_items_in_batch`` is recounted, so, as in the official trainer's
  ``rejection_sample``, their tokens count neither in the loss nor in its normaliser
  (loss types in :data:`lead_lite.config.GROUP_REMOVAL_LOSS_TYPES`).
- ``_save_checkpoint`` (:class:`MarkedCheckpoints`): after the Trainer has
  written a checkpoint, mark it complete once every process is done, and only then rotate older
  checkpoints away; ``--resume_from_checkpoint last`` resumes from the newest marked one, so a run
  killed while saving never resumes from a partial checkpoint.

Per-group statistics (mu, sigma, rho) are therefore computed where every group is complete,
never inside a per-sample reward function. The reward functions report facts per completion:
the ``accuracy`` column (1 / 0 / None) and optionally the ``format`` column (has an answer) and
the ``repetition`` column (:mod:`lead_lite.official`). Other reward columns, weighted by
``reward_weights``, are added to the LEAD reward.

The class is built against whatever ``trl.GRPOTrainer`` is at call time, so creating it after
``import unsloth`` (which swaps in ``UnslothGRPOTrainer``) subclasses Unsloth's trainer.
"""

from __future__ import annotations

import functools
import json
import logging
import math
import os
from typing import NamedTuple

import torch

from lead_lite import advantages as adv
from lead_lite import checkpoints
from lead_lite import dynamic_sampling as ds
from lead_lite.config import GROUP_REMOVAL_LOSS_TYPES, SCALE_REWARDS, ConfigError, LeadArguments
from lead_lite.official import REPETITION
from lead_lite.rewards import ACCURACY, FORMAT
from lead_lite.run_files import write_atomic

logger = logging.getLogger(__name__)
DYNAMIC_STATE = "dynamic_sampling.json"  # in a checkpoint: how far the extra prompts' stream has been drawn


class MarkedCheckpoints:
    """Trainer mixin: overrides ``_save_checkpoint`` only (transformers 5.17), calling ``super()``.

    After the Trainer has written a checkpoint, it is marked complete (:func:`lead_lite.checkpoints.mark_complete`)
    once every process is done, and only then are older checkpoints rotated away, so a kill at
    any moment leaves at least one checkpoint that ``--resume_from_checkpoint last`` can load.
    A save the disk refuses (a full disk) raises :class:`lead_lite.checkpoints.CheckpointWriteError`,
    one line naming the file, after the unfinished directory is removed
    (:func:`lead_lite.checkpoints.save_failure`); the checkpoints before it stay.
    """

    def _save_checkpoint(self, model, trial):
        from transformers.trainer_utils import PREFIX_CHECKPOINT_DIR, rotate_checkpoints

        run_dir = self._get_output_dir(trial=trial)
        folder = os.path.join(run_dir, f"{PREFIX_CHECKPOINT_DIR}-{self.state.global_step}")
        if self.args.should_save:
            checkpoints.unmark(folder)  # a directory being rewritten is not complete
        limit = self.args.save_total_limit
        self.args.save_total_limit = None  # rotate only once the new checkpoint is marked complete
        try:
            super()._save_checkpoint(model, trial)
        except Exception as exc:  # a write the disk refused: one line, the previous checkpoint kept
            failure = checkpoints.save_failure(folder, exc) if self.args.should_save else None
            if failure is None:
                raise
            raise failure from exc
        finally:
            self.args.save_total_limit = limit
        self.accelerator.wait_for_everyone()  # every process has written its files
        if self.args.should_save:
            self._save_extra_state(folder)
            checkpoints.mark_complete(folder, self.state.global_step)
            rotate_checkpoints(output_dir=run_dir, save_total_limit=limit,
                               best_model_checkpoint=self.state.best_model_checkpoint, use_mtime=True)

    def _save_extra_state(self, folder: str) -> None:
        """Files of a subclass's own to write into a checkpoint before it is marked complete."""


class LeadMixin(MarkedCheckpoints):
    """The overrides; mixed in front of a ``GRPOTrainer`` class by :func:`lead_trainer_class`."""

    def __init__(self, *args, lead: LeadArguments | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.lead = lead or LeadArguments()
        names = list(self.reward_func_names)
        if ACCURACY not in names:
            raise ValueError(f"GRPO-LEAD needs a reward function named {ACCURACY!r}; got {names}")
        if self.args.scale_rewards not in SCALE_REWARDS:
            raise ValueError(f"scale_rewards={self.args.scale_rewards!r}: GRPO-LEAD normalises per group; use "
                             f"one of {', '.join(SCALE_REWARDS)}")
        if self.args.multi_objective_aggregation != "sum_then_normalize":
            raise ValueError(f"multi_objective_aggregation={self.args.multi_objective_aggregation!r}: GRPO-LEAD "
                             "needs 'sum_then_normalize'")
        if self.lead.drop_uninformative_groups and self.loss_type not in GROUP_REMOVAL_LOSS_TYPES:
            raise ValueError(f"loss_type={self.loss_type!r}: drop_uninformative_groups needs one of "
                             f"{', '.join(GROUP_REMOVAL_LOSS_TYPES)} (a normaliser that counts only kept tokens)")
        self._acc_col = names.index(ACCURACY)
        self._fmt_col = names.index(FORMAT) if FORMAT in names else None
        self._rep_col = names.index(REPETITION) if REPETITION in names else None
        if self._fmt_col is None and (self.lead.format_failure_reward is not None
                                      or self.lead.repetition_reward is not None):
            raise ValueError(f"format_failure_reward / repetition_reward need a reward function named {FORMAT!r}")
        if self.lead.repetition_reward is not None and self._rep_col is None:
            raise ValueError(f"repetition_reward needs a reward function named {REPETITION!r} "
                             "(lead_lite.official.Repetition)")
        think_aware = [getattr(self.reward_funcs[names.index(n)], "answer_before_think_end", False)
                       for n in (ACCURACY, FORMAT) if n in names]
        if self.lead.answer_before_think_end and not all(think_aware):
            raise ValueError("answer_before_think_end needs the accuracy and format rewards of "
                             "lead_lite.official.lead_reward_funcs (ThinkEndAccuracy, ThinkEndHasAnswer)")
        self._lead_seen = None  # (rewards_per_func (N, F), lengths (N,)) of the current batch
        self._lead_generated = 0.0  # completion tokens generated for the current batch (all rounds, processes)
        # dynamic sampling: the step's chosen completions, handed to TRL's own scoring in place of a generation
        self._replay_generation = None  # what _generate returns (its 8 per-completion lists and fields)
        self._replay_scores = None  # (reward columns (N, F), lengths (N,)) of the chosen completions, gathered
        self._dynamic = None  # the dynamic/* metrics of the current step
        self._stream_position = 0  # extra prompts drawn so far (lead_lite.dynamic_sampling.stream_indices)
        if self.lead.dynamic_sampling:
            self._check_dynamic_sampling()

    def _check_dynamic_sampling(self) -> None:
        """Refuse what dynamic sampling cannot fill: rollouts it does not generate itself, and a
        training set it cannot draw further prompts from."""
        unsupported = [name for name in ("rollout_func", "tools", "environment_factories") if getattr(self, name, None)]
        if unsupported:
            raise ValueError(f"dynamic_sampling generates text completions itself; it cannot be combined with "
                             f"{', '.join(unsupported)}")
        if not (hasattr(self.train_dataset, "__len__") and hasattr(self.train_dataset, "__getitem__")):
            raise ValueError("dynamic_sampling draws further prompts by index: it needs a map-style train_dataset, "
                             "not an iterable one")
        slots = self.args.generation_batch_size // self.num_generations
        wanted = self.lead.dynamic_sampling_groups
        if wanted is not None and not 1 <= wanted <= slots:
            raise ValueError(f"dynamic_sampling_groups={wanted}: a step generates {slots} groups")
        if self.lead.dynamic_sampling_max_rounds < 1:
            raise ValueError(f"dynamic_sampling_max_rounds={self.lead.dynamic_sampling_max_rounds}: must be >= 1")

    def train(self, resume_from_checkpoint=None, *args, **kwargs):
        if self.lead.dynamic_sampling and resume_from_checkpoint:
            self._load_stream_position(resume_from_checkpoint)
        return super().train(resume_from_checkpoint, *args, **kwargs)

    def _load_stream_position(self, checkpoint) -> None:
        if checkpoint is True:
            from transformers.trainer_utils import get_last_checkpoint

            checkpoint = get_last_checkpoint(self.args.output_dir)
        path = os.path.join(str(checkpoint), DYNAMIC_STATE)
        if not os.path.isfile(path):  # a checkpoint of a run without dynamic sampling
            logger.info("dynamic sampling: %s has no %s; the extra prompts start from the beginning",
                        checkpoint, DYNAMIC_STATE)
            return
        try:
            with open(path) as f:
                state = json.load(f)
        except (OSError, ValueError) as exc:
            state = exc
        drawn = state.get("prompts_drawn") if isinstance(state, dict) else None
        if not isinstance(drawn, int) or isinstance(drawn, bool) or not 0 <= drawn <= ds.MAX_POSITION:
            raise ConfigError(f"resume_from_checkpoint={str(checkpoint)!r}: {path} is damaged (prompts_drawn must "
                              f"be a whole number in [0, {ds.MAX_POSITION}]; read {state if drawn is None else drawn!r}"
                              f"); delete {checkpoint} and resume from the checkpoint before it")
        self._stream_position = drawn

    def _save_extra_state(self, folder: str) -> None:
        if self.lead.dynamic_sampling:
            write_atomic(os.path.join(folder, DYNAMIC_STATE), json.dumps({"prompts_drawn": self._stream_position}))

    def _generate(self, prompts):
        replay, self._replay_generation = self._replay_generation, None
        if replay is None:
            return super()._generate(prompts)
        if len(replay[1]) != len(prompts):
            raise RuntimeError(f"dynamic sampling chose {len(replay[1])} completions for {len(prompts)} prompts")
        return replay

    def _calculate_rewards(self, inputs, prompts, completions, completion_ids_list):
        replay, self._replay_scores = self._replay_scores, None
        if replay is not None:  # the chosen completions were judged when they were generated
            self._lead_seen = replay
            return replay[0]
        rewards_per_func = super()._calculate_rewards(inputs, prompts, completions, completion_ids_list)  # (N, F)
        lengths = torch.tensor([len(ids) for ids in completion_ids_list], dtype=torch.float32,
                               device=rewards_per_func.device)  # (N_local,)
        self._lead_seen = (rewards_per_func, self.accelerator.gather(lengths))  # gathered: (N,), N = P * G
        self._lead_generated += float(self._lead_seen[1].sum())
        return rewards_per_func

    def _lead_scores(self, rewards_per_func, lengths, group: int) -> LeadScores:
        return lead_scores(rewards_per_func, lengths, group, self.reward_weights, self.lead, self._acc_col,
                           self._fmt_col, self._rep_col, scale=self.args.scale_rewards != "none")

    def _fill_step(self, inputs: list[dict]) -> list[dict]:
        """Dynamic sampling: generate and judge rounds of prompts until the step has its informative
        groups (or the bound on rounds is reached), choose the step's groups
        (:func:`lead_lite.dynamic_sampling.plan_step`) and set them up to be scored by TRL as if they
        had been generated in one call. Returns the inputs (dataset rows) of this process's chosen rows.

        The decision is made on gathered rewards, identical on every process; each process then
        takes the rows of its slice of the chosen batch, from whichever process generated them.
        """
        from accelerate.utils import gather_object

        group, world, rank = self.num_generations, self.accelerator.num_processes, self.accelerator.process_index
        n_local = len(inputs)
        slots = n_local * world // group
        wanted = min(self.lead.dynamic_sampling_groups or slots, slots)
        rounds = []  # per round: (inputs, _generate's output, columns (N, F), lengths (N,), informative (P,))
        round_inputs = inputs
        while True:
            prompts = [x["prompt"] for x in round_inputs]
            generation = self._generate(prompts)
            _, completion_ids, _, completions, _, extra_fields, images, tool_images = generation
            if extra_fields or images is not None or any(tool_images or []):
                raise RuntimeError("dynamic_sampling handles text completions only (no rollout fields or images)")
            columns = self._calculate_rewards(round_inputs, prompts, completions, completion_ids)  # (N, F)
            lengths = self._lead_seen[1]  # (N,)
            scores = self._lead_scores(columns, lengths, group)
            informative = ds.informative_groups(scores.rewards.view(-1, group))  # (P,)
            rounds.append((round_inputs, generation, columns, lengths, informative))
            found = sum(int(r[4].sum()) for r in rounds)
            if found >= wanted or len(rounds) >= self.lead.dynamic_sampling_max_rounds:
                break
            round_inputs = self._extra_inputs(slots, n_local)

        plan = ds.plan_step([r[4] for r in rounds], slots)
        rows = ds.plan_rows(plan, group)  # the step's N completions: (round, row of that round's gathered batch)
        mine = rows[rank * n_local:(rank + 1) * n_local]
        tables = []
        for round_inputs, (prompt_ids, completion_ids, tool_mask, completions, logprobs, *_), *_ in rounds:
            local = [(round_inputs[i], prompt_ids[i], completion_ids[i], None if tool_mask is None else tool_mask[i],
                      completions[i], None if logprobs is None else logprobs[i]) for i in range(n_local)]
            tables.append(local)
        if rows != [(0, i) for i in range(slots * group)]:  # a choice other than the first round as it came
            if world > 1:
                tables = [gather_object(table) for table in tables]  # every process: the rounds' N rows
            picked = [tables[r][i] for r, i in mine]
        else:
            picked = tables[0]
        first = rounds[0][1]
        self._replay_generation = (
            [p[1] for p in picked], [p[2] for p in picked], None if first[2] is None else [p[3] for p in picked],
            [p[4] for p in picked], None if first[4] is None else [p[5] for p in picked], {}, None, [],
        )
        n_total = slots * group
        index = torch.tensor([r * n_total + i for r, i in rows])
        columns = torch.cat([r[2] for r in rounds])  # (R * N, F)
        lengths = torch.cat([r[3] for r in rounds])  # (R * N,)
        self._replay_scores = (columns[index.to(columns.device)], lengths[index.to(lengths.device)])
        self._dynamic = {
            "dynamic/rounds": float(len(rounds)),
            "dynamic/prompts_sampled": float(len(rounds) * slots),
            "dynamic/informative_share": float(rounds[0][4].float().mean()),
            "dynamic/groups_trained": float(min(found, slots)),
            "dynamic/target_reached": float(found >= wanted),
        }
        return [p[0] for p in picked]

    def _extra_inputs(self, slots: int, n_local: int) -> list[dict]:
        """This process's rows of the next ``slots`` prompts of the extra prompts' stream."""
        prompts = ds.stream_indices(len(self.train_dataset), self.args.seed, self._stream_position, slots,
                                    shuffle=getattr(self, "shuffle_dataset", True))
        self._stream_position += slots
        rows = ds.local_prompts(prompts, self.num_generations, self.accelerator.process_index, n_local)
        return [self.train_dataset[i] for i in rows]

    def _generate_and_score_completions(self, inputs):
        self._lead_seen = None
        self._lead_generated = 0.0
        self._dynamic = None
        if self.lead.dynamic_sampling and self.model.training:
            inputs = self._fill_step(inputs)
        try:
            output = super()._generate_and_score_completions(inputs)
        finally:
            self._replay_generation = self._replay_scores = None
        if self._lead_seen is None:
            raise RuntimeError(
                "GRPO-LEAD: _calculate_rewards was not called while scoring completions; the installed "
                "trainer does not use TRL's reward seam (check the pinned trl / unsloth versions)"
            )
        rewards_per_func, lengths = self._lead_seen
        self._lead_seen = None
        mode = "train" if self.model.training else "eval"
        group = self.num_generations if mode == "train" else self.num_generations_eval
        scores = self._lead_scores(rewards_per_func, lengths, group)
        n_local = output["completion_ids"].size(0)
        start = self.accelerator.process_index * n_local
        local = slice(start, start + n_local)
        output["advantages"] = scores.advantages[local].to(output["advantages"].device)  # (N_local,)
        if self.lead.drop_uninformative_groups:
            kept_tokens = remove_rows(output, scores.keep[local])
            output["num_items_in_batch"] = self.accelerator.gather(kept_tokens).sum()  # tokens the loss counts
        self._log_lead(mode, scores, group)
        return output

    def _log_lead(self, mode: str, scores: LeadScores, group_size: int) -> None:
        """Replace what TRL logged from plain-GRPO maths by LEAD's; add the ``lead/*`` metrics."""
        metrics = self._metrics[mode]
        lead_metrics = {**scores.metrics, "lead/generated_tokens": self._lead_generated, **(self._dynamic or {})}
        for name, value in {**reward_stats(scores.rewards, group_size), **lead_metrics}.items():
            if name.startswith(("lead/", "dynamic/")) or not metrics[name]:
                metrics[name].append(value)
            else:
                metrics[name][-1] = value  # TRL appended this batch's value just before
        logged = self._logs["advantages"]  # TRL extended it by this batch's N advantages
        for _ in range(min(len(logged), scores.advantages.numel())):
            logged.pop()
        logged.extend(scores.advantages.tolist())
        self._logs["rewards"]["lead_reward"].extend(scores.rewards.tolist())


class LeadScores(NamedTuple):
    """What LEAD made of one gathered batch (N = P * G completions, whole groups in order)."""

    rewards: torch.Tensor  # (N,) the reward the advantages were computed from; NaN: unjudgeable
    advantages: torch.Tensor  # (N,) the advantages the loss uses
    keep: torch.Tensor  # (N,) bool; False for the rows of groups removed from the loss
    metrics: dict[str, float]  # the ``lead/*`` metrics


@torch.no_grad()
def lead_scores(
    rewards_per_func: torch.Tensor,
    lengths: torch.Tensor,
    group_size: int,
    reward_weights: torch.Tensor,
    lead: LeadArguments,
    acc_col: int,
    fmt_col: int | None = None,
    rep_col: int | None = None,
    scale: bool = True,
) -> LeadScores:
    """Route one gathered batch through the LEAD functions.

    Args:
        rewards_per_func: (N, F) reward columns, N = P * G, whole groups in order.
        lengths: (N,) completion lengths in tokens.
        group_size: G.
        reward_weights: (F,) TRL's reward weights.
        lead: the LEAD switches and constants.
        acc_col: index of the ``accuracy`` column; fmt_col: of the ``format`` column, rep_col: of the
            ``repetition`` column, if any.
        scale: divide by the group's std (TRL ``scale_rewards: group``) or not (``none``, Dr. GRPO).

    Returns:
        the rewards, advantages and kept rows (each (N,)) and the ``lead/*`` metrics of the batch.

    Example (one group of 2, both correct, lengths 162 and 1288; the official code's edge case):
        >>> s = lead_scores(torch.tensor([[1.0], [1.0]]), torch.tensor([162.0, 1288.0]), 2, torch.ones(1),
        ...                 LeadArguments(), acc_col=0)
        >>> s.rewards.round(decimals=4), s.advantages.round(decimals=4)
        (tensor([1.0360, 0.9653]), tensor([ 0.3418, -1.0602]))
    """
    n, n_funcs = rewards_per_func.shape
    if n % group_size:
        raise ValueError(f"{n} completions do not form whole groups of {group_size}")
    cols = rewards_per_func.float().cpu()  # (N, F)
    correct = cols[:, acc_col].view(-1, group_size)  # (P, G)
    lens = lengths.float().cpu().view(-1, group_size)  # (P, G)
    has_answer = cols[:, fmt_col].view(-1, group_size) if fmt_col is not None else None  # (P, G)
    repeated = cols[:, rep_col].view(-1, group_size) if rep_col is not None else None  # (P, G)
    rewards = adv.lead_rewards(
        correct, lens, has_answer, repeated,
        length_reward=lead.length_reward, explicit_penalty=lead.explicit_penalty, alpha=lead.alpha,
        penalty=lead.penalty, eps=lead.length_eps, format_failure_reward=lead.format_failure_reward,
        length_skip_below=lead.length_skip_below, repetition_reward=lead.repetition_reward,
    )  # (P, G)
    weights = reward_weights.float().cpu()  # (F,)
    others = [j for j in range(n_funcs) if j != acc_col]
    total = rewards * weights[acc_col]  # (P, G)
    if others:
        extra = (cols[:, others] * weights[others]).nansum(dim=1).view(-1, group_size)  # (P, G)
        total = total + extra  # NaN (unjudgeable) stays NaN
    estimator = adv.ADVANTAGE_ESTIMATORS["lead" if lead.difficulty_reweight else "grpo"]
    advantages = estimator(total, correct, eps=lead.adv_eps, A=lead.weight_A, B=lead.weight_B,
                           k=lead.weight_k, rho0=lead.weight_rho0, scale=scale)  # (P, G)
    dropped = torch.zeros(total.shape[0], 1, dtype=torch.bool)  # (P, 1)
    if lead.drop_uninformative_groups:
        dropped = adv.uninformative_groups(total)
        advantages = advantages.masked_fill(dropped, 0.0)
    metrics = _metrics(correct, lens, rewards, advantages, lead)
    metrics["lead/dropped_groups"] = float(dropped.float().mean())
    keep = (~dropped).expand_as(total).reshape(-1)  # (N,)
    return LeadScores(total.reshape(-1), advantages.reshape(-1), keep, metrics)


def lead_batch(rewards_per_func, lengths, group_size, reward_weights, lead, acc_col, fmt_col=None, rep_col=None,
               scale=True) -> tuple[torch.Tensor, dict[str, float]]:
    """The advantages (N,) and ``lead/*`` metrics of :func:`lead_scores` (same arguments)."""
    scores = lead_scores(rewards_per_func, lengths, group_size, reward_weights, lead, acc_col, fmt_col, rep_col,
                         scale)
    return scores.advantages, scores.metrics


@torch.no_grad()
def remove_rows(batch: dict, keep: torch.Tensor) -> torch.Tensor:
    """Take rows out of the loss: zero their ``completion_mask`` in ``batch`` (in place).

    TRL's loss (trl 1.14.2 ``_compute_loss``) multiplies every per-token term by that mask and,
    for the loss types in :data:`lead_lite.config.GROUP_REMOVAL_LOSS_TYPES`, divides by the number
    of unmasked tokens (``bnpo``: of the micro-batch; ``dapo`` / ``cispo``: ``num_items_in_batch``,
    which the caller sets from the returned count). So the loss equals the loss of the batch with
    those rows deleted, as the official trainer's ``rejection_sample`` deletes them.

    Args:
        batch: TRL's scored batch; ``completion_mask`` is (N_local, T), ``tool_mask`` optional.
        keep: (N_local,) bool, False for a row to remove.

    Returns:
        the number of tokens the loss still counts (a 0-dim tensor).

    Example (rows of 3, 2 and 4 tokens; the middle one removed):
        >>> b = {"completion_mask": torch.tensor([[1, 1, 1, 0], [1, 1, 0, 0], [1, 1, 1, 1]])}
        >>> remove_rows(b, torch.tensor([True, False, True])), b["completion_mask"][1]
        (tensor(7), tensor([0, 0, 0, 0]))
    """
    mask = batch["completion_mask"]  # (N_local, T)
    batch["completion_mask"] = mask * keep.to(mask.device, mask.dtype).unsqueeze(1)
    loss_mask = batch["completion_mask"] if "tool_mask" not in batch else batch["completion_mask"] * batch["tool_mask"]
    return loss_mask.sum()


@torch.no_grad()
def reward_stats(rewards: torch.Tensor, group_size: int) -> dict[str, float]:
    """TRL's ``reward``, ``reward_std`` and ``frac_reward_zero_std``, computed from LEAD's rewards.

    Args:
        rewards: (N,) rewards, NaN for unjudgeable completions; whole groups of ``group_size``.

    Returns:
        the mean and sample std (n - 1) of the judged rewards, and the share of groups whose judged
        rewards are all equal (no spread; such a group carries no signal).

    Example:
        >>> {k: round(v, 4) for k, v in reward_stats(torch.tensor([1.0, -1.0, 0.5, 0.5]), 2).items()}
        {'reward': 0.25, 'reward_std': 0.866, 'frac_reward_zero_std': 0.5}
    """
    valid = ~torch.isnan(rewards)  # (N,)
    judged = rewards[valid]
    flat = ~ds.informative_groups(rewards.view(-1, group_size))  # (P,)
    return {
        "reward": float(judged.mean()) if judged.numel() else math.nan,
        "reward_std": float(judged.std()) if judged.numel() > 1 else math.nan,
        "frac_reward_zero_std": float(flat.float().mean()),
    }


def _metrics(correct, lens, rewards, advantages, lead: LeadArguments) -> dict[str, float]:
    """Batch summaries logged as ``lead/*``; NaN-safe (a metric with no samples is NaN)."""
    rho = adv.group_accuracy(correct)  # (P, 1)
    is_c, is_w = correct == 1.0, correct == 0.0  # (P, G)

    def mean(x, mask):
        return float(x[mask].mean()) if mask.any() else float("nan")

    weight = adv.difficulty_weight(rho, lead.weight_A, lead.weight_B, lead.weight_k, lead.weight_rho0)
    return {
        "lead/accuracy": mean(correct, ~torch.isnan(correct)),
        "lead/unjudgeable_frac": float(torch.isnan(correct).float().mean()),
        "lead/solved_all_frac": float((rho == 1).float().mean()),
        "lead/solved_none_frac": float((rho == 0).float().mean()),
        "lead/difficulty_weight": mean(weight, ~torch.isnan(rho)) if lead.difficulty_reweight else 1.0,
        "lead/length_correct": mean(lens, is_c),
        "lead/length_incorrect": mean(lens, is_w),
        "lead/reward": mean(rewards, ~torch.isnan(rewards)),
        "lead/reward_correct": mean(rewards, is_c),
        "lead/reward_incorrect": mean(rewards, is_w),
        "lead/zero_advantage_groups": float((advantages.abs().amax(dim=1) == 0).float().mean()),
    }


@functools.cache
def _build(base: type) -> type:
    return type("LeadGRPOTrainer", (LeadMixin, base), {"__doc__": LeadMixin.__doc__})


def lead_trainer_class(base: type | None = None) -> type:
    """The LEAD trainer class over ``base`` (default: the current ``trl.GRPOTrainer``).

    Call it after ``import unsloth`` to subclass Unsloth's patched trainer.
    """
    if base is None:
        import trl

        base = trl.GRPOTrainer
    return _build(base)
