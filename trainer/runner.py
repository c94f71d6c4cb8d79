"""One recipe end to end: build/load the model, SFT, RL, evaluate; resumes after a crash."""

from __future__ import annotations

import os
from pathlib import Path

from rich.console import Console

from ovr_trainer import checkpoint
from ovr_trainer.config import Recipe, save_recipe
from ovr_trainer.evaluation import evaluate_checkpoint, resolve_data_dir
from ovr_trainer.logs import TrainLog
from ovr_trainer.modeling import load_policy
from ovr_trainer.rl import train_rl
from ovr_trainer.rollout import LiveHFEngine, push_to_vllm
from ovr_trainer.sft import train_sft


def base_model(recipe: Recipe, out: Path) -> Path:
    """The starting checkpoint; ``tiny`` builds the tiny Qwen2.5-VL inside the run folder."""
    if recipe.model.path == "tiny":
        from ovr_eval.tiny import build_tiny_qwen2_5_vl

        return build_tiny_qwen2_5_vl(out / "base-model")
    return Path(recipe.model.path)


def crash_hook(crash_after: int | None):
    """Test hook: end the process abruptly (no cleanup) after global step ``crash_after``."""
    def hook(step: int) -> None:
        if crash_after is not None and step >= crash_after:
            os._exit(3)
    return hook


def train(recipe: Recipe, out: Path, data_dir: Path | None = None,
          crash_after: int | None = None, console: Console | None = None) -> dict:
    """Run the recipe into ``out`` (re-running the same command resumes it)."""
    console = console or Console(stderr=True)
    out.mkdir(parents=True, exist_ok=True)
    save_recipe(recipe, out / "config.yaml")
    ckpts = out / "checkpoints"
    last = checkpoint.latest(ckpts)
    state = checkpoint.load_state(last) if last else None
    resume_step = state["step"] if state else 0
    if last:
        console.print(f"resuming from {last} ({state['stage']} step {state['stage_step']})")
    start = base_model(recipe, out)
    model, processor = load_policy(last or start, recipe.model.dtype)
    log = TrainLog(out / "train", resume_step)
    hook = crash_hook(crash_after)
    sft_steps, policy_start, final = 0, start, last
    if recipe.sft.enabled:
        sft_resume = last if state and state["stage"] == "sft" else None
        if state is None or sft_resume is not None:
            if sft_resume is None or state["stage_step"] < state["stage_steps"]:
                final, sft_steps = train_sft(
                    recipe.sft, model, processor, ckpts, log, recipe.model.freeze_vision,
                    recipe.model.freeze_projector, sft_resume, data_dir, hook)
            else:
                sft_steps = state["stage_steps"]
        else:  # already in RL: the SFT result is where RL started
            sft_steps = state["step"] - state["stage_step"]
        policy_start = Path(state["ref_path"]) if state and state["stage"] == "rl" else final
    if recipe.rl.enabled:
        rl_resume = last if state and state["stage"] == "rl" else None
        if rl_resume is None or state["stage_step"] < state["stage_steps"]:
            if recipe.rl.engine == "vllm":  # GPU path: policy weights pushed after each update
                from ovr_eval.engines import create_engine

                os.environ.setdefault("VLLM_ENABLE_V1_MULTIPROCESSING", "0")
                engine = create_engine("vllm", str(policy_start), seed=recipe.rl.seed)
                push = lambda: {"weight_sync_s": push_to_vllm(engine, model)}  # noqa: E731
                if rl_resume is not None:
                    push()
            else:
                engine, push = LiveHFEngine(model, processor), None
            rl_data = data_dir or resolve_data_dir(recipe.rl.data_dir)
            final = train_rl(recipe.rl, model, processor, engine, Path(policy_start), ckpts,
                             log, sft_steps, rl_resume, rl_data, hook, push)
    log.close()
    results = None
    if recipe.eval.enabled and final is not None:
        del model
        results = evaluate_checkpoint(recipe.eval, final, out / "eval", console=console)
    return {"checkpoint": str(final) if final else None, "eval": results}
