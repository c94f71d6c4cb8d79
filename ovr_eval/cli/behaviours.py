"""``ovr behaviours RUN``: cognitive behaviours in a run's responses (see ovr_eval.behaviours)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from ovr_eval.behaviours import BEHAVIOURS, behaviours_for_run
from ovr_eval.cli.options import AsJson
from ovr_eval.run_files import write_json_atomic
from ovr_eval.types import UserError

REPORT_FILE = "behaviours.json"


def _pct(value: float) -> str:
    return f"{100 * value:.1f}"


def task_table(name: str, summary: dict[str, Any]) -> Table:
    """Rows: behaviours; columns: frequency (all, correct, incorrect) and mean count."""
    n = summary["responses"]
    table = Table(title=f"{name}: {n['all']} responses ({n['correct']} correct, "
                        f"{n['incorrect']} incorrect)")
    for column in ("behaviour", "kind", "freq %", "mean count", "freq % correct",
                   "freq % incorrect"):
        table.add_column(column, justify="left" if column in ("behaviour", "kind") else "right")
    for b in BEHAVIOURS:
        table.add_row(b.name, b.kind, _pct(summary["all"][b.name]["frequency"]),
                      f"{summary['all'][b.name]['mean_count']:.2f}",
                      _pct(summary["correct"][b.name]["frequency"]) if n["correct"] else "-",
                      _pct(summary["incorrect"][b.name]["frequency"]) if n["incorrect"] else "-")
    return table


def training_table(training: dict[str, Any]) -> Table:
    """Rows: training steps; columns: mean reward and each behaviour's frequency."""
    table = Table(title=f"behaviour frequency (%) over training steps ({training['source']})")
    for column in ("step", "rollouts", "mean reward", *(b.name for b in BEHAVIOURS)):
        table.add_column(column, justify="right")
    for row in training["steps"]:
        table.add_row(str(row["step"]), str(row["responses"]["all"]), f"{row['mean_reward']:.3f}",
                      *(_pct(row["all"][b.name]["frequency"]) for b in BEHAVIOURS))
    return table


def behaviours_command(
    run: Annotated[Path, typer.Argument(help="run folder written by `ovr eval` (or training)")],
    as_json: AsJson = False,
    save: Annotated[bool, typer.Option(help=f"write RUN/{REPORT_FILE}")] = True,
) -> None:
    """Cognitive behaviours (backtracking, verification, visual reflection, ...) per task, per
    correct / incorrect response, and per training step."""
    report = behaviours_for_run(run)
    console = Console(soft_wrap=True)
    if save:
        try:
            write_json_atomic(run / REPORT_FILE, report)
        except UserError as error:  # a read-only run (someone else's, an archive): show only
            Console(stderr=True, soft_wrap=True).print(
                f"[yellow]warning:[/] not saved: {escape(str(error))} (--no-save skips it)",
                highlight=False)
            save = False
    if as_json:
        print(json.dumps(report, indent=2))
        return
    for name, summary in report["tasks"].items():
        console.print(task_table(name, summary))
    if report["overall"] is not None and len(report["tasks"]) > 1:
        console.print(task_table("all tasks", report["overall"]))
    if report["training"] is not None:
        console.print(training_table(report["training"]))
    console.print(f"method: {report['method']}")
    if save:
        console.print(f"written: {run / REPORT_FILE}")
