"""The memory plan: every preset plans on CPU, fits its card, and a run that cannot fit is refused."""


import pytest

from helpers import parse

from lead_lite.config import PRESET_DIR
from lead_lite.memory_plan import SHAPES, dry_run, estimate

PRESETS = sorted(p.stem for p in PRESET_DIR.glob("*.yaml") if p.stem not in ("tiny", "smollm2-135m"))  # GPU presets


@pytest.mark.parametrize("name", PRESETS)
def test_every_preset_fits_its_card(name):
    model, _, _, training = parse(["--model", name, "--dry-run"])  # planned for a GPU install: vLLM too
    assert model.model_name_or_path in SHAPES
    card = "80" if name.endswith("-80gb") else "24"
    fits, text = dry_run(model, training, card, backend="unsloth")
    assert fits, text
    assert "weights" not in text.split("\n")[1] or "4-bit" in text  # unsloth shares the 4-bit weights with vLLM


def test_plan_grows_with_settings_and_refuses_with_suggestions():
    model, _, _, training = parse(["--model", "qwen3-14b", "--dry-run"])
    shape = SHAPES[model.model_name_or_path]
    small = estimate(shape, model, training, 24.0, shared_weights=True).total
    model.load_in_4bit = False
    big = estimate(shape, model, training, 24.0, shared_weights=False).total
    assert big > small + 20  # 16-bit 14B weights alone are ~28 GiB
    fits, text = dry_run(model, training, "rtx4090", backend="trl")
    assert not fits and "DOES NOT FIT" in text and "--load_in_4bit true" in text


def test_unknown_model_is_explained(tmp_path):
    model, _, _, training = parse(["--model", "someone/unknown", "--output_dir", str(tmp_path)])
    fits, text = dry_run(model, training, "24", backend="trl")
    assert not fits and "no architecture known" in text


def test_cli_dry_run_exit_codes(capsys):
    from lead_lite.train import main

    with pytest.raises(SystemExit) as ok:
        main(["--model", "qwen3-1.7b", "--dry-run", "--gpu_memory", "24"])
    assert ok.value.code == 0
    with pytest.raises(SystemExit) as refused:
        main(["--model", "qwen3-14b-80gb", "--dry-run", "--gpu_memory", "t4"])
    assert refused.value.code == 3
    with pytest.raises(SystemExit) as bad_card:
        main(["--model", "qwen3-1.7b", "--dry-run", "--gpu_memory", "huge"])
    assert bad_card.value.code != 0
