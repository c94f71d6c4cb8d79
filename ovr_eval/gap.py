"""Where a gap to a paper's score comes from: ``ovr compare``'s decomposition of run minus
reported, per paper column, into terms measured from the run's own records and named
differences that the run cannot measure.

All terms are in percent points and sum exactly to the gap. The measured terms are:

- ``rules vs official judge`` (a judged task's rule row only): rule score minus judged score,
  the points the rules give that the benchmark's official protocol (a judge) does not.
- ``truncation``: over the responses that hit the max-token cap, Σ w (c - p), with w a
  response's weight in the score (1 / (n k_i)), c its verdict and p the accuracy of the
  *answered* responses (complete, with an extracted answer): the points the run would gain
  had its truncated responses been right as often as its answered ones.
- ``no answer``: the same over the complete responses with no extractable answer.
- ``unexplained (model)``: the rest, p minus the reported score: the run's score had every
  response been complete and answered, against the paper's. It also holds every named
  difference that could not be measured.

Truncation and no answer sum to S - p (the weights sum to 1), so the terms add up to the gap
by construction. The counterfactual p is an assumption: truncated responses tend to be the
hard problems', so these terms are upper bounds on what a larger budget would recover.
Intervals are for another sample of problems: per-problem contributions (the ratio p
linearized) through ``ovr_eval.metrics.difference_interval`` / ``wilson_from_stderr``.

Differences the records cannot measure are named, with no number: another split, a subset
(``--limit``), a sampling protocol other than the paper's (``ovr_eval.presets``), an
unjudged run where the official protocol judges, and a metric that is no mean over responses
(DynaMath's worst case, WeMath's composite), whose records do not convert to points.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Final, Literal

from ovr_eval.metrics import difference_interval, variance, wilson_from_stderr
from ovr_eval.presets import PRESETS
from ovr_eval.records import Record
from ovr_eval.reference import Benchmark
from ovr_eval.run_config import RunConfig
from ovr_eval.runs import SavedRun, run_registry
from ovr_eval.types import SamplingConfig, UserError

JUDGE: Final = "rules vs official judge"
TRUNCATION: Final = "truncation"
NO_ANSWER: Final = "no answer"
MODEL: Final = "unexplained (model)"
PAPER_PRESET: Final = "ovr"  # the paper's sampling (ovr_eval.presets)
_EXACT = 1e-9  # a column is a mean over responses when the records reproduce it to this

View = Literal["rules", "judged"]


@dataclass
class GapTerm:
    """One part of a gap: ``points`` (percent points, None when the run cannot measure it) with
    its 95% interval, the responses it concerns, and what it is."""

    name: str
    points: float | None
    ci95: list[float] | None
    detail: str
    responses: int | None = None


@dataclass
class Gap:
    """Run minus reported (percent points) and its terms; the measured ones (``points`` not
    None, the remainder included) sum to ``gap``."""

    gap: float
    terms: list[GapTerm] = field(default_factory=list)

    @property
    def measured(self) -> list[GapTerm]:
        return [t for t in self.terms if t.points is not None]

    @property
    def unmeasured(self) -> list[GapTerm]:
        return [t for t in self.terms if t.points is None]


# ---------------------------------------------------------------- responses and their classes


def _kind(record: Record, j: int) -> str:
    """"truncated", "without answer" or "answered" for response j (truncation first)."""
    if j < len(record.finish_reasons) and record.finish_reasons[j] == "length":
        return "truncated"
    return "without answer" if record.extraction(j) in (None, "") else "answered"


def linear_score(records: Sequence[Record]) -> float | None:
    """The mean over records of their mean verdict (None for no records)."""
    scored = [r for r in records if r.correct]
    if not scored:
        return None
    return sum(sum(r.correct) / len(r.correct) for r in scored) / len(scored)


def _per_record(records: Sequence[Record], kind: str, p: float = 0.0
                ) -> tuple[list[float], list[float]]:
    """Per record: Σ (c - p) over its responses of one kind, over k; and their share of k."""
    sums, shares = [], []
    for r in records:
        picked = [c for j, c in enumerate(r.correct) if _kind(r, j) == kind]
        sums.append(sum(c - p for c in picked) / len(r.correct))
        shares.append(len(picked) / len(r.correct))
    return sums, shares


def answered_rate(records: Sequence[Record]) -> tuple[float, float, int] | None:
    """The accuracy p of the answered responses (weighted as in the score), its between-problem
    standard error (the ratio linearized) and their count; None when none is answered."""
    a, b = _per_record(records, "answered")
    n = len(a)
    if not n or sum(b) == 0:
        return None
    p, mean_b = sum(a) / sum(b), sum(b) / n
    influence = [(ai - p * bi) / mean_b for ai, bi in zip(a, b, strict=True)]
    return p, math.sqrt(variance(influence) / n), _counts(records)["answered"]


def class_term(records: Sequence[Record], kind: str, p: float, p_ci: list[float], name: str,
               detail: str) -> GapTerm:
    """Σ w (c - p) over the responses of one kind, with its interval (points). Its
    per-problem contributions carry p's own error (the ratio linearized); where they do not
    vary (every verdict alike), the term over p's interval ``p_ci`` is the interval."""
    count = _counts(records)[kind]
    if count == 0:
        return GapTerm(name, 0.0, [0.0, 0.0], f"no {detail}", 0)
    n = len(records)
    own, share = _per_record(records, kind, p)
    answered, b = _per_record(records, "answered", p)
    value, weight, mean_b = sum(own) / n, sum(share) / n, sum(b) / n
    d = [o - weight * a / mean_b for o, a in zip(own, answered, strict=True)]
    se = math.sqrt(variance(d) / n)
    # no cap on the trials: d_i is no count of right answers, its spread is all there is
    ci = (difference_interval(value, se, n, math.inf) if se > 0
          else [value - weight * (p_ci[1] - p), value - weight * (p_ci[0] - p)])
    return GapTerm(name, 100.0 * value, [100.0 * v for v in ci],
                   f"{count} {detail}, set against the answered responses' "
                   f"{100.0 * p:.1f}%", count)


def judge_term(rules: Sequence[Record], judged: Sequence[Record]) -> GapTerm:
    """Rule score minus judged score, paired over the records both hold (points)."""
    by_id = {r.id: r for r in judged if r.correct}
    pairs = [(r, by_id[r.id]) for r in rules if r.correct and r.id in by_id]
    s_rules, s_judged = linear_score(rules), linear_score(judged)
    assert s_rules is not None and s_judged is not None
    value = s_rules - s_judged
    d = [sum(a.correct) / len(a.correct) - sum(b.correct) / len(b.correct) for a, b in pairs]
    n = max(len(d), 1)
    differ = sum(bool(x) != bool(y) for a, b in pairs
                 for x, y in zip(a.correct, b.correct, strict=False))
    trials = 2 * sum(len(a.correct) for a, _ in pairs)
    ci = ([0.0, 0.0] if not differ else
          difference_interval(value, math.sqrt(variance(d) / n), n, max(trials, 1)))
    return GapTerm(JUDGE, 100.0 * value, [100.0 * v for v in ci],
                   f"{differ} response(s) where the rules' verdict differs from the judge's",
                   differ)


# ---------------------------------------------------------------- named, unmeasured


def sampling_difference(config: RunConfig, task: str) -> GapTerm | None:
    """The run's sampling against the paper's (``ovr_eval.presets``'s ``ovr``), or None when it
    is the same (a run that records none is named too)."""
    run = config.sampling_of(task)
    if not run:
        return GapTerm("sampling", None, None, "the run records no sampling (config.json)")
    preset = PRESETS[PAPER_PRESET]
    paper = preset.sampling_for(run_registry(config).get(task), SamplingConfig(), {})
    t, top_p, n = (float(run.get("temperature", 0.0)), float(run.get("top_p", 1.0)),
                   int(run.get("n", 1)))

    def describe(temp: float, p: float, k: int) -> str:
        how = "greedy (T=0)" if temp == 0 else f"T={temp:g}, top-p {p:g}"
        return f"{how}, {'one response' if k == 1 else f'avg@{k}'}"

    if (t, top_p) != (paper.temperature, paper.top_p):
        return GapTerm("sampling", None, None,
                       f"run {describe(t, top_p, n)}, paper (preset {PAPER_PRESET}) "
                       f"{describe(paper.temperature, paper.top_p, paper.n)}; "
                       f"--preset {PAPER_PRESET} removes it")
    if n != paper.n:
        return GapTerm("sampling", None, None,
                       f"avg@{n} vs the paper's avg@{paper.n} at T={t:g}: the same expected "
                       "score, only the noise differs (in the intervals)")
    return None


def _reason_name(why: str) -> str:
    """A comparability reason's term name: split, version (a column the run has no score
    for: MathVerse's Vision Only), incomplete (DynaMath's variants) or unit."""
    if why.startswith("the run used split"):
        return "split"
    if why.startswith("the run has no"):
        return "version"
    if why.startswith("reported scores are in"):
        return "unit"
    return "incomplete"


def named_differences(config: RunConfig, task: str, reasons: list[str],
                      judge_missing: bool) -> list[GapTerm]:
    """The differences a run cannot measure: why the run's result and the column are not
    comparable (``reasons``: split, version, ...), a subset, the sampling protocol, an unjudged
    run of a judged benchmark."""
    terms = [GapTerm(_reason_name(why), None, None, why) for why in reasons]
    limit = config.limit
    if limit:
        terms.append(GapTerm("subset", None, None,
                             f"the first {limit} problem(s) of the split (--limit), not all"))
    sampling = sampling_difference(config, task)
    if sampling is not None:
        terms.append(sampling)
    if judge_missing:
        terms.append(GapTerm(JUDGE, None, None,
                             "the official protocol judges; the run was not judged "
                             "(--judge MODEL)"))
    return terms


# ---------------------------------------------------------------- a column's gap


def column_records(records: Sequence[Record], bench: Benchmark | None) -> list[Record]:
    """The records a column scores: those of its ``subset:`` when it has one."""
    subset = bench.subset if bench is not None else None
    if subset is None:
        return list(records)

    def has(record: Record) -> bool:
        value = record.metadata.get(subset.key)
        values = value if isinstance(value, list) else [value]
        return subset.value in [str(v) for v in values]

    return [r for r in records if has(r)]


def explain_gap(gap: float, column_score: float, reported: float,
                rules: Sequence[Record] | None, judged: Sequence[Record] | None, view: View,
                named: list[GapTerm]) -> Gap:
    """Decompose ``gap`` (points; run minus reported) for a column whose score (fraction) is
    ``column_score``. ``rules``: the records as the task scores them; ``judged``: as judged
    (None: not judged); ``view``: which of the two the row's score rests on; ``named``: the
    differences the run cannot measure. A rule row of a judged task goes rules -> judged ->
    answered; every other row its own verdicts -> answered."""
    own = judged if view == "judged" else rules
    base = judged if judged is not None else rules  # the verdicts truncation is counted on
    own_score = linear_score(own) if own else None
    reproduces = own_score is not None and abs(own_score - column_score) <= _EXACT
    rate = answered_rate(base) if reproduces and base else None
    terms = []
    if reproduces and view == "rules" and judged and rules:
        terms.append(judge_term(rules, judged))
    if rate is None or not base:
        why = ("the run saved no records" if not own else
               "the score is no mean over responses" if not reproduces else
               "no answered response to set them against")
        counts, total = _counts(base or []), sum(_counts(base or []).values())
        terms += [GapTerm(name, 0.0, [0.0, 0.0], f"no response {kind}", 0) if not counts[kind]
                 else GapTerm(name, None, None, f"{counts[kind]} of {total} responses {kind}, "
                              f"at most {_ceiling(base or [], kind):.1f} points ({why})",
                              counts[kind])
                 for name, kind in ((TRUNCATION, "truncated"), (NO_ANSWER, "without answer"))]
        terms += named
        terms.append(GapTerm(MODEL, gap - sum(t.points or 0.0 for t in terms), None,
                             "the rest of the gap, unmeasured differences included"))
        return Gap(gap, terms)
    p, se_p, answered = rate
    p_ci = wilson_from_stderr(p, se_p, 1, answered, at_bound=answered)
    terms.append(class_term(base, "truncated", p, p_ci, TRUNCATION,
                            "response(s) hit the max-token cap"))
    terms.append(class_term(base, "without answer", p, p_ci, NO_ANSWER,
                            "complete response(s) with no extractable answer"))
    terms += named
    remainder = gap - sum(t.points for t in terms if t.points is not None)
    low, high = p_ci
    also = f"; also holds the unmeasured {', '.join(t.name for t in named)}" if named else ""
    terms.append(GapTerm(MODEL, remainder, [100.0 * low - reported, 100.0 * high - reported],
                         f"the score of the {answered} answered response(s), {100.0 * p:.1f}%, "
                         f"minus the reported {reported:g}{also}", answered))
    return Gap(gap, terms)


def _counts(records: Sequence[Record]) -> dict[str, int]:
    counts = {"truncated": 0, "without answer": 0, "answered": 0}
    for r in records:
        for j in range(len(r.correct)):
            counts[_kind(r, j)] += 1
    return counts


def run_gap(run: SavedRun, task: str, bench: Benchmark, column_score: float,
            reported: float, in_column: bool, reasons: list[str], view: View) -> Gap:
    """The gap of one ``ovr compare`` row: ``column_score`` (fraction; the column's score, or
    the headline where the run has no score for the column: ``in_column`` False) minus
    ``reported`` (points), ``reasons`` why the two are not comparable (named, unmeasured)."""
    from ovr_eval.judged import judged_view

    records = run.records(task)
    plugin = run_registry(run.config).get(task)  # its --task-dir plugins too
    scope = bench if in_column else None

    def scored(view_records: list[Record]) -> list[Record] | None:
        if not view_records:
            return None
        try:
            official = plugin.official(view_records) if plugin is not None else view_records
        except (KeyError, TypeError, ValueError) as error:
            raise UserError(f"{run.path}: a {task} record is malformed: {error}") from None
        return [r for r in column_records(official, scope) if r.correct] or None

    rules = scored(records or [])
    judged = scored(judged_view(records or []))
    named = named_differences(run.config, task, reasons,
                              judge_missing=plugin is not None and plugin.judge is not None
                              and judged is None)
    gap = 100.0 * column_score - reported
    return explain_gap(gap, column_score, reported, rules, judged, view, named)


def _ceiling(records: Sequence[Record], kind: str) -> float:
    """The most points one class of responses can cost: Σ w (1 - c) over it (percent)."""
    scored = [r for r in records if r.correct]
    return 100.0 * sum(sum(1 - c for j, c in enumerate(r.correct) if _kind(r, j) == kind)
                       / len(r.correct) for r in scored) / max(len(scored), 1)
