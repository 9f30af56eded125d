"""The GPU acceptance command's CPU rehearsal: every GPU preset's entry point, offline, against
models in a temporary Hugging Face cache, and the results table (benchmarks/gpu_acceptance.py).

The GPU run itself needs a GPU (``python benchmarks/gpu_acceptance.py``); this runs the same rows
with tiny models on the CPU, in about a minute. The other tests call the script's parts (time
limits, row order, quoted commands, a row that times out, a run stopped by a signal) with rows that
need no model, in seconds.
"""

import doctest
import importlib.util
import os
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "benchmarks" / "gpu_acceptance.py"
HUB_IDS = ("Qwen/Qwen3-0.6B", "Qwen/Qwen3-1.7B", "Qwen/Qwen3-14B")


def _load():
    spec = importlib.util.spec_from_file_location("benchmarks_gpu_acceptance", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def table_rows(md: str) -> dict[str, list[str]]:
    """The results table's rows, by row name: their cells."""
    cells = [[c.strip() for c in line.strip("|").split("|")] for line in md.splitlines() if line.startswith("| ")]
    return {c[0]: c[1:] for c in cells[1:]}


@pytest.mark.slow
def test_rehearsal_runs_every_presets_command_offline_and_writes_the_table(tmp_path):
    if importlib.util.find_spec("vllm") is not None:
        pytest.skip("with vLLM installed the presets generate with it: the rehearsal is the main venv's")
    out, work = tmp_path / "gpu_acceptance.md", tmp_path / "work"
    proc = subprocess.run([sys.executable, str(SCRIPT), "--rehearsal", "--out", str(out), "--work", str(work)],
                          cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]

    # the cache: each hub id at a snapshot that refs/main names, Unsloth's ids linked to it
    ga = _load()
    for hub_id in HUB_IDS:
        repo = ga.repo_dir(work / "hf", hub_id)
        revision = (repo / "refs" / "main").read_text()
        assert len(revision) == 40 and (repo / "snapshots" / revision / "config.json").is_file()
        assert (repo / "snapshots" / revision / "tokenizer.json").is_file()
        for alias in ga.unsloth_ids(hub_id):
            assert ga.repo_dir(work / "hf", alias).resolve() == repo.resolve()

    # the table: every row ran, through the presets, with HF generate where vLLM is not installed
    md = out.read_text()
    rows = table_rows(md)
    assert list(rows) == ["qwen3-0.6b", "qwen3-1.7b", "qwen3-14b", "eval qwen3-1.7b", "countdown grpo1 qwen3-1.7b"]
    for name, (status, backend, generation, step, allocated, reserved, device, plan) in rows.items():
        assert status == "ok" and generation == "HF generate", name
        assert (allocated, reserved, device) == ("—", "—", "—"), name  # no GPU: no GPU memory
        if name.startswith("eval"):
            assert backend == "—" and step.endswith("(sampling)") and plan == "—"
        else:
            assert backend == "trl" and float(step) > 0 and plan.endswith("(24)") and float(plan.split()[0]) > 0
    assert "on a CPU (no GPU)" in md and "CPU rehearsal" in md and "The 14B row ran on tiny weights" in md
    assert "python -m lead_lite.train --model qwen3-14b --dataset " in md
    assert "python -m lead_lite.recipes.countdown --model qwen3-1.7b --stage grpo1 " in md

    # the log: offline, from the cache, and one line saying how the presets' vLLM was resolved
    log = out.with_suffix(".log").read_text()
    for hub_id in HUB_IDS:
        assert f"model {hub_id}: from the Hugging Face cache" in log
    for preset in ("qwen3-0.6b", "qwen3-1.7b", "qwen3-14b"):
        assert log.count(f"generation: HF generate, not vLLM (use_vllm: true in {ROOT}/configs/models/{preset}.yaml, "
                         "but vLLM is not installed)") == 1
    assert "Traceback" not in log and " ERROR " not in log


def test_a_failed_row_is_reported_and_the_next_still_runs(tmp_path, monkeypatch):
    ga = _load()
    broken = [ga.Row(f"broken-{i}", "lead_lite.no_such_module", (), "Qwen/Qwen3-0.6B") for i in (1, 2)]
    monkeypatch.setattr(ga, "ROWS", tuple(broken))
    out = tmp_path / "gpu_acceptance.md"
    assert ga.main(["--rehearsal", "--out", str(out), "--work", str(tmp_path / "work")]) == 1
    rows = table_rows(out.read_text())
    assert [(name, cells[0]) for name, cells in rows.items()] == [("broken-1", "failed (exit 1)"),
                                                                   ("broken-2", "failed (exit 1)")]
    assert "- broken-2: ImportError: No module named lead_lite.no_such_module" in out.read_text()  # runpy's words
    assert out.with_suffix(".log").read_text().count("==== broken-") == 2


def fake_rows(ga, monkeypatch, calls: list) -> None:
    """Main without the cache's build or the rows' processes: each row records its name and time limit."""
    def run_row(row, args, out, env, timeout_s, stop=None):
        calls.append((row.name, timeout_s))
        out.mkdir(parents=True, exist_ok=True)
        (out / "log.txt").write_text(f"{row.name} ran\n")
        return {"row": row.name, "command": f"python -m {row.module}", "status": "ok", "wall_s": 0.0,
                "device_peak_gib": None, "backend": "trl", "generation": "HF generate", "s_per_step": 1.0,
                "plan_gib": None, "error": None}

    monkeypatch.setattr(ga, "build", lambda *a, **k: None)
    monkeypatch.setattr(ga, "run_row", run_row)


def test_timeout_s_is_the_limit_of_every_row_and_without_it_each_rows_default_stands(tmp_path, monkeypatch):
    ga = _load()
    assert ga.parse_args([]).timeout_s is None
    assert {r.name: ga.row_timeout(r, None) for r in ga.ROWS} == {
        "qwen3-0.6b": 150, "qwen3-1.7b": 150, "qwen3-14b": 300, "eval qwen3-1.7b": 150,
        "countdown grpo1 qwen3-1.7b": 150}
    for bad in ("0", "-5", "nan"):
        with pytest.raises(SystemExit):
            ga.parse_args(["--timeout_s", bad])

    calls = []
    fake_rows(ga, monkeypatch, calls)
    out = tmp_path / "gpu_acceptance.md"
    assert ga.main(["--rehearsal", "--out", str(out), "--work", str(tmp_path / "work"), "--timeout_s", "90"]) == 0
    assert calls == [(r.name, 90.0) for r in ga.ROWS]  # the 14B row's 300 s included
    calls.clear()
    assert ga.main(["--rehearsal", "--out", str(out), "--work", str(tmp_path / "work")]) == 0
    assert dict(calls) == {r.name: ga.row_timeout(r, None) for r in ga.ROWS}


def test_the_scripts_examples_hold():
    ga = _load()
    assert doctest.testmod(ga).failed == 0


def test_rows_run_in_the_order_given(tmp_path, monkeypatch):
    ga = _load()
    calls = []
    fake_rows(ga, monkeypatch, calls)
    out = tmp_path / "gpu_acceptance.md"
    given = ["countdown grpo1 qwen3-1.7b", "qwen3-14b", "eval qwen3-1.7b", "qwen3-0.6b"]
    assert ga.main(["--rehearsal", "--out", str(out), "--work", str(tmp_path / "work"), "--rows", *given]) == 0
    assert [name for name, _ in calls] == given
    assert list(table_rows(out.read_text())) == given
    assert [line.split(":")[0] for line in out.with_suffix(".log").read_text().splitlines()
            if line.startswith("====")] == [f"==== {name}" for name in given]

    calls.clear()  # a row named twice runs once, where it was first named; without --rows, the script's order
    assert ga.main(["--rehearsal", "--out", str(out), "--work", str(tmp_path / "work"),
                    "--rows", "qwen3-1.7b", "qwen3-0.6b", "qwen3-1.7b"]) == 0
    assert [name for name, _ in calls] == ["qwen3-1.7b", "qwen3-0.6b"]
    assert [r.name for r in ga.selected_rows(ga.parse_args([]).rows)] == [r.name for r in ga.ROWS]


def test_the_commands_in_the_table_can_be_pasted_back(tmp_path, monkeypatch):
    ga = _load()
    fake_rows(ga, monkeypatch, [])
    out, work = tmp_path / "gpu_acceptance.md", tmp_path / "my work"
    argv = ["--rehearsal", "--out", str(out), "--work", str(work), "--rows", "eval qwen3-1.7b"]
    assert ga.main(argv) == 0
    shown = out.read_text().split("`")[1]
    assert shlex.split(shown) == ["python", "benchmarks/gpu_acceptance.py", *argv]

    # a row's command: its arguments quoted, a path with a space included
    row = next(r for r in ga.ROWS if r.name == "eval qwen3-1.7b")
    args = ga.command_of(row, work / "stage1_data.json", work / "eval-qwen3-1.7b", rehearsal=True)
    assert shlex.split(ga.shown_command(row.module, args)) == ["python", "-m", "lead_lite.eval", *args]


# a row that starts a process of its own (as a vLLM engine would), says so, and never ends
SLEEPER = """
import os, subprocess, sys, time
from pathlib import Path

child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
print("INFO sleeper: generating", flush=True)
pids = Path(os.environ["SLEEPER_PIDS"])
pids.with_suffix(".tmp").write_text(f"{os.getpid()} {child.pid}")
os.replace(pids.with_suffix(".tmp"), pids)
time.sleep(600)
"""


# a row that passes at once (without the measuring step's bookkeeping, which imports torch)
QUICK = """
import os, sys

print("INFO quick: done", flush=True)
os._exit(0)
"""


def sleeper_env(tmp_path: Path) -> dict:
    """The environment a row needs to run ``ga_sleeper`` or ``ga_quick`` (the sleeper's pids go to ``tmp_path/pids``)."""
    (tmp_path / "mods").mkdir(exist_ok=True)
    (tmp_path / "mods" / "ga_sleeper.py").write_text(SLEEPER)
    (tmp_path / "mods" / "ga_quick.py").write_text(QUICK)
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(tmp_path / "mods")]),
            "SLEEPER_PIDS": str(tmp_path / "pids")}


def test_a_timed_out_row_says_so_not_its_last_log_line(tmp_path):
    ga = _load()
    log = "INFO step 1 of 2\nValueError: a warning's words, not this row's failure\nINFO generating\n"
    assert ga.failure_reason("timed out after 300 s", log) == "timed out after 300 s (last log line: INFO generating)"
    assert ga.failure_reason("timed out after 300 s", "") == "timed out after 300 s (no output)"
    assert ga.failure_reason("failed (exit 1)", log) == "ValueError: a warning's words, not this row's failure"

    # a row that never ends: ended at its limit, whatever it had printed
    row = ga.Row("sleeper", "ga_sleeper", (), "Qwen/Qwen3-0.6B")
    record = ga.run_row(row, ["--flag", "a b"], tmp_path / "row", sleeper_env(tmp_path), 1)
    assert record["status"] == "timed out after 1 s"
    assert record["error"].startswith("timed out after 1 s (")
    assert record["command"] == "python -m ga_sleeper --flag 'a b'"


# the script with three rows (one that passes, one that never ends, one after it) and no cache to build
DRIVER = """
import importlib.util, os, sys

spec = importlib.util.spec_from_file_location("ga", sys.argv[1])
ga = importlib.util.module_from_spec(spec)
sys.modules["ga"] = ga
spec.loader.exec_module(ga)
ga.ROWS = tuple(ga.Row(name, module, (), "Qwen/Qwen3-0.6B")
                for name, module in (("quick", "ga_quick"), ("sleeper", "ga_sleeper"), ("after", "ga_quick")))
ga.build = lambda *args, **kwargs: None
if os.environ.get("GA_BUILD_SLEEPS"):  # a cache that takes forever to build
    ga.build = lambda hf_home, hub_ids, rehearsal, env, stop: ga.run_process(
        [sys.executable, "-m", "ga_sleeper"], env, None, None, stop)
raise SystemExit(ga.main(sys.argv[2:]))
"""


def gone(pid: int) -> bool:
    """``pid`` has ended (a zombie that nobody has reaped yet counts as ended)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except FileNotFoundError:
        return True


def wait_until(condition, what: str, limit_s: float = 120.0) -> None:
    """Wait for ``condition()``, failing with ``what`` if it has not held after ``limit_s`` (a guard only)."""
    deadline = time.monotonic() + limit_s
    while not condition():
        assert time.monotonic() < deadline, f"still waiting for {what}"
        time.sleep(0.05)


def start_driver(tmp_path: Path, out: Path, **env) -> subprocess.Popen:
    (tmp_path / "driver.py").write_text(DRIVER)
    return subprocess.Popen([sys.executable, str(tmp_path / "driver.py"), str(SCRIPT), "--rehearsal", "--out",
                             str(out), "--work", str(tmp_path / "work")], env={**sleeper_env(tmp_path), **env},
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_a_stopped_run_ends_the_running_row_and_keeps_every_row_so_far(tmp_path, signum):
    out, name = tmp_path / "gpu_acceptance.md", signal.Signals(signum).name
    driver = start_driver(tmp_path, out)
    try:
        wait_until(lambda: (tmp_path / "pids").is_file() or driver.poll() is not None, "the sleeper row to start")
        assert driver.poll() is None, driver.communicate()[0]
        row_pid, child_pid = map(int, (tmp_path / "pids").read_text().split())

        # the table was written after the first row, before the second began
        md = out.read_text()
        assert list(table_rows(md)) == ["quick"] and table_rows(md)["quick"][0] == "ok"
        assert "Not run yet (this table is rewritten after each row): sleeper, after." in md
        assert "==== quick: python -m ga_quick" in out.with_suffix(".log").read_text()

        driver.send_signal(signum)
        output = driver.communicate(timeout=120)[0]
    finally:
        if driver.poll() is None:
            driver.kill()
            driver.wait()
    assert driver.returncode == 128 + signum, output

    # the row and the process it started are ended, not left running
    wait_until(lambda: gone(row_pid) and gone(child_pid), "the sleeper row's processes to end")

    # the table: the rows so far, the running one as interrupted, none after it
    md = out.read_text()
    rows = table_rows(md)
    assert [(row, cells[0]) for row, cells in rows.items()] == [("quick", "ok"), ("sleeper", f"interrupted by {name}")]
    assert f"Stopped by {name}; not run: after." in md
    assert f"- sleeper: interrupted by {name} (last log line: INFO sleeper: generating)" in md
    log = out.with_suffix(".log").read_text()
    assert "==== sleeper: python -m ga_sleeper" in log and "INFO sleeper: generating" in log
    assert "==== after" not in log
    assert not list(out.parent.glob(".*tmp*"))  # written whole: no temporary file left beside the table


def test_a_run_stopped_while_the_cache_is_built_ends_the_builder_and_leaves_the_table(tmp_path):
    out = tmp_path / "gpu_acceptance.md"
    out.write_text("an earlier run's table\n")
    driver = start_driver(tmp_path, out, GA_BUILD_SLEEPS="1")
    try:
        wait_until(lambda: (tmp_path / "pids").is_file() or driver.poll() is not None, "the builder to start")
        assert driver.poll() is None, driver.communicate()[0]
        builder_pids = list(map(int, (tmp_path / "pids").read_text().split()))
        driver.send_signal(signal.SIGTERM)
        output = driver.communicate(timeout=120)[0]
    finally:
        if driver.poll() is None:
            driver.kill()
            driver.wait()
    assert driver.returncode == 128 + signal.SIGTERM, output
    assert "stopped by SIGTERM while the cache was built: no row ran" in output
    wait_until(lambda: all(gone(pid) for pid in builder_pids), "the builder's processes to end")
    assert out.read_text() == "an earlier run's table\n" and not out.with_suffix(".log").exists()
