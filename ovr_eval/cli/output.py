"""Where the ``ovr`` commands print: one console, and tables sized for a terminal, a file or a
pipe."""

from __future__ import annotations

from rich.console import Console
from rich.measure import Measurement
from rich.table import Table

console = Console(soft_wrap=True)  # messages stay one line; tables are sized by print_table
PIPE_WIDTH = 200  # widest table printed to a file or a pipe


def print_table(table: Table, out: Console | None = None) -> None:
    """A table at its natural width (up to PIPE_WIDTH, long cells folded): fitted to a
    terminal, never cut to 80 columns when the output goes to a file or a pipe."""
    out = out or console
    if out.is_terminal:
        out.print(table)
        return
    width = Measurement.get(out, out.options.update_width(PIPE_WIDTH), table).maximum
    Console(file=out.file, width=max(width, out.width), soft_wrap=True).print(table)
