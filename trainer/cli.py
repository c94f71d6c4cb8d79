"""``ovr train``: run a recipe into a run folder (re-run the same command to resume)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
import yaml

from ovr_trainer.config import load_recipe


def parse_overrides(values: list[str]) -> dict[str, object]:
    """``section.key=value`` pairs (values parsed as YAML) into a dict."""
    overrides = {}
    for value in values:
        key, sep, raw = value.partition("=")
        if not sep or not key:
            raise typer.BadParameter(f"--set {value!r}: expected KEY=VALUE, e.g. rl.steps=10")
        overrides[key.strip()] = yaml.safe_load(raw)
    return overrides


def train_command(
    config: Annotated[Path, typer.Option(help="recipe YAML (or a name in trainer/recipes)")],
    out: Annotated[Path, typer.Option(help="run folder")],
    data_dir: Annotated[Path | None, typer.Option(
        help="benchmark-style data folder (MATH500 traces, RL prompts)")] = None,
    set_: Annotated[list[str] | None, typer.Option(
        "--set", help="override a recipe value, e.g. --set rl.steps=10 (repeatable)")] = None,
    crash_after: Annotated[int | None, typer.Option(
        hidden=True, help="test hook: exit abruptly after this global step")] = None,
) -> None:
    """Train with a recipe: SFT, RL, then ``ovr eval`` of the final checkpoint."""
    from ovr_trainer.runner import train

    recipe = load_recipe(config, parse_overrides(set_ or []))
    summary = train(recipe, out, data_dir=data_dir, crash_after=crash_after)
    typer.echo(json.dumps({"checkpoint": summary["checkpoint"], "run": str(out)}))


def main() -> None:
    typer.run(train_command)


if __name__ == "__main__":
    main()
