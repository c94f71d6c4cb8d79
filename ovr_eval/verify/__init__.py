"""Verifiers: extract the final answer of a response and decide if it matches the gold answer.

The same code decides evaluation scores (``grade``, ``grade_many``) and training rewards
(``reward``). Plain rules (exact, numeric, text, multiple choice, compound answers) run in the
calling process; symbolic comparison runs in worker processes under a hard time limit.
"""

from __future__ import annotations

import atexit
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from ovr_eval.types import Verdict
from ovr_eval.verify.equivalence import DEFAULT_TIMEOUT_S, cheap_equal, too_long
from ovr_eval.verify.extract import choice_letter, final_answer, strip_thinking
from ovr_eval.verify.normalize import normalize
from ovr_eval.verify.pool import JobFailed, WorkerPool

__all__ = ["DEFAULT_TIMEOUT_S", "grade", "grade_many", "reward"]

_GOLD_LETTER = re.compile(r"^\(?([A-J])\)?$")
_POOLS: dict[tuple[int, float], WorkerPool] = {}


@dataclass
class _Symbolic:
    """A response whose answer only a symbolic check can decide."""

    extracted: str
    gold: str
    source: str

    @property
    def key(self) -> tuple[str, str]:
        return normalize(self.extracted), normalize(self.gold)


def _pool(workers: int, timeout_s: float) -> WorkerPool:
    key = (workers, timeout_s)
    if key not in _POOLS:
        _POOLS[key] = WorkerPool("ovr_eval.verify.equivalence:symbolic_job", workers=workers,
                                 timeout_s=timeout_s)
    return _POOLS[key]


@atexit.register
def _close_pools() -> None:
    for pool in _POOLS.values():
        pool.close()
    _POOLS.clear()


def _plan(response: str, gold: str, choices: Sequence[str] | None,
          multiple_choice: bool | None, boxed_only: bool = False) -> Verdict | _Symbolic:
    """A verdict from the plain rules, or the symbolic check still needed."""
    response, gold = str(response or ""), str(gold).strip()
    gold_letter = _GOLD_LETTER.match(gold)
    if multiple_choice is None:
        multiple_choice = bool(choices) and gold_letter is not None
    extracted, source = final_answer(response, boxed_only)
    if multiple_choice and gold_letter:
        if extracted is None and not boxed_only:
            lines = strip_thinking(response).strip().splitlines()
            extracted = lines[-1][-300:] if lines else None
        letter = choice_letter(extracted, list(choices) if choices else None) if extracted else None
        if letter is None:
            return Verdict(extracted, False, f"{source}/choice", "no option named")
        return Verdict(letter, letter == gold_letter.group(1), f"{source}/choice")
    if extracted is None:
        return Verdict(None, False, "none", "no final answer found")
    if too_long(extracted):
        return Verdict(extracted[:200], False, f"{source}/too_long", "answer too long")
    decided, method = cheap_equal(normalize(extracted), normalize(gold))
    if decided is not None:
        return Verdict(extracted, decided, f"{source}/{method}")
    return _Symbolic(extracted, gold, source)


def _finish(plan: _Symbolic, outcome: Any) -> Verdict:
    if isinstance(outcome, JobFailed):
        return Verdict(plan.extracted, False, f"{plan.source}/symbolic", outcome.reason)
    correct, method = outcome
    return Verdict(plan.extracted, bool(correct), f"{plan.source}/{method}")


def grade(
    response: str,
    gold: str,
    choices: Sequence[str] | None = None,
    multiple_choice: bool | None = None,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    boxed_only: bool = False,
) -> Verdict:
    """Grade one response against the gold answer (a letter for multiple-choice items).

    ``boxed_only``: only the last \\boxed{} answer counts (the RL reward's strict reading)."""
    return grade_many([(response, gold, choices, multiple_choice)], timeout_s=timeout_s,
                      boxed_only=boxed_only)[0]


def grade_many(
    items: Iterable[tuple | dict[str, Any]],
    workers: int = 2,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    cache: dict[tuple[str, str], Any] | None = None,
    boxed_only: bool = False,
) -> list[Verdict]:
    """Grade many responses: plain rules here, symbolic checks over a pool of workers.

    Each item is ``(response, gold[, choices[, multiple_choice]])`` or a dict with the keys
    ``response``, ``answer`` (or ``gold``), ``choices``, ``multiple_choice``. Identical
    (prediction, gold) pairs are checked once. ``boxed_only``: only the last \\boxed{} answer
    of each response counts (answer phrases, a bare last line, ... earn nothing).
    """
    plans: list[Verdict | _Symbolic] = []
    for item in items:
        if isinstance(item, dict):
            args = (item.get("response", ""), item.get("answer", item.get("gold", "")),
                    item.get("choices"), item.get("multiple_choice"))
        else:
            args = (*item, None, None)[:4]
        try:
            plans.append(_plan(*args, boxed_only=boxed_only))
        except Exception as exc:  # a verifier bug must never crash a run
            plans.append(Verdict(None, False, "error", f"{type(exc).__name__}: {exc}"[:200]))
    cache = {} if cache is None else cache
    todo = {p.key: p for p in plans if isinstance(p, _Symbolic) and p.key not in cache}
    if todo:
        jobs = [(p.extracted, p.gold, timeout_s) for p in todo.values()]
        for key, outcome in zip(todo, _pool(workers, timeout_s).map(jobs), strict=True):
            cache[key] = outcome
    return [_finish(p, cache[p.key]) if isinstance(p, _Symbolic) else p for p in plans]


def reward(response: str, gold: str, choices: Sequence[str] | None = None,
           boxed_only: bool = True) -> float:
    """1.0 when the response's final answer is correct, else 0.0 (the trainer's reward).

    By default only the last \\boxed{} answer counts, as in ORZ/OVR's RL reward; pass
    ``boxed_only=False`` for the evaluation's lenient extraction."""
    return grade(response, gold, choices, boxed_only=boxed_only).score
