"""Training curves from ``RUN/train/metrics.jsonl``: every numeric field a curve over steps,
in its group, one line per run and stage, the stages' steps shaded."""


from __future__ import annotations

import math

from ovr_eval.report.model import (
    CURVE_FIRST,
    CURVE_GROUPS,
    MAX_CURVE_POINTS,
    METRICS_FILE,
    STAGES,
    Curve,
    Series,
    StageSpan,
)
from ovr_eval.run_files import read_jsonl
from ovr_eval.runs import SavedRun

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
