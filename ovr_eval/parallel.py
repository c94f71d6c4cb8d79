"""Data parallel evaluation: N engine replicas (one per GPU or GPU group), one run folder.

The coordinator starts N ``ovr eval --shard i/N`` worker processes, each pinned to its GPUs
through CUDA_VISIBLE_DEVICES. Workers append to the same samples/<task>.jsonl files (one
O_APPEND write per record), so the run resumes like any other; the coordinator then scores it.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from rich.console import Console

from ovr_eval.types import UserError


def gpu_groups(replicas: int, gpus_per_replica: int) -> list[str | None]:
    """CUDA_VISIBLE_DEVICES for each replica; None for each when there is no GPU."""
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None:
        ids = [d for d in visible.split(",") if d.strip()]
    else:
        import torch

        ids = [str(i) for i in range(torch.cuda.device_count())]
    if not ids:
        return [None] * replicas
    if replicas * gpus_per_replica > len(ids):
        raise UserError(f"--data-parallel {replicas} x --tensor-parallel-size {gpus_per_replica} "
                        f"needs {replicas * gpus_per_replica} GPUs; {len(ids)} visible")
    return [",".join(ids[i * gpus_per_replica:(i + 1) * gpus_per_replica])
            for i in range(replicas)]


def worker_argv(argv: list[str]) -> list[str]:
    """The command line without its --data-parallel option."""
    out, skip = [], False
    for arg in argv:
        if skip:
            skip = False
        elif arg == "--data-parallel":
            skip = True
        elif not arg.startswith("--data-parallel="):
            out.append(arg)
    return out


def _records_written(samples_dir: Path) -> int:
    total = 0
    for path in samples_dir.glob("*.jsonl"):
        with path.open("rb") as handle:
            total += sum(1 for _ in handle)
    return total


def run_workers(argv: list[str], out: Path, replicas: int, gpus_per_replica: int,
                console: Console) -> None:
    """Run the shards to completion; a failed worker is a clear error naming its log."""
    groups = gpu_groups(replicas, gpus_per_replica)
    logs = out / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    workers = []
    for index, gpus in enumerate(groups):
        env = dict(os.environ)
        if gpus is not None:
            env["CUDA_VISIBLE_DEVICES"] = gpus
        log = (logs / f"worker-{index}.log").open("w")
        command = [sys.executable, "-m", "ovr_eval.cli", *worker_argv(argv),
                   "--shard", f"{index}/{replicas}", "--out", str(out)]
        workers.append((subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT,
                                         env=env), log))
    start = time.monotonic()
    with console.status("") as status:
        while any(p.poll() is None for p, _ in workers):
            done = _records_written(out / "samples") if (out / "samples").is_dir() else 0
            status.update(f"{replicas} engine replicas: {done} record(s) saved, "
                          f"{time.monotonic() - start:.0f} s")
            time.sleep(0.5)
    for index, (process, log) in enumerate(workers):
        log.close()
        if process.returncode != 0:
            raise UserError(f"data-parallel worker {index} failed (exit {process.returncode}); "
                            f"see {logs / f'worker-{index}.log'}")
