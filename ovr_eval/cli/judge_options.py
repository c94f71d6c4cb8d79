"""The ``--judge*`` options shared by ``ovr eval``, ``ovr grade`` and ``ovr import``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from ovr_eval.judge import JudgeOptions

JudgeModel = Annotated[str | None, typer.Option(
    "--judge", help="judge model: also score MathVista, MathVerse and LogicVista by their "
    "official protocol (a model extracts the answer); results keep both scores")]
JudgeEngine = Annotated[str | None, typer.Option(
    "--judge-engine", help="openai (any OpenAI-compatible server) | vllm (a local model); "
    "default: vllm when --judge is a local folder, else openai", show_default=False)]
JudgeBaseUrl = Annotated[str, typer.Option(
    "--judge-base-url", help="the judge's OpenAI-compatible server")]
JudgeMode = Annotated[str, typer.Option(
    "--judge-mode", help="fallback: ask only where the rules found no answer; all: every response")]
JudgeConcurrency = Annotated[int, typer.Option(
    "--judge-concurrency", help="judge requests in flight (openai engine)")]
JudgeMaxTokens = Annotated[int, typer.Option(
    "--judge-max-tokens", help="longest judge reply, in tokens")]


def default_judge_engine(model: str) -> str:
    """A local model folder is a local judge (vllm); anything else names a served model."""
    return "vllm" if Path(model).expanduser().is_dir() else "openai"


def judge_options(model: str | None, engine: str | None, base_url: str, mode: str,
                  concurrency: int, max_tokens: int, **engine_options: Any
                  ) -> JudgeOptions | None:
    """The judge settings, or None without ``--judge``; the server is checked at once.
    ``engine`` None: :func:`default_judge_engine`."""
    if model is None:
        return None
    engine = engine or default_judge_engine(model)
    options = JudgeOptions(model=model, engine=engine, base_url=base_url, mode=mode,
                           concurrency=concurrency, max_tokens=max_tokens,
                           engine_options={k: v for k, v in engine_options.items()
                                           if v is not None})
    options.check()
    return options
