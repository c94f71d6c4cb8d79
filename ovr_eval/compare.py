"""Compare a run with the scores a paper reports, or two runs with each other.

Reported scores live in ``reports/reported.yaml`` (package ``ovr_reports``). All scores in the
rows built here are in percent points, like the paper's tables.
"""

from __future__ import annotations

import difflib
import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml
from rich.table import Table

from ovr_eval.metrics import Z95, item_score
from ovr_eval.runs import RunDir
from ovr_eval.types import PathLike, UserError

REFERENCE_FILE = "reported.yaml"
NOT_REPORTED = "not reported"

Verdict = Literal["consistent", "above", "below", "not reported", "not comparable"]


@dataclass(frozen=True)
class Run:
    """A run folder as saved by ``ovr eval``: its config, per-task results and sample records."""

    path: Path
    model: str
    config: dict[str, Any]
    tasks: dict[str, dict[str, Any]]

    def item_scores(self, task: str) -> dict[str, float] | None:
        """Per-sample score (mean correctness over its responses) by sample id; None if unsaved."""
        run_dir = RunDir(self.path)
        if not run_dir.samples_path(task).is_file():
            return None
        try:
            return {str(r["id"]): item_score(r) for r in run_dir.records(task)}
        except (KeyError, TypeError) as error:
            raise UserError(f"{run_dir.samples_path(task)} has a malformed record: {error}"
                            ) from None


@dataclass
class ReferenceRow:
    """One task of a run against one reported score (percent points).

    ``verdict`` is "consistent" when the reported score lies inside the run's 95% interval,
    "above" / "below" when the whole interval lies above / below it (the run scores higher /
    lower than reported), and "not reported" when the reference has no score for the task.
    The interval covers only the run's own sampling noise, not the paper's.
    """

    task: str
    benchmark: str
    split: str | None
    reference_split: str | None
    n: int | None
    run_score: float | None
    run_ci95: list[float] | None
    reported: float | None
    difference: float | None
    verdict: Verdict
    source: str | None = None
    note: str | None = None
    warnings: list[str] = field(default_factory=list)


@dataclass
class RunDiffRow:
    """One task common to two runs: ``difference`` = run B minus run A, in percent points.

    ``method`` is "paired" (mean of per-sample differences over the shared sample ids) or
    "unpaired" (difference of the two overall scores, standard errors added in quadrature).
    """

    task: str
    method: Literal["paired", "unpaired"]
    score_a: float | None
    score_b: float | None
    difference: float | None
    ci95: list[float] | None
    n_a: int | None
    n_b: int | None
    n_shared: int
    only_in_a: int
    only_in_b: int
    same_samples: bool | None  # None: a run has no sample records to tell
    verdict: str
    warnings: list[str] = field(default_factory=list)


# ---------------------------------------------------------------- loading


def reference_path() -> Path:
    """Where ``reported.yaml`` is installed (the ``ovr_reports`` package folder)."""
    from ovr_reports import REPORTS_DIR

    return REPORTS_DIR / REFERENCE_FILE


def load_reference(path: PathLike | None = None) -> dict[str, Any]:
    """The reported scores: ``reported.yaml`` from the ``ovr_reports`` package, or ``path``."""
    where = Path(path) if path is not None else reference_path()
    try:
        text = where.read_text("utf-8")
    except OSError as error:
        raise UserError(f"cannot read reported scores {where}: {error.strerror}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise UserError(f"{where} is not valid YAML: {error}") from None
    if not (isinstance(data, dict) and isinstance(data.get("benchmarks"), dict)
            and isinstance(data.get("models"), dict)):
        raise UserError(f"{where} must map 'benchmarks' and 'models'")
    for name, model in data["models"].items():
        scores = model.get("scores") if isinstance(model, dict) else None
        if not isinstance(scores, dict):
            raise UserError(f"{where}: model {name!r} has no 'scores' mapping")
        unknown = sorted(set(scores) - set(data["benchmarks"]))
        if unknown:
            raise UserError(f"{where}: model {name!r} scores unknown benchmarks {unknown}")
    return data


def resolve_model(reference: dict[str, Any], name: str) -> str:
    """The reference's model key for a name, alias or hub id (case-insensitive)."""
    models = reference["models"]
    wanted = {name.lower(), name.rsplit("/", 1)[-1].lower()}
    for key, model in models.items():
        names = {key, *model.get("aliases", [])}
        if wanted & {n.lower() for n in names}:
            return key
    close = difflib.get_close_matches(name, list(models), n=3)
    hint = f"; did you mean {', '.join(close)}?" if close else ""
    raise UserError(f"no reported scores for model {name!r}{hint} "
                    f"(known: {', '.join(sorted(models))})")


def load_run(path: PathLike) -> Run:
    """Read a run folder's results.json and config.json; clear errors for anything unusable."""
    path = Path(path)
    if not path.is_dir():
        raise UserError(f"run folder {path} does not exist")
    results_path = RunDir(path).results_path
    if not results_path.is_file():
        raise UserError(f"{results_path} not found: is {path} a finished `ovr eval` run? "
                        "Run the same `ovr eval` command again to write it")
    try:
        results = json.loads(results_path.read_text("utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise UserError(f"{results_path} is not valid JSON ({error})") from None
    if not isinstance(results, dict):
        raise UserError(f"{results_path} is malformed: expected a JSON object")
    tasks = results.get("tasks")
    if not isinstance(tasks, dict):
        raise UserError(f"{results_path} is in an older format (no 'tasks' mapping); "
                        "run the same `ovr eval` command again to rewrite it")
    for name, task in tasks.items():
        missing = [k for k in ("score", "stderr", "ci95", "n")
                   if not isinstance(task, dict) or k not in task]
        if missing:
            raise UserError(f"{results_path}: task {name!r} lacks {', '.join(missing)} "
                            "(older format); run the same `ovr eval` command again to rewrite it")
    config: dict[str, Any] = {}
    config_path = RunDir(path).config_path
    if config_path.is_file():
        try:
            config = json.loads(config_path.read_text("utf-8"))
        except json.JSONDecodeError as error:
            raise UserError(f"{config_path} is not valid JSON ({error})") from None
    model = results.get("model") or config.get("model") or path.name
    return Run(path=path, model=str(model), config=config, tasks=tasks)


# ---------------------------------------------------------------- run vs paper


def _percent(value: float | None) -> float | None:
    return None if value is None else 100.0 * value


def _run_score(task: dict[str, Any], subset: dict[str, str] | None
               ) -> tuple[dict[str, Any], str | None]:
    """The task's overall score, or the subset the reference names (warning when absent)."""
    if not subset:
        return task, None
    found = task.get("subsets", {}).get(subset["key"], {}).get(subset["value"])
    if found is not None:
        return found, None
    return task, (f"the run has no {subset['key']}={subset['value']!r} score; "
                  "its overall score is compared instead")


def compare_to_reference(
    run: Run, reference_model: str, reference: dict[str, Any] | None = None
) -> list[ReferenceRow]:
    """One row per task of the run against the scores reported for ``reference_model``."""
    reference = reference if reference is not None else load_reference()
    model_key = resolve_model(reference, reference_model)
    scores = reference["models"][model_key]["scores"]
    rows = []
    for task_name in sorted(run.tasks):
        task = run.tasks[task_name]
        bench = reference["benchmarks"].get(task_name, {})
        part, warning = _run_score(task, bench.get("subset"))
        warnings = [warning] if warning else []
        run_score = _percent(part.get("score"))
        ci = [100.0 * x for x in part["ci95"]] if part.get("ci95") else None
        split, ref_split = task.get("split"), bench.get("split")
        if split and ref_split and split != ref_split:
            warnings.append(f"the run used split {split!r}; the reported score is on {ref_split!r}")
        row = ReferenceRow(task=task_name, benchmark=bench.get("name", task_name), split=split,
                           reference_split=ref_split, n=part.get("n"), run_score=run_score,
                           run_ci95=ci, reported=None, difference=None, verdict=NOT_REPORTED,
                           warnings=warnings)
        cell = scores.get(task_name)
        if cell is None:
            row.note = bench.get("note") if bench else "benchmark unknown to the reference"
            rows.append(row)
            continue
        row.reported, row.source, row.note = cell["score"], cell.get("source"), cell.get("note")
        if bench.get("unit", "percent") != "percent" or run_score is None or ci is None:
            row.verdict = "not comparable"
        else:
            row.difference = run_score - row.reported
            row.verdict = ("consistent" if ci[0] <= row.reported <= ci[1]
                           else "above" if ci[0] > row.reported else "below")
        rows.append(row)
    return rows


# ---------------------------------------------------------------- run vs run


def _mean_and_interval(values: list[float]) -> tuple[float, list[float]]:
    """Mean and unclipped normal 95% interval (differences may be negative)."""
    n = len(values)
    mean = sum(values) / n
    var = sum((v - mean) ** 2 for v in values) / (n - 1) if n > 1 else 0.0
    half = Z95 * math.sqrt(var / n)
    return mean, [mean - half, mean + half]


def _diff_verdict(ci: list[float] | None) -> str:
    if ci is None:
        return "not comparable"
    if ci[0] > 0:
        return "B higher"
    if ci[1] < 0:
        return "B lower"
    return "no clear difference"


def compare_runs(run_a: Run, run_b: Run) -> list[RunDiffRow]:
    """Per task in both runs: B minus A with a 95% interval.

    Paired over the sample ids both runs share when they share at least two (the usual case:
    same benchmark items); unpaired from results.json when they share none or a run has no
    sample records. Samples only in one run are counted, and the row warns about them.
    """
    rows = []
    for name in sorted(set(run_a.tasks) & set(run_b.tasks)):
        ta, tb = run_a.tasks[name], run_b.tasks[name]
        items_a, items_b = run_a.item_scores(name), run_b.item_scores(name)
        warnings = []
        if ta.get("split") != tb.get("split"):
            warnings.append(f"splits differ: {ta.get('split')!r} vs {tb.get('split')!r}")
        if ta.get("samples_per_item") != tb.get("samples_per_item"):
            warnings.append(f"responses per sample differ: {ta.get('samples_per_item')} vs "
                            f"{tb.get('samples_per_item')}")
        shared: list[str] = []
        only_a = only_b = 0
        if items_a is not None and items_b is not None:
            shared = sorted(set(items_a) & set(items_b))
            only_a, only_b = len(set(items_a) - set(items_b)), len(set(items_b) - set(items_a))
            if only_a or only_b:
                warnings.append(f"sample sets differ: {only_a} only in A, {only_b} only in B")
        else:
            warnings.append("sample records missing; compared results.json scores")
        if len(shared) >= 2:
            assert items_a is not None and items_b is not None
            diff, ci = _mean_and_interval([items_b[i] - items_a[i] for i in shared])
            row = RunDiffRow(
                task=name, method="paired",
                score_a=100.0 * sum(items_a[i] for i in shared) / len(shared),
                score_b=100.0 * sum(items_b[i] for i in shared) / len(shared),
                difference=100.0 * diff, ci95=[100.0 * x for x in ci],
                n_a=len(items_a), n_b=len(items_b), n_shared=len(shared),
                only_in_a=only_a, only_in_b=only_b, same_samples=not (only_a or only_b),
                verdict="", warnings=warnings)
            if only_a or only_b:
                warnings.append(f"paired scores are over the {len(shared)} shared samples")
        else:
            difference = ci95 = None
            if ta.get("score") is not None and tb.get("score") is not None:
                difference = tb["score"] - ta["score"]
                half = Z95 * math.hypot(ta.get("stderr") or 0.0, tb.get("stderr") or 0.0)
                ci95 = [100.0 * (difference - half), 100.0 * (difference + half)]
                difference *= 100.0
            row = RunDiffRow(
                task=name, method="unpaired", score_a=_percent(ta.get("score")),
                score_b=_percent(tb.get("score")), difference=difference, ci95=ci95,
                n_a=ta.get("n"), n_b=tb.get("n"), n_shared=len(shared), only_in_a=only_a,
                only_in_b=only_b,
                same_samples=None if items_a is None or items_b is None else not (only_a or only_b),
                verdict="", warnings=warnings)
        row.verdict = _diff_verdict(row.ci95)
        rows.append(row)
    return rows


# ---------------------------------------------------------------- display


def rows_to_json(rows: list[ReferenceRow] | list[RunDiffRow]) -> str:
    """The rows as a JSON array (scores in percent points)."""
    return json.dumps([asdict(r) for r in rows], indent=2, ensure_ascii=False)


def _fmt(value: float | None, signed: bool = False) -> str:
    if value is None:
        return "-"
    return f"{value:+.1f}" if signed else f"{value:.1f}"


def _fmt_ci(ci: list[float] | None) -> str:
    return "-" if ci is None else f"[{ci[0]:.1f}, {ci[1]:.1f}]"


_VERDICT_STYLE = {"consistent": "green", "above": "yellow", "below": "red",
                  NOT_REPORTED: "dim", "not comparable": "dim",
                  "B higher": "green", "B lower": "red", "no clear difference": ""}


def reference_table(rows: list[ReferenceRow], title: str | None = None) -> Table:
    """A rich table of :func:`compare_to_reference` rows; warnings and notes in the last column."""
    table = Table(title=title)
    for header in ("task", "split", "n", "run %", "95% interval", "reported %", "diff",
                   "verdict", "source", "notes"):
        numeric = header in ("n", "run %", "reported %", "diff")
        table.add_column(header, justify="right" if numeric else "left", overflow="fold")
    for r in rows:
        verdict = r.verdict.upper() if r.verdict == NOT_REPORTED else r.verdict
        style = _VERDICT_STYLE.get(r.verdict, "")
        notes = "; ".join([*r.warnings, *([r.note] if r.note else [])])
        table.add_row(r.task, r.split or "-", "-" if r.n is None else str(r.n),
                      _fmt(r.run_score), _fmt_ci(r.run_ci95), _fmt(r.reported),
                      _fmt(r.difference, signed=True),
                      f"[{style}]{verdict}[/]" if style else verdict, r.source or "-",
                      f"[dim]{notes}[/]" if notes else "")
    return table


def runs_table(rows: list[RunDiffRow], title: str | None = None) -> Table:
    """A rich table of :func:`compare_runs` rows (difference = B minus A)."""
    table = Table(title=title)
    for header in ("task", "method", "n shared", "A %", "B %", "B - A", "95% interval",
                   "verdict", "notes"):
        numeric = header in ("n shared", "A %", "B %", "B - A")
        table.add_column(header, justify="right" if numeric else "left", overflow="fold")
    for r in rows:
        style = _VERDICT_STYLE.get(r.verdict, "")
        notes = "; ".join(r.warnings)
        table.add_row(r.task, r.method, str(r.n_shared), _fmt(r.score_a), _fmt(r.score_b),
                      _fmt(r.difference, signed=True), _fmt_ci(r.ci95),
                      f"[{style}]{r.verdict}[/]" if style else r.verdict,
                      f"[dim]{notes}[/]" if notes else "")
    return table
