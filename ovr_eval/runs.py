"""The run directory: config.json, append-only samples/<task>.jsonl, results.json; resume."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

from ovr_eval.types import UserError

FSYNC_EVERY_S = 2.0
# settings that change what a record means: a resumed run must use the same ones
RESUME_KEYS = ("model", "revision", "engine", "sampling", "sampling_by_task", "prompt", "splits",
               "data_dir")


def write_json_atomic(path: Path, data: Any) -> None:
    """Write JSON so that readers see the old file or the new one, never half of one."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n")
    os.replace(tmp, path)


def read_jsonl(path: Path) -> tuple[list[dict[str, Any]], int]:
    """The JSON objects of a JSONL file and the number of unusable (non-object) lines."""
    rows, bad = [], 0
    with path.open(encoding="utf-8", errors="replace") as handle:
        for line in handle:
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError:
                bad += 1
                continue
            if isinstance(row, dict):
                rows.append(row)
            else:
                bad += 1
    return rows, bad


def cut_torn_tail(path: Path, chunk: int = 1 << 16) -> None:
    """Drop an incomplete final line left by a crash mid-write (reads only the file's end)."""
    with path.open("rb+") as handle:
        end = handle.seek(0, os.SEEK_END)
        if end == 0:
            return
        handle.seek(end - 1)
        if handle.read(1) == b"\n":
            return
        position = end
        while position > 0:
            start = max(0, position - chunk)
            handle.seek(start)
            newline = handle.read(position - start).rfind(b"\n")
            if newline >= 0:
                handle.truncate(start + newline + 1)
                return
            position = start
        handle.truncate(0)


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

    def start(self, config: dict[str, Any], repair: bool = True) -> bool:
        """Create the folder or check that it belongs to the same run; True when resuming.

        ``repair`` cuts lines torn by a crash off the record files before new ones are
        appended; data-parallel workers pass False (their coordinator did it before they
        started, and another worker may be writing)."""
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
        if repair:
            for path in self.samples_dir.glob("*.jsonl"):
                cut_torn_tail(path)
        write_json_atomic(self.config_path, config)
        return resuming

    def read_records(self, task: str) -> tuple[list[dict[str, Any]], int]:
        """The task's saved records (the first per sample id) and the number of unusable
        lines. Read-only: a line torn by a crash is skipped, not repaired."""
        path = self.samples_path(task)
        if not path.is_file():
            return [], 0
        rows, bad = read_jsonl(path)
        records, seen = [], set()
        for row in rows:
            if "id" not in row:
                bad += 1
            elif str(row["id"]) not in seen:
                seen.add(str(row["id"]))
                records.append(row)
        return records, bad

    def records(self, task: str) -> list[dict[str, Any]]:
        """The task's saved records, the first per sample id."""
        return self.read_records(task)[0]

    def writer(self, task: str) -> RecordWriter:
        return RecordWriter(self.samples_path(task))
