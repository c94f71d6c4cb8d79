"""``ovr report``: one self-contained HTML page of runs beside the paper's reported scores.

:func:`build_report` reads run folders into plain dataclasses (:class:`Report`);
:func:`render_html` turns a report into a page with the jinja2 templates in
``reports/templates/`` (package ``ovr_reports``). The page loads nothing from anywhere: CSS, JS,
images (data URLs) and KaTeX (when ``scripts/setup-browser.sh`` has cached it) are inline, and
all data for the sample browser sits in one ``<script type="application/json">`` blob.

Training runs may add ``RUN/train/metrics.jsonl``: one JSON object per step,
``{"step": int, "stage": "sft" | "rl" | "eval", "reward": float, ...}``; every numeric field
becomes a curve over steps, in its group (``CURVE_GROUPS``: reward and accuracy, losses, KL and
entropy, length, throughput), one line per run and stage, the stages' steps shaded.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import math
import os
import re
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Literal

from ovr_eval.compare import ReferenceRow, compare_to_reference, data_note, provenance_warnings
from ovr_eval.judge_views import (
    add_judged_columns,
    response_judgement,
    rules_and_judge_disagree,
    with_judged_rows,
)
from ovr_eval.metrics import disagreements
from ovr_eval.records import Record, TaskResult
from ovr_eval.reference import column_part, comparability, load_reference, resolve_model
from ovr_eval.report_budget import BudgetChart, budget_charts
from ovr_eval.run_files import read_jsonl
from ovr_eval.runs import RunDir, SavedRun, load_run
from ovr_eval.types import PathLike, UserError

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


def gap_sections(runs: list[SavedRun], labels: list[str], reference: dict[str, Any],
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


def run_settings(config: dict[str, Any]) -> list[tuple[str, str]]:
    """The settings of a run's config.json as readable (name, value) rows."""
    rows = [(name, str(config[key])) for key, name in (("engine", "engine"),
                                                       ("revision", "revision"))
            if config.get(key)]
    if config.get("prompt"):
        rows.append(("prompt", _per_task(config["prompt"])))
    sampling: dict[str, Any] = (config["sampling"] if isinstance(config.get("sampling"), dict)
                                else {})
    names = {"n": "responses per prompt", "temperature": "temperature", "top_p": "top-p",
             "max_tokens": "max tokens", "seed": "seed"}
    rows += [(label, str(sampling[key])) for key, label in names.items() if key in sampling]
    if config.get("limit"):
        rows.append(("limit", str(config["limit"])))
    weights: dict[str, Any] = config["weights"] if isinstance(config.get("weights"), dict) else {}
    if weights.get("id"):
        rows.append(("weights", str(weights["id"])[:19]))
    return rows


def run_labels(runs: list[SavedRun]) -> list[str]:
    """Folder names, or full paths where two folders share a name."""
    names = [r.path.resolve().name or str(r.path) for r in runs]
    return [str(r.path) if names.count(n) > 1 else n for r, n in zip(runs, names, strict=True)]


# ---------------------------------------------------------------- leaderboard


def build_columns(runs: list[SavedRun], reference: dict[str, Any]) -> list[Column]:
    """Every paper column the runs' tasks fill, in reported.yaml's order (WeMath: strict and
    loose); tasks it lacks come last."""
    tasks = list(dict.fromkeys(t for run in runs for t in run.tasks))
    columns = []
    for key, bench in reference["benchmarks"].items():
        task = bench.get("task", key)
        if task in tasks:
            columns.append(Column(key=key, name=bench.get("name", key), split=bench.get("split"),
                                  unit=bench.get("unit", "percent"), known=True, task=task))
    covered = {c.task for c in columns}
    return columns + [Column(key=t, name=t, split=None, unit="percent", known=False, task=t)
                      for t in tasks if t not in covered]


def run_cell(task: TaskResult | None, column: Column, bench: dict[str, Any]) -> Cell:
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


def reported_cell(scores: dict[str, Any], column: Column) -> Cell:
    if not column.known:
        return Cell(missing="not in paper")
    cell = scores.get(column.key)
    if cell is None:
        return Cell(missing="not reported")
    return Cell(score=float(cell["score"]), source=cell.get("source"), note=cell.get("note"))


def average_cell(cells: dict[str, Cell], columns: list[Column]) -> Cell:
    """Mean over the percent-unit columns, only when the row has every one of them."""
    keys = [c.key for c in columns if c.unit == "percent" and c.known]
    if not keys:
        return Cell(missing="no percent benchmark")
    scores = [s for s in (cells[k].score for k in keys) if s is not None]
    if len(scores) < len(keys):
        return Cell(missing=f"incomplete ({len(scores)}/{len(keys)})")
    return Cell(score=sum(scores) / len(scores), n=len(scores))


def reference_keys(reference: dict[str, Any], names: list[str] | None, tasks: list[str]
                   ) -> list[str]:
    """Models to list: the named ones ("none": no model), or all scoring a shown benchmark."""
    if names is None:
        return [k for k, m in reference["models"].items() if set(m["scores"]) & set(tasks)]
    if [n.lower() for n in names] == ["none"]:
        return []
    return list(dict.fromkeys(resolve_model(reference, n) for n in names))


def build_rows(runs: list[SavedRun], labels: list[str], columns: list[Column],
               reference: dict[str, Any], model_keys: list[str]) -> list[Row]:
    """One row per run, then per reported model; ordered by average, missing averages last."""
    benchmarks = reference["benchmarks"]
    rows = []
    for run, label in zip(runs, labels, strict=True):
        cells = {c.key: run_cell(run.tasks.get(c.task or c.key), c, benchmarks.get(c.key, {}))
                 for c in columns}
        for c in columns:
            if cells[c.key].score is not None:
                cells[c.key].data = data_note(run.config, c.task or c.key)
        rows.append(Row(label=label, kind="run", detail=f"{run.model} ({run.path})",
                        cells=cells, average=average_cell(cells, columns)))
    for key in model_keys:
        model = reference["models"][key]
        cells = {c.key: reported_cell(model["scores"], c) for c in columns}
        detail = " ".join(str(model.get("source_note", "reported in the OVR paper")).split())
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


# ---------------------------------------------------------------- samples and images


def image_data_url(path: Path, max_px: int = MAX_IMAGE_PX) -> str | None:
    """The image downscaled to at most ``max_px`` a side, as the smaller of PNG and JPEG."""
    from PIL import Image, ImageOps

    try:
        with Image.open(path) as opened:
            opened.draft("RGB", (max_px, max_px))
            image = ImageOps.exif_transpose(opened)
            image.thumbnail((max_px, max_px))
            if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info:
                rgba = image.convert("RGBA")
                image = Image.new("RGB", rgba.size, "white")
                image.paste(rgba, mask=rgba.getchannel("A"))
            else:
                image = image.convert("RGB")
            encoded = {}
            for fmt, options in (("PNG", {"optimize": True}), ("JPEG", {"quality": 85})):
                buffer = io.BytesIO()
                image.save(buffer, fmt, **options)
                encoded[fmt] = buffer.getvalue()
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError):
        return None
    fmt = min(encoded, key=lambda f: len(encoded[f]))
    return f"data:image/{fmt.lower()};base64,{base64.b64encode(encoded[fmt]).decode()}"


class ImageStore:
    """Images embedded once each, by key; paths relative to the cwd or to the run folder."""

    def __init__(self) -> None:
        self.urls: dict[str, str] = {}
        self._keys: dict[Path, str | None] = {}

    def add(self, ref: str, run_path: Path) -> str | None:
        try:
            path = Path(ref).expanduser()
            path = (path if path.is_absolute() or path.is_file() else run_path / path).resolve()
        except (OSError, ValueError, RuntimeError):
            return None
        if path not in self._keys:
            url = image_data_url(path) if path.is_file() else None
            key = f"img{len(self.urls)}" if url else None
            if key and url:
                self.urls[key] = url
            self._keys[path] = key
        return self._keys[path]


def _at(values: list[Any], i: int) -> Any:
    return values[i] if i < len(values) else None


def clip(text: str) -> tuple[str, int]:
    """A long response's head and tail (where the answer is), and how many characters were cut."""
    cut = len(text) - RESPONSE_HEAD - RESPONSE_TAIL
    if cut <= 0:
        return text, 0
    return (f"{text[:RESPONSE_HEAD]}\n[… {cut:,} characters left out …]\n"
            f"{text[-RESPONSE_TAIL:]}", cut)


def sample_verdict(correct: list[bool]) -> SampleVerdict:
    if not correct:
        return "unknown"
    right = sum(bool(c) for c in correct)
    return "correct" if right == len(correct) else "incorrect" if right == 0 else "mixed"


def math_verify_view(record: Record, index: int) -> str | None:
    """Math-Verify's verdict on response ``index`` as the browser names it (None: not asked)."""
    if record.math_verify is None:
        return None
    verdict = _at(record.math_verify, index)
    return "unknown" if verdict is None else "correct" if verdict else "incorrect"


def subset_tag(key: str, value: Any) -> str:
    """A subset filter's label: ``skill=inductive``, never a Python list (``skill=['a']``);
    several values joined by ", "."""
    if isinstance(value, (list, tuple)):
        value = ", ".join(str(v) for v in value)
    return f"{key}={value}"


def just_letters(choices: list[str] | None) -> bool:
    """Whether the options are only their own letters (A, B, C, ...: drawn in the image), so
    the page shows them once instead of "A. A, B. B"."""
    return bool(choices) and [str(c).strip() for c in choices or []] == \
        [chr(ord("A") + i) for i in range(len(choices or []))]


def sample_view(record: Record, run_index: int, run: SavedRun, task: str,
                images: ImageStore) -> SampleView:
    """A record (any age of the format: absent fields are shown as absent) for the browser."""
    result = run.tasks.get(task)
    subset_keys = (result.subsets if result is not None else None) or {}
    responses = []
    for i, raw in enumerate(record.responses[:MAX_RESPONSES]):
        text, cut = clip(raw)
        tokens = _at(record.completion_tokens, i)
        responses.append(ResponseView(
            text=text, extracted=_at(record.extracted, i), correct=_at(record.correct, i),
            finish=_at(record.finish_reasons, i), tokens=tokens, chars_left_out=cut,
            judge=response_judgement(record, i), math_verify=math_verify_view(record, i)))
    keys = [(ref, images.add(ref, run.path)) for ref in record.images]
    metadata = record.metadata
    return SampleView(
        run=run_index, task=task, id=record.id,
        subsets=[subset_tag(k, metadata[k]) for k in subset_keys
                 if metadata.get(k) not in (None, [], ())],
        question=record.question, gold=record.gold, choices=record.choices,
        images=[k for _, k in keys if k], missing_images=[r for r, k in keys if not k],
        responses=responses, responses_left_out=max(0, len(record.responses) - MAX_RESPONSES),
        verdict=sample_verdict(record.correct), disagree=rules_and_judge_disagree(record),
        mv_graded=record.math_verify is not None, mv_disagree=bool(disagreements(record)),
        letter_choices=just_letters(record.choices))


def pick_records(records: list[dict[str, list[Record] | None]], task: str,
                 max_samples: int) -> list[list[Record]]:
    """Up to ``max_samples`` records of a task per run, the same samples across runs first."""
    order = list(dict.fromkeys(r.id for by_task in records for r in by_task.get(task) or []))
    rank = {i: n for n, i in enumerate(order[:max_samples])}
    picked = []
    for by_task in records:
        mine = by_task.get(task) or []
        shared = sorted((r for r in mine if r.id in rank), key=lambda r: rank[r.id])
        rest = [r for r in mine if r.id not in rank]
        picked.append(shared + rest[:max_samples - len(shared)])
    return picked


# ---------------------------------------------------------------- training curves


def _thin(points: list[list[float]]) -> list[list[float]]:
    if len(points) <= MAX_CURVE_POINTS:
        return points
    stride = math.ceil(len(points) / MAX_CURVE_POINTS)
    kept = points[::stride]
    return kept if kept[-1] is points[-1] else [*kept, points[-1]]


def _span(values: list[float]) -> list[float]:
    low, high = min(values), max(values)
    if low == high:
        pad = abs(low) * 0.1 or 1.0
        return [low - pad, high + pad]
    return [low, high]


def curve_group(metric: str) -> str:
    """Which of CURVE_GROUPS a ``train/metrics.jsonl`` field is drawn in."""
    name = metric.lower()
    if name.endswith(("_per_s", "_s")) or name == "tokens":
        return "throughput"
    if name.startswith(("reward", "accuracy", "eval_", "score")):
        return "reward and accuracy"
    if "loss" in name or name in ("grad_norm", "lr", "clip_fraction"):
        return "losses"
    if name.startswith(("kl", "entropy")) or "logprob" in name:
        return "KL and entropy"
    if "length" in name or name in ("max_new_tokens", "truncated_fraction"):
        return "length"
    return "other"


def step_ticks(low: float, high: float, most: int = 6) -> list[int]:
    """Whole steps to label an axis from ``low`` to ``high``: 1, 2 or 5 x 10^k apart."""
    first, last = math.ceil(low), math.floor(high)
    if last < first:
        return []
    stride = 1
    while (last - first) / stride > most - 1:
        stride = _next_stride(stride)
    return list(range(first + (-first) % stride, last + 1, stride))


def _next_stride(stride: int) -> int:
    """1, 2, 5, 10, 20, 50, ..."""
    digits = str(stride)
    return stride * 5 // 2 if digits[0] == "2" else stride * 2


def read_curves(runs: list[SavedRun], labels: list[str], warnings: list[str]) -> list[Curve]:
    """Curves from each run's ``train/metrics.jsonl`` (see the module docstring): one line per
    run and stage (SFT and RL are not joined), grouped (CURVE_GROUPS), whole-step ticks, and
    the steps of each stage marked."""
    per_metric: dict[str, list[Series]] = {}
    spans: dict[int, dict[str, list[float]]] = {}  # run -> stage -> [first step, last step]
    for index, (run, label) in enumerate(zip(runs, labels, strict=True)):
        path = run.path / METRICS_FILE
        if not path.is_file():
            continue
        try:
            rows, bad = read_jsonl(path)
        except OSError as error:
            warnings.append(f"{label}: cannot read {path}: {error.strerror}")
            continue
        points: dict[tuple[str, str | None], list[list[float]]] = {}
        for row in rows:
            step = row.get("step")
            if isinstance(step, bool) or not isinstance(step, (int, float)):
                bad += 1
                continue
            stage = row.get("stage") if isinstance(row.get("stage"), str) else None
            if stage in STAGES:
                span = spans.setdefault(index, {}).setdefault(stage, [step, step])
                span[:] = [min(span[0], step), max(span[1], step)]
            for key, value in row.items():
                if (key != "step" and isinstance(value, (int, float))
                        and not isinstance(value, bool) and math.isfinite(value)):
                    points.setdefault((key, stage), []).append([float(step), float(value)])
        if bad:
            warnings.append(f"{label}: {bad} unusable line(s) in {path} skipped "
                            "(each needs a numeric 'step')")
        for (key, stage), values in points.items():
            per_metric.setdefault(key, []).append(
                Series(index, label, _thin(sorted(values)), stage))
    ordered = sorted(per_metric, key=lambda m: (
        CURVE_GROUPS.index(curve_group(m)),
        CURVE_FIRST.index(m) if m in CURVE_FIRST else len(CURVE_FIRST), m))
    curves = []
    for m in ordered:
        series = sorted(per_metric[m], key=lambda s: (s.run, s.points[0][0]))
        steps = [p[0] for s in series for p in s.points]
        low, high = min(steps), max(steps)
        x_range = [low - 1, high + 1] if low == high else [low, high]
        marked = []  # each stage's steps within this chart's x range
        for stage, name in STAGES.items():
            found = [spans[s.run][stage] for s in series if stage in spans.get(s.run, {})]
            if found:
                start = max(min(v[0] for v in found), x_range[0])
                end = min(max(v[1] for v in found), x_range[1])
                if start <= end:
                    marked.append(StageSpan(name, start, end))
        curves.append(Curve(metric=m, series=series, x_range=x_range,
                            y_range=_span([p[1] for s in series for p in s.points]),
                            group=curve_group(m), x_ticks=step_ticks(x_range[0], x_range[1]),
                            stages=marked))
    return curves


# ---------------------------------------------------------------- the report


def build_report(paths: list[Path], reference_models: list[str] | None = None,
                 max_samples: int = 200, reference: dict[str, Any] | None = None) -> Report:
    """Everything the page shows, read from run folders and reported.yaml."""
    if max_samples < 0:
        raise UserError("--max-samples must be 0 or more")
    runs, warnings = load_runs(paths)
    labels = run_labels(runs)
    warnings += [f"{label} is unfinished (partial): {'; '.join(run.partial)}; its scores "
                 "cover the saved samples" for run, label in zip(runs, labels, strict=True)
                 if run.partial]
    reference = reference if reference is not None else load_reference()
    columns = build_columns(runs, reference)
    model_keys = reference_keys(reference, reference_models, [c.key for c in columns])
    rows = build_rows(runs, labels, columns, reference, model_keys)
    records = [{t: read_records(run, label, t, warnings) for t in run.tasks}
               for run, label in zip(runs, labels, strict=True)]
    warnings += check_sample_sets(records, labels, rows)
    warnings += [f"{task}: {labels[0]} vs {label}: {warning}"
                 for run, label in zip(runs[1:], labels[1:], strict=True)
                 for task in sorted(set(runs[0].tasks) & set(run.tasks))
                 for warning in provenance_warnings(runs[0].config, run.config, task)]
    images, samples, left_out = ImageStore(), [], []
    for task in dict.fromkeys(c.task or c.key for c in columns):
        for index, picked in enumerate(pick_records(records, task, max_samples)):
            total = len(records[index].get(task) or [])
            if len(picked) < total:
                left_out.append({"run": index, "task": task, "shown": len(picked),
                                 "total": total})
            samples += [sample_view(r, index, runs[index], task, images) for r in picked]
    curves = read_curves(runs, labels, warnings)
    budgets = budget_charts(runs, labels, warnings)
    columns = add_judged_columns(columns, rows, runs, labels, reference)
    infos = [RunInfo(label=label, path=str(run.path), model=run.model,
                     settings=run_settings(run.config), partial=run.partial,
                     splits={t: str(v.split or "") for t, v in run.tasks.items()})
             for run, label in zip(runs, labels, strict=True)]
    return Report(created=datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
                  runs=infos, columns=columns, rows=rows, curves=curves, samples=samples,
                  images=images.urls, left_out=left_out, max_samples=max_samples,
                  warnings=warnings, gaps=gap_sections(runs, labels, reference, model_keys),
                  budgets=budgets)


# ---------------------------------------------------------------- rendering


def find_katex() -> Path | None:
    """KaTeX's ``dist`` folder: under ``$OVR_KATEX_DIR`` or ``~/.cache/ovr-eval/katex``."""
    env = os.environ.get("OVR_KATEX_DIR")
    root = Path(env).expanduser() if env else KATEX_CACHE
    for dist in (root / "dist", root):
        if (dist / "katex.min.js").is_file() and (dist / "katex.min.css").is_file():
            return dist
    return None


def _inline(code: str, tag: str) -> str:
    """Code safe inside ``<tag>``: no ``</tag`` that would end the element early."""
    return re.sub(rf"</({tag})", r"<\\/\1", code, flags=re.IGNORECASE)


def katex_assets(dist: Path) -> tuple[str, str]:
    """KaTeX's CSS with its woff2 fonts as data URLs (other font formats dropped), and JS."""

    def font(match: re.Match[str]) -> str:
        data = base64.b64encode((dist / "fonts" / match.group(1)).read_bytes()).decode()
        return f'src:url(data:font/woff2;base64,{data}) format("woff2")'

    css = re.sub(r"src:\s*url\(['\"]?fonts/([\w.-]+\.woff2)['\"]?\)[^;}]*", font,
                 (dist / "katex.min.css").read_text("utf-8"))
    if re.search(r"url\((?!data:)", css):
        raise OSError(f"{dist / 'katex.min.css'} loads files that could not be inlined")
    return _inline(css, "style"), _inline((dist / "katex.min.js").read_text("utf-8"), "script")


def load_katex() -> tuple[tuple[str, str] | None, str]:
    """KaTeX's (CSS, JS) when cached, and a sentence for the page either way."""
    dist = find_katex()
    where = os.environ.get("OVR_KATEX_DIR") or str(KATEX_CACHE)
    if dist is None:
        return None, (f"KaTeX was not available when this report was made (none in {where}; "
                      "run scripts/setup-browser.sh): LaTeX is shown as source text.")
    try:
        assets = katex_assets(dist)
    except (OSError, UnicodeDecodeError) as error:
        return None, f"KaTeX in {dist} could not be inlined ({error}): LaTeX is shown as source."
    return assets, "LaTeX rendered offline with KaTeX (inlined)."


def script_json(data: Any) -> str:
    """JSON for a ``<script type="application/json">``: no ``<``, ``>`` or ``&`` left raw."""
    text = json.dumps(data, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _csp_hash(code: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(code.encode()).digest()).decode() + "'"


def render_html(report: Report, katex: tuple[str, str] | None, katex_note: str) -> str:
    """The page. Only the page's own scripts may run (CSP hashes); it loads nothing."""
    from jinja2 import Environment, FileSystemLoader, StrictUndefined
    from markupsafe import Markup

    from ovr_reports import REPORTS_DIR

    templates = REPORTS_DIR / "templates"
    env = Environment(loader=FileSystemLoader(templates), autoescape=True,
                      undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True,
                      extensions=["jinja2.ext.do"])
    css = _inline((templates / "report.css").read_text("utf-8"), "style")
    js = _inline((templates / "report.js").read_text("utf-8"), "script")
    scripts = [js, *([katex[1]] if katex else [])]
    data = {"schema": SCHEMA, **asdict(report), "katex": katex is not None}
    return env.get_template("report.html.j2").render(
        report=report, data=Markup(script_json(data)), css=Markup(css), js=Markup(js),
        katex_css=Markup(katex[0]) if katex else None,
        katex_js=Markup(katex[1]) if katex else None, katex_note=katex_note,
        script_hashes=Markup(" ".join(_csp_hash(s) for s in scripts)))


@dataclass
class Written:
    path: Path
    bytes: int
    samples: int
    left_out: int
    katex: bool
    warnings: list[str]


def write_report(paths: list[Path], output: PathLike, reference_models: list[str] | None = None,
                 max_samples: int = 200) -> Written:
    """Build the report and write it to ``output`` (atomically)."""
    output = Path(output)
    if output.is_dir():
        raise UserError(f"-o {output} is a directory; give a file name such as report.html")
    report = build_report(paths, reference_models, max_samples)
    katex, note = load_katex()
    html = render_html(report, katex, note)
    try:
        output.parent.mkdir(parents=True, exist_ok=True)
        tmp = output.with_name(output.name + ".tmp")
        tmp.write_text(html, "utf-8")
        os.replace(tmp, output)
    except OSError as error:
        raise UserError(f"cannot write {output}: {error.strerror}") from None
    return Written(path=output, bytes=len(html.encode()), samples=len(report.samples),
                   left_out=sum(x["total"] - x["shown"] for x in report.left_out),
                   katex=katex is not None, warnings=report.warnings)
