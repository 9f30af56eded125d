"""The package's structure: layers (checked by lint-imports in CI), imports, and one resolution of the config."""

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
PACKAGE = REPO / "lead_lite"


def test_no_package_module_imports_another_inside_a_function():
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        tree = ast.parse(path.read_text())
        for func in (n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))):
            for node in ast.walk(func):
                names = [node.module or ""] if isinstance(node, ast.ImportFrom) else (
                    [a.name for a in node.names] if isinstance(node, ast.Import) else [])
                if any(n == "lead_lite" or n.startswith("lead_lite.") for n in names) or (
                        isinstance(node, ast.ImportFrom) and node.level):
                    found.append(f"{path.relative_to(REPO)}:{node.lineno}")
    assert not found, f"package imports inside functions: {found}"


def test_entry_points_import_no_training_library_before_the_backend_is_resolved():
    """Unsloth must be imported before transformers / trl / peft: the training entry points leave
    them unimported until lead_lite.config.resolve() has decided the backend."""
    code = ("import sys, lead_lite.train, lead_lite.sft, lead_lite.recipes.countdown; "
            "print([m for m in ('transformers', 'trl', 'peft') if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_a_backend_in_yaml_decides_the_unsloth_import_before_trl(tmp_path):
    """``backend`` from a config file (not only the flag) imports unsloth, and before trl."""
    fake = tmp_path / "fake" / "unsloth"
    fake.mkdir(parents=True)
    record = tmp_path / "record.json"
    (fake / "__init__.py").write_text(
        f"import json, sys\njson.dump({{'trl_loaded': 'trl' in sys.modules}}, open({str(record)!r}, 'w'))\n")
    (fake / "models").mkdir()
    (fake / "models" / "__init__.py").write_text("")
    (fake / "models" / "rl.py").write_text(  # Unsloth's CPU mode: TRL's trainers patched by hand
        f"def PatchFastRL():\n    open({str(record) + '.patched'!r}, 'w').close()\n")
    cfg = tmp_path / "c.yaml"
    for backend, imported in (("unsloth", True), ("trl", False)):
        record.unlink(missing_ok=True)
        cfg.write_text(f"backend: {backend}\n")
        code = ("from lead_lite.config import resolve; "
                f"(c,) = resolve(['--model', 'tiny', '--config', {str(cfg)!r}, '--output_dir', {str(tmp_path)!r}]); "
                "print(c.model.backend)")
        env = {"PYTHONPATH": f"{tmp_path / 'fake'}:{REPO}", "PATH": "/usr/bin:/bin"}
        out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, env=env)
        assert out.returncode == 0, out.stderr[-2000:]
        assert out.stdout.strip() == backend
        assert record.exists() == imported
        if imported:
            assert json.loads(record.read_text()) == {"trl_loaded": False}
            assert Path(str(record) + ".patched").exists()  # no CUDA here: PatchFastRL ran


@pytest.mark.parametrize("flags, field", [(["--reward_funcs", "format"], "reward_funcs"),
                                          (["--reward_funcs", "accuracy", "bogus"], "reward_funcs"),
                                          (["--reward_weights", "1", "0", "0"], "reward_weights"),
                                          (["--task", "arithmetic", "--dataset", "x.jsonl"], "task")])
def test_rewards_are_chosen_by_name_from_the_task(flags, field, tmp_path):
    from lead_lite.config import ConfigError, resolve

    with pytest.raises(ConfigError, match=field):
        resolve(["--model", "tiny", "--output_dir", str(tmp_path), *flags])


def test_the_task_fills_reward_names_and_weights(tmp_path):
    from lead_lite.config import resolve

    (config,) = resolve(["--model", "tiny", "--output_dir", str(tmp_path)])
    assert config.data.task == "arithmetic" and config.data.reward_funcs == ["accuracy", "format"]
    assert config.training.reward_weights == [1.0, 0.0]
    (config,) = resolve(["--model", "tiny", "--output_dir", str(tmp_path), "--dataset", "mine.jsonl"])
    assert config.data.task == "math"
