"""Scores from per-sample records: accuracy (avg@k), unbiased pass@k, intervals, subsets."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

Z95 = 1.959964


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased pass@k (Chen et al., 2021) from n samples of which c are correct."""
    if n - c < k:
        return 1.0
    return 1.0 - math.prod(1.0 - k / i for i in range(n - c + 1, n + 1))


def mean_with_error(values: Sequence[float]) -> dict[str, Any]:
    """Mean, standard error of the mean and a normal 95% interval."""
    n = len(values)
    if n == 0:
        return {"score": None, "stderr": None, "ci95": None, "n": 0}
    mean = sum(values) / n
    var = sum((v - mean) ** 2 for v in values) / (n - 1) if n > 1 else 0.0
    stderr = math.sqrt(var / n)
    return {"score": mean, "stderr": stderr,
            "ci95": [max(0.0, mean - Z95 * stderr), min(1.0, mean + Z95 * stderr)], "n": n}


def item_score(record: dict[str, Any]) -> float:
    """Mean correctness over an item's k responses (avg@k for one item)."""
    correct = record["correct"]
    return sum(correct) / len(correct) if correct else 0.0


def task_scores(
    records: Iterable[dict[str, Any]], subset_keys: Sequence[str] = ()
) -> dict[str, Any]:
    """Accuracy (avg@k) with its error, pass@k for k = 1, 2, 4, ... n, and per-subset scores."""
    records = list(records)
    result = {"metric": "accuracy", **mean_with_error([item_score(r) for r in records])}
    k_max = min((len(r["correct"]) for r in records), default=0)
    result["samples_per_item"] = k_max
    if k_max > 1:
        ks = [k for k in (2**i for i in range(12)) if k <= k_max]
        result["pass@k"] = {
            str(k): sum(pass_at_k(len(r["correct"]), sum(r["correct"]), k) for r in records)
            / len(records)
            for k in ks
        }
    subsets: dict[str, dict[str, Any]] = {}
    for key in subset_keys:
        groups: dict[str, list[float]] = defaultdict(list)
        for r in records:
            value = r.get("metadata", {}).get(key)
            if value is not None:
                groups[str(value)].append(item_score(r))
        if groups:
            subsets[key] = {v: mean_with_error(s) for v, s in sorted(groups.items())}
    result["subsets"] = subsets
    tokens = [t for r in records for t in r.get("completion_tokens", [])]
    reasons = [f for r in records for f in r.get("finish_reasons", [])]
    result["tokens"] = {
        "mean_completion_tokens": sum(tokens) / len(tokens) if tokens else 0.0,
        "truncated_fraction": reasons.count("length") / len(reasons) if reasons else 0.0,
    }
    return result
