"""Small arithmetic tasks the project generates, for offline runs: word problems (``arithmetic``,
the tiny model's task) and bare two-number additions (``addition``, for small real models).

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
ADDITION_MAX = 20  # addition: "What is a + b?" with a and b in 1..ADDITION_MAX


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


def _stable_hash(text: str) -> int:
    h = 0
    for ch in text:
        h = (h * 131 + ord(ch)) % 1_000_003
    return h


def _addition(rng: random.Random) -> tuple[str, int, list[str]]:
    """One addition, "What is a + b?" (the form a small instruction-tuned model answers most often)."""
    a, b = rng.randint(1, ADDITION_MAX), rng.randint(1, ADDITION_MAX)
    return f"What is {a} + {b}?", a + b, [f"{a}+{b}={a + b}"]


def _split_sizes(texts) -> dict[str, int]:
    texts = set(texts)
    test = sum(_stable_hash(t) % 5 == 0 for t in texts)
    return {"train": len(texts) - test, "test": test}


# kind -> (problem writer, distinct problems per split)
KINDS = {
    "arithmetic": (_problem, SPLIT_SIZES),
    "addition": (_addition, _split_sizes(f"What is {a} + {b}?" for a in range(1, ADDITION_MAX + 1)
                                         for b in range(1, ADDITION_MAX + 1))),
}


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


def generate(n: int, seed: int, split: str = "train", max_verbosity: int = 3, kind: str = "arithmetic") -> list[dict]:
    """``n`` problems of one split; train and test never share a problem text.

    A problem belongs to the test split when a hash of its text is 0 mod 5, so the splits are
    disjoint by construction and stable across seeds.

    Args:
        n: number of rows.
        seed: random seed.
        split: "train" or "test".
        max_verbosity: solutions have 0..max_verbosity re-checks, uniformly.
        kind: a key of :data:`KINDS`: ``arithmetic`` (word problems) or ``addition``.

    Returns:
        list of rows with ``prompt``, ``answer``, ``solution`` and ``id``.
    """
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    problem, sizes = KINDS[kind]
    if n > sizes[split]:
        raise DataError(f"cannot draw {n} distinct {split} problems: the {kind} task has {sizes[split]}")
    rng = random.Random(f"{seed}:{split}")
    rows, seen = [], set()
    attempts = 0
    while len(rows) < n:
        attempts += 1
        if attempts > 200 * n + 10_000:
            raise ValueError(f"cannot draw {n} distinct {split} problems; the task has too few")
        text, answer, steps = problem(rng)
        if (_stable_hash(text) % 5 == 0) != (split == "test") or text in seen:
            continue
        seen.add(text)
        rows.append(
            {
                "prompt": text + PROMPT_SUFFIX,
                "answer": str(answer),
                "solution": worked_solution(steps, answer, rng.randint(0, max_verbosity)),
                "id": f"{'arith' if kind == 'arithmetic' else kind}-{split}-{len(rows)}",
            }
        )
    return rows


class ArithmeticTask(MathTask):
    """The generated word problems, judged like any math task (last ``\\boxed{}`` vs the gold).

    ``train_size`` training and ``eval_size`` held-out problems from disjoint splits; SFT rows are
    the problems with their worked solutions. With a ``dataset`` set, use :class:`MathTask`.
    """

    NAME = "arithmetic"

    def rows(self, data, seed: int) -> tuple[list[dict], list[dict]]:
        eval_rows = generate(data.eval_size, seed=seed, split="test", kind=self.NAME) if data.eval_size else []
        train_rows = generate(data.train_size, seed=seed, split="train", kind=self.NAME)
        return reformat(train_rows, data.prompt_format), reformat(eval_rows, data.prompt_format)

    def sft_rows(self, data, seed: int) -> list[dict]:
        rows = reformat(generate(data.train_size, seed=seed, split="train", kind=self.NAME), data.prompt_format)
        rows = [{"prompt": r["prompt"], "completion": r["solution"], "id": r["id"]} for r in rows]
        random.Random(seed).shuffle(rows)
        return rows


class AdditionTask(ArithmeticTask):
    """Two-number additions, "What is 7 + 15?" (:data:`ADDITION_MAX`), judged like any math task:
    the task of the ``smollm2-135m`` preset, easy enough that a 135M-parameter model sometimes
    answers in the required form."""

    NAME = "addition"
