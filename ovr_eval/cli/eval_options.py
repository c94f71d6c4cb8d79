"""``ovr eval``'s options: the run, sampling and engine option groups
(:mod:`ovr_eval.cli.groups`), each building its part of ``EvalOptions``, and the options that
stand alone."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import typer

from ovr_eval.cli.options import DataDir, TaskDirs
from ovr_eval.engines import ENGINES, default_engine
from ovr_eval.engines.options import (
    DTYPES,
    EngineOptions,
    HFOptions,
    OpenAIOptions,
    VLLMOptions,
    options_for,
)
from ovr_eval.tasks import DEFAULT_TASKS
from ovr_eval.types import SamplingConfig, UserError

DEMO_MAX_TOKENS, DEMO_MAX_MODEL_LEN = 64, 4096  # the demo's random model writes noise
DEFAULT_TASK_LIST = ",".join(DEFAULT_TASKS)


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


@dataclass(frozen=True)
class RunArgs:
    """What is evaluated, on which samples, and the run folder it is written to."""

    model: Annotated[str | None, typer.Option(
        help="HF hub id or local checkpoint folder (none: a tiny random Qwen2.5-VL demo); "
             "several checkpoints (A,B, a glob, or a training run folder) are a sweep on one "
             "engine, one run folder each under --out")] = None
    tasks: Annotated[str, typer.Option(
        help="comma-separated task or suite names (`ovr tasks` lists them)")] = DEFAULT_TASK_LIST
    out: Annotated[Path | None, typer.Option(
        help="run folder (default runs/<model name>); re-using it resumes or grows the run")
    ] = None
    limit: Annotated[int | None, typer.Option(
        help="first N samples of each task (N >= 1; default: all)")] = None
    prompt: Annotated[str | None, typer.Option(
        help="prompt template name or .j2 path (default: each task's own; 'reasoning', the "
             "ORZ/OVR prompt, for the paper benchmarks)")] = None
    split: Annotated[list[str] | None, typer.Option(help="TASK=SPLIT, repeatable")] = None
    data_dir: DataDir = None
    revision: Annotated[str | None, typer.Option(help="model revision on the hub")] = None
    task_dir: TaskDirs = None

    def task_names(self) -> list[str]:
        """The --tasks names; none is a mistake, said before any model is built."""
        names = [t.strip() for t in self.tasks.split(",") if t.strip()]
        if not names:
            raise UserError(f"--tasks {self.tasks!r} names no task: give task or suite names, "
                            "e.g. --tasks math500 (`ovr tasks` lists them)")
        return names

    def splits(self) -> dict[str, str]:
        """task -> split from the --split values (a later value for a task wins)."""
        return parse_splits(self.split or [])


@dataclass(frozen=True)
class SamplingArgs:
    """How responses are sampled; None keeps the preset's or SamplingConfig's value."""

    samples: Annotated[int | None, typer.Option(
        help="responses per prompt (avg@k, pass@k; default 1)")] = None
    temperature: Annotated[float | None, typer.Option(
        help="sampling temperature (default 0: greedy; set > 0 with --samples > 1)")] = None
    top_p: Annotated[float | None, typer.Option(
        help="nucleus sampling: keep the smallest token set whose probability reaches P, in "
             "(0, 1] (default 1.0)")] = None
    preset: Annotated[str | None, typer.Option(
        help="a paper's sampling per benchmark: 'ovr' = avg@16 at T=1, top-p 1 on AIME, "
             "MATH500 and GPQA, one response at T=1 elsewhere (explicit options override it)"
    )] = None
    max_tokens: Annotated[int | None, typer.Option(
        help=f"new tokens per response (default {SamplingConfig.max_tokens}; demo "
             f"{DEMO_MAX_TOKENS})")] = None
    seed: Annotated[int, typer.Option(
        help="run seed; each sample's seed derives from it, so a rerun with the same settings "
             "samples the same; whatever the batch size and across a resume only with "
             "--deterministic")] = 0

    def overrides(self) -> dict[str, Any]:
        """The SamplingConfig fields given explicitly: they override a preset."""
        given = (("n", self.samples), ("temperature", self.temperature), ("top_p", self.top_p))
        return {k: v for k, v in given if v is not None}

    def config(self) -> SamplingConfig:
        """The run's sampling: the given values, SamplingConfig's defaults otherwise."""
        return SamplingConfig(**self.overrides(), seed=self.seed, **(
            {} if self.max_tokens is None else {"max_tokens": self.max_tokens}))


@dataclass(frozen=True)
class EngineArgs:
    """The engine and every engine's settings (each engine takes those it has fields for)."""

    engine: Annotated[str | None, typer.Option(
        help="vllm | hf | openai (default: vllm when installed)")] = None
    deterministic: Annotated[bool, typer.Option(
        "--deterministic",
        help="records that do not depend on the batch size or on a resume (hf: one prompt at "
             "a time; vllm: its batch-invariant kernels on NVIDIA GPUs of compute capability "
             ">= 8.0, one sequence at a time elsewhere; no prefix caching). Slower: see "
             "benchmarks/determinism.py")] = False
    dtype: Annotated[str, typer.Option(
        help=f"weight dtype for vllm/hf: {', '.join(DTYPES)} (auto: the checkpoint's)")
    ] = VLLMOptions.dtype
    tensor_parallel_size: Annotated[int, typer.Option(
        min=1, help="GPUs one vLLM engine is split over")] = VLLMOptions.tensor_parallel_size
    max_model_len: Annotated[int | None, typer.Option(
        help="vLLM context length, prompt + response (default: the model's)")] = None
    batch_size: Annotated[int, typer.Option(
        min=1, help="hf engine batch size")] = HFOptions.batch_size
    base_url: Annotated[str, typer.Option(help="openai engine server")] = OpenAIOptions.base_url
    concurrency: Annotated[int, typer.Option(
        min=1, help="openai engine parallel requests")] = OpenAIOptions.concurrency
    distributed_executor_backend: Annotated[str | None, typer.Option(
        help="vLLM executor: 'ray' spreads one engine over several nodes")] = None

    def name(self) -> str:
        """--engine, or the default engine; --deterministic is refused for a server."""
        engine = self.engine or default_engine()
        if self.deterministic and engine == "openai":
            raise UserError("--deterministic is for the vllm and hf engines: a server's "
                            "responses are as deterministic as the server (start vLLM with "
                            "VLLM_BATCH_INVARIANT=1 on a GPU that has its kernels)")
        return engine

    def options(self, engine: str) -> EngineOptions | None:
        """``engine``'s options from the values given for any engine; None for an unknown
        engine (``Evaluation`` names it with the other checks)."""
        if engine not in ENGINES:
            return None
        return options_for(
            engine, dtype=self.dtype, tensor_parallel_size=self.tensor_parallel_size,
            max_model_len=self.max_model_len, batch_size=self.batch_size,
            base_url=self.base_url, concurrency=self.concurrency,
            distributed_executor_backend=self.distributed_executor_backend,
            deterministic=self.deterministic or None)


DataParallel = Annotated[int, typer.Option(
    min=1, help="engine replicas, one per GPU group of --tensor-parallel-size GPUs")]
Verbose = Annotated[bool, typer.Option(
    "--verbose", help="show the engine's own warnings and loading output (otherwise in "
    "RUN/logs/engine.log)")]
Shard = Annotated[str | None, typer.Option(hidden=True, help="I/N: a data-parallel worker")]
SecondOpinion = Annotated[bool, typer.Option(
    "--second-opinion/--no-second-opinion",
    help="Math-Verify grades every response too; disagreements with the rules are counted in "
         "results.json and the report")]

# the order `ovr eval --help` has always listed its options in
EVAL_OPTION_ORDER = (
    "model", "tasks", "out", "engine", "limit", "samples", "temperature", "top_p", "preset",
    "max_tokens", "seed", "deterministic", "prompt", "split", "data_dir", "revision", "dtype",
    "tensor_parallel_size", "max_model_len", "batch_size", "base_url", "concurrency",
    "task_dir", "data_parallel", "distributed_executor_backend", "verbose", "shard",
    "second_opinion", "judge", "judge_engine", "judge_base_url", "judge_mode",
    "judge_concurrency", "judge_max_tokens",
)
