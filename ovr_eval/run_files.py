"""The run folder's files on disk: atomic JSON and JSONL writes, a JSONL reader that stops at a
torn last line (what a kill leaves), and :class:`RecordWriter`, the append-only record sink
that fsyncs every few seconds. A failed write is one line naming the file."""

from __future__ import annotations

import errno
import json
import os
import time
from contextlib import suppress
from pathlib import Path
from typing import Any

from ovr_eval.records import Record
from ovr_eval.types import UserError

FSYNC_EVERY_S = 2.0
NO_SPACE = {errno.ENOSPC, errno.EDQUOT}
READ_ONLY = {errno.EROFS, errno.EACCES, errno.EPERM}


def write_failure(path: Path, exc: OSError, resumable: bool = True) -> UserError:
    """One line for a failed write: which file, why, and (``resumable``) that a rerun resumes."""
    again = "; then re-run the same command: it resumes from the saved records" if resumable else ""
    if exc.errno in NO_SPACE:
        return UserError(f"disk full while writing {path}: free some space{again}")
    if exc.errno in READ_ONLY:
        return UserError(f"cannot write {path} ({exc.strerror}): the folder is read-only")
    return UserError(f"cannot write {path}: {exc.strerror or exc}{again}")


def write_json_atomic(path: Path, data: Any) -> None:
    """Write JSON so that readers see the old file or the new one, never half of one; a failed
    write (disk full, read-only folder) is one clear line naming the file."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_text(json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n")
        os.replace(tmp, path)
    except OSError as exc:
        with suppress(OSError):
            tmp.unlink(missing_ok=True)
        raise write_failure(path, exc) from None


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


def write_jsonl_atomic(path: Path, rows: list[dict[str, Any]]) -> None:
    """Replace a JSONL file so that readers (and a crash) see the old file or the new one."""
    tmp = path.with_name(path.name + ".tmp")
    try:
        with tmp.open("w", encoding="utf-8") as handle:
            for row in rows:
                handle.write(json.dumps(row, ensure_ascii=False, default=str) + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        with suppress(OSError):
            tmp.unlink(missing_ok=True)
        raise write_failure(path, exc) from None


class RecordWriter:
    """Appends records (or any JSON objects) as JSON lines, each with one O_APPEND write (so
    several processes can share a file without interleaving lines); fsynced regularly."""

    def __init__(self, path: Path):
        self.path = path
        try:
            self.fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        except OSError as exc:
            raise write_failure(path, exc) from None
        self.last_sync = time.monotonic()
        self.written = 0

    def write(self, record: Record | dict[str, Any]) -> None:
        row = record.to_json() if isinstance(record, Record) else record
        line = (json.dumps(row, ensure_ascii=False, default=str) + "\n").encode()
        try:
            written = os.write(self.fd, line)  # in the OS now: survives a kill -9 of the process
            while written < len(line):  # not expected for regular files; never leave half a line
                written += os.write(self.fd, line[written:])
            if time.monotonic() - self.last_sync > FSYNC_EVERY_S:
                os.fsync(self.fd)
                self.last_sync = time.monotonic()
        except OSError as exc:  # a torn last line is cut off when the run resumes
            raise write_failure(self.path, exc) from None
        self.written += 1

    def close(self) -> None:
        try:
            os.fsync(self.fd)
        except OSError as exc:
            raise write_failure(self.path, exc) from None
        finally:
            os.close(self.fd)
