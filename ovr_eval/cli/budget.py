"""``ovr budget``: a run's score at every smaller token budget, as a table or JSON, saved as
the run's budget.json."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from ovr_eval.cli.options import AsJson, TaskDirs
from ovr_eval.types import UserError


def parse_budgets(value: str | None) -> list[int] | None:
    """'256,512,1024' into [256, 512, 1024]; None: the default grid."""
    if not value:
        return None
    try:
        return [int(v) for v in value.split(",") if v.strip()]
    except ValueError:
        raise UserError(f"--budgets {value!r}: expected whole numbers, e.g. 256,512,1024"
                        ) from None


def _score(entry: dict[str, Any]) -> str:
    """A summary as "41.0 [35.2-47.1] (n)", or "-" over no responses."""
    if entry.get("score") is None:
        return "-"
    ci = entry.get("ci95") or [0.0, 0.0]
    n = entry.get("responses", entry.get("n"))
    return f"{100 * entry['score']:.1f} [{100 * ci[0]:.1f}-{100 * ci[1]:.1f}] ({n})"


def budget_table(task: str, curve: dict[str, Any]) -> Table:
    """One task's curve: per budget the score with its 95% interval, the share truncated, and
    the finished and truncated responses' scores (responses in brackets)."""
    table = Table(title=f"{task}: score by token budget (the run's: {curve['max_tokens']})")
    for column in ("budget", "score [95% CI]", "truncated %", "finished [95% CI] (responses)",
                   "truncated [95% CI] (responses)"):
        table.add_column(column, justify="right")
    for point in curve["points"]:
        table.add_row(str(point["budget"]), _score({**point, "responses": point["n"]}),
                      f"{100 * point['truncated_fraction']:.0f}", _score(point["finished"]),
                      _score(point["truncated"]))
    return table


def budget_command(
    run: Annotated[Path, typer.Argument(help="a run folder written by `ovr eval`")],
    tasks: Annotated[str | None, typer.Option(
        help="comma-separated tasks of the run (default: all)")] = None,
    budgets: Annotated[str | None, typer.Option(
        help="comma-separated budgets in tokens, each at most the run's --max-tokens "
        "(default: 16, 32, 64, ... and the run's own)")] = None,
    tokenizer: Annotated[str | None, typer.Option(
        help="tokenizer to decode cut responses (default: the run's model)")] = None,
    task_dir: TaskDirs = None,
    as_json: AsJson = False,
) -> None:
    """Score vs token budget from one run: every response cut at each budget and re-graded
    (exact for greedy or seeded sampling), split into finished and truncated responses; saved
    as RUN/budget.json, which `ovr report` charts."""
    from ovr_eval.budget_run import run_curves
    from ovr_eval.runs import RunDir

    console = Console(soft_wrap=True)
    names = [t.strip() for t in tasks.split(",") if t.strip()] if tasks else None
    curves = run_curves(run, names, parse_budgets(budgets), tokenizer, task_dir or [])
    saved = True
    try:
        RunDir(run).write_budget(curves)
    except UserError as error:  # a read-only run folder still gets its answer
        saved = False
        Console(stderr=True, soft_wrap=True).print(f"[yellow]warning:[/] {error}",
                                                   highlight=False)
    if as_json:
        print(json.dumps(curves, indent=2))
        return
    from ovr_eval.cli.output import print_table

    for task, curve in curves["tasks"].items():
        print_table(budget_table(task, curve), console)
        if curve["approximate_texts"]:
            console.print(f"[yellow]note:[/] {task}: {curve['approximate_texts']} saved "
                          "response(s) differ from the decoding of their token ids; their cut "
                          f"texts are approximate (tokenizer: {curves['tokenizer']})",
                          highlight=False)
    if saved:
        console.print(f"saved: {RunDir(run).budget_path} (charted by `ovr report`)")
