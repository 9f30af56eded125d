"""Shared test helpers."""

from lead_lite.config import resolve


def parse(argv: list[str]):
    """(model, lead, data, training) of a single-run command line, resolved as the entry points do."""
    (config,) = resolve(argv)
    return config.model, config.lead, config.data, config.training
