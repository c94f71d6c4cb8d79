"""One recipe end to end: build/load the model, SFT, RL, evaluate; resumes after a crash."""

from __future__ import annotations

import os
from pathlib import Path

import yaml
from rich.console import Console

from ovr_eval.engines import check_model
from ovr_eval.types import UserError
from ovr_trainer import checkpoint
from ovr_trainer.config import Recipe, save_recipe
from ovr_trainer.evaluation import evaluate_checkpoint, resolve_data_dir, score_record
from ovr_trainer.logs import TrainLog
from ovr_trainer.modeling import freeze, load_policy
from ovr_trainer.rl import train_rl
from ovr_trainer.rollout import LiveHFEngine, VLLMRollouts, rollout_engine_options
from ovr_trainer.sft import train_sft


def base_model(recipe: Recipe, out: Path) -> Path:
    """The starting checkpoint; ``tiny`` builds the tiny Qwen2.5-VL inside the run folder."""
    if recipe.model.path == "tiny":
        from ovr_eval.tiny import build_tiny_qwen2_5_vl

        return build_tiny_qwen2_5_vl(out / "base-model")
    check_model(recipe.model.path)  # a clear error for a missing or non-checkpoint folder
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
    ckpts = out / "checkpoints"
    check_same_model(recipe, out)
    out.mkdir(parents=True, exist_ok=True)
    save_recipe(recipe, out / "config.yaml")
    last = checkpoint.latest(ckpts)
    saved = checkpoint.Saved(last, checkpoint.load_state(last)) if last else None
    state = saved.state if saved else None
    resume_step = state["step"] if state else 0
    if last:
        console.print(f"resuming from {last} ({state['stage']} step {state['stage_step']})")
    start = base_model(recipe, out)
    model, processor = load_policy(last or start, recipe.model.dtype)
    freeze(model, recipe.model.freeze_vision, recipe.model.freeze_projector)
    log = TrainLog(out / "train", resume_step)
    hook = crash_hook(crash_after)
    sft_steps, policy_start, final = 0, start, last
    if recipe.sft.enabled:
        sft_resume = saved if state and state["stage"] == "sft" else None
        if state is None or sft_resume is not None:
            if sft_resume is None or state["stage_step"] < state["stage_steps"]:
                final, sft_steps = train_sft(
                    recipe.sft, model, processor, ckpts, log, sft_resume, data_dir, hook)
            else:
                sft_steps = state["stage_steps"]
        else:  # already in RL: the SFT result is where RL started
            sft_steps = state["step"] - state["stage_step"]
        policy_start = Path(state["ref_path"]) if state and state["stage"] == "rl" else final
    if recipe.rl.enabled:
        rl_resume = saved if state and state["stage"] == "rl" else None
        if rl_resume is None or state["stage_step"] < state["stage_steps"]:
            if recipe.rl.engine == "vllm":  # weights pushed and checked after each update
                os.environ.setdefault("VLLM_ENABLE_V1_MULTIPROCESSING", "0")  # in-process
                evals = recipe.eval.max_tokens if recipe.eval.enabled and recipe.eval.every else 0
                engine = VLLMRollouts(str(policy_start), model, processor, seed=recipe.rl.seed,
                                      **rollout_engine_options(recipe.rl, model, processor, evals))
                push = engine.push
                push()  # engine == trainer before the first rollout (and after a resume)
            else:
                engine, push = LiveHFEngine(model, processor), None
            rl_data = data_dir or resolve_data_dir(recipe.rl.data_dir)

            def evaluate_during(step: int, ckpt: Path) -> None:
                results = evaluate_checkpoint(recipe.eval, ckpt, out / "evals" / f"step-{step}",
                                              data_dir, console, engine=engine)
                log.metrics(score_record(step, results))

            every = recipe.eval.every if recipe.eval.enabled else 0
            try:
                final = train_rl(recipe.rl, model, processor, engine, Path(policy_start), ckpts,
                                 log, sft_steps, rl_resume, rl_data, hook, push,
                                 (every, evaluate_during) if every else None)
            finally:
                engine.close()  # frees a vLLM engine's memory before the final evaluation
    results = None
    if recipe.eval.enabled and final is not None:
        del model  # the evaluation engine loads the final checkpoint itself
        results = evaluate_checkpoint(recipe.eval, final, out, data_dir, console)
        log.metrics(score_record(checkpoint.step_of(final), results))
    log.close()
    return {"checkpoint": str(final) if final else None, "eval": results}


def check_same_model(recipe: Recipe, out: Path) -> None:
    """Refuse to resume a run folder whose checkpoints descend from another model."""
    saved = out / "config.yaml"
    if not saved.is_file() or checkpoint.latest(out / "checkpoints") is None:
        return
    try:
        old = (yaml.safe_load(saved.read_text()) or {}).get("model") or {}
    except yaml.YAMLError:
        old = {}
    if old.get("path") != recipe.model.path:
        raise UserError(f"{out} holds checkpoints trained from {old.get('path')!r}, but this "
                        f"recipe starts from {recipe.model.path!r}: choose another --out, or "
                        "run the recipe that made it to resume")
