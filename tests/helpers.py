"""Shared test helpers."""

from lead_lite.config import resolve


def parse(argv: list[str]):
    """(model, lead, data, training) of a single-run command line, resolved as the entry points do."""
    (config,) = resolve(argv)
    return config.model, config.lead, config.data, config.training


SMOLLM2 = "HuggingFaceTB/SmolLM2-135M-Instruct"  # the smollm2-135m preset's hub id
# a few short steps of the smollm2-135m preset, as a user would shorten it
SMOLLM2_SHORT = ["--max_steps", "2", "--per_device_train_batch_size", "8", "--num_generations", "4",
                 "--max_completion_length", "24", "--train_size", "16", "--eval_size", "8", "--logging_steps", "1",
                 "--save_steps", "1", "--report_to", "none"]
