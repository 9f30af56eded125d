"""Every notebook runs top to bottom on the CPU with the tiny model, parameters injected."""

import os
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
# the main notebook once more with a real pretrained model on the CPU (SmolLM2-135M-Instruct)
RUNS = [*NOTEBOOKS, ("lead_qwen3_1.7b.ipynb", "smollm2-135m")]

PARAMETERS = {
    "lead_qwen3_1.7b.ipynb": dict(MODEL="tiny", MAX_STEPS=2, EVAL_PROBLEMS=4, EVAL_K=2,
                                  EXTRA_FLAGS=["--save_steps", "100"]),
    "countdown_grpo_sft_grpo.ipynb": dict(MODEL="tiny", STAGE_FLAGS=["--max_steps", "2", "--eval_size", "8",
                                                                     "--train_size", "32"]),
    "evaluate.ipynb": dict(MODEL="tiny", DATA=["arithmetic"], K=2, MAX_NEW_TOKENS=32, MAX_PROBLEMS=4),
}
SMOLLM2_PARAMETERS = dict(MODEL="smollm2-135m", MAX_STEPS=2, EVAL_PROBLEMS=4, EVAL_K=2,
                          EXTRA_FLAGS=["--save_steps", "100", "--per_device_train_batch_size", "8",
                                       "--num_generations", "4", "--max_completion_length", "16", "--train_size", "16"])


def test_every_notebook_has_parameters_and_no_outputs():
    assert {p.name for p in NOTEBOOKS} == set(PARAMETERS)
    for path in NOTEBOOKS:
        nb = nbformat.read(path, as_version=4)
        tagged = [c for c in nb.cells if "parameters" in c.get("metadata", {}).get("tags", [])]
        assert len(tagged) == 1, f"{path.name}: needs exactly one cell tagged 'parameters'"
        for cell in nb.cells:
            if cell.cell_type == "code":
                assert not cell.outputs and cell.execution_count is None, f"{path.name}: committed outputs"
            # notebooks import the package; they never redefine its functions
            assert "def " not in cell.source or cell.cell_type == "markdown", f"{path.name}: defines a function"


@pytest.mark.parametrize("run", RUNS, ids=lambda r: r.name if isinstance(r, Path) else "-".join(r))
def test_notebook_runs_on_cpu(run, tiny_path, tmp_path, request):
    if isinstance(run, Path):
        path, params = run, dict(PARAMETERS[run.name])
    else:
        request.getfixturevalue("smollm2_copy")  # built once per cache
        path, params = ROOT / "notebooks" / run[0], dict(SMOLLM2_PARAMETERS)
    nb = nbformat.read(path, as_version=4)
    for key in ("OUTPUT_DIR", "RUN_DIR"):
        params[key] = str(tmp_path / key.lower())
    injected = "\n".join(f"{k} = {v!r}" for k, v in params.items())
    index = next(i for i, c in enumerate(nb.cells) if "parameters" in c.metadata.get("tags", []))
    nb.cells.insert(index + 1, nbformat.v4.new_code_cell(injected))
    env_before = os.environ.get("MPLBACKEND")
    os.environ["MPLBACKEND"] = "Agg"
    try:
        NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(ROOT)}}).execute()
    finally:
        if env_before is None:
            os.environ.pop("MPLBACKEND")
        else:
            os.environ["MPLBACKEND"] = env_before
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    assert not errors
