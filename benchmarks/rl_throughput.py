"""RL tokens/s of ``ovr train`` (GRPO, and PPO with its critic model) beside TRL's
GRPOTrainer (``trl_baseline.py``, the ``bench`` extra) on the same model, prompts (arithmetic
``train_text`` through the task's template) and settings. Tokens/s counts prompt + response
tokens per wall second of the RL steps (TRL's ``num_tokens`` convention)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from rich.console import Console

from ovr_eval.evaluate import load_samples
from ovr_eval.prompting import load_template, render_prompt
from ovr_eval.task_registry import resolve
from ovr_trainer.config import load_recipe
from ovr_trainer.runner import train

TASK = "arithmetic"
SPEED = {"prompts_per_step": 8, "rollouts_per_prompt": 4, "max_new_tokens": 32,
         "policy_lr": 1e-4, "temperature": 1.0}


def ours(start: Path, work: Path, algorithm: str, steps: int, console: Console,
         speed: dict[str, Any] = SPEED) -> dict[str, Any]:
    """``ovr train`` RL on the text prompts; tokens/s over the RL steps' wall time."""
    run = work / f"speed-{algorithm}"
    shutil.rmtree(run, ignore_errors=True)
    recipe = load_recipe("tiny", {
        "model.path": str(start), "sft.enabled": False, "eval.enabled": False,
        "rl.algorithm": algorithm, "rl.critic": "model", "rl.tasks": [TASK],
        "rl.splits": {TASK: "train_text"}, "rl.data_dir": None, "rl.steps": steps,
        "rl.micro_batch_size": speed["prompts_per_step"] * speed["rollouts_per_prompt"],
        "rl.critic_updates": 1, **{f"rl.{k}": v for k, v in speed.items()}})
    train(recipe, run, console=console)
    rows = [json.loads(line) for line in (run / "train" / "metrics.jsonl").open()]
    wall = sum(r["step_s"] for r in rows)
    tokens = sum(r["tokens"] for r in rows)
    generated = sum(r["generated_tokens_per_s"] * r["step_s"] for r in rows)
    return {"steps": len(rows), "wall_s": round(wall, 2), "tokens": tokens,
            "tokens_per_s": round(tokens / wall, 1),
            "completion_tokens_per_s": round(generated / wall, 1),
            "s_per_step": round(wall / len(rows), 2)}


def trl(start: Path, work: Path, steps: int, speed: dict[str, Any] = SPEED,
        device: str = "cpu") -> dict[str, Any]:
    """TRL GRPOTrainer with the same model, prompts (same template) and settings."""
    from trl_baseline import trl_grpo_run

    [task] = resolve([TASK])
    samples, _ = load_samples(task, "train_text", None, None)
    template = load_template(task.default_prompt)
    result = trl_grpo_run(
        start, [render_prompt(template, s) for s in samples], [s.answer for s in samples],
        num_generations=speed["rollouts_per_prompt"],
        max_completion_length=speed["max_new_tokens"],
        prompts_per_step=speed["prompts_per_step"], steps=steps,
        learning_rate=speed["policy_lr"], temperature=speed["temperature"],
        out_dir=work / "speed-trl", device=device)
    keys = ("steps", "wall_s", "tokens_per_s", "completion_tokens_per_s", "s_per_step")
    return {k: round(result[k], 2) for k in keys} | {
        "tokens": result["prompt_tokens"] + result["completion_tokens"]}


def compare(start: Path, work: Path, steps: int, console: Console,
            speed: dict[str, Any] = SPEED, device: str = "cpu") -> dict[str, Any]:
    """All three, and ovr GRPO's tokens/s over TRL's."""
    result = {"ovr train grpo": ours(start, work, "grpo", steps, console, speed),
              "trl GRPOTrainer": trl(start, work, steps, speed, device),
              "ovr train ppo (critic model)": ours(start, work, "ppo", steps, console, speed)}
    ratio = (result["ovr train grpo"]["tokens_per_s"]
             / max(result["trl GRPOTrainer"]["tokens_per_s"], 1e-9))
    return {"trainers": result, "ovr_grpo_vs_trl_tokens_per_s": round(ratio, 2),
            "settings": {**speed, "steps": steps, "prompts": "arithmetic train_text"}}
