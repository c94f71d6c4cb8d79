"""The run folder, the one module that reads and writes it: config.json, append-only
samples/<task>.jsonl, results.json; the lock, resume and growth (:class:`RunDir`), and a saved
run read back for ``ovr compare`` / ``ovr report`` (:class:`SavedRun`, :func:`load_run`)."""

from __future__ import annotations

import errno
import fcntl
import json
import os
import socket
import sys
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ovr_eval.metrics import record_units
from ovr_eval.records import REQUIRED, NewerSchema, Record, RunResults, TaskResult
from ovr_eval.run_config import RunConfig
from ovr_eval.run_files import (
    RecordWriter,
    cut_torn_tail,
    read_jsonl,
    write_failure,
    write_json_atomic,
    write_jsonl_atomic,
)
from ovr_eval.types import PathLike, UserError

if TYPE_CHECKING:
    from ovr_eval.task_registry import TaskRegistry

LOCK_FILE = ".lock"
BUDGET_FILE = "budget.json"  # `ovr budget`: each task's score by token budget


def _holder(lock_path: Path) -> str:
    try:
        info = json.loads(lock_path.read_text())
        return f"pid {info['pid']} on {info['host']}, since {info['since']}"
    except (OSError, ValueError, KeyError, TypeError):
        return "another process"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@dataclass(frozen=True)
class Start:
    """What :meth:`RunDir.start` found: whether the command resumes saved records, and the
    run's settings (the saved ones grown by the new command's)."""

    resuming: bool
    config: RunConfig


_HELD: dict[Path, tuple[int, int]] = {}  # locked folder -> (fd, depth): re-entrant per process


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

    @property
    def lock_path(self) -> Path:
        return self.path / LOCK_FILE

    def samples_path(self, task: str) -> Path:
        return self.samples_dir / f"{task}.jsonl"

    @property
    def budget_path(self) -> Path:
        return self.path / BUDGET_FILE

    # -- one writer at a time ------------------------------------------------------------
    @contextmanager
    def lock(self) -> Iterator[None]:
        """Hold the folder's exclusive lock; a second writer gets one clear line.

        An fcntl lock on RUN/.lock: the kernel drops it when its process ends, however it
        ends (kill -9 included), so a lock is never stale. Where the filesystem has no such
        locks, the pid written in the file is checked instead. Re-entrant in one process."""
        if self.path.exists() and not self.path.is_dir():
            raise UserError(f"--out {self.path} exists and is not a directory")
        key = self.path.resolve()
        if key in _HELD:
            fd, depth = _HELD[key]
            _HELD[key] = (fd, depth + 1)
            try:
                yield
            finally:
                fd, depth = _HELD.pop(key)
                if depth > 1:
                    _HELD[key] = (fd, depth - 1)
            return
        try:
            self.path.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            error = write_failure(self.path, exc, resumable=False)
            raise UserError(f"{error}; choose another --out") from None
        try:
            self._acquire(fd)
            info = {"pid": os.getpid(), "host": socket.gethostname(),
                    "since": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                    "command": " ".join(sys.argv)}
            os.ftruncate(fd, 0)
            os.pwrite(fd, (json.dumps(info) + "\n").encode(), 0)
        except BaseException:
            os.close(fd)
            raise
        _HELD[key] = (fd, 1)
        try:
            yield
        finally:
            _HELD.pop(key, None)
            with suppress(OSError):
                os.ftruncate(fd, 0)
            os.close(fd)  # releases the lock

    def _acquire(self, fd: int) -> None:
        busy = UserError(f"{self.path} is in use by another ovr process "
                         f"({_holder(self.lock_path)}); wait for it to finish or choose "
                         "another --out")
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise busy from None
        except OSError as exc:  # no fcntl locks on this filesystem: fall back to the pid
            if exc.errno not in (errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOTSUP, errno.EINVAL):
                raise write_failure(self.lock_path, exc, resumable=False) from None
            try:
                info = json.loads(os.pread(fd, 4096, 0) or b"{}")
            except ValueError:
                info = {}
            same_host = info.get("host") == socket.gethostname()
            if info.get("pid") and (not same_host or _alive(int(info["pid"]))):
                raise busy from None  # a live holder (or one on another host we cannot check)

    def in_use(self) -> str | None:
        """Who is writing the folder right now (None when nobody is)."""
        try:
            fd = os.open(self.lock_path, os.O_RDONLY)
        except OSError:
            return None
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return _holder(self.lock_path)
        except OSError:
            return None
        finally:
            os.close(fd)
        return None

    # -- settings ------------------------------------------------------------------------
    def read_config(self) -> RunConfig | None:
        """The saved config.json; None when there is none."""
        if not self.config_path.is_file():
            return None
        try:
            config = json.loads(self.config_path.read_text(encoding="utf-8"))
        except (ValueError, OSError) as exc:
            raise UserError(f"{self.config_path} is not valid JSON ({exc}); fix or remove it"
                            ) from None
        if not isinstance(config, dict):
            raise UserError(f"{self.config_path} is not a JSON object; fix or remove it")
        return RunConfig.from_json(config)

    def write_config(self, config: RunConfig) -> None:
        """Write config.json (atomically): once per command, before its first record."""
        write_json_atomic(self.config_path, config.to_json())

    def has_records(self) -> bool:
        """Whether any task has a saved record (after :func:`cut_torn_tail`, a non-empty
        record file holds at least one whole line)."""
        return self.samples_dir.is_dir() and any(
            path.stat().st_size > 0 for path in self.samples_dir.glob("*.jsonl"))

    def start(self, config: RunConfig) -> Start:
        """Check that a new invocation fits the saved run: whether it resumes, and the
        settings to write (:meth:`write_config`) before its first record. Call under
        :meth:`lock`.

        A folder with records keeps its settings: a change is refused naming each one (old
        value → new value); new tasks and another --limit grow the run. A folder with a
        config but no records (a first attempt that failed) starts over with the new settings.
        Lines torn by a crash are cut off the record files first."""
        if self.samples_dir.is_dir():
            for path in self.samples_dir.glob("*.jsonl"):
                try:
                    cut_torn_tail(path)
                except OSError as exc:
                    raise write_failure(path, exc) from None
        old = self.read_config()
        resuming = self.has_records()
        if resuming and old is None:
            raise UserError(f"{self.path} holds sample records but no config.json, so the "
                            "settings that made them are unknown; choose another --out")
        if resuming and old is not None:
            self.check_same_run(old, config)
            config = old.merged(config)
        try:
            self.samples_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise write_failure(self.samples_dir, exc) from None
        return Start(resuming, config)

    def check_same_run(self, old: RunConfig, config: RunConfig) -> None:
        """Refuse settings or weights that differ from the saved run's, naming each."""
        from ovr_eval.fingerprint import describe

        if old.other_weights(config):
            raise UserError(f"{self.path} holds records of other weights: "
                            f"{describe(old.weights or {})} made them, "
                            f"{describe(config.weights or {})} is given now; choose another "
                            "--out (or restore those weights to resume)")
        changes = old.differences(config)
        if changes:
            raise UserError(f"{self.path} holds a run with other settings ({'; '.join(changes)}"
                            "); resume it with the same settings or choose another --out")

    # -- records -------------------------------------------------------------------------
    def saved_tasks(self) -> list[str]:
        """The tasks with at least one saved line, by name."""
        if not self.samples_dir.is_dir():
            return []
        return sorted(p.stem for p in self.samples_dir.glob("*.jsonl") if p.stat().st_size > 0)

    def read_records(self, task: str) -> tuple[list[Record], int]:
        """The task's saved records (the first per sample id) and the number of unusable
        lines (not a JSON object, or no id). Read-only: a line torn by a crash is skipped, not
        repaired. Fields an old record lacks read as their defaults; a record of a newer
        layout is one clear error."""
        path = self.samples_path(task)
        if not path.is_file():
            return [], 0
        rows, bad = read_jsonl(path)
        records, seen = [], set()
        for row in rows:
            if "id" not in row:
                bad += 1
                continue
            try:
                record = Record.from_json(row)
            except NewerSchema as error:
                raise UserError(f"{path}: {error}") from None
            except ValueError as error:
                raise UserError(f"{path} has a malformed record: {error}") from None
            if record.id not in seen:
                seen.add(record.id)
                records.append(record)
        return records, bad

    def records(self, task: str) -> list[Record]:
        """The task's saved records, the first per sample id."""
        return self.read_records(task)[0]

    def writer(self, task: str) -> RecordWriter:
        return RecordWriter(self.samples_path(task))

    def rewrite_records(self, task: str, records: list[Record]) -> None:
        """Replace the task's record file (atomically) with ``records`` (e.g. judged)."""
        write_jsonl_atomic(self.samples_path(task), [r.to_json() for r in records])

    # -- results -------------------------------------------------------------------------
    def read_results(self) -> RunResults | None:
        """results.json (None when there is none); one clear line when it is unusable."""
        path = self.results_path
        if not path.is_file():
            return None
        try:
            data = json.loads(path.read_text("utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as error:
            raise UserError(f"{path} is not valid JSON ({error})") from None
        if not isinstance(data, dict):
            raise UserError(f"{path} is malformed: expected a JSON object")
        tasks = data.get("tasks")
        if not isinstance(tasks, dict):
            raise UserError(f"{path} is in an older format (no 'tasks' mapping); "
                            "run the same `ovr eval` command again to rewrite it")
        for name, task in tasks.items():
            missing = [k for k in REQUIRED if not isinstance(task, dict) or k not in task]
            if missing:
                raise UserError(f"{path}: task {name!r} lacks {', '.join(missing)} (older "
                                "format); run the same `ovr eval` command again to rewrite it")
        try:
            return RunResults.from_json(data)
        except NewerSchema as error:
            raise UserError(f"{path}: {error}") from None
        except (TypeError, ValueError) as error:
            raise UserError(f"{path} is malformed ({error})") from None

    def write_results(self, results: RunResults) -> None:
        write_json_atomic(self.results_path, results.to_json())

    # -- the budget curve (`ovr budget`) --------------------------------------------------
    def write_budget(self, curves: dict[str, Any]) -> None:
        """budget.json: ``ovr_eval.budget``'s curves, per task."""
        write_json_atomic(self.budget_path, curves)

    def read_budget(self) -> tuple[dict[str, Any], list[str]]:
        """The budget curves by task (none without budget.json, or when it is unreadable), and
        the tasks left out because their records changed after budget.json was written."""
        try:
            data = json.loads(self.budget_path.read_text("utf-8"))
            written = self.budget_path.stat().st_mtime_ns
        except (OSError, ValueError):
            return {}, []
        tasks = data.get("tasks") if isinstance(data, dict) else None
        if not isinstance(tasks, dict):
            return {}, []
        curves, stale = {}, []
        for name, curve in tasks.items():
            path = self.samples_path(name)
            if not isinstance(curve, dict) or not path.is_file():
                continue
            if path.stat().st_mtime_ns > written:
                stale.append(name)
            else:
                curves[name] = curve
        return curves, stale

    def current_scores(self, results: RunResults | None) -> dict[str, TaskResult | None]:
        """Each saved task (by name) with its entry in ``results`` (this folder's results.json
        as read; None: none usable) when that entry is current, or None when the task must be
        re-scored from its records: they were written after results.json, or it lacks them."""
        written = self.results_path.stat().st_mtime_ns if results is not None else -1
        scored = results.tasks if results is not None else {}
        return {name: scored[name] if name in scored
                and self.samples_path(name).stat().st_mtime_ns <= written else None
                for name in self.saved_tasks()}


# ---------------------------------------------------------------- a saved run, read


@dataclass(frozen=True)
class SavedRun:
    """A run folder as saved by ``ovr eval``: its config, per-task results and sample records."""

    path: Path
    model: str
    config: RunConfig
    tasks: dict[str, TaskResult]
    partial: list[str] = field(default_factory=list)  # why the run is unfinished; [] if done
    _units: dict[str, dict[str, list[float]] | None] = field(
        default_factory=dict, init=False, compare=False, repr=False)  # units(), read once
    _records: dict[str, list[Record] | None] = field(
        default_factory=dict, init=False, compare=False, repr=False)  # records(), read once

    def records(self, task: str) -> list[Record] | None:
        """A task's sample records as saved (None if the run saved none), read once."""
        if task not in self._records:
            run_dir = RunDir(self.path)
            found = run_dir.samples_path(task).is_file()
            self._records[task] = run_dir.records(task) if found else None
        return self._records[task]

    def units(self, task: str) -> dict[str, list[float]] | None:
        """The headline's units of a task (unit id -> slot values), by the task plugin's own
        rules (MathVerse: Vision Only items; WeMath: problems; DynaMath: seeds; ...), or one
        per record for a task no plugin here knows; None if the run saved no records. The
        record file is read on the first call for a task only."""
        if task not in self._units:
            self._units[task] = self._read_units(task)
        return self._units[task]

    def _read_units(self, task: str) -> dict[str, list[float]] | None:
        run_dir = RunDir(self.path)
        records = self.records(task)
        if records is None:
            return None
        try:
            plugin = run_registry(self.config).get(task)
            return plugin.units(records) if plugin is not None else record_units(records)
        except (KeyError, TypeError, ValueError) as error:
            raise UserError(f"{run_dir.samples_path(task)} has a malformed record: {error}"
                            ) from None


def run_registry(config: RunConfig) -> TaskRegistry:
    """The tasks a run was scored with: the built-in ones and its ``--task-dir`` plugins (as
    config.json records them; a folder gone since is left out, its tasks then scored by
    plain accuracy)."""
    from ovr_eval.task_registry import registry

    dirs = [Path(d) for d in config.task_dirs if Path(d).is_dir()]
    return registry(dirs)


def load_run(path: PathLike) -> SavedRun:
    """Read a run folder's results.json and config.json; clear errors for anything unusable.

    An unfinished run (interrupted, still running, or never scored) is read too: each task
    whose records are newer than results.json is scored from its records, and ``partial``
    says what is missing."""
    path = Path(path)
    if not path.is_dir():
        raise UserError(f"run folder {path} does not exist")
    run_dir = RunDir(path)
    config = run_dir.read_config() or RunConfig()
    results = run_dir.read_results()
    saved = run_dir.current_scores(results)
    if results is None and not saved:
        raise UserError(f"{run_dir.results_path} not found: is {path} a finished `ovr eval` "
                        "run? It holds no sample records either")
    tasks = dict(results.tasks) if results is not None else {}
    partial = []
    for name, current in saved.items():
        if current is not None:
            continue
        old = results.tasks.get(name) if results is not None else None
        scored = score_saved(run_dir, name, config, old, partial=True)
        if scored is not None:
            tasks[name] = scored
            partial.append(f"{name}: {scored.n} sample(s) saved, not yet in results.json")
    if not tasks:
        raise UserError(f"{path} holds no usable sample records yet")
    busy = run_dir.in_use()
    if busy:
        partial.append(f"still being written ({busy})")
    model = (results.model if results is not None else "") or config.model or path.name
    return SavedRun(path=path, model=str(model), config=config, tasks=tasks, partial=partial)


def score_saved(run_dir: RunDir, name: str, config: RunConfig, old: TaskResult | None, *,
                partial: bool) -> TaskResult | None:
    """A task's scores from its saved records (its plugin's metric when the task is known),
    with its judged scores when its records hold the judge's verdicts; ``old``: its entry of
    an outdated results.json (split, skipped rows and judge kept), if any. None without
    records. ``ovr eval`` re-scores the tasks it did not name with it, ``load_run`` an
    unfinished run's."""
    records = run_dir.records(name)
    if not records:
        return None
    split = (old.split if old else None) or config.split_of(name) or records[0].split
    judged_by = old.judge.settings if old is not None and old.judge else config.judge
    try:
        return run_registry(config).result(
            name, records, split, skipped=old.skipped if old else None, partial=partial,
            judge_settings=judged_by)
    except (KeyError, TypeError, ValueError) as error:
        raise UserError(f"{run_dir.samples_path(name)} has a malformed record: {error}"
                        ) from None
