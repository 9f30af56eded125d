import pytest
import torch


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
