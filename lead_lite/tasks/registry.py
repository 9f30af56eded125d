"""Tasks by name: the config field ``task`` picks one (a plain dict, looked up once).

Example:
    >>> sorted(TASKS)
    ['addition', 'arithmetic', 'countdown', 'math']
"""

from __future__ import annotations

from lead_lite.tasks.arithmetic import AdditionTask, ArithmeticTask
from lead_lite.tasks.base import Task
from lead_lite.tasks.countdown import CountdownTask
from lead_lite.tasks.math import MathTask

TASKS: dict[str, type[Task]] = {
    ArithmeticTask.NAME: ArithmeticTask,  # generated word problems, offline (the tiny model's task)
    AdditionTask.NAME: AdditionTask,  # generated additions, offline (the smollm2-135m preset's task)
    MathTask.NAME: MathTask,  # a math dataset: a registered name, a local file or a hub id
    CountdownTask.NAME: CountdownTask,  # reach a target with given numbers (lead_lite.recipes.countdown)
}
