"""Time the weights fingerprint ``ovr eval`` records in config.json on a 7B-sized checkpoint,
next to a full SHA-256 of the same files.

Writes a folder laid out like Qwen2.5-VL-7B-Instruct (5 safetensors shards, 16.6 GB, random
bytes) to a temporary folder on the given disk, drops it from the page cache, then times
``local_fingerprint`` cold and warm and a whole-file SHA-256 cold.
Usage: python benchmarks/fingerprint.py [--dir /tmp] [--scale 1.0]
Prints a table and writes benchmarks/results/fingerprint.json.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

REPO = Path(__file__).resolve().parents[1]
SHARD_BYTES = (3_900_000_000, 3_864_726_320, 3_864_726_424, 3_864_733_000, 1_089_994_880)
CHUNK = 64 << 20


def write_checkpoint(folder: Path, scale: float) -> list[Path]:
    folder.mkdir(parents=True)
    (folder / "config.json").write_text(json.dumps({"model_type": "qwen2_5_vl"}))
    block = os.urandom(CHUNK)
    shards = []
    for index, size in enumerate(SHARD_BYTES, 1):
        path = folder / f"model-{index:05d}-of-{len(SHARD_BYTES):05d}.safetensors"
        left = int(size * scale)
        with path.open("wb") as handle:
            while left > 0:
                # vary each block a little so no two regions of any file are identical
                piece = block[: min(CHUNK, left)]
                handle.write(left.to_bytes(8, "little") + piece[8:])
                left -= len(piece)
            handle.flush()
            os.fsync(handle.fileno())
        shards.append(path)
    return shards


def drop_cache(paths: list[Path]) -> None:
    """Evict the files from the page cache (needs no privileges: they are clean and synced)."""
    for path in paths:
        fd = os.open(path, os.O_RDONLY)
        try:
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        finally:
            os.close(fd)


def full_sha256(paths: list[Path]) -> str:
    digest = hashlib.sha256()
    for path in paths:
        with path.open("rb") as handle:
            while chunk := handle.read(CHUNK):
                digest.update(chunk)
    return digest.hexdigest()


def timed(function, *args) -> tuple[float, object]:
    start = time.perf_counter()
    value = function(*args)
    return time.perf_counter() - start, value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", type=Path, default=Path(tempfile.gettempdir()))
    parser.add_argument("--scale", type=float, default=1.0, help="fraction of the 7B sizes")
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results")
    args = parser.parse_args()

    from ovr_eval.fingerprint import local_fingerprint

    root = Path(tempfile.mkdtemp(dir=args.dir, prefix="ovr-fingerprint-"))
    try:
        shards = write_checkpoint(root / "model", args.scale)
        total = sum(p.stat().st_size for p in shards)
        drop_cache(shards)
        cold, fingerprint = timed(local_fingerprint, root / "model")
        warm, _ = timed(local_fingerprint, root / "model")
        drop_cache(shards)
        full, _ = timed(full_sha256, shards)
    finally:
        shutil.rmtree(root)
    result = {"shards": len(shards), "bytes": total, "fingerprint_cold_s": cold,
              "fingerprint_warm_s": warm, "full_sha256_cold_s": full,
              "speedup_cold": full / cold, "id": fingerprint["id"]}
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / "fingerprint.json"
    path.write_text(json.dumps(result, indent=2) + "\n")
    table = Table(title=f"weights fingerprint of {len(shards)} shards, {total / 1e9:.1f} GB")
    for column in ("method", "page cache", "seconds"):
        table.add_column(column)
    table.add_row("ovr fingerprint (sampled shards)", "cold", f"{cold:.3f}")
    table.add_row("ovr fingerprint (sampled shards)", "warm", f"{warm:.3f}")
    table.add_row("SHA-256 of every byte", "cold", f"{full:.1f}")
    Console().print(table)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
