"""Training logs: append-only JSONL (metrics, rollouts), TensorBoard when installed, and a
live line per step on the console (a progress bar per stage above it, as TRL's rich
callback)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

# (metric, label, format) shown per step; missing or None values print as "-"
LINE_KEYS: dict[str, list[tuple[str, str, str]]] = {
    "sft": [("loss", "loss", ".4f"), ("grad_norm", "grad", ".3g"), ("lr", "lr", ".2e"),
            ("tokens_per_s", "tok/s", ".0f")],
    "rl": [("reward", "reward", ".3f"), ("accuracy", "acc", ".3f"), ("kl", "kl", ".4f"),
           ("policy_loss", "policy", ".4f"), ("value_loss", "value", ".4f"),
           ("entropy", "entropy", ".3f"), ("clip_fraction", "clip", ".3f"),
           ("response_length", "len", ".0f"), ("tokens_per_s", "tok/s", ".0f"),
           ("step_s", "s", ".1f")],
}


def step_line(record: dict[str, Any]) -> str:
    """One console line for a metrics record."""
    stage, step = record.get("stage", "?"), record.get("step", "?")
    if stage == "eval":
        scores = [f"{k.removeprefix('eval_')} {v:.3f}" for k, v in record.items()
                  if k.startswith("eval_") and isinstance(v, (int, float))]
        return f"eval  step {step:>5}  " + "  ".join(scores)
    parts = []
    for key, label, fmt in LINE_KEYS.get(stage, []):
        value = record.get(key)
        parts.append(f"{label} {'-' if value is None else format(value, fmt)}")
    return f"{stage:<4}  step {step:>5}  " + "  ".join(parts)


class StepPrinter:
    """A progress bar for the running stage and a line per step above it."""

    def __init__(self, console: Console):
        self.console = console
        self.progress: Progress | None = None
        self.task: Any = None

    def start(self, stage: str, done: int, total: int) -> None:
        self.stop()
        if done >= total:
            return
        self.progress = Progress(
            TextColumn(f"[bold]{stage.upper()}"), BarColumn(), MofNCompleteColumn(),
            TimeElapsedColumn(), TextColumn("left"), TimeRemainingColumn(),
            console=self.console)
        self.progress.start()
        self.task = self.progress.add_task(stage, total=total, completed=done)

    def line(self, record: dict[str, Any]) -> None:
        console = self.progress.console if self.progress is not None else self.console
        console.print(step_line(record), highlight=False, markup=False, soft_wrap=True)
        if self.progress is not None and record.get("stage") != "eval":
            self.progress.advance(self.task)

    def stop(self) -> None:
        if self.progress is not None:
            self.progress.stop()
            self.progress = None


def truncate_after(path: Path, step: int) -> None:
    """Drop records with ``step`` beyond a resumed checkpoint (and any torn last line)."""
    if not path.is_file():
        return
    kept = []
    for line in path.read_text().splitlines():
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue
        if record.get("step", 0) <= step:
            kept.append(line)
    path.write_text("".join(f"{line}\n" for line in kept))


class TrainLog:
    """``train/metrics.jsonl``, ``train/rollouts.jsonl`` and ``train/tb/`` of one run."""

    def __init__(self, folder: Path, resume_step: int = 0, console: Console | None = None):
        self.printer = StepPrinter(console) if console is not None else None
        folder.mkdir(parents=True, exist_ok=True)
        self.metrics_path = folder / "metrics.jsonl"
        self.rollouts_path = folder / "rollouts.jsonl"
        for path in (self.metrics_path, self.rollouts_path):
            truncate_after(path, resume_step)
        self.tb: Any = None  # a tensorboard SummaryWriter when tensorboard is installed
        try:
            from torch.utils.tensorboard import SummaryWriter

            self.tb = SummaryWriter(str(folder / "tb"), purge_step=resume_step + 1)
        except ImportError:  # tensorboard is optional
            pass

    def stage(self, name: str, done: int, total: int) -> None:
        """A stage (re)starts with ``done`` of ``total`` steps behind it (the progress bar)."""
        if self.printer is not None:
            self.printer.start(name, done, total)

    def metrics(self, record: dict[str, Any]) -> None:
        with self.metrics_path.open("a") as handle:
            handle.write(json.dumps(record) + "\n")
        if self.printer is not None:
            self.printer.line(record)
        if self.tb is not None:
            for key, value in record.items():
                if isinstance(value, (int, float)) and key != "step":
                    self.tb.add_scalar(f"{record['stage']}/{key}", value, record["step"])
            self.tb.flush()

    def rollouts(self, records: list[dict[str, Any]]) -> None:
        with self.rollouts_path.open("a") as handle:
            for record in records:
                handle.write(json.dumps(record) + "\n")

    def close(self) -> None:
        if self.printer is not None:
            self.printer.stop()
        if self.tb is not None:
            self.tb.close()
