"""The ``ovr`` command line: one module per command (``eval.py``, ``grade.py``, ...), the option
groups they share (``groups.py``, ``judge_options.py``, ``eval_options.py``, ``options.py``) and
where they print (``output.py``). This module makes the ``app``, mounts the command groups of
other packages and holds :func:`main`, the console script ``ovr``."""

from __future__ import annotations

import os
import sys
import warnings
from importlib.metadata import entry_points

import typer
from rich.console import Console
from rich.markup import escape

from ovr_eval.cli.behaviours import behaviours_command
from ovr_eval.cli.budget import budget_command
from ovr_eval.cli.compare import compare_command
from ovr_eval.cli.eval import eval_command
from ovr_eval.cli.grade import grade_command
from ovr_eval.cli.importing import import_command
from ovr_eval.cli.report import report_command
from ovr_eval.cli.sweep import sweep_command
from ovr_eval.cli.tasks import tasks_command
from ovr_eval.cli.tiny import build_tiny_command
from ovr_eval.types import Interrupted, UserError

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="Evaluate and train multimodal reasoning models (Open Vision Reasoner).")
COMMANDS_GROUP = "ovr_eval.commands"  # entry points: command groups other packages add to ovr

# in the order `ovr --help` lists them
app.command("eval")(eval_command)
app.command("grade")(grade_command)
app.command("compare")(compare_command)
app.command("report")(report_command)
app.command("budget")(budget_command)
app.command("sweep")(sweep_command)
app.command("import")(import_command)
app.command("behaviours")(behaviours_command)
app.command("tasks")(tasks_command)
app.command("build-tiny-model")(build_tiny_command)


def mount_commands(root: typer.Typer) -> None:
    """Mount the command groups that installed packages add to ``ovr`` through the
    ``ovr_eval.commands`` entry-point group (each names a typer app; ``ovr train`` is the
    trainer's), so that ovr_eval itself never imports them. A group that fails to import is
    left out with one line saying why; the other commands work."""
    for entry in sorted(entry_points(group=COMMANDS_GROUP), key=lambda e: e.name):
        try:
            group = entry.load()
        except Exception as exc:  # a broken plugin must not take `ovr eval` down with it
            Console(stderr=True, soft_wrap=True).print(
                f"[yellow]warning:[/] `ovr {entry.name}` is unavailable: {entry.value} failed "
                f"to import ({type(exc).__name__}: {escape(str(exc))})", highlight=False)
            continue
        root.add_typer(group, name=entry.name)



mount_commands(app)


def main() -> None:
    """Entry point: user mistakes become one clear line and exit code 2."""
    os.environ.setdefault("VLLM_LOGGING_LEVEL", "ERROR")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    if not sys.warnoptions:  # library deprecation chatter is not for the user
        warnings.filterwarnings("ignore", category=FutureWarning)
        warnings.filterwarnings("ignore", category=DeprecationWarning)
    errors = Console(stderr=True, soft_wrap=True)
    try:
        app()
    except UserError as exc:
        errors.print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False)
        sys.exit(2)
    except (KeyboardInterrupt, SystemExit) as exc:
        interrupt = _interrupt_in(exc)
        if interrupt is None:
            raise
        message = str(interrupt) if isinstance(interrupt, Interrupted) else ""
        errors.print(message or "interrupted: re-run the same command to resume",
                     highlight=False, markup=False)
        sys.exit(130)


def _interrupt_in(exc: BaseException | None) -> KeyboardInterrupt | None:
    """The Ctrl-C behind an exit (typer turns it into a silent exit 130), if any."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        if isinstance(exc, KeyboardInterrupt):
            return exc
        seen.add(id(exc))
        exc = exc.__cause__ or exc.__context__
    return None

