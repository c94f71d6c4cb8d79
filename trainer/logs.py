"""Training logs: append-only JSONL (metrics, rollouts) and TensorBoard when installed."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


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

    def __init__(self, folder: Path, resume_step: int = 0):
        folder.mkdir(parents=True, exist_ok=True)
        self.metrics_path = folder / "metrics.jsonl"
        self.rollouts_path = folder / "rollouts.jsonl"
        for path in (self.metrics_path, self.rollouts_path):
            truncate_after(path, resume_step)
        try:
            from torch.utils.tensorboard import SummaryWriter

            self.tb = SummaryWriter(str(folder / "tb"), purge_step=resume_step + 1)
        except ImportError:  # tensorboard is optional
            self.tb = None

    def metrics(self, record: dict[str, Any]) -> None:
        with self.metrics_path.open("a") as handle:
            handle.write(json.dumps(record) + "\n")
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
        if self.tb is not None:
            self.tb.close()
