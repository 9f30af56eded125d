"""LEAD maths: the vectorised functions against a literal per-group loop written from the paper."""

import math
import random

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from lead_lite import advantages as adv


# ---- literal per-group reference, written from the paper / official code, one group at a time
def ref_group(correct, lengths, alpha=0.05, penalty=-1.0, A=0.4, B=1.5, k=10.0, rho0=0.75, eps=1e-6):
    judged = [i for i, c in enumerate(correct) if c is not None]
    ok = [i for i in judged if correct[i] == 1]
    rewards = [None] * len(correct)
    if ok:
        mu = sum(lengths[i] for i in ok) / len(ok)
        if len(ok) > 1:
            sigma = math.sqrt(sum((lengths[i] - mu) ** 2 for i in ok) / (len(ok) - 1))
        else:
            sigma = 1.0
    for i in judged:
        if correct[i] == 1:
            z = (lengths[i] - mu) / (sigma + eps)
            rewards[i] = math.exp(-alpha * z)
        else:
            rewards[i] = penalty
    vals = [rewards[i] for i in judged]
    if len(vals) > 1:
        m = sum(vals) / len(vals)
        s = math.sqrt(sum((v - m) ** 2 for v in vals) / (len(vals) - 1))
    else:
        m, s = 0.0, 1.0
    rho = len(ok) / len(judged) if judged else 0.5
    w = lambda r: A + (B - A) / (1 + math.exp(k * (r - rho0)))  # noqa: E731
    advs = []
    for i in range(len(correct)):
        if rewards[i] is None:
            advs.append(0.0)
            continue
        a = (rewards[i] - m) / (s + 1e-6)
        advs.append(a * (w(rho) if a > 0 else w(1 - rho)))
    return rewards, advs


def to_tensor(groups):
    return torch.tensor([[math.nan if c is None else float(c) for c in g] for g in groups])


@pytest.mark.parametrize("seed", range(20))
def test_vectorised_matches_literal_loop(seed):
    rng = random.Random(seed)
    P, G = rng.randint(1, 6), rng.randint(1, 9)
    correct = [[rng.choice([0, 1, 1, None]) if rng.random() < 0.9 else 1 for _ in range(G)] for _ in range(P)]
    lengths = [[rng.randint(1, 400) for _ in range(G)] for _ in range(P)]
    c, n = to_tensor(correct), torch.tensor(lengths, dtype=torch.float32)
    rewards = adv.length_regularized_reward(c, n)
    advantages = adv.lead_advantages(rewards, c)
    for p in range(P):
        ref_r, ref_a = ref_group(correct[p], lengths[p])
        for j in range(G):
            if ref_r[j] is None:
                assert math.isnan(rewards[p, j])
            else:
                assert rewards[p, j].item() == pytest.approx(ref_r[j], rel=1e-5, abs=1e-6)
            assert advantages[p, j].item() == pytest.approx(ref_a[j], rel=1e-4, abs=1e-5)


def test_single_correct_gets_one():
    r = adv.length_regularized_reward(torch.tensor([[1.0, 0.0, 0.0]]), torch.tensor([[50.0, 3.0, 9.0]]))
    assert r.tolist() == [[1.0, -1.0, -1.0]]


def test_all_correct_shorter_earns_more():
    r = adv.length_regularized_reward(torch.ones(1, 4), torch.tensor([[10.0, 20.0, 30.0, 40.0]]))
    assert r[0, 0] > r[0, 1] > 1.0 > r[0, 2] > r[0, 3]
    # all correct: rho = 1 -> positive advantages get the minimum-ish weight w(1)
    a = adv.lead_advantages(r, torch.ones(1, 4))
    g = adv.grpo_advantages(r)
    w1 = adv.difficulty_weight(torch.tensor(1.0)).item()
    w0 = adv.difficulty_weight(torch.tensor(0.0)).item()
    assert a[0, 0].item() == pytest.approx(g[0, 0].item() * w1, rel=1e-5)
    assert a[0, 3].item() == pytest.approx(g[0, 3].item() * w0, rel=1e-5)


def test_all_wrong_and_equal_lengths_carry_no_signal():
    c = torch.zeros(2, 4)
    r = adv.length_regularized_reward(c, torch.rand(2, 4) * 100)
    assert (r == -1).all()
    assert (adv.lead_advantages(r, c) == 0).all()
    # sigma = 0 among correct: z = 0, all rewards 1, no signal
    c1 = torch.ones(1, 3)
    r1 = adv.length_regularized_reward(c1, torch.full((1, 3), 7.0))
    assert torch.allclose(r1, torch.ones(1, 3))
    assert (adv.lead_advantages(r1, c1) == 0).all()


def test_unjudgeable_is_left_out():
    c = torch.tensor([[1.0, math.nan, 0.0, 1.0]])
    n = torch.tensor([[10.0, 1.0, 5.0, 30.0]])
    r = adv.length_regularized_reward(c, n)
    assert math.isnan(r[0, 1])
    a = adv.lead_advantages(r, c)
    assert a[0, 1] == 0
    # the unjudgeable one changes nothing for the others
    r2 = adv.length_regularized_reward(c[:, [0, 2, 3]], n[:, [0, 2, 3]])
    a2 = adv.lead_advantages(r2, c[:, [0, 2, 3]])
    assert torch.allclose(a[:, [0, 2, 3]], a2)
    assert adv.group_accuracy(c).item() == pytest.approx(2 / 3)


def test_all_unjudgeable_group_is_zero():
    c = torch.full((1, 3), math.nan)
    r = adv.length_regularized_reward(c, torch.ones(1, 3))
    assert torch.isnan(r).all()
    assert (adv.lead_advantages(r, c) == 0).all()


def test_group_of_one_uses_mean_zero_std_one():
    a = adv.grpo_advantages(torch.tensor([[0.7], [-1.0]]))
    assert a[:, 0].tolist() == pytest.approx([0.7 / (1 + 1e-6), -1.0 / (1 + 1e-6)])


def test_difficulty_weight_endpoints_and_monotone():
    rho = torch.linspace(0, 1, 11)
    w = adv.difficulty_weight(rho)
    assert (w[1:] <= w[:-1]).all()
    assert w[0].item() == pytest.approx(0.4 + 1.1 / (1 + math.exp(-7.5)))
    assert adv.difficulty_weight(torch.tensor(0.75)).item() == pytest.approx(0.95)


def test_penalty_only_matters_with_length_reward():
    c = torch.tensor([[1.0, 0.0, 1.0, 0.0]])
    n = torch.tensor([[10.0, 20.0, 30.0, 40.0]])
    binary_e = adv.grpo_advantages(adv.lead_rewards(c, n, length_reward=False, explicit_penalty=True))
    binary = adv.grpo_advantages(adv.lead_rewards(c, n, length_reward=False, explicit_penalty=False))
    assert torch.allclose(binary_e, binary, atol=1e-5)
    le = adv.grpo_advantages(adv.lead_rewards(c, n, explicit_penalty=True))
    l_only = adv.grpo_advantages(adv.lead_rewards(c, n, explicit_penalty=False))
    assert not torch.allclose(le, l_only, atol=1e-3)


def test_official_quirks():
    c = torch.tensor([[1.0, 1.0, 0.0, 0.0]])
    n = torch.tensor([[100.0, 300.0, 5000.0, 6000.0]])
    skipped = adv.lead_rewards(c, n, length_skip_below=4000)
    assert skipped[0, :2].tolist() == [1.0, 1.0]
    kept = adv.lead_rewards(c, n, length_skip_below=10)
    assert kept[0, 0] > 1.0
    has = torch.tensor([[1.0, 1.0, 0.0, 1.0]])
    fmt = adv.lead_rewards(c, n, has, format_failure_reward=0.0)
    assert fmt[0, 2:].tolist() == [0.0, -1.0]
    with pytest.raises(ValueError, match="has_answer"):
        adv.lead_rewards(c, n, format_failure_reward=0.0)
    drop = adv.uninformative_groups(torch.tensor([[-1.0, 0.0], [1.0, 1.0], [1.1, -1.0], [math.nan, 1.0]]))
    assert drop[:, 0].tolist() == [True, True, False, True]


def test_shape_errors_name_the_argument():
    with pytest.raises(ValueError, match="correct"):
        adv.length_regularized_reward(torch.ones(3), torch.ones(3))
    with pytest.raises(ValueError, match="lengths"):
        adv.length_regularized_reward(torch.ones(1, 3), torch.ones(1, 2))


groups = st.integers(1, 4).flatmap(
    lambda P: st.integers(2, 8).flatmap(
        lambda G: st.tuples(
            st.lists(st.lists(st.sampled_from([0.0, 1.0, math.nan]), min_size=G, max_size=G), min_size=P, max_size=P),
            st.lists(st.lists(st.integers(1, 5000), min_size=G, max_size=G), min_size=P, max_size=P),
        )
    )
)


@settings(max_examples=150, deadline=None)
@given(groups)
def test_invariants(data):
    correct, lengths = torch.tensor(data[0]), torch.tensor(data[1], dtype=torch.float32)
    r = adv.length_regularized_reward(correct, lengths)
    ok = correct == 1
    # correct rewards are positive, incorrect ones are the penalty, unjudgeable stay NaN
    assert (r[ok] > 0).all()
    assert (r[correct == 0] == -1).all()
    assert torch.isnan(r[torch.isnan(correct)]).all()
    a = adv.lead_advantages(r, correct)
    assert torch.isfinite(a).all()
    assert (a[torch.isnan(correct)] == 0).all()
    # reweighting never flips a sign and scales by a factor within [A, B]
    g = adv.grpo_advantages(r)
    assert ((a * g) >= 0).all()
    nz = g.abs() > 1e-6
    ratio = a[nz] / g[nz]
    assert (ratio >= 0.4 - 1e-5).all() and (ratio <= 1.5 + 1e-5).all()
    # within a group, shorter correct completions never earn less than longer ones
    for p in range(r.shape[0]):
        idx = [j for j in range(r.shape[1]) if ok[p, j]]
        for i in idx:
            for j in idx:
                if lengths[p, i] < lengths[p, j]:
                    assert r[p, i] >= r[p, j]


def test_estimator_registry():
    assert set(adv.ADVANTAGE_ESTIMATORS) == {"grpo", "lead"}
    r = torch.tensor([[1.0, -1.0, -1.0, -1.0]])
    c = torch.tensor([[1.0, 0.0, 0.0, 0.0]])
    assert torch.allclose(adv.ADVANTAGE_ESTIMATORS["grpo"](r, c), adv.grpo_advantages(r))
    assert torch.allclose(adv.ADVANTAGE_ESTIMATORS["lead"](r, c), adv.lead_advantages(r, c))
