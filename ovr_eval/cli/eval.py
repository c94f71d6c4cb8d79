"""``ovr eval``: a model on benchmarks (or a sweep of checkpoints on one engine); its options
are the groups of :mod:`ovr_eval.cli.eval_options`."""

from __future__ import annotations

import sys
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from ovr_eval.cli.eval_options import (
    DEMO_MAX_MODEL_LEN,
    DEMO_MAX_TOKENS,
    EVAL_OPTION_ORDER,
    DataParallel,
    EngineArgs,
    RunArgs,
    SamplingArgs,
    SecondOpinion,
    Shard,
    Verbose,
    parse_shard,
)
from ovr_eval.cli.groups import option_groups
from ovr_eval.cli.judge_options import JudgeArgs
from ovr_eval.cli.output import console, print_table
from ovr_eval.eval_summary import (
    incomplete_warnings,
    second_opinion_notes,
    summary_table,
    truncation_warnings,
)
from ovr_eval.types import UserError

if TYPE_CHECKING:
    from ovr_eval.evaluate import Evaluation
    from ovr_eval.records import RunResults

PAPER_SUITES = ("ovr-language", "ovr-visual", "ovr-all")


@option_groups(order=EVAL_OPTION_ORDER)
def eval_command(run: RunArgs, sampling: SamplingArgs, engines: EngineArgs, judging: JudgeArgs,
                 data_parallel: DataParallel = 1, verbose: Verbose = False,
                 shard: Shard = None, second_opinion: SecondOpinion = True) -> None:
    """Evaluate a model on benchmarks; re-run the same command to resume."""
    from ovr_eval.evaluate import EvalOptions, Evaluation
    from ovr_eval.sweep import checkpoint_list, default_out, run_sweep

    task_names, demo = run.task_names(), run.model is None
    run.splits()  # its mistakes too are said before the demo model is built or any folder made
    if demo:
        run, sampling, engines = demo_args(run, sampling, engines, task_names, verbose)
    if sampling.preset is None and any(n in PAPER_SUITES for n in task_names):
        console.print("[dim]hint: --preset ovr samples each benchmark as the paper's sources "
                      "did (avg@16 at T=1 on AIME, MATH500, GPQA)")
    engine, model = engines.name(), run.model
    assert model is not None  # the demo set its own above
    checkpoints = None if demo else checkpoint_list(model)  # several: a sweep, one engine
    if checkpoints is not None:
        if data_parallel > 1 or shard:
            raise UserError("a sweep of several checkpoints runs on one engine: leave out "
                            "--data-parallel")
        run = replace(run, out=run.out or default_out(model, checkpoints))
    options = EvalOptions(
        model=model if checkpoints is None else str(checkpoints[0]), tasks=task_names,
        out=run.out, engine=engine, revision=run.revision, sampling=sampling.config(),
        preset=sampling.preset, sampling_overrides=sampling.overrides(), prompt=run.prompt,
        splits=run.splits(), data_dir=run.data_dir, limit=run.limit,
        engine_options=engines.options(engine), task_dirs=run.task_dir or [],
        shard=parse_shard(shard) if shard else None, verbose=verbose,
        second_opinion=second_opinion,
        judge=None if shard else judging.options(dtype=engines.dtype))
    if checkpoints is not None:
        from ovr_eval.cli.sweep_tables import print_sweep

        print_sweep(run_sweep(options, checkpoints, console), options, console)
        return
    evaluation = Evaluation(options, console)  # every cheap check happens here
    if options.shard is not None:
        evaluation.run()
        return
    replicas = None
    if data_parallel > 1:
        from ovr_eval.parallel import run_workers

        replicas = partial(run_workers, sys.argv[1:], evaluation.run_dir.path, data_parallel,
                           engines.tensor_parallel_size, console)
    print_results(evaluation.run(replicas), evaluation, model, demo)


def demo_args(run: RunArgs, sampling: SamplingArgs, engines: EngineArgs, task_names: list[str],
              verbose: bool) -> tuple[RunArgs, SamplingArgs, EngineArgs]:
    """No --model: the tiny random demo model (built on first use), the embedded slices of
    each benchmark and short responses; options given explicitly win."""
    from ovr_eval.quiet import engine_output
    from ovr_eval.tiny import EMBEDDED, EMBEDDED_SPLITS, build_tiny_qwen2_5_vl, default_model_dir

    model_dir = default_model_dir()
    with console.status("building the tiny demo model (first run only)"), \
            engine_output(None if verbose else model_dir.parent / "build.log", console):
        model = str(build_tiny_qwen2_5_vl(model_dir))
    embedded = [f"{t}={s}" for t, s in EMBEDDED_SPLITS.items() if t in task_names]
    console.print("[bold]demo:[/] a tiny Qwen2.5-VL with [bold]random weights[/] on small "
                  "slices of each benchmark; it scores ~0. Give --model to evaluate a real "
                  "checkpoint.")
    return (
        replace(run, model=model, data_dir=run.data_dir or EMBEDDED / "data",
                split=embedded + (run.split or []),  # a --split given wins over the demo's
                out=run.out or Path("runs") / "demo-tiny-qwen2_5_vl"),
        replace(sampling, max_tokens=DEMO_MAX_TOKENS if sampling.max_tokens is None
                else sampling.max_tokens),
        replace(engines, max_model_len=engines.max_model_len or DEMO_MAX_MODEL_LEN))


def print_results(results: RunResults, evaluation: Evaluation, model: str, demo: bool) -> None:
    """The scores table, then what the user should know about them, then where they are."""
    folder = evaluation.run_dir.path
    print_table(summary_table(results, f"{model}  ({folder})", {
        t.name: t.summary_subsets for t in evaluation.tasks}))
    for line in incomplete_warnings(results) + (
            [] if demo else truncation_warnings(results, folder)):
        console.print(f"[yellow]warning:[/] {line}", highlight=False)
    for line in [] if demo else second_opinion_notes(results):
        console.print(f"[yellow]note:[/] {line}", highlight=False)
    console.print(f"records: {folder / 'samples'}  scores: {folder / 'results.json'}")
    if demo:
        console.print("random weights and short responses: scores of ~0 and truncated "
                      "responses are expected.")
