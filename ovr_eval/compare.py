"""Compare a run with the scores a paper reports, or two runs with each other.

Reported scores live in ``reports/reported.yaml`` (package ``ovr_reports``); a benchmark there
is a paper column, which a task fills with its headline or another part of its results
(WeMath's loose score). All scores in the rows built here are in percent points, like the
paper's tables. A run against the paper asks "same model, same problems?", so its interval is
the rerun noise (plus the reported number's, when the paper gives its samples per problem);
two runs are compared on the headline, paired over the units both scored.
"""

from __future__ import annotations

import difflib
import functools
import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml
from rich.table import Table

from ovr_eval.metrics import Z95, record_units, wilson_from_stderr
from ovr_eval.runs import RunDir
from ovr_eval.types import PathLike, UserError

REFERENCE_FILE = "reported.yaml"
NOT_REPORTED = "not reported"
TOO_FEW = "too few samples to tell"
WIDE_INTERVAL = 20.0  # points: an interval this wide separates none of the paper's models

Verdict = Literal["consistent", "above", "below", "too few samples to tell", "not reported",
                  "not comparable"]


@dataclass(frozen=True)
class Run:
    """A run folder as saved by ``ovr eval``: its config, per-task results and sample records."""

    path: Path
    model: str
    config: dict[str, Any]
    tasks: dict[str, dict[str, Any]]
    partial: list[str] = field(default_factory=list)  # why the run is unfinished; [] if done

    def units(self, task: str) -> dict[str, list[float]] | None:
        """The headline's units of a task (unit id -> slot values), by the task plugin's own
        rules (MathVerse: Vision Only items; WeMath: problems; DynaMath: seeds; ...), or one
        per record for a task no plugin here knows; None if the run saved no records."""
        run_dir = RunDir(self.path)
        if not run_dir.samples_path(task).is_file():
            return None
        records = run_dir.records(task)
        try:
            plugin = _plugins().get(task)
            return plugin.units(records) if plugin is not None else record_units(records)
        except (KeyError, TypeError, ValueError) as error:
            raise UserError(f"{run_dir.samples_path(task)} has a malformed record: {error}"
                            ) from None


@functools.cache
def _plugins() -> dict[str, Any]:
    """The task plugins this installation knows (built-in and entry points), by name."""
    from ovr_eval.tasks import discover

    return discover()


@dataclass
class ReferenceRow:
    """One paper column a run can fill, against the score reported for it (percent points).

    ``run_ci95`` is the interval for "the same problems, another run": the run's rerun noise
    (its between-problem error when it has one response per problem, an upper bound), plus the
    reported number's own noise when the reference states its samples per problem
    (``reported_k``). ``verdict``: "consistent" when it covers the reported score, "too few
    samples to tell" when it covers it but is wider than 20 points, "above" / "below" when it
    lies wholly above / below, "not comparable" for another split, version or unit, "not
    reported" when the reference has no score. ``run_ci95_problems`` is the interval for
    another sample of problems (between-problem error).
    """

    task: str
    column: str
    benchmark: str
    split: str | None
    reference_split: str | None
    n: int | None
    samples_per_item: int | None
    run_score: float | None
    run_ci95: list[float] | None
    run_ci95_problems: list[float] | None
    error: str | None
    reported: float | None
    reported_k: int | None
    difference: float | None
    verdict: Verdict
    source: str | None = None
    note: str | None = None
    warnings: list[str] = field(default_factory=list)


@dataclass
class RunDiffRow:
    """One task common to two runs: ``difference`` = run B minus run A, in percent points, on
    the headline (the paper's column: MathVerse Vision Only, WeMath strict, ...).

    ``method`` is "paired" (mean of per-unit differences over the units both runs share; a
    unit is a problem, a DynaMath seed, an MMMU-Pro question) or "unpaired" (difference of the
    two scores, errors added in quadrature). ``ci95``, on which the verdict rests, is for
    another sample of problems (paired between-problem error); ``ci95_rerun`` for the same
    problems rerun (both runs' rerun noise; None when a run has one response per problem).
    """

    task: str
    method: Literal["paired", "unpaired"]
    score_a: float | None
    score_b: float | None
    difference: float | None
    ci95: list[float] | None
    ci95_rerun: list[float] | None
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
        for owner in (model, *scores.values()):
            k = owner.get("samples_per_item") if isinstance(owner, dict) else None
            if k is not None and not (isinstance(k, int) and k > 0):
                raise UserError(f"{where}: model {name!r} has samples_per_item {k!r}; "
                                "expected a positive whole number")
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
    """Read a run folder's results.json and config.json; clear errors for anything unusable.

    An unfinished run (interrupted, still running, or never scored) is read too: each task
    whose records are newer than results.json is scored from its records, and ``partial``
    says what is missing."""
    path = Path(path)
    if not path.is_dir():
        raise UserError(f"run folder {path} does not exist")
    run_dir = RunDir(path)
    config: dict[str, Any] = {}
    config_path = run_dir.config_path
    if config_path.is_file():
        try:
            config = json.loads(config_path.read_text("utf-8"))
        except json.JSONDecodeError as error:
            raise UserError(f"{config_path} is not valid JSON ({error})") from None
    results_path = run_dir.results_path
    saved = sorted(p.stem for p in run_dir.samples_dir.glob("*.jsonl")
                   if p.stat().st_size > 0) if run_dir.samples_dir.is_dir() else []
    if not results_path.is_file() and not saved:
        raise UserError(f"{results_path} not found: is {path} a finished `ovr eval` run? "
                        "It holds no sample records either")
    results: dict[str, Any] = {"tasks": {}}
    if results_path.is_file():
        results = _read_results(results_path)
    tasks = dict(results["tasks"])
    partial = []
    written = results_path.stat().st_mtime_ns if results_path.is_file() else -1
    for name in saved:
        if name in tasks and run_dir.samples_path(name).stat().st_mtime_ns <= written:
            continue
        scored = _score_saved(run_dir, name, config)
        if scored is not None:
            tasks[name] = scored
            partial.append(f"{name}: {scored['n']} sample(s) saved, not yet in results.json")
    if not tasks:
        raise UserError(f"{path} holds no usable sample records yet")
    busy = run_dir.in_use()
    if busy:
        partial.append(f"still being written ({busy})")
    model = results.get("model") or config.get("model") or path.name
    return Run(path=path, model=str(model), config=config, tasks=tasks, partial=partial)


def _read_results(results_path: Path) -> dict[str, Any]:
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
    return results


def _score_saved(run_dir: RunDir, name: str, config: dict[str, Any]) -> dict[str, Any] | None:
    """A task's scores from its saved records (its plugin's metric when the task is known)."""
    from ovr_eval.tasks import score_records

    records = run_dir.records(name)
    if not records:
        return None
    try:
        scores = score_records(name, records)
    except (KeyError, TypeError, ValueError) as error:
        raise UserError(f"{run_dir.samples_path(name)} has a malformed record: {error}"
                        ) from None
    splits = config.get("splits")
    split = (splits.get(name) if isinstance(splits, dict) else None) or records[0].get("split")
    return {"split": split, **scores, "partial": True}


# ---------------------------------------------------------------- run vs paper


def _percent(value: float | None) -> float | None:
    return None if value is None else 100.0 * value


def _percents(values: list[float] | None) -> list[float] | None:
    return None if values is None else [100.0 * v for v in values]


def columns_of(reference: dict[str, Any], task: str) -> list[tuple[str, dict[str, Any]]]:
    """The reference's benchmark columns a task fills (``task:`` names it; by default the
    column's own key), in the reference's order: WeMath fills "wemath" and "wemath_loose"."""
    return [(key, bench) for key, bench in reference["benchmarks"].items()
            if bench.get("task", key) == task]


def column_part(task: dict[str, Any], bench: dict[str, Any]) -> tuple[dict[str, Any] | None,
                                                                        str | None]:
    """The part of a task's results that a column reports (``part:`` a key of the results,
    ``subset:`` a per-subset score; default the headline), or None and why it is missing."""
    if bench.get("part"):
        found = task.get(bench["part"])
        return (found, None) if isinstance(found, dict) else (
            None, f"the run has no {bench['part']!r} score")
    subset = bench.get("subset")
    if subset:
        found = task.get("subsets", {}).get(subset["key"], {}).get(subset["value"])
        return (found, None) if found is not None else (
            None, f"the run has no {subset['key']}={subset['value']!r} item")
    return task, None


def comparability(task: dict[str, Any], bench: dict[str, Any]) -> list[str]:
    """Why a run's result cannot be set against a column (another split or unit); [] if it can."""
    reasons = []
    split, ref_split = task.get("split"), bench.get("split")
    if split and ref_split and ref_split != "unknown" and split != ref_split:
        reasons.append(f"the run used split {split!r}; the reported score is on {ref_split!r}")
    if bench.get("unit", "percent") != "percent":
        reasons.append(f"reported scores are in {bench['unit']}; the run's are percentages")
    return reasons


def same_problems_interval(part: dict[str, Any], reported_k: int | None
                           ) -> tuple[list[float], str]:
    """The 95% interval (fractions) where a rerun on the same problems, and the reported number
    if it has ``reported_k`` samples per problem, should fall; and which error it rests on."""
    p, n = part["score"], max(int(part.get("n") or 1), 1)
    k = max(int(part.get("samples_per_item") or 1), 1)
    se_run, trials, error = part.get("stderr_rerun"), n * k, "rerun"
    if se_run is None:  # one response per problem: rerun noise unknown, bounded by this
        se_run, trials = part.get("stderr") or 0.0, n
        error = "between-problem (one response per problem: an upper bound on rerun noise)"
    se = se_run
    low, high = (1, math.inf) if error == "rerun" else (n, n)
    if reported_k:
        per_response = part.get("stderr_rerun_k1") or part.get("stderr") or 0.0
        se = math.hypot(se_run, per_response / math.sqrt(reported_k))
        trials = 1.0 / (1.0 / trials + 1.0 / (n * reported_k))
        low, high = min(low, trials), (math.inf if error == "rerun" else trials)
        error += f" + the reported number's (k={reported_k})"
    return wilson_from_stderr(p, se, low, high, at_bound=trials), error


def reference_verdict(interval: list[float], reported: float) -> Verdict:
    """Where the reported score (percent) lies against the interval (percent)."""
    low, high = interval
    if low <= reported <= high:
        return TOO_FEW if high - low > WIDE_INTERVAL else "consistent"
    return "above" if low > reported else "below"


def compare_to_reference(
    run: Run, reference_model: str, reference: dict[str, Any] | None = None
) -> list[ReferenceRow]:
    """One row per paper column each task of the run fills, against ``reference_model``."""
    reference = reference if reference is not None else load_reference()
    model_key = resolve_model(reference, reference_model)
    model = reference["models"][model_key]
    rows = []
    for task_name in sorted(run.tasks):
        task = run.tasks[task_name]
        columns = columns_of(reference, task_name) or [(task_name, {})]
        for column, bench in columns:
            rows.append(_reference_row(task_name, task, column, bench, model))
    return rows


def _reference_row(task_name: str, task: dict[str, Any], column: str, bench: dict[str, Any],
                   model: dict[str, Any]) -> ReferenceRow:
    part, missing = column_part(task, bench)
    shown = part or task
    row = ReferenceRow(
        task=task_name, column=column, benchmark=bench.get("name", column),
        split=task.get("split"), reference_split=bench.get("split"), n=shown.get("n"),
        samples_per_item=shown.get("samples_per_item"), run_score=_percent(shown.get("score")),
        run_ci95=None, run_ci95_problems=_percents(shown.get("ci95")), error=None,
        reported=None, reported_k=None, difference=None, verdict=NOT_REPORTED)
    cell = model["scores"].get(column)
    if cell is None:
        row.note = bench.get("note") if bench else "benchmark unknown to the reference"
        return row
    row.reported, row.source, row.note = cell["score"], cell.get("source"), cell.get("note")
    row.reported_k = cell.get("samples_per_item", model.get("samples_per_item"))
    reasons = comparability(task, bench) + ([missing] if missing else [])
    if part is None or part.get("score") is None:
        reasons.append(missing or "the run has no score")
    if reasons:
        row.verdict, row.warnings = "not comparable", list(dict.fromkeys(reasons))
        return row
    interval, row.error = same_problems_interval(part, row.reported_k)
    row.run_ci95 = _percents(interval)
    row.difference = row.run_score - row.reported
    row.verdict = reference_verdict(row.run_ci95, row.reported)
    return row


# ---------------------------------------------------------------- run vs run


def _variance(values: list[float]) -> float:
    if len(values) < 2:
        return 0.0
    mean = sum(values) / len(values)
    return sum((v - mean) ** 2 for v in values) / (len(values) - 1)


def difference_interval(d: float, se: float, n: int, trials: float) -> list[float]:
    """A 95% interval for a difference of two scores in [-1, 1]: Wilson on (d + 1) / 2, so it
    stays inside [-1, 1] and does not collapse when every paired difference is the same."""
    low, high = wilson_from_stderr((d + 1) / 2, se / 2, n, trials, at_bound=n)
    return [2 * low - 1, 2 * high - 1]


def paired_difference(units_a: dict[str, list[float]], units_b: dict[str, list[float]],
                      shared: list[str]) -> tuple[float, list[float], list[float] | None]:
    """B minus A over shared units: the mean, its interval for another sample of problems
    (paired), and for the same problems rerun (None when a unit has one response)."""
    n = len(shared)
    mean_a = {i: sum(units_a[i]) / len(units_a[i]) for i in shared}
    mean_b = {i: sum(units_b[i]) / len(units_b[i]) for i in shared}
    diffs = [mean_b[i] - mean_a[i] for i in shared]
    d = sum(diffs) / n
    k = min(min(len(units_a[i]), len(units_b[i])) for i in shared)
    trials = 2 * n * k  # each paired unit rests on k responses of A and k of B
    ci = difference_interval(d, math.sqrt(_variance(diffs) / n), n, trials)
    rerun = None
    if k >= 2:
        within = sum(_variance(units_a[i]) / len(units_a[i]) + _variance(units_b[i])
                     / len(units_b[i]) for i in shared)
        rerun = difference_interval(d, math.sqrt(within) / n, 1, trials)
    return d, ci, rerun


def _diff_verdict(ci: list[float] | None) -> str:
    if ci is None:
        return "not comparable"
    if ci[0] > 0:
        return "B higher"
    if ci[1] < 0:
        return "B lower"
    return "no clear difference"


def compare_runs(run_a: Run, run_b: Run) -> list[RunDiffRow]:
    """Per task in both runs: B minus A on the headline, with 95% intervals.

    Paired over the headline units both runs share when they share at least two (the usual
    case: same benchmark items); unpaired from results.json when they share none or a run has
    no sample records. Units only in one run are counted, and the row warns about them. Runs
    on different splits are "not comparable".
    """
    rows = []
    for name in sorted(set(run_a.tasks) & set(run_b.tasks)):
        ta, tb = run_a.tasks[name], run_b.tasks[name]
        units_a, units_b = run_a.units(name), run_b.units(name)
        warnings = []
        splits_differ = ta.get("split") != tb.get("split")
        if splits_differ:
            warnings.append(f"splits differ: {ta.get('split')!r} vs {tb.get('split')!r}")
        if ta.get("samples_per_item") != tb.get("samples_per_item"):
            warnings.append(f"responses per sample differ: {ta.get('samples_per_item')} vs "
                            f"{tb.get('samples_per_item')}")
        shared: list[str] = []
        only_a = only_b = 0
        if units_a is not None and units_b is not None:
            shared = sorted(set(units_a) & set(units_b))
            only_a, only_b = len(set(units_a) - set(units_b)), len(set(units_b) - set(units_a))
            if only_a or only_b:
                warnings.append(f"sample sets differ: {only_a} only in A, {only_b} only in B")
        else:
            warnings.append("sample records missing; compared results.json scores")
        if len(shared) >= 2:
            assert units_a is not None and units_b is not None
            diff, ci, rerun = paired_difference(units_a, units_b, shared)
            row = RunDiffRow(
                task=name, method="paired",
                score_a=100.0 * sum(sum(units_a[i]) / len(units_a[i]) for i in shared)
                / len(shared),
                score_b=100.0 * sum(sum(units_b[i]) / len(units_b[i]) for i in shared)
                / len(shared),
                difference=100.0 * diff, ci95=_percents(ci), ci95_rerun=_percents(rerun),
                n_a=len(units_a), n_b=len(units_b), n_shared=len(shared),
                only_in_a=only_a, only_in_b=only_b, same_samples=not (only_a or only_b),
                verdict="", warnings=warnings)
            if only_a or only_b:
                warnings.append(f"paired scores are over the {len(shared)} shared samples")
        else:
            difference = ci95 = None
            if ta.get("score") is not None and tb.get("score") is not None:
                difference = tb["score"] - ta["score"]
                half = Z95 * math.hypot(ta.get("stderr") or 0.0, tb.get("stderr") or 0.0)
                ci95 = [100.0 * max(-1.0, difference - half), 100.0 * min(1.0, difference + half)]
                difference *= 100.0
            row = RunDiffRow(
                task=name, method="unpaired", score_a=_percent(ta.get("score")),
                score_b=_percent(tb.get("score")), difference=difference, ci95=ci95,
                ci95_rerun=None, n_a=ta.get("n"), n_b=tb.get("n"), n_shared=len(shared),
                only_in_a=only_a, only_in_b=only_b,
                same_samples=None if units_a is None or units_b is None
                else not (only_a or only_b),
                verdict="", warnings=warnings)
        row.verdict = "not comparable" if splits_differ else _diff_verdict(row.ci95)
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


_VERDICT_STYLE = {"consistent": "green", "above": "yellow", "below": "red", TOO_FEW: "",
                  NOT_REPORTED: "dim", "not comparable": "dim",
                  "B higher": "green", "B lower": "red", "no clear difference": ""}


def _column_label(r: ReferenceRow) -> str:
    return r.task if r.column == r.task else f"{r.task} ({r.column})"


def reference_table(rows: list[ReferenceRow], title: str | None = None) -> Table:
    """A rich table of :func:`compare_to_reference` rows: one line per paper column a run
    fills; warnings and notes in the last column."""
    table = Table(title=title, caption="95% interval: the same problems rerun (`error` in "
                  "--json), plus the reported number's own noise where the reference gives its "
                  "samples per problem; wider than 20 points: too few samples to tell")
    for header in ("task (column)", "split", "n", "k", "run %", "95% interval", "reported %",
                   "diff", "verdict", "source", "notes"):
        numeric = header in ("n", "k", "run %", "reported %", "diff")
        table.add_column(header, justify="right" if numeric else "left", overflow="fold")
    for r in rows:
        verdict = r.verdict.upper() if r.verdict == NOT_REPORTED else r.verdict
        style = _VERDICT_STYLE.get(r.verdict, "")
        notes = "; ".join([*r.warnings, *([r.note] if r.note else [])])
        table.add_row(_column_label(r), r.split or "-", "-" if r.n is None else str(r.n),
                      "-" if r.samples_per_item is None else str(r.samples_per_item),
                      _fmt(r.run_score), _fmt_ci(r.run_ci95), _fmt(r.reported),
                      _fmt(r.difference, signed=True),
                      f"[{style}]{verdict}[/]" if style else verdict, r.source or "-",
                      f"[dim]{notes}[/]" if notes else "")
    return table


def runs_table(rows: list[RunDiffRow], title: str | None = None) -> Table:
    """A rich table of :func:`compare_runs` rows (difference = B minus A)."""
    table = Table(title=title, caption="95% interval: another sample of problems (paired); "
                  "rerun: the same problems rerun")
    for header in ("task", "method", "n shared", "A %", "B %", "B - A", "95% interval",
                   "rerun 95%", "verdict", "notes"):
        numeric = header in ("n shared", "A %", "B %", "B - A")
        table.add_column(header, justify="right" if numeric else "left", overflow="fold")
    for r in rows:
        style = _VERDICT_STYLE.get(r.verdict, "")
        notes = "; ".join(r.warnings)
        table.add_row(r.task, r.method, str(r.n_shared), _fmt(r.score_a), _fmt(r.score_b),
                      _fmt(r.difference, signed=True), _fmt_ci(r.ci95), _fmt_ci(r.ci95_rerun),
                      f"[{style}]{r.verdict}[/]" if style else r.verdict,
                      f"[dim]{notes}[/]" if notes else "")
    return table
