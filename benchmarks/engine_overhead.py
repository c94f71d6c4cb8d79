"""What ``ovr eval`` adds on top of vLLM: the same prompts and sampling through raw
``vllm.LLM.generate`` and through an ``ovr eval`` run (data loading, prompts, streaming,
grading, records, scores), side by side on one engine, in one process.

Usage: python benchmarks/engine_overhead.py [--model DIR_OR_HUB_ID] [--n 128] [--max-tokens 256]
Without --model it builds the tiny random Qwen2.5-VL. Prints a table and writes
benchmarks/results/engine_overhead-<device>.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path

os.environ.setdefault("VLLM_LOGGING_LEVEL", "ERROR")

from rich.console import Console
from rich.table import Table

REPO = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model")
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument("--n", type=int, default=128, help="MATH500 prompts")
    parser.add_argument("--max-tokens", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results")
    args = parser.parse_args()

    import torch
    from vllm import SamplingParams

    from ovr_eval.engines.base import render_chat
    from ovr_eval.engines.options import VLLMOptions
    from ovr_eval.engines.vllm_engine import VLLMEngine
    from ovr_eval.evaluate import EvalOptions, Evaluation, load_samples
    from ovr_eval.prompting import build_request, load_template
    from ovr_eval.task_registry import resolve
    from ovr_eval.tiny import build_tiny_qwen2_5_vl
    from ovr_eval.types import SamplingConfig
    from ovr_eval.verify import grade_many

    model = args.model or str(build_tiny_qwen2_5_vl(Path(tempfile.mkdtemp()) / "tiny"))
    engine = VLLMEngine(model, VLLMOptions(max_model_len=4096))
    sampling = SamplingConfig(max_tokens=args.max_tokens)
    (task,) = resolve("math500")
    samples, _ = load_samples(task, "test", args.data, args.n)
    template = load_template("reasoning")
    requests = [build_request(template, s, sampling.seed) for s in samples]
    prompts = [{"prompt": render_chat(engine.chat_template_owner, r)} for r in requests]
    params = [SamplingParams(temperature=0.0, max_tokens=args.max_tokens, seed=r.seed)
              for r in requests]

    def raw() -> tuple[float, int]:
        start = time.perf_counter()
        outputs = engine.llm.generate(prompts, params, use_tqdm=False)
        return time.perf_counter() - start, sum(len(o.outputs[0].token_ids) for o in outputs)

    def harness() -> tuple[float, int]:
        out = Path(tempfile.mkdtemp()) / "run"
        options = EvalOptions(model=model, tasks=["math500"], out=out, engine="vllm",
                              sampling=sampling, data_dir=args.data, limit=args.n)
        start = time.perf_counter()
        Evaluation(options, Console(quiet=True), engine=engine).run()
        seconds = time.perf_counter() - start
        records = [json.loads(x) for x in (out / "samples" / "math500.jsonl").open()]
        last_records[:] = records
        return seconds, sum(sum(r["completion_tokens"]) for r in records)

    def grading_seconds() -> tuple[float, float]:
        """Grading cost alone (fresh caches): the run's own responses, and MATH500's worked
        solutions for the same problems (realistic text with \\boxed answers)."""
        own = [(resp, r["gold"], r["choices"]) for r in last_records for resp in r["responses"]]
        rows = {json.loads(x)["unique_id"]: json.loads(x)
                for x in (args.data / "math500" / "test.jsonl").open()}
        realistic = [(rows[s.id]["solution"], s.answer) for s in samples]
        timings = []
        for items in (own, realistic):
            start = time.perf_counter()
            grade_many(items, cache={})
            timings.append(time.perf_counter() - start)
        return timings[0], timings[1]

    last_records: list[dict] = []
    raw()  # warm-up (first-request compilation and caches)
    timings: dict[str, list[float]] = {"raw vLLM": [], "ovr eval": []}
    tokens: dict[str, int] = {}
    for _ in range(args.repeats):
        for name, run in (("raw vLLM", raw), ("ovr eval", harness)):
            seconds, count = run()
            timings[name].append(seconds)
            tokens[name] = count
    grading, grading_solutions = grading_seconds()
    device = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "cpu"
    median = {k: statistics.median(v) for k, v in timings.items()}
    result = {
        "device": device, "cpu_count": os.cpu_count(), "platform": platform.platform(),
        "model": model if args.model else "tiny random Qwen2.5-VL (ovr_eval.tiny)",
        "prompts": args.n, "max_tokens": args.max_tokens, "repeats": args.repeats,
        "seconds": timings, "median_seconds": median, "completion_tokens": tokens,
        "tokens_per_s": {k: tokens[k] / median[k] for k in median},
        "ratio_ovr_to_raw": median["ovr eval"] / median["raw vLLM"],
        "ratio_ovr_to_raw_best_of_runs": min(timings["ovr eval"]) / min(timings["raw vLLM"]),
        "grading_seconds_alone": grading,
        "grading_fraction_of_run": grading / median["ovr eval"],
        "grading_worked_solutions_seconds": grading_solutions,
        "grading_worked_solutions_fraction_of_run": grading_solutions / median["ovr eval"],
    }
    slug = device.lower().replace(" ", "-")
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / f"engine_overhead-{slug}.json"
    path.write_text(json.dumps(result, indent=2) + "\n")
    table = Table(title=f"{args.n} MATH500 prompts x {args.max_tokens} tokens on {device}")
    for column in ("path", "median wall s", "runs", "completion tokens", "tokens/s"):
        table.add_column(column)
    for name in timings:
        table.add_row(name, f"{median[name]:.2f}", " ".join(f"{t:.2f}" for t in timings[name]),
                      str(tokens[name]), f"{result['tokens_per_s'][name]:,.0f}")
    Console().print(table)
    print(f"ovr eval / raw vLLM = {result['ratio_ovr_to_raw']:.3f} (medians), "
          f"{result['ratio_ovr_to_raw_best_of_runs']:.3f} (best runs); grading alone: the run's "
          f"responses {grading:.2f} s, MATH500 worked solutions {grading_solutions:.2f} s = "
          f"{100 * result['grading_worked_solutions_fraction_of_run']:.1f}% of the run (grading "
          f"overlaps generation); wrote {path}")


if __name__ == "__main__":
    main()
