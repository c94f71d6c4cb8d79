"""The ``--judge*`` options shared by ``ovr eval``, ``ovr grade`` and ``ovr import``."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from ovr_eval.judge import JudgeOptions

JudgeModel = Annotated[str | None, typer.Option(
    "--judge", help="judge model: also score MathVista, MathVerse and LogicVista by their "
    "official protocol (a model extracts the answer); results keep both scores")]
JudgeEngine = Annotated[str, typer.Option(
    "--judge-engine", help="openai (any OpenAI-compatible server) | vllm (a local model)")]
JudgeBaseUrl = Annotated[str, typer.Option(
    "--judge-base-url", help="the judge's OpenAI-compatible server")]
JudgeMode = Annotated[str, typer.Option(
    "--judge-mode", help="fallback: ask only where the rules found no answer; all: every response")]
JudgeConcurrency = Annotated[int, typer.Option(
    "--judge-concurrency", help="judge requests in flight (openai engine)")]
JudgeMaxTokens = Annotated[int, typer.Option(
    "--judge-max-tokens", help="longest judge reply, in tokens")]


def judge_options(model: str | None, engine: str, base_url: str, mode: str, concurrency: int,
                  max_tokens: int, **engine_options: Any) -> JudgeOptions | None:
    """The judge settings, or None without ``--judge``; the server is checked at once."""
    if model is None:
        return None
    options = JudgeOptions(model=model, engine=engine, base_url=base_url, mode=mode,
                           concurrency=concurrency, max_tokens=max_tokens,
                           engine_options={k: v for k, v in engine_options.items()
                                           if v is not None})
    options.check()
    return options
