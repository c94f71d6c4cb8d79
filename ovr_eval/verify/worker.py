"""A verifier worker process: reads jobs on stdin, writes results on stdout (see pool.py).

Usage: ``python -m ovr_eval.verify.worker module:function [module:warm_up]``. The worker imports
the job function, runs the optional warm-up, sets its memory limit, then writes ``READY``: the
pool starts a job's clock only after that, so start-up never counts against a job. Each job
runs under a CPU-time alarm (``OVR_WORKER_CPU_S``, SIGPROF): a job past it ends as
``JobFailed("timeout")`` however busy the machine is; the pool's own limit is the backstop.
"""

from __future__ import annotations

import importlib
import os
import signal
import sys
from collections.abc import Callable
from typing import Any


class CpuLimit(Exception):
    """A job used up its CPU time."""


def _on_cpu_limit(signum: int, frame: object) -> None:
    raise CpuLimit


def _run(function: Callable[..., Any], job: tuple[Any, ...], cpu_s: float) -> Any:
    """``function(*job)`` under a CPU-time alarm (none when ``cpu_s`` is 0 or SIGPROF is
    missing)."""
    timer = getattr(signal, "ITIMER_PROF", None)
    if not cpu_s or timer is None:
        return function(*job)
    signal.setitimer(timer, cpu_s)
    try:
        return function(*job)
    finally:
        signal.setitimer(timer, 0)


def _limit_memory(extra_mb: int) -> None:
    try:
        import resource

        with open(f"/proc/{os.getpid()}/statm") as statm:
            current = int(statm.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
        limit = current + extra_mb * 2**20
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    except (OSError, ValueError, ImportError):
        pass  # no /proc or no rlimits: the time limit still applies


def _function(spec: str) -> Callable[..., Any]:
    module, _, name = spec.partition(":")
    function: Callable[..., Any] = getattr(importlib.import_module(module), name)
    return function



def main() -> None:
    from ovr_eval.verify.pool import READY, JobFailed, read_frame, write_frame

    # Ctrl-C reaches the whole process group: the parent decides (it finishes grading what is
    # generated, then closes the pool), so a worker never dies mid-job and fails a verdict
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    function = _function(sys.argv[1])
    if len(sys.argv) > 2:
        _function(sys.argv[2])()
    _limit_memory(int(os.environ.get("OVR_WORKER_MEMORY_MB", "1024")))
    cpu_s = float(os.environ.get("OVR_WORKER_CPU_S", "0"))
    if hasattr(signal, "SIGPROF"):
        signal.signal(signal.SIGPROF, _on_cpu_limit)
    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    sys.stdout = sys.stderr  # stray prints must not corrupt the result stream
    write_frame(stdout, READY)
    while True:
        try:
            job = read_frame(stdin)
        except EOFError:
            return
        try:
            result = _run(function, job, cpu_s)
        except CpuLimit:
            result = JobFailed("timeout")
        except MemoryError:
            result = JobFailed("memory")
        except RecursionError:
            result = JobFailed("too deeply nested")
        except Exception as exc:  # reported per job; the worker lives on
            result = JobFailed(f"{type(exc).__name__}: {exc}"[:200])
        write_frame(stdout, result)


if __name__ == "__main__":
    main()
