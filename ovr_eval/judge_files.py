"""``ovr grade --judge``: the judged extraction and verdict added to a graded JSONL file.

Each graded line (``ovr_eval.grading``) gains ``judge_extracted``, ``judge_correct``,
``judge_method`` and ``judge_error``. The protocol needs what the official pipeline reads: the
``question`` (MathVista's full query; LogicVista's question) and the protocol's
``metadata_keys`` (MathVista's ``question_type`` / ``answer_type`` / ``precision``: top level
or under ``metadata``). The
judge's replies are cached beside the output (``OUT.judge-cache.jsonl``), so a re-run asks
nothing twice.
"""

from __future__ import annotations

from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

from rich.console import Console

from ovr_eval.judge import Judge, JudgeCache, JudgeOptions, judge_records
from ovr_eval.judged import agreement
from ovr_eval.records import Record
from ovr_eval.task_registry import judge_protocols, protocol_for
from ovr_eval.types import UserError


def check_grade_task(task: str | None) -> None:
    """``--judge`` needs ``--task`` naming a benchmark with an official judge protocol."""
    if task is None or protocol_for(task) is None:
        given = "no --task" if task is None else f"--task {task!r} has a rule-based metric"
        raise UserError(f"--judge needs --task naming a benchmark whose official protocol uses "
                        f"a judge ({', '.join(judge_protocols())}); {given}")


def _for_protocol(line: dict[str, Any], record: Record, keys: tuple[str, ...]) -> Record:
    """A graded line's record with what the official protocol reads: the line's own
    ``keys`` (the protocol's ``metadata_keys``) in its metadata, and a line with choices as a
    multiple-choice question."""
    meta = {**record.metadata, **{k: line[k] for k in keys if k in line}}
    if record.choices and "question_type" not in meta:
        meta["question_type"] = "multi_choice"
    return replace(record, metadata=meta)


def judge_lines(output: Path, lines: list[dict[str, Any]], records: list[Record], task: str,
                options: JudgeOptions, console: Console | None = None) -> dict[str, Any]:
    """Add the judge's fields to graded lines (``records``: the same lines as run records,
    ``ovr_eval.grading``), before they are written to ``output``; the judge's replies are
    cached beside it."""
    console = console or Console(stderr=True)
    check_grade_task(task)
    protocol = protocol_for(task)
    assert protocol is not None  # check_grade_task refuses a task without one
    judge = Judge(options, JudgeCache(output.with_name(output.name + ".judge-cache.jsonl")),
                  console)
    try:
        judged = judge_records([_for_protocol(line, record, protocol.metadata_keys)
                                for line, record in zip(lines, records, strict=True)],
                               protocol, judge, task)
    finally:
        judge.close()
    for line, record in zip(lines, judged, strict=True):
        judgement = record.judge
        assert judgement is not None  # judge_records judges every record
        line.update(judge_extracted=judgement.extracted[0], judge_correct=judgement.correct[0],
                    judge_method=judgement.methods[0], judge_error=judgement.errors[0])
    summary = {**asdict(agreement(judged)),
               "judge_correct": sum(r.judge.correct[0] for r in judged if r.judge)}
    rate = summary["rate"]
    console.print(f"judged {len(judged)} line(s) with {options.model}: "
                  f"{summary['judge_correct']} correct by the {task} protocol; rules and judge "
                  f"agree on {'-' if rate is None else f'{100 * rate:.1f}%'}; "
                  f"{summary['failures']} judge failure(s) -> {output}")
    return summary
