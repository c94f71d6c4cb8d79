"""GPU check of the trainer, prepared for one lent H200 (torch + transformers, no vLLM, no
network; about 6 minutes there). CI never runs it.

1. bf16 with float32 master weights: ``ovr train`` SFT, 10 optimiser steps at lr 1e-6 from the
   same base, once with ``model.dtype: bfloat16`` and once ``float32``; the share of the language
   model's weights that moved in the saved checkpoint. Plain bf16 weights updated in place barely
   move at this learning rate (a step is below half a bf16 ulp); master weights move all.
2. The RL-controls benchmark (``rl_controls.py``) on a larger tiny model (hidden 512, 4 layers,
   Qwen's full vocabulary) with the HF rollout engine: PPO and GRPO against no RL and a random
   reward.
3. RL tokens/s of ``ovr train`` GRPO / PPO beside TRL's GRPOTrainer (bf16 mixed precision).

Writes ``benchmarks/results/gpu_check-<gpu>.json`` and ``gpu_check-<gpu>-rl.png`` (also into
``$OUT`` when set, so they come back from the device machine).

On the device machine: ``bash benchmarks/gpu_check.sh`` (installs the carried wheels and this
project, then runs this). Here: ``.venv/bin/python benchmarks/gpu_check.py --dry-run`` runs
every part at toy size on the CPU.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import sys
import time
from pathlib import Path
from typing import Any

import torch
from rich.console import Console
from safetensors.torch import load_file

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks"))

import rl_controls  # noqa: E402
import rl_throughput  # noqa: E402

from ovr_eval.tiny import build_tiny_qwen2_5_vl  # noqa: E402
from ovr_trainer.config import load_recipe  # noqa: E402
from ovr_trainer.runner import train  # noqa: E402

LM_KEY = re.compile(r"language_model|lm_head|embed_tokens")


def weights(folder: Path) -> dict[str, torch.Tensor]:
    """The language model's weights of a checkpoint, as float32."""
    tensors: dict[str, torch.Tensor] = {}
    for shard in sorted(folder.glob("*.safetensors")):
        tensors.update({k: v.float() for k, v in load_file(shard).items() if LM_KEY.search(k)})
    return tensors


def moved(base: Path, trained: Path) -> dict[str, float]:
    """Share of weights that changed at all, and their mean absolute change."""
    before, after = weights(base), weights(trained)
    changed = total = 0
    delta = 0.0
    for name, old in before.items():
        new = after.get(name, after.get(name.replace("model.language_model.", "model.")))
        if new is None:
            continue
        changed += int((new != old).sum())
        delta += float((new - old).abs().sum())
        total += old.numel()
    return {"changed_share": round(changed / max(total, 1), 4),
            "mean_abs_change": delta / max(total, 1), "weights": total}


def master_weights(work: Path, cfg: dict[str, Any], steps: int, console: Console
                   ) -> dict[str, Any]:
    """10 SFT steps at lr 1e-6 in bf16 and in float32 through the recipe; what moved."""
    base = build_tiny_qwen2_5_vl(work / "mw-base", force=True, init_std=0.02,
                                 hidden_size=cfg["hidden_size"], layers=cfg["layers"],
                                 vocab=cfg["vocab"])
    data = work / "mw-sft.jsonl"
    rl_controls.write_sft_data(data)
    result: dict[str, Any] = {"lr": 1e-6, "steps": steps}
    for dtype in ("bfloat16", "float32"):
        run = work / f"mw-{dtype}"
        shutil.rmtree(run, ignore_errors=True)
        train(load_recipe("tiny", {
            "model.path": str(base), "model.dtype": dtype, "model.freeze_vision": True,
            "sft.data": str(data), "sft.data_dir": None, "sft.batch_size": 16,
            "sft.grad_accum": 1, "sft.max_steps": steps, "sft.epochs": 10, "sft.lr": 1e-6,
            "sft.warmup_steps": 0, "sft.min_lr_ratio": 1.0, "rl.enabled": False,
            "eval.enabled": False}), run, console=console)
        result[dtype] = moved(base, rl_controls.last_checkpoint(run))
    result["passed"] = (result["bfloat16"]["changed_share"]
                        >= 0.9 * result["float32"]["changed_share"])
    return result


def machine() -> str:
    if torch.cuda.is_available():
        return torch.cuda.get_device_name(0)
    return f"{platform.machine()} CPU ({os.cpu_count()} cores)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dry-run", action="store_true",
                        help="every part at toy size (CPU); writes nothing to results")
    parser.add_argument("--work", type=Path, default=Path("/tmp/ovr-gpu-check"))
    parser.add_argument("--skip", nargs="*", default=[],
                        choices=["master-weights", "rl-controls", "throughput"])
    args = parser.parse_args()
    console = Console(stderr=True)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    if args.dry_run:
        cfg = rl_controls.settings("quick")
        mw_steps, speed_steps = 2, 2
    else:
        cfg, mw_steps, speed_steps = rl_controls.settings("gpu"), 10, 4
    name = machine()
    result: dict[str, Any] = {
        "benchmark": "gpu_check", "machine": name, "torch": torch.__version__,
        "model": f"tiny random Qwen2.5-VL: hidden {cfg['hidden_size']}, {cfg['layers']} layers, "
                 f"vocabulary {cfg['vocab'] or 'Qwen (151,936 rows)'}"}
    began = time.monotonic()
    if "master-weights" not in args.skip:
        console.rule("bf16 + master weights")
        result["master_weights"] = master_weights(args.work, cfg, mw_steps, console)
        console.print(result["master_weights"])
    controls = None
    if "rl-controls" not in args.skip:
        console.rule("RL controls")
        controls = rl_controls.run_benchmark(args.work / "controls", cfg, console, engine="hf")
        result["rl_controls"] = controls
        console.print({k: controls[k] for k in ("table", "margin_over_controls_p_correct_rl",
                                                "passed")})
    if "throughput" not in args.skip:
        console.rule("RL throughput")
        start = (Path(controls["sft"]["checkpoint"]) if controls else
                 build_tiny_qwen2_5_vl(args.work / "speed-base", force=True, init_std=0.02,
                                       hidden_size=cfg["hidden_size"], layers=cfg["layers"],
                                       vocab=cfg["vocab"]))
        result["throughput"] = rl_throughput.compare(start, args.work, speed_steps, console,
                                                     device=device)
        console.print(result["throughput"]["trainers"])
    result["wall_s"] = round(time.monotonic() - began, 1)
    slug = re.sub(r"[^A-Za-z0-9]+", "-", name).strip("-").lower()
    folders = [Path(os.environ["OUT"])] if os.environ.get("OUT") else []
    if not args.dry_run:
        folders.insert(0, REPO / "benchmarks" / "results")
    for folder in folders:
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"gpu_check-{slug}.json").write_text(json.dumps(result, indent=2) + "\n")
        if controls:
            rl_controls.plot(controls, folder / f"gpu_check-{slug}-rl.png",
                             f"RL controls on {name}: {result['model']}")
        console.print(f"wrote {folder}/gpu_check-{slug}.json")
    console.print(f"wall time {result['wall_s']:.0f} s")


if __name__ == "__main__":
    main()
