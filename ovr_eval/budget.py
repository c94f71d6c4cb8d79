"""Score as a function of the token budget, from one run (``ovr budget``).

With greedy decoding, or sampling seeded per request, the first b tokens of a response do not
depend on ``--max-tokens``: a run at budget M holds the responses of every budget b <= M. Each
saved response is cut at b of its token ids (``Record.token_ids``), decoded with the run's
tokenizer, graded as ``ovr eval`` grades (``make_record``'s ``grade_many``) and scored with the
task's own metric (``ovr_eval.task_registry.score_records``): the score a run at ``--max-tokens b``
would have had. A response whose stop token lies within b keeps its text and verdict; one cut
short becomes ``"length"`` with no answer unless its first b tokens hold one.

Every point also splits the responses into finished and truncated ones, each scored by the
task's per-response verdicts (``Task.official``) with ``metrics.summarize``'s intervals.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from ovr_eval.metrics import summarize
from ovr_eval.records import Record
from ovr_eval.task_registry import discover, score_records
from ovr_eval.types import UserError
from ovr_eval.verify import DEFAULT_TIMEOUT_S, grade_many

Decode = Callable[[list[int]], str]
SMALLEST_BUDGET = 16  # the default grid: powers of two from here up to the run's budget


def default_budgets(max_tokens: int) -> list[int]:
    """Powers of two from SMALLEST_BUDGET below ``max_tokens``, then ``max_tokens`` itself."""
    budgets, b = [], SMALLEST_BUDGET
    while b < max_tokens:
        budgets.append(b)
        b *= 2
    return [*budgets, max_tokens]


def check_budgets(budgets: Sequence[int], max_tokens: int, task: str) -> list[int]:
    """The budgets in increasing order, each once; one line for one the run cannot answer."""
    bad = [b for b in budgets if b < 1 or b > max_tokens]
    if bad:
        raise UserError(f"{task}: budget {bad[0]} is outside 1..{max_tokens}: a run at "
                        f"--max-tokens {max_tokens} holds only the scores of smaller budgets")
    return sorted(set(budgets))


def missing_token_ids(records: Sequence[Record]) -> int:
    """How many records lack a response's token ids (saved before records kept them, or by an
    engine that does not give them, such as openai)."""
    return sum(1 for r in records
               if r.token_ids is None or len(r.token_ids) != len(r.responses))


def undecodable(records: Sequence[Record], decode: Decode) -> int:
    """Responses whose saved text is not the decoding of their token ids: their cut texts are
    approximate (another detokeniser, such as vLLM's incremental one, wrote them)."""
    return sum(1 for r in records for text, ids in zip(r.responses, r.token_ids or [],
                                                       strict=False) if decode(ids) != text)


def cut_records(records: Sequence[Record], budget: int, decode: Decode,
                timeout_s: float = DEFAULT_TIMEOUT_S,
                cache: dict[Any, Any] | None = None) -> list[Record]:
    """The records as a run at ``--max-tokens budget`` would have saved them: every response
    longer than ``budget`` tokens cut there, re-graded and marked ``"length"``. Records must
    hold token ids (:func:`missing_token_ids`). ``cache``: verdicts shared between calls."""
    cuts: list[tuple[int, int, str]] = []  # (record, response, cut text)
    for r, record in enumerate(records):
        for i, ids in enumerate(record.token_ids or []):
            if len(ids) > budget:
                cuts.append((r, i, decode(ids[:budget])))
    verdicts = grade_many([(text, records[r].gold, records[r].choices,
                            records[r].answer_type == "multiple_choice")
                           for r, _, text in cuts], timeout_s=timeout_s, cache=cache)
    changed: dict[int, dict[int, Any]] = {}
    for (r, i, text), verdict in zip(cuts, verdicts, strict=True):
        changed.setdefault(r, {})[i] = (text, verdict)
    out = list(records)
    for r, answers in changed.items():
        old = records[r]
        fields: dict[str, Any] = {
            "responses": list(old.responses), "extracted": list(old.extracted),
            "correct": list(old.correct), "methods": list(old.methods),
            "errors": list(old.errors), "completion_tokens": list(old.completion_tokens),
            "finish_reasons": list(old.finish_reasons)}
        token_ids = list(old.token_ids or [])
        for i, (text, verdict) in answers.items():
            for name, value in (("responses", text), ("extracted", verdict.extracted),
                                ("correct", verdict.correct), ("methods", verdict.method),
                                ("errors", verdict.error), ("completion_tokens", budget),
                                ("finish_reasons", "length")):
                if i < len(fields[name]):
                    fields[name][i] = value
            token_ids[i] = token_ids[i][:budget]
        # Math-Verify's and a judge's verdicts were on the whole responses: not carried over
        out[r] = replace(old, token_ids=token_ids, math_verify=None, judge=None, **fields)
    return out


def finish_split(name: str, records: Sequence[Record],
                 extra_dirs: Sequence[Path] = ()) -> dict[str, dict[str, Any]]:
    """The score of the finished and of the truncated responses (by the task's per-response
    verdicts, ``Task.official``): each ``metrics.summarize``'s keys plus ``responses``."""
    task = discover(extra_dirs).get(name)
    graded = task.official(list(records)) if task is not None else list(records)
    split: dict[str, dict[str, Any]] = {}
    for kind in ("finished", "truncated"):
        units = {r.id: [1.0 if c else 0.0 for c, f in zip(r.correct, r.finish_reasons,
                                                          strict=False)
                        if (f == "length") == (kind == "truncated")] for r in graded}
        split[kind] = {"responses": sum(len(v) for v in units.values()), **summarize(units)}
    return split


def budget_point(name: str, records: Sequence[Record], budget: int,
                 extra_dirs: Sequence[Path] = ()) -> dict[str, Any]:
    """One point of the curve from records cut at ``budget``: the task's headline (score,
    errors, intervals), the share truncated and the finished / truncated split."""
    scores = score_records(name, list(records), extra_dirs)
    headline = {k: scores.get(k) for k in ("score", "stderr", "ci95", "n")}
    tokens = scores.get("tokens") or {}
    return {"budget": budget, **headline,
            "truncated_fraction": tokens.get("truncated_fraction", 0.0),
            "mean_completion_tokens": tokens.get("mean_completion_tokens", 0.0),
            **finish_split(name, records, extra_dirs)}


def budget_curve(name: str, records: Sequence[Record], budgets: Sequence[int],
                 decode: Decode, extra_dirs: Sequence[Path] = (),
                 timeout_s: float = DEFAULT_TIMEOUT_S) -> list[dict[str, Any]]:
    """The task's score at each budget (see the module docstring), smallest first."""
    cache: dict[Any, Any] = {}
    return [budget_point(name, cut_records(records, b, decode, timeout_s, cache), b,
                         extra_dirs) for b in sorted(budgets)]
