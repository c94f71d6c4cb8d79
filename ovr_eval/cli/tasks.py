"""``ovr tasks``: the benchmarks and the suites that group them."""

from __future__ import annotations

from rich.table import Table

from ovr_eval.cli.options import TaskDirs
from ovr_eval.cli.output import print_table


def tasks_command(
    task_dir: TaskDirs = None,
) -> None:
    """List the available benchmarks and the suites that group them."""
    from ovr_eval.task_registry import discover, suites

    table = Table(title="tasks")
    for column in ("name", "hub dataset", "splits", "modality", "description"):
        table.add_column(column, overflow="fold")
    for name, task in sorted(discover(task_dir or []).items()):
        table.add_row(name, task.hub_id, ", ".join(task.splits), task.modality, task.description)
    print_table(table)
    groups = suites(task_dir or [])
    if groups:
        table = Table(title="suites (--tasks NAME runs every task in it)")
        table.add_column("suite", no_wrap=True)
        table.add_column("tasks", overflow="fold")
        for name, members in sorted(groups.items()):
            table.add_row(name, ", ".join(members))
        print_table(table)

