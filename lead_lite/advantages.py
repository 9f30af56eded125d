"""GRPO-LEAD maths: rewards and advantages as pure, vectorised, no-grad tensor functions.

Every function takes whole groups laid out as (P, G) tensors: P prompts, G completions per
prompt (row p holds the G completions of prompt p). Nothing here knows about TRL, processes or
models; the trainer only routes tensors into these functions.

Correctness is a float tensor with 1.0 (correct), 0.0 (incorrect) and NaN (unjudgeable: the
verifier timed out or the gold answer did not parse). Unjudgeable completions are left out of
every group statistic and get a NaN reward and a zero advantage.

Paper: Zhang & Zuo, "GRPO-LEAD", arXiv 2504.09696 (EMNLP 2025), Section 3.
Constants: the official code, github.com/aeroplanepaper/GRPO-LEAD (verl fork, May 2025):
``verl/verl/trainer/main_ppo.py`` (``get_reweight_rewards``) and
``verl/verl/trainer/ppo/core_algos.py`` (``logistic_reweight``).
"""

from __future__ import annotations

import math

import torch

# Defaults, each read from the official repository (see module docstring).
ALPHA = 0.05  # length-reward temperature alpha (main_ppo.py, get_reweight_rewards)
LENGTH_EPS = 1e-6  # eps in z = (|o| - mu) / (sigma + eps) (main_ppo.py)
PENALTY = -1.0  # reward of an incorrect answer (paper Sec. 3.2, "explicit penalty")
WEIGHT_A = 0.4  # A: minimum difficulty weight (core_algos.py, logistic_reweight)
WEIGHT_B = 1.5  # B: maximum difficulty weight (core_algos.py)
WEIGHT_K = 10.0  # k: logistic steepness (core_algos.py)
WEIGHT_RHO0 = 0.75  # rho0: logistic midpoint (core_algos.py)
ADV_EPS = 1e-6  # eps in (R - mean) / (std + eps) (core_algos.py)


def _check_groups(name: str, x: torch.Tensor) -> None:
    if x.dim() != 2:
        raise ValueError(f"{name} must be a (P, G) tensor, got shape {tuple(x.shape)}")


def _group_count(mask: torch.Tensor) -> torch.Tensor:
    """(P, G) bool -> (P, 1) float count of True per group."""
    return mask.sum(dim=1, keepdim=True).to(torch.float64)


@torch.no_grad()
def length_regularized_reward(
    correct: torch.Tensor,
    lengths: torch.Tensor,
    alpha: float = ALPHA,
    penalty: float = PENALTY,
    eps: float = LENGTH_EPS,
) -> torch.Tensor:
    """Length-dependent accuracy reward with an explicit penalty (paper Eq. 2-3).

    Over the correct completions of each group, mu and sigma are the mean and the sample
    standard deviation (n - 1) of their token lengths; sigma = 1 when only one is correct
    (official code). A correct completion o earns ``exp(-alpha * z)`` with
    ``z = (|o| - mu) / (sigma + eps)``; an incorrect one earns ``penalty`` (-1 in GRPO-LEAD,
    0 reproduces the paper's GRPO+L); an unjudgeable one (NaN) stays NaN.

    Args:
        correct: (P, G) float, 1.0 correct / 0.0 incorrect / NaN unjudgeable.
        lengths: (P, G) completion lengths in tokens.
        alpha: temperature alpha > 0; alpha = 0 gives the binary reward 1 / penalty.
        penalty: reward of an incorrect completion.
        eps: eps added to sigma.

    Returns:
        (P, G) float32 rewards.

    Example:
        >>> c = torch.tensor([[1.0, 1.0, 0.0]]); n = torch.tensor([[10.0, 30.0, 5.0]])
        >>> length_regularized_reward(c, n, alpha=0.05).round(decimals=4)
        tensor([[ 1.0360,  0.9653, -1.0000]])
    """
    _check_groups("correct", correct)
    if lengths.shape != correct.shape:
        raise ValueError(f"lengths {tuple(lengths.shape)} must match correct {tuple(correct.shape)}")
    c = correct.to(torch.float64)  # (P, G)
    n = lengths.to(torch.float64)  # (P, G)
    is_correct = c == 1.0  # (P, G); NaN compares False
    n_c = _group_count(is_correct)  # (P, 1)
    mu = torch.where(is_correct, n, 0.0).sum(1, keepdim=True) / n_c.clamp(min=1)  # (P, 1)
    sq = torch.where(is_correct, (n - mu) ** 2, 0.0).sum(1, keepdim=True)  # (P, 1)
    sigma = torch.where(n_c > 1, (sq / (n_c - 1).clamp(min=1)).sqrt(), torch.ones_like(sq))  # (P, 1)
    z = (n - mu) / (sigma + eps)  # (P, G)
    rewards = torch.where(is_correct, torch.exp(-alpha * z), torch.full_like(n, penalty))  # (P, G)
    rewards = torch.where(torch.isnan(c), torch.full_like(n, math.nan), rewards)
    return rewards.to(torch.float32)


@torch.no_grad()
def skip_length_reward_mask(lengths: torch.Tensor, min_short_tokens: float) -> torch.Tensor:
    """Official-code quirk: groups whose three shortest completions average <= a threshold.

    ``get_reweight_rewards`` in the official repository (``verl/verl/trainer/main_ppo.py``) leaves
    a group's correct rewards at 1 (no length reweighting) when the mean of the three shortest
    completions of the group (all completions, correct or not) is <= 4000 tokens. It tracks the
    three minima in a loop that starts them at infinity, so a group of fewer than 3 completions
    averages to infinity and is never skipped. Not in the paper's equations.

    Args:
        lengths: (P, G) completion lengths.
        min_short_tokens: the threshold (4000 in the official code).

    Returns:
        (P, 1) bool, True where the length reward is skipped (always False when G < 3).

    Example:
        >>> skip_length_reward_mask(torch.tensor([[100.0, 200.0, 300.0, 9000.0]]), 4000)
        tensor([[True]])
        >>> skip_length_reward_mask(torch.tensor([[162.0, 1288.0]]), 4000)  # G = 2: never skipped
        tensor([[False]])
    """
    _check_groups("lengths", lengths)
    if lengths.shape[1] < 3:
        return torch.zeros(lengths.shape[0], 1, dtype=torch.bool)
    shortest = lengths.to(torch.float64).topk(3, dim=1, largest=False).values  # (P, 3)
    return shortest.mean(dim=1, keepdim=True) <= min_short_tokens


@torch.no_grad()
def difficulty_weight(
    rho: torch.Tensor,
    A: float = WEIGHT_A,
    B: float = WEIGHT_B,
    k: float = WEIGHT_K,
    rho0: float = WEIGHT_RHO0,
) -> torch.Tensor:
    """Logistic difficulty weight w(rho) = A + (B - A) / (1 + exp(k (rho - rho0))) (paper Eq. 5).

    High (towards B) for hard prompts (low accuracy rho), low (towards A) for easy ones.

    Args:
        rho: any-shape tensor of group accuracies in [0, 1].
        A, B: the weight's lower and upper bounds (A <= B).
        k: steepness; rho0: midpoint.

    Returns:
        a tensor shaped like ``rho``.

    Example:
        >>> difficulty_weight(torch.tensor([0.0, 0.75, 1.0])).round(decimals=4)
        tensor([1.4994, 0.9500, 0.4834])
    """
    return A + (B - A) / (1.0 + torch.exp(k * (rho - rho0)))


@torch.no_grad()
def group_accuracy(correct: torch.Tensor) -> torch.Tensor:
    """rho_q: share of the judged completions of each group that are correct.

    Args:
        correct: (P, G) float, 1.0 / 0.0 / NaN.

    Returns:
        (P, 1) float32; NaN for a group with no judged completion.

    Example:
        >>> group_accuracy(torch.tensor([[1.0, 0.0, float("nan"), 1.0]]))
        tensor([[0.6667]])
    """
    _check_groups("correct", correct)
    return torch.nanmean(correct.to(torch.float64), dim=1, keepdim=True).to(torch.float32)


@torch.no_grad()
def grpo_advantages(
    rewards: torch.Tensor,
    correct: torch.Tensor | None = None,
    eps: float = ADV_EPS,
    scale: bool = True,
    **_unused: float,
) -> torch.Tensor:
    """Group-normalised GRPO advantages A_i = (R_i - mean(R)) / (std(R) + eps) (paper Eq. 1).

    std is the sample standard deviation (n - 1) over the judged completions of the group;
    a group with a single judged completion uses mean 0 and std 1 (official code), so its
    advantage is its reward. NaN rewards (unjudgeable) get advantage 0. With ``scale=False``
    (Dr. GRPO, TRL's ``scale_rewards: none``) the advantage is ``R_i - mean(R)``: no division
    by the group's std.

    Args:
        rewards: (P, G) float rewards, NaN for unjudgeable completions.
        correct: unused; accepted so every estimator shares one signature.
        eps: eps added to the std.
        scale: divide by the group's std (True) or not (False, Dr. GRPO).

    Returns:
        (P, G) float32 advantages.

    Example:
        >>> grpo_advantages(torch.tensor([[1.0, -1.0, -1.0, 1.0]])).round(decimals=4)
        tensor([[ 0.8660, -0.8660, -0.8660,  0.8660]])
        >>> grpo_advantages(torch.tensor([[1.0, -1.0, -1.0, 1.0]]), scale=False)
        tensor([[ 1., -1., -1.,  1.]])
    """
    _check_groups("rewards", rewards)
    r = rewards.to(torch.float64)  # (P, G)
    valid = ~torch.isnan(r)  # (P, G)
    n = _group_count(valid)  # (P, 1)
    mean = torch.where(valid, r, 0.0).sum(1, keepdim=True) / n.clamp(min=1)  # (P, 1)
    var = torch.where(valid, (r - mean) ** 2, 0.0).sum(1, keepdim=True) / (n - 1).clamp(min=1)
    std = var.sqrt()  # (P, 1)
    single = n <= 1
    mean = torch.where(single, torch.zeros_like(mean), mean)
    std = torch.where(single, torch.ones_like(std), std)
    adv = (r - mean) / (std + eps) if scale else r - mean  # (P, G)
    return torch.nan_to_num(adv, nan=0.0).to(torch.float32)


@torch.no_grad()
def reweight_by_difficulty(
    advantages: torch.Tensor,
    rho: torch.Tensor,
    A: float = WEIGHT_A,
    B: float = WEIGHT_B,
    k: float = WEIGHT_K,
    rho0: float = WEIGHT_RHO0,
) -> torch.Tensor:
    """Scale positive advantages by w(rho) and the others by w(1 - rho) (paper Eq. 6).

    Args:
        advantages: (P, G) advantages.
        rho: (P, 1) group accuracies (NaN allowed: such groups must already have zero advantage).

    Returns:
        (P, G) float32.

    Example:
        >>> reweight_by_difficulty(torch.tensor([[1.0, -1.0]]), torch.tensor([[0.5]])).round(decimals=4)
        tensor([[ 1.4166, -1.4166]])
    """
    _check_groups("advantages", advantages)
    rho = torch.nan_to_num(rho.to(torch.float64), nan=0.5)  # (P, 1)
    w_pos = difficulty_weight(rho, A, B, k, rho0)  # (P, 1)
    w_neg = difficulty_weight(1.0 - rho, A, B, k, rho0)  # (P, 1)
    a = advantages.to(torch.float64)
    return (a * torch.where(a > 0, w_pos, w_neg)).to(torch.float32)


@torch.no_grad()
def lead_advantages(
    rewards: torch.Tensor,
    correct: torch.Tensor,
    eps: float = ADV_EPS,
    A: float = WEIGHT_A,
    B: float = WEIGHT_B,
    k: float = WEIGHT_K,
    rho0: float = WEIGHT_RHO0,
    scale: bool = True,
) -> torch.Tensor:
    """GRPO-LEAD advantages: group-normalised, then reweighted by difficulty (paper Eq. 1, 5, 6).

    rho_q is the share of the group's judged completions that are correct.

    Args:
        rewards: (P, G) rewards (NaN for unjudgeable).
        correct: (P, G) 1.0 / 0.0 / NaN.
        eps: eps of the normalisation; A, B, k, rho0: the logistic weight's constants.
        scale: divide by the group's std (False: Dr. GRPO, see :func:`grpo_advantages`).

    Returns:
        (P, G) float32 advantages.

    Example (rho = 0.5: normalised +-0.7071, positives x w(0.5) = 1.4166, negatives x w(0.5)):
        >>> lead_advantages(torch.tensor([[1.0, -1.0]]), torch.tensor([[1.0, 0.0]])).round(decimals=4)
        tensor([[ 1.0017, -1.0017]])
    """
    adv = grpo_advantages(rewards, eps=eps, scale=scale)  # (P, G)
    return reweight_by_difficulty(adv, group_accuracy(correct), A, B, k, rho0)


@torch.no_grad()
def uninformative_groups(rewards: torch.Tensor) -> torch.Tensor:
    """Official-code filter: groups whose judged rewards are all <= 0 or all == 1.

    The official training script drops such groups before the update. Not in the paper.

    Args:
        rewards: (P, G) rewards, NaN for unjudgeable.

    Returns:
        (P, 1) bool, True for a group to drop.

    Example:
        >>> uninformative_groups(torch.tensor([[-1.0, 0.0], [1.0, 1.0], [1.2, -1.0]]))
        tensor([[ True],
                [ True],
                [False]])
    """
    _check_groups("rewards", rewards)
    valid = ~torch.isnan(rewards)
    all_nonpos = torch.where(valid, rewards <= 0, True).all(dim=1, keepdim=True)
    all_one = torch.where(valid, rewards == 1, True).all(dim=1, keepdim=True)
    return all_nonpos | all_one


@torch.no_grad()
def lead_rewards(
    correct: torch.Tensor,
    lengths: torch.Tensor,
    has_answer: torch.Tensor | None = None,
    repeated: torch.Tensor | None = None,
    *,
    length_reward: bool = True,
    explicit_penalty: bool = True,
    alpha: float = ALPHA,
    penalty: float = PENALTY,
    eps: float = LENGTH_EPS,
    format_failure_reward: float | None = None,
    length_skip_below: float | None = None,
    repetition_reward: float | None = None,
) -> torch.Tensor:
    """The reward of each completion under the L / E switches (paper Sec. 3.1-3.2).

    - L on: correct completions earn ``exp(-alpha z)`` (:func:`length_regularized_reward`);
      L off: they earn 1.
    - E on: incorrect completions earn ``penalty``; E off: they earn 0.
    - ``format_failure_reward`` (official-code option): when set, completions without a final
      answer (``has_answer`` == 0) earn it instead of the incorrect-answer reward.
    - ``length_skip_below`` (official-code option): see :func:`skip_length_reward_mask`.
    - ``repetition_reward`` (official-code option, -2 there): when set, completions without a
      final answer that also repeat themselves (``repeated`` == 1, see
      :func:`lead_lite.official.is_repetitive`) earn it; it takes precedence over
      ``format_failure_reward``. A wrong answer that repeats itself is still just wrong.

    Note that with L off, E changes nothing after group normalisation: {1, -1} and {1, 0}
    normalise to the same advantages. E matters only together with L.

    Args:
        correct: (P, G) 1.0 / 0.0 / NaN.
        lengths: (P, G) completion lengths in tokens.
        has_answer: (P, G) 1.0 / 0.0, needed with ``format_failure_reward`` or ``repetition_reward``.
        repeated: (P, G) 1.0 / 0.0, needed only with ``repetition_reward``.

    Returns:
        (P, G) float32 rewards, NaN where ``correct`` is NaN.

    Example:
        >>> c = torch.tensor([[1.0, 0.0]]); n = torch.tensor([[10.0, 20.0]])
        >>> lead_rewards(c, n, explicit_penalty=False)
        tensor([[1., 0.]])
        >>> has = torch.tensor([[1.0, 0.0]]); rep = torch.tensor([[0.0, 1.0]])
        >>> lead_rewards(c, n, has, rep, format_failure_reward=0.0, repetition_reward=-2.0)
        tensor([[ 1., -2.]])
    """
    wrong = penalty if explicit_penalty else 0.0
    rewards = length_regularized_reward(correct, lengths, alpha if length_reward else 0.0, wrong, eps)  # (P, G)
    if length_reward and length_skip_below is not None:
        skip = skip_length_reward_mask(lengths, length_skip_below)  # (P, 1)
        rewards = torch.where(skip & (correct == 1.0), torch.ones_like(rewards), rewards)
    if format_failure_reward is not None:
        if has_answer is None:
            raise ValueError("format_failure_reward needs has_answer")
        no_answer = (has_answer == 0) & (correct == 0.0)  # (P, G)
        rewards = torch.where(no_answer, torch.full_like(rewards, format_failure_reward), rewards)
    if repetition_reward is not None:
        if has_answer is None or repeated is None:
            raise ValueError("repetition_reward needs has_answer and repeated")
        looping = (has_answer == 0) & (repeated == 1) & (correct == 0.0)  # (P, G)
        rewards = torch.where(looping, torch.full_like(rewards, repetition_reward), rewards)
    return rewards


# Names of the advantage estimators; every one takes (rewards, correct, eps=..., **constants).
ADVANTAGE_ESTIMATORS = {
    "grpo": grpo_advantages,
    "lead": lead_advantages,
}
