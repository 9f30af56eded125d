"""Gold answers as datasets write them: which part of an answer cell is the final answer.

:data:`ANSWER_FORMATS` maps the config field ``answer_format`` to a reader: GSM8K's ``#### N``,
MATH's last ``\\boxed{}``, the cell's text itself, or ``auto`` (the first of those that applies).
"""

from __future__ import annotations

import re

from lead_lite.verifier import extract_boxed

GSM8K_FINAL = re.compile(r"####\s*([^\n]+?)\s*$")


def gsm8k_answer(text: str) -> str | None:
    """The final answer after GSM8K's ``####`` marker (last line), else None.

    Example:
        >>> gsm8k_answer("She has 3+4=<<3+4=7>>7 apples.\\n#### 7")
        '7'
    """
    m = GSM8K_FINAL.search(text.strip())
    return m.group(1) if m else None


def plain_answer(text: str) -> str | None:
    return text.strip() or None


def auto_answer(text: str) -> str | None:
    """The last ``\\boxed{}`` when there is one, else GSM8K's ``#### N``, else the text itself."""
    if extract_boxed(text) is not None:
        return extract_boxed(text)
    return gsm8k_answer(text) if "####" in text else plain_answer(text)


ANSWER_FORMATS = {"auto": auto_answer, "plain": plain_answer, "gsm8k": gsm8k_answer, "boxed": extract_boxed}
