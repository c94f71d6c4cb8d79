"""``ovr grade --judge``: the judged extraction and verdict added to a graded JSONL file.

Each graded line (``ovr_eval.grading``) gains ``judge_extracted``, ``judge_correct``,
``judge_method`` and ``judge_error``. The protocol needs what the official pipeline reads: the
``question`` (MathVista's full query; LogicVista's question) and, for MathVista,
``question_type`` / ``answer_type`` / ``precision`` (top level or under ``metadata``). The
judge's replies are cached beside the output (``OUT.judge-cache.jsonl``), so a re-run asks
nothing twice.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.console import Console

from ovr_eval.judge import Judge, JudgeCache, JudgeOptions, agreement, judge_records
from ovr_eval.judge_protocols import PROTOCOLS, protocol_for
from ovr_eval.records import Record
from ovr_eval.runs import read_jsonl, write_jsonl_atomic
from ovr_eval.types import UserError

META_KEYS = ("question_type", "answer_type", "precision", "unit", "question_for_eval")


def check_grade_task(task: str | None) -> None:
    """``--judge`` needs ``--task`` naming a benchmark with an official judge protocol."""
    if task is None or protocol_for(task) is None:
        given = "no --task" if task is None else f"--task {task!r} has a rule-based metric"
        raise UserError(f"--judge needs --task naming a benchmark whose official protocol uses "
                        f"a judge ({', '.join(PROTOCOLS)}); {given}")


def as_record(line: dict[str, Any], number: int) -> Record:
    """A graded line as a run record (one response)."""
    meta = dict(line.get("metadata") or {})
    meta.update({k: line[k] for k in META_KEYS if k in line})
    if line.get("choices") and "question_type" not in meta:
        meta["question_type"] = "multi_choice"
    choices = line.get("choices")
    return Record(id=str(line.get("id", number)), question=str(line.get("question") or ""),
                  gold=str(line.get("answer", "")),
                  choices=[str(c) for c in choices] if choices is not None else None,
                  metadata=meta, responses=[str(line.get("response", ""))],
                  extracted=[line.get("extracted")], correct=[bool(line.get("correct"))],
                  errors=[line.get("error")])


def judge_graded_file(path: Path, task: str, options: JudgeOptions,
                      console: Console | None = None) -> dict[str, Any]:
    """Add the judge's fields to every line of a graded file (rewritten atomically)."""
    console = console or Console(stderr=True)
    check_grade_task(task)
    protocol = protocol_for(task)
    assert protocol is not None  # check_grade_task refuses a task without one
    lines, _ = read_jsonl(path)
    judge = Judge(options, JudgeCache(path.with_name(path.name + ".judge-cache.jsonl")), console)
    try:
        records = judge_records([as_record(line, i + 1) for i, line in enumerate(lines)],
                                protocol, judge, task)
    finally:
        judge.close()
    for line, record in zip(lines, records, strict=True):
        judged = record.judge
        assert judged is not None  # judge_records judges every record
        line.update(judge_extracted=judged.extracted[0], judge_correct=judged.correct[0],
                    judge_method=judged.methods[0], judge_error=judged.errors[0])
    write_jsonl_atomic(path, lines)
    summary = {**agreement(records),
               "judge_correct": sum(r.judge.correct[0] for r in records if r.judge)}
    rate = summary["rate"]
    console.print(f"judged {len(records)} line(s) with {options.model}: "
                  f"{summary['judge_correct']} correct by the {task} protocol; rules and judge "
                  f"agree on {'-' if rate is None else f'{100 * rate:.1f}%'}; "
                  f"{summary['failures']} judge failure(s) -> {path}")
    return summary
