"""Worker processes with hard limits for the checks that parse model text.

Each job runs in a separate worker process (started as ``python -m ovr_eval.verify.worker``,
so it never re-imports the caller's script). A job over its time limit, or a worker that dies
(memory limit, crash), gets its worker killed and replaced and a ``JobFailed`` for that job only.
"""

from __future__ import annotations

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
_HEADER = struct.Struct("<I")


class JobFailed:
    """The outcome of a job that did not finish: "timeout", "memory", "crashed" or an error."""

    def __init__(self, reason: str):
        self.reason = reason

    def __repr__(self) -> str:
        return f"JobFailed({self.reason!r})"


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


class _Worker:
    def __init__(self, target: str, memory_mb: int):
        env = {**os.environ, "OVR_WORKER_MEMORY_MB": str(memory_mb)}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "ovr_eval.verify.worker", target],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env,
        )
        self.stdout = self.process.stdout

    def send(self, job: tuple) -> None:
        write_frame(self.process.stdin, job)

    def kill(self) -> None:
        self.process.kill()
        self.process.wait()
        for stream in (self.process.stdin, self.process.stdout):
            if stream is not None:
                stream.close()


class WorkerPool:
    """``workers`` processes running ``target`` ("module:function"), each job under a limit."""

    def __init__(self, target: str, workers: int = 2, timeout_s: float = 2.0,
                 memory_mb: int = DEFAULT_MEMORY_MB):
        self.target, self.timeout_s, self.memory_mb = target, timeout_s, memory_mb
        self.workers = [self._new() for _ in range(max(1, workers))]

    def _new(self) -> _Worker:
        return _Worker(self.target, self.memory_mb)

    def _replace(self, index: int) -> None:
        self.workers[index].kill()
        self.workers[index] = self._new()

    def map(self, jobs: Sequence[tuple]) -> list[Any]:
        """Results in job order; JobFailed for jobs that failed, timed out or killed a worker."""
        results: list[Any] = [None] * len(jobs)
        pending = deque(enumerate(jobs))
        idle = list(range(len(self.workers)))
        busy: dict[int, tuple[int, float]] = {}  # worker -> job, deadline
        while pending or busy:
            while pending and idle:
                w = idle.pop()
                index, job = pending.popleft()
                try:
                    self.workers[w].send(job)
                except (BrokenPipeError, OSError):
                    self._replace(w)
                    pending.appendleft((index, job))
                    idle.append(w)
                    continue
                busy[w] = (index, time.monotonic() + self.timeout_s)
            next_deadline = min(deadline for _, deadline in busy.values())
            streams = {self.workers[w].stdout: w for w in busy}
            ready = wait(list(streams), timeout=max(0.0, next_deadline - time.monotonic()))
            for stream in ready:
                w = streams[stream]
                index, _ = busy.pop(w)
                try:
                    results[index] = read_frame(stream)
                except (EOFError, OSError, pickle.UnpicklingError):
                    code = self.workers[w].process.poll()
                    results[index] = JobFailed("crashed" if code else "memory")
                    self._replace(w)
                idle.append(w)
            now = time.monotonic()
            for w, (index, deadline) in list(busy.items()):
                if deadline <= now:
                    del busy[w]
                    results[index] = JobFailed("timeout")
                    self._replace(w)
                    idle.append(w)
        return results

    def close(self) -> None:
        for worker in self.workers:
            worker.kill()
        self.workers = []

    def __enter__(self) -> WorkerPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
