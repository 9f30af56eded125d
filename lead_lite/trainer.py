"""GRPO-LEAD inside TRL's GRPOTrainer: a thin, declared seam.

The LEAD trainer overrides two methods of TRL's ``GRPOTrainer`` (trl 1.14.2) for LEAD, and one
for safe resumption, and calls ``super()`` in each, so whatever Unsloth patches into them keeps
running:

- ``_calculate_rewards``: after TRL has run the reward functions and gathered their columns over
  all processes (whole groups, row = group * G + j), remember those columns and gather the
  completion lengths the same way. Nothing is changed.
- ``_generate_and_score_completions``: after TRL has built the batch, compute the LEAD rewards
  and advantages over whole groups with the pure functions of :mod:`lead_lite.advantages`,
  replace this process's slice of ``"advantages"``, and log ``lead/*`` metrics.
- ``_save_checkpoint`` (:class:`lead_lite.checkpoints.MarkedCheckpoints`): after the Trainer has
  written a checkpoint, mark it complete once every process is done, and only then rotate older
  checkpoints away; ``--resume_from_checkpoint last`` resumes from the newest marked one, so a run
  killed while saving never resumes from a partial checkpoint.

Per-group statistics (mu, sigma, rho) are therefore computed where every group is complete,
never inside a per-sample reward function. The reward functions report facts per completion:
the ``accuracy`` column (1 / 0 / None) and optionally the ``format`` column (has an answer).
Other reward columns, weighted by ``reward_weights``, are added to the LEAD reward.

The class is built against whatever ``trl.GRPOTrainer`` is at call time, so creating it after
``import unsloth`` (which swaps in ``UnslothGRPOTrainer``) subclasses Unsloth's trainer.
"""

from __future__ import annotations

import functools

import torch

from lead_lite import advantages as adv
from lead_lite import checkpoints
from lead_lite.config import LeadArguments
from lead_lite.rewards import ACCURACY, FORMAT


class LeadMixin(checkpoints.MarkedCheckpoints):
    """The overrides; mixed in front of a ``GRPOTrainer`` class by :func:`lead_trainer_class`."""

    def __init__(self, *args, lead: LeadArguments | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.lead = lead or LeadArguments()
        names = list(self.reward_func_names)
        if ACCURACY not in names:
            raise ValueError(f"GRPO-LEAD needs a reward function named {ACCURACY!r}; got {names}")
        if self.args.scale_rewards != "group" or self.args.multi_objective_aggregation != "sum_then_normalize":
            raise ValueError("GRPO-LEAD normalises per group: use scale_rewards='group', "
                             "multi_objective_aggregation='sum_then_normalize'")
        self._acc_col = names.index(ACCURACY)
        self._fmt_col = names.index(FORMAT) if FORMAT in names else None
        if self.lead.format_failure_reward is not None and self._fmt_col is None:
            raise ValueError(f"format_failure_reward needs a reward function named {FORMAT!r}")
        self._lead_seen = None  # (rewards_per_func (N, F), lengths (N,)) of the current batch

    def _calculate_rewards(self, inputs, prompts, completions, completion_ids_list):
        rewards_per_func = super()._calculate_rewards(inputs, prompts, completions, completion_ids_list)  # (N, F)
        lengths = torch.tensor([len(ids) for ids in completion_ids_list], dtype=torch.float32,
                               device=rewards_per_func.device)  # (N_local,)
        self._lead_seen = (rewards_per_func, self.accelerator.gather(lengths))  # gathered: (N,), N = P * G
        return rewards_per_func

    def _generate_and_score_completions(self, inputs):
        self._lead_seen = None
        output = super()._generate_and_score_completions(inputs)
        if self._lead_seen is None:
            raise RuntimeError(
                "GRPO-LEAD: _calculate_rewards was not called while scoring completions; the installed "
                "trainer does not use TRL's reward seam (check the pinned trl / unsloth versions)"
            )
        rewards_per_func, lengths = self._lead_seen
        self._lead_seen = None
        mode = "train" if self.model.training else "eval"
        group = self.num_generations if mode == "train" else self.num_generations_eval
        advantages, metrics = lead_batch(rewards_per_func, lengths, group, self.reward_weights, self.lead,
                                         self._acc_col, self._fmt_col)  # (N,)
        n_local = output["completion_ids"].size(0)
        start = self.accelerator.process_index * n_local
        output["advantages"] = advantages[start : start + n_local].to(output["advantages"].device)
        for name, value in metrics.items():
            self._metrics[mode][name].append(value)
        return output


@torch.no_grad()
def lead_batch(
    rewards_per_func: torch.Tensor,
    lengths: torch.Tensor,
    group_size: int,
    reward_weights: torch.Tensor,
    lead: LeadArguments,
    acc_col: int,
    fmt_col: int | None = None,
) -> tuple[torch.Tensor, dict[str, float]]:
    """Route one gathered batch through the LEAD functions.

    Args:
        rewards_per_func: (N, F) reward columns, N = P * G, whole groups in order.
        lengths: (N,) completion lengths in tokens.
        group_size: G.
        reward_weights: (F,) TRL's reward weights.
        lead: the LEAD switches and constants.
        acc_col: index of the ``accuracy`` column; fmt_col: of the ``format`` column, if any.

    Returns:
        advantages (N,) and the ``lead/*`` metrics of the batch.
    """
    n, n_funcs = rewards_per_func.shape
    if n % group_size:
        raise ValueError(f"{n} completions do not form whole groups of {group_size}")
    cols = rewards_per_func.float().cpu()  # (N, F)
    correct = cols[:, acc_col].view(-1, group_size)  # (P, G)
    lens = lengths.float().cpu().view(-1, group_size)  # (P, G)
    has_answer = cols[:, fmt_col].view(-1, group_size) if fmt_col is not None else None  # (P, G)
    rewards = adv.lead_rewards(
        correct, lens, has_answer,
        length_reward=lead.length_reward, explicit_penalty=lead.explicit_penalty, alpha=lead.alpha,
        penalty=lead.penalty, eps=lead.length_eps, format_failure_reward=lead.format_failure_reward,
        length_skip_below=lead.length_skip_below,
    )  # (P, G)
    weights = reward_weights.float().cpu()  # (F,)
    others = [j for j in range(n_funcs) if j != acc_col]
    total = rewards * weights[acc_col]  # (P, G)
    if others:
        extra = (cols[:, others] * weights[others]).nansum(dim=1).view(-1, group_size)  # (P, G)
        total = total + extra  # NaN (unjudgeable) stays NaN
    estimator = adv.ADVANTAGE_ESTIMATORS["lead" if lead.difficulty_reweight else "grpo"]
    advantages = estimator(total, correct, eps=lead.adv_eps, A=lead.weight_A, B=lead.weight_B,
                           k=lead.weight_k, rho0=lead.weight_rho0)  # (P, G)
    if lead.drop_uninformative_groups:
        advantages = advantages.masked_fill(adv.uninformative_groups(total), 0.0)
    return advantages.reshape(-1), _metrics(correct, lens, rewards, advantages, lead)


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
