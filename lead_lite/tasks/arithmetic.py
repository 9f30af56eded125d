"""A small arithmetic word-problem task the project generates, for offline runs.

Each problem has an integer answer and a worked solution whose verbosity varies: a concise
solution states the computation, a verbose one adds re-checks. A model warm-started on these
is partly right and longer than it needs to be, which is the regime GRPO-LEAD acts on.

Rows carry the columns ``prompt`` (str), ``answer`` (str), ``solution`` (str) and ``id`` (str).
Train and test splits are drawn from disjoint sets of problems.
"""

from __future__ import annotations

import random

from lead_lite.prompts import PROMPT_SUFFIX
from lead_lite.tasks.math import MathTask, reformat
from lead_lite.tasks.sources import DataError

NAMES = ("Tom", "Ann", "Sam", "Mia")
ITEMS = ("apples", "pens", "books", "coins")

# Every word the task writes; the tiny tokenizer gives each one a single token.
WORDS = (
    NAMES
    + ITEMS
    + (
        "has", "gets", "more", "gives", "away", "How", "many", "does", "have", "now",
        "What", "is", "Let's", "think", "step", "by", "and", "put", "the", "final",
        "answer", "within", "boxed", "So", "Check", "then", "left", "total", "again",
    )
)


# Distinct problem texts per split: every text the templates of _problem can write, split by
# _stable_hash (counted by enumerating them in tests/test_user_errors.py).
SPLIT_SIZES = {"train": 2217, "test": 528}


def _problem(rng: random.Random) -> tuple[str, int, list[str]]:
    """One problem: (text, answer, the computation's steps as strings)."""
    name, item = rng.choice(NAMES), rng.choice(ITEMS)
    a, b = rng.randint(1, 9), rng.randint(1, 9)
    kind = rng.randrange(3)
    if kind == 0:
        text = f"{name} has {a} {item} and gets {b} more. How many {item} does {name} have now?"
        return text, a + b, [f"{a}+{b}={a + b}"]
    if kind == 1:
        a, b = max(a, b), min(a, b)
        text = f"{name} has {a} {item} and gives {b} away. How many {item} does {name} have now?"
        return text, a - b, [f"{a}-{b}={a - b}"]
    c = rng.randint(1, 9)
    text = f"What is {a}+{b}-{c}?"
    s = a + b
    return text, s - c, [f"{a}+{b}={s}", f"{s}-{c}={s - c}"]


def worked_solution(steps: list[str], answer: int, verbosity: int) -> str:
    """A solution in the R1 style: reasoning in ``<think>``, then the boxed answer.

    verbosity 0 states the steps; each level above adds a re-check of the result.

    Example:
        >>> worked_solution(["3+4=7"], 7, 1)
        '<think>3+4=7. Check 7 again: 3+4=7. So 7.</think> \\\\boxed{7}'
    """
    body = ". ".join(steps)
    checks = "".join(f" Check {answer} again: {steps[-1]}." for _ in range(verbosity))
    tail = f" So {answer}." if verbosity else ""
    return f"<think>{body}.{checks}{tail}</think> \\boxed{{{answer}}}"


def generate(n: int, seed: int, split: str = "train", max_verbosity: int = 3) -> list[dict]:
    """``n`` problems of one split; train and test never share a problem text.

    A problem belongs to the test split when a hash of its text is 0 mod 5, so the splits are
    disjoint by construction and stable across seeds.

    Args:
        n: number of rows.
        seed: random seed.
        split: "train" or "test".
        max_verbosity: solutions have 0..max_verbosity re-checks, uniformly.

    Returns:
        list of rows with ``prompt``, ``answer``, ``solution`` and ``id``.
    """
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    if n > SPLIT_SIZES[split]:
        raise DataError(f"cannot draw {n} distinct {split} problems: the arithmetic task has {SPLIT_SIZES[split]}")
    rng = random.Random(f"{seed}:{split}")
    rows, seen = [], set()
    attempts = 0
    while len(rows) < n:
        attempts += 1
        if attempts > 200 * n + 10_000:
            raise ValueError(f"cannot draw {n} distinct {split} problems; the task has too few")
        text, answer, steps = _problem(rng)
        if (_stable_hash(text) % 5 == 0) != (split == "test") or text in seen:
            continue
        seen.add(text)
        rows.append(
            {
                "prompt": text + PROMPT_SUFFIX,
                "answer": str(answer),
                "solution": worked_solution(steps, answer, rng.randint(0, max_verbosity)),
                "id": f"arith-{split}-{len(rows)}",
            }
        )
    return rows


def _stable_hash(text: str) -> int:
    h = 0
    for ch in text:
        h = (h * 131 + ord(ch)) % 1_000_003
    return h


class ArithmeticTask(MathTask):
    """The generated word problems, judged like any math task (last ``\\boxed{}`` vs the gold).

    ``train_size`` training and ``eval_size`` held-out problems from disjoint splits; SFT rows are
    the problems with their worked solutions. With a ``dataset`` set, use :class:`MathTask`.
    """

    NAME = "arithmetic"

    def rows(self, data, seed: int) -> tuple[list[dict], list[dict]]:
        eval_rows = generate(data.eval_size, seed=seed, split="test") if data.eval_size else []
        train_rows = generate(data.train_size, seed=seed, split="train")
        return reformat(train_rows, data.prompt_format), reformat(eval_rows, data.prompt_format)

    def sft_rows(self, data, seed: int) -> list[dict]:
        rows = reformat(generate(data.train_size, seed=seed, split="train"), data.prompt_format)
        rows = [{"prompt": r["prompt"], "completion": r["solution"], "id": r["id"]} for r in rows]
        random.Random(seed).shuffle(rows)
        return rows
