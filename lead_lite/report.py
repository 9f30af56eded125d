"""One HTML page that shows runs: curves over steps, before / after, evaluation, configuration.

    python -m lead_lite.report runs/tiny                                # writes runs/tiny/report.html
    python -m lead_lite.report runs/grpo runs/grpo-lead --output ablation.html   # runs overlaid
    python -m lead_lite.report runs/eval-base runs/eval-lead            # evaluations side by side

A RUN_DIR is a training output (``metrics.jsonl``, ``summary.json``, ``resolved_config.yaml``, as
written by ``lead_lite.train`` and ``lead_lite.sft``), an evaluation output (``summary.json`` with
per-benchmark results and ``budget_curve.csv``, as written by ``lead_lite.eval``), or a directory
whose subdirectories are such runs (a curriculum's ``stage-N``, a Countdown run's
``grpo1`` / ``sft`` / ``grpo2``), which adds each of them.

The page has, for every run that logged them, these curves over training steps (several runs share
each figure): the LEAD reward, accuracy, mean length of correct and of incorrect completions, the
difficulty weight w(rho), the unjudgeable fraction, the clipped fraction (completions cut at
``max_completion_length``) and the training loss; the held-out accuracy and mean completion length
before and after training (``summary.json``); an evaluation's pass@1 / cons@k / pass@k table and its
token-budget curve; and the resolved configuration, with the keys where runs differ side by side.

The page is self-contained: figures are PNG images embedded in it (base64), styles are inline, and
it has no script. ``lead_lite.train`` writes ``OUTPUT_DIR/report.html`` at the end of every run.
"""

from __future__ import annotations

import argparse
import base64
import csv
import html
import io
import json
import logging
import sys
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from lead_lite import run_files
from lead_lite.user_errors import UserError, entry_point

logger = logging.getLogger("lead_lite.report")

# (title, metrics.jsonl key, y-axis label, what it is)
CURVES = (
    ("LEAD reward", "lead/reward", "mean reward",
     "Mean LEAD reward of the judged completions: exp(-alpha z) when correct, the penalty when not."),
    ("Accuracy", "lead/accuracy", "fraction correct", "Share of judged training completions that are correct."),
    ("Length of correct completions", "lead/length_correct", "tokens", "Mean tokens of the correct completions."),
    ("Length of incorrect completions", "lead/length_incorrect", "tokens",
     "Mean tokens of the incorrect completions."),
    ("Difficulty weight", "lead/difficulty_weight", "w(rho)",
     "Mean difficulty weight w(rho) over the groups (1 when difficulty reweighting is off)."),
    ("Unjudgeable fraction", "lead/unjudgeable_frac", "fraction",
     "Share of completions the verifier could not judge (no reward, zero advantage)."),
    ("Clipped fraction", "completions/clipped_ratio", "fraction",
     "Share of completions cut at max_completion_length before they ended."),
    ("Training loss", "loss", "loss", "The trainer's loss."),
    ("Dynamic sampling: informative groups trained", "dynamic/groups_trained", "groups",
     "Groups with unequal rewards in the step's batch (dynamic_sampling; the rest have zero advantage)."),
    ("Dynamic sampling: generation rounds", "dynamic/rounds", "rounds",
     "Generation rounds it took to fill the step (at most dynamic_sampling_max_rounds)."),
    ("Dynamic sampling: informative share before filling", "dynamic/informative_share", "fraction",
     "Share of the first round's groups whose rewards were not all equal."),
    ("Completion tokens generated", "lead/generated_tokens", "tokens per step",
     "Completion tokens generated for the step, every round and process counted."),
)
EVAL_COLUMNS = ("benchmark", "run", "k", "pass@1", "cons@k", "pass@k", "mean len", "len correct",
                "len incorrect", "truncated", "no answer", "unjudgeable")
CONFIG_FILE, METRICS_FILE, SUMMARY_FILE, CURVE_FILE = (
    "resolved_config.yaml", "metrics.jsonl", "summary.json", "budget_curve.csv")


class ReportError(UserError):
    """A run directory is missing, holds nothing to report or a malformed file; the message names it."""

    WHAT = "cannot report"


@dataclass
class Run:
    """What one run directory holds (each part empty when its file is absent)."""

    path: Path
    label: str = ""
    metrics: list[dict] = field(default_factory=list)  # metrics.jsonl records
    summary: dict = field(default_factory=dict)  # summary.json
    config: dict = field(default_factory=dict)  # resolved_config.yaml
    budget_curve: list[dict] = field(default_factory=list)  # budget_curve.csv rows

    @property
    def is_eval(self) -> bool:
        return "benchmarks" in self.summary


# -- reading runs ----------------------------------------------------------------------------------
def _is_run(path: Path) -> bool:
    return (path / METRICS_FILE).is_file() or (path / SUMMARY_FILE).is_file()


def _text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ReportError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from exc


def _mapping(path: Path, what: str, value) -> dict:
    if not isinstance(value, dict):
        raise ReportError(f"{path}: the {what} is a {type(value).__name__}, not a mapping")
    return value


def _step_problem(record: dict) -> str | None:
    return None if isinstance(record.get("step"), int) else "no integer step"


def _curve_rows(path: Path) -> list[dict]:
    rows = list(csv.DictReader(io.StringIO(_text(path), newline="")))
    for n, row in enumerate(rows, start=2):  # line 1 is the header
        try:
            int(row["budget"]), float(row["pass@1"]), str(row["benchmark"])
        except (KeyError, TypeError, ValueError) as exc:
            raise ReportError(f"{path}, line {n}: not a budget-curve row (benchmark, budget, pass@1)") from exc
    return rows


def load_run(path: Path) -> Run:
    """Read one run directory's files; a malformed file (not UTF-8, not JSON / YAML / CSV, a
    metrics line without its step, a summary or configuration that is not a mapping) fails naming it.
    A torn last line of ``metrics.jsonl`` (an interrupted write) is skipped with a warning."""
    run = Run(path=path, label=path.name)
    metrics, summary, config, curve = (path / name for name in (METRICS_FILE, SUMMARY_FILE, CONFIG_FILE, CURVE_FILE))
    for file in (metrics, summary, config, curve):
        run_files.refuse_non_regular(file, "a run's file")
    try:
        if metrics.is_file():
            run.metrics = run_files.parse_jsonl(metrics, _text(metrics), problem=_step_problem)
        if summary.is_file():
            run.summary = _mapping(summary, "summary", json.loads(_text(summary)))
        if config.is_file():
            run.config = _mapping(config, "configuration", yaml.safe_load(_text(config)) or {})
        if curve.is_file():
            run.budget_curve = _curve_rows(curve)
    except ReportError:
        raise
    except json.JSONDecodeError as exc:
        raise ReportError(f"{summary}: cannot read the summary (not JSON: {exc})") from exc
    except yaml.YAMLError as exc:
        raise ReportError(f"{config}: cannot read the configuration (not YAML)") from exc
    except (ValueError, csv.Error) as exc:  # parse_jsonl names the file and line
        raise ReportError(str(exc)) from exc
    return run


def input_files(runs: list[Run]) -> dict[str, Path]:
    """The files the report reads, by a name for messages."""
    return {f"the run file {path}": path for r in runs
            for path in (r.path / n for n in (METRICS_FILE, SUMMARY_FILE, CONFIG_FILE, CURVE_FILE)) if path.exists()}


def find_runs(paths: list[str | Path]) -> list[Run]:
    """The runs named by ``paths``: each a run directory, or a directory of run directories.

    Labels are the directory names, or the paths as given when two names are the same.
    Raises :class:`ReportError` for a path that does not exist or holds no run.
    """
    found: list[Path] = []
    for given in map(Path, paths):
        if not given.is_dir():
            raise ReportError(f"{given}: no such run directory")
        if _is_run(given):
            found.append(given)
            continue
        inner = sorted(p for p in given.iterdir() if p.is_dir() and _is_run(p))
        if not inner:
            raise ReportError(f"{given}: holds no {METRICS_FILE} or {SUMMARY_FILE} (not a lead_lite run directory)")
        found.extend(inner)
    runs = [load_run(p) for p in found]
    names = [r.path.name for r in runs]
    if len(set(names)) < len(names):
        for r in runs:
            r.label = str(r.path)
    return runs


def series(records: list[dict], key: str) -> tuple[list[int], list[float]]:
    """Steps and values of one metric, skipping records without it (or with null, a NaN when logged).

    >>> series([{"step": 1, "loss": 0.5}, {"step": 2}, {"step": 3, "loss": None}, {"step": 4, "loss": 0.25}], "loss")
    ([1, 4], [0.5, 0.25])
    """
    points = [(r["step"], float(r[key])) for r in records if isinstance(r.get(key), (int, float))]
    return [s for s, _ in points], [v for _, v in points]


def config_differences(configs: list[dict]) -> list[str]:
    """Keys whose values are not the same in every configuration (absent counts as a value).

    >>> config_differences([{"alpha": 0.05, "seed": 0}, {"alpha": 0.1, "seed": 0}, {"seed": 0, "k": 8}])
    ['alpha', 'k']
    """
    keys = sorted({k for c in configs for k in c})
    missing = object()
    return [k for k in keys if len({json.dumps(c.get(k, missing), default=repr, sort_keys=True) for c in configs}) > 1]


# -- figures ---------------------------------------------------------------------------------------
def _png(fig) -> str:
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buffer, format="png", dpi=100)
    plt.close(fig)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _axes(title: str, xlabel: str, ylabel: str):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.6, 3.4))
    ax.set_title(title, fontsize=10)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    return fig, ax


def curve_figures(runs: list[Run]) -> list[tuple[str, str, str]]:
    """(title, caption, base64 PNG) for each curve some run logged, every such run overlaid."""
    figures = []
    for title, key, ylabel, caption in CURVES:
        lines = [(r.label, *series(r.metrics, key)) for r in runs]
        lines = [line for line in lines if line[1]]
        if not lines:
            continue
        fig, ax = _axes(title, "training step", ylabel)
        for label, steps, values in lines:
            ax.plot(steps, values, marker="." if len(steps) < 30 else None, label=label)
        if len(lines) > 1:
            ax.legend(fontsize=8)
        figures.append((title, f"{caption} ({key})", _png(fig)))
    return figures


def budget_figure(runs: list[Run]) -> str | None:
    """pass@1 against the token budget for every evaluation run and benchmark (base64 PNG)."""
    curves = [(r, rows) for r in runs if (rows := r.budget_curve)]
    if not curves:
        return None
    fig, ax = _axes("pass@1 at each token budget", "token budget (max new tokens)", "pass@1 (%)")
    for run, rows in curves:
        for bench in dict.fromkeys(row["benchmark"] for row in rows):
            points = [(int(row["budget"]), 100 * float(row["pass@1"])) for row in rows if row["benchmark"] == bench]
            label = bench if len(curves) == 1 else f"{run.label}: {bench}"
            ax.plot(*zip(*points), marker="o", label=label)
    ax.set_ylim(0, 100)
    ax.legend(fontsize=8)
    return _png(fig)


# -- the page --------------------------------------------------------------------------------------
def _esc(value) -> str:
    return html.escape(str(value))


def _table(header: list[str], rows: list[list]) -> str:
    head = "".join(f"<th>{_esc(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{_esc(c)}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _pct(x) -> str:
    return "-" if x is None else f"{100 * x:.1f}%"


def _num(x) -> str:
    return "-" if x is None else f"{x:.1f}" if isinstance(x, float) else str(x)


def _runs_section(runs: list[Run]) -> str:
    rows = []
    for r in runs:
        kind = "evaluation" if r.is_eval else r.summary.get("method") or r.config.get("method_name") or "training"
        steps = r.summary.get("steps", max((m.get("step", 0) for m in r.metrics), default="-"))
        rows.append([r.label, str(r.path), kind, "-" if r.is_eval else steps])
    return "<h2>Runs</h2>" + _table(["run", "directory", "kind", "steps"], rows)


def _before_after_section(runs: list[Run]) -> str:
    rows = []
    for r in runs:
        before, after = r.summary.get("before") or {}, r.summary.get("after") or {}
        if not (before or after):
            continue
        n = after.get("n", before.get("n", "-"))
        rows.append([r.label, n, _pct(before.get("accuracy")), _pct(after.get("accuracy")),
                     _num(before.get("mean_length")), _num(after.get("mean_length"))])
    if not rows:
        return ""
    return ("<h2>Before and after training</h2><p>Held-out problems, greedy decoding (<code>summary.json</code>).</p>"
            + _table(["run", "problems", "accuracy before", "accuracy after", "mean length before (tokens)",
                      "mean length after (tokens)"], rows))


def _eval_section(runs: list[Run]) -> str:
    rows = []
    for r in runs:
        for bench, s in r.summary.get("benchmarks", {}).items():
            k = s.get("k")
            rows.append([bench, r.label, k, _pct(s.get("pass@1")), _pct(s.get("cons@k")),
                         _pct((s.get("pass@k") or {}).get(str(k))), _num(s.get("mean_length")),
                         _num(s.get("mean_length_correct")), _num(s.get("mean_length_incorrect")),
                         _pct(s.get("truncated_rate")), _pct(s.get("no_answer_rate")), s.get("unjudgeable", "-")])
    figure = budget_figure(runs)
    if not rows and figure is None:
        return ""
    parts = ["<h2>Evaluation</h2>",
             "<p>pass@1: mean share of correct samples per problem; cons@k: the majority answer of the k samples "
             "is correct; pass@k: at least one of k samples is correct (unbiased estimator, Chen et al. 2021). "
             "Lengths are mean tokens per completion.</p>"]
    if rows:
        parts.append(_table(list(EVAL_COLUMNS), rows))
    if figure is not None:
        parts.append(_figure("Token-budget curve", "The same samples judged again when cut to each budget "
                             "(budget_curve.csv).", figure))
    return "".join(parts)


def _figure(title: str, caption: str, png: str) -> str:
    return (f'<figure><img alt="{_esc(title)}" src="data:image/png;base64,{png}">'
            f"<figcaption>{_esc(caption)}</figcaption></figure>")


def _config_section(runs: list[Run]) -> str:
    with_config = [r for r in runs if r.config]
    if not with_config:
        return ""
    parts = ["<h2>Configuration</h2>"]
    if len(with_config) > 1:
        diff = config_differences([r.config for r in with_config])
        if diff:
            header = ["key"] + [r.label for r in with_config]
            rows = [[k] + [json.dumps(r.config.get(k), default=str) for r in with_config] for k in diff]
            parts.append("<p>Keys that differ between runs:</p>" + _table(header, rows))
    for r in with_config:
        text = yaml.safe_dump(r.config, sort_keys=True)
        parts.append(f"<details><summary>{_esc(r.label)}: resolved configuration</summary><pre>{_esc(text)}</pre>"
                     "</details>")
    return "".join(parts)


STYLE = """
body{font-family:system-ui,sans-serif;margin:2em auto;max-width:1200px;color:#222;padding:0 1em}
h1{font-size:1.5em}h2{font-size:1.2em;margin-top:1.6em;border-bottom:1px solid #ddd}
table{border-collapse:collapse;font-size:.9em;margin:.5em 0}td,th{border:1px solid #ccc;padding:.25em .6em;
text-align:right}td:first-child,th:first-child{text-align:left}.figures{display:flex;flex-wrap:wrap;gap:1em}
figure{margin:0;width:560px}figure img{width:100%}figcaption{font-size:.85em;color:#555}
pre{background:#f6f6f6;padding:.6em;font-size:.8em;overflow-x:auto}
"""


def render(runs: list[Run]) -> str:
    """The HTML page for ``runs`` (one or several overlaid), figures embedded."""
    title = "lead_lite report: " + ", ".join(r.label for r in runs)
    curves = curve_figures(runs)
    curve_html = ""
    if curves:
        curve_html = ("<h2>Training curves</h2><p>Per logged step (<code>metrics.jsonl</code>).</p>"
                      '<div class="figures">' + "".join(_figure(*c) for c in curves) + "</div>")
    body = (_runs_section(runs) + _before_after_section(runs) + curve_html + _eval_section(runs)
            + _config_section(runs))
    return (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{_esc(title)}</title>'
            f"<style>{STYLE}</style></head><body><h1>{_esc(title)}</h1>{body}</body></html>\n")


def write_report(paths: list[str | Path], output: str | Path) -> Path:
    """Read the runs under ``paths``, write the page to ``output`` whole; returns its path.

    ``output`` may not be a file the report reads, nor another file a run records
    (:func:`lead_lite.run_files.refuse_run_file`): those are refused before the page is drawn.
    """
    runs = find_runs(paths)
    output = Path(output)
    run_files.refuse_same_file(output, input_files(runs), "--output")
    run_files.refuse_run_file(output, "--output", own=("report.html",))
    return run_files.write_atomic(output, render(runs))


@entry_point
def main(argv: list[str]) -> Path:
    """Write the page; a user error (a missing or malformed run, an output it cannot write or that is
    one of its inputs) ends with one line and exit code 2 (:mod:`lead_lite.user_errors`)."""
    parser = argparse.ArgumentParser(
        prog="python -m lead_lite.report", formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Write one self-contained HTML page (figures embedded) for one or several runs.",
        epilog=__doc__.split("\n\n", 2)[2],
    )
    parser.add_argument("runs", nargs="+", metavar="RUN_DIR",
                        help="output directories of lead_lite.train / sft / eval, or directories of them")
    parser.add_argument("--output", help="the HTML file (default: RUN_DIR/report.html for one run, "
                        "report.html in the current directory for several)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    output = args.output or (Path(args.runs[0]) / "report.html" if len(args.runs) == 1 else Path("report.html"))
    path = write_report(args.runs, output)
    logger.info("report written to %s", path.resolve())
    return path


if __name__ == "__main__":
    main(sys.argv[1:])
