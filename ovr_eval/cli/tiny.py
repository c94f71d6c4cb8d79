"""``ovr build-tiny-model``: the tiny random checkpoint of the demo and the tests."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ovr_eval.cli.output import console


def build_tiny_command(
    out: Annotated[Path, typer.Argument(help="folder to write the checkpoint to")],
    seed: Annotated[int, typer.Option()] = 0,
) -> None:
    """Write a tiny random Qwen2.5-VL checkpoint (real Qwen tokenizer) for tests and demos."""
    from ovr_eval.tiny import build_tiny_qwen2_5_vl

    path = build_tiny_qwen2_5_vl(out, seed=seed, force=True)
    console.print(f"tiny Qwen2.5-VL written to {path}")

