"""Single options that several commands take, declared once (typer ``Annotated`` aliases);
whole groups of options are dataclasses (:mod:`ovr_eval.cli.groups`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

# ovr eval, ovr import, ovr budget, ovr tasks
TaskDirs = Annotated[list[Path] | None, typer.Option(help="extra task plugin folder")]
# ovr eval, ovr import
DataDir = Annotated[Path | None, typer.Option(
    help="local benchmark files (<dir>/<task>/...); also $OVR_DATA_DIR")]
# ovr grade, ovr import: the split of the one task named by --task
TaskSplit = Annotated[str | None, typer.Option(help="the task's split (default: its own)")]
# ovr compare, ovr budget, ovr behaviours
AsJson = Annotated[bool, typer.Option("--json", help="print JSON for scripts")]
