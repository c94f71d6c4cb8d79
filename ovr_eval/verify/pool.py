"""Worker processes with hard limits for the checks that parse model text.

Each job runs in a separate worker process (started as ``python -m ovr_eval.verify.worker``,
so it never re-imports the caller's script). A job over its limit, or a worker that dies
(memory limit, crash), gets its worker killed and replaced and a ``JobFailed`` for that job only.

Verdicts must not depend on how busy the machine is, so the limit counts the job's own CPU time
(an alarm inside the worker at ``timeout_s``, and a kill from here at 1.5 times that, read
from /proc; wall time where /proc is missing), a worker's start-up (imports and a warm-up job)
happens before it reports ready and never counts against a job, and a job that runs out of
time is retried once on a fresh worker before it is reported as a timeout. A
generous wall-clock ceiling (``wall_limit_s``) still ends a job that waits without computing
(a deadlock, a sleep).
"""

from __future__ import annotations

import atexit
import os
import pickle
import struct
import subprocess
import sys
import time
from collections import deque
from collections.abc import Sequence
from multiprocessing.connection import wait
from typing import Any

DEFAULT_MEMORY_MB = 1024
READY = "ovr-worker-ready"
START_TIMEOUT_S = 120.0  # importing sympy and the parser on a very busy machine
WALL_FACTOR = 20.0
HARD_FACTOR = 1.5  # the worker's own CPU alarm ends a job at timeout_s; this is the backstop
RETRIES = 1
_HEADER = struct.Struct("<I")
_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


class JobFailed:
    """The outcome of a job that did not finish: "timeout", "memory", "crashed" or an error."""

    def __init__(self, reason: str):
        self.reason = reason

    def __repr__(self) -> str:
        return f"JobFailed({self.reason!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, JobFailed) and other.reason == self.reason

    def __hash__(self) -> int:
        return hash(self.reason)


def write_frame(stream: Any, obj: Any) -> None:
    data = pickle.dumps(obj)
    stream.write(_HEADER.pack(len(data)) + data)
    stream.flush()


def read_frame(stream: Any) -> Any:
    header = stream.read(_HEADER.size)
    if len(header) < _HEADER.size:
        raise EOFError
    (size,) = _HEADER.unpack(header)
    data = stream.read(size)
    if len(data) < size:
        raise EOFError
    return pickle.loads(data)


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU time of a process, from /proc (None where it cannot be read)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            fields = stat.read().rsplit(b")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / _TICKS
    except (OSError, IndexError, ValueError):
        return None


class _Worker:
    def __init__(self, target: str, memory_mb: int, warm_up: str | None, cpu_s: float):
        env = {**os.environ, "OVR_WORKER_MEMORY_MB": str(memory_mb),
               "OVR_WORKER_CPU_S": str(cpu_s)}
        command = [sys.executable, "-m", "ovr_eval.verify.worker", target]
        if warm_up:
            command.append(warm_up)
        self.process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                        env=env)
        self.stdout = self.process.stdout
        self.ready = False
        self.started = time.monotonic()

    def send(self, job: tuple[Any, ...]) -> None:
        write_frame(self.process.stdin, job)

    def cpu(self) -> float | None:
        return cpu_seconds(self.process.pid)

    def kill(self) -> None:
        self.process.kill()
        self.process.wait()
        for stream in (self.process.stdin, self.process.stdout):
            if stream is not None:
                stream.close()


class _Running:
    """A job on a worker: where its clocks started."""

    def __init__(self, index: int, worker: _Worker):
        self.index = index
        self.wall_start = time.monotonic()
        self.cpu_start = worker.cpu()


class WorkerPool:
    """``workers`` processes running ``target`` ("module:function"), each job under a limit.

    ``warm_up`` ("module:function", optional) runs in each new worker before it reports ready,
    so that a job's limit never pays for imports or first-call caches.
    """

    def __init__(self, target: str, workers: int, timeout_s: float,
                 memory_mb: int = DEFAULT_MEMORY_MB, warm_up: str | None = None,
                 wall_limit_s: float | None = None):
        self.target, self.timeout_s, self.memory_mb = target, timeout_s, memory_mb
        self.warm_up = warm_up
        self.wall_limit_s = wall_limit_s or max(30.0, timeout_s * WALL_FACTOR)
        self.workers = [self._new() for _ in range(max(1, workers))]

    def _new(self) -> _Worker:
        return _Worker(self.target, self.memory_mb, self.warm_up, self.timeout_s)

    def _replace(self, index: int) -> None:
        self.workers[index].kill()
        self.workers[index] = self._new()

    def _over_limit(self, worker: _Worker, running: _Running, now: float) -> bool:
        wall = now - running.wall_start
        if wall > self.wall_limit_s:
            return True
        cpu = worker.cpu()
        if cpu is None or running.cpu_start is None:
            return wall > self.timeout_s * HARD_FACTOR
        return cpu - running.cpu_start > self.timeout_s * HARD_FACTOR

    def map(self, jobs: Sequence[tuple[Any, ...]]) -> list[Any]:
        """Results in job order; JobFailed for jobs that failed, timed out or killed a worker."""
        results: list[Any] = [None] * len(jobs)
        attempts = [0] * len(jobs)
        pending = deque(range(len(jobs)))
        idle, starting = self._idle_and_starting()
        busy: dict[int, _Running] = {}
        while pending or busy:
            while pending and idle:
                w = idle.pop()
                index = pending.popleft()
                try:
                    self.workers[w].send(jobs[index])
                except (BrokenPipeError, OSError):
                    self._replace(w)
                    starting.add(w)
                    pending.appendleft(index)
                    continue
                busy[w] = _Running(index, self.workers[w])
            # worker pipes by their worker (wait() takes any object with a fileno())
            streams: dict[Any, int] = {self.workers[w].stdout: w for w in (*busy, *starting)}
            ready = wait(list(streams), timeout=0.02 if busy else 1.0)
            for stream in ready:
                w = streams[stream]
                if w in starting:
                    self._on_start(w, starting, idle)
                    continue
                running = busy.pop(w)
                try:
                    result = read_frame(stream)
                except (EOFError, OSError, pickle.UnpicklingError):
                    code = self.workers[w].process.poll()
                    results[running.index] = JobFailed("crashed" if code else "memory")
                    self._replace(w)
                    starting.add(w)
                    continue
                if result == JobFailed("timeout"):  # interrupted mid-computation: start afresh
                    self._timed_out(w, running.index, attempts, pending, results, starting)
                    continue
                results[running.index] = result
                idle.append(w)
            now = time.monotonic()
            for w, running in list(busy.items()):
                if self._over_limit(self.workers[w], running, now):
                    del busy[w]
                    self._timed_out(w, running.index, attempts, pending, results, starting)
            for w in list(starting):
                if now - self.workers[w].started > START_TIMEOUT_S:
                    starting.discard(w)
                    self._fail_pending(pending, results, "worker did not start")
            if pending and not idle and not busy and not starting:
                self._fail_pending(pending, results, "worker did not start")
        return results

    def _idle_and_starting(self) -> tuple[list[int], set[int]]:
        """The workers ready for a job, and those still starting (one that failed to start in
        an earlier map is replaced and starts again)."""
        idle: list[int] = []
        starting: set[int] = set()
        for w, worker in enumerate(self.workers):
            if worker.ready:
                idle.append(w)
                continue
            if worker.process.poll() is not None:
                self._replace(w)
            starting.add(w)
        return idle, starting

    def _timed_out(self, w: int, index: int, attempts: list[int], pending: deque[int],
                   results: list[Any], starting: set[int]) -> None:
        """A job out of time: its worker is replaced; the job is retried once, then failed."""
        self._replace(w)
        starting.add(w)
        attempts[index] += 1
        if attempts[index] <= RETRIES:
            pending.append(index)
        else:
            results[index] = JobFailed("timeout")

    def _on_start(self, w: int, starting: set[int], idle: list[int]) -> None:
        """A starting worker's first frame: READY, or it died while starting."""
        starting.discard(w)
        try:
            frame = read_frame(self.workers[w].stdout)
        except (EOFError, OSError, pickle.UnpicklingError):
            frame = None
        if frame == READY:
            self.workers[w].ready = True
            idle.append(w)
        else:  # a worker that cannot start would fail every job: leave it out of this map
            self.workers[w].kill()

    @staticmethod
    def _fail_pending(pending: deque[int], results: list[Any], reason: str) -> None:
        while pending:
            results[pending.popleft()] = JobFailed(reason)

    def close(self) -> None:
        for worker in self.workers:
            worker.kill()
        self.workers = []

    def __enter__(self) -> WorkerPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


_SHARED: dict[tuple[str, int, float], WorkerPool] = {}


def shared_pool(job: str, warm_up: str, workers: int, timeout_s: float) -> WorkerPool:
    """The process's one pool for ``job`` at this size and limit, started on first use and
    kept for the process's life (closed at exit, or by ``close_shared_pools``)."""
    key = (job, workers, timeout_s)
    if key not in _SHARED:
        _SHARED[key] = WorkerPool(job, workers=workers, timeout_s=timeout_s, warm_up=warm_up)
    return _SHARED[key]


@atexit.register
def close_shared_pools() -> None:
    """Stop every shared pool's workers (the next use starts fresh ones)."""
    for pool in _SHARED.values():
        pool.close()
    _SHARED.clear()
