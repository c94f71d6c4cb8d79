"""Math-Verify's verdict on a response: a second opinion beside the rules' (``ovr_eval.verify``).

Math-Verify (Hugging Face's ``math_verify``) grades every response of an ``ovr eval`` run
again, with its own extraction and comparison. A response the two grade differently is a
*disagreement*, counted per task in results.json: an answer format that breaks one of the
rules shows up on the first run as disagreements instead of as a silently low score.

- Free-form gold: ``verify(parse("$" + gold + "$", [LatexExtractionConfig(),
  ExprExtractionConfig()]), parse(response))``, Math-Verify's documented use.
- Multiple choice (the gold is one option letter, ``choices.gold_letters``): its
  ``StringExtractionConfig`` with the question's option letters on both sides. A gold of
  several letters ("B, D") gets no opinion: that extraction reads one letter.
- Math-Verify reads the same text the rules read (``extract.final_region``: the answer region
  of ``region.answer_region``, its 20,000-character tail); a ``prediction`` (an answer another
  harness extracted) as it is.

It runs in worker processes (``pool.WorkerPool``) under a limit on the job's own CPU time,
never in the caller, and Math-Verify's own wall-clock alarms are off (as in
``equivalence.symbolic_equal``), so a verdict does not depend on how busy the machine is. A
job that fails or runs out of time (retried once) is no opinion (None), never a disagreement.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from ovr_eval.verify import DEFAULT_WORKERS, GradeItem
from ovr_eval.verify.choices import LETTERS, gold_letters
from ovr_eval.verify.normalize import repair_escapes
from ovr_eval.verify.pool import JobFailed, WorkerPool, shared_pool

__all__ = ["DEFAULT_LETTERS", "TIMEOUT_S", "opinion", "second_opinions"]

TIMEOUT_S = 5.0  # CPU seconds per response: Math-Verify's own default budget (5 s wall)
DEFAULT_LETTERS = ("A", "B", "C", "D")  # StringExtractionConfig's default strings
# what a job gets: (text, gold, option letters to read; None: a free-form gold)
Job = tuple[str, str, tuple[str, ...] | None]


def opinion(response: str, gold: str, letters: Sequence[str] | None = None,
            timeout_seconds: int | None = None) -> bool:
    """Math-Verify's verdict on ``response`` against ``gold``: free-form, or (``letters``
    given) by option letter, reading only those letters on both sides.

    ``timeout_seconds``: Math-Verify's own wall-clock alarms for parse and verify; None (the
    default) turns them off, for a caller that limits the time itself (the workers here do)."""
    from math_verify import (
        ExprExtractionConfig,
        LatexExtractionConfig,
        StringExtractionConfig,
        parse,
        verify,
    )

    _quiet()
    if letters is not None:
        config: list[Any] = [StringExtractionConfig(strings=tuple(letters))]
        gold_parsed = parse(gold, extraction_config=config, parsing_timeout=timeout_seconds)
        target = parse(response, extraction_config=config, parsing_timeout=timeout_seconds)
    else:
        config = [LatexExtractionConfig(), ExprExtractionConfig()]
        gold_parsed = parse(f"${gold}$", extraction_config=config,
                            parsing_timeout=timeout_seconds)
        target = parse(response, parsing_timeout=timeout_seconds)
    return bool(verify(gold_parsed, target, timeout_seconds=timeout_seconds))


def _quiet() -> None:
    """Math-Verify warns on every call that its alarms are off; they are off on purpose."""
    import logging

    for name in ("math_verify.parser", "math_verify.grader"):
        logging.getLogger(name).setLevel(logging.ERROR)


def job(text: str, gold: str, letters: tuple[str, ...] | None) -> bool:
    """What a worker runs for one response (``WorkerPool`` target)."""
    return opinion(text, gold, letters)


def warm_up() -> None:
    """Import Math-Verify and exercise both configurations once, before a worker is ready."""
    opinion("so the answer is $\\boxed{\\frac{1}{2}}$", "0.5")
    opinion("Answer: B", "B", DEFAULT_LETTERS)


def _text_read(response: str) -> str:
    """The part of a response the rules read its answer from (``extract.final_region``)."""
    from ovr_eval.verify.extract import final_region

    return final_region(response)


def _option_letters(gold: str, choices: Sequence[str] | None) -> tuple[str, ...]:
    """The option letters Math-Verify reads: one per option (A-D without choices), the gold's
    letter always among them."""
    count = max(len(choices) if choices else len(DEFAULT_LETTERS), LETTERS.index(gold) + 1)
    return tuple(LETTERS[:count])


def plan(response: str, gold: str, choices: Sequence[str] | None = None,
         multiple_choice: bool | None = None, prediction: str | None = None) -> Job | None:
    """The job that gives Math-Verify's verdict on one response, or None where it has no
    opinion to give (an empty gold, a gold of several letters). A letter gold is multiple
    choice unless the item says otherwise, as the rules read it."""
    gold = repair_escapes(str(gold)).strip()
    if not gold:
        return None
    text = str(prediction).strip() if prediction is not None else _text_read(response)
    named = gold_letters(gold)
    if not named or multiple_choice is False:
        return text, gold, None
    if len(named) > 1:
        return None
    (letter,) = named
    return text, letter, _option_letters(letter, choices)


def _pool(workers: int, timeout_s: float) -> WorkerPool:
    return shared_pool("ovr_eval.verify.second_opinion:job",
                       "ovr_eval.verify.second_opinion:warm_up", workers, timeout_s)


def second_opinions(items: Iterable[Any], workers: int = DEFAULT_WORKERS,
                    timeout_s: float = TIMEOUT_S) -> list[bool | None]:
    """Math-Verify's verdict on each item (True / False; None: no opinion, because the job
    failed, ran out of CPU time twice, or the item has none to give), in one pool call.

    Each item is what ``grade_many`` takes: a ``GradeItem``, a tuple ``(response, gold[,
    choices[, multiple_choice]])`` or a dict. Identical jobs are run once."""
    jobs: list[Job | None] = []
    for raw in items:
        try:
            item = GradeItem.of(raw)
            jobs.append(plan(item.response, item.gold, item.choices, item.multiple_choice,
                             item.prediction))
        except Exception:  # a bug here must never crash a run: no opinion
            jobs.append(None)
    todo = list(dict.fromkeys(j for j in jobs if j is not None))
    if not todo:
        return [None] * len(jobs)
    outcomes = dict(zip(todo, _pool(workers, timeout_s).map(todo), strict=True))
    verdicts: list[bool | None] = []
    for j in jobs:
        outcome = outcomes.get(j) if j is not None else None
        verdicts.append(None if outcome is None or isinstance(outcome, JobFailed)
                        else bool(outcome))
    return verdicts
