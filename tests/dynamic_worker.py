"""One process of a ``lead_lite.train`` run with dynamic sampling, recorded (tests/test_dynamic_sampling.py).

The real entry point and LEAD trainer, seen through a recording subclass: per training step it
writes down this process's generation rounds (prompts, token ids, completions), the rows the
step chose (prompt, completion, answer), their advantages and the ``dynamic/*`` metrics, to
``$LEAD_DIST_RECORD/rank<R>.json``. With ``$LEAD_DIST_REPLAY`` set to the folder of an earlier
(multi-process) record, no generation runs: each round returns the recorded completions of every
process for the same prompts (which must be the prompts asked for), so one process can be
compared with several on the same completions.

    python tests/dynamic_worker.py --model tiny --dynamic_sampling true ...
    accelerate launch --config_file configs/accelerate/ddp.yaml --num_processes 2 tests/dynamic_worker.py ...
"""

import json
import os
from pathlib import Path

from lead_lite import trainer as lead_trainer

from dist_worker import main, save_record  # a script's own folder is on sys.path

_lead_trainer_class = lead_trainer.lead_trainer_class


def _plain(x):
    return json.loads(json.dumps(x))


def _replayed_rounds(folder: str) -> list[list[dict]]:
    """Per step, per round, the gathered record (every process's rows in process order)."""
    ranks = [json.loads(p.read_text()) for p in sorted(Path(folder).glob("rank*.json"))]
    steps = []
    for per_rank in zip(*(r["steps"] for r in ranks), strict=True):
        rounds = []
        for parts in zip(*(s["rounds"] for s in per_rank), strict=True):
            rounds.append({key: [v for part in parts for v in part[key]] for key in parts[0]})
        steps.append(rounds)
    return steps


def recording_trainer_class(base=None):
    cls = _lead_trainer_class(base)

    class Recording(cls):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.steps: list[dict] = []
            replay = os.environ.get("LEAD_DIST_REPLAY")
            self.replay = _replayed_rounds(replay) if replay else None

        def _generate(self, prompts):
            if self._replay_generation is not None or not self.model.training:  # the step's chosen rows
                return super()._generate(prompts)
            step = self.steps[-1]
            if self.replay is not None:
                recorded = self.replay[len(self.steps) - 1][len(step["rounds"])]
                if _plain(prompts) != recorded["prompts"]:
                    raise AssertionError(f"step {len(self.steps)} round {len(step['rounds']) + 1}: other prompts "
                                         "than the recorded run asked for")
                logprobs = recorded["logprobs"] if recorded["logprobs"][0] is not None else None
                out = (recorded["prompt_ids"], recorded["completion_ids"], None, recorded["completions"], logprobs,
                       {}, None, [])
            else:
                out = super()._generate(prompts)
            prompt_ids, completion_ids, _, completions, logprobs, *_ = out
            step["rounds"].append(_plain({
                "prompts": prompts, "prompt_ids": prompt_ids, "completion_ids": completion_ids,
                "completions": completions, "logprobs": logprobs if logprobs is not None else [None] * len(prompts),
                "texts": [c if isinstance(c, str) else c[-1]["content"] for c in completions],
            }))
            return out

        def _calculate_rewards(self, inputs, prompts, completions, completion_ids_list):
            if self._replay_scores is not None and self.model.training:
                self.steps[-1]["chosen"] = _plain([
                    [p if isinstance(p, str) else p[-1]["content"], c if isinstance(c, str) else c[-1]["content"],
                     x["answer"]] for p, c, x in zip(prompts, completions, inputs, strict=True)])
            return super()._calculate_rewards(inputs, prompts, completions, completion_ids_list)

        def _generate_and_score_completions(self, inputs):
            if self.model.training:
                self.steps.append({"rounds": []})
            output = super()._generate_and_score_completions(inputs)
            if self.model.training:
                self.steps[-1]["advantages"] = output["advantages"].cpu().tolist()
                self.steps[-1]["dynamic"] = dict(self._dynamic)
            return output

        def train(self, *args, **kwargs):
            result = super().train(*args, **kwargs)
            save_record(self, {"steps": self.steps})
            return result

    return Recording


if __name__ == "__main__":
    main(recording_trainer_class)
