"""``ovr grade``: responses from any harness graded as ``ovr eval`` grades them."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ovr_eval.cli.groups import option_groups
from ovr_eval.cli.judge_options import JudgeArgs
from ovr_eval.cli.options import TaskSplit
from ovr_eval.cli.output import console
from ovr_eval.verify import DEFAULT_TIMEOUT_S, DEFAULT_WORKERS


@option_groups()
def grade_command(
    sources: Annotated[list[Path], typer.Argument(
        help="JSONL files: one {response | prediction, answer, choices, multiple_choice} a line")],
    output: Annotated[Path | None, typer.Option(
        "-o", "--output", help="graded JSONL to write (a folder for several inputs; default: "
        "<input>.graded.jsonl beside each input)")] = None,
    task: Annotated[str | None, typer.Option(
        help="grade as `ovr eval` grades this task: its choices, official rules and metric")
    ] = None,
    split: TaskSplit = None,
    data_dir: Annotated[Path | None, typer.Option(
        help="the task's data: lines that lack gold, choices or metadata take them from the "
        "sample of the same id")] = None,
    workers: Annotated[int, typer.Option(help="verifier worker processes")] = DEFAULT_WORKERS,
    timeout: Annotated[float, typer.Option(
        help="CPU seconds allowed per symbolic check")] = DEFAULT_TIMEOUT_S,
    second_opinion: Annotated[bool, typer.Option(
        "--second-opinion/--no-second-opinion",
        help="Math-Verify grades every line too (math_verify)")] = True,
    *, judging: JudgeArgs,
) -> None:
    """Grade responses from any harness: adds extracted, correct, method, error and math_verify
    to each line (and task_correct with --task), and prints each file's score."""
    from ovr_eval.grading import grade_files, grades_table
    from ovr_eval.task_registry import resolve

    if judging.judge is not None:  # the task is checked before the judge's server is contacted
        from ovr_eval.judge_files import check_grade_task

        check_grade_task(task)
    judge = judging.options()
    plugin = resolve(task)[0] if task else None
    before_write = None
    if judge is not None and task is not None:  # the judge's fields join each file's lines
        from functools import partial

        from ovr_eval.judge_files import judge_lines

        before_write = partial(judge_lines, task=task, options=judge, console=console)
    grades = grade_files(sources, output, workers=workers, timeout_s=timeout, console=console,
                         task=plugin, split=split, data_dir=data_dir, before_write=before_write,
                         second_opinion=second_opinion)
    console.print(grades_table(grades, task))

