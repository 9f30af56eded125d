"""Math problems with gold answers: the named datasets, a user's file, their cleaning, and the math task.

``DataArguments.dataset`` is a name in :data:`DATASETS` (DeepScaleR, the official GRPO-LEAD stage
files and SFT set, GSM8K, MATH), a local ``.jsonl`` / ``.json`` / ``.parquet`` / ``.csv`` file, or
any hub id. Columns: ``problem_column`` / ``answer_column`` / ``solution_column`` (default: the
registry entry's, else the first present of :data:`PROBLEM_COLUMNS` / :data:`ANSWER_COLUMNS` /
:data:`SOLUTION_COLUMNS`); the gold answer is read from the answer column as ``answer_format``
says (:data:`lead_lite.gold_answers.ANSWER_FORMATS`).

Every row has ``prompt`` (problem + the prompt format's instruction, :mod:`lead_lite.prompts`),
``problem``, ``answer`` (the gold answer, a string the verifier can parse) and ``id``
(``source:index`` in the source). A row whose problem or answer is missing, empty or of the wrong
type, or whose gold answer the verifier cannot match against itself, is reported with its index
and reason and dropped (``bad_rows: skip``, the default) or stops the run (``bad_rows: error``);
it is never trained on with an unjudgeable or wrong "correct" answer.

:class:`MathTask` judges the last ``\\boxed{}`` of a completion with :class:`lead_lite.verifier.MathVerifier`;
its reward facts are :class:`lead_lite.rewards.MathAccuracy` and :class:`lead_lite.rewards.HasAnswer`.
"""

from __future__ import annotations

import logging
import math
import random
from dataclasses import dataclass
from pathlib import Path

from lead_lite.gold_answers import ANSWER_FORMATS, GSM8K_FINAL, gsm8k_answer
from lead_lite.official import REPETITION, Repetition, ThinkEndAccuracy, ThinkEndHasAnswer, answer_region
from lead_lite.prompts import DEFAULT_FORMAT, PROMPT_SUFFIX, get_format
from lead_lite.rewards import ACCURACY, FORMAT, HasAnswer, MathAccuracy
from lead_lite.tasks.base import Outcome, Task
from lead_lite.tasks.sources import FILE_TYPES, DataError, load_rows, looks_local
from lead_lite.verifier import MathVerifier, Verdict, extract_boxed

logger = logging.getLogger(__name__)

MAX_REPORTED = 20  # malformed rows listed one by one; the rest are counted
PROBLEM_COLUMNS = ("problem", "question", "prompt")
ANSWER_COLUMNS = ("answer", "final_answer", "solution")
SOLUTION_COLUMNS = ("solution", "completion", "response")
N_REPORTED = 10  # dropped rows whose indices are logged


# -- where the data is ----------------------------------------------------------------------------
@dataclass(frozen=True)
class DatasetSpec:
    """A math dataset on the hub or at a URL: how to load it and which columns hold what.

    Attributes:
        path: hub id, or a ``datasets`` builder (``json``) when ``data_files`` is set.
        problem / answer / solution: column names (``answer`` None: no gold answer, SFT only).
        answer_format: how the gold answer is read from the answer column (:data:`ANSWER_FORMATS`).
        checked: how the id and the columns were checked (no dataset can be loaded here).
    """

    path: str
    problem: str
    answer: str | None
    answer_format: str
    solution: str | None
    checked: str
    split: str = "train"
    config: str | None = None
    data_files: str | None = None


# The official repository's files at its last commit (9344bef, 3 May 2025), so a run reads the same rows later.
OFFICIAL_COMMIT = "9344bef7fc6a4f78071f2658ff3f2ae0e28a2d71"
OFFICIAL = f"https://raw.githubusercontent.com/aeroplanepaper/GRPO-LEAD/{OFFICIAL_COMMIT}/deepscaler/data/train/"
DATASETS: dict[str, DatasetSpec] = {
    "deepscaler": DatasetSpec(
        "agentica-org/DeepScaleR-Preview-Dataset", "problem", "answer", "plain", "solution",
        "columns and size (40,315 rows, one train split) from the dataset card of a copy; not loaded"),
    "grpo-lead-stage1": DatasetSpec(
        "json", "problem", "answer", "plain", "solution",
        "file listed in the official repository's tree; columns inferred from the notebook that writes it "
        "(DeepScaleR rows with difficulty >= 3.5); not read", data_files=OFFICIAL + "stage1_data.json"),
    "grpo-lead-stage2": DatasetSpec(
        "json", "problem", "answer", "plain", "solution",
        "the repository's file loaded through this builder: 3,453 rows with problem, answer, correctness, "
        "difficulty (1,485 with a solution); 2 unparsable golds", data_files=OFFICIAL + "stage_2%263_data.json"),
    "grpo-lead-sft": DatasetSpec(
        "PlanePaper/GRPO-LEAD-SFTData", "instruction", None, "plain", "output",
        "id and size (12,153 rows, one file sft-data.json) from its dataset card; columns UNVERIFIED "
        "(the card says LLaMA-Factory prompt-completion format; instruction/output is a guess)"),
    "gsm8k": DatasetSpec(
        "openai/gsm8k", "question", "answer", "gsm8k", "answer",
        "config main, question/answer, 7,473 train / 1,319 test, from the card and copies' cards; not loaded",
        config="main"),
    "math": DatasetSpec(
        "DigitalLearningGmbH/MATH-lighteval", "problem", "solution", "boxed", "solution",
        "problem/level/type/solution, 7,500 train / 5,000 test, from copies' cards; not loaded",
        config="default"),
}



def row_issue(row: dict, problem_col: str, answer_col: str) -> str | None:
    """Why a row cannot be trained on, or None when it can.

    The problem must be a non-empty string; the answer a non-empty string or a finite number
    (a list, mapping, bool or NaN is not a gold answer).

    Example:
        >>> row_issue({"problem": "1+1?", "answer": 2}, "problem", "answer") is None
        True
        >>> row_issue({"problem": "1+1?", "answer": ["2"]}, "problem", "answer")
        'answer is a list, not a string or number'
    """
    problem, answer = row.get(problem_col), row.get(answer_col)
    if problem is None:
        return f"{problem_col} is missing"
    if not isinstance(problem, str):
        return f"{problem_col} is a {type(problem).__name__}, not a string"
    if not problem.strip():
        return f"{problem_col} is empty"
    if answer is None:
        return f"{answer_col} is missing"
    if isinstance(answer, bool) or not isinstance(answer, (str, int, float)):
        return f"{answer_col} is a {type(answer).__name__}, not a string or number"
    if isinstance(answer, float) and not math.isfinite(answer):
        return f"{answer_col} is {answer}"
    if not str(answer).strip():
        return f"{answer_col} is empty"
    return None


def source_of(name: str) -> str:
    """Where the rows of ``dataset: name`` come from, in words (the dry run and the run log name it).

    Example:
        >>> source_of("gsm8k")
        'hub dataset openai/gsm8k, config main, split train'
        >>> source_of("problems.jsonl")
        'local file problems.jsonl'
    """
    spec = DATASETS.get(name)
    if spec is not None and spec.data_files is not None:
        return f"file {spec.data_files}"
    if spec is not None:
        return f"hub dataset {spec.path}{f', config {spec.config}' if spec.config else ''}, split {spec.split}"
    return f"local file {name}" if Path(name).suffix.lower() in FILE_TYPES else f"hub dataset {name}, split train"


def local_copy_hint(name: str) -> str:
    """What to do when ``name`` cannot be read here: pass a local copy (the one-line error's tail)."""
    spec = DATASETS.get(name)
    if spec is not None and spec.data_files is not None:
        local = spec.data_files.rsplit("/", 1)[-1].replace("%26", "&")
    else:
        local = f"{name.rsplit('/', 1)[-1]}.parquet"
    columns = f" (columns {spec.problem}, {spec.answer})" if spec is not None and spec.answer else ""
    # automatic answer reading takes a plain cell as it is; other formats must be named
    fmt = f" --answer_format {spec.answer_format}" if spec is not None and spec.answer_format != "plain" else ""
    return (f"without network, download it where there is network and pass the local copy{columns}: "
            f"--dataset {local}{fmt} (.parquet, .jsonl, .json or .csv)")


def read_source(name: str) -> tuple[list[dict], DatasetSpec | None]:
    """(raw rows, registry entry or None) of a registry name, local file or hub id.

    Raises:
        DataError: on one line, when the file is missing or the hub / URL cannot be reached
            (naming the dataset, where it lives and how to pass a local copy).
    """
    spec = DATASETS.get(name)
    if spec is None and looks_local(name):
        return load_rows(name), None  # its errors are the file's own
    if spec is None:
        try:
            return load_rows(name), None
        except DataError as exc:
            raise DataError(f"{exc}; {local_copy_hint(name)}") from exc
    logger.info("%s: loading %s (%s)", name, source_of(name), spec.checked)
    try:
        return load_rows(spec.path, spec.split, spec.config, spec.data_files), spec
    except DataError as exc:
        raise DataError(f"dataset {name}: {exc}; {local_copy_hint(name)}") from exc




def _pick(rows: list[dict], requested: str | None, candidates: tuple[str, ...], what: str, source: str) -> str:
    if requested is not None:
        if requested not in rows[0]:
            raise DataError(f"{source}: no {what} column {requested!r}; found {sorted(rows[0])}")
        return requested
    found = next((c for c in candidates if c in rows[0]), None)
    if found is None:
        raise DataError(f"{source}: needs a {what} column (one of {candidates}, or set {what}_column); "
                        f"found {sorted(rows[0])}")
    return found


def _report(source: str, dropped: dict[str, list[int]]) -> None:
    for reason, indices in dropped.items():
        if indices:
            logger.warning("%s: dropped %d row(s) with %s (first indices: %s)", source, len(indices), reason,
                           indices[:N_REPORTED])


def _text(value) -> str | None:
    """A cell as stripped text (numbers become strings); None when missing or empty."""
    if value is None or isinstance(value, (list, dict)):
        return None
    return str(value).strip() or None


def clean_rows(rows: list[dict], source: str, verifier: MathVerifier, problem_column: str | None = None, answer_column: str | None = None,
               answer_format: str = "auto", prompt_format: str = DEFAULT_FORMAT,
               solution_column: str | None = None, bad_rows: str = "skip",
               max_prompt_length: int | None = None) -> list[dict]:
    """Rows with ``prompt``, ``problem``, ``answer`` and ``id`` (and ``solution`` when asked for).

    Reports and drops rows with no problem, an empty answer cell, a prompt longer than
    ``max_prompt_length`` characters, or an unparsable gold answer: none where ``answer_format``
    looks (e.g. no ``\\boxed{}``), or one the verifier cannot match against itself (every
    completion would be judged wrong or unjudgeable).

    Args:
        rows: raw rows; source: their name in the log and in ``id``.
        verifier: the run's verifier (its configuration judges the gold answers too).
        problem_column / answer_column: None picks the first of PROBLEM_COLUMNS / ANSWER_COLUMNS.
        answer_format: a key of :data:`ANSWER_FORMATS`.
        prompt_format: a key of :data:`lead_lite.prompts.PROMPT_FORMATS`.
        solution_column: copy this column to ``solution`` (kept as is; may be empty).
        bad_rows: ``skip`` drops unusable rows with a warning naming each (up to MAX_REPORTED);
            ``error`` raises :class:`DataError` naming them.
        max_prompt_length: the longest prompt (problem + instruction) in characters; None: no bound.

    Example:
        >>> rows = [{"problem": "1+1?", "answer": "2"}, {"problem": "x" * 500, "answer": "3"}]
        >>> verifier = MathVerifier()
        >>> [r["id"] for r in clean_rows(rows, "d", verifier, max_prompt_length=200)]
        ['d:0']
        >>> verifier.close()
    """
    if not rows:
        raise DataError(f"{source}: no rows")
    problem_col = _pick(rows, problem_column, PROBLEM_COLUMNS, "problem", source)
    answer_col = _pick(rows, answer_column, ANSWER_COLUMNS, "answer", source)
    if solution_column is not None:
        _pick(rows, solution_column, (), "solution", source)
    read_answer, fmt = ANSWER_FORMATS[answer_format], get_format(prompt_format)
    kept: list[dict] = []
    dropped: dict[str, list[int]] = {"a missing problem": [], "a missing answer": [], "an unparsable answer": [],
                                     "a prompt too long": []}
    bad: list[tuple[int, str]] = []
    for i, row in enumerate(rows):
        issue = row_issue(row, problem_col, answer_col)
        if issue is not None:
            bad.append((i, issue))
            dropped["a missing problem" if issue.startswith(problem_col) else "a missing answer"].append(i)
            continue
        problem, raw = str(row[problem_col]).strip(), str(row[answer_col]).strip()
        prompt = fmt.prompt(problem)
        if max_prompt_length is not None and len(prompt) > max_prompt_length:
            bad.append((i, f"the prompt has {len(prompt)} characters, more than max_prompt_length={max_prompt_length}"))
            dropped["a prompt too long"].append(i)
            continue
        answer = read_answer(raw)
        if answer is None or verifier.judge_answer(answer, answer).verdict is not Verdict.CORRECT:
            # no answer where answer_format looks, or one the verifier cannot parse
            bad.append((i, f"{answer_col} {raw[:60]!r} holds no parsable gold answer"))
            dropped["an unparsable answer"].append(i)
            continue
        out = {"prompt": prompt, "problem": problem, "answer": answer, "id": f"{source}:{i}"}
        if solution_column is not None:
            out["solution"] = _text(row.get(solution_column)) or ""
        kept.append(out)
    if bad and bad_rows == "error":
        listed = "; ".join(f"row {i}: {why}" for i, why in bad[:MAX_REPORTED])
        more = f"; and {len(bad) - MAX_REPORTED} more" if len(bad) > MAX_REPORTED else ""
        raise DataError(f"{source}: {len(bad)} malformed row(s) (bad_rows=error): {listed}{more}")
    for i, why in bad[:MAX_REPORTED]:
        logger.warning("%s: row %d skipped: %s", source, i, why)
    _report(source, dropped)
    if bad:
        logger.warning("%s: skipped %d malformed row(s) of %d%s", source, len(bad), len(rows),
                       f" (the first {MAX_REPORTED} listed above)" if len(bad) > MAX_REPORTED else "")
    if not kept:
        raise DataError(f"{source}: no row has both a problem and a parsable gold answer")
    return kept


def clean_sft_rows(rows: list[dict], source: str, problem_column: str | None = None,
                   solution_column: str | None = None, prompt_format: str = DEFAULT_FORMAT) -> list[dict]:
    """Rows with ``prompt``, ``completion`` (the worked solution) and ``id``; others reported and dropped.

    A solution without a final ``\\boxed{}`` answer would teach the model to end without one,
    so such rows are reported and dropped as well. GSM8K's ``#### N`` line is rewritten as a
    boxed answer.
    """
    if not rows:
        raise DataError(f"{source}: no rows")
    problem_col = _pick(rows, problem_column, PROBLEM_COLUMNS, "problem", source)
    solution_col = _pick(rows, solution_column, SOLUTION_COLUMNS, "solution", source)
    fmt = get_format(prompt_format)
    kept: list[dict] = []
    dropped: dict[str, list[int]] = {"a missing problem": [], "a missing solution": [],
                                     "no final \\boxed{} answer in the solution": []}
    for i, row in enumerate(rows):
        problem, solution = _text(row.get(problem_col)), _text(row.get(solution_col))
        if solution is not None and extract_boxed(solution) is None and gsm8k_answer(solution) is not None:
            final = gsm8k_answer(solution)
            solution = GSM8K_FINAL.sub("", solution.strip()).rstrip() + f"\nThe final answer is \\boxed{{{final}}}."
        if problem is None:
            dropped["a missing problem"].append(i)
        elif solution is None:
            dropped["a missing solution"].append(i)
        elif extract_boxed(solution) is None:
            dropped["no final \\boxed{} answer in the solution"].append(i)
        else:
            kept.append({"prompt": fmt.prompt(problem), "completion": solution, "id": f"{source}:{i}"})
    _report(source, dropped)
    if not kept:
        raise DataError(f"{source}: no row has both a problem and a worked solution with a boxed answer")
    return kept


# -- what the trainers read -----------------------------------------------------------------------
def _columns(data, spec: DatasetSpec | None) -> dict:
    """Column and answer-format settings: the config's, else the registry entry's, else automatic."""
    return {
        "problem_column": data.problem_column or (spec.problem if spec else None),
        "answer_column": data.answer_column or (spec.answer if spec else None),
        "answer_format": data.answer_format or (spec.answer_format if spec else "auto"),
        "solution_column": data.solution_column or (spec.solution if spec else None),
    }


def dataset_rows(data, verifier: MathVerifier, with_solution: bool = False) -> list[dict]:
    """Every usable row of ``data.dataset``, in source order, cleaned (see :func:`clean_rows`)."""
    raw, spec = read_source(data.dataset)
    cols = _columns(data, spec)
    if cols["answer_column"] is None and spec is not None:
        raise DataError(f"{data.dataset}: has no gold answers (an SFT set); use it with lead_lite.sft, "
                        "or set answer_column")
    if not with_solution:
        cols["solution_column"] = None
    elif cols["solution_column"] is None:
        cols["solution_column"] = next((c for c in SOLUTION_COLUMNS if raw and c in raw[0]), None)
    return clean_rows(raw, data.dataset, verifier, prompt_format=data.prompt_format, bad_rows=data.bad_rows,
                      max_prompt_length=data.max_prompt_length, **cols)


def reformat(rows: list[dict], prompt_format: str) -> list[dict]:
    """Generated rows (prompts written in the plain format) rewritten in another prompt format."""
    if prompt_format == DEFAULT_FORMAT:
        return rows
    fmt = get_format(prompt_format)
    return [{**r, "prompt": fmt.prompt(r["prompt"].removesuffix(PROMPT_SUFFIX))} for r in rows]


def _problem_key(row: dict) -> str:
    return " ".join(row["prompt"].split())


def split_held_out(rows: list[dict], n_eval: int, name: str) -> tuple[list[dict], list[dict]]:
    """(training rows, held-out rows): the first ``n_eval`` distinct problems of ``rows`` are held out,
    and no training row repeats one of them (the same prompt, whitespace aside): a held-out problem
    seen in training would measure recall, not reasoning. Rows left out are reported.

    Example:
        >>> rows = [{"prompt": "1+1?"}, {"prompt": "1+1?"}, {"prompt": "2+2?"}, {"prompt": "1 +1?"}]
        >>> train, held = split_held_out(rows, 1, "d.jsonl")
        >>> [r["prompt"] for r in train], [r["prompt"] for r in held]
        (['2+2?', '1 +1?'], ['1+1?'])
    """
    held, keys = [], set()
    for row in rows:
        if len(held) == n_eval:
            break
        if _problem_key(row) not in keys:
            keys.add(_problem_key(row))
            held.append(row)
    held_ids = {id(r) for r in held}
    train = [r for r in rows if id(r) not in held_ids and _problem_key(r) not in keys]
    repeats = len(rows) - len(held) - len(train)
    if repeats:
        logger.warning("%s: %d rows repeat a held-out problem; left out of training (%d training rows, %d held out)",
                       name, repeats, len(train), len(held))
    return train, held


class MathTask(Task):
    """Math problems from ``data.dataset``; the last ``\\boxed{}`` answer judged against the gold.

    At most a tenth of the rows (and at most ``eval_size``) is held out for the run's summary.

    Args:
        verifier: the run's answer checker.
        answer_before_think_end: the official code's rule: the answer is the last ``\\boxed{}``
            before the first ``</think>``, and a completion without ``</think>`` has none
            (:func:`lead_lite.official.answer_region`); in the rewards and in the evaluation alike.

    Example:
        >>> task = MathTask(MathVerifier())
        >>> task.judge("so \\\\boxed{4}", {"answer": "4"}).verdict.value, task.judge("4", {"answer": "4"}).verdict.value
        ('correct', 'no_answer')
        >>> task.close()
    """

    NAME = "math"
    COLUMNS = ("answer",)
    REWARDS = {
        ACCURACY: lambda task: (ThinkEndAccuracy if task.answer_before_think_end else MathAccuracy)(task.verifier),
        FORMAT: lambda task: (ThinkEndHasAnswer if task.answer_before_think_end else HasAnswer)(),
        REPETITION: lambda task: Repetition(),  # a fact for the official -2 score (LeadArguments.repetition_reward)
    }
    DEFAULT_REWARDS = (ACCURACY, FORMAT)
    REWARD_WEIGHTS = {ACCURACY: 1.0, FORMAT: 0.0, REPETITION: 0.0}  # accuracy drives the reward; facts are logged

    def __init__(self, verifier: MathVerifier, answer_before_think_end: bool = False):
        self.verifier = verifier
        self.answer_before_think_end = answer_before_think_end

    def rows(self, data, seed: int) -> tuple[list[dict], list[dict]]:
        if data.dataset is None:
            raise DataError("task 'math' reads its problems from a dataset: set dataset (a name, file or hub id)")
        rows = dataset_rows(data, self.verifier)
        random.Random(seed).shuffle(rows)
        n_eval = min(data.eval_size, len(rows) // 10)  # at most a tenth is held out
        return split_held_out(rows, n_eval, data.dataset)

    def sft_rows(self, data, seed: int) -> list[dict]:
        raw, spec = read_source(data.dataset)
        cols = _columns(data, spec)
        rows = clean_sft_rows(raw, data.dataset, cols["problem_column"], cols["solution_column"], data.prompt_format)
        random.Random(seed).shuffle(rows)
        return rows

    def judge(self, text: str, row: dict) -> Outcome:
        if self.answer_before_think_end:
            text = answer_region(text) or ""
        verdict = self.verifier.check(text, row["answer"]).verdict
        return Outcome(verdict, None if verdict is Verdict.UNJUDGEABLE else float(verdict is Verdict.CORRECT))

    def close(self) -> None:
        self.verifier.close()
