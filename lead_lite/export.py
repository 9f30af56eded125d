"""Exports at the end of a training run: a GGUF file through Unsloth, and one upload to the Hub.

    python -m lead_lite.train --model qwen3-1.7b --save_gguf q4_k_m        # OUTPUT_DIR/gguf/ (Unsloth backend)
    python -m lead_lite.train --model qwen3-1.7b --push_to_hub --hub_model_id me/qwen3-1.7b-lead   # the adapter
    python -m lead_lite.train --model qwen3-1.7b --push_to_hub --hub_model_id me/qwen3-1.7b-lead-merged \\
        --hub_upload merged                                                # the merged 16-bit model

``--push_to_hub``, ``--hub_model_id``, ``--hub_token`` and ``--hub_private_repo`` are the Trainer's
own flags, with one difference: lead_lite uploads once, after training (the Trainer would create
the repository before the first step and push at every save). The repository is ``hub_model_id``,
else the output directory's name under the token's account, as with the Trainer. Before training,
:func:`check_hub` reaches the Hub (a short timeout) and checks that the token may write there, so
an offline machine or a read-only token stops the run before the model loads, not after training.

GGUF is Unsloth's ``save_pretrained_gguf`` (llama.cpp quantizations such as ``q4_k_m``, ``q8_0``,
``f16``); it needs the Unsloth backend, and Unsloth builds or downloads llama.cpp the first time.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from huggingface_hub import HfApi
from huggingface_hub.errors import HfHubHTTPError, LocalTokenNotFoundError, RepositoryNotFoundError
from huggingface_hub.utils import HFValidationError, validate_repo_id

from lead_lite.user_errors import UserError

logger = logging.getLogger("lead_lite.export")

HUB_UPLOADS = ("adapter", "merged")
MERGED_DIR = "merged-16bit"  # where lead_lite.train saves the merged model (models.save_merged)
GGUF_DIR = "gguf"
HUB_TIMEOUT_S = 10.0  # reaching the Hub before training: an offline machine fails within this
# the files of a saved adapter directory worth uploading (not checkpoints, metrics or the report)
ADAPTER_FILES = ["adapter_config.json", "adapter_model.safetensors", "README.md", "tokenizer*", "vocab*",
                 "merges.txt", "special_tokens_map.json", "added_tokens.json", "chat_template*"]


class ExportError(UserError):
    """An export cannot be made as configured; the message names the flag."""


@dataclass
class ExportArguments:
    """What lead_lite.train exports after training, besides the LoRA adapter in output_dir."""

    save_gguf: str | None = field(
        default=None,
        metadata={"help": "Also write a GGUF file to OUTPUT_DIR/gguf with Unsloth's save_pretrained_gguf, in this "
                  "llama.cpp quantization (e.g. q4_k_m, q8_0, f16). Needs the unsloth backend."},
    )
    hub_upload: str = field(
        default="adapter",
        metadata={"help": "What --push_to_hub uploads after training: adapter (the LoRA adapter and tokenizer) or "
                  "merged (the merged 16-bit model; implies --save_merged_16bit)."},
    )


@dataclass
class ExportPlan:
    """The exports of one run, decided before it starts (:func:`plan`)."""

    gguf: str | None = None  # quantization method
    push: bool = False
    upload: str = "adapter"
    repo_id: str | None = None  # None: the output directory's name
    token: str | None = None
    private: bool | None = None


def plan(export_args: ExportArguments, model_args, training, backend: str) -> ExportPlan:
    """Check the export flags against the run; ``--push_to_hub`` is taken over from the Trainer.

    Pure: the caller turns the Trainer's own ``push_to_hub`` off (lead_lite uploads once, after
    training) and, for a merged upload, saves the merged model. Raises :class:`ExportError`
    naming the flag.

    >>> from types import SimpleNamespace as NS
    >>> training = NS(push_to_hub=True, hub_model_id="me/run", hub_token=None, hub_private_repo=True, output_dir="x")
    >>> p = plan(ExportArguments(hub_upload="merged"), NS(save_merged_16bit=False), training, "trl")
    >>> (p.push, p.upload, p.repo_id)
    (True, 'merged', 'me/run')
    """
    if export_args.hub_upload not in HUB_UPLOADS:
        raise ExportError(f"hub_upload={export_args.hub_upload!r}: must be one of {', '.join(HUB_UPLOADS)}")
    if export_args.save_gguf is not None and backend != "unsloth":
        raise ExportError(f"save_gguf={export_args.save_gguf!r}: GGUF export is Unsloth's save_pretrained_gguf and "
                          f"needs the unsloth backend (this run resolves to {backend!r})")
    if training.push_to_hub:  # before training: an id the Hub refuses would fail only after it
        repo_id = training.hub_model_id or Path(training.output_dir).resolve().name
        try:
            validate_repo_id(repo_id)
        except HFValidationError as exc:
            flag = "hub_model_id" if training.hub_model_id else "push_to_hub (the repository is output_dir's name)"
            raise ExportError(f"{flag}: {repo_id!r} is not a valid Hub repository id (NAME or ORG/NAME: letters, "
                              "digits, '-', '_', '.', at most 96 characters)") from exc
    return ExportPlan(gguf=export_args.save_gguf, push=bool(training.push_to_hub), upload=export_args.hub_upload,
                      repo_id=training.hub_model_id, token=training.hub_token, private=training.hub_private_repo)


def check_hub(export: ExportPlan, default_name: str) -> str:
    """Before training, for ``--push_to_hub``: reach the Hub and check that the token may write the
    repository; returns the repository id (``hub_model_id``, else ``default_name`` under the token's account).

    The repository is looked up first, with a timeout of :data:`HUB_TIMEOUT_S` seconds (one that does
    not exist yet is fine: the upload creates it), then the token's account (``whoami``). Raises
    :class:`ExportError` (one line) when the Hub cannot be reached (offline, ``HF_HUB_OFFLINE``), when
    there is no token or the Hub refuses it, when the token is read-only, or when the repository's
    namespace is neither the token's user nor one of its organisations.
    """
    api = HfApi(token=export.token)
    repo_id = export.repo_id or default_name
    fix = "or run without --push_to_hub and upload the adapter later"
    try:
        try:
            api.model_info(repo_id, timeout=HUB_TIMEOUT_S)
        except RepositoryNotFoundError:
            pass  # created by the upload (or private to someone else: the namespace check below decides)
        me = api.whoami()
    except LocalTokenNotFoundError as exc:
        raise ExportError(f"push_to_hub: no Hugging Face token (log in with `hf auth login`, set HF_TOKEN or pass "
                          f"--hub_token), {fix}") from exc
    except HfHubHTTPError as exc:
        status = exc.response.status_code if exc.response is not None else None
        what = "refused the token (HTTP 401: invalid or expired)" if status == 401 else f"answered HTTP {status}"
        raise ExportError(f"push_to_hub: the Hub {what} while checking {repo_id!r}; fix the token (--hub_token, "
                          f"HF_TOKEN, `hf auth login`), {fix}") from exc
    except (httpx.HTTPError, OSError) as exc:  # no network, a timeout, HF_HUB_OFFLINE (OfflineModeIsEnabled)
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise ExportError(f"push_to_hub: cannot reach the Hub to check {repo_id!r} ({type(exc).__name__}: {first}); "
                          f"connect this machine (and unset HF_HUB_OFFLINE), {fix}") from exc
    user = me.get("name")
    owners = [user, *(org.get("name") for org in me.get("orgs", []))]
    namespace = repo_id.split("/")[0] if "/" in repo_id else user
    role = me.get("auth", {}).get("accessToken", {}).get("role")
    if role == "read":
        raise ExportError(f"push_to_hub: the token of {user!r} is read-only; use a token with write access "
                          f"(--hub_token, HF_TOKEN), {fix}")
    if namespace not in owners:
        raise ExportError(f"push_to_hub: the token of {user!r} cannot write to {namespace!r} (it may write to "
                          f"{', '.join(repr(o) for o in owners)}); choose --hub_model_id in one of those, {fix}")
    logger.info("push_to_hub: the Hub is reachable and %r may write %s", user,
                repo_id if "/" in repo_id else f"{user}/{repo_id}")
    return repo_id


def save_gguf(model, tokenizer, out: Path, quantization: str) -> Path:
    """Write the model as GGUF to ``out`` with Unsloth's ``save_pretrained_gguf``; returns ``out``."""
    if not hasattr(model, "save_pretrained_gguf"):
        raise ExportError("save_gguf: the model has no save_pretrained_gguf (it was not loaded by Unsloth)")
    model.save_pretrained_gguf(str(out), tokenizer, quantization_method=quantization)
    logger.info("GGUF (%s) written to %s", quantization, out)
    return out


def push(folder: Path, export: ExportPlan, allow_patterns: list[str] | None, default_name: str) -> str:
    """Create the Hub repository if needed and upload ``folder``'s matching files; returns the repo id.

    This is where the network is needed: ``huggingface_hub.HfApi`` ``create_repo`` then ``upload_folder``.
    """
    api = HfApi(token=export.token)
    repo_id = api.create_repo(export.repo_id or default_name, private=export.private, exist_ok=True).repo_id
    api.upload_folder(repo_id=repo_id, folder_path=str(folder), allow_patterns=allow_patterns,
                      commit_message=f"lead_lite: upload the {export.upload}")
    logger.info("uploaded the %s in %s to https://huggingface.co/%s", export.upload, folder, repo_id)
    return repo_id


def finish(export: ExportPlan, model, tokenizer, out: Path) -> dict:
    """Make the planned exports of a finished run whose adapter is saved in ``out``.

    Returns what was made: ``{"gguf": path, "hub_repo": repo id}`` (each only when planned).
    """
    made: dict = {}
    if export.gguf is not None:
        made["gguf"] = str(save_gguf(model, tokenizer, out / GGUF_DIR, export.gguf))
    if export.push:
        merged = export.upload == "merged"
        folder = out / MERGED_DIR if merged else out
        if not folder.is_dir():
            raise ExportError(f"hub_upload={export.upload!r}: {folder} was not written")
        made["hub_repo"] = push(folder, export, None if merged else ADAPTER_FILES, Path(out).resolve().name)
    return made
