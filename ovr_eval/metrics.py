"""Scores from per-sample records: accuracy (avg@k), unbiased pass@k, error bars, subsets.

A score is a mean over *units* (a problem; a DynaMath seed; an MMMU-Pro question in both its
settings), each unit being the mean of its *slot values*, one per response slot (1.0 / 0.0
for a correct / wrong response, or a per-slot composite such as WeMath's per-problem score).
Slots are independent draws, so a unit's spread over its slots measures rerun noise.

Two standard errors answer two questions:

- ``stderr``, "another sample of problems": the spread of unit means over √n (between
  problems). It does not shrink with more responses per problem.
- ``stderr_rerun``, "the same problems, another run": √(Σ s_i² / k_i) / n with s_i² the
  unbiased variance of unit i's k_i slot values (within problems). Unknown (None) when a unit
  has one response: one response per problem cannot separate rerun noise from the problems'
  spread. ``stderr_rerun_k1`` is the rerun error a run with one response per problem would
  have (√Σ s_i² / n), used to size the noise of a reported number from its k.

Intervals (``ci95``, ``ci95_rerun``) are Wilson score intervals at the effective number of
trials n_eff = p(1 - p) / se², so they stay inside [0, 1] and do not collapse at 0/n or n/n:
5 of 5 correct gives [56.6, 100], not [100, 100]. Where se says nothing (a score of 0 or 1)
the interval is Wilson's over the problems (between) or the responses (rerun). The
rerun error counts a problem answered alike in all its responses as noiseless; with few
responses per problem it can understate the noise of problems solved almost always.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, TypedDict

from ovr_eval.records import Record

Z95 = 1.959964
Units = Mapping[str, Sequence[float]]  # unit id -> its slot values (one per response)
# Task.score's mapping, as results.json holds a task's entry: a Summary's keys for the headline,
# "metric", "pass@k", "subsets" (key -> value -> Summary), "tokens" and the task's own parts
# (WeMath's "score_loose", ...). Plugins build and extend it, so it stays an open mapping;
# ovr_eval.records.TaskResult is its typed form.
TaskScores = dict[str, Any]


class Summary(TypedDict):
    """A mean over units with both standard errors and their intervals (:func:`summarize`)."""

    score: float | None  # a fraction in [0, 1]; None over no unit
    stderr: float | None  # between problems
    ci95: list[float] | None
    n: int  # units
    stderr_rerun: float | None  # within problems (None with one response per unit)
    ci95_rerun: list[float] | None
    stderr_rerun_k1: float | None
    samples_per_item: int  # the fewest responses of a unit


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased pass@k (Chen et al., 2021) from n samples of which c are correct."""
    if n - c < k:
        return 1.0
    return 1.0 - math.prod(1.0 - k / i for i in range(n - c + 1, n + 1))


def wilson(p: float, n_eff: float, z: float = Z95) -> list[float]:
    """Wilson score interval for a proportion p observed over n_eff Bernoulli trials."""
    if n_eff <= 0:
        return [0.0, 1.0]
    z2 = z * z
    denominator = 1.0 + z2 / n_eff
    center = (p + z2 / (2 * n_eff)) / denominator
    half = z * math.sqrt(max(p * (1 - p), 0.0) / n_eff + z2 / (4 * n_eff * n_eff)) / denominator
    return [max(0.0, min(center - half, p)), min(1.0, max(center + half, p))]


def wilson_from_stderr(p: float, se: float, n_low: float, n_high: float,
                       at_bound: float) -> list[float]:
    """A Wilson interval for a mean p with standard error se, as if from n_eff = p(1-p)/se²
    trials clamped to [n_low, n_high]. Where se says nothing: ``at_bound`` trials when p is 0
    or 1; ``n_high`` when se is 0 inside (0, 1) (every unit alike), or ``at_bound`` if
    ``n_high`` is unbounded."""
    if p <= 0.0 or p >= 1.0:
        return wilson(min(max(p, 0.0), 1.0), at_bound)
    if se <= 0.0:
        return wilson(p, n_high if math.isfinite(n_high) else at_bound)
    return wilson(p, min(max(p * (1 - p) / (se * se), n_low), n_high))


def difference_interval(d: float, se: float, n: int, trials: float) -> list[float]:
    """A 95% interval for a difference of two scores in [-1, 1]: Wilson on (d + 1) / 2, so it
    stays inside [-1, 1] and does not collapse when every paired difference is the same."""
    low, high = wilson_from_stderr((d + 1) / 2, se / 2, n, trials, at_bound=n)
    return [2 * low - 1, 2 * high - 1]


def variance(values: Sequence[float]) -> float:
    """Unbiased sample variance (0 for fewer than two values)."""
    if len(values) < 2:
        return 0.0
    mean = sum(values) / len(values)
    return sum((v - mean) ** 2 for v in values) / (len(values) - 1)


def empty_summary() -> Summary:
    """The summary of no units."""
    return {"score": None, "stderr": None, "ci95": None, "n": 0, "stderr_rerun": None,
            "ci95_rerun": None, "stderr_rerun_k1": None, "samples_per_item": 0}


def summarize(units: Units, weights: Mapping[str, float] | None = None) -> Summary:
    """Mean over units with both standard errors and their Wilson 95% intervals.

    ``weights`` (default 1 each) make the score a weighted mean, e.g. DynaMath's average over
    variants with a seed as the unit (weight: its number of variants); the between-problem
    error is then the cluster-robust (ratio) one, n/(n-1) Σ w_i² (x_i - p)² / W².
    """
    ids = [i for i, v in units.items() if len(v)]
    n = len(ids)
    if n == 0:
        return empty_summary()
    slots = [list(units[i]) for i in ids]
    w = [float(weights[i]) if weights else 1.0 for i in ids]
    total = sum(w)
    means = [sum(s) / len(s) for s in slots]
    score = sum(wi * m for wi, m in zip(w, means, strict=True)) / total
    trials = sum(len(s) for s in slots)
    stderr = None
    if n > 1:
        spread = sum((wi * (m - score)) ** 2 for wi, m in zip(w, means, strict=True))
        stderr = math.sqrt(n / (n - 1) * spread) / total
    ci95 = wilson_from_stderr(score, stderr or 0.0, n, trials, at_bound=n)
    within = [wi * wi * variance(s) for wi, s in zip(w, slots, strict=True)]
    rerun = rerun_k1 = ci_rerun = None
    if min(len(s) for s in slots) >= 2:
        rerun = math.sqrt(sum(v / len(s) for v, s in zip(within, slots, strict=True))) / total
        rerun_k1 = math.sqrt(sum(within)) / total
        # no upper clamp: problems always (never) solved add no rerun noise at all
        ci_rerun = wilson_from_stderr(score, rerun, 1, math.inf, at_bound=trials)
    return {"score": score, "stderr": stderr, "ci95": ci95, "n": n, "stderr_rerun": rerun,
            "ci95_rerun": ci_rerun, "stderr_rerun_k1": rerun_k1,
            "samples_per_item": min(len(s) for s in slots)}


def record_slots(record: Record) -> list[float]:
    """A record's responses as slot values (1.0 correct, 0.0 wrong); ValueError for a record
    that holds no verdicts (every record ``ovr eval`` writes has one per response)."""
    if not record.correct:
        raise ValueError(f"record {record.id!r} holds no verdicts ('correct')")
    return [1.0 if c else 0.0 for c in record.correct]


def record_units(records: Iterable[Record]) -> dict[str, list[float]]:
    """One unit per record (its id), the slots being its responses."""
    return {r.id: record_slots(r) for r in records}


def grouped_summaries(records: Sequence[Record], key: str) -> dict[str, Summary]:
    """Scores per value of a metadata field; a list value counts the record for each label."""
    groups: dict[str, dict[str, list[float]]] = defaultdict(dict)
    for record in records:
        labels = record.metadata.get(key)
        if labels is None:
            continue
        for label in labels if isinstance(labels, list) else [labels]:
            groups[str(label)][record.id] = record_slots(record)
    return {label: summarize(units) for label, units in sorted(groups.items())}


def task_scores(records: Iterable[Record], subset_keys: Sequence[str] = ()) -> TaskScores:
    """Accuracy (avg@k) with both errors, pass@k for k = 1, 2, 4, ... k, per-subset scores."""
    records = list(records)
    result: TaskScores = {"metric": "accuracy", **summarize(record_units(records))}
    k_max = result["samples_per_item"]
    if k_max > 1:
        ks = [k for k in (2**i for i in range(12)) if k <= k_max]
        result["pass@k"] = {
            str(k): sum(pass_at_k(len(r.correct), sum(r.correct), k) for r in records)
            / len(records)
            for k in ks
        }
    subsets = {key: groups for key in subset_keys if (groups := grouped_summaries(records, key))}
    result["subsets"] = subsets
    tokens = [t for r in records for t in r.completion_tokens]
    reasons = [f for r in records for f in r.finish_reasons]
    result["tokens"] = {
        "mean_completion_tokens": sum(tokens) / len(tokens) if tokens else 0.0,
        "truncated_fraction": reasons.count("length") / len(reasons) if reasons else 0.0,
    }
    return result


def disagreements(record: Record) -> list[int]:
    """The responses of a record whose rule verdict (``correct``) and Math-Verify verdict
    (``math_verify``) differ; a response Math-Verify gave no opinion on never counts."""
    second = record.math_verify or []
    return [i for i, (rules, other) in enumerate(zip(record.correct, second, strict=False))
            if other is not None and bool(rules) != other]


def check_failures(records: Iterable[Record]) -> dict[str, int]:
    """Responses graded wrong because their check did not finish, by reason ("timeout": 3)."""
    from ovr_eval.verify import is_check_failure

    counts: dict[str, int] = {}
    for record in records:
        for error in record.errors:
            if error is not None and is_check_failure(error):
                counts[error] = counts.get(error, 0) + 1
    return counts


UNMARKED_SOURCES = ("last_line", "last_sentence")  # answers read from no marker


def answer_sources(records: Iterable[Record]) -> dict[str, int]:
    """Responses by where their answer was read (the first part of each verdict's method):
    ``boxed``, ``answer_tag``, ``answer_phrase``; with no marker ``last_line`` and
    ``last_sentence``; ``none`` (no answer); ``error``..."""
    counts: dict[str, int] = {}
    for record in records:
        for method in record.methods:
            source = str(method or "none").split("/")[0]
            counts[source] = counts.get(source, 0) + 1
    return dict(sorted(counts.items()))


def unmarked(sources: Mapping[str, int]) -> int:
    """How many answers were read from no marker (a last line, the closing statement)."""
    return sum(sources.get(source, 0) for source in UNMARKED_SOURCES)


def verdict_summaries(records: list[Record]) -> dict[str, Any]:
    """What results.json says of a task's verdicts beside its score, the same on every path
    that scores records: ``check_failures``, ``answer_sources`` and ``math_verify`` (the
    second opinion; None when Math-Verify was not asked)."""
    return {"check_failures": check_failures(records), "answer_sources": answer_sources(records),
            "math_verify": second_opinion_summary(records)}


def second_opinion_summary(records: Iterable[Record]) -> dict[str, Any] | None:
    """The rules against Math-Verify over the responses Math-Verify was asked about (results.json's
    ``math_verify``): ``responses``, ``agree``, ``disagree`` (of which ``rules_only`` the rules
    credit and ``math_verify_only`` Math-Verify credits), ``no_opinion`` (it failed or ran out
    of time) and ``score``, Math-Verify's accuracy on those responses (no opinion counts as not
    credited); None when no record was given to Math-Verify."""
    counts = {"responses": 0, "agree": 0, "disagree": 0, "rules_only": 0,
              "math_verify_only": 0, "no_opinion": 0}
    credited = 0
    asked = False
    for record in records:
        if record.math_verify is None:
            continue
        asked = True
        for rules, other in zip(record.correct, record.math_verify, strict=False):
            counts["responses"] += 1
            credited += other is True
            if other is None:
                counts["no_opinion"] += 1
            elif bool(rules) == other:
                counts["agree"] += 1
            else:
                counts["disagree"] += 1
                counts["rules_only" if rules else "math_verify_only"] += 1
    if not asked:
        return None
    score = credited / counts["responses"] if counts["responses"] else None
    return {**counts, "score": score}
