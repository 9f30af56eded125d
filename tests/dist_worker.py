"""One process of a 2-process CPU run of ``lead_lite.train`` (launched by tests/test_distributed.py).

It runs the real entry point with the real LEAD trainer, seen through a recording subclass that
changes nothing: per generation round it writes down this process's completions, answers and
lengths, the reward columns TRL gathered over processes, this process's slice of the advantages
and the ``lead/*`` metrics, to ``$LEAD_DIST_RECORD/rank<R>.json``.

    accelerate launch --config_file configs/accelerate/ddp.yaml --num_processes 2 \
        tests/dist_worker.py --model tiny ...
"""

import json
import os
import sys

import torch

from lead_lite import trainer as lead_trainer
from lead_lite.rewards import completion_text

_lead_trainer_class = lead_trainer.lead_trainer_class


def recording_trainer_class(base=None):
    cls = _lead_trainer_class(base)

    class Recording(cls):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.rounds: list[dict] = []

        def _calculate_rewards(self, inputs, prompts, completions, completion_ids_list):
            cols = super()._calculate_rewards(inputs, prompts, completions, completion_ids_list)  # (N, F)
            self.rounds.append({
                "texts": [completion_text(c) for c in completions],
                "answers": [x["answer"] for x in inputs],
                "lengths": [len(ids) for ids in completion_ids_list],
                "gathered_columns": cols.cpu().tolist(),
                "gathered_lengths": self._lead_seen[1].cpu().tolist(),
            })
            return cols

        def _generate_and_score_completions(self, inputs):
            output = super()._generate_and_score_completions(inputs)
            self.rounds[-1]["advantages"] = output["advantages"].cpu().tolist()
            self.rounds[-1]["metrics"] = {k: v[-1] for k, v in self._metrics["train"].items() if k.startswith("lead/")}
            return output

        def train(self, *args, **kwargs):
            result = super().train(*args, **kwargs)
            save_record(self, {"rounds": self.rounds})
            return result

    return Recording


def save_record(trainer, record: dict) -> None:
    """Write ``record`` and the world size to ``$LEAD_DIST_RECORD/rank<R>.json`` (R: this process)."""
    path = os.path.join(os.environ["LEAD_DIST_RECORD"], f"rank{trainer.accelerator.process_index}.json")
    with open(path, "w") as f:
        json.dump({"world_size": trainer.accelerator.num_processes, **record}, f)


def main(trainer_class_factory) -> None:
    """Run ``lead_lite.train`` on the command line's arguments with the LEAD trainer seen through
    ``trainer_class_factory`` (the LEAD trainer's class -> a recording subclass)."""
    torch.set_num_threads(1)
    lead_trainer.lead_trainer_class = trainer_class_factory
    from lead_lite.train import main as train_main

    train_main(sys.argv[1:])


if __name__ == "__main__":
    main(recording_trainer_class)
