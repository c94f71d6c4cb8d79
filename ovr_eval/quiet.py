"""Keep the engines' own chatter (C++ warnings, loading bars, library logs) off the console.

While an engine loads and generates, file descriptor 2 points at a log file, so everything
written to stderr by any library (Python or C++) lands there; ``ovr eval --verbose`` leaves
stderr alone. ovr's own console keeps printing to the terminal.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

from rich.console import Console


@contextmanager
def engine_output(log_path: Path | None, console: Console | None = None) -> Iterator[None]:
    """Send stderr (fd 2) to ``log_path`` (appended) for the duration; None: do nothing.
    ``console``, when it prints to stderr, is pointed at the real terminal meanwhile."""
    if log_path is None:
        yield
        return
    try:
        log_path.parent.mkdir(parents=True, exist_ok=True)
        log_fd = os.open(log_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    except OSError:  # nowhere to log: leave stderr as it is
        yield
        return
    with suppress(Exception):
        sys.stderr.flush()
    saved = os.dup(2)
    terminal = os.fdopen(os.dup(saved), "w", buffering=1, encoding="utf-8", errors="replace")
    redirect = console if console is not None and console.stderr else None
    os.dup2(log_fd, 2)
    os.close(log_fd)
    if redirect is not None:
        redirect.file = terminal
    try:
        yield
    finally:
        with suppress(Exception):
            sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)
        if redirect is not None:
            redirect.file = None  # type: ignore[assignment]  # rich: None follows sys.stderr
        terminal.close()
