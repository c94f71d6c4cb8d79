"""Does the ``openai`` engine keep a server busy? The same prompts through a real
``vllm serve`` at several client concurrencies, side by side with offline vLLM, in one run.

Usage: python benchmarks/openai_concurrency.py [--model DIR] [--n 128] [--max-tokens 128]
Without --model it builds the tiny random Qwen2.5-VL. Prints a table and writes
benchmarks/results/openai_concurrency-<device>.json.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

REPO = Path(__file__).resolve().parents[1]
ENGINE_ARGS = ["--dtype", "float32", "--max-model-len", "4096"]


def start_server(model: str) -> tuple[subprocess.Popen, str]:
    import httpx

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cpu_only = ["--enforce-eager", "--kv-cache-memory-bytes", str(2**30)]
    server = subprocess.Popen(
        [sys.executable, "-m", "vllm.entrypoints.openai.api_server", "--model", model,
         "--served-model-name", "bench", "--port", str(port), *ENGINE_ARGS, *cpu_only],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        env={**os.environ, "VLLM_ENABLE_V1_MULTIPROCESSING": "0", "TORCH_COMPILE_DISABLE": "1"})
    url = f"http://127.0.0.1:{port}/v1"
    for _ in range(600):
        try:
            if httpx.get(f"{url}/models", timeout=1).status_code == 200:
                return server, url
        except httpx.HTTPError:
            time.sleep(0.5)
    server.kill()
    raise SystemExit("vllm serve did not start")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model")
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument("--n", type=int, default=128)
    parser.add_argument("--max-tokens", type=int, default=128)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 8, 64])
    args = parser.parse_args()

    from ovr_eval.engines import OpenAIOptions, VLLMOptions, create_engine
    from ovr_eval.evaluate import load_samples
    from ovr_eval.prompting import build_request, load_template
    from ovr_eval.task_registry import resolve
    from ovr_eval.tiny import build_tiny_qwen2_5_vl
    from ovr_eval.types import SamplingConfig

    model = args.model or str(build_tiny_qwen2_5_vl(Path(tempfile.mkdtemp()) / "tiny"))
    (task,) = resolve("math500")
    samples, _ = load_samples(task, "test", args.data, args.n)
    requests = [build_request(load_template("reasoning"), s, 0) for s in samples]
    sampling = SamplingConfig(max_tokens=args.max_tokens)
    rows = []

    def measure(name: str, engine) -> None:
        start = time.perf_counter()
        completions = list(engine.generate(requests, sampling))
        seconds = time.perf_counter() - start
        tokens = sum(sum(c.completion_tokens) for c in completions)
        rows.append({"path": name, "seconds": seconds, "tokens": tokens,
                     "tokens_per_s": tokens / seconds})

    offline = create_engine("vllm", model, VLLMOptions(dtype="float32", max_model_len=4096))
    list(offline.generate(requests[:2], sampling))  # warm-up
    measure("offline vLLM (ovr engine)", offline)
    offline.close()
    del offline
    server, url = start_server(model)
    try:
        for concurrency in args.concurrency:
            engine = create_engine("openai", "bench",
                                   OpenAIOptions(base_url=url, concurrency=concurrency))
            list(engine.generate(requests[:2], sampling))  # warm-up
            measure(f"openai engine, concurrency {concurrency}", engine)
    finally:
        server.terminate()
        server.wait(timeout=60)
    import torch

    device = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "cpu"
    result = {"device": device, "cpu_count": os.cpu_count(), "prompts": args.n,
              "max_tokens": args.max_tokens, "rows": rows}
    slug = device.lower().replace(" ", "-")
    path = REPO / "benchmarks" / "results" / f"openai_concurrency-{slug}.json"
    path.write_text(json.dumps(result, indent=2) + "\n")
    table = Table(title=f"{args.n} MATH500 prompts x {args.max_tokens} tokens on {device}")
    for column in ("path", "wall s", "completion tokens", "tokens/s"):
        table.add_column(column)
    for row in rows:
        table.add_row(row["path"], f"{row['seconds']:.2f}", str(row["tokens"]),
                      f"{row['tokens_per_s']:,.0f}")
    Console().print(table)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
