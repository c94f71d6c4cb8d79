"""``ovr compare``: runs against the paper's reported scores and against each other."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Annotated, Any

import typer

from ovr_eval.cli.options import AsJson
from ovr_eval.cli.output import console, print_table


def compare_command(
    runs: Annotated[list[Path], typer.Argument(
        help="run folders written by `ovr eval`, or one sweep folder")],
    reference: Annotated[str, typer.Option(help="a model of reports/reported.yaml")] = "OVR-7B-RL",
    as_json: AsJson = False,
) -> None:
    """Runs against the paper's reported scores; with several runs, the first against the rest;
    a sweep folder (OUT of `ovr sweep`): the curve over checkpoints, each against the one before."""
    from ovr_eval.compare import (
        compare_runs,
        compare_to_reference,
        gap_table,
        reference_table,
        runs_table,
    )
    from ovr_eval.judge_views import with_judged_rows
    from ovr_eval.reference import load_reference
    from ovr_eval.runs import load_run
    from ovr_eval.sweep import sweep_runs

    if len(runs) == 1 and (steps := sweep_runs(runs[0])) is not None:
        from ovr_eval.cli.sweep_tables import compare_sweep

        compare_sweep([load_run(path) for path in steps], console, as_json)
        return
    loaded = [load_run(path) for path in runs]
    reported = load_reference()
    output: dict[str, Any] = {"reference": {}, "runs": {},
                              "partial": {str(r.path): r.partial for r in loaded if r.partial}}
    for run in loaded:
        if run.partial and not as_json:
            console.print(f"[yellow]partial:[/] {run.path} is unfinished ("
                          f"{'; '.join(run.partial)}); its scores cover the saved samples",
                          highlight=False)
        rows = with_judged_rows(run, compare_to_reference(run, reference, reported), reference)
        output["reference"][str(run.path)] = [asdict(r) for r in rows]
        if not as_json:
            mark = " (partial)" if run.partial else ""
            print_table(reference_table(rows, f"{run.path}{mark} vs {reference} (reported)"))
            print_table(gap_table(rows, f"{run.path}{mark}: where the gap to {reference} "
                                  "comes from"))
    for other in loaded[1:]:
        rows = compare_runs(loaded[0], other)
        output["runs"][f"{other.path} - {loaded[0].path}"] = [asdict(r) for r in rows]
        if not as_json:
            print_table(runs_table(rows, f"{other.path} minus {loaded[0].path}"))
    if as_json:
        print(json.dumps(output, indent=2))

