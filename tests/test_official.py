"""The official code's behaviours, each against a hand-computed example or a literal reference.

The reference functions below are written from the official repository (aeroplanepaper/GRPO-LEAD):
``deepscaler/rewards/math_reward.py`` (``deepscaler_reward_fn``, ``max_continuous_ngram``,
``find_largest_word``), ``verl/verl/trainer/main_ppo.py`` (``RewardManager.__call__``,
``get_reweight_rewards``), ``verl/verl/trainer/ppo/core_algos.py``
(``compute_grpo_outcome_advantage``) and ``ray_trainer.py`` (the ``rejection_sample`` filter),
one completion or group at a time, as loops.
"""

import logging
import math
import random

import pytest
import torch

from helpers import parse

from lead_lite import advantages as adv
from lead_lite import official
from lead_lite.config import ConfigError, LeadArguments
from lead_lite.console_log import ConsoleLine, format_line
from lead_lite.official import Repetition, ThinkEndAccuracy, ThinkEndHasAnswer, is_repetitive, longest_repeat_run
from lead_lite.tasks.math import MathTask
from lead_lite.trainer import lead_scores, remove_rows, reward_stats
from lead_lite.verifier import MathVerifier


# ---- literal references, one completion / one group at a time
def ref_repeat_run(text, max_ngram=30):
    words = text.split()
    best = 0
    for n in range(1, max_ngram + 1):
        if len(words) < n:
            continue
        segments = [tuple(words[i:i + n]) for i in range(0, len(words) - n + 1, n)]
        count = 1
        for i in range(1, len(segments)):
            if segments[i] == segments[i - 1]:
                count += 1
            else:
                if count > best and count >= 2:
                    best = count
                count = 1
        if count > best and count >= 2:
            best = count
    return best if best >= 2 else 0


def ref_last_boxed(text):
    idx = text.rfind("\\boxed")
    if idx < 0:
        return None
    depth = 0
    for i in range(idx, len(text)):
        if text[i] == "{":
            depth += 1
        elif text[i] == "}":
            depth -= 1
            if depth == 0:
                inner = text[idx:i + 1]
                return inner[len("\\boxed{"):-1] if inner.startswith("\\boxed{") else None
    return None


def ref_score(text, gold):
    """deepscaler_reward_fn on the completion, then RewardManager's mapping (-1 -> 0, 0 -> -1)."""
    answer = ref_last_boxed(text.split("</think>")[0]) if "</think>" in text else None
    if answer is None:  # format failure
        words = text.split()
        score = -2 if ref_repeat_run(text) >= 10 or (words and max(map(len, words)) >= 120) else -1
    else:
        score = int(answer == gold)
    return {-1: 0.0, 0: -1.0}.get(score, float(score))


def ref_group(scores, lengths):
    """get_reweight_rewards + compute_grpo_outcome_advantage + the rejection filter, one group."""
    rewards = list(scores)
    min1 = min2 = min3 = float("inf")
    for L in lengths:
        if L < min1:
            min1, min2, min3 = L, min1, min2
        elif L < min2:
            min2, min3 = L, min2
        elif L < min3:
            min3 = L
    if (min1 + min2 + min3) / 3 > 4000:
        ok = [i for i, r in enumerate(rewards) if r > 0]
        mu = sum(lengths[i] for i in ok) / len(ok) if ok else 0.0
        sd = math.sqrt(sum((lengths[i] - mu) ** 2 for i in ok) / (len(ok) - 1)) if len(ok) > 1 else 1.0
        for i in ok:
            rewards[i] = rewards[i] * math.exp(-0.05 * (lengths[i] - mu) / (sd + 1e-6))
    g = len(rewards)
    mean = sum(rewards) / g
    std = math.sqrt(sum((r - mean) ** 2 for r in rewards) / (g - 1))
    rho = sum(r > 0 for r in rewards) / g
    w = lambda x: 0.4 + 1.1 / (1 + math.exp(10.0 * (x - 0.75)))  # noqa: E731
    advs = []
    for r in rewards:
        a = (r - mean) / (std + 1e-6)
        advs.append(a * (w(rho) if a > 0 else w(1 - rho)))
    dropped = all(r <= 0 for r in rewards) or all(r == 1 for r in rewards)
    return rewards, advs, dropped


def official_pipeline(texts, gold, lengths, group):
    """texts -> the LEAD trainer's facts and maths under official_code."""
    lead = LeadArguments(official_code=True)
    task = MathTask(MathVerifier(), answer_before_think_end=lead.answer_before_think_end)
    funcs = task.reward_funcs(["accuracy", "format", "repetition"])
    cols = torch.tensor([[math.nan if v is None else v for v in f(completions=texts, answer=[gold] * len(texts))]
                         for f in funcs]).T  # (N, 3): accuracy, format, repetition
    return lead_scores(cols, torch.tensor(lengths, dtype=torch.float32), group, torch.tensor([1.0, 0.0, 0.0]),
                       lead, acc_col=0, fmt_col=1, rep_col=2)


# ---- the official code's own edge cases, end to end from text
RIGHT = "so 3+4=7, \\boxed{7}</think> The answer is \\boxed{7}."
EDGE_GROUPS = {
    "group of 2, both right": ([RIGHT, RIGHT], [162, 1288]),
    "all wrong (wrong, no </think>, looping, wrong)": (
        ["\\boxed{5}</think>", "\\boxed{7} but no end of thinking", "wait " * 12, "\\boxed{8}</think>"],
        [5000, 4500, 4200, 6000]),
    "all right, short": ([RIGHT] * 4, [100, 200, 300, 9000]),
    "all right, long": ([RIGHT] * 4, [4100, 4200, 4300, 4400]),
    "mixed: right, answer after </think>, a 130-char word, wrong": (
        [RIGHT, "</think> \\boxed{7}", "x" * 130 + " \\boxed{7}", "\\boxed{8}</think>"], [5000, 4500, 4200, 6000]),
}


@pytest.mark.parametrize("name", list(EDGE_GROUPS))
def test_official_switch_reproduces_the_official_rewards_and_advantages(name):
    texts, lengths = EDGE_GROUPS[name]
    scores = [ref_score(t, "7") for t in texts]
    ref_rewards, ref_advs, ref_dropped = ref_group(scores, lengths)
    got = official_pipeline(texts, "7", lengths, len(texts))
    assert got.rewards.tolist() == pytest.approx(ref_rewards, abs=1e-5)
    assert got.keep.tolist() == [not ref_dropped] * len(texts)
    expected = [0.0] * len(texts) if ref_dropped else ref_advs
    assert got.advantages.tolist() == pytest.approx(expected, abs=1e-5)


def test_hand_computed_official_values():
    # group of 2: mu = 725, sigma = 563 * sqrt(2), z = -+0.7071 -> exp(+-0.0354); never skipped (G < 3)
    two = official_pipeline([RIGHT, RIGHT], "7", [162, 1288], 2)
    assert two.rewards.tolist() == pytest.approx([1.0360, 0.9653], abs=1e-4)
    # normalised +-0.7071; rho = 1: positive x w(1) = 0.4834, negative x w(0) = 1.4994
    assert two.advantages.tolist() == pytest.approx([0.3418, -1.0602], abs=1e-4)
    assert two.keep.all()
    # scores of the mixed group: right 1, answer only after </think> 0, no </think> + long word -2, wrong -1
    texts, lengths = EDGE_GROUPS["mixed: right, answer after </think>, a 130-char word, wrong"]
    mixed = official_pipeline(texts, "7", lengths, 4)
    assert mixed.rewards.tolist() == [1.0, 0.0, -2.0, -1.0]  # one correct: z = 0, R = 1
    # the paper's settings on the same group: no answer is just wrong (-1)
    plain = adv.lead_rewards(torch.tensor([[1.0, 0.0, 0.0, 0.0]]), torch.tensor([lengths], dtype=torch.float32))
    assert plain.tolist() == [[1.0, -1.0, -1.0, -1.0]]


# ---- the text rules
def test_repetition_detector_thresholds():
    assert is_repetitive("wait " * 10) and not is_repetitive("wait " * 9)
    assert is_repetitive("y" * 120) and not is_repetitive("y" * 119)
    thirty = " ".join(f"w{i}" for i in range(30))
    assert is_repetitive((thirty + " ") * 10)  # a 30-gram 10 times
    thirty_one = " ".join(f"w{i}" for i in range(31))
    assert not is_repetitive((thirty_one + " ") * 10)  # n-grams stop at 30
    # the official partition starts at the first word: (a b) x 10 after one other word is seen as 9 pairs
    assert longest_repeat_run("x " + "a b " * 10) == 9 and not is_repetitive("x " + "a b " * 10)
    assert Repetition()(completions=["wait " * 12, [{"role": "assistant", "content": "so 4"}]]) == [1.0, 0.0]


@pytest.mark.parametrize("seed", range(30))
def test_repeat_run_matches_the_official_loop(seed):
    rng = random.Random(seed)
    vocab = ["a", "b", "c", "d"][: rng.randint(1, 4)]
    words = [rng.choice(vocab) for _ in range(rng.randint(0, 120))]
    if rng.random() < 0.5:  # splice in a repeated n-gram
        gram = [rng.choice(vocab) for _ in range(rng.randint(1, 6))]
        at = rng.randint(0, len(words))
        words[at:at] = gram * rng.randint(2, 14)
    text = " ".join(words)
    assert longest_repeat_run(text) == ref_repeat_run(text)


def test_repetition_detector_is_bounded():
    import time

    text = " ".join(str(i % 997) for i in range(300_000))  # > MAX_TEXT_CHARS; no run of 10
    start = time.perf_counter()
    assert not is_repetitive(text)
    assert time.perf_counter() - start < 5.0  # linear: about 0.1 s here; the cap bounds it


def test_missing_think_end_is_a_format_failure():
    texts = ["\\boxed{7}</think>", "\\boxed{7}", "</think>\\boxed{7}", "\\boxed{7} \\boxed{5}</think> \\boxed{8}"]
    assert ThinkEndHasAnswer()(completions=texts) == [1.0, 0.0, 0.0, 1.0]
    # the answer is the last \boxed{} before the first </think>: 5 in the last text
    assert ThinkEndAccuracy()(completions=texts, answer=["7"] * 4) == [1.0, 0.0, 0.0, 0.0]
    assert official.answer_region("a</think>b</think>c") == "a"


# ---- group-side rules
def test_small_groups_are_never_skipped():
    assert adv.skip_length_reward_mask(torch.tensor([[162.0, 1288.0]]), 4000).tolist() == [[False]]
    assert adv.skip_length_reward_mask(torch.tensor([[5.0]]), 4000).tolist() == [[False]]
    assert adv.skip_length_reward_mask(torch.tensor([[3999.0, 4000.0, 4001.0, 1.0e5]]), 4000).tolist() == [[True]]
    assert adv.skip_length_reward_mask(torch.tensor([[4000.0, 4000.0, 4001.0]]), 4000).tolist() == [[False]]
    rewards = adv.lead_rewards(torch.tensor([[1.0, 1.0]]), torch.tensor([[162.0, 1288.0]]), length_skip_below=4000)
    assert rewards[0].tolist() == pytest.approx([1.0360, 0.9653], abs=1e-4)


def test_repetition_score_needs_no_answer():
    c = torch.tensor([[1.0, 0.0, 0.0, 0.0]])  # right, wrong, no answer, no answer
    has = torch.tensor([[1.0, 1.0, 0.0, 0.0]])
    rep = torch.tensor([[1.0, 1.0, 1.0, 0.0]])  # all but the last repeat themselves
    n = torch.tensor([[10.0, 10.0, 10.0, 10.0]])
    r = adv.lead_rewards(c, n, has, rep, format_failure_reward=0.0, repetition_reward=-2.0)
    assert r.tolist() == [[1.0, -1.0, -2.0, 0.0]]
    with pytest.raises(ValueError, match="repetition_reward"):
        adv.lead_rewards(c, n, has, repetition_reward=-2.0)


def test_dr_grpo_scaling_keeps_the_difficulty_weights():
    cols = torch.tensor([[1.0], [1.0], [0.0], [0.0]])
    lead = LeadArguments(length_reward=False)
    scaled = lead_scores(cols, torch.ones(4), 4, torch.ones(1), lead, acc_col=0)
    unscaled = lead_scores(cols, torch.ones(4), 4, torch.ones(1), lead, acc_col=0, scale=False)
    # rewards 1, 1, -1, -1: mean 0, std 1.1547; rho = 0.5, w(0.5) = 1.4166 for both signs
    assert scaled.advantages.tolist() == pytest.approx([1.2268, 1.2268, -1.2268, -1.2268], abs=1e-4)
    assert unscaled.advantages.tolist() == pytest.approx([1.4166, 1.4166, -1.4166, -1.4166], abs=1e-4)


def test_group_removal_leaves_the_token_count():
    batch = {"completion_mask": torch.tensor([[1, 1, 1, 0], [1, 1, 1, 1], [1, 1, 0, 0], [1, 0, 0, 0]])}
    kept = remove_rows(batch, torch.tensor([True, True, False, False]))  # second group of 2 removed
    assert int(kept) == 3 + 4
    assert batch["completion_mask"][2:].sum() == 0 and batch["completion_mask"][:2].sum() == 7


def test_reward_stats_are_leads():
    stats = reward_stats(torch.tensor([1.0, 1.0, -1.0, -1.0, 1.0, 1.0, 1.0, 1.0]), 4)
    assert stats["reward"] == pytest.approx(0.5)
    assert stats["reward_std"] == pytest.approx(math.sqrt(6 / 7))
    assert stats["frac_reward_zero_std"] == pytest.approx(0.5)
    assert reward_stats(torch.tensor([math.nan, math.nan]), 2)["frac_reward_zero_std"] == 1.0


# ---- configuration
def test_official_code_switch_sets_every_behaviour():
    lead = LeadArguments(official_code=True)
    for name, value in official.OFFICIAL_CODE.items():
        assert getattr(lead, name) == value, name
    assert LeadArguments(official_code=True, length_skip_below=3000.0).length_skip_below == 3000.0
    assert LeadArguments().repetition_reward is None and not LeadArguments().drop_uninformative_groups


@pytest.mark.parametrize(
    "flags, field",
    [
        (["--scale_rewards", "batch"], "scale_rewards"),
        (["--official_code", "true", "--loss_type", "grpo"], "loss_type"),
        (["--drop_uninformative_groups", "true", "--loss_type", "dr_grpo"], "loss_type"),
        (["--repetition_reward", "1.0"], "repetition_reward"),
        (["--official_code", "true", "--prompt_format", "qwen3-no-think"], "answer_before_think_end"),
    ],
)
def test_settings_lead_cannot_honour_are_refused(flags, field, tmp_path):
    with pytest.raises(ConfigError, match=field):
        parse(["--model", "tiny", "--output_dir", str(tmp_path), *flags])


def test_dr_grpo_and_official_code_parse(tmp_path):
    _, lead, _, training = parse(["--model", "tiny", "--output_dir", str(tmp_path), "--scale_rewards", "none",
                                         "--official_code", "true"])
    assert training.scale_rewards == "none" and lead.repetition_reward == -2.0 and lead.answer_before_think_end


# ---- console
def test_console_line(caplog):
    logs = {"reward": 0.5, "lead/accuracy": 0.25, "lead/length_correct": float("nan"),
            "lead/difficulty_weight": 1.3, "lead/unjudgeable_frac": 0.125, "step_time": 0.5, "loss": 0.1}
    assert format_line(3, 0, logs) == ("step 3 | reward 0.500 | accuracy 25.0% | length(correct) n/a | weight 1.30 | "
                                      "unjudgeable 12.5% | 0.50 s/step")
    assert format_line(3, 10, {"train_runtime": 4.0}) is None

    class State:
        is_world_process_zero, global_step, max_steps = True, 3, 10

    with caplog.at_level(logging.INFO, logger="lead_lite.console_log"):
        ConsoleLine().on_log(None, State(), None, logs=logs)
    assert [r.getMessage() for r in caplog.records] == [format_line(3, 10, logs)]


# ---- inside the real trainer (tiny model, CPU)
class FixedFacts:
    """A fact column with fixed values, so that what LEAD must log is known in advance."""

    def __init__(self, name, values):
        self.__name__, self.values = name, values

    def __call__(self, completions, **kwargs):
        return list(self.values)


@pytest.fixture(scope="module")
def scored(tiny_path, tmp_path_factory):
    """A LEAD trainer that removes uninformative groups, and one scored batch of 2 groups of 4."""
    from lead_lite.config import resolve
    from lead_lite.models.loading import load_policy
    from lead_lite.tasks.arithmetic import ArithmeticTask, generate
    from lead_lite.training import build_trainer

    out = tmp_path_factory.mktemp("official")
    (config,) = resolve(
        ["--model", "tiny", "--output_dir", str(out), "--max_steps", "1", "--per_device_train_batch_size", "8",
         "--num_generations", "4", "--reward_weights", "1.0", "0.0", "--drop_uninformative_groups", "true",
         "--length_skip_below", "4000", "--loss_type", "dapo", "--log_completions", "true"])
    model, tokenizer, peft_config, _ = load_policy(config.model, config.training)
    # group 1 half right, group 2 all right: the tiny model's completions are far below 4000 tokens, so
    # the length reward is skipped, group 2's rewards are all 1 and it is removed
    facts = [FixedFacts("accuracy", [1.0, 1.0, 0.0, 0.0, 1.0, 1.0, 1.0, 1.0]), FixedFacts("format", [1.0] * 8)]

    class FixedTask(ArithmeticTask):
        REWARDS = {"accuracy": lambda task: facts[0], "format": lambda task: facts[1]}

    task = FixedTask(MathVerifier())
    rows = generate(8, seed=1)
    trainer = build_trainer(config, model, tokenizer, peft_config, task, rows)
    dataset = task.to_dataset(rows, tokenizer)
    trainer.model.train()
    output = trainer._generate_and_score_completions([dataset[0]] * 4 + [dataset[1]] * 4)
    return trainer, output


def test_trainer_logs_leads_rewards_and_advantages(scored):
    trainer, output = scored
    # group 1: rewards 1, 1, -1, -1 -> +-0.866 x w(0.5) = +-1.2268; group 2 removed: 0
    expected = [1.2268, 1.2268, -1.2268, -1.2268, 0.0, 0.0, 0.0, 0.0]
    assert output["advantages"].tolist() == pytest.approx(expected, abs=1e-4)
    metrics = trainer._metrics["train"]
    assert metrics["reward"][-1] == pytest.approx(0.5)  # TRL's own maths would log mean(1,1,0,0,1,1,1,1) = 0.75
    assert metrics["reward_std"][-1] == pytest.approx(math.sqrt(6 / 7))
    assert metrics["frac_reward_zero_std"][-1] == pytest.approx(0.5)
    assert metrics["lead/dropped_groups"][-1] == pytest.approx(0.5)
    assert list(trainer._logs["advantages"])[-8:] == pytest.approx(expected, abs=1e-4)
    assert list(trainer._logs["rewards"]["lead_reward"])[-8:] == [1.0, 1.0, -1.0, -1.0, 1.0, 1.0, 1.0, 1.0]
    assert len(trainer._logs["rewards"]["lead_reward"]) == len(trainer._logs["prompt"])  # the table's columns


def test_console_replaces_the_trainers_dump_of_each_log(scored):
    from transformers.trainer_callback import PrinterCallback, ProgressCallback

    trainer, _ = scored  # built by build_trainer, which installs the compact console
    kinds = [type(c) for c in trainer.callback_handler.callbacks]
    assert any(issubclass(k, ConsoleLine) for k in kinds)
    assert ProgressCallback not in kinds and PrinterCallback not in kinds
    bar = next(c for c in trainer.callback_handler.callbacks if isinstance(c, ProgressCallback))
    assert bar.on_log(trainer.args, trainer.state, trainer.control, logs={"loss": 1.0}) is None


def test_removed_groups_leave_the_loss_normaliser(scored):
    trainer, output = scored
    mask = output["completion_mask"]
    assert mask[4:].sum() == 0 and mask[:4].sum() > 0
    assert int(output["num_items_in_batch"]) == int(mask[:4].sum())
    # uneven advantages for the kept rows, so that their loss cannot vanish by symmetry
    batch = dict(output, advantages=torch.tensor([1.0, 0.5, -0.25, 2.0, 0.0, 0.0, 0.0, 0.0]))
    kept = {k: (v[:4] if isinstance(v, torch.Tensor) and v.dim() and v.size(0) == 8 else v)
            for k, v in batch.items()}  # the official trainer's batch: the removed rows deleted
    trainer.model.eval()  # no gradient accumulation factor in the normaliser
    try:
        for loss_type in ("dapo", "bnpo", "cispo", "grpo"):
            trainer.loss_type = loss_type
            with torch.no_grad():
                masked = float(trainer._compute_loss(trainer.model, dict(batch)))
                deleted = float(trainer._compute_loss(trainer.model, dict(kept)))
            if loss_type == "grpo":  # a mean over all 8 sequences: removed rows still count (so it is refused)
                assert masked == pytest.approx(deleted * 4 / 8, rel=1e-4, abs=1e-7)
            else:
                assert masked == pytest.approx(deleted, rel=1e-4, abs=1e-7), loss_type
            assert deleted != 0.0
    finally:
        trainer.loss_type = "dapo"
        trainer.model.train()
