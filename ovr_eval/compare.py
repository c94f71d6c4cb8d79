"""Compare a run with the scores a paper reports, or two runs with each other: the statistics
and the tables of ``ovr compare``.

The reported scores and the paper columns a run fills are ``ovr_eval.reference``'s; run folders
are read by ``ovr_eval.runs``. All scores in the rows built here are in percent points, like
the paper's tables. A run against the paper asks "same model, same problems?", so its interval is
the rerun noise (plus the reported number's, when the paper gives its samples per problem);
two runs are compared on the headline, paired over the units both scored.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from typing import Any, Final, Literal, NamedTuple

from rich.table import Table

from ovr_eval.gap import JUDGE, MODEL, NO_ANSWER, TRUNCATION, Gap, GapTerm, View, run_gap
from ovr_eval.metrics import Z95, difference_interval, variance, wilson_from_stderr
from ovr_eval.records import TaskResult
from ovr_eval.reference import (
    Benchmark,
    Reference,
    ReportedModel,
    column_part,
    comparability,
    load_reference,
)
from ovr_eval.run_config import RunConfig
from ovr_eval.runs import SavedRun

NOT_REPORTED: Final = "not reported"
TOO_FEW: Final = "too few samples to tell"
WIDE_INTERVAL = 20.0  # points: an interval this wide separates none of the paper's models

# where a reported score lies against a run's interval (a grading verdict is types.Verdict)
Outcome = Literal["consistent", "above", "below", "too few samples to tell", "not reported",
                  "not comparable"]


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
    verdict: Outcome
    source: str | None = None
    note: str | None = None
    warnings: list[str] = field(default_factory=list)
    data: str | None = None  # "data: hub head abc1234 (unpinned)" (``data_note``)
    gap: Gap | None = None  # where ``difference`` comes from (``ovr_eval.gap``)


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
    data_a: str | None = None  # run A's data when read at the hub's head (``data_note``)
    data_b: str | None = None


# ---------------------------------------------------------------- run vs paper


def _percent(value: float | None) -> float | None:
    return None if value is None else 100.0 * value


def _percents(values: list[float] | None) -> list[float] | None:
    return None if values is None else [100.0 * v for v in values]


def same_problems_interval(part: dict[str, Any], reported_k: int | None
                           ) -> tuple[list[float], str]:
    """The 95% interval (fractions) where a rerun on the same problems, and the reported number
    if it has ``reported_k`` samples per problem, should fall; and which error it rests on."""
    p, n = part["score"], max(int(part.get("n") or 1), 1)
    k = max(int(part.get("samples_per_item") or 1), 1)
    trials: float
    se_run, trials, error = part.get("stderr_rerun"), n * k, "rerun"
    if se_run is None:  # one response per problem: rerun noise unknown, bounded by this
        se_run, trials = part.get("stderr") or 0.0, n
        error = "between-problem (one response per problem: an upper bound on rerun noise)"
    se = se_run
    low, high = (1.0, math.inf) if error == "rerun" else (n, n)
    if reported_k:
        per_response = part.get("stderr_rerun_k1") or part.get("stderr") or 0.0
        se = math.hypot(se_run, per_response / math.sqrt(reported_k))
        trials = 1.0 / (1.0 / trials + 1.0 / (n * reported_k))
        low, high = min(low, trials), (math.inf if error == "rerun" else trials)
        error += f" + the reported number's (k={reported_k})"
    return wilson_from_stderr(p, se, low, high, at_bound=trials), error


def reference_verdict(interval: list[float], reported: float) -> Outcome:
    """Where the reported score (percent) lies against the interval (percent)."""
    low, high = interval
    if low <= reported <= high:
        return TOO_FEW if high - low > WIDE_INTERVAL else "consistent"
    return "above" if low > reported else "below"


def compare_to_reference(
    run: SavedRun, reference_model: str, reference: Reference | None = None,
    view: View = "rules",
) -> list[ReferenceRow]:
    """One row per paper column each task of the run fills, against ``reference_model``, each
    with its gap explained (``ovr_eval.gap``); ``view``: whether the run's scores are its rule
    scores or its judged ones (``judge_views.with_judged_rows``)."""
    reference = reference if reference is not None else load_reference()
    model = reference.model(reference_model)
    rows = []
    for task_name in sorted(run.tasks):
        task = run.tasks[task_name]
        for bench in reference.columns_of(task_name) or [Benchmark.unknown(task_name)]:
            row = _reference_row(task_name, task, bench, model)
            if row.reported is not None and row.run_score is not None:
                part, missing = column_part(task, bench)
                reasons = [*comparability(task, bench), *([missing] if missing else [])]
                row.gap = run_gap(run, task_name, bench, row.run_score / 100.0,
                                  row.reported, part is not None, reasons, view)
            row.data = data_note(run.config, task_name)
            rows.append(row)
    return rows


def _reference_row(task_name: str, task: TaskResult, bench: Benchmark, model: ReportedModel
                   ) -> ReferenceRow:
    part, missing = column_part(task, bench)
    shown = part or task.headline()
    row = ReferenceRow(
        task=task_name, column=bench.key, benchmark=bench.name,
        split=task.split, reference_split=bench.split, n=shown.get("n"),
        samples_per_item=shown.get("samples_per_item"), run_score=_percent(shown.get("score")),
        run_ci95=None, run_ci95_problems=_percents(shown.get("ci95")), error=None,
        reported=None, reported_k=None, difference=None, verdict=NOT_REPORTED)
    cell = model.scores.get(bench.key)
    if cell is None:
        row.note = bench.note if bench.known else "benchmark unknown to the reference"
        return row
    row.reported, row.source, row.note = cell.score, cell.source, cell.note
    row.reported_k = model.samples_per_item_of(bench.key)
    reasons = comparability(task, bench) + ([missing] if missing else [])
    if part is None or part.get("score") is None:
        reasons.append(missing or "the run has no score")
    if reasons:
        row.verdict, row.warnings = "not comparable", list(dict.fromkeys(reasons))
        return row
    assert part is not None and row.run_score is not None  # else not comparable, above
    interval, row.error = same_problems_interval(part, row.reported_k)
    row.run_ci95 = [100.0 * v for v in interval]
    row.difference = row.run_score - cell.score
    row.verdict = reference_verdict(row.run_ci95, cell.score)
    return row


# ---------------------------------------------------------------- run vs run


class PairedDifference(NamedTuple):
    """B minus A over the shared units (fractions): each run's score over them, the mean
    difference, its interval for another sample of problems (paired), and for the same
    problems rerun (None when a unit has one response)."""

    score_a: float
    score_b: float
    difference: float
    ci95: list[float]
    ci95_rerun: list[float] | None


def paired_difference(units_a: dict[str, list[float]], units_b: dict[str, list[float]],
                      shared: list[str]) -> PairedDifference:
    """B minus A over the ``shared`` units, with both intervals (see PairedDifference)."""
    n = len(shared)
    mean_a = {i: sum(units_a[i]) / len(units_a[i]) for i in shared}
    mean_b = {i: sum(units_b[i]) / len(units_b[i]) for i in shared}
    diffs = [mean_b[i] - mean_a[i] for i in shared]
    d = sum(diffs) / n
    k = min(min(len(units_a[i]), len(units_b[i])) for i in shared)
    trials = 2 * n * k  # each paired unit rests on k responses of A and k of B
    ci = difference_interval(d, math.sqrt(variance(diffs) / n), n, trials)
    rerun = None
    if k >= 2:
        within = sum(variance(units_a[i]) / len(units_a[i]) + variance(units_b[i])
                     / len(units_b[i]) for i in shared)
        rerun = difference_interval(d, math.sqrt(within) / n, 1, trials)
    return PairedDifference(score_a=sum(mean_a.values()) / n, score_b=sum(mean_b.values()) / n,
                            difference=d, ci95=ci, ci95_rerun=rerun)


def _diff_verdict(ci: list[float] | None) -> str:
    if ci is None:
        return "not comparable"
    if ci[0] > 0:
        return "B higher"
    if ci[1] < 0:
        return "B lower"
    return "no clear difference"


def data_note(config: RunConfig, task: str) -> str | None:
    """"data: hub head abc1234 (unpinned)" for a task read from the hub at a revision that is
    not a commit (the head; its commit as config.json resolved it, or "commit unknown"); None
    for local files, a pinned commit, or a run that recorded no data."""
    from ovr_eval.fingerprint import COMMIT

    data = config.data.get(task)
    if not isinstance(data, dict) or data.get("kind") != "hub":
        return None
    revision = str(data.get("revision") or "main")
    if COMMIT.fullmatch(revision):
        return None
    where = "hub head" if revision == "main" else f"hub {revision}"
    commit = data.get("commit")
    resolved = f" {str(commit)[:7]}" if commit else ", commit unknown"
    return f"data: {where}{resolved} (unpinned)"


def provenance_warnings(config_a: RunConfig, config_b: RunConfig, task: str) -> list[str]:
    """What differs between two runs' records of a task besides the model: the task's version
    (its prompt, parsing or metric changed) and the data read (local files' content, or the hub
    commit). Runs that do not record them (older ones) warn of nothing."""
    versions = [c.task_versions.get(task) for c in (config_a, config_b)]
    warnings = []
    if None not in versions and versions[0] != versions[1]:
        warnings.append(f"task versions differ: {versions[0]} vs {versions[1]} (its prompt, "
                        "parsing or metric changed in between)")
    warnings += [f"data differ: {was} vs {now}"
                 for name, was, now in config_a.data_differences(config_b) if name == task]
    return warnings


def compare_runs(run_a: SavedRun, run_b: SavedRun) -> list[RunDiffRow]:
    """Per task in both runs: B minus A on the headline, with 95% intervals.

    Paired over the headline units both runs share when they share at least two (the usual
    case: same benchmark items); unpaired from results.json when they share none or a run has
    no sample records. Units only in one run are counted, and the row warns about them, as it
    does when the runs scored the task at different versions or on different data. Runs on
    different splits are "not comparable".
    """
    rows = []
    for name in sorted(set(run_a.tasks) & set(run_b.tasks)):
        ta, tb = run_a.tasks[name], run_b.tasks[name]
        units_a, units_b = run_a.units(name), run_b.units(name)
        warnings = provenance_warnings(run_a.config, run_b.config, name)
        splits_differ = ta.split != tb.split
        if splits_differ:
            warnings.append(f"splits differ: {ta.split!r} vs {tb.split!r}")
        if ta.samples_per_item != tb.samples_per_item:
            warnings.append(f"responses per sample differ: {ta.samples_per_item} vs "
                            f"{tb.samples_per_item}")
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
            paired = paired_difference(units_a, units_b, shared)
            row = RunDiffRow(
                task=name, method="paired", score_a=100.0 * paired.score_a,
                score_b=100.0 * paired.score_b, difference=100.0 * paired.difference,
                ci95=_percents(paired.ci95), ci95_rerun=_percents(paired.ci95_rerun),
                n_a=len(units_a), n_b=len(units_b), n_shared=len(shared),
                only_in_a=only_a, only_in_b=only_b, same_samples=not (only_a or only_b),
                verdict="", warnings=warnings)
            if only_a or only_b:
                warnings.append(f"paired scores are over the {len(shared)} shared samples")
        else:
            difference = ci95 = None
            if ta.score is not None and tb.score is not None:
                difference = tb.score - ta.score
                half = Z95 * math.hypot(ta.stderr or 0.0, tb.stderr or 0.0)
                ci95 = [100.0 * max(-1.0, difference - half), 100.0 * min(1.0, difference + half)]
                difference *= 100.0
            row = RunDiffRow(
                task=name, method="unpaired", score_a=_percent(ta.score),
                score_b=_percent(tb.score), difference=difference, ci95=ci95,
                ci95_rerun=None, n_a=ta.n, n_b=tb.n, n_shared=len(shared),
                only_in_a=only_a, only_in_b=only_b,
                same_samples=None if units_a is None or units_b is None
                else not (only_a or only_b),
                verdict="", warnings=warnings)
        row.verdict = "not comparable" if splits_differ else _diff_verdict(row.ci95)
        row.data_a, row.data_b = data_note(run_a.config, name), data_note(run_b.config, name)
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
    task = r.task.split(" (")[0]  # "mathvista (judged, official)": task mathvista
    return r.task if r.column == task else f"{r.task} ({r.column})"


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
        notes = "; ".join([*([r.data] if r.data else []), *r.warnings,
                           *([r.note] if r.note else [])])
        table.add_row(_column_label(r), r.split or "-", "-" if r.n is None else str(r.n),
                      "-" if r.samples_per_item is None else str(r.samples_per_item),
                      _fmt(r.run_score), _fmt_ci(r.run_ci95), _fmt(r.reported),
                      _fmt(r.difference, signed=True),
                      f"[{style}]{verdict}[/]" if style else verdict, r.source or "-",
                      f"[dim]{notes}[/]" if notes else "")
    return table


def _fmt_term(term: GapTerm | None) -> str:
    if term is None:
        return "-"
    if term.points is None:
        return "not measured"
    return f"{term.points:+.1f} {_fmt_ci(term.ci95)}" if term.ci95 else f"{term.points:+.1f}"


def gap_table(rows: list[ReferenceRow], title: str | None = None) -> Table:
    """Where each row's gap to the paper comes from (``ovr_eval.gap``): the measured terms
    with their 95% intervals, summing to the gap, and the differences the run cannot measure."""
    table = Table(title=title, caption="points of score, 95% interval for another sample of "
                  "problems; the terms sum to the gap; truncated / unanswered responses are set "
                  "against the answered ones' accuracy (an upper bound on what they cost)")
    names = (JUDGE, TRUNCATION, NO_ANSWER, MODEL)
    for header in ("task (column)", "gap", *names, "not measured"):
        table.add_column(header, justify="left" if header in ("task (column)", "not measured")
                         else "right", overflow="fold")
    for r in rows:
        if r.gap is None:
            continue
        first = {name: next((t for t in r.gap.terms if t.name == name), None) for name in names}
        unmeasured = "; ".join(f"{t.name}: {t.detail}" for t in r.gap.unmeasured)
        table.add_row(_column_label(r), _fmt(r.gap.gap, signed=True),
                      *(_fmt_term(first[name]) for name in names),
                      f"[dim]{unmeasured}[/]" if unmeasured else "")
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
        data = [f"{run} {note}" for run, note in (("A", r.data_a), ("B", r.data_b)) if note]
        notes = "; ".join([*data, *r.warnings])
        table.add_row(r.task, r.method, str(r.n_shared), _fmt(r.score_a), _fmt(r.score_b),
                      _fmt(r.difference, signed=True), _fmt_ci(r.ci95), _fmt_ci(r.ci95_rerun),
                      f"[{style}]{r.verdict}[/]" if style else r.verdict,
                      f"[dim]{notes}[/]" if notes else "")
    return table
