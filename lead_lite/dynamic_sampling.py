"""Dynamic sampling: fill a step with groups that teach something (DAPO; verl ``algorithm.filter_groups``).

A group whose rewards are all equal has zero advantage under GRPO and LEAD alike: its generation
and its backward pass teach nothing. With ``dynamic_sampling`` the trainer keeps generating further
prompts, one generation call of the usual size at a time, until the step holds the wanted number
of informative groups or ``dynamic_sampling_max_rounds`` rounds have run; the step's batch keeps
its size (:mod:`lead_lite.trainer`, ``LeadMixin._fill_step``). This module holds the pure parts:
which groups are informative, which groups a step keeps, where the extra prompts come from.

Neither the paper nor the official GRPO-LEAD code does this; it is DAPO's dynamic sampling as verl
implements it, with two differences: the step keeps its batch size (groups beyond the informative
ones are filled in from the uninformative ones, zero advantage, so gradient accumulation and the
micro-batch split stay as they are), and when the bound on rounds is reached the step trains on
what it has instead of stopping the run.
"""

from __future__ import annotations

import torch

SEED_OFFSET = 0x5EED_D5  # the extra prompts' stream is seeded apart from the trainer's own sampler
MAX_POSITION = 1 << 48  # prompts drawn from the stream: far past any run, small enough for exact seeds


@torch.no_grad()
def informative_groups(rewards: torch.Tensor) -> torch.Tensor:
    """Groups whose judged rewards are not all equal: the groups with a nonzero advantage.

    Args:
        rewards: (P, G) the rewards the advantages are computed from (LEAD's, after the length
            and penalty terms and any weighted extra columns); NaN for an unjudgeable completion.

    Returns:
        (P,) bool. A group with fewer than two judged completions is not informative (nothing to
        compare), although LEAD, as the official code, gives a lone judged completion its reward as
        its advantage (:func:`lead_lite.advantages.grpo_advantages`).

    Example:
        >>> informative_groups(torch.tensor([[-1.0, -1.0], [1.0, -1.0], [0.97, 1.03], [float("nan"), 1.0]]))
        tensor([False,  True,  True, False])
    """
    if rewards.dim() != 2:
        raise ValueError(f"rewards must be (P, G); got shape {tuple(rewards.shape)}")
    judged = ~torch.isnan(rewards)  # (P, G)
    hi = torch.where(judged, rewards, -torch.inf).amax(dim=1)  # (P,)
    lo = torch.where(judged, rewards, torch.inf).amin(dim=1)  # (P,)
    spread = (hi - lo).nan_to_num(0.0, posinf=0.0, neginf=0.0)  # a group with nothing judged: no spread
    return (judged.sum(dim=1) >= 2) & ~torch.isclose(spread, torch.zeros_like(spread))


def plan_step(informative: list[torch.Tensor], slots: int) -> list[tuple[int, int]]:
    """Which generated groups a step trains on: the informative ones first, in the order they were
    generated, then uninformative ones (zero advantage) to keep the batch at ``slots`` groups.

    Args:
        informative: per generation round, (P,) bool as :func:`informative_groups` returns.
        slots: the step's number of groups (P).

    Returns:
        ``slots`` (round, group) pairs.

    Example (two rounds of 3 groups; the first round had one informative group):
        >>> plan_step([torch.tensor([False, True, False]), torch.tensor([True, False, True])], 3)
        [(0, 1), (1, 0), (1, 2)]
        >>> plan_step([torch.tensor([False, True, False])], 3)
        [(0, 1), (0, 0), (0, 2)]
    """
    generated = [(r, g) for r, flags in enumerate(informative) for g in range(flags.numel())]
    if len(generated) < slots:
        raise ValueError(f"{len(generated)} groups generated for a step of {slots}")
    useful = [(r, g) for r, g in generated if bool(informative[r][g])]
    filler = [(r, g) for r, g in generated if not bool(informative[r][g])]
    return (useful + filler)[:slots]


def plan_rows(plan: list[tuple[int, int]], group_size: int) -> list[tuple[int, int]]:
    """The step's completions in gathered order: (round, row in that round's gathered batch).

    Example:
        >>> plan_rows([(1, 0), (0, 1)], 2)
        [(1, 0), (1, 1), (0, 2), (0, 3)]
    """
    return [(r, g * group_size + j) for r, g in plan for j in range(group_size)]


def stream_indices(size: int, seed: int, start: int, count: int, shuffle: bool = True) -> list[int]:
    """Dataset indices ``start .. start + count - 1`` of the extra prompts' stream.

    The stream is a sequence of epochs, each a permutation of ``range(size)`` drawn from its own
    seed (or the dataset order when ``shuffle`` is false); it depends on nothing but its
    arguments, so every process computes the same prompts and a resumed run continues where the
    checkpoint's ``start`` left off.

    Example:
        >>> stream_indices(4, seed=0, start=0, count=6, shuffle=False)
        [0, 1, 2, 3, 0, 1]
        >>> a = stream_indices(10, seed=1, start=0, count=25)
        >>> a[7:19] == stream_indices(10, seed=1, start=7, count=12) and sorted(a[:10]) == list(range(10))
        True
    """
    if size < 1:
        raise ValueError("the training set is empty")
    if not 0 <= start <= MAX_POSITION:
        raise ValueError(f"start={start}: the stream holds positions 0 to {MAX_POSITION}")
    out: list[int] = []
    position = start
    while len(out) < count:
        epoch, offset = divmod(position, size)
        if shuffle:
            g = torch.Generator().manual_seed(((seed + SEED_OFFSET) * 1_000_003 + epoch) % (1 << 63))
            order = torch.randperm(size, generator=g).tolist()
        else:
            order = list(range(size))
        take = order[offset:offset + count - len(out)]
        out.extend(take)
        position += len(take)
    return out


def local_prompts(prompts: list[int], group_size: int, rank: int, n_local: int) -> list[int]:
    """This process's rows of one generation round: each prompt repeated ``group_size`` times in
    order, split into equal consecutive slices, as TRL's sampler lays out a generation batch.

    Example (3 prompts, groups of 2, two processes of 3 rows: the middle group is split):
        >>> local_prompts([7, 8, 9], 2, 0, 3), local_prompts([7, 8, 9], 2, 1, 3)
        ([7, 7, 8], [8, 9, 9])
    """
    rows = [p for p in prompts for _ in range(group_size)]
    return rows[rank * n_local:(rank + 1) * n_local]
