"""The console commands a ``pip install`` of lead_lite puts on the PATH (``[project.scripts]``).

Each is its ``python -m`` form under another name; the module's ``main`` does the work:

    lead-lite-train       python -m lead_lite.train
    lead-lite-sft         python -m lead_lite.sft
    lead-lite-eval        python -m lead_lite.eval
    lead-lite-data        python -m lead_lite.data
    lead-lite-report      python -m lead_lite.report
    lead-lite-countdown   python -m lead_lite.recipes.countdown

A module's ``main`` returns its result (a summary, a table) for Python callers; a console command
exits 0 after it instead of handing that result to ``sys.exit``.
"""

from __future__ import annotations

import importlib
import sys


def _run(module: str) -> int:
    importlib.import_module(module).main(sys.argv[1:])
    return 0


def train() -> int:
    return _run("lead_lite.train")


def sft() -> int:
    return _run("lead_lite.sft")


def evaluate() -> int:
    return _run("lead_lite.eval")


def data() -> int:
    return _run("lead_lite.data")


def report() -> int:
    return _run("lead_lite.report")


def countdown() -> int:
    return _run("lead_lite.recipes.countdown")
