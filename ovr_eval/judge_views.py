"""Judged scores beside the rule scores in ``ovr compare`` and ``ovr report``.

A task judged with ``--judge`` has a ``judge`` entry in results.json (``ovr_eval.judge``). These
helpers add, next to the rule row or column, the judged one, and say which of the two follows
the benchmark's official protocol: the judged score for MathVista, MathVerse and LogicVista
(their official pipelines extract answers with a language model), the rule score elsewhere.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from ovr_eval.records import Record, TaskResult


def judged_task(task: TaskResult | None) -> TaskResult | None:
    """The judged scores of a task result, as a task result of their own."""
    if task is None or task.judge is None:
        return None
    try:
        return TaskResult.from_json({**task.judge.scores, "split": task.split})  # as saved
    except KeyError:  # judged scores without a headline: nothing to show
        return None


def with_judged_rows(run: Any, rows: list[Any], reference: str) -> list[Any]:
    """``compare_to_reference`` rows with a judged row after each judged task's rule row, and
    each row marked with whether it follows the benchmark's official protocol."""
    from ovr_eval.compare import compare_to_reference
    from ovr_eval.runs import SavedRun, run_registry

    judged = {name: t for name, task in run.tasks.items() if (t := judged_task(task))}
    judged_rows = {}
    if judged:
        pseudo = SavedRun(path=run.path, model=run.model, config=run.config, tasks=judged)
        judged_rows = {r.task: r for r in compare_to_reference(pseudo, reference,
                                                                view="judged")}
    tasks = run_registry(run.config)  # its --task-dir plugins too
    out = []
    for row in rows:
        if (plugin := tasks.get(row.task)) is None or plugin.judge is None:
            out.append(row)
            continue
        if row.task not in judged_rows:
            out.append(replace(row, warnings=[
                *row.warnings, "rules only: the official protocol extracts answers with a "
                "language model (add --judge MODEL for that score)"]))
            continue
        entry = run.tasks[row.task].judge
        out.append(replace(row, task=f"{row.task} (rules)", warnings=[
            *row.warnings, "rules only; the judged row below follows the official protocol"]))
        judged_row = judged_rows[row.task]
        out.append(replace(judged_row, task=f"{row.task} (judged, official)",
                           warnings=[*judged_row.warnings,
                                     *(entry.notes() if entry is not None else [])]))
    return out


def response_judgement(record: Record, index: int) -> dict[str, Any] | None:
    """The judge's extraction and verdict on response ``index`` of a record, if judged."""
    entry = record.judge
    if entry is None:
        return None

    def at(values: list[Any]) -> Any:
        return values[index] if index < len(values) else None

    return {"extracted": at(entry.extracted), "correct": at(entry.correct),
            "method": at(entry.methods), "error": at(entry.errors)}


def rules_and_judge_disagree(record: Record) -> bool:
    """Whether any response's rule verdict differs from its judged verdict."""
    if record.judge is None:
        return False
    pairs = zip(record.correct, record.judge.correct, strict=False)
    return any(bool(a) != bool(b) for a, b in pairs)
