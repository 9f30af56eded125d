"""GPU tests (pytest -m gpu): real-shape, random-weight models through each backend.

Skipped without CUDA (conftest). The unsloth / vLLM / bitsandbytes cases skip with the reason
when the package is not installed.
"""

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.gpu


def _run(tmp_path, *flags):
    out = tmp_path / "result.json"
    subprocess.run([sys.executable, str(ROOT / "benchmarks" / "gpu_step.py"), "--shape", "Qwen/Qwen3-0.6B",
                    "--steps", "2", "--max_completion_length", "64", "--json_out", str(out), *flags],
                   check=True, cwd=ROOT)
    return json.loads(out.read_text())


def _need(package):
    if importlib.util.find_spec(package) is None:
        pytest.skip(f"{package} is not installed")


def test_trl_backend_bf16(tmp_path):
    r = _run(tmp_path, "--backend", "trl")
    assert r["lead_metrics_logged"] and r["median_step_s"] > 0


def test_trl_backend_4bit(tmp_path):
    _need("bitsandbytes")
    r = _run(tmp_path, "--backend", "trl", "--load_in_4bit")
    assert r["lead_metrics_logged"] and r["load_in_4bit"]


def test_unsloth_backend_4bit(tmp_path):
    _need("unsloth")
    r = _run(tmp_path, "--backend", "unsloth", "--load_in_4bit")
    assert r["lead_metrics_logged"] and r["backend"] == "unsloth"


def test_unsloth_backend_vllm(tmp_path):
    _need("unsloth")
    _need("vllm")
    r = _run(tmp_path, "--backend", "unsloth", "--load_in_4bit", "--use_vllm")
    assert r["lead_metrics_logged"] and r["use_vllm"]
