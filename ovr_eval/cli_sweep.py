"""``ovr sweep RUN``: every checkpoint of a training run on one engine (``ovr eval`` with
several checkpoints as ``--model``); the table of scores over checkpoints."""

from __future__ import annotations

from collections.abc import Sequence
from itertools import pairwise
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from ovr_eval.records import RunResults


def sweep_command(
    run: Annotated[str, typer.Argument(
        help="a training run folder (its checkpoints/step-*), a glob, or A,B,... folders")],
    tasks: Annotated[str | None, typer.Option(help="comma-separated task or suite names")
                     ] = None,
    out: Annotated[Path | None, typer.Option(
        help="sweep folder: one run folder per checkpoint (default RUN/sweep)")] = None,
    engine: Annotated[str | None, typer.Option(help="vllm | hf (default: vllm when "
                                               "installed)")] = None,
    limit: Annotated[int | None, typer.Option(help="first N samples of each task")] = None,
    samples: Annotated[int | None, typer.Option(help="responses per prompt")] = None,
    temperature: Annotated[float | None, typer.Option(help="sampling temperature")] = None,
    max_tokens: Annotated[int | None, typer.Option(help="new tokens per response")] = None,
    seed: Annotated[int, typer.Option(help="run seed")] = 0,
    preset: Annotated[str | None, typer.Option(help="a paper's sampling per benchmark")
                      ] = None,
    prompt: Annotated[str | None, typer.Option(help="prompt template name or .j2 path")
                      ] = None,
    split: Annotated[list[str] | None, typer.Option(help="TASK=SPLIT, repeatable")] = None,
    data_dir: Annotated[Path | None, typer.Option(help="local benchmark files")] = None,
    dtype: Annotated[str, typer.Option(help="weight dtype for vllm/hf")] = "auto",
    max_model_len: Annotated[int | None, typer.Option(help="vLLM context length")] = None,
    batch_size: Annotated[int, typer.Option(min=1, help="hf engine batch size")] = 16,
    deterministic: Annotated[bool, typer.Option(
        "--deterministic", help="records independent of batching and resume")] = False,
    verbose: Annotated[bool, typer.Option(
        "--verbose", help="the engine's own output on the console")] = False,
) -> None:
    """Evaluate many checkpoints on one engine (`ovr eval --help` lists every option)."""
    from ovr_eval.cli import eval_command
    from ovr_eval.tasks import DEFAULT_TASKS

    eval_command(model=run, tasks=tasks or ",".join(DEFAULT_TASKS), out=out, engine=engine,
                 limit=limit, samples=samples, temperature=temperature, max_tokens=max_tokens,
                 seed=seed, preset=preset, prompt=prompt, split=split, data_dir=data_dir,
                 dtype=dtype, max_model_len=max_model_len, batch_size=batch_size,
                 deterministic=deterministic, verbose=verbose)


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
    from ovr_eval.cli import print_table

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

    from ovr_eval.cli import print_table
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
