"""Does the trainer learn? The tiny recipe on the synthetic ``arithmetic`` task, measured
through the harness, plus RL throughput beside TRL's GRPOTrainer.

1. Accuracy (``ovr eval``, greedy, arithmetic ``test``: sums as text and as rendered images)
   of the random tiny Qwen2.5-VL, of its SFT checkpoint (``task:arithmetic`` worked
   solutions) and of the PPO checkpoint after RL on the same prompts; each must rise.
2. RL throughput from the SFT checkpoint on the text prompts, same settings on each side:
   ``ovr train`` GRPO, ``ovr train`` PPO (with its critic model) and TRL's GRPOTrainer
   (``benchmarks/trl_baseline.py``, needs the ``bench`` extra). Tokens/s counts prompt +
   response tokens per wall second of the RL steps (TRL's ``num_tokens`` convention).

Usage: .venv/bin/python benchmarks/trainer.py [--quick] [--out benchmarks/results/trainer.json]
(about 25 minutes on 2 CPU cores; --quick: a few steps of each, for a smoke test).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks"))

from ovr_eval.evaluate import load_samples  # noqa: E402
from ovr_eval.prompting import load_template, render_prompt  # noqa: E402
from ovr_eval.tasks import resolve  # noqa: E402
from ovr_eval.tiny import build_tiny_qwen2_5_vl  # noqa: E402
from ovr_trainer.config import EvalConfig, load_recipe  # noqa: E402
from ovr_trainer.evaluation import evaluate_checkpoint  # noqa: E402
from ovr_trainer.runner import train  # noqa: E402

TASK = "arithmetic"
EVAL = {"tasks": [TASK], "splits": {TASK: "test"}, "data_dir": None, "limit": None,
        "engine": "hf", "max_tokens": 40, "temperature": 0.0}
LEARN = {  # the tiny recipe, pointed at arithmetic; ``steps`` are filled in by main()
    "model.freeze_vision": False,
    "sft.data": f"task:{TASK}", "sft.data_split": "train", "sft.data_dir": None,
    "sft.batch_size": 32, "sft.grad_accum": 1, "sft.epochs": 100, "sft.max_length": 128,
    "sft.grouping": "none",  # text and image items mixed in every batch
    "sft.lr": 3e-3, "sft.warmup_steps": 20, "sft.min_lr_ratio": 0.5,
    "rl.algorithm": "ppo", "rl.critic": "model", "rl.tasks": [TASK],
    "rl.splits": {TASK: "train"}, "rl.data_dir": None, "rl.prompts_per_step": 16,
    "rl.rollouts_per_prompt": 4, "rl.max_new_tokens": 40, "rl.temperature": 1.0,
    "rl.policy_lr": 2e-4, "rl.critic_lr": 1e-3, "rl.critic_updates": 2,
    "rl.micro_batch_size": 32, "rl.engine": "hf",
    **{f"eval.{k}": v for k, v in EVAL.items()},
}
SPEED = {"prompts_per_step": 8, "rollouts_per_prompt": 4, "max_new_tokens": 32,
         "policy_lr": 1e-4, "temperature": 1.0}


def accuracy(results: dict[str, Any]) -> dict[str, Any]:
    """Headline accuracy with its interval, and per modality."""
    task = results["tasks"][TASK]
    modality = task.get("subsets", {}).get("modality", {})
    return {"accuracy": task["score"], "ci95": task["ci95"], "n": task["n"],
            **{f"accuracy_{name}": value["score"] for name, value in modality.items()}}


def evaluate(checkpoint: Path, out: Path, console: Console) -> dict[str, Any]:
    shutil.rmtree(out, ignore_errors=True)
    return accuracy(evaluate_checkpoint(EvalConfig(**EVAL), checkpoint, out, console=console))


def learning(work: Path, sft_steps: int, rl_steps: int, console: Console,
             reuse: bool = False) -> dict[str, Any]:
    """Accuracy before SFT, after SFT, after RL; and the RL reward curve. ``reuse``: resume
    (or reuse) the training run of an earlier invocation instead of starting over."""
    # the usual initializer range: the tiny demo model's large init (outputs that visibly depend
    # on the input, for engine tests) trains poorly
    base = build_tiny_qwen2_5_vl(work / "base", force=True, init_std=0.02)
    before = evaluate(base, work / "eval-base", console)
    run = work / "learn"
    if not reuse:
        shutil.rmtree(run, ignore_errors=True)
    recipe = load_recipe("tiny", {**LEARN, "model.path": str(base),
                                  "sft.max_steps": sft_steps, "rl.steps": rl_steps})
    began = time.monotonic()
    summary = train(recipe, run, console=console)
    train_s = time.monotonic() - began
    metrics = [json.loads(line) for line in (run / "train" / "metrics.jsonl").open()]
    rl = [m for m in metrics if m["stage"] == "rl"]
    sft = [m for m in metrics if m["stage"] == "sft"]  # max_steps is capped by epochs × data
    sft_checkpoint = run / "checkpoints" / f"step-{sft[-1]['step']}"
    after_sft = evaluate(sft_checkpoint, work / "eval-sft", console)
    return {
        "before_sft": before, "after_sft": after_sft, "after_rl": accuracy(summary["eval"]),
        "sft_loss_first_last": [sft[0]["loss"], sft[-1]["loss"]],
        "rl_reward_by_step": [round(m["reward"], 4) for m in rl],
        "rl_value_loss_by_step": [round(m["value_loss"], 4) for m in rl],
        "sft_steps": len(sft), "rl_steps": len(rl),
        "train_wall_s": round(train_s, 1) if not reuse else None,
        "sft_checkpoint": str(sft_checkpoint),
    }


def ours_throughput(start: Path, work: Path, algorithm: str, steps: int,
                    console: Console) -> dict[str, Any]:
    """``ovr train`` RL on the text prompts; tokens/s over the RL steps' wall time."""
    run = work / f"speed-{algorithm}"
    shutil.rmtree(run, ignore_errors=True)
    recipe = load_recipe("tiny", {
        "model.path": str(start), "sft.enabled": False, "eval.enabled": False,
        "rl.algorithm": algorithm, "rl.critic": "model", "rl.tasks": [TASK],
        "rl.splits": {TASK: "train_text"}, "rl.data_dir": None, "rl.steps": steps,
        "rl.micro_batch_size": SPEED["prompts_per_step"] * SPEED["rollouts_per_prompt"],
        "rl.critic_updates": 1, **{f"rl.{k}": v for k, v in SPEED.items()}})
    train(recipe, run, console=console)
    rows = [json.loads(line) for line in (run / "train" / "metrics.jsonl").open()]
    wall = sum(r["step_s"] for r in rows)
    tokens = sum(r["tokens"] for r in rows)
    generated = sum(r["generated_tokens_per_s"] * r["step_s"] for r in rows)
    return {"steps": len(rows), "wall_s": round(wall, 2), "tokens": tokens,
            "tokens_per_s": round(tokens / wall, 1),
            "completion_tokens_per_s": round(generated / wall, 1),
            "s_per_step": round(wall / len(rows), 2)}


def trl_throughput(start: Path, work: Path, steps: int) -> dict[str, Any]:
    """TRL GRPOTrainer with the same model, prompts (same template) and settings."""
    from trl_baseline import trl_grpo_run

    [task] = resolve([TASK])
    samples, _ = load_samples(task, "train_text", None, None)
    template = load_template(task.default_prompt)
    result = trl_grpo_run(
        start, [render_prompt(template, s) for s in samples], [s.answer for s in samples],
        num_generations=SPEED["rollouts_per_prompt"],
        max_completion_length=SPEED["max_new_tokens"],
        prompts_per_step=SPEED["prompts_per_step"], steps=steps,
        learning_rate=SPEED["policy_lr"], temperature=SPEED["temperature"],
        out_dir=work / "speed-trl")
    keys = ("steps", "wall_s", "tokens_per_s", "completion_tokens_per_s", "s_per_step")
    return {k: round(result[k], 2) for k in keys} | {
        "tokens": result["prompt_tokens"] + result["completion_tokens"]}


def show(console: Console, result: dict[str, Any]) -> None:
    table = Table(title="accuracy on arithmetic test (greedy, ovr eval)")
    for column in ("stage", "accuracy", "95% CI", "text", "image"):
        table.add_column(column)
    for stage in ("before_sft", "after_sft", "after_rl"):
        row = result["learning"][stage]
        table.add_row(stage, f"{row['accuracy']:.3f}", f"{row['ci95'][0]:.2f}–{row['ci95'][1]:.2f}",
                      f"{row.get('accuracy_text', 0):.3f}", f"{row.get('accuracy_image', 0):.3f}")
    console.print(table)
    table = Table(title="RL throughput, same model and text prompts (prompt + response tokens)")
    for column in ("trainer", "tokens/s", "completion tok/s", "s/step", "steps"):
        table.add_column(column)
    for name, row in result["throughput"].items():
        table.add_row(name, str(row["tokens_per_s"]), str(row["completion_tokens_per_s"]),
                      str(row["s_per_step"]), str(row["steps"]))
    console.print(table)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a few steps of each (smoke test)")
    parser.add_argument("--work", type=Path, default=Path("/tmp/ovr-bench-trainer"))
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks/results/trainer.json")
    parser.add_argument("--reuse-run", action="store_true",
                        help="resume/reuse WORK/learn from an earlier invocation")
    args = parser.parse_args()
    sft_steps, rl_steps, speed_steps = (4, 2, 2) if args.quick else (700, 20, 4)
    console = Console(stderr=True)
    work = args.work
    work.mkdir(parents=True, exist_ok=True)
    began = time.monotonic()
    learned = learning(work, sft_steps, rl_steps, console, args.reuse_run)
    start = Path(learned["sft_checkpoint"])
    speed = {"ovr train grpo": ours_throughput(start, work, "grpo", speed_steps, console),
             "trl GRPOTrainer": trl_throughput(start, work, speed_steps),
             "ovr train ppo (critic model)": ours_throughput(start, work, "ppo", speed_steps,
                                                              console)}
    ratio = (speed["ovr train grpo"]["tokens_per_s"]
             / max(speed["trl GRPOTrainer"]["tokens_per_s"], 1e-9))
    result = {
        "benchmark": "trainer", "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, "
        "no GPU", "model": "tiny random Qwen2.5-VL (ovr_eval.tiny; real Qwen tokenizer)",
        "settings": {"sft_steps": sft_steps, "rl_steps": rl_steps, "learn": LEARN,
                     "speed": {**SPEED, "steps": speed_steps, "prompts": "arithmetic "
                               "train_text"}},
        "learning": learned, "throughput": speed,
        "ovr_grpo_vs_trl_tokens_per_s": round(ratio, 2),
        "rises": [learned["after_sft"]["accuracy"] > learned["before_sft"]["accuracy"],
                  learned["after_rl"]["accuracy"] > learned["after_sft"]["accuracy"]],
        "wall_s": round(time.monotonic() - began, 1),
    }
    show(console, result)
    if not args.quick:
        args.out.write_text(json.dumps(result, indent=2) + "\n")
        console.print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
