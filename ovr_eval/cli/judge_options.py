"""The ``--judge*`` options shared by ``ovr eval``, ``ovr grade`` and ``ovr import``: one option
group (:mod:`ovr_eval.cli.groups`)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import typer

from ovr_eval.judge import JudgeOptions


def default_judge_engine(model: str) -> str:
    """A local model folder is a local judge (vllm); anything else names a served model."""
    return "vllm" if Path(model).expanduser().is_dir() else "openai"


@dataclass(frozen=True)
class JudgeArgs:
    """The judge model and how it is asked (``ovr_eval.judge``); defaults: JudgeOptions'."""

    judge: Annotated[str | None, typer.Option(
        "--judge", help="judge model: also score MathVista, MathVerse and LogicVista by their "
        "official protocol (a model extracts the answer); results keep both scores")] = None
    judge_engine: Annotated[str | None, typer.Option(
        "--judge-engine", help="openai (any OpenAI-compatible server) | vllm (a local model); "
        "default: vllm when --judge is a local folder, else openai", show_default=False)] = None
    judge_base_url: Annotated[str, typer.Option(
        "--judge-base-url", help="the judge's OpenAI-compatible server")] = JudgeOptions.base_url
    judge_mode: Annotated[str, typer.Option(
        "--judge-mode", help="fallback: ask only where the rules found no answer; all: every "
        "response")] = JudgeOptions.mode
    judge_concurrency: Annotated[int, typer.Option(
        "--judge-concurrency", help="judge requests in flight (openai engine)")
    ] = JudgeOptions.concurrency
    judge_max_tokens: Annotated[int, typer.Option(
        "--judge-max-tokens", help="longest judge reply, in tokens")] = JudgeOptions.max_tokens

    def options(self, **engine_options: Any) -> JudgeOptions | None:
        """The judge settings, or None without ``--judge``; the server is checked at once.
        No ``--judge-engine``: :func:`default_judge_engine`. ``engine_options``: settings of a
        local judge's engine (None: its default)."""
        if self.judge is None:
            return None
        options = JudgeOptions(
            model=self.judge, engine=self.judge_engine or default_judge_engine(self.judge),
            base_url=self.judge_base_url, mode=self.judge_mode,
            concurrency=self.judge_concurrency, max_tokens=self.judge_max_tokens,
            engine_options={k: v for k, v in engine_options.items() if v is not None})
        options.check()
        return options
