"""The report's score-by-budget charts: each run's ``budget.json`` (``ovr budget``) as one chart
per task, x the token budget on a log₂ axis, y the score in percent with its 95% band, one
line per run; drawn by ``parts.budget`` in ``reports/templates/parts.j2``."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from ovr_eval.runs import RunDir, SavedRun

LEFT, RIGHT, TOP, BOTTOM = 56, 470, 12, 176  # the plot area inside the 480 x 206 view box


@dataclass
class BudgetPoint:
    budget: int
    x: float
    y: float
    score: float  # percent
    ci95: list[float]  # percent
    truncated: float  # percent of responses
    finished_score: float | None  # percent; None: no finished responses
    truncated_score: float | None


@dataclass
class BudgetSeries:
    run: int
    label: str
    points: list[BudgetPoint]
    line: str  # polyline points
    band: str  # polygon points of the 95% interval


@dataclass
class BudgetChart:
    task: str
    series: list[BudgetSeries]
    x_ticks: list[tuple[float, int]]  # (x, budget)
    y_ticks: list[tuple[float, float]] = field(default_factory=list)  # (y, percent)


def _pct(value: Any) -> float | None:
    return None if value is None else 100 * float(value)


def budget_charts(runs: list[SavedRun], labels: list[str], warnings: list[str]
                  ) -> list[BudgetChart]:
    """One chart per task that a run's budget.json covers (runs in their order)."""
    per_task: dict[str, list[tuple[int, str, list[dict[str, Any]]]]] = {}
    for index, (run, label) in enumerate(zip(runs, labels, strict=True)):
        curves, stale = RunDir(run.path).read_budget()
        if stale:
            warnings.append(f"{label}: budget.json is older than the records of "
                            f"{', '.join(stale)}; run `ovr budget {run.path}` again to chart them")
        for task, curve in curves.items():
            points = [p for p in curve.get("points") or []
                      if isinstance(p, dict) and p.get("score") is not None]
            if points:
                per_task.setdefault(task, []).append((index, label, points))
    return [_chart(task, entries) for task, entries in sorted(per_task.items())]


def _chart(task: str, entries: list[tuple[int, str, list[dict[str, Any]]]]) -> BudgetChart:
    budgets = sorted({int(p["budget"]) for _, _, points in entries for p in points})
    low, high = math.log2(budgets[0]), math.log2(budgets[-1])
    if high == low:
        low, high = low - 1, high + 1
    tops = [100 * max(p["ci95"] or [p["score"]]) for _, _, points in entries for p in points]
    y_top = min(100.0, max(10.0, math.ceil(max(tops) / 10) * 10))

    def x(budget: int) -> float:
        return LEFT + (math.log2(budget) - low) / (high - low) * (RIGHT - LEFT)

    def y(percent: float) -> float:
        return BOTTOM - min(percent, y_top) / y_top * (BOTTOM - TOP)

    series = []
    for run, label, points in entries:
        drawn = []
        for p in sorted(points, key=lambda p: int(p["budget"])):
            score = 100 * float(p["score"])
            ci = [100 * float(v) for v in (p.get("ci95") or [p["score"], p["score"]])]
            drawn.append(BudgetPoint(
                budget=int(p["budget"]), x=x(int(p["budget"])), y=y(score), score=score, ci95=ci,
                truncated=100 * float(p.get("truncated_fraction") or 0.0),
                finished_score=_pct((p.get("finished") or {}).get("score")),
                truncated_score=_pct((p.get("truncated") or {}).get("score"))))
        line = " ".join(f"{p.x:.1f},{p.y:.1f}" for p in drawn)
        band = " ".join([f"{p.x:.1f},{y(p.ci95[1]):.1f}" for p in drawn]
                        + [f"{p.x:.1f},{y(p.ci95[0]):.1f}" for p in reversed(drawn)])
        series.append(BudgetSeries(run, label, drawn, line, band))
    shown = budgets if len(budgets) <= 8 else budgets[:: math.ceil(len(budgets) / 8)]
    return BudgetChart(task=task, series=series, x_ticks=[(x(b), b) for b in shown],
                       y_ticks=[(y(f * y_top), f * y_top) for f in (0.0, 0.5, 1.0)])
