"""The tables of a sweep (``ovr sweep RUN``, ``ovr eval`` with several checkpoints as
``--model``): its scores over checkpoints, and ``ovr compare`` of a sweep folder."""

from __future__ import annotations

from collections.abc import Sequence
from itertools import pairwise
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from ovr_eval.records import RunResults


def _loaded(folder: Path) -> str:
    """How the checkpoint's weights reached the engine, from its config.json."""
    import json

    try:
        info = json.loads((folder / "config.json").read_text()).get("engine_info") or {}
    except (OSError, ValueError):
        return "-"
    sweep = info.get("sweep") or {}
    gap = sweep.get("logprob_gap")
    how = sweep.get("loaded_by", "-")
    return f"{how}, gap {gap:.2g}" if gap is not None else how


def print_sweep(done: Sequence[tuple[Path, RunResults]], options: Any, console: Console
                ) -> None:
    """One row per checkpoint: each task's score and how its weights were loaded."""
    from ovr_eval.cli.output import print_table

    names = list(dict.fromkeys(t for _, r in done for t in r.tasks))
    table = Table(title=f"sweep of {len(done)} checkpoints ({options.out})")
    for column in ["checkpoint", *names, "weights loaded by"]:
        table.add_column(column, justify="left" if column == "checkpoint" else "right")
    for checkpoint, results in done:
        cells = []
        for name in names:
            r = results.tasks.get(name)
            cells.append("-" if r is None or r.score is None else f"{100 * r.score:.1f}")
        table.add_row(checkpoint.name, *cells, _loaded(Path(options.out) / checkpoint.name))
    print_table(table, console)
    console.print(f"run folders: {options.out}/<checkpoint>  summary: "
                  f"{Path(options.out) / 'sweep.json'}")


def compare_sweep(runs: Sequence[Any], console: Console, as_json: bool = False) -> None:
    """The curve over a sweep's checkpoints (``SavedRun``s in order): each task's score per
    checkpoint, then each checkpoint against the one before (paired intervals)."""
    import json
    from dataclasses import asdict

    from ovr_eval.cli.output import print_table
    from ovr_eval.compare import compare_runs, runs_table

    pairs = {f"{b.path.name} - {a.path.name}": compare_runs(a, b)
             for a, b in pairwise(runs)}
    if as_json:
        print(json.dumps({"curve": [{"run": str(r.path), "partial": r.partial,
                                     "scores": {t: x.score for t, x in r.tasks.items()}}
                                    for r in runs],
                          "steps": {k: [asdict(r) for r in v] for k, v in pairs.items()}},
                         indent=2))
        return
    names = list(dict.fromkeys(t for r in runs for t in r.tasks))
    table = Table(title=f"{len(runs)} checkpoints ({runs[0].path.parent if runs else ''})")
    for column in ["checkpoint", *names]:
        table.add_column(column, justify="left" if column == "checkpoint" else "right")
    for run in runs:
        cells = [f"{100 * run.tasks[n].score:.1f}" if n in run.tasks
                 and run.tasks[n].score is not None else "-" for n in names]
        table.add_row(run.path.name + (" (partial)" if run.partial else ""), *cells)
    print_table(table, console)
    for title, rows in pairs.items():
        print_table(runs_table(rows, title.replace(" - ", " minus ")), console)
