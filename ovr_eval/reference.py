"""The OVR paper's reported scores (``reports/reported.yaml``, package ``ovr_reports``) as a typed
document (:class:`Reference`), and the paper columns a run's results fill.

A benchmark there is a paper column (:class:`Benchmark`), which a task fills with its headline
or another part of its results (``part:``, e.g. WeMath's loose score) or one subset
(``subset:``, e.g. MathVerse's Vision Only). Reported scores are in percent points, like the
paper's tables.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ovr_eval.records import TaskResult
from ovr_eval.types import PathLike, UserError

REFERENCE_FILE = "reported.yaml"


@dataclass(frozen=True)
class Subset:
    """A column that reports one subset of a task: items whose metadata ``key`` is ``value``."""

    key: str
    value: str


@dataclass(frozen=True)
class Benchmark:
    """One paper column. ``known`` is False for a column the reference lacks (a task of the
    run no paper reports): its name is the task's, everything else unset."""

    key: str
    name: str
    task: str  # the task whose run fills it (default: the column's own key)
    split: str | None = None  # the split it most likely refers to ("unknown": not stated)
    part: str | None = None  # the key of the task's results that holds its score
    subset: Subset | None = None
    unit: str = "percent"
    metric: str | None = None
    description: str | None = None
    note: str | None = None
    known: bool = True

    @classmethod
    def unknown(cls, task: str) -> Benchmark:
        return cls(key=task, name=task, task=task, known=False)

    @classmethod
    def from_yaml(cls, key: str, data: dict[str, Any]) -> Benchmark:
        subset = data.get("subset")

        def text(name: str) -> str | None:
            value = data.get(name)
            return None if value is None else str(value)

        return cls(key=key, name=str(data.get("name", key)), task=str(data.get("task", key)),
                   split=text("split"), part=text("part"),
                   subset=Subset(str(subset["key"]), str(subset["value"]))
                   if isinstance(subset, dict) else None,
                   unit=str(data.get("unit", "percent")), metric=text("metric"),
                   description=text("description"), note=text("note"))


@dataclass(frozen=True)
class ReportedScore:
    """One reported cell: the score (percent points, or the column's unit), where it was read
    and, where its source states it, how many responses per problem it averages."""

    score: float
    source: str | None = None
    note: str | None = None
    samples_per_item: int | None = None


@dataclass(frozen=True)
class ReportedModel:
    key: str
    scores: dict[str, ReportedScore]
    aliases: tuple[str, ...] = ()
    samples_per_item: int | None = None  # for every cell that does not state its own
    source_note: str | None = None

    def samples_per_item_of(self, column: str) -> int | None:
        """How many responses per problem the model's score in ``column`` averages."""
        cell = self.scores.get(column)
        own = cell.samples_per_item if cell is not None else None
        return own if own is not None else self.samples_per_item


@dataclass(frozen=True)
class Reference:
    """reported.yaml: the paper columns, in the paper's order, and each model's cells."""

    benchmarks: dict[str, Benchmark]
    models: dict[str, ReportedModel] = field(default_factory=dict)

    def model(self, name: str) -> ReportedModel:
        """The model for a name, alias or hub id (case-insensitive); one clear error naming
        the close matches otherwise."""
        wanted = {name.lower(), name.rsplit("/", 1)[-1].lower()}
        for key, model in self.models.items():
            if wanted & {n.lower() for n in (key, *model.aliases)}:
                return model
        close = difflib.get_close_matches(name, list(self.models), n=3)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise UserError(f"no reported scores for model {name!r}{hint} "
                        f"(known: {', '.join(sorted(self.models))})")

    def columns_of(self, task: str) -> list[Benchmark]:
        """The columns a task fills, in the reference's order: WeMath fills "wemath" and
        "wemath_loose"."""
        return [bench for bench in self.benchmarks.values() if bench.task == task]

    def benchmark(self, key: str) -> Benchmark:
        """A column by key (an unknown one when the reference lacks it)."""
        return self.benchmarks.get(key) or Benchmark.unknown(key)


def reference_path() -> Path:
    """Where ``reported.yaml`` is installed (the ``ovr_reports`` package folder)."""
    from ovr_reports import REPORTS_DIR

    return REPORTS_DIR / REFERENCE_FILE


def load_reference(path: PathLike | None = None) -> Reference:
    """The reported scores: ``reported.yaml`` from the ``ovr_reports`` package, or ``path``;
    one clear error naming the file and the entry for anything malformed."""
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
    benchmarks = {str(k): Benchmark.from_yaml(str(k), b if isinstance(b, dict) else {})
                  for k, b in data["benchmarks"].items()}
    return Reference(benchmarks, {str(name): _model(where, str(name), model, benchmarks)
                                  for name, model in data["models"].items()})


def _model(where: Path, name: str, model: Any, benchmarks: dict[str, Benchmark]
           ) -> ReportedModel:
    scores = model.get("scores") if isinstance(model, dict) else None
    if not isinstance(scores, dict):
        raise UserError(f"{where}: model {name!r} has no 'scores' mapping")
    unknown = sorted(set(scores) - set(benchmarks))
    if unknown:
        raise UserError(f"{where}: model {name!r} scores unknown benchmarks {unknown}")
    for owner in (model, *scores.values()):
        k = owner.get("samples_per_item") if isinstance(owner, dict) else None
        if k is not None and not (isinstance(k, int) and k > 0):
            raise UserError(f"{where}: model {name!r} has samples_per_item {k!r}; "
                            "expected a positive whole number")
    cells = {}
    for column, cell in scores.items():
        score = cell.get("score") if isinstance(cell, dict) else None
        if not isinstance(score, (int, float)) or isinstance(score, bool):
            raise UserError(f"{where}: model {name!r} has no number for {column!r} "
                            f"(score: {score!r})")
        cells[str(column)] = ReportedScore(
            score=float(score), source=cell.get("source"), note=cell.get("note"),
            samples_per_item=cell.get("samples_per_item"))
    return ReportedModel(key=name, scores=cells,
                         aliases=tuple(str(a) for a in model.get("aliases") or []),
                         samples_per_item=model.get("samples_per_item"),
                         source_note=model.get("source_note"))


def column_part(task: TaskResult, bench: Benchmark) -> tuple[dict[str, Any] | None, str | None]:
    """The summary (``ovr_eval.metrics.summarize``'s keys) of the part of a task's results that
    a column reports (``part:`` a key of the results, ``subset:`` a per-subset score; default
    the headline), or None and why it is missing."""
    if bench.part:
        found = task.part(bench.part)
        return (found, None) if found is not None else (
            None, f"the run has no {bench.part!r} score")
    if bench.subset:
        key, value = bench.subset.key, bench.subset.value
        found = (task.subsets or {}).get(key, {}).get(value)
        return (found, None) if found is not None else (
            None, f"the run has no {key}={value!r} item")
    return task.headline(), None


def incomplete(task: TaskResult) -> str | None:
    """Why a task's headline does not cover what the paper's number does, or None: a result
    that says ``complete: false`` (DynaMath's worst case over fewer than its 10 variants a seed
    is no worst case over all of them)."""
    if task.parts.get("complete") is not False:
        return None
    per, expected = task.parts.get("variants_per_seed"), task.parts.get("variants_expected")
    if isinstance(per, list) and per:
        per = f"{min(per)}-{max(per)}"
    if per is None:
        return "not comparable: the run's results are incomplete (complete: false)"
    if not expected:
        return f"not comparable: {per} variant(s) a seed, not all of them"
    return f"not comparable: {per} of {expected} variants"


def comparability(task: TaskResult, bench: Benchmark) -> list[str]:
    """Why a run's result cannot be set against a column (another split or unit, an incomplete
    result); [] if it can."""
    reasons = []
    if (why := incomplete(task)) is not None:
        reasons.append(why)
    split, ref_split = task.split, bench.split
    if split and ref_split and ref_split != "unknown" and split != ref_split:
        reasons.append(f"the run used split {split!r}; the reported score is on {ref_split!r}")
    if bench.unit != "percent":
        reasons.append(f"reported scores are in {bench.unit}; the run's are percentages")
    return reasons
