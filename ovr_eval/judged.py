"""Judged verdicts of saved records (``Record.judge``, from ``ovr_eval.judge``): the records as
the judge scores them, how often the judge and the rules agree, and a task's ``judge`` entry
re-made from its records (a resumed run re-scoring a task it did not name, an unfinished run
read back)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

from ovr_eval.judge_protocols import Protocol
from ovr_eval.records import Record
from ovr_eval.result_entries import Agreement, JudgeSummary


def judged_view(records: list[Record]) -> list[Record]:
    """Records whose ``correct`` / ``extracted`` are the judge's (for a task's ``score``)."""
    return [replace(r, correct=r.judge.correct, extracted=r.judge.extracted)
            for r in records if r.judge is not None]


def agreement(records: list[Record]) -> Agreement:
    """How often the rule verdict and the judged verdict agree: per response and per sample."""
    responses = agree = samples_disagreeing = failures = 0
    disagreeing: list[str] = []
    for record in records:
        judged = record.judge
        pairs = list(zip(record.correct, judged.correct if judged else [], strict=False))
        same = sum(bool(a) == bool(b) for a, b in pairs)
        responses += len(pairs)
        agree += same
        failures += sum(e is not None for e in judged.errors) if judged else 0
        if same < len(pairs):
            samples_disagreeing += 1
            if len(disagreeing) < 200:
                disagreeing.append(record.id)
    return Agreement(responses=responses, agree=agree,
                     rate=agree / responses if responses else None,
                     samples_disagreeing=samples_disagreeing, disagreeing_ids=disagreeing,
                     failures=failures)


def judged_summary(records: list[Record], protocol: Protocol, settings: dict[str, Any],
                   score: Callable[[list[Record]], dict[str, Any]],
                   requests: dict[str, int] | None = None) -> JudgeSummary | None:
    """A task's ``judge`` entry from its judged records: ``score`` (the task's ``Task.score``)
    over the judge's verdicts and their agreement with the rules; None when no record holds
    a judged verdict. ``protocol``: the task's ``Task.judge``; ``settings``: the judge's
    (``JudgeOptions.describe``, as results.json or config.json recorded them)."""
    view = judged_view(records)
    if not view:
        return None
    return JudgeSummary(settings=dict(settings), protocol=protocol.name, source=protocol.source,
                        scores=score(view), agreement=agreement(records), requests=requests)
