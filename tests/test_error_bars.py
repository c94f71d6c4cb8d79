"""Error bars: the between-problem and within-problem (rerun) errors, Wilson intervals, and
what each one measures on simulated reruns of the same problems."""

from __future__ import annotations

import math
import random

import pytest

from ovr_eval.metrics import summarize, task_scores, wilson, wilson_from_stderr
from ovr_eval.records import Record

# the true solve rates of 30 AIME-like problems (a spread from never to always)
TRUE_RATES = [0.0] * 6 + [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9] * 2 + [1.0] * 6


def simulated_run(rng: random.Random, k: int) -> dict[str, list[float]]:
    return {str(i): [1.0 if rng.random() < p else 0.0 for _ in range(k)]
            for i, p in enumerate(TRUE_RATES)}


def test_both_errors_by_their_formulas():
    units = {"a": [1.0, 1.0, 0.0, 0.0], "b": [1.0] * 4, "c": [0.0] * 4}
    s = summarize(units)
    assert s["score"] == 0.5 and s["n"] == 3 and s["samples_per_item"] == 4
    # between problems: the spread of the problem means 0.5, 1, 0 over sqrt(3)
    assert math.isclose(s["stderr"], 0.5 / math.sqrt(3))
    # within problems: only "a" varies, unbiased variance 1/3 over its 4 responses
    assert math.isclose(s["stderr_rerun"], math.sqrt((1 / 3) / 4) / 3)
    assert math.isclose(s["stderr_rerun_k1"], math.sqrt(1 / 3) / 3)
    assert s["ci95_rerun"][0] < 0.5 < s["ci95_rerun"][1]
    assert s["ci95_rerun"][1] - s["ci95_rerun"][0] < s["ci95"][1] - s["ci95"][0]


def test_one_response_per_problem_has_no_rerun_error():
    s = summarize({"a": [1.0], "b": [0.0], "c": [1.0]})
    assert s["stderr_rerun"] is None and s["ci95_rerun"] is None
    assert s["stderr"] is not None and s["samples_per_item"] == 1
    assert summarize({})["score"] is None and summarize({})["n"] == 0


def test_wilson_holds_at_zero_one_and_tiny_n():
    assert wilson(1.0, 5) == pytest.approx([0.5655, 1.0], abs=1e-4)
    assert wilson(0.0, 5) == pytest.approx([0.0, 0.4345], abs=1e-4)
    assert wilson(0.5, 2)[0] > 0.0 and wilson(0.5, 2)[1] < 1.0
    for n in (1, 2, 5, 30, 1000):
        for correct in range(n + 1):
            low, high = wilson(correct / n, n)
            assert 0.0 <= low <= correct / n <= high <= 1.0
    # the task scores use it: all right over 5 problems is not [1, 1]
    scores = task_scores([Record(id=str(i), correct=[True]) for i in range(5)])
    assert scores["ci95"] == pytest.approx(wilson(1.0, 5))
    # a standard error that says nothing at the bounds: the given number of trials
    assert wilson_from_stderr(1.0, 0.0, 5, 80, at_bound=5) == wilson(1.0, 5)


def test_rerun_error_measures_reruns_and_the_between_error_does_not():
    """Issue 16's measurement on simulated reruns of the same 30 problems at k = 16: the
    within-problem error matches the spread of scores over reruns; the between-problem one is
    several times larger (it answers "another sample of problems") and does not shrink with k."""
    rng = random.Random(0)
    runs = [summarize(simulated_run(rng, 16)) for _ in range(400)]
    scores = [r["score"] for r in runs]
    mean = sum(scores) / len(scores)
    sd_over_reruns = math.sqrt(sum((x - mean) ** 2 for x in scores) / (len(scores) - 1))
    rerun = sum(r["stderr_rerun"] for r in runs) / len(runs)
    between = sum(r["stderr"] for r in runs) / len(runs)
    assert 0.85 < rerun / sd_over_reruns < 1.15
    assert between > 4 * sd_over_reruns
    true_mean = sum(TRUE_RATES) / len(TRUE_RATES)
    covered = sum(r["ci95_rerun"][0] <= true_mean <= r["ci95_rerun"][1] for r in runs)
    assert 0.9 < covered / len(runs) < 0.98  # a 95% interval, neither too narrow nor too wide
    # more responses per problem: the rerun error shrinks, the between-problem one does not
    k64 = [summarize(simulated_run(rng, 64)) for _ in range(50)]
    assert sum(r["stderr_rerun"] for r in k64) / 50 < 0.6 * rerun
    assert sum(r["stderr"] for r in k64) / 50 > 0.9 * between


def test_weighted_units_give_the_pooled_mean():
    """DynaMath's average: a seed is the unit, weighted by its variants."""
    units = {"s1": [2 / 3], "s2": [1.0]}  # seed 1: 2 of 3 variants right; seed 2: 1 of 1
    s = summarize(units, {"s1": 3, "s2": 1})
    assert math.isclose(s["score"], 3 / 4)
    assert s["n"] == 2
