"""The OVR paper's reported scores (``reports/reported.yaml``, package ``ovr_reports``) and the
paper columns a run's results fill.

A benchmark there is a paper column, which a task fills with its headline or another part of
its results (``part:``, e.g. WeMath's loose score) or one subset (``subset:``, e.g. MathVerse's
Vision Only). Reported scores are in percent points, like the paper's tables.
"""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Any

import yaml

from ovr_eval.records import TaskResult
from ovr_eval.types import PathLike, UserError

REFERENCE_FILE = "reported.yaml"


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


def columns_of(reference: dict[str, Any], task: str) -> list[tuple[str, dict[str, Any]]]:
    """The reference's benchmark columns a task fills (``task:`` names it; by default the
    column's own key), in the reference's order: WeMath fills "wemath" and "wemath_loose"."""
    return [(key, bench) for key, bench in reference["benchmarks"].items()
            if bench.get("task", key) == task]


def column_part(task: TaskResult, bench: dict[str, Any]) -> tuple[dict[str, Any] | None,
                                                                  str | None]:
    """The summary (``ovr_eval.metrics.summarize``'s keys) of the part of a task's results that
    a column reports (``part:`` a key of the results, ``subset:`` a per-subset score; default
    the headline), or None and why it is missing."""
    if bench.get("part"):
        found = task.part(bench["part"])
        return (found, None) if found is not None else (
            None, f"the run has no {bench['part']!r} score")
    subset = bench.get("subset")
    if subset:
        found = (task.subsets or {}).get(subset["key"], {}).get(subset["value"])
        return (found, None) if found is not None else (
            None, f"the run has no {subset['key']}={subset['value']!r} item")
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


def comparability(task: TaskResult, bench: dict[str, Any]) -> list[str]:
    """Why a run's result cannot be set against a column (another split or unit, an incomplete
    result); [] if it can."""
    reasons = []
    if (why := incomplete(task)) is not None:
        reasons.append(why)
    split, ref_split = task.split, bench.get("split")
    if split and ref_split and ref_split != "unknown" and split != ref_split:
        reasons.append(f"the run used split {split!r}; the reported score is on {ref_split!r}")
    if bench.get("unit", "percent") != "percent":
        reasons.append(f"reported scores are in {bench['unit']}; the run's are percentages")
    return reasons
