"""Dynamic sampling (``--dynamic_sampling true``): a step filled with informative groups.

A scripted stream of generations and rewards through the LEAD trainer's own code (over a stand-in
for the slice of TRL's trainer it uses), where the rounds, the groups kept and the advantages are
known by hand; then the real trainer on the tiny model: the same groups and advantages under two
processes as in one, a resumed run on the same trajectory, the console line and the report.
"""

import json
import math
import os
import shutil
import subprocess
import sys
from collections import defaultdict
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

from lead_lite import dynamic_sampling as ds
from lead_lite.config import ConfigError, LeadArguments
from lead_lite.run_log import read_metrics
from lead_lite.trainer import DYNAMIC_STATE, lead_scores, lead_trainer_class

REPO = Path(__file__).resolve().parent.parent
ACCELERATE_CONFIGS = REPO / "configs" / "accelerate"
# w(0.5) = 0.4 + 1.1 / (1 + exp(10 (0.5 - 0.75))) = 1.416555; a group [right, wrong] has rewards
# [1, -1] (explicit penalty, no length term), mean 0, sample std sqrt(2): advantages +-w(0.5) / sqrt(2)
MIXED = 1.416555 / math.sqrt(2)


class ScriptedTrainer:
    """The slice of TRL's GRPOTrainer that the LEAD trainer uses, one process, scripted.

    ``script`` maps a prompt to its group's outcomes, one letter per completion: R right, W wrong,
    ? unjudgeable. Completion j of prompt p reads ``p#j`` and is 3 + j tokens long.
    """

    def __init__(self, *, script, dataset, group, slots):
        self.script, self.train_dataset = script, dataset
        self.num_generations = self.num_generations_eval = group
        self.args = SimpleNamespace(scale_rewards="group", multi_objective_aggregation="sum_then_normalize",
                                    generation_batch_size=slots * group, seed=0, output_dir="unused")
        self.loss_type = "dapo"
        self.reward_func_names, self.reward_funcs = ["accuracy"], [object()]
        self.reward_weights = torch.ones(1)
        self.accelerator = SimpleNamespace(num_processes=1, process_index=0, gather=lambda t: t)
        self.model = SimpleNamespace(training=True)
        self.shuffle_dataset = False  # the extra prompts come in dataset order
        self._metrics = {"train": defaultdict(list), "eval": defaultdict(list)}
        self._logs = {"advantages": [], "rewards": defaultdict(list)}
        self.generated: list[list[str]] = []  # the prompts of every generation call

    def _generate(self, prompts):
        self.generated.append(list(prompts))
        g = self.num_generations
        completions = [f"{p}#{i % g}" for i, p in enumerate(prompts)]
        return ([[1]] * len(prompts), [[7] * (3 + i % g) for i in range(len(prompts))], None, completions, None,
                {}, None, [])

    def _calculate_rewards(self, inputs, prompts, completions, completion_ids_list):
        value = {"R": 1.0, "W": 0.0, "?": math.nan}
        outcome = [value[self.script[p][int(c.split("#")[1])]] for p, c in zip(prompts, completions, strict=True)]
        return torch.tensor(outcome).unsqueeze(1)  # (N, 1): the accuracy column

    def _generate_and_score_completions(self, inputs):
        prompts = [x["prompt"] for x in inputs]
        prompt_ids, completion_ids, _, completions, *_ = self._generate(prompts)
        self._calculate_rewards(inputs, prompts, completions, completion_ids)
        width = max(len(ids) for ids in completion_ids)
        mask = torch.tensor([[1] * len(ids) + [0] * (width - len(ids)) for ids in completion_ids])
        return {"completion_ids": mask.clone(), "completion_mask": mask, "advantages": torch.zeros(len(prompts)),
                "prompts": prompts, "completions": completions}


def _trainer(script, dataset, *, slots=3, group=2, **lead):
    lead = LeadArguments(**{"length_reward": False, "dynamic_sampling": True, **lead})
    return lead_trainer_class(ScriptedTrainer)(script=script, dataset=dataset, group=group, slots=slots, lead=lead)


def _rows(*prompts, group=2):
    return [{"prompt": p, "answer": "0"} for p in prompts for _ in range(group)]


SCRIPT = {
    "a0": "WW", "a1": "RW", "a2": "RR",  # step 1's batch: only a1 informative (RR: rewards 1, 1 without L)
    "b0": "WR", "b1": "WW", "b2": "RW",  # the extra stream, dataset order
    "b3": "WW", "b4": "??", "b5": "RW", "b6": "RR", "b7": "W?", "b8": "WW",
    "c0": "WW", "c1": "RR", "c2": "?W",  # step 2's batch: nothing informative
}
DATASET = [{"prompt": f"b{i}", "answer": "0"} for i in range(9)]


def test_scripted_stream_rounds_groups_and_advantages_by_hand():
    trainer = _trainer(SCRIPT, DATASET, dynamic_sampling_max_rounds=3)

    # step 1: round 1 has 1 informative group of 3; round 2 (b0 b1 b2) brings 2 more: stop, 3 found
    out = trainer._generate_and_score_completions(_rows("a0", "a1", "a2"))
    assert trainer.generated == [[r["prompt"] for r in _rows("a0", "a1", "a2")],
                                 [r["prompt"] for r in _rows("b0", "b1", "b2")]]  # the chosen ones are not regenerated
    assert out["completions"] == ["a1#0", "a1#1", "b0#0", "b0#1", "b2#0", "b2#1"]
    assert out["advantages"].tolist() == pytest.approx([MIXED, -MIXED, -MIXED, MIXED, MIXED, -MIXED], abs=1e-4)
    metrics = {k: v[-1] for k, v in trainer._metrics["train"].items()}
    assert metrics["dynamic/rounds"] == 2 and metrics["dynamic/prompts_sampled"] == 6
    assert metrics["dynamic/informative_share"] == pytest.approx(1 / 3)
    assert metrics["dynamic/groups_trained"] == 3 and metrics["dynamic/target_reached"] == 1
    assert metrics["frac_reward_zero_std"] == 0.0  # the trained batch holds informative groups only
    assert metrics["lead/generated_tokens"] == 2 * 3 * (3 + 4)  # two rounds of 3 groups of lengths 3 and 4
    assert trainer._stream_position == 3

    # step 2: nothing in rounds 1 and 2 (b3 b4 b5: b5 only), nor round 3 (b6 b7 b8): the bound stops it;
    # the step trains on b5 and fills up with round 1's uninformative groups (zero advantage)
    trainer.generated.clear()
    out = trainer._generate_and_score_completions(_rows("c0", "c1", "c2"))
    assert len(trainer.generated) == 3  # the bound
    assert out["completions"] == ["b5#0", "b5#1", "c0#0", "c0#1", "c1#0", "c1#1"]
    assert out["advantages"].tolist() == pytest.approx([MIXED, -MIXED, 0, 0, 0, 0], abs=1e-4)
    metrics = {k: v[-1] for k, v in trainer._metrics["train"].items()}
    assert metrics["dynamic/rounds"] == 3 and metrics["dynamic/prompts_sampled"] == 9
    assert metrics["dynamic/informative_share"] == 0 and metrics["dynamic/groups_trained"] == 1
    assert metrics["dynamic/target_reached"] == 0
    assert metrics["frac_reward_zero_std"] == pytest.approx(2 / 3)
    assert trainer._stream_position == 9


def test_fewer_groups_wanted_stop_earlier_and_keep_every_informative_group_found():
    trainer = _trainer(SCRIPT, DATASET, dynamic_sampling_groups=2, dynamic_sampling_max_rounds=4)
    out = trainer._generate_and_score_completions(_rows("c0", "c1", "c2"))
    # round 2 (b0 b1 b2) has 2 informative groups: enough
    assert out["completions"] == ["b0#0", "b0#1", "b2#0", "b2#1", "c0#0", "c0#1"]
    assert trainer._metrics["train"]["dynamic/rounds"][-1] == 2

    trainer = _trainer(SCRIPT, DATASET, dynamic_sampling_groups=1)
    out = trainer._generate_and_score_completions(_rows("a0", "a1", "a2"))
    assert len(trainer.generated) == 1  # one round, kept in the order it came
    assert out["completions"] == ["a1#0", "a1#1", "a0#0", "a0#1", "a2#0", "a2#1"]
    assert out["advantages"].tolist() == pytest.approx([MIXED, -MIXED, 0, 0, 0, 0], abs=1e-4)


def test_with_the_length_term_an_all_right_group_of_unequal_lengths_is_informative():
    trainer = _trainer(SCRIPT, DATASET, length_reward=True)  # lengths 3 and 4: rewards exp(-alpha z) differ
    out = trainer._generate_and_score_completions(_rows("a0", "a1", "a2"))
    assert out["completions"] == ["a1#0", "a1#1", "a2#0", "a2#1", "b0#0", "b0#1"]


def test_off_generates_once_and_an_evaluation_is_never_filled():
    plain = lead_trainer_class(ScriptedTrainer)(script=SCRIPT, dataset=DATASET, group=2, slots=3,
                                                lead=LeadArguments(length_reward=False))
    out = plain._generate_and_score_completions(_rows("c0", "c1", "c2"))
    assert len(plain.generated) == 1 and out["completions"][0] == "c0#0"
    assert not any(k.startswith("dynamic/") for k in plain._metrics["train"])

    trainer = _trainer(SCRIPT, DATASET)
    trainer.model.training = False
    trainer._generate_and_score_completions(_rows("c0", "c1", "c2"))
    assert len(trainer.generated) == 1


def test_informative_groups_edge_cases():
    nan = math.nan
    rewards = torch.tensor([[1.0, 1.0, 1.0], [nan, nan, nan], [nan, 1.0, nan], [nan, 1.0, -1.0],
                            [1.0, 1.0 + 1e-9, 1.0], [0.5, 0.5, 0.25], [-1.0, -1.0, -1.0]])
    assert ds.informative_groups(rewards).tolist() == [False, False, False, True, False, True, False]
    with pytest.raises(ValueError, match="P, G"):
        ds.informative_groups(torch.zeros(4))


def test_plan_and_stream():
    with pytest.raises(ValueError, match="2 groups generated for a step of 3"):
        ds.plan_step([torch.tensor([True, False])], 3)
    assert ds.stream_indices(3, seed=5, start=0, count=9, shuffle=False) == [0, 1, 2] * 3
    drawn = ds.stream_indices(5, seed=5, start=0, count=15)
    assert all(sorted(drawn[i:i + 5]) == list(range(5)) for i in (0, 5, 10))  # each epoch a permutation
    assert drawn != ds.stream_indices(5, seed=6, start=0, count=15)
    assert ds.stream_indices(5, seed=5, start=4, count=7) == drawn[4:11]
    with pytest.raises(ValueError, match="empty"):
        ds.stream_indices(0, seed=0, start=0, count=1)
    with pytest.raises(ValueError, match="start="):
        ds.stream_indices(5, seed=0, start=ds.MAX_POSITION + 1, count=1)
    assert len(ds.stream_indices(5, seed=2**32 - 1, start=ds.MAX_POSITION - 2, count=3)) == 3  # exact seeds
    # a round's prompts laid out over processes as TRL's sampler lays out a generation batch
    both = ds.local_prompts([3, 1, 4], 4, 0, 6) + ds.local_prompts([3, 1, 4], 4, 1, 6)
    assert both == [3, 3, 3, 3, 1, 1, 1, 1, 4, 4, 4, 4]


def test_lead_scores_of_chosen_rows_equal_scores_of_their_groups_alone():
    """Groups are independent under LEAD: scoring the chosen groups together gives each group the
    advantages it had in its own round (what lets the trainer judge once and choose after)."""
    torch.manual_seed(0)
    correct = (torch.rand(6, 4) > 0.5).float()
    lengths = torch.randint(5, 50, (6, 4)).float()
    lead = LeadArguments()
    whole = lead_scores(correct.reshape(-1, 1), lengths.reshape(-1), 4, torch.ones(1), lead, 0).advantages.view(6, 4)
    picked = [4, 1, 5]
    part = lead_scores(correct[picked].reshape(-1, 1), lengths[picked].reshape(-1), 4, torch.ones(1), lead, 0)
    assert torch.allclose(part.advantages.view(3, 4), whole[picked], atol=1e-6)


@pytest.mark.parametrize("argv,field", [
    (["--dynamic_sampling_groups", "0"], "dynamic_sampling_groups"),
    (["--dynamic_sampling_groups", "5"], "dynamic_sampling_groups"),  # 16 completions / 4 = 4 groups
    (["--dynamic_sampling_max_rounds", "0"], "dynamic_sampling_max_rounds"),
    (["--dynamic_sampling_max_rounds", "101"], "dynamic_sampling_max_rounds"),
    (["--dynamic_sampling_max_rounds", "2.5"], "dynamic_sampling_max_rounds"),
])
def test_bad_settings_are_refused_naming_the_field(argv, field, tmp_path):
    from lead_lite.config import resolve

    with pytest.raises(ConfigError, match="only with dynamic_sampling: true"):
        resolve(["--model", "tiny", "--output_dir", str(tmp_path), "--dynamic_sampling_groups", "2"])

    with pytest.raises(ConfigError) as exc:
        resolve(["--model", "tiny", "--output_dir", str(tmp_path), "--per_device_train_batch_size", "16",
                 "--num_generations", "4", "--dynamic_sampling", "true", *argv])
    assert field in str(exc.value).split(":")[0]


# -- the real trainer on the tiny model ------------------------------------------------------------
TINY = ["--model", "tiny", "--eval_size", "0", "--logging_steps", "1", "--seed", "3", "--length_reward", "false",
        "--dynamic_sampling", "true"]


def _env(**extra):
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(REPO), **extra)
    env.pop("WORLD_SIZE", None)
    return env


def _run(argv, env=None, launch=None, timeout=300):
    head = launch or [sys.executable, str(REPO / "tests" / "dynamic_worker.py")]
    proc = subprocess.run([*head, *argv], env=env or _env(), cwd=REPO, capture_output=True, text=True,
                          timeout=timeout)
    assert proc.returncode == 0, proc.stderr[-4000:]
    return proc


def _steps(run_dir):
    return [r for r in read_metrics(Path(run_dir) / "metrics.jsonl") if "loss" in r]


def test_two_processes_train_on_the_same_groups_and_advantages_as_one(tiny_path, tmp_path):
    """2 processes x 6 completions (groups of 4, one split across the processes) with dynamic
    sampling, recorded by tests/dynamic_worker.py; then one process of 12 completions whose
    generations are the recorded ones: the same prompts asked for in every round, the same groups
    chosen, the same advantages and dynamic/* metrics."""
    two, one = tmp_path / "two", tmp_path / "one"
    two.mkdir(), one.mkdir()
    common = [*TINY, "--max_steps", "3", "--save_steps", "3", "--num_generations", "4"]
    _run([*common, "--output_dir", str(two / "run"), "--per_device_train_batch_size", "6"],
         env=_env(LEAD_DIST_RECORD=str(two)),
         launch=[sys.executable, "-m", "accelerate.commands.launch", "--config_file",
                 str(ACCELERATE_CONFIGS / "ddp.yaml"), "--num_processes", "2",
                 str(REPO / "tests" / "dynamic_worker.py")])
    ranks = [json.loads((two / f"rank{r}.json").read_text()) for r in (0, 1)]
    _run([*common, "--output_dir", str(one / "run"), "--per_device_train_batch_size", "12"],
         env=_env(LEAD_DIST_RECORD=str(one), LEAD_DIST_REPLAY=str(two)))
    (single,) = [json.loads((one / "rank0.json").read_text())]

    steps = [(a, b) for a, b in zip(ranks[0]["steps"], ranks[1]["steps"], strict=True)]
    assert len(steps) == len(single["steps"]) == 3
    assert any(a["dynamic"]["dynamic/rounds"] > 1 for a, _ in steps), "no step needed a second round"
    moved = False
    for (a, b), s in zip(steps, single["steps"], strict=True):
        assert a["dynamic"] == b["dynamic"] == s["dynamic"]
        assert a["chosen"] + b["chosen"] == s["chosen"]  # prompt, completion and answer of every row
        assert torch.allclose(torch.tensor(a["advantages"] + b["advantages"]), torch.tensor(s["advantages"]),
                              atol=1e-6)
        rounds = [ra["texts"] + rb["texts"] for ra, rb in zip(a["rounds"], b["rounds"], strict=True)]
        moved |= [c[1] for c in a["chosen"]] != rounds[0][:6]
    assert moved, "no step chose rows other than its first round's own"
    assert json.loads((two / "run" / "checkpoint-3" / DYNAMIC_STATE).read_text())["prompts_drawn"] > 0


def test_a_resumed_run_follows_the_uninterrupted_trajectory(tiny_path, tmp_path):
    """Steps 3-4 resumed from checkpoint-2 repeat the uninterrupted run's, the extra prompts'
    stream included (its position is saved in the checkpoint); with gradient accumulation."""
    argv = [*TINY, "--max_steps", "4", "--save_steps", "2", "--per_device_train_batch_size", "8",
            "--gradient_accumulation_steps", "2", "--num_generations", "4"]
    whole, resumed = tmp_path / "whole", tmp_path / "resumed"
    _run([*argv, "--output_dir", str(whole)], launch=[sys.executable, "-m", "lead_lite.train"])
    reference = _steps(whole)
    assert [r["step"] for r in reference] == [1, 2, 3, 4]
    assert any(r["dynamic/rounds"] > 1 for r in reference[2:]), "steps 3-4 never needed a second round"
    state = json.loads((whole / "checkpoint-2" / DYNAMIC_STATE).read_text())
    assert state["prompts_drawn"] == 4 * sum(r["dynamic/rounds"] - 1 for r in reference[:2])

    resumed.mkdir()
    shutil.copytree(whole / "checkpoint-2", resumed / "checkpoint-2")
    proc = _run([*argv, "--output_dir", str(resumed), "--resume_from_checkpoint", "last"],
                launch=[sys.executable, "-m", "lead_lite.train"])
    assert "resuming from" in proc.stderr
    after = _steps(resumed)
    assert [r["step"] for r in after] == [3, 4]
    for got, want in zip(after, reference[2:], strict=True):
        for key in ("loss", "lead/accuracy", "lead/reward", "dynamic/rounds", "dynamic/groups_trained",
                    "dynamic/prompts_sampled", "lead/generated_tokens"):
            assert got[key] == pytest.approx(want[key], rel=1e-5, abs=1e-6), key
    assert "groups" in proc.stderr and "informative of" in proc.stderr  # the console line

    # a damaged stream position: one line naming the file, exit 2, the checkpoint left as it was
    # (same size as the file written: a file of another size is refused earlier, as a partial checkpoint)
    state_file = resumed / "checkpoint-2" / DYNAMIC_STATE
    size = len(state_file.read_text())
    for damaged in ('{"prompts_drawn":-4}', '[4]', '{"prompts_drawn":[]}', '{"prompts_drawn":""}', '{"p'):
        damaged = damaged.ljust(size)[:size]
        state_file.write_text(damaged)
        proc = subprocess.run([sys.executable, "-m", "lead_lite.train", *argv, "--output_dir", str(resumed),
                               "--resume_from_checkpoint", str(resumed / "checkpoint-2")],
                              env=_env(), cwd=REPO, capture_output=True, text=True, timeout=300)
        assert proc.returncode == 2, proc.stderr[-3000:]
        assert "Traceback" not in proc.stderr and f"{state_file} is damaged" in proc.stderr
        assert state_file.read_text() == damaged

    from lead_lite.report import write_report

    html = write_report([whole], tmp_path / "report.html").read_text()
    assert "Dynamic sampling: generation rounds" in html and "dynamic/groups_trained" in html
