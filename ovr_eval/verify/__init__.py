"""Verifiers: extract the final answer of a response and decide if it matches the gold answer.

The same ``grade`` decides evaluation scores and (through ``reward``) training rewards.
"""

from __future__ import annotations

import re

from ovr_eval.types import Verdict
from ovr_eval.verify.equivalence import DEFAULT_TIMEOUT_S, equivalent
from ovr_eval.verify.extract import choice_letter, final_answer, strip_thinking

__all__ = ["grade", "reward"]

_GOLD_LETTER = re.compile(r"^\(?([A-J])\)?$")


def grade(
    response: str,
    gold: str,
    choices: list[str] | None = None,
    multiple_choice: bool | None = None,
    timeout_s: float = DEFAULT_TIMEOUT_S,
) -> Verdict:
    """Grade one response against the gold answer (a letter for multiple-choice items)."""
    gold = str(gold).strip()
    gold_letter = _GOLD_LETTER.match(gold)
    if multiple_choice is None:
        multiple_choice = bool(choices) and gold_letter is not None
    extracted, source = final_answer(response)
    try:
        if multiple_choice and gold_letter:
            if extracted is None:
                tail = strip_thinking(response).strip().splitlines()
                extracted = tail[-1] if tail else None
            letter = choice_letter(extracted, choices) if extracted is not None else None
            if letter is None:
                return Verdict(extracted, False, f"{source}/choice", "no option named")
            return Verdict(letter, letter == gold_letter.group(1), f"{source}/choice")
        if extracted is None:
            return Verdict(None, False, "none", "no final answer found")
        correct, method = equivalent(extracted, gold, timeout_s)
        return Verdict(extracted, correct, f"{source}/{method}")
    except Exception as exc:  # a verifier bug or timeout must never crash a run
        return Verdict(extracted, False, f"{source}/error", f"{type(exc).__name__}: {exc}"[:200])


def reward(response: str, gold: str, choices: list[str] | None = None) -> float:
    """1.0 when the response's final answer is correct, else 0.0 (the trainer's reward)."""
    return grade(response, gold, choices).score
