"""The report's page model: plain dataclasses the templates render (columns, cells, rows,
sample views, curves, gap sections, the :class:`Report`), and the constants that size them."""


from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from ovr_eval.compare import ReferenceRow, compare_to_reference
from ovr_eval.judge_views import (
    with_judged_rows,
)
from ovr_eval.reference import Reference
from ovr_eval.report.budget import BudgetChart
from ovr_eval.runs import SavedRun

SCHEMA = 1
MAX_IMAGE_PX = 512
RESPONSE_HEAD, RESPONSE_TAIL = 4_000, 8_000  # characters kept of a long response (end = answer)
MAX_RESPONSES = 4  # response texts kept per sample (every verdict is kept)
MAX_CURVE_POINTS = 1_000
CURVE_FIRST = ("reward", "accuracy", "response_length")
CURVE_GROUPS = ("reward and accuracy", "losses", "KL and entropy", "length", "throughput",
                "other")
STAGES = {"sft": "SFT", "rl": "RL"}  # training stages marked on the curves
METRICS_FILE = Path("train") / "metrics.jsonl"
KATEX_CACHE = Path.home() / ".cache" / "ovr-eval" / "katex"

SampleVerdict = Literal["correct", "incorrect", "mixed", "unknown"]


# ---------------------------------------------------------------- data model


@dataclass
class Column:
    """A benchmark column (a paper column, or a task the paper lacks); ``known``: reported.yaml
    describes it; ``task``: the task whose runs fill it (WeMath fills two columns)."""

    key: str
    name: str
    split: str | None
    unit: str
    known: bool
    task: str = ""


@dataclass
class Cell:
    """A score in percent points (the benchmark's unit for reported cells), or why none."""

    score: float | None = None
    ci95: list[float] | None = None
    n: int | None = None
    missing: str | None = None
    source: str | None = None
    note: str | None = None
    warnings: list[str] = field(default_factory=list)
    data: str | None = None  # a run's data read at the hub's head ("data: hub head abc1234 ...")


@dataclass
class Row:
    """A leaderboard row: one of the user's runs or one reported model."""

    label: str
    kind: Literal["run", "reported"]
    detail: str
    cells: dict[str, Cell]
    average: Cell


@dataclass
class RunInfo:
    label: str
    path: str
    model: str
    settings: list[tuple[str, str]]  # (name, value) rows; [] when there is no config.json
    splits: dict[str, str]
    partial: list[str] = field(default_factory=list)  # why the run is unfinished


@dataclass
class ResponseView:
    text: str
    extracted: str | None
    correct: bool | None
    finish: str | None
    tokens: int | None
    chars_left_out: int = 0
    judge: dict[str, Any] | None = None  # the judge's extraction and verdict (ovr_eval.judge)
    # Math-Verify's verdict ("correct", "incorrect"; "unknown": it gave none); None: not asked
    math_verify: str | None = None


@dataclass
class SampleView:
    """One sample of one run as the browser shows it; ``images`` are keys of Report.images."""

    run: int
    task: str
    id: str
    subsets: list[str]
    question: str
    choices: list[str] | None
    gold: str | None
    images: list[str]
    missing_images: list[str]
    responses: list[ResponseView]
    responses_left_out: int
    verdict: SampleVerdict
    disagree: bool = False  # rules and judge disagree on a response
    mv_graded: bool = False  # Math-Verify gave its verdicts on the responses
    mv_disagree: bool = False  # rules and Math-Verify disagree on a response
    letter_choices: bool = False  # the options are just their letters (drawn in the image)


@dataclass
class Series:
    run: int
    label: str
    points: list[list[float]]  # [step, value], by step
    stage: str | None = None  # "sft", "rl", "eval" (the lines' "stage"); a stage is one line


@dataclass
class StageSpan:
    """The steps a training stage covered, marked on every curve that spans them."""

    stage: str  # "SFT" or "RL"
    start: float
    end: float


@dataclass
class Curve:
    metric: str
    series: list[Series]
    x_range: list[float]
    y_range: list[float]
    group: str = "other"  # CURVE_GROUPS
    x_ticks: list[int] = field(default_factory=list)  # whole steps
    stages: list[StageSpan] = field(default_factory=list)

    @property
    def runs(self) -> list[Series]:
        """One series per run (the legend), in order."""
        return list({s.run: s for s in reversed(self.series)}.values())[::-1]


@dataclass
class GapSection:
    """Where one run's gaps to one reported model come from (``ovr_eval.gap``): the
    ``ovr compare`` rows that have a gap."""

    label: str
    reference: str
    rows: list[ReferenceRow]


def gap_sections(runs: list[SavedRun], labels: list[str], reference: Reference,
                 model_keys: list[str]) -> list[GapSection]:
    """Each run's gaps to the first reported model shown (none when no model is shown)."""
    if not model_keys:
        return []
    key = model_keys[0]
    sections = []
    for run, label in zip(runs, labels, strict=True):
        rows = with_judged_rows(run, compare_to_reference(run, key, reference), key)
        rows = [r for r in rows if r.gap is not None]
        if rows:
            sections.append(GapSection(label=label, reference=key, rows=rows))
    return sections


@dataclass
class Report:
    created: str
    runs: list[RunInfo]
    columns: list[Column]
    rows: list[Row]
    curves: list[Curve]
    samples: list[SampleView]
    images: dict[str, str]
    left_out: list[dict[str, Any]]  # {run, task, shown, total} where samples were capped
    max_samples: int
    warnings: list[str]
    gaps: list[GapSection] = field(default_factory=list)  # where each run's gaps come from
    budgets: list[BudgetChart] = field(default_factory=list)  # RUN/budget.json, per task

    @property
    def curve_groups(self) -> list[tuple[str, list[Curve]]]:
        """The training curves by group (CURVE_GROUPS order), each group's curves in order."""
        groups: dict[str, list[Curve]] = {}
        for curve in self.curves:
            groups.setdefault(curve.group, []).append(curve)
        return list(groups.items())

    @property
    def cell_notes(self) -> list[tuple[str, str, str]]:
        """(row label, column name, warning) for every cell with a warning: the list the ⚠
        legend points to (every marked cell is in it)."""
        names = [(c.key, c.name) for c in self.columns] + [("average", "average")]
        return [(row.label, name, warning) for row in self.rows for key, name in names
                for warning in (row.average if key == "average" else row.cells[key]).warnings]

    @property
    def tasks(self) -> list[str]:
        """The tasks behind the columns, each once (for the sample browser)."""
        return list(dict.fromkeys(c.task or c.key for c in self.columns))

    def scored(self, key: str) -> list[tuple[Row, Cell]]:
        """Rows with a score in column ``key`` ("average" for the average), best first."""
        cells = [(row, row.average if key == "average" else row.cells[key]) for row in self.rows]
        return sorted([(r, c) for r, c in cells if c.score is not None],
                      key=lambda rc: -(rc[1].score or 0.0))

    def unscored(self, key: str) -> list[Row]:
        return [r for r in self.rows
                if (r.average if key == "average" else r.cells[key]).score is None]

    def bar_scale(self, key: str) -> float:
        """The axis maximum of a bar chart: 100 for percentages unless something exceeds it."""
        tops = [max([c.score or 0.0, *(c.ci95 or [])]) for _, c in self.scored(key)]
        return max([100.0, *tops]) if tops else 100.0
