"""Countdown: reach a target number with given numbers, + - * / and parentheses.

One module owns the task: problems (generated offline, or the public dataset), the prompt, the
safe answer checker, and the TRL reward functions built on it. The checker serves as both the
training reward and the evaluation (one judge, no drift between them).

Rules (those of the public Countdown-Tasks-3to4 data, ``Jiayi-Pan/Countdown-Tasks-3to4``): the
answer is the expression inside the *last* ``<answer>...</answer>`` of the completion (a stray
``</answer>`` after it is ignored, see :func:`extract_answer`); it may use
integer literals, ``+ - * /``, unary minus and parentheses; every given number is used **exactly
once** (the multiset of literals equals the multiset of ``nums``; a number given twice is used
twice); the value, computed exactly with :class:`fractions.Fraction`, must equal ``target``.
Decimal literals (``2.5``) are rejected: every literal must be one of the given integers.
An optional claimed value ``= N`` after the expression is accepted when it is true
(``(79 - 60) + 17 = 36``), and is a wrong answer when it is not.

Model output is untrusted text: it is never passed to ``eval`` or ``exec`` nor compiled to code
(``ast.parse`` only builds a syntax tree, which a small walker computes). The answer's length, character set and (after ``ast.parse``) node count and depth are bounded before
anything is computed, so every check takes microseconds whatever the completion holds.

Graded reward (seed 002, section 3.2), ``rel = |value - target| / max(|target|, 1)``:

- 1.0: correct (numbers used exactly once, value == target);
- 0.8 - 0.5 * rel / 0.25: near-correct (numbers used correctly, 0 < rel <= 0.25), linear from
  0.8 down to 0.3;
- 0.1: an answer tag with anything else (further off, wrong numbers, an invalid or unsafe
  expression, division by zero);
- 0.0: no ``<answer>...</answer>`` (wrong format).

Example:
    >>> check("<think>7-3=4, 4*5=20</think> <answer>(7-3)*5</answer>", [3, 5, 7], 20)
    (1.0, 'correct')
    >>> check("<answer>(7-3)*5</answer>", [3, 5, 7], 22)
    (0.618182, 'near')
"""

from __future__ import annotations

import ast
import hashlib
import logging
import operator
import random
import re
from collections import Counter
from fractions import Fraction

from lead_lite.rewards import ACCURACY, FORMAT, completion_text
from lead_lite.tasks.base import Outcome, Task
from lead_lite.tasks.sources import DataError, load_rows
from lead_lite.verifier import Verdict

logger = logging.getLogger(__name__)

HUB_ID = "Jiayi-Pan/Countdown-Tasks-3to4"  # the public dataset: columns `nums` (list of int), `target` (int)

# Limits of the checker; every one is enforced before the next, cheaper first.
MAX_ANSWER_CHARS = 200  # a 6-number expression needs under 60; checked before ast.parse
MAX_NODES = 100  # AST nodes (operators count as nodes)
MAX_DEPTH = 32  # nesting of operations
MAX_LITERAL = 999_999  # at most 6 digits
MIN_NUMBERS, MAX_NUMBERS = 2, 6  # numbers per problem the loader accepts (3-4 in the public data)

# Graded reward (module docstring).
CORRECT_REWARD = 1.0
NEAR_MAX, NEAR_MIN = 0.8, 0.3  # near-correct rewards at distance -> 0 and at the cutoff
NEAR_CUTOFF = 0.25  # largest |value - target| / |target| still called near-correct
TAGGED_REWARD = 0.1  # an answer tag with anything that is neither correct nor near
NO_ANSWER_REWARD = 0.0

# Reasons returned by :func:`check`.
CORRECT, NEAR, NO_ANSWER = "correct", "near", "no_answer"
GRADED = "countdown_graded"  # the name (and metric) of the graded reward column
WRONG_VALUE, WRONG_NUMBERS = "wrong_value", "wrong_numbers"
EMPTY, TOO_LONG, NON_ASCII, BAD_CHARACTER = "empty", "too_long", "non_ascii", "bad_character"
SYNTAX_ERROR, DISALLOWED_SYNTAX, NON_INTEGER_LITERAL = "syntax_error", "disallowed_syntax", "non_integer_literal"
LITERAL_TOO_LARGE, TOO_MANY_NODES, TOO_DEEP = "literal_too_large", "too_many_nodes", "too_deep"
DIVISION_BY_ZERO, CLAIM_MISMATCH = "division_by_zero", "claimed_value_mismatch"

OPEN_TAG, CLOSE_TAG = "<answer>", "</answer>"
_ALLOWED = re.compile(r"[0-9+\-*/(). \t\n=]*")  # a fast pre-filter; the AST walk is the authority
_CLAIM = re.compile(r"\s*-?\s*[0-9]{1,6}\s*")
_BINOPS = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv}

PROMPT = (
    "Using the numbers {nums}, write an equation that equals {target}. Use + - * / and parentheses, "
    "and use each number exactly once. Think in <think> </think> tags, then give only the equation in "
    "<answer> </answer> tags, for example <answer> (1 + 2) / 3 </answer>."
)
# The fixed pieces of the prompt and the answer tags: the tiny tokenizer keeps each one whole (one
# token), as a trained BPE tokenizer merges frequent text, so tiny prompts stay short on CPU.
WORDS = tuple(
    dict.fromkeys(
        piece
        for piece in re.split(r"(\{nums\}|\{target\}|</?think>|</?answer>)", PROMPT)
        if len(piece) > 1 and piece not in ("{nums}", "{target}", "<think>", "</think>")
    )
)


class _Rejected(Exception):
    """Internal: the answer is invalid; ``args[0]`` is the reason."""


def make_prompt(nums: list[int], target: int) -> str:
    """The task prompt, in the style of the Countdown GRPO recipes (answer in ``<answer>`` tags).

    Example:
        >>> make_prompt([3, 5, 7], 20)[:52]
        'Using the numbers [3, 5, 7], write an equation that '
    """
    return PROMPT.format(nums=list(nums), target=target)


def problem_error(nums, target) -> str | None:
    """Why ``(nums, target)`` is not a Countdown problem this module can judge, or None."""
    if not isinstance(nums, (list, tuple)):
        return f"nums must be a list of integers, got {type(nums).__name__}"
    if not MIN_NUMBERS <= len(nums) <= MAX_NUMBERS:
        return f"nums must hold {MIN_NUMBERS} to {MAX_NUMBERS} numbers, got {len(nums)}"
    for n in nums:
        if type(n) is not int or not 1 <= n <= MAX_LITERAL:
            return f"nums must be integers in [1, {MAX_LITERAL}], got {n!r}"
    if type(target) is not int or abs(target) > 10**9:
        return f"target must be an integer of at most 9 digits, got {target!r}"
    return None


def extract_answer(text: str) -> str | None:
    """The content of the last complete ``<answer>...</answer>``, or None.

    The answer runs from the last ``<answer>`` that is closed to the first ``</answer>`` after
    it: a stray closing tag after a complete answer (``<answer>X</answer></answer>``) is
    ignored, and an unclosed ``<answer>`` at the end leaves the previous complete answer.

    Example:
        >>> extract_answer("<answer>1</answer> then <answer> 2+3 </answer>")
        ' 2+3 '
        >>> extract_answer("<answer>(7-3)*5</answer></answer>")
        '(7-3)*5'
    """
    close = text.rfind(CLOSE_TAG)
    if close < 0:
        return None
    start = text.rfind(OPEN_TAG, 0, close)
    if start < 0:
        return None
    start += len(OPEN_TAG)
    return text[start : text.find(CLOSE_TAG, start)]


def _walk(node: ast.AST, depth: int, literals: list[int]) -> Fraction:
    """Value of an allowed expression node; raises :class:`_Rejected` on anything else."""
    if depth > MAX_DEPTH:
        raise _Rejected(TOO_DEEP)
    if isinstance(node, ast.BinOp) and type(node.op) in _BINOPS:
        left = _walk(node.left, depth + 1, literals)
        right = _walk(node.right, depth + 1, literals)
        if isinstance(node.op, ast.Div) and right == 0:
            raise _Rejected(DIVISION_BY_ZERO)
        return _BINOPS[type(node.op)](left, right)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        return -_walk(node.operand, depth + 1, literals)
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, float, complex)) and not isinstance(node.value, bool):
        if type(node.value) is not int:
            raise _Rejected(NON_INTEGER_LITERAL)
        if node.value > MAX_LITERAL:
            raise _Rejected(LITERAL_TOO_LARGE)
        literals.append(node.value)
        return Fraction(node.value)
    raise _Rejected(DISALLOWED_SYNTAX)


def evaluate(expression: str) -> tuple[Fraction, list[int]]:
    """Exact value of a Countdown expression and the integer literals it uses.

    Raises:
        ValueError: the expression is not allowed; the message is the reason (e.g. ``too_long``).

    Example:
        >>> evaluate("(7 - 3) * 5")
        (Fraction(20, 1), [7, 3, 5])
    """
    try:
        return _evaluate(expression)
    except _Rejected as exc:
        raise ValueError(exc.args[0]) from None


def _evaluate(expression: str) -> tuple[Fraction, list[int]]:
    if len(expression) > MAX_ANSWER_CHARS:
        raise _Rejected(TOO_LONG)
    if not expression.isascii():
        raise _Rejected(NON_ASCII)
    if not _ALLOWED.fullmatch(expression):
        raise _Rejected(BAD_CHARACTER)
    expression = expression.strip()
    if not expression:
        raise _Rejected(EMPTY)
    claimed = None
    if "=" in expression:
        expression, _, claim = expression.partition("=")
        if not _CLAIM.fullmatch(claim):
            raise _Rejected(SYNTAX_ERROR)
        claimed = int(claim.replace(" ", "").replace("\t", "").replace("\n", ""))
    try:
        tree = ast.parse(expression.strip(), mode="eval")
    except (SyntaxError, ValueError, RecursionError):
        raise _Rejected(SYNTAX_ERROR) from None
    if sum(1 for _ in ast.walk(tree)) > MAX_NODES:
        raise _Rejected(TOO_MANY_NODES)
    literals: list[int] = []
    value = _walk(tree.body, 0, literals)
    if claimed is not None and value != claimed:
        raise _Rejected(CLAIM_MISMATCH)
    return value, literals


def near_reward(value: Fraction, target: int) -> float | None:
    """The near-correct reward of a valid expression off by ``value - target``, or None if too far.

    Linear in ``rel = |value - target| / max(|target|, 1)``: 0.8 as rel -> 0, 0.3 at rel = 0.25
    (rounded to 6 decimals).

    Example:
        >>> near_reward(Fraction(90), 100), near_reward(Fraction(70), 100)
        (0.6, None)
    """
    rel = abs(value - target) / max(abs(target), 1)
    if rel > NEAR_CUTOFF:
        return None
    return round(NEAR_MAX - (NEAR_MAX - NEAR_MIN) * float(rel) / NEAR_CUTOFF, 6)


def check(completion: str, nums, target) -> tuple[float, str]:
    """Judge a completion: its graded reward and the reason (see the module docstring).

    Args:
        completion: the model's text; only its last ``<answer>...</answer>`` is read.
        nums: the given numbers (each to be used exactly once).
        target: the number to reach.

    Returns:
        ``(reward, reason)``; reward 1.0 means exactly correct.

    Raises:
        ValueError: ``(nums, target)`` is not a valid problem (a data error, not a wrong answer).

    Example:
        >>> check("<answer>__import__('os')</answer>", [1, 2, 3], 6)
        (0.1, 'bad_character')
        >>> check("6", [1, 2, 3], 6)
        (0.0, 'no_answer')
    """
    error = problem_error(nums, target)
    if error is not None:
        raise ValueError(error)
    answer = extract_answer(completion)
    if answer is None:
        return NO_ANSWER_REWARD, NO_ANSWER
    try:
        value, literals = _evaluate(answer)
    except _Rejected as exc:
        return TAGGED_REWARD, exc.args[0]
    if Counter(literals) != Counter(nums):
        return TAGGED_REWARD, WRONG_NUMBERS
    if value == target:
        return CORRECT_REWARD, CORRECT
    near = near_reward(value, target)
    return (TAGGED_REWARD, WRONG_VALUE) if near is None else (near, NEAR)


# ---------------------------------------------------------------------------------------------
# Problems


def split_of(nums, target) -> str:
    """``"test"`` for one problem in five (by a hash of the sorted numbers and target), else ``"train"``.

    The split depends only on the problem, so generated and public splits never overlap, and a
    problem listed twice (numbers in another order) falls on one side.
    """
    key = f"{sorted(nums)}|{target}".encode()
    return "test" if int.from_bytes(hashlib.blake2b(key, digest_size=8).digest(), "big") % 5 == 0 else "train"


def _construct(rng: random.Random, count: int, max_number: int, max_target: int):
    """One random expression over ``count`` numbers whose every intermediate value is a positive
    integer (classic Countdown); None when the value falls outside [1, max_target].

    Returns:
        (numbers in expression order, expression, steps like ``"7-3=4"``, value) or None.
    """
    pool = [(n, str(n), True) for n in (rng.randint(1, max_number) for _ in range(count))]
    numbers = [v for v, _, _ in pool]
    steps = []
    while len(pool) > 1:
        i, j = rng.sample(range(len(pool)), 2)
        (a, ea, atom_a), (b, eb, atom_b) = pool[i], pool[j]
        op = rng.choice("+-*/")
        if op in "-/" and a < b:
            (a, ea, atom_a), (b, eb, atom_b) = (b, eb, atom_b), (a, ea, atom_a)
        if op == "-" and a == b or op == "/" and (b == 1 or a % b):
            op = rng.choice("+*")
        value = {"+": a + b, "-": a - b, "*": a * b, "/": a // b if b else 0}[op]
        left = ea if atom_a else f"({ea})"
        right = eb if atom_b else f"({eb})"
        steps.append(f"{a}{op}{b}={value}")
        pool = [p for k, p in enumerate(pool) if k not in (i, j)] + [(value, f"{left}{op}{right}", False)]
    value, expression, _ = pool[0]
    if not 1 <= value <= max_target:
        return None
    return numbers, expression, steps, value


def worked_solution(steps: list[str], expression: str) -> str:
    """A solution in the recipe's format: the steps in ``<think>``, the expression in ``<answer>``.

    Example:
        >>> worked_solution(["7-3=4", "4*5=20"], "(7-3)*5")
        '<think>7-3=4, 4*5=20</think> <answer>(7-3)*5</answer>'
    """
    return f"<think>{', '.join(steps)}</think> {OPEN_TAG}{expression}{CLOSE_TAG}"


def generate(
    n: int,
    seed: int,
    split: str = "train",
    numbers_per_problem: tuple[int, ...] = (3, 4),
    max_number: int = 99,
    max_target: int = 99,
) -> list[dict]:
    """``n`` distinct Countdown problems of one split, each solvable by construction.

    Each is built from a random expression (every intermediate value a positive integer) whose
    value is the target; the numbers are then shown shuffled, as in the public data.

    Args:
        n: number of rows.
        seed: random seed (the same seed and settings give the same rows).
        split: "train" or "test" (disjoint, see :func:`split_of`).
        numbers_per_problem: how many numbers a problem may have (3-4 in the public data).
        max_number: numbers are drawn from 1..max_number; max_target: targets lie in 1..max_target.

    Returns:
        rows with ``nums``, ``target``, ``prompt``, ``expression`` (the construction, a correct
        answer), ``solution`` (a worked solution) and ``id``.
    """
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    if not numbers_per_problem or not all(MIN_NUMBERS <= k <= MAX_NUMBERS for k in numbers_per_problem):
        raise DataError(f"numbers_per_problem must be in [{MIN_NUMBERS}, {MAX_NUMBERS}], got {numbers_per_problem}")
    if not 1 <= max_number <= MAX_LITERAL or max_target < 1:
        raise DataError(f"need 1 <= max_number <= {MAX_LITERAL} and max_target >= 1")
    rng = random.Random(f"countdown:{seed}:{split}")
    rows, seen = [], set()
    attempts = 0
    while len(rows) < n:
        attempts += 1
        if attempts > 200 * n + 10_000:
            raise DataError(f"cannot draw {n} distinct {split} problems with these settings; widen them")
        built = _construct(rng, rng.choice(list(numbers_per_problem)), max_number, max_target)
        if built is None:
            continue
        numbers, expression, steps, target = built
        key = (tuple(sorted(numbers)), target)
        if key in seen or split_of(numbers, target) != split:
            continue
        seen.add(key)
        nums = rng.sample(numbers, len(numbers))
        rows.append({
            "nums": nums,
            "target": target,
            "prompt": make_prompt(nums, target),
            "expression": expression,
            "solution": worked_solution(steps, expression),
            "id": f"countdown-{split}-{len(rows)}",
        })
    return rows


def clean_problems(rows: list[dict], source: str) -> list[dict]:
    """Keep the rows that are valid problems (``nums``, ``target``); report and drop the rest.

    Each dropped row is logged with its index and the reason (the first ten in full).

    Returns:
        rows with ``nums``, ``target``, ``prompt`` and ``id`` (``source:index``).
    """
    kept, bad = [], []
    for i, row in enumerate(rows):
        nums, target = row.get("nums"), row.get("target")
        nums = list(nums) if isinstance(nums, (list, tuple)) else nums
        error = problem_error(nums, target)
        if error is not None:
            bad.append((i, error))
            continue
        kept.append({"nums": nums, "target": target, "prompt": make_prompt(nums, target), "id": f"{source}:{i}"})
    if bad:
        logger.warning("%s: dropped %d malformed row(s): %s", source, len(bad),
                       "; ".join(f"row {i}: {why}" for i, why in bad[:10]))
    if not kept:
        raise DataError(f"{source}: no valid Countdown row (needs `nums`: list of ints, `target`: int)")
    return kept


def load_public(source: str = HUB_ID) -> list[dict]:
    """The public Countdown data from the hub id or a local ``.parquet`` / ``.jsonl`` / ``.json`` file.

    ``Jiayi-Pan/Countdown-Tasks-3to4`` (about 490k rows, one ``train`` split; columns ``nums``
    and ``target``) needs network or a local copy:
    ``huggingface-cli download --repo-type dataset Jiayi-Pan/Countdown-Tasks-3to4``, or pass the
    downloaded parquet file. Malformed rows are reported with their index and dropped
    (:func:`clean_problems`); split the result with :func:`split_of`.
    """
    return clean_problems(load_rows(source), source)


# ---------------------------------------------------------------------------------------------
# TRL reward functions: per-completion facts, columns ``nums`` and ``target``.


def _judge_all(completions, nums, target) -> list[tuple[float, str] | None]:
    out: list[tuple[float, str] | None] = []
    for i, (completion, ns, t) in enumerate(zip(completions, nums, target, strict=True)):
        error = problem_error(list(ns) if isinstance(ns, (list, tuple)) else ns, t)
        if error is not None:
            logger.warning("completion %d: problem cannot be judged (%s); marked unjudgeable", i, error)
            out.append(None)
            continue
        out.append(check(completion_text(completion), list(ns), t))
    return out


class CountdownAccuracy:
    """``accuracy``: 1.0 exactly correct, 0.0 otherwise, None when the problem cannot be judged.

    The LEAD trainer reads this column for its length reward and difficulty (rho).

    Example:
        >>> CountdownAccuracy()(completions=["<answer>1+2</answer>", "3"], nums=[[1, 2]] * 2, target=[3, 3])
        [1.0, 0.0]
    """

    __name__ = ACCURACY

    def __call__(self, completions, nums, target, **kwargs) -> list[float | None]:
        return [None if j is None else float(j[1] == CORRECT) for j in _judge_all(completions, nums, target)]


class CountdownGraded:
    """``countdown_graded``: the seed's graded reward (1.0 / 0.8-0.3 / 0.1 / 0.0), None if unjudgeable.

    Example:
        >>> CountdownGraded()(completions=["<answer>1+2</answer>", "<answer>x</answer>", "3"],
        ...                   nums=[[1, 2]] * 3, target=[3, 3, 3])
        [1.0, 0.1, 0.0]
    """

    __name__ = GRADED

    def __call__(self, completions, nums, target, **kwargs) -> list[float | None]:
        return [None if j is None else j[0] for j in _judge_all(completions, nums, target)]


class CountdownFormat:
    """``format``: 1.0 when the completion has an ``<answer>...</answer>``, 0.0 when not.

    Example:
        >>> CountdownFormat()(completions=["<answer>x</answer>", "x"])
        [1.0, 0.0]
    """

    __name__ = FORMAT

    def __call__(self, completions, **kwargs) -> list[float]:
        return [float(extract_answer(completion_text(c)) is not None) for c in completions]



class CountdownTask(Task):
    """Countdown problems (generated, or the public data given as ``dataset``) judged by :func:`check`.

    Args:
        numbers_per_problem / max_number / max_target: the generated problems' settings.
        problem_seed: seed of the problems (not the run's seed), so every stage of the recipe
            shares one held-out set.

    Example:
        >>> task = CountdownTask(numbers_per_problem=(3,), max_number=12, max_target=50)
        >>> train, test = task.rows(type("Data", (), {"dataset": None, "train_size": 4, "eval_size": 2})(), seed=0)
        >>> len(train), len(test), task.judge("<answer>1+2</answer>", {"nums": [1, 2], "target": 3})
        (4, 2, Outcome(verdict=<Verdict.CORRECT: 'correct'>, score=1.0))
    """

    NAME = "countdown"
    COLUMNS = ("nums", "target")
    REWARDS = {ACCURACY: lambda task: CountdownAccuracy(), GRADED: lambda task: CountdownGraded(),
               FORMAT: lambda task: CountdownFormat()}
    DEFAULT_REWARDS = (ACCURACY, GRADED, FORMAT)
    REWARD_WEIGHTS = {ACCURACY: 0.0, GRADED: 1.0, FORMAT: 0.0}  # the seed's recipe: the graded reward alone

    def __init__(self, numbers_per_problem=(3, 4), max_number: int = 99, max_target: int = 99,
                 problem_seed: int = 0):
        self.settings = dict(numbers_per_problem=tuple(numbers_per_problem), max_number=max_number,
                             max_target=max_target)
        self.problem_seed = problem_seed

    def rows(self, data, seed: int) -> tuple[list[dict], list[dict]]:
        if data.dataset is not None:
            rows = load_public(data.dataset)
            train = [r for r in rows if split_of(r["nums"], r["target"]) == "train"]
            test = [r for r in rows if split_of(r["nums"], r["target"]) == "test"]
            rng = random.Random(self.problem_seed)
            rng.shuffle(train)
            rng.shuffle(test)
            return train[: data.train_size], test[: data.eval_size]
        train = generate(data.train_size, self.problem_seed, "train", **self.settings)
        test = generate(data.eval_size, self.problem_seed, "test", **self.settings) if data.eval_size else []
        return train, test

    def judge(self, text: str, row: dict) -> Outcome:
        nums = row["nums"]
        if problem_error(list(nums) if isinstance(nums, (list, tuple)) else nums, row["target"]) is not None:
            return Outcome(Verdict.UNJUDGEABLE, None)
        reward, reason = check(text, list(nums), row["target"])
        verdict = {CORRECT: Verdict.CORRECT, NO_ANSWER: Verdict.NO_ANSWER}.get(reason, Verdict.WRONG)
        return Outcome(verdict, reward)
