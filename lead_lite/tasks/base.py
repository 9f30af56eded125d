"""The Task: one object owns a problem set's rows, prompts, checker, reward functions and evaluation.

Training (:mod:`lead_lite.train`), SFT, the Countdown recipe, evaluation and difficulty estimation
all reach their data through a task, and one checker (:meth:`Task.judge`) serves both the RL
reward and the evaluation, so the two cannot drift apart. A new task is a file with a subclass,
registered by name in :data:`lead_lite.tasks.registry.TASKS`.

Reward functions are chosen by name from the task's own registry (:attr:`Task.REWARDS`, a plain
dict of name -> factory), as open-r1's ``reward_funcs``; the config field ``reward_funcs`` lists
the names (default :attr:`Task.DEFAULT_REWARDS`). GRPO-LEAD needs the ``accuracy`` fact
(1 / 0 / None per completion) and uses the ``format`` fact (has a final answer) when present.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Callable, ClassVar

from lead_lite.tasks.sources import DataError
from lead_lite.verifier import Verdict


@dataclass(frozen=True)
class Outcome:
    """What a task's checker says of one completion.

    Attributes:
        verdict: correct, wrong, no answer, or unjudgeable (never scored as right).
        score: the task's graded score (math: 1.0 / 0.0; Countdown: its graded reward); None
            when unjudgeable.
    """

    verdict: Verdict
    score: float | None


def format_prompt(prompt: str, tokenizer):
    """Conversational (one user message) when the tokenizer has a chat template, else plain text."""
    if getattr(tokenizer, "chat_template", None):
        return [{"role": "user", "content": prompt}]
    return prompt


class Task(ABC):
    """A problem set with its checker. Subclasses set the class attributes and implement
    :meth:`rows` and :meth:`judge`.

    Rows are dicts with ``prompt`` (the model-ready user message), ``id`` and the task's
    :attr:`COLUMNS` (what its checker and reward functions read, e.g. ``answer``).
    """

    NAME: ClassVar[str]
    COLUMNS: ClassVar[tuple[str, ...]]  # row columns besides ``prompt`` that reward functions read
    REWARDS: ClassVar[dict[str, Callable[[Task], Callable]]]  # reward registry: name -> factory(task)
    DEFAULT_REWARDS: ClassVar[tuple[str, ...]]
    REWARD_WEIGHTS: ClassVar[dict[str, float]]  # default weight of each reward in the sum (reward_weights)

    @abstractmethod
    def rows(self, data, seed: int) -> tuple[list[dict], list[dict]]:
        """(training rows, held-out rows) for ``data`` (:class:`lead_lite.config.DataArguments`)."""

    @abstractmethod
    def judge(self, text: str, row: dict) -> Outcome:
        """The checker: one completion's text against its row."""

    def sft_rows(self, data, seed: int) -> list[dict]:
        """Rows with ``prompt`` and ``completion`` (a worked solution) for supervised fine-tuning."""
        raise DataError(f"task {self.NAME!r} has no worked solutions to fine-tune on")

    def reward_funcs(self, names: list[str] | tuple[str, ...] | None = None) -> list[Callable]:
        """TRL reward functions by name from :attr:`REWARDS` (default :attr:`DEFAULT_REWARDS`).

        Example:
            >>> from lead_lite.tasks.registry import TASKS
            >>> [f.__name__ for f in TASKS["countdown"]().reward_funcs()]
            ['accuracy', 'countdown_graded', 'format']
        """
        names = list(names or self.DEFAULT_REWARDS)
        unknown = [n for n in names if n not in self.REWARDS]
        if unknown:
            raise ValueError(f"reward_funcs {unknown}: task {self.NAME!r} has {', '.join(self.REWARDS)}")
        return [self.REWARDS[n](self) for n in names]

    def to_dataset(self, rows: list[dict], tokenizer):
        """A ``datasets.Dataset`` with ``prompt`` (formatted for the tokenizer) and :attr:`COLUMNS`."""
        from datasets import Dataset

        return Dataset.from_list(
            [{"prompt": format_prompt(r["prompt"], tokenizer), **{c: r[c] for c in self.COLUMNS}} for r in rows]
        )

    def close(self) -> None:
        """Release what the checker holds (a verifier's worker process); the task is unusable after."""
