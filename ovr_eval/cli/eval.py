"""``ovr eval``: a model on benchmarks (or a sweep of checkpoints on one engine)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from ovr_eval.cli.judge_options import (
    JudgeBaseUrl,
    JudgeConcurrency,
    JudgeEngine,
    JudgeMaxTokens,
    JudgeMode,
    JudgeModel,
    judge_options,
)
from ovr_eval.cli.output import console, print_table
from ovr_eval.engines.options import DTYPES, HFOptions, OpenAIOptions, VLLMOptions
from ovr_eval.eval_summary import (
    incomplete_warnings,
    second_opinion_notes,
    summary_table,
    truncation_warnings,
)
from ovr_eval.judge import JudgeOptions
from ovr_eval.tasks import DEFAULT_TASKS
from ovr_eval.types import SamplingConfig, UserError

DEMO_MAX_TOKENS, DEMO_MAX_MODEL_LEN = 64, 4096  # the demo's random model writes noise
PAPER_SUITES = ("ovr-language", "ovr-visual", "ovr-all")


def parse_splits(values: list[str]) -> dict[str, str]:
    """'task=split' pairs into a dict."""
    splits = {}
    for value in values:
        task, sep, split = value.partition("=")
        if not sep or not task or not split:
            raise UserError(f"--split {value!r}: expected TASK=SPLIT, e.g. mathvision=testmini")
        splits[task.strip()] = split.strip()
    return splits


def parse_shard(value: str) -> tuple[int, int]:
    """'I/N' into (I, N)."""
    index, _, count = value.partition("/")
    if not (index.isdigit() and count.isdigit() and int(index) < int(count)):
        raise UserError(f"--shard {value!r}: expected I/N with 0 <= I < N")
    return int(index), int(count)


def eval_command(
    model: Annotated[str | None, typer.Option(
        help="HF hub id or local checkpoint folder (none: a tiny random Qwen2.5-VL demo); "
             "several checkpoints (A,B, a glob, or a training run folder) are a sweep on one "
             "engine, one run folder each under --out")] = None,
    tasks: Annotated[str, typer.Option(
        help="comma-separated task or suite names (`ovr tasks` lists them)")
    ] = ",".join(DEFAULT_TASKS),
    out: Annotated[Path | None, typer.Option(
        help="run folder (default runs/<model name>); re-using it resumes or grows the run")
    ] = None,
    engine: Annotated[str | None, typer.Option(help="vllm | hf | openai (default: vllm "
                                               "when installed)")] = None,
    limit: Annotated[int | None, typer.Option(
        help="first N samples of each task (N >= 1; default: all)")] = None,
    samples: Annotated[int | None, typer.Option(
        help="responses per prompt (avg@k, pass@k; default 1)")] = None,
    temperature: Annotated[float | None, typer.Option(
        help="sampling temperature (default 0: greedy; set > 0 with --samples > 1)")] = None,
    top_p: Annotated[float | None, typer.Option(
        help="nucleus sampling: keep the smallest token set whose probability reaches P, in "
             "(0, 1] (default 1.0)")] = None,
    preset: Annotated[str | None, typer.Option(
        help="a paper's sampling per benchmark: 'ovr' = avg@16 at T=1, top-p 1 on AIME, "
             "MATH500 and GPQA, one response at T=1 elsewhere (explicit options override it)"
    )] = None,
    max_tokens: Annotated[int | None, typer.Option(
        help=f"new tokens per response (default {SamplingConfig.max_tokens}; demo "
             f"{DEMO_MAX_TOKENS})")] = None,
    seed: Annotated[int, typer.Option(
        help="run seed; each sample's seed derives from it, so a rerun with the same settings "
             "samples the same; whatever the batch size and across a resume only with "
             "--deterministic")] = 0,
    deterministic: Annotated[bool, typer.Option(
        "--deterministic",
        help="records that do not depend on the batch size or on a resume (hf: one prompt at "
             "a time; vllm: its batch-invariant kernels on NVIDIA GPUs of compute capability "
             ">= 8.0, one sequence at a time elsewhere; no prefix caching). Slower: see "
             "benchmarks/determinism.py")] = False,
    prompt: Annotated[str | None, typer.Option(
        help="prompt template name or .j2 path (default: each task's own; 'reasoning', the "
             "ORZ/OVR prompt, for the paper benchmarks)")] = None,
    split: Annotated[list[str] | None, typer.Option(help="TASK=SPLIT, repeatable")] = None,
    data_dir: Annotated[Path | None, typer.Option(
        help="local benchmark files (<dir>/<task>/...); also $OVR_DATA_DIR")] = None,
    revision: Annotated[str | None, typer.Option(help="model revision on the hub")] = None,
    dtype: Annotated[str, typer.Option(
        help=f"weight dtype for vllm/hf: {', '.join(DTYPES)} (auto: the checkpoint's)")
    ] = VLLMOptions.dtype,
    tensor_parallel_size: Annotated[int, typer.Option(
        min=1, help="GPUs one vLLM engine is split over")] = VLLMOptions.tensor_parallel_size,
    max_model_len: Annotated[int | None, typer.Option(
        help="vLLM context length, prompt + response (default: the model's)")] = None,
    batch_size: Annotated[int, typer.Option(
        min=1, help="hf engine batch size")] = HFOptions.batch_size,
    base_url: Annotated[str, typer.Option(help="openai engine server")] = OpenAIOptions.base_url,
    concurrency: Annotated[int, typer.Option(
        min=1, help="openai engine parallel requests")] = OpenAIOptions.concurrency,
    task_dir: Annotated[list[Path] | None, typer.Option(help="extra task plugin folder")] = None,
    data_parallel: Annotated[int, typer.Option(
        min=1, help="engine replicas, one per GPU group of --tensor-parallel-size GPUs")] = 1,
    distributed_executor_backend: Annotated[str | None, typer.Option(
        help="vLLM executor: 'ray' spreads one engine over several nodes")] = None,
    verbose: Annotated[bool, typer.Option(
        "--verbose", help="show the engine's own warnings and loading output (otherwise in "
        "RUN/logs/engine.log)")] = False,
    shard: Annotated[str | None, typer.Option(hidden=True, help="I/N: a data-parallel worker")
                     ] = None,
    second_opinion: Annotated[bool, typer.Option(
        "--second-opinion/--no-second-opinion",
        help="Math-Verify grades every response too; disagreements with the rules are counted "
             "in results.json and the report")] = True,
    judge: JudgeModel = None, judge_engine: JudgeEngine = None,
    judge_base_url: JudgeBaseUrl = JudgeOptions.base_url, judge_mode: JudgeMode = JudgeOptions.mode,
    judge_concurrency: JudgeConcurrency = JudgeOptions.concurrency,
    judge_max_tokens: JudgeMaxTokens = JudgeOptions.max_tokens,
) -> None:
    """Evaluate a model on benchmarks; re-run the same command to resume."""
    from ovr_eval.engines import ENGINES, default_engine, options_for
    from ovr_eval.evaluate import EvalOptions, Evaluation
    from ovr_eval.sweep import checkpoint_list, default_out, run_sweep

    demo = model is None
    task_names = [t.strip() for t in tasks.split(",") if t.strip()]
    if not task_names:  # before the demo model is built or any folder made
        raise UserError(f"--tasks {tasks!r} names no task: give task or suite names, e.g. "
                        "--tasks math500 (`ovr tasks` lists them)")
    splits = parse_splits(split or [])
    if demo:
        from ovr_eval.quiet import engine_output
        from ovr_eval.tiny import (
            EMBEDDED,
            EMBEDDED_SPLITS,
            build_tiny_qwen2_5_vl,
            default_model_dir,
        )

        model_dir = default_model_dir()
        with console.status("building the tiny demo model (first run only)"), \
                engine_output(None if verbose else model_dir.parent / "build.log", console):
            model = str(build_tiny_qwen2_5_vl(model_dir))
        data_dir = data_dir or EMBEDDED / "data"
        splits = {**{t: s for t, s in EMBEDDED_SPLITS.items() if t in task_names}, **splits}
        out = out or Path("runs") / "demo-tiny-qwen2_5_vl"
        max_tokens = DEMO_MAX_TOKENS if max_tokens is None else max_tokens
        max_model_len = max_model_len or DEMO_MAX_MODEL_LEN
        console.print("[bold]demo:[/] a tiny Qwen2.5-VL with [bold]random weights[/] on small "
                      "slices of each benchmark; it scores ~0. Give --model to evaluate a real "
                      "checkpoint.")
    given: dict[str, Any] = {  # explicit options override a preset
        k: v for k, v in (("n", samples), ("temperature", temperature), ("top_p", top_p))
        if v is not None}
    if preset is None and any(n in PAPER_SUITES for n in task_names):
        console.print("[dim]hint: --preset ovr samples each benchmark as the paper's sources "
                      "did (avg@16 at T=1 on AIME, MATH500, GPQA)")
    engine = engine or default_engine()
    if deterministic and engine == "openai":
        raise UserError("--deterministic is for the vllm and hf engines: a server's responses "
                        "are as deterministic as the server (start vLLM with "
                        "VLLM_BATCH_INVARIANT=1 on a GPU that has its kernels)")
    assert model is not None  # the demo set its own above
    checkpoints = None if demo else checkpoint_list(model)  # several: a sweep, one engine
    if checkpoints is not None:
        if data_parallel > 1 or shard:
            raise UserError("a sweep of several checkpoints runs on one engine: leave out "
                            "--data-parallel")
        out = out or default_out(model, checkpoints)
    options = EvalOptions(
        model=model if checkpoints is None else str(checkpoints[0]), tasks=task_names, out=out,
        engine=engine, revision=revision,
        sampling=SamplingConfig(**given, seed=seed,  # SamplingConfig's defaults otherwise
                                **({} if max_tokens is None else {"max_tokens": max_tokens})),
        preset=preset, sampling_overrides=given,
        prompt=prompt, splits=splits, data_dir=data_dir, limit=limit,
        engine_options=options_for(  # the command line offers every engine's settings
            engine, dtype=dtype, tensor_parallel_size=tensor_parallel_size,
            max_model_len=max_model_len, batch_size=batch_size, base_url=base_url,
            concurrency=concurrency, distributed_executor_backend=distributed_executor_backend,
            deterministic=deterministic or None,
        ) if engine in ENGINES else None,  # an unknown engine is named by the checks below
        task_dirs=task_dir or [], shard=parse_shard(shard) if shard else None, verbose=verbose,
        second_opinion=second_opinion,
        judge=None if shard else judge_options(judge, judge_engine, judge_base_url, judge_mode,
                                               judge_concurrency, judge_max_tokens, dtype=dtype),
    )
    if checkpoints is not None:
        from ovr_eval.cli.sweep_tables import print_sweep

        print_sweep(run_sweep(options, checkpoints, console), options, console)
        return
    evaluation = Evaluation(options, console)  # every cheap check happens here
    if options.shard is not None:
        evaluation.run()
        return
    folder = evaluation.run_dir.path
    replicas = None
    if data_parallel > 1:
        from ovr_eval.parallel import run_workers

        def replicas() -> None:
            run_workers(sys.argv[1:], folder, data_parallel, tensor_parallel_size, console)

    results = evaluation.run(replicas)
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

