"""Weight sync into a colocated vLLM on vLLM's CPU build.

TRL's colocate mode (``use_vllm: true``, ``vllm_mode: colocate``) pushes the policy's weights into
the in-process vLLM engine before each generation, one tensor at a time through the vLLM model's
``load_weights``. On vLLM's CPU build that call fails (``'Parameter' object has no attribute
'weight_loader'``): after loading, the CPU build repacks the linear layers' weights into new
parameters without the loader attribute. Reloading through vLLM's model runner
(``reload_weights``) runs the whole load again, repacking included, with the tensors TRL hands
over (LoRA merged in, names as vLLM expects them).

:func:`use_for_cpu_colocate` swaps this in for one trainer's ``sync_weights``, and only there: on
a CUDA build of vLLM, or in server mode, TRL's own sync runs unchanged.
"""

from __future__ import annotations

import logging
import types

logger = logging.getLogger(__name__)


def sync_weights(generation) -> None:
    """Load the policy's current weights into TRL's colocated vLLM engine, on vLLM's CPU build.

    Args:
        generation: TRL's ``VLLMGeneration`` of a trainer in colocate mode (``trainer.vllm_generation``).
    """
    runner = generation.llm.llm_engine.model_executor.driver_worker.model_runner
    runner.reload_weights(weights_iterator=generation._iter_named_params())
    generation.llm.reset_prefix_cache()  # cached prefixes were computed with the old weights


def use_for_cpu_colocate(trainer) -> bool:
    """Make ``trainer`` sync weights with :func:`sync_weights` when it colocates vLLM's CPU build.

    Args:
        trainer: a TRL ``GRPOTrainer`` (or subclass), already constructed.

    Returns:
        whether the sync was replaced (False: no vLLM, server mode, or a CUDA build of vLLM).
    """
    generation = getattr(trainer, "vllm_generation", None)
    if generation is None or generation.mode != "colocate":
        return False
    from vllm.platforms import current_platform

    if not current_platform.is_cpu():
        return False
    generation.sync_weights = types.MethodType(sync_weights, generation)
    logger.info("vLLM CPU build: weights reach the colocated engine through its model runner's reload_weights")
    return True
