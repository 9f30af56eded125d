"""Prompt formats: the instruction appended to each math problem and the chat-template switches.

A format is data, not code: :data:`PROMPT_FORMATS` maps a name (config field ``prompt_format``)
to the instruction text and the keyword arguments for the tokenizer's chat template. Every
format asks for the final answer inside ``\\boxed{}``, where :mod:`lead_lite.verifier` looks.

How a prompt reaches the model: the problem followed by the format's instruction is one user
message, rendered by the loaded tokenizer's chat template with the format's
``chat_template_kwargs`` (e.g. Qwen3's ``enable_thinking``) when the tokenizer has a template;
a tokenizer without one (the tiny model) gets the plain text. No format adds a system prompt
(the official GRPO-LEAD scripts use none; DeepSeek advises none for R1-distill models).
"""

from __future__ import annotations

from dataclasses import dataclass, field

FINAL_ANSWER = "\\boxed{}"  # where every format asks for the final answer


# The instruction the official GRPO-LEAD scripts append to each problem (no system prompt),
# after a space: the ``plain`` format, which the generated tasks and the tiny model use.
PROMPT_SUFFIX = " Let's think step by step and put the final answer within \\boxed{}."


@dataclass(frozen=True)
class PromptFormat:
    """How a problem becomes a prompt.

    Attributes:
        instruction: appended to the stripped problem text; it names :data:`FINAL_ANSWER`.
        chat_template_kwargs: passed to ``tokenizer.apply_chat_template`` (ignored without one).
        source: where the instruction text comes from.
    """

    instruction: str
    chat_template_kwargs: dict = field(default_factory=dict)
    source: str = ""

    def prompt(self, problem: str) -> str:
        """The user message for ``problem``.

        Example:
            >>> PROMPT_FORMATS["plain"].prompt(" What is 2+2? ")
            "What is 2+2? Let's think step by step and put the final answer within \\\\boxed{}."
        """
        return problem.strip() + self.instruction


QWEN3_MATH = "\nPlease reason step by step, and put your final answer within \\boxed{}."

PROMPT_FORMATS: dict[str, PromptFormat] = {
    # the tiny model's format and the default: the GRPO-LEAD instruction after a space
    "plain": PromptFormat(PROMPT_SUFFIX, {}, "GRPO-LEAD's instruction (paper), as lead_lite has always written it"),
    # exactly what the official scripts feed DeepSeek-R1-Distill-Qwen-14B (scripts/data/process_dataset.py:
    # problem + newline + instruction, no period, no system prompt); the R1-distill template opens <think>
    "r1": PromptFormat("\nLet's think step by step and put the final answer within \\boxed{}", {},
                       "official GRPO-LEAD scripts (aeroplanepaper/GRPO-LEAD, process_dataset.py)"),
    # Qwen3 model cards, best practices for math; thinking mode on / off through the chat template
    "qwen3-think": PromptFormat(QWEN3_MATH, {"enable_thinking": True}, "Qwen3 model card (math prompt)"),
    "qwen3-no-think": PromptFormat(QWEN3_MATH, {"enable_thinking": False}, "Qwen3 model card (math prompt)"),
    # the instruction alone, without "think step by step": a 135M model (SmolLM2-135M-Instruct) then
    # writes a \boxed{} answer more often (configs/models/smollm2-135m.yaml)
    "boxed": PromptFormat(" Put the final answer within \\boxed{}.", {}, "lead_lite (the instruction's last clause)"),
}
DEFAULT_FORMAT = "plain"


def get_format(name: str) -> PromptFormat:
    """The format called ``name``; a ValueError lists the known ones."""
    if name not in PROMPT_FORMATS:
        raise ValueError(f"unknown prompt format {name!r}; one of: {', '.join(PROMPT_FORMATS)}")
    return PROMPT_FORMATS[name]


def merged_chat_template_kwargs(name: str, configured: dict | None) -> dict:
    """The format's chat-template switches with the configured ones added.

    A configured value that contradicts the format (e.g. ``enable_thinking: false`` with
    ``qwen3-think``) is an error, not a silent override: pick the other format instead.

    Example:
        >>> merged_chat_template_kwargs("qwen3-no-think", None)
        {'enable_thinking': False}
    """
    fmt = get_format(name)
    configured = dict(configured or {})
    clash = {k for k in fmt.chat_template_kwargs if k in configured and configured[k] != fmt.chat_template_kwargs[k]}
    if clash:
        raise ValueError(f"chat_template_kwargs {configured} contradicts prompt_format {name!r} "
                         f"({fmt.chat_template_kwargs}); choose the format that matches")
    return {**configured, **fmt.chat_template_kwargs}
