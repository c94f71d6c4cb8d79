"""The run directory: config.json, append-only samples/<task>.jsonl, results.json; resume."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ovr_eval.types import UserError

FSYNC_EVERY_S = 2.0
# settings that change what a record means: a resumed run must use the same ones
RESUME_KEYS = ("model", "revision", "engine", "sampling", "prompt", "splits", "data_dir")


def write_json_atomic(path: Path, data: Any) -> None:
    """Write JSON so that readers see the old file or the new one, never half of one."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n")
    os.replace(tmp, path)


class RecordWriter:
    """Appends records as JSON lines, each with one O_APPEND write (so several processes can
    share a file without interleaving lines); fsynced regularly."""

    def __init__(self, path: Path):
        self.fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        self.last_sync = time.monotonic()

    def write(self, record: dict[str, Any]) -> None:
        line = (json.dumps(record, ensure_ascii=False, default=str) + "\n").encode()
        written = os.write(self.fd, line)  # in the OS now: survives a kill -9 of the process
        while written < len(line):  # not expected for regular files; never leave half a line
            written += os.write(self.fd, line[written:])
        if time.monotonic() - self.last_sync > FSYNC_EVERY_S:
            os.fsync(self.fd)
            self.last_sync = time.monotonic()

    def close(self) -> None:
        os.fsync(self.fd)
        os.close(self.fd)


class RunDir:
    """One run folder. Every report is re-made from what it holds."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.samples_dir = self.path / "samples"

    @property
    def config_path(self) -> Path:
        return self.path / "config.json"

    @property
    def results_path(self) -> Path:
        return self.path / "results.json"

    def samples_path(self, task: str) -> Path:
        return self.samples_dir / f"{task}.jsonl"

    def start(self, config: dict[str, Any]) -> bool:
        """Create the folder or check that it belongs to the same run; True when resuming."""
        if self.path.exists() and not self.path.is_dir():
            raise UserError(f"--out {self.path} exists and is not a directory")
        resuming = self.config_path.is_file()
        if resuming:
            try:
                old = json.loads(self.config_path.read_text())
            except json.JSONDecodeError:
                raise UserError(f"{self.config_path} is not valid JSON; fix or remove it") from None
            changed = [k for k in RESUME_KEYS if old.get(k) != config.get(k)]
            if changed:
                raise UserError(
                    f"{self.path} holds a run with different {', '.join(changed)}; "
                    "resume it with the same settings or choose another --out"
                )
            config = {**config, "tasks": sorted(set(old.get("tasks", [])) | set(config["tasks"])),
                      "started": old.get("started", config.get("started"))}
        self.samples_dir.mkdir(parents=True, exist_ok=True)
        write_json_atomic(self.config_path, config)
        return resuming

    def records(self, task: str) -> Iterator[dict[str, Any]]:
        """The task's saved records, first one per sample id; a torn last line is cut off."""
        path = self.samples_path(task)
        if not path.is_file():
            return
        self._repair_tail(path)
        seen: set[str] = set()
        with path.open(encoding="utf-8") as handle:
            for line in handle:
                record = json.loads(line)
                if record["id"] not in seen:
                    seen.add(record["id"])
                    yield record

    @staticmethod
    def _repair_tail(path: Path) -> None:
        """Drop an incomplete final line left by a crash mid-write."""
        with path.open("rb+") as handle:
            data = handle.read()
            if not data or data.endswith(b"\n"):
                return
            cut = data.rfind(b"\n") + 1
            handle.truncate(cut)

    def writer(self, task: str) -> RecordWriter:
        return RecordWriter(self.samples_path(task))
