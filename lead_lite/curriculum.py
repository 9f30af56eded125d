"""Curriculum: training stages run in order, each continuing the previous stage's LoRA adapter.

A training config may list stages; ``python -m lead_lite.train --config FILE`` then runs them::

    model: tiny
    output_dir: runs/curriculum-tiny
    stages:
      - {method: sft, max_steps: 30}                    # stage-0: SFT on worked solutions
      - {max_completion_length: 48, max_steps: 20}      # stage-1: GRPO-LEAD
      - {dataset: filtered.jsonl, max_steps: 20}        # stage-2: GRPO-LEAD on a pass-rate band

Each stage's keys are layered over the file's top-level keys, and command-line flags over both
(``--max_steps 2`` reaches every stage). ``method`` is ``grpo`` (default; :func:`lead_lite.train.main`)
or ``sft`` (:func:`lead_lite.sft.main`, first stage only). Stage N writes to ``output_dir/stage-N``:
GRPO stages count from 1 and a leading SFT stage is stage 0, as in the paper (SFT, then
GRPO-LEAD stage 1, stage 2/3). The first stage starts from a fresh adapter or from
``init_adapter`` (key or flag); every later stage loads the previous stage's adapter onto the base
model and trains it further (:func:`lead_lite.models.attach_adapter`), so its LoRA rank and
targets are those of the first stage. Every stage's configuration is resolved and checked
before the first one trains. With ``--dry-run``, each GRPO stage prints its memory plan instead.

Writes ``output_dir/curriculum.json`` (rewritten after each stage): for each stage its method,
directory, the adapter it started from, checksums of the LoRA weights it started from and
saved (:func:`lead_lite.models.adapter_digest`), its step count and its summary.
"""

from __future__ import annotations

import logging
from pathlib import Path

from lead_lite.models import adapter_digest
from lead_lite.run_files import write_json

logger = logging.getLogger("lead_lite.curriculum")


def stage_names(stages: list[dict]) -> list[str]:
    """``stage-N`` for each stage: GRPO stages from 1, a leading SFT stage 0.

    Example:
        >>> stage_names([{"method": "sft"}, {}, {"max_steps": 5}])
        ['stage-0', 'stage-1', 'stage-2']
    """
    first = 0 if stages and stages[0].get("method") == "sft" else 1
    return [f"stage-{first + i}" for i in range(len(stages))]


def plan(argv: list[str], stages: list[dict]) -> list[tuple[str, list[str], tuple[str, dict]]]:
    """(method, argv, (name, overrides)) of every stage, each configuration resolved and checked.

    ``--output_dir`` and ``--init_adapter`` flags are taken out of the stages' argv: the first
    names the parent of the stage directories, the second the first stage's starting adapter.
    """
    from lead_lite.config import _pop_flag, parse_config

    rest = list(argv)
    out_flag, init_flag = _pop_flag(rest, "--output_dir"), _pop_flag(rest, "--init_adapter")
    names = stage_names(stages)
    overrides = [{k: v for k, v in s.items() if k != "method"} for s in stages]
    base = out_flag or parse_config(rest, stage=(names[0], overrides[0]))[3].output_dir
    planned = []
    for i, (name, values) in enumerate(zip(names, overrides)):
        values["output_dir"] = str(Path(base) / name)
        if i:
            values["init_adapter"] = planned[-1][2][1]["output_dir"]
        elif init_flag is not None:
            values["init_adapter"] = init_flag
        parse_config(rest, stage=(name, values))  # fails here, before any stage trains
        planned.append((stages[i].get("method", "grpo"), rest, (name, values)))
    return planned


def run(argv: list[str], stages: list[dict]) -> list[dict]:
    """Run the stages in order; returns (and writes to curriculum.json) one record per stage."""
    from lead_lite import sft, train
    from lead_lite.config import ConfigError, parse_config

    try:
        planned = plan(argv, stages)
        dry_run = parse_config(planned[0][1], stage=planned[0][2])[0].dry_run
    except ConfigError as exc:
        logger.error("invalid configuration: %s", exc)
        raise SystemExit(2) from exc
    if dry_run:  # the memory plan of every GRPO stage; nothing loads or trains
        codes = []
        for method, stage_argv, stage in planned:
            if method == "sft":
                logger.info("curriculum %s (sft): no memory plan for SFT", stage[0])
                continue
            try:
                train.main(stage_argv, stage=stage)
            except SystemExit as exc:
                codes.append(exc.code or 0)
        raise SystemExit(max(codes, default=0))
    parent = Path(planned[0][2][1]["output_dir"]).parent
    parent.mkdir(parents=True, exist_ok=True)
    records = []
    for method, stage_argv, (name, values) in planned:
        logger.info("curriculum %s (%s) -> %s", name, method, values["output_dir"])
        summary = (sft.main if method == "sft" else train.main)(stage_argv, stage=(name, values))
        init = summary["init_adapter"]
        records.append({
            "stage": name, "method": method, "output_dir": values["output_dir"], "init_adapter": init,
            "init_adapter_digest": adapter_digest(init) if init else None,
            "start_adapter_digest": summary["start_adapter_digest"], "adapter_digest": summary.get("adapter_digest"),
            "steps": summary["steps"], "summary": summary,
        })
        write_json(parent / "curriculum.json", records)
    logger.info("curriculum: %d stages done; records in %s", len(records), parent / "curriculum.json")
    return records
