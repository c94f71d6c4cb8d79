"""``ovr report``: one HTML page of runs (leaderboard, charts, sample browser)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console


def report_command(
    runs: Annotated[list[Path], typer.Argument(
        help="run folders written by `ovr eval` (a sweep folder: each checkpoint's)")],
    output: Annotated[Path, typer.Option("-o", "--output", help="HTML file to write")
                      ] = Path("leaderboard.html"),
    reference_models: Annotated[list[str] | None, typer.Option(
        "--reference", help="reported model to list, repeatable (default: every model with a "
        "score on a shown benchmark; 'none': no reported model)")] = None,
    max_samples: Annotated[int, typer.Option(
        min=0, help="samples per task and run in the sample browser")] = 200,
) -> None:
    """One self-contained HTML page: leaderboard against the paper, charts, sample browser."""
    from ovr_eval.report import write_report
    from ovr_eval.sweep import sweep_runs

    console = Console(soft_wrap=True)
    runs = [path for run in runs for path in (sweep_runs(run) or [run])]  # a sweep: its runs
    written = write_report(runs, output, reference_models, max_samples)
    for warning in written.warnings:
        console.print(f"[yellow]warning:[/] {warning}", markup=True, highlight=False)
    left = f", {written.left_out} left out (--max-samples)" if written.left_out else ""
    math = "KaTeX inlined" if written.katex else "no KaTeX (run scripts/setup-browser.sh)"
    console.print(f"wrote {written.path} ({written.bytes / 1e6:.2f} MB): {written.samples} "
                  f"samples{left}; {math}")
