"""What ``ovr eval`` prints when a run ends: the score table (with its "no marker", check
failure and second-opinion columns) and the warnings under it (incomplete tasks, truncation,
where Math-Verify and the rules disagree)."""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import suppress
from pathlib import Path
from typing import Any

from rich.table import Table

from ovr_eval.metrics import unmarked
from ovr_eval.records import RunResults
from ovr_eval.types import UserError

TRUNCATION_WARNING = 0.10  # warn when more responses than this hit --max-tokens


def summary_table(results: RunResults, title: str,
                  summary_subsets: Mapping[str, tuple[str, ...]] | None = None) -> Table:
    """The score table; under a task, the subsets its ``Task.summary_subsets`` names
    (``summary_subsets``: task name → subset keys)."""
    table = Table(title=title)
    failures = any(r.check_failures for r in results.tasks.values())
    second = any(r.math_verify for r in results.tasks.values())
    no_marker = any(unmarked(r.answer_sources) for r in results.tasks.values())
    columns = ["task", "split", "n", "accuracy", "95% CI", "pass@k", "truncated %", "skipped",
               "mean tokens"]
    extra = ((["checks failed"] if failures else []) + (["rules vs MV"] if second else [])
             + (["no marker"] if no_marker else []))
    for column in columns + extra:
        table.add_column(column, justify="left" if column in ("task", "split") else "right")
    for name, r in results.tasks.items():
        ci = r.ci95 or [0, 0]
        passk = r.pass_at_k or {}
        best = max(passk, key=int) if passk else None
        tokens = r.tokens or {}
        truncated = tokens.get("truncated_fraction", 0.0)
        table.add_row(
            name, r.split or "", str(r.n),
            f"{100 * r.score:.1f}" if r.score is not None else "-",
            f"{100 * ci[0]:.1f}-{100 * ci[1]:.1f}",
            f"@{best}: {100 * passk[best]:.1f}" if best else "-",
            f"[yellow]{100 * truncated:.0f}[/]" if truncated > TRUNCATION_WARNING
            else f"{100 * truncated:.0f}",
            str(r.skipped.get("count", 0)),
            f"{tokens.get('mean_completion_tokens', 0):.0f}",
            *([_failures_cell(r.check_failures)] if failures else []),
            *([_second_opinion_cell(r.math_verify)] if second else []),
            *([str(unmarked(r.answer_sources))] if no_marker else []),
        )
        for key, groups in (r.subsets or {}).items():
            if key in (summary_subsets or {}).get(name, ()):
                for value, g in groups.items():
                    table.add_row(f"  {value}", "", str(g["n"]), f"{100 * g['score']:.1f}",
                                  "", "", "", "", "", *([""] * len(extra)))
    return table


def _failures_cell(failures: dict[str, int]) -> str:
    """Responses graded wrong because their check did not finish ("3 timeout")."""
    return ", ".join(f"{n} {reason}" for reason, n in sorted(failures.items())) or "0"


def _second_opinion_cell(entry: dict[str, Any] | None) -> str:
    """Responses the rules and Math-Verify grade differently ("3 (MV only 2)": Math-Verify
    credits 2 of them, the rules 1), or "-" where Math-Verify was not asked."""
    if not entry:
        return "-"
    disagree, theirs = entry.get("disagree", 0), entry.get("math_verify_only", 0)
    if not disagree:
        return "0"
    return f"[yellow]{disagree}[/] (MV only {theirs})" if theirs else str(disagree)


def second_opinion_notes(results: RunResults) -> list[str]:
    """One line per task where Math-Verify credits responses the rules do not: a sign that
    an answer format the rules miss may be costing score."""
    lines = []
    for name, r in results.tasks.items():
        theirs = (r.math_verify or {}).get("math_verify_only", 0)
        if theirs:
            lines.append(f"{name}: Math-Verify credits {theirs} response(s) the rules do not; "
                         "see them in `ovr report` (filter: rules and Math-Verify disagree)")
    return lines


def incomplete_warnings(results: RunResults) -> list[str]:
    """One line per task whose result covers less than the paper's number does (DynaMath with
    fewer than its 10 variants a seed)."""
    from ovr_eval.reference import incomplete

    return [f"{name}: {why} (results.json: complete: false); its score is not the paper's "
            f"number and is not compared with it"
            for name, r in results.tasks.items() if (why := incomplete(r)) is not None]


def truncation_warnings(results: RunResults, folder: Path) -> list[str]:
    """One line per task where many responses stopped at the token limit, saying what that
    costs (``budget_run.truncation_note``: the score at half the budget, the most a doubled
    one could add)."""
    from ovr_eval.budget import missing_token_ids
    from ovr_eval.budget_run import load_decoder, truncation_note
    from ovr_eval.run_config import RunConfig
    from ovr_eval.runs import RunDir

    names = [name for name, r in results.tasks.items()
             if (r.tokens or {}).get("truncated_fraction", 0.0) > TRUNCATION_WARNING]
    if not names:
        return []
    run_dir = RunDir(folder)
    config = run_dir.read_config() or RunConfig()
    decode = None
    if any(not missing_token_ids(run_dir.records(name)) for name in names):
        with suppress(UserError):  # no tokenizer: the note leaves out the half-budget score
            decode = load_decoder(config)[0]
    lines = []
    for name in names:
        try:
            lines.append(f"{name}: {truncation_note(run_dir, name, config, decode)}")
        except UserError as error:  # e.g. a run without --max-tokens in its config
            lines.append(f"{name}: many responses hit the token limit ({error})")
    return lines
