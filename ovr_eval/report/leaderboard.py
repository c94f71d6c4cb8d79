"""The leaderboard: run folders read, columns per reported benchmark, a row per run and per
reported model, judged columns beside the rule ones."""


from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

from ovr_eval.compare import data_note
from ovr_eval.judge_views import judged_task
from ovr_eval.records import Record, TaskResult
from ovr_eval.reference import (
    Benchmark,
    Reference,
    ReportedModel,
    column_part,
    comparability,
)
from ovr_eval.report.model import Cell, Column, Row
from ovr_eval.run_config import RunConfig
from ovr_eval.runs import RunDir, SavedRun, load_run
from ovr_eval.types import UserError

# ---------------------------------------------------------------- reading run folders


def read_records(run: SavedRun, label: str, task: str, warnings: list[str]
                 ) -> list[Record] | None:
    """A task's sample records (first per id, as ``ovr eval`` counts them); None if unsaved."""
    run_dir = RunDir(run.path)
    path = run_dir.samples_path(task)
    if not path.is_file():
        warnings.append(f"{label}: no sample records for {task} ({path} not found)")
        return None
    try:
        records, bad = run_dir.read_records(task)
    except OSError as error:
        warnings.append(f"{label}: cannot read {path}: {error.strerror}")
        return None
    if bad:
        warnings.append(f"{label}: {bad} unreadable line(s) in {path} skipped")
    return records


def load_runs(paths: list[Path]) -> tuple[list[SavedRun], list[str]]:
    """The run folders (clear :class:`UserError` for unusable ones), each once."""
    if not paths:
        raise UserError("give at least one run folder written by `ovr eval`")
    runs, seen, warnings = [], set(), []
    for path in paths:
        key = Path(path).resolve()
        if key in seen:
            warnings.append(f"{path} was given twice; it is shown once")
            continue
        seen.add(key)
        runs.append(load_run(path))
    return runs, warnings


def _per_task(value: Any) -> str:
    """One value, or "task: value" pairs when the tasks differ (prompt, splits)."""
    if not isinstance(value, dict):
        return str(value)
    distinct = set(map(str, value.values()))
    if len(distinct) == 1:
        return distinct.pop()
    return ", ".join(f"{task}: {v}" for task, v in value.items())


def run_settings(config: RunConfig) -> list[tuple[str, str]]:
    """The settings of a run's config.json as readable (name, value) rows."""
    rows = [(name, value) for name, value in (("engine", config.engine),
                                              ("revision", config.revision)) if value]
    if config.prompt:
        rows.append(("prompt", _per_task(config.prompt)))
    names = {"n": "responses per prompt", "temperature": "temperature", "top_p": "top-p",
             "max_tokens": "max tokens", "seed": "seed"}
    rows += [(label, str(config.sampling[key])) for key, label in names.items()
             if key in config.sampling]
    if config.limit:
        rows.append(("limit", str(config.limit)))
    if (config.weights or {}).get("id"):
        rows.append(("weights", str((config.weights or {})["id"])[:19]))
    return rows


def run_labels(runs: list[SavedRun]) -> list[str]:
    """Folder names, or full paths where two folders share a name."""
    names = [r.path.resolve().name or str(r.path) for r in runs]
    return [str(r.path) if names.count(n) > 1 else n for r, n in zip(runs, names, strict=True)]


# ---------------------------------------------------------------- leaderboard


def build_columns(runs: list[SavedRun], reference: Reference) -> list[Column]:
    """Every paper column the runs' tasks fill, in reported.yaml's order (WeMath: strict and
    loose); tasks it lacks come last."""
    tasks = list(dict.fromkeys(t for run in runs for t in run.tasks))
    known = [b for b in reference.benchmarks.values() if b.task in tasks]
    covered = {b.task for b in known}
    return [Column(key=b.key, name=b.name, split=b.split, unit=b.unit, known=b.known,
                   task=b.task)
            for b in [*known, *(Benchmark.unknown(t) for t in tasks if t not in covered)]]


def run_cell(task: TaskResult | None, column: Column, bench: Benchmark) -> Cell:
    """A run's score for a column: the part of its results the column reports (a subset such as
    MathVerse's Vision Only, or WeMath's loose score), else its headline."""
    if task is None:
        return Cell(missing="not run")
    part, missing = column_part(task, bench)
    if part is None:  # marked ⚠ and listed below the leaderboard
        return Cell(missing=f"not comparable: {missing}", n=task.n,
                    warnings=[f"not comparable: {missing}"])
    warnings = comparability(task, bench) if column.known else [
        "the reported table has no such benchmark"]
    if part.get("score") is None:
        return Cell(missing="no score", n=part.get("n"), warnings=warnings)
    ci = part.get("ci95")
    return Cell(score=100.0 * part["score"], ci95=[100.0 * x for x in ci] if ci else None,
                n=part.get("n"), warnings=warnings)


def reported_cell(model: ReportedModel | None, column: Column) -> Cell:
    if not column.known:
        return Cell(missing="not in paper")
    cell = model.scores.get(column.key) if model is not None else None
    if cell is None:
        return Cell(missing="not reported")
    return Cell(score=cell.score, source=cell.source, note=cell.note)


def average_cell(cells: dict[str, Cell], columns: list[Column]) -> Cell:
    """Mean over the percent-unit columns, only when the row has every one of them."""
    keys = [c.key for c in columns if c.unit == "percent" and c.known]
    if not keys:
        return Cell(missing="no percent benchmark")
    scores = [s for s in (cells[k].score for k in keys) if s is not None]
    if len(scores) < len(keys):
        return Cell(missing=f"incomplete ({len(scores)}/{len(keys)})")
    return Cell(score=sum(scores) / len(scores), n=len(scores))


def reference_keys(reference: Reference, names: list[str] | None, tasks: list[str]
                   ) -> list[str]:
    """Models to list: the named ones ("none": no model), or all scoring a shown benchmark."""
    if names is None:
        return [k for k, m in reference.models.items() if set(m.scores) & set(tasks)]
    if [n.lower() for n in names] == ["none"]:
        return []
    return list(dict.fromkeys(reference.model(n).key for n in names))


def build_rows(runs: list[SavedRun], labels: list[str], columns: list[Column],
               reference: Reference, model_keys: list[str]) -> list[Row]:
    """One row per run, then per reported model; ordered by average, missing averages last."""
    rows = []
    for run, label in zip(runs, labels, strict=True):
        cells = {c.key: run_cell(run.tasks.get(c.task or c.key), c, reference.benchmark(c.key))
                 for c in columns}
        for c in columns:
            if cells[c.key].score is not None:
                cells[c.key].data = data_note(run.config, c.task or c.key)
        rows.append(Row(label=label, kind="run", detail=f"{run.model} ({run.path})",
                        cells=cells, average=average_cell(cells, columns)))
    for key in model_keys:
        model = reference.models[key]
        cells = {c.key: reported_cell(model, c) for c in columns}
        detail = " ".join((model.source_note or "reported in the OVR paper").split())
        rows.append(Row(label=key, kind="reported", detail=detail, cells=cells,
                        average=average_cell(cells, columns)))
    rows.sort(key=lambda r: (r.average.score is None, -(r.average.score or 0.0)))
    return rows


def check_sample_sets(records: list[dict[str, list[Record] | None]], labels: list[str],
                      rows: list[Row]) -> list[str]:
    """Warn (page and cells) where runs scored different samples of the same task."""
    warnings = []
    tasks = dict.fromkeys(t for by_task in records for t in by_task)
    for task in tasks:
        ids = {i: {r.id for r in found} for i, by_task in enumerate(records)
               if (found := by_task.get(task)) is not None}
        if len(ids) < 2 or len({frozenset(s) for s in ids.values()}) == 1:
            continue
        shared = set.intersection(*ids.values())
        counts = ", ".join(f"{labels[i]}: {len(s)}" for i, s in ids.items())
        warnings.append(f"{task}: the runs scored different samples ({counts}; {len(shared)} "
                        "shared), so their scores are not directly comparable")
        by_label = {r.label: r for r in rows if r.kind == "run"}
        for i in ids:
            cell = by_label[labels[i]].cells.get(task)
            if cell is not None:
                cell.warnings.append(f"sample set differs from the other runs' "
                                     f"({len(shared)} of {len(ids[i])} shared)")
    return warnings


JUDGED_SUFFIX = "·judged"


def add_judged_columns(columns: list[Column], rows: list[Row], runs: list[SavedRun],
                       labels: list[str], reference: Reference) -> list[Column]:
    """Leaderboard columns with a judged column after each column some run has judged; the
    rows get its cells (reported models show their one reported score in both). Averages are
    left as they are: over the rule columns."""
    by_label = dict(zip(labels, runs, strict=True))
    out = []
    for column in columns:
        out.append(column)
        task_name = column.task or column.key
        judged = {label: judged_task(run.tasks.get(task_name)) for label, run in by_label.items()}
        if not any(judged.values()):
            continue
        column.name = f"{column.name} · rules"
        extra = Column(key=column.key + JUDGED_SUFFIX,
                       name=column.name.replace(" · rules", " · judged (official protocol)"),
                       split=column.split, unit=column.unit, known=column.known,
                       task=task_name)
        out.append(extra)
        for row in rows:
            if row.kind == "run":
                task = judged.get(row.label)
                cell = run_cell(task, column, reference.benchmark(column.key))
                if task is None:
                    cell.missing = "not judged"
                else:
                    saved = by_label[row.label].tasks.get(task_name)
                    entry = saved.judge if saved is not None else None
                    cell.warnings = [*cell.warnings, *(entry.notes()[1:] if entry else [])]
            else:
                cell = reported_cell(reference.models.get(row.label), column)
            row.cells[extra.key] = copy.copy(cell)
    return out
