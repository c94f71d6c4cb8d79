"""Re-grade responses produced by any harness (``ovr grade IN.jsonl... [-o OUT]``).

One JSON object a line: ``response`` (a model's whole response) or ``prediction`` (an answer
another harness already extracted, graded as it is), ``answer`` (the gold), and optionally
``choices`` (option texts, A, B, ...), ``multiple_choice`` (true/false; inferred from a letter
gold when absent), ``id`` and any other fields, which are kept. Each output line adds
``extracted``, ``correct``, ``method`` and ``error``, and ``math_verify``: Math-Verify's verdict
on the same text (``verify.second_opinion``; null: it gave none), unless turned off.

With a task (``--task NAME``) a file is graded as ``ovr eval`` grades that task: a line whose
``id`` names one of the task's samples (read from ``--data-dir``) takes the sample's gold,
choices, answer type and metadata where it has none, the task's official rules add
``task_correct`` (the verdict the task's score counts), and the task's metric scores the file.
When some lines name no sample, a task with its own metric (which reads the samples' metadata)
scores the file by accuracy under its rules instead, and the count is printed.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from ovr_eval.metrics import UNMARKED_SOURCES, task_scores
from ovr_eval.records import Record
from ovr_eval.tasks import DATA_DIR_ENV, Task
from ovr_eval.types import BadRow, Sample, UserError
from ovr_eval.verify import (
    DEFAULT_TIMEOUT_S,
    DEFAULT_WORKERS,
    CacheKey,
    GradeItem,
    grade_many,
    is_check_failure,
    is_text,
)
from ovr_eval.verify.second_opinion import second_opinions

CHUNK = 512
TEXT_SNIFF_BYTES = 1 << 16


@dataclass
class FileGrade:
    """What grading one file gave: counts, and with a task its scores."""

    source: Path
    output: Path
    graded: int = 0
    correct: int = 0
    malformed: int = 0
    no_gold: int = 0  # lines skipped: no gold answer, from the line or the task's sample
    unmarked: int = 0  # graded lines whose answer was read from no marker (last line/sentence)
    joined: int = 0  # lines completed from the task's sample of the same id
    unmatched: int = 0  # with a task: graded lines whose id names none of its samples
    check_failures: Counter = field(default_factory=Counter)
    second_opinion: bool = False  # Math-Verify graded the lines too
    disagree: int = 0  # lines the rules and Math-Verify grade differently
    math_verify_only: int = 0  # ... of which Math-Verify credits
    scores: dict[str, Any] | None = None  # task.score(records), with a task
    task_metric: bool = True  # False: scored by accuracy (lines naming no sample of the task)


# Called with a file's output path, its graded lines and (with a task) their records, before the
# lines are written: ``ovr grade --judge`` adds the judge's fields to the lines.
BeforeWrite = Callable[[Path, list[dict[str, Any]], list[Record]], object]


def _parse(raw: bytes, number: int) -> tuple[dict[str, Any] | None, str | None]:
    """The line's object, or an error naming the line and what is wrong with it."""
    try:
        line = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return None, f"line {number}: not UTF-8 text (byte {exc.start + 1})"
    try:
        item = json.loads(line)
    except json.JSONDecodeError as exc:
        return None, f"line {number}: not valid JSON ({exc.msg})"
    if not isinstance(item, dict):
        return None, f"line {number}: expected a JSON object"
    if not (is_text(item.get("response")) or is_text(item.get("prediction"))):
        return None, f"line {number}: missing or non-text 'response' (or 'prediction')"
    if item.get("answer") is not None and not is_text(item["answer"]):
        return None, f"line {number}: 'answer' must be text"
    choices = item.get("choices")
    if choices is not None and not (isinstance(choices, list)
                                    and all(is_text(c) for c in choices)):
        return None, f"line {number}: 'choices' must be a list of option texts or null"
    if item.get("multiple_choice") not in (None, True, False):
        return None, f"line {number}: 'multiple_choice' must be true, false or null"
    if item.get("metadata") is not None and not isinstance(item["metadata"], dict):
        return None, f"line {number}: 'metadata' must be a JSON object"
    return item, None


def _lines(source: Path) -> Iterator[tuple[int, bytes]]:
    with source.open("rb") as handle:
        for number, raw in enumerate(handle, 1):
            if raw.strip():
                yield number, raw.rstrip(b"\r\n")


def _task_samples(task: Task, split: str | None, data_dir: Path | None,
                  console: Console) -> dict[str, Sample]:
    """The task's samples by id, when its data is at hand (``data_dir`` or $OVR_DATA_DIR);
    without it the lines are graded with their own fields."""
    if data_dir is None and not os.environ.get(DATA_DIR_ENV):
        return {}
    try:
        return {s.id: s for s in task.samples(split, data_dir) if not isinstance(s, BadRow)}
    except UserError as exc:
        console.print(f"[yellow]{task.name}: lines graded with their own fields only ({exc})")
        return {}


_LINE_KEYS = frozenset({"id", "response", "prediction", "answer", "choices", "multiple_choice",
                        "question", "metadata", "extracted", "correct", "method", "error",
                        "math_verify", "task_correct"})


def _completed(item: dict[str, Any], sample: Sample | None) -> dict[str, Any]:
    """The line with what it lacks taken from the task's sample of the same id; the line's
    other plain fields (MathVista's ``precision``, ``answer_type``) join its metadata, where
    the task's official rules read them."""
    extra = {k: v for k, v in item.items()
             if k not in _LINE_KEYS and (v is None or isinstance(v, (str, int, float, bool)))}
    if sample is None:
        return {**item, "metadata": {**extra, **dict(item.get("metadata") or {})}}
    filled = dict(item)
    if filled.get("answer") is None:
        filled["answer"] = sample.answer
    if filled.get("choices") is None and sample.choices:
        filled["choices"] = sample.choices
    if filled.get("multiple_choice") is None:
        filled["multiple_choice"] = sample.answer_type == "multiple_choice"
    filled.setdefault("question", sample.question)
    filled["metadata"] = {**sample.metadata, **extra, **dict(item.get("metadata") or {})}
    return filled


def _no_gold(answer: Any) -> bool:
    return answer is None or (isinstance(answer, str) and not answer.strip())


def _record(item: dict[str, Any], graded: GradeItem, number: int, task: Task,
            split: str) -> Record:
    """A graded line (``graded``: what of it was graded) as an ``ovr eval`` record."""
    multiple_choice = item.get("multiple_choice")
    if multiple_choice is None:
        multiple_choice = bool(item.get("choices"))
    choices = item.get("choices")
    return Record(
        id=str(item.get("id", number)), task=task.name, split=split,
        question=str(item.get("question") or ""), gold=graded.gold,
        choices=[str(c) for c in choices] if choices is not None else None,
        answer_type="multiple_choice" if multiple_choice else "free_form",
        metadata=dict(item.get("metadata") or {}),
        responses=[graded.response or graded.prediction or ""],
        extracted=[item["extracted"]], correct=[bool(item["correct"])],
        methods=[item["method"]], errors=[item["error"]],
        math_verify=[item["math_verify"]] if "math_verify" in item else None)


def _check_text(source: Path) -> None:
    """Refuse a file that is not text (NUL bytes near its start: an image, a spreadsheet, a
    compressed or UTF-16 file) rather than report every one of its lines as malformed."""
    try:
        with source.open("rb") as handle:
            head = handle.read(TEXT_SNIFF_BYTES)
    except OSError as exc:
        raise UserError(f"cannot read {source}: {exc.strerror or exc}") from None
    if b"\0" in head:
        raise UserError(f"{source} is not a text file (it holds NUL bytes): ovr grade reads "
                        "JSONL, one JSON object a line, in UTF-8")


def check_paths(sources: list[Path], output: Path | None) -> list[tuple[Path, Path]]:
    """(input, output) pairs: ``output`` names the file for one input or a folder for several;
    without it each input gets ``<name>.graded.jsonl`` beside it. An output that is one of the
    inputs is refused (grading would destroy the input)."""
    for source in sources:
        if source.is_dir():
            raise UserError(f"input {source} is a directory, not a file: give the JSONL "
                            "file(s) inside it")
        if not source.is_file():
            raise UserError(f"input file {source} does not exist")
        _check_text(source)
    if output is None:
        pairs = [(s, s.with_name(f"{s.stem}.graded.jsonl")) for s in sources]
    elif len(sources) == 1 and not output.is_dir():
        pairs = [(sources[0], output)]
    else:
        pairs = [(s, output / f"{s.stem}.graded.jsonl") for s in sources]
    inputs = {s.resolve() for s in sources}
    for _, target in pairs:
        if target.resolve() in inputs:
            raise UserError(f"output {target} is an input file: grading would overwrite it; "
                            "choose another -o")
    return pairs


def grade_files(sources: list[Path], output: Path | None = None,
                workers: int = DEFAULT_WORKERS, timeout_s: float = DEFAULT_TIMEOUT_S,
                console: Console | None = None, task: Task | None = None,
                split: str | None = None, data_dir: Path | None = None,
                before_write: BeforeWrite | None = None,
                second_opinion: bool = True) -> list[FileGrade]:
    """Grade each input into its output (``check_paths``), the task's samples read once;
    ``before_write`` may add fields to a file's lines before they are written;
    ``second_opinion``: Math-Verify grades every line too (``math_verify``)."""
    console = console or Console(stderr=True)
    pairs = check_paths(sources, output)
    split = split or (task.default_split if task else "test")
    samples = _task_samples(task, split, data_dir, console) if task else {}
    return [_grade_pair(source, target, workers, timeout_s, console, task, split, samples,
                        before_write, second_opinion) for source, target in pairs]


def grade_file(source: Path, output: Path, workers: int = DEFAULT_WORKERS,
               timeout_s: float = DEFAULT_TIMEOUT_S, console: Console | None = None,
               task: Task | None = None, split: str | None = None,
               data_dir: Path | None = None, second_opinion: bool = True) -> FileGrade:
    """Grade every line of ``source`` into ``output`` (written whole, then renamed into place);
    malformed lines and lines without a gold are reported by number and skipped."""
    return grade_files([source], output, workers, timeout_s, console, task, split, data_dir,
                       second_opinion=second_opinion)[0]


def _grade_pair(source: Path, output: Path, workers: int, timeout_s: float, console: Console,
                task: Task | None, split: str, samples: dict[str, Sample],
                before_write: BeforeWrite | None, second_opinion: bool) -> FileGrade:
    result = FileGrade(source, output, second_opinion=second_opinion)
    graded: list[dict[str, Any]] = []
    records: list[Record] = []
    cache: dict[CacheKey, Any] = {}
    lines = list(_lines(source))
    with Progress(console=console) as bar:
        progress = bar.add_task(f"grading {source.name}", total=len(lines))
        for start in range(0, len(lines), CHUNK):
            batch = []
            for number, raw in lines[start : start + CHUNK]:
                item, error = _parse(raw, number)
                if error or item is None:
                    console.print(f"[yellow]{source.name}: skipped {error}")
                    result.malformed += 1
                    continue
                sample = samples.get(str(item.get("id")))
                item = _completed(item, sample)
                if _no_gold(item.get("answer")):
                    console.print(f"[yellow]{source.name}: skipped line {number}: no gold "
                                  "answer ('answer' missing or empty"
                                  f"{'' if task is None else ', and no sample of that id'})")
                    result.no_gold += 1
                    continue
                result.joined += sample is not None
                # the line's ``answer`` is the gold (a ``gold`` field is just kept)
                batch.append((number, item, GradeItem.of({**item, "answer": item.get("answer")})))
            verdicts = grade_many([g for _, _, g in batch], workers, timeout_s, cache)
            others = (second_opinions([g for _, _, g in batch], workers) if second_opinion
                      else [None] * len(batch))
            for (number, item, to_grade), verdict, other in zip(batch, verdicts, others,
                                                                strict=True):
                item.update(extracted=verdict.extracted, correct=verdict.correct,
                            method=verdict.method, error=verdict.error)
                if second_opinion:
                    item["math_verify"] = other
                    if other is not None and other != verdict.correct:
                        result.disagree += 1
                        result.math_verify_only += other
                graded.append(item)
                if task is not None:
                    records.append(_record(item, to_grade, number, task, split))
                result.correct += int(verdict.correct)
                result.unmarked += verdict.method.split("/")[0] in UNMARKED_SOURCES
                if verdict.error and is_check_failure(verdict.error):
                    result.check_failures[verdict.error] += 1
            bar.update(progress, advance=min(CHUNK, len(lines) - start))
    result.graded = len(graded)
    if task is not None and records:
        official = task.official(records)
        for item, record in zip(graded, official, strict=True):
            item["task_correct"] = record.correct[0]
        result.unmatched = result.graded - result.joined
        result.scores = _file_scores(task, records, official, result, samples, console)
    if before_write is not None:
        before_write(output, graded, records)
    _write_atomic(output, graded)
    return result


def _has_own_metric(task: Task) -> bool:
    return type(task).score is not Task.score


def _file_scores(task: Task, records: list[Record], official: list[Record], result: FileGrade,
                 samples: dict[str, Sample], console: Console) -> dict[str, Any]:
    """The task's metric over the file's records; when some lines name no sample of the task,
    a task with its own (composite) metric, which reads the samples' metadata (DynaMath's
    seeds, WeMath's problems), scores the file by accuracy under its official rules instead,
    and says so."""
    if not result.unmatched or not _has_own_metric(task):
        return task.score(records)
    result.task_metric = False
    why = ("no --data-dir, so the task's samples were not read" if not samples
           else "no id naming one of its samples")
    console.print(f"[yellow]{result.source.name}: {result.unmatched} of {result.graded} "
                  f"line(s) match no {task.name} sample ({why}): graded by {task.name}'s rules; "
                  f"the file is scored by accuracy, without {task.name}'s own metric")
    return {**task_scores(official, task.subset_keys),
            "metric": f"accuracy under {task.name}'s rules (not its own metric: "
                      f"{result.unmatched} line(s) match no sample)"}


def _write_atomic(output: Path, items: list[dict[str, Any]]) -> None:
    """Write the lines to a temporary file beside ``output``, then rename it into place."""
    partial = output.with_name(f".{output.name}.partial")
    try:
        output.parent.mkdir(parents=True, exist_ok=True)
        with partial.open("w", encoding="utf-8") as out:
            for item in items:
                out.write(json.dumps(item, ensure_ascii=False) + "\n")
        os.replace(partial, output)
    except OSError as exc:
        partial.unlink(missing_ok=True)
        raise UserError(f"could not write {output}: {exc.strerror or exc}") from None


def grades_table(grades: list[FileGrade], task: str | None) -> Table:
    """One row per graded file: the verifier's accuracy, and with a task its official score."""
    table = Table(title=f"ovr grade{f' --task {task}' if task else ''}")
    columns = ["file", "lines", "verifier accuracy"]
    columns += ["score (task metric)", "95% CI"] if task else []
    second = any(g.second_opinion for g in grades)
    columns += ["checks failed", *(["rules vs MV"] if second else []), "no marker", "skipped",
                "written to"]
    for column in columns:
        table.add_column(column, justify="left" if column in ("file", "written to") else "right")
    for g in grades:
        row = [g.source.name, str(g.graded),
               f"{100 * g.correct / g.graded:.1f}" if g.graded else "-"]
        if task:
            scores = g.scores or {}
            ci = scores.get("ci95")
            own = "" if g.task_metric else " (accuracy)"
            row += [f"{100 * scores['score']:.1f}{own}" if scores.get("score") is not None
                    else "-",
                    f"{100 * ci[0]:.1f}-{100 * ci[1]:.1f}" if ci else "-"]
        failed = ", ".join(f"{n} {r}" for r, n in sorted(g.check_failures.items())) or "0"
        skipped = ", ".join(f"{n} {why}" for n, why in ((g.malformed, "malformed"),
                                                        (g.no_gold, "no gold")) if n) or "0"
        row += [failed, *([_disagreements(g)] if second else []), str(g.unmarked), skipped,
                str(g.output)]
        table.add_row(*row)
    return table


def _disagreements(grade: FileGrade) -> str:
    """Lines the rules and Math-Verify grade differently ("3 (MV only 2)")."""
    if not grade.second_opinion:
        return "-"
    if grade.math_verify_only:
        return f"{grade.disagree} (MV only {grade.math_verify_only})"
    return str(grade.disagree)
