"""``ovr train``: run a recipe into a run folder (re-run the same command to resume);
``ovr train export-verl``: write the recipe's RL stage as a verl job for many GPUs;
``ovr train average``: the uniform average of checkpoints (as OVR's released model)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
import yaml

from ovr_eval.types import UserError
from ovr_trainer.config import load_recipe, packaged_recipes

SetOption = Annotated[list[str] | None, typer.Option(
    "--set", help="override a recipe value, e.g. --set rl.steps=10 (repeatable)")]

RECIPE_HELP = f"recipe YAML, or a packaged recipe: {', '.join(packaged_recipes())}"

train_app = typer.Typer(add_completion=False, subcommand_metavar="[COMMAND [ARGS]...]")


def parse_overrides(values: list[str]) -> dict[str, object]:
    """``section.key=value`` pairs (values parsed as YAML) into a dict."""
    overrides = {}
    for value in values:
        key, sep, raw = value.partition("=")
        if not sep or not key:
            raise typer.BadParameter(f"--set {value!r}: expected KEY=VALUE, e.g. rl.steps=10")
        overrides[key.strip()] = yaml.safe_load(raw)
    return overrides


@train_app.callback(invoke_without_command=True)
def train_command(
    ctx: typer.Context,
    config: Annotated[str | None, typer.Option(help=RECIPE_HELP, show_default=False)] = None,
    out: Annotated[Path | None, typer.Option(help="run folder", show_default=False)] = None,
    data_dir: Annotated[Path | None, typer.Option(
        help="benchmark-style data folder (task:NAME SFT data, RL prompts, evaluation)")] = None,
    set_: SetOption = None,
    crash_after: Annotated[int | None, typer.Option(
        hidden=True, help="test hook: exit abruptly after this global step")] = None,
) -> None:
    """Train with a recipe: SFT, RL, then ``ovr eval`` of the final checkpoint.

    Commands: export-verl writes the recipe's RL stage as a verl job; average averages
    checkpoints.
    """
    given = config is not None or out is not None
    if ctx.invoked_subcommand is not None:
        if given:
            raise UserError(f"put --config/--out after {ctx.invoked_subcommand!r}: "
                            f"ovr train {ctx.invoked_subcommand} ... --out DIR")
        return
    if config is None or out is None:
        raise UserError("ovr train needs --config RECIPE and --out DIR "
                        "(or a command: ovr train export-verl --help, ovr train average --help)")
    from ovr_trainer.runner import train

    recipe = load_recipe(config, parse_overrides(set_ or []))
    summary = train(recipe, out, data_dir=data_dir, crash_after=crash_after)
    typer.echo(json.dumps({"checkpoint": summary["checkpoint"], "run": str(out)}))


@train_app.command("export-verl")
def export_verl_command(
    config: Annotated[str, typer.Option(help=RECIPE_HELP)],
    out: Annotated[Path, typer.Option(help="export folder (created)")],
    data_dir: Annotated[Path | None, typer.Option(
        help="benchmark-style data folder for the RL prompts (default: rl.data_dir)")] = None,
    set_: SetOption = None,
) -> None:
    """Export the recipe's RL stage for verl 0.9.1: parquet data, reward shim, run script."""
    from ovr_trainer.verl_export import export_verl

    recipe = load_recipe(config, parse_overrides(set_ or []))
    summary = export_verl(recipe, out, data_dir=data_dir,
                          say=lambda line: typer.echo(line, err=True))
    for note in summary["notes"]:
        typer.echo(f"note: {note}", err=True)
    typer.echo(json.dumps(summary))


@train_app.command("average")
def average_command(
    checkpoints: Annotated[list[Path], typer.Argument(
        help="checkpoint folders (HF format) of one model, e.g. RUN/checkpoints/step-*")],
    out: Annotated[Path, typer.Option(help="folder for the averaged model (created)")],
) -> None:
    """Write the uniform average of CHECKPOINTS' weights to --out (OVR's released model is
    such an average of intermediate checkpoints). Evaluate it with ``ovr eval --model OUT``."""
    from ovr_trainer.checkpoint import average

    if out.resolve() in {Path(c).resolve() for c in checkpoints}:
        raise UserError(f"--out {out} is one of the checkpoints being averaged")
    average(list(checkpoints), out)
    typer.echo(json.dumps({"averaged": [str(c) for c in checkpoints], "out": str(out)}))


def main() -> None:
    """``python -m ovr_trainer.cli``: the same as ``ovr train``."""
    try:
        train_app()
    except UserError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise SystemExit(2) from None


if __name__ == "__main__":
    main()
