"""``ovr sweep RUN``: every checkpoint of a training run on one engine, which is ``ovr eval``
with several checkpoints as ``--model`` (the tables: :mod:`ovr_eval.cli.sweep_tables`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ovr_eval.cli.eval import eval_command
from ovr_eval.cli.eval_options import DEFAULT_TASK_LIST
from ovr_eval.engines.options import HFOptions, VLLMOptions


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
    dtype: Annotated[str, typer.Option(help="weight dtype for vllm/hf")] = VLLMOptions.dtype,
    max_model_len: Annotated[int | None, typer.Option(help="vLLM context length")] = None,
    batch_size: Annotated[int, typer.Option(min=1, help="hf engine batch size")
                          ] = HFOptions.batch_size,
    deterministic: Annotated[bool, typer.Option(
        "--deterministic", help="records independent of batching and resume")] = False,
    verbose: Annotated[bool, typer.Option(
        "--verbose", help="the engine's own output on the console")] = False,
) -> None:
    """Evaluate many checkpoints on one engine (`ovr eval --help` lists every option)."""
    eval_command(model=run, tasks=tasks or DEFAULT_TASK_LIST, out=out, engine=engine,
                 limit=limit, samples=samples, temperature=temperature, max_tokens=max_tokens,
                 seed=seed, preset=preset, prompt=prompt, split=split, data_dir=data_dir,
                 dtype=dtype, max_model_len=max_model_len, batch_size=batch_size,
                 deterministic=deterministic, verbose=verbose)

