"""Peak host memory of ``ovr eval`` on a MathVerse-testmini-sized run (3,940 image items),
side by side with the engine's own footprint, in one run.

The real MathVerse images are not available offline, so the 788 real Text Only problems are
written as all five versions into a hub-schema parquet with one 800x600 image each (a drawn
figure with a noisy band: ~1.4 MB decoded, ~150 KB as PNG, larger than MathVerse's usual figure).
Usage: python benchmarks/memory_mathverse.py [--rows 3940] [--data ../shared/data]
Prints a table and writes benchmarks/results/memory_mathverse.json.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
VERSIONS = ("Text Dominant", "Text Lite", "Vision Intensive", "Vision Dominant", "Vision Only")

ENGINE_ONLY = """
import os, resource, sys
os.environ.setdefault("VLLM_LOGGING_LEVEL", "ERROR")
from PIL import Image
from ovr_eval.engines.options import VLLMOptions
from ovr_eval.engines.vllm_engine import VLLMEngine
from ovr_eval.types import Request, SamplingConfig
engine = VLLMEngine(sys.argv[1], VLLMOptions(max_model_len=4096))
image = Image.open(sys.argv[2])
request = Request("x", [{"role": "user", "content": [{"type": "image"},
                  {"type": "text", "text": "What is shown?"}]}], images=[image])
list(engine.generate([request], SamplingConfig(max_tokens=1)))
"""


def build_fixture(folder: Path, rows: int, data: Path) -> Path:
    """A hub-schema MathVerse testmini parquet with ``rows`` items and one image each."""
    import datasets
    import numpy as np
    from PIL import Image, ImageDraw

    datasets.disable_progress_bars()
    target = folder / "mathverse" / "testmini.parquet"
    if target.is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    problems = json.loads((data / "mathverse" / "testmini_text_only.json").read_text())
    rng = np.random.default_rng(0)

    def records():
        for i in range(rows):
            problem = problems[(i // 5) % len(problems)]
            pixels = np.full((600, 800, 3), 255, dtype=np.uint8)
            pixels[:64] = rng.integers(0, 256, (64, 800, 3), dtype=np.uint8)
            image = Image.fromarray(pixels)
            draw = ImageDraw.Draw(image)
            for _ in range(12):
                draw.line([tuple(rng.integers(0, 800, 2)), tuple(rng.integers(64, 600, 2))],
                          fill="black", width=3)
            draw.text((20, 80), problem["question"][:90], fill="black")
            buffer = io.BytesIO()
            image.save(buffer, format="PNG")
            yield {"sample_index": str(i + 1), "problem_index": problem["problem_index"],
                   "problem_version": VERSIONS[i % 5], "question": problem["question"],
                   "image": {"bytes": buffer.getvalue(), "path": None},
                   "answer": problem["answer"], "question_type": problem["question_type"],
                   "metadata": problem["metadata"], "query_wo": problem["query_wo"],
                   "query_cot": problem["query_cot"], "question_for_eval": problem["question"]}

    strings = ("sample_index", "problem_index", "problem_version", "question", "answer",
               "question_type", "query_wo", "query_cot", "question_for_eval")
    features = datasets.Features({
        **{k: datasets.Value("string") for k in strings}, "image": datasets.Image(),
        "metadata": {k: datasets.Value("string") for k in ("split", "source", "subject",
                                                              "subfield")}})
    dataset = datasets.Dataset.from_generator(records, features=features)
    dataset.to_parquet(str(target))
    return target


def peak_rss_of(command: list[str]) -> tuple[float, float, int]:
    """(peak RSS GiB of the child, wall seconds, exit code)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    start = time.monotonic()
    process = subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                             text=True)
    wall = time.monotonic() - start
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    if process.returncode:
        print(process.stderr[-2000:], file=sys.stderr)
    # RUSAGE_CHILDREN keeps the maximum over all children: run the smaller job first
    return max(peak, before) / 2**20, wall, process.returncode


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=3940)
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument("--limit", type=int, help="evaluate only the first N items")
    parser.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "ovr-memory")
    args = parser.parse_args()
    from ovr_eval.tiny import build_tiny_qwen2_5_vl

    model = build_tiny_qwen2_5_vl(args.work / "tiny-qwen2_5_vl")
    parquet = build_fixture(args.work / f"data-{args.rows}", args.rows, args.data)
    probe = args.work / "probe.png"
    import datasets
    from PIL import Image

    Image.open(io.BytesIO(datasets.Dataset.from_parquet(str(parquet))
                          .cast_column("image", datasets.Image(decode=False))[0]["image"]
                          ["bytes"])).save(probe)
    engine_gib, engine_s, _ = peak_rss_of([sys.executable, "-c", ENGINE_ONLY, str(model),
                                            str(probe)])
    out = args.work / f"run-{os.getpid()}"
    run_gib, run_s, code = peak_rss_of([
        sys.executable, "-m", "ovr_eval.cli", "eval", "--model", str(model), "--tasks",
        "mathverse", "--data-dir", str(parquet.parent.parent), "--max-tokens", "1",
        "--max-model-len", "4096", "--out", str(out),
        *(["--limit", str(args.limit)] if args.limit else [])])
    records = sum(1 for _ in (out / "samples" / "mathverse.jsonl").open()) if code == 0 else 0
    result = {"rows": args.rows, "evaluated": args.limit or args.rows,
              "parquet_mb": parquet.stat().st_size / 2**20,
              "engine_only_peak_rss_gib": engine_gib, "engine_only_seconds": engine_s,
              "ovr_eval_peak_rss_gib": run_gib, "ovr_eval_seconds": run_s,
              "records": records, "beyond_engine_gib": run_gib - engine_gib,
              "cpu_count": os.cpu_count()}
    path = REPO / "benchmarks" / "results" / "memory_mathverse.json"
    path.write_text(json.dumps(result, indent=2) + "\n")
    print(f"{'process':<34}{'peak RSS GiB':>14}{'wall s':>10}")
    print(f"{'engine alone (1 image request)':<34}{engine_gib:>14.2f}{engine_s:>10.1f}")
    label = f"ovr eval, {args.limit or args.rows} items"
    print(f"{label:<34}{run_gib:>14.2f}{run_s:>10.1f}")
    print(f"beyond the engine: {result['beyond_engine_gib']:.2f} GiB; {records} records; "
          f"wrote {path}")


if __name__ == "__main__":
    main()
