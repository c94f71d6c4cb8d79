"""A verifier worker process: reads jobs on stdin, writes results on stdout (see pool.py)."""

from __future__ import annotations

import importlib
import os
import signal
import sys


def _limit_memory(extra_mb: int) -> None:
    try:
        import resource

        with open(f"/proc/{os.getpid()}/statm") as statm:
            current = int(statm.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
        limit = current + extra_mb * 2**20
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    except (OSError, ValueError, ImportError):
        pass  # no /proc or no rlimits: the time limit still applies


def main() -> None:
    from ovr_eval.verify.pool import JobFailed, read_frame, write_frame

    # Ctrl-C reaches the whole process group: the parent decides (it finishes grading what is
    # generated, then closes the pool), so a worker never dies mid-job and fails a verdict
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    module, _, name = sys.argv[1].partition(":")
    function = getattr(importlib.import_module(module), name)
    _limit_memory(int(os.environ.get("OVR_WORKER_MEMORY_MB", "1024")))
    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    sys.stdout = sys.stderr  # stray prints must not corrupt the result stream
    while True:
        try:
            job = read_frame(stdin)
        except EOFError:
            return
        try:
            result = function(*job)
        except MemoryError:
            result = JobFailed("memory")
        except RecursionError:
            result = JobFailed("too deeply nested")
        except Exception as exc:  # reported per job; the worker lives on
            result = JobFailed(f"{type(exc).__name__}: {exc}"[:200])
        write_frame(stdout, result)


if __name__ == "__main__":
    main()
