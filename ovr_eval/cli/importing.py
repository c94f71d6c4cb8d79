"""``ovr import``: another harness's responses regraded into a run folder."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from ovr_eval.cli.judge_options import (
    JudgeBaseUrl,
    JudgeConcurrency,
    JudgeEngine,
    JudgeMaxTokens,
    JudgeMode,
    JudgeModel,
    judge_options,
)
from ovr_eval.judge import JudgeOptions


def import_command(
    kind: Annotated[str, typer.Argument(
        metavar="lm-eval|vlmevalkit", help="the harness that wrote the files")],
    files: Annotated[list[Path], typer.Argument(
        help="lm-eval --log_samples JSONL, or VLMEvalKit predictions (.xlsx/.tsv/.json)")],
    task: Annotated[str, typer.Option(help="the ovr task the files answer (see `ovr tasks`)")],
    out: Annotated[Path, typer.Option(help="run folder to write")],
    split: Annotated[str | None, typer.Option(help="the task's split (default: its own)")] = None,
    data_dir: Annotated[Path | None, typer.Option(
        help="local benchmark files (<dir>/<task>/...); also $OVR_DATA_DIR")] = None,
    model: Annotated[str | None, typer.Option(
        help="model name to record (default: read from the files)")] = None,
    task_dir: Annotated[list[Path] | None, typer.Option(help="extra task plugin folder")] = None,
    judge: JudgeModel = None, judge_engine: JudgeEngine = None,
    judge_base_url: JudgeBaseUrl = JudgeOptions.base_url, judge_mode: JudgeMode = JudgeOptions.mode,
    judge_concurrency: JudgeConcurrency = JudgeOptions.concurrency,
    judge_max_tokens: JudgeMaxTokens = JudgeOptions.max_tokens,
) -> None:
    """Regrade another harness's responses into a run folder that `ovr compare` and
    `ovr report` read; re-running the same command resumes."""
    from ovr_eval.importers import import_run

    console = Console()
    judging = judge_options(judge, judge_engine, judge_base_url, judge_mode, judge_concurrency,
                            judge_max_tokens)
    summary = import_run(kind, files, task, out, split=split, data_dir=data_dir, model=model,
                         judge=judging, task_dirs=task_dir or [], console=console)
    for name, result in summary.tasks.items():
        imported = result.imported
        if not imported:
            continue
        how = ", ".join(f"{n} by {k}" for k, n in imported["matched_by"].items())
        score = result.score
        console.print(
            f"{name}: {imported['matched']} of {imported['rows']} row(s) matched ({how}); "
            f"{imported['unmatched']} unmatched, {imported['duplicates']} duplicate(s); "
            f"accuracy {'-' if score is None else f'{100 * score:.1f}'} over {result.n}"
            f" sample(s) -> {out}")
