"""What ``--deterministic`` costs and what it buys, per engine, side by side in one process.

For each engine (hf, and vllm when installed) and each mode (default, deterministic): the same
MATH500 prompts generated at two batch sizes (hf ``batch_size``, vLLM ``max_num_seqs``) and once
more as a killed-and-resumed run asks for them (the first third, then the rest in a second
call). Reported: generation seconds (median of the repeats; engine start excluded), output
tokens per second, the slowdown against the default mode at the same batch size, and how many
prompts' responses differ between the batch sizes and between resumed and straight.

Usage: python benchmarks/determinism.py [--model DIR_OR_HUB_ID] [--n 40] [--max-tokens 48]
Without --model it builds the tiny random Qwen2.5-VL. Prints a table and writes
benchmarks/results/determinism-<device>.json.
"""

from __future__ import annotations

import argparse
import gc
import importlib.util
import json
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("VLLM_LOGGING_LEVEL", "ERROR")

from rich.console import Console
from rich.table import Table

REPO = Path(__file__).resolve().parents[1]
BATCHES = (4, 8)


def build_engine(name: str, model: str, batch: int, deterministic: bool) -> Any:
    from ovr_eval.engines.hf import HFEngine
    from ovr_eval.engines.options import HFOptions, VLLMOptions

    if name == "hf":
        return HFEngine(model, HFOptions(batch_size=batch, deterministic=deterministic))
    from ovr_eval.engines.vllm_engine import VLLMEngine

    return VLLMEngine(model, VLLMOptions(max_model_len=4096, deterministic=deterministic),
                      max_num_seqs=batch)


def generate(engine: Any, requests: list[Any], sampling: Any) -> tuple[dict[str, Any], float,
                                                                        int]:
    """Responses by sample id, seconds, output tokens."""
    began = time.perf_counter()
    out = {c.sample_id: c for c in engine.generate(requests, sampling)}
    seconds = time.perf_counter() - began
    return ({k: c.responses for k, c in out.items()}, seconds,
            sum(sum(c.completion_tokens) for c in out.values()))


def differing(a: dict[str, Any], b: dict[str, Any]) -> int:
    return sum(a[k] != b[k] for k in a)


def measure(name: str, model: str, requests: list[Any], sampling: Any, repeats: int
            ) -> list[dict[str, Any]]:
    rows = []
    for deterministic in (False, True):
        by_batch: dict[int, dict[str, Any]] = {}
        for batch in BATCHES:
            engine = build_engine(name, model, batch, deterministic)
            times, tokens, first = [], 0, None
            for _ in range(repeats):
                responses, seconds, tokens = generate(engine, requests, sampling)
                first = first or responses
                times.append(seconds)
            cut = len(requests) // 3  # a resumed run: what was done, then the rest
            resumed = {**generate(engine, requests[:cut], sampling)[0],
                       **generate(engine, requests[cut:], sampling)[0]}
            engine.close()
            del engine
            gc.collect()
            assert first is not None
            by_batch[batch] = first
            seconds = statistics.median(times)
            rows.append({"engine": name, "deterministic": deterministic, "batch": batch,
                         "seconds": seconds, "tokens_per_s": tokens / seconds,
                         "resumed_differ": differing(first, resumed)})
        across = differing(by_batch[BATCHES[0]], by_batch[BATCHES[1]])
        for row in rows[-len(BATCHES):]:
            row["batch_sizes_differ"] = across
    for row in rows:
        base = next(r for r in rows if r["engine"] == name and r["batch"] == row["batch"]
                    and not r["deterministic"])
        row["slowdown"] = row["seconds"] / base["seconds"]
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model")
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument("--n", type=int, default=40, help="MATH500 prompts")
    parser.add_argument("--max-tokens", type=int, default=48)
    parser.add_argument("--temperature", type=float, default=0.0)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--engines", default="hf,vllm")
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results")
    args = parser.parse_args()

    import torch

    from ovr_eval.evaluate import load_samples
    from ovr_eval.prompting import build_request, load_template
    from ovr_eval.task_registry import resolve
    from ovr_eval.tiny import build_tiny_qwen2_5_vl
    from ovr_eval.types import SamplingConfig

    model = args.model or str(build_tiny_qwen2_5_vl(Path(tempfile.mkdtemp()) / "tiny"))
    sampling = SamplingConfig(max_tokens=args.max_tokens, temperature=args.temperature)
    (task,) = resolve("math500")
    samples, _ = load_samples(task, "test", args.data, args.n)
    template = load_template(task.default_prompt)
    requests = [build_request(template, s, sampling.seed) for s in samples]
    engines = [e for e in args.engines.split(",")
               if e == "hf" or importlib.util.find_spec("vllm") is not None]
    rows = [row for name in engines
            for row in measure(name, model, requests, sampling, args.repeats)]

    device = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "cpu"
    table = Table(title=f"--deterministic on {device}: {len(requests)} MATH500 prompts, "
                        f"{args.max_tokens} tokens, T={args.temperature}")
    for column in ("engine", "mode", "batch", "gen s", "tok/s", "slowdown",
                   "differ 4 vs 8", "differ resumed"):
        table.add_column(column, justify="left" if column in ("engine", "mode") else "right")
    for r in rows:
        table.add_row(r["engine"], "deterministic" if r["deterministic"] else "default",
                      str(r["batch"]), f"{r['seconds']:.2f}", f"{r['tokens_per_s']:.0f}",
                      f"{r['slowdown']:.2f}×", str(r["batch_sizes_differ"]),
                      str(r["resumed_differ"]))
    Console(width=120).print(table)
    args.out.mkdir(parents=True, exist_ok=True)
    name = "cpu" if device == "cpu" else "gpu"
    path = args.out / f"determinism-{name}.json"
    path.write_text(json.dumps({
        "device": device, "machine": platform.machine(), "cpus": os.cpu_count(),
        "model": args.model or "tiny random Qwen2.5-VL", "prompts": len(requests),
        "max_tokens": args.max_tokens, "temperature": args.temperature,
        "repeats": args.repeats, "rows": rows}, indent=2) + "\n")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
