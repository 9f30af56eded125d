import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from helpers import SMOLLM2, SMOLLM2_SHORT

REPO = Path(__file__).resolve().parent.parent


def pytest_collection_modifyitems(config, items):
    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs a CUDA GPU")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def tiny_path():
    """The warm-started tiny model (built once, cached in ~/.cache/lead_lite or $LEAD_LITE_CACHE)."""
    from lead_lite.models.tiny import prepare_tiny_model

    return prepare_tiny_model()


@pytest.fixture(scope="session")
def smollm2_copy():
    """The packaged copy's folder (built once per cache)."""
    from lead_lite.models import source

    source.resolve_source.cache_clear()
    return Path(source.resolve_source(SMOLLM2))


@pytest.fixture(scope="session")
def smollm2_run(smollm2_copy, tmp_path_factory):
    """One short training run of the preset, through the command line."""
    out = tmp_path_factory.mktemp("smollm2") / "run"
    env = dict(os.environ, PYTHONPATH=str(REPO), HF_HUB_OFFLINE="1")
    proc = subprocess.run([sys.executable, "-m", "lead_lite.train", "--model", "smollm2-135m", *SMOLLM2_SHORT,
                           "--output_dir", str(out)], cwd=REPO, env=env, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-4000:]
    return out, proc.stderr
