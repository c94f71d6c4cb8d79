"""Verifiers: extract the final answer of a response and decide if it matches the gold answer.

The same code decides evaluation scores (``grade``, ``grade_many``) and training rewards
(``reward``). Plain rules (exact, numeric, text, multiple choice, compound answers) run in the
calling process; symbolic comparison runs in worker processes under a hard limit that counts
only the check's own CPU time, so a verdict does not depend on how busy the machine is.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from functools import cached_property
from typing import Any

from ovr_eval.types import Verdict
from ovr_eval.verify.choices import (
    CONTRADICTION,
    LETTERS,
    gold_letters,
    leading_letters,
    mentioned_option,
    named_options,
)
from ovr_eval.verify.equivalence import DEFAULT_TIMEOUT_S, cheap_equal, too_long
from ovr_eval.verify.extract import (
    Answer,
    closing_text,
    final_answer,
    from_sentence,
    is_sentence,
    sentences,
    stated_tail,
    tidy,
)
from ovr_eval.verify.normalize import normalize, normalize_pair, repair_escapes
from ovr_eval.verify.pool import JobFailed, WorkerPool, shared_pool
from ovr_eval.verify.structures import parse_compound

__all__ = ["DEFAULT_TIMEOUT_S", "DEFAULT_WORKERS", "CacheKey", "GradeItem", "grade",
           "grade_many", "is_check_failure", "is_text", "reward"]

DEFAULT_WORKERS = 2  # verifier worker processes for the symbolic checks
# a symbolic check's answer and gold (options, for a value against each option), normalised
CacheKey = tuple[str, str | tuple[str, ...]]

# Verdict errors that describe the response (it gave no usable answer), not the check.
NO_ANSWER_REASONS = frozenset({"no final answer found", "no option named", "answer too long",
                               "equals several options", "contradicts itself"})


def is_check_failure(error: str | None) -> bool:
    """Whether a verdict's error means the check itself did not finish (a timeout, a worker
    killed by its memory limit, a crash, an empty gold) rather than that the response gave no
    usable answer. Such verdicts count as wrong and are counted apart, never hidden."""
    return bool(error) and error not in NO_ANSWER_REASONS



@dataclass
class GradeItem:
    """One thing to grade. ``prediction``: an answer another harness already extracted (graded
    as the answer itself, with no extraction from a response)."""

    response: str
    gold: str
    choices: Sequence[str] | None = None
    multiple_choice: bool | None = None
    prediction: str | None = None

    @classmethod
    def of(cls, item: GradeItem | tuple[Any, ...] | dict[str, Any]) -> GradeItem:
        """From a GradeItem, a tuple ``(response, gold[, choices[, multiple_choice]])`` or a
        dict with ``response``, ``answer`` (or ``gold``), ``choices``, ``multiple_choice``,
        ``prediction``."""
        if isinstance(item, GradeItem):
            return item
        if isinstance(item, dict):
            choices, prediction = item.get("choices"), item.get("prediction")
            return cls(_text(item.get("response")), _text(item.get("answer", item.get("gold"))),
                       [str(c) for c in choices] if choices else None,
                       item.get("multiple_choice"),
                       str(prediction) if is_text(prediction) else None)
        response, gold, choices, multiple_choice = (*item, None, None)[:4]
        return cls(_text(response), _text(gold), choices, multiple_choice)


def is_text(value: Any) -> bool:
    """Whether a JSON value can stand for an answer's text: a string or a number (not a bool)."""
    return isinstance(value, (str, int, float)) and not isinstance(value, bool)


def _text(value: Any) -> str:
    """A value as text; None (no value) as the empty string, never "None" (and 0 stays "0")."""
    return "" if value is None else str(value)


@dataclass
class _Symbolic:
    """A response whose answer only a symbolic check can decide: against the gold answer, or
    (``letters`` set) against each option's value for a multiple-choice answer given as a value.
    """

    extracted: str
    gold: str | tuple[str, ...]
    source: str
    letters: frozenset[str] | None = None

    @cached_property
    def key(self) -> CacheKey:
        gold = (tuple(normalize(o) for o in self.gold) if isinstance(self.gold, tuple)
                else normalize(self.gold))
        return normalize(self.extracted), gold

    @property
    def job(self) -> tuple[str, str | list[str]]:
        gold = list(self.gold) if isinstance(self.gold, tuple) else self.gold
        return self.extracted, gold


def _pool(workers: int, timeout_s: float) -> WorkerPool:
    return shared_pool("ovr_eval.verify.equivalence:symbolic_job",
                       "ovr_eval.verify.equivalence:warm_up", workers, timeout_s)


def _answer_of(item: GradeItem, boxed_only: bool) -> Answer:
    """The answer to grade: the prediction as given (read as a response when it is a whole
    sentence or marks its answer), else the response's final answer."""
    if item.prediction is None:
        return final_answer(item.response, boxed_only)
    text = str(item.prediction).strip()
    reread = final_answer(text)
    cued = reread.source in ("answer_tag", "boxed", "answer_phrase")
    if reread.text is not None and (cued or is_sentence(text, words=2)):
        return replace(reread, source=f"prediction/{reread.source}")
    return Answer(tidy(text) or None, "prediction")


def _plan_choice(item: GradeItem, answer: Answer, letters: frozenset[str],
                 boxed_only: bool) -> Verdict | _Symbolic:
    """Multiple choice: the option(s) the answer names against the gold letter(s); an answer
    given as a value no plain rule matches to an option goes to a symbolic check. A cued answer
    (a box, tags, an answer phrase) is read alone; only a response with none is read from its
    first line and closing sentence."""
    choices = list(item.choices) if item.choices else None
    source, value = answer.source, answer.text
    cued = answer.said is not None and (answer.cued or answer.raw is not None)
    if cued:
        said = answer.said
        assert said is not None  # a cued answer says something
        pieces = answer.parts if answer.parts and len(letters) > 1 else (said,)
        named = frozenset().union(*(named_options(p, choices) for p in pieces))
        value = answer.raw if answer.raw is not None and value is None else value
        if not answer.cued:  # the phrase named nothing and the value came from elsewhere
            value = None
    elif not boxed_only and item.prediction is None:
        named, value, where = _uncued_choice(item.response, choices, value)
        source = f"{answer.source}/{where}" if named else source
    else:
        named = frozenset()
    if named == CONTRADICTION:
        return Verdict(value, False, f"{source}/choice", "contradicts itself")
    if named:
        return Verdict(", ".join(sorted(named)), named == letters, f"{source}/choice")
    if choices and value and not too_long(value):
        return _Symbolic(value, tuple(str(c) for c in choices[: len(LETTERS)]),
                         f"{source}/choice", letters)
    return Verdict(value[:200] if value else None, False, f"{source}/choice", "no option named")


def _uncued_choice(response: str, choices: list[str] | None, value: str | None
                   ) -> tuple[frozenset[str], str | None, str]:
    """Options named where no cue marks the answer: a first or last line that opens with a
    letter ("(D)" before an explanation, "D. it cannot be A or B"), then the closing sentence;
    and the value to try against the options when no letter is found."""
    text = closing_text(response, limit=4_000)
    said = sentences(text)
    if not said:
        return frozenset(), value, "none"
    lines = [line for line in text.strip().splitlines() if line.strip()]
    for where, line in (("first_line", lines[0]), ("last_line", lines[-1])):
        named = leading_letters(line, choices)  # "(D)" before an explanation, "D. it is ..."
        if named:
            return named, value, where
    sentence = said[-1]
    stated = from_sentence(sentence)
    # "... the odd ones out are B and D."
    named = named_options(stated, choices) if stated else frozenset()
    if not named:
        named = named_options(sentence, choices, cued=False)
    if not named and choices and (tail := stated_tail(sentence)):
        named = mentioned_option(tail, choices)  # "The shape must be the hexagon."
    if not named and value is None:
        value = stated
    if not named and value and choices:
        named = named_options(value, choices, cued=False)
    return (frozenset() if named == CONTRADICTION else named), value, "closing"


def _plan(item: GradeItem, boxed_only: bool = False) -> Verdict | _Symbolic:
    """A verdict from the plain rules, or the symbolic check still needed."""
    gold = repair_escapes(str(item.gold)).strip()
    if not gold:
        return Verdict(None, False, "error", "empty gold answer")
    answer = _answer_of(item, boxed_only)
    letters = gold_letters(gold)
    multiple_choice = item.multiple_choice
    if multiple_choice is None:
        multiple_choice = letters is not None
    if multiple_choice and letters:
        return _plan_choice(item, answer, letters, boxed_only)
    if answer.text is None:
        return Verdict(None, False, "none", "no final answer found")
    extracted = answer.text
    if answer.parts and _several_parts(gold):
        extracted = ", ".join(answer.parts)
    if too_long(extracted):
        return Verdict(extracted[:200], False, f"{answer.source}/too_long", "answer too long")
    decided, method = cheap_equal(*normalize_pair(extracted, gold))
    if decided is not None:
        return Verdict(extracted, decided, f"{answer.source}/{method}")
    return _Symbolic(extracted, gold, answer.source)


def _several_parts(gold: str) -> bool:
    compound = parse_compound(normalize(gold))
    return compound is not None and len(compound[1]) >= 2


def _finish(plan: _Symbolic, outcome: Any) -> Verdict:
    if isinstance(outcome, JobFailed):
        return Verdict(plan.extracted, False, f"{plan.source}/symbolic", outcome.reason)
    if plan.letters is not None:  # indices of the options the value equals
        named = frozenset(LETTERS[i] for i in outcome)
        if len(named) != 1:
            reason = "no option named" if not named else "equals several options"
            return Verdict(plan.extracted, False, f"{plan.source}/symbolic", reason)
        return Verdict(", ".join(named), named == plan.letters, f"{plan.source}/symbolic")
    correct, method = outcome
    return Verdict(plan.extracted, bool(correct), f"{plan.source}/{method}")


def grade(
    response: str,
    gold: str,
    choices: Sequence[str] | None = None,
    multiple_choice: bool | None = None,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    boxed_only: bool = False,
    prediction: str | None = None,
) -> Verdict:
    """Grade one response against the gold answer (a letter for multiple-choice items).

    ``boxed_only``: only the last \\boxed{} answer counts (the RL reward's strict reading).
    ``prediction``: an already extracted answer, graded as it is (``response`` is ignored)."""
    item = GradeItem(response, gold, choices, multiple_choice, prediction)
    return grade_many([item], timeout_s=timeout_s, boxed_only=boxed_only)[0]


def grade_many(
    items: Iterable[GradeItem | tuple[Any, ...] | dict[str, Any]],
    workers: int = DEFAULT_WORKERS,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    cache: dict[CacheKey, Any] | None = None,
    boxed_only: bool = False,
) -> list[Verdict]:
    """Grade many responses: plain rules here, symbolic checks over a pool of workers.

    Each item is a ``GradeItem``, a tuple ``(response, gold[, choices[, multiple_choice]])``
    or a dict (see ``GradeItem.of``). Identical (prediction, gold) pairs are checked once.
    ``boxed_only``: only the last \\boxed{} answer of each response counts (answer phrases, a
    bare last line, ... earn nothing). A check that runs out of time is retried once and then
    reported with ``error="timeout"`` (never silently wrong: the error is in the verdict).
    """
    plans: list[Verdict | _Symbolic] = []
    for item in items:
        try:
            plans.append(_plan(GradeItem.of(item), boxed_only=boxed_only))
        except Exception as exc:  # a verifier bug must never crash a run
            plans.append(Verdict(None, False, "error", f"{type(exc).__name__}: {exc}"[:200]))
    cache = {} if cache is None else cache
    todo = {p.key: p for p in plans if isinstance(p, _Symbolic) and p.key not in cache}
    outcomes: dict[CacheKey, Any] = {}
    if todo:
        jobs = [p.job for p in todo.values()]
        for key, outcome in zip(todo, _pool(workers, timeout_s).map(jobs), strict=True):
            outcomes[key] = outcome
            if not isinstance(outcome, JobFailed):  # failures are not cached: a rerun retries
                cache[key] = outcome
    return [_finish(p, outcomes.get(p.key, cache.get(p.key)))
            if isinstance(p, _Symbolic) else p for p in plans]


def reward(response: str, gold: str, choices: Sequence[str] | None = None,
           boxed_only: bool = True) -> float:
    """1.0 when the response's final answer is correct, else 0.0 (the trainer's reward).

    By default only the last \\boxed{} answer counts, as in ORZ/OVR's RL reward; pass
    ``boxed_only=False`` for the evaluation's lenient extraction."""
    return grade(response, gold, choices, boxed_only=boxed_only).score
