"""``ovr import``: another harness's responses regraded into a run folder."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from ovr_eval.cli.groups import option_groups
from ovr_eval.cli.judge_options import JudgeArgs
from ovr_eval.cli.options import DataDir, TaskDirs, TaskSplit


@option_groups()
def import_command(
    kind: Annotated[str, typer.Argument(
        metavar="lm-eval|vlmevalkit", help="the harness that wrote the files")],
    files: Annotated[list[Path], typer.Argument(
        help="lm-eval --log_samples JSONL, or VLMEvalKit predictions (.xlsx/.tsv/.json)")],
    task: Annotated[str, typer.Option(help="the ovr task the files answer (see `ovr tasks`)")],
    out: Annotated[Path, typer.Option(help="run folder to write")],
    split: TaskSplit = None,
    data_dir: DataDir = None,
    model: Annotated[str | None, typer.Option(
        help="model name to record (default: read from the files)")] = None,
    task_dir: TaskDirs = None,
    *, judging: JudgeArgs,
) -> None:
    """Regrade another harness's responses into a run folder that `ovr compare` and
    `ovr report` read; re-running the same command resumes."""
    from ovr_eval.importers import import_run

    console = Console()
    summary = import_run(kind, files, task, out, split=split, data_dir=data_dir, model=model,
                         judge=judging.options(), task_dirs=task_dir or [], console=console)
    for name, result in summary.tasks.items():
        imported = result.imported
        if not imported:
            continue
        score = result.score
        console.print(
            f"{name}: {imported.describe()}; "
            f"accuracy {'-' if score is None else f'{100 * score:.1f}'} over {result.n}"
            f" sample(s) -> {out}")
