"""One recipe end to end: check the data, build/load the model, SFT, RL, average, evaluate.

Re-running the same command resumes from the newest full checkpoint. Everything cheap is
checked before a model is loaded: the recipe, the training data against the evaluation sets
(``eval.train_overlap``), the model path.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from rich.console import Console

from ovr_eval.engines import Engine, check_model
from ovr_eval.evaluate import load_samples
from ovr_eval.task_registry import resolve
from ovr_eval.types import Sample, UserError
from ovr_trainer import checkpoint
from ovr_trainer.collect import prompt_pool
from ovr_trainer.config import Recipe, save_recipe
from ovr_trainer.evaluation import (
    evaluate_checkpoint,
    hub_note,
    resolve_data_dir,
    score_record,
)
from ovr_trainer.logs import TrainLog
from ovr_trainer.modeling import Policy, enable_gradient_checkpointing, freeze, load_policy
from ovr_trainer.overlap import EvalIndex, apply_policy, chat_key, sample_key
from ovr_trainer.precision import compute_dtype
from ovr_trainer.rl import Hooks, train_rl
from ovr_trainer.rollout import LiveHFEngine, VLLMRollouts, rollout_engine_options
from ovr_trainer.sft import sft_rows, train_sft


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


@dataclass
class Plan:
    """Which stages still run, from the recipe and the newest checkpoint's state."""

    sft: bool
    rl: bool

    @classmethod
    def of(cls, recipe: Recipe, state: checkpoint.TrainState | None) -> Plan:
        in_sft = state is None or (state.stage == "sft" and not state.finished)
        rl_done = state is not None and state.stage == "rl" and state.finished
        return cls(recipe.sft.enabled and in_sft, recipe.rl.enabled and not rl_done)


def evaluation_items(recipe: Recipe, data_dir: Path | None, console: Console) -> list[Sample]:
    """The items the recipe evaluates (what training must not contain)."""
    ev = recipe.eval
    folder = data_dir or resolve_data_dir(ev.data_dir)
    if note := hub_note(ev.tasks, folder, "the evaluation sets (to check the training data "
                        "against them)"):
        console.print(note)
    items = []
    for task in resolve(ev.tasks, []):
        items += load_samples(task, ev.splits.get(task.name, task.default_split), folder,
                              ev.limit)[0]
    return items


def checked_data(recipe: Recipe, plan: Plan, out: Path, data_dir: Path | None,
                 console: Console) -> tuple[list[dict[str, Any]], list[Sample]]:
    """The SFT chats and RL prompts of the stages that run, under ``eval.train_overlap``."""
    rows = sft_rows(recipe.sft, data_dir, console.print) if plan.sft else []
    pool = []
    if plan.rl:
        folder = data_dir or resolve_data_dir(recipe.rl.data_dir)
        if note := hub_note(recipe.rl.tasks, folder, "the RL prompts (rl.tasks)"):
            console.print(note)
        pool = prompt_pool(recipe.rl, folder)
    if plan.rl and not pool:
        raise UserError(f"no usable RL prompts in rl.tasks {recipe.rl.tasks}")
    policy = recipe.eval.train_overlap
    if recipe.eval.enabled and policy != "allow" and (rows or pool):
        index = EvalIndex(evaluation_items(recipe, data_dir, console))
        record = out / "train" / "overlap.json"
        kept_rows = apply_policy(rows, chat_key, index, "SFT chats (sft.data)", policy, record)
        if len(kept_rows) < len(rows):
            console.print(f"dropped {len(rows) - len(kept_rows)} SFT chats that are evaluation "
                          f"items (listed in {record})")
        kept_pool = apply_policy(pool, sample_key, index, "RL prompts (rl.tasks)", policy, record)
        if len(kept_pool) < len(pool):
            console.print(f"dropped {len(pool) - len(kept_pool)} RL prompts that are evaluation "
                          f"items (listed in {record})")
        rows, pool = kept_rows, kept_pool
    return rows, pool


def train(recipe: Recipe, out: Path, data_dir: Path | None = None,
          crash_after: int | None = None, console: Console | None = None) -> dict:
    """Run the recipe into ``out`` (re-running the same command resumes it)."""
    console = console or Console(stderr=True)
    compute = compute_dtype(recipe.model.dtype)
    check_not_an_eval_run(out)
    check_same_model(recipe, out)
    root = out / "checkpoints"
    last = checkpoint.latest(root)
    saved = checkpoint.Saved(last, checkpoint.load_state(last)) if last else None
    state = saved.state if saved else None
    check_steps_left(recipe, out, state)
    out.mkdir(parents=True, exist_ok=True)
    save_recipe(recipe, out / "config.yaml")
    if saved is not None:
        console.print(f"resuming from {last} ({saved.state.stage} step {saved.state.stage_step})")
    plan = Plan.of(recipe, state)
    rows, pool = checked_data(recipe, plan, out, data_dir, console)
    start = base_model(recipe, out)
    model, processor = load_policy(last or start, "float32")  # master weights
    freeze(model, recipe.model.freeze_vision, recipe.model.freeze_projector)
    if recipe.model.gradient_checkpointing:
        enable_gradient_checkpointing(model)
    policy = Policy(model, processor, compute)
    log = TrainLog(out / "train", state.step if state else 0, console)
    ckpts = checkpoint.Checkpointer(root, recipe.checkpoints.keep_last, compute)
    hook = crash_hook(crash_after)
    sft_steps, final = 0, last
    if plan.sft:
        final, sft_steps = train_sft(recipe.sft, policy, rows, ckpts, log, saved, hook)
    elif state is not None and recipe.sft.enabled:  # SFT finished earlier
        sft_steps = state.stage_steps if state.stage == "sft" else state.stage_offset
    in_rl = state is not None and state.stage == "rl"
    rl_start = (Path(state.rl_start) if state is not None and in_rl and state.rl_start
                else (final or start))
    if plan.rl:
        ckpts.protect.add(rl_start)  # the initial policy stays (reference, vLLM's start)
        final = run_rl(recipe, policy, pool, rl_start, ckpts, log, sft_steps,
                       saved if in_rl else None, out, data_dir, console, hook)
    if final is not None and recipe.checkpoints.average_last > 1:
        final = average_last(root, recipe.checkpoints.average_last, console) or final
    results = None
    if recipe.eval.enabled and final is not None:
        del model, policy  # the evaluation engine loads the final checkpoint itself
        results = evaluate_checkpoint(recipe.eval, final, out, data_dir, console)
        log.metrics(score_record(log_step(final, root), results))
    log.close()
    return {"checkpoint": str(final) if final else None, "eval": results}


def run_rl(recipe: Recipe, policy: Policy, pool: list[Sample], rl_start: Path,
           ckpts: checkpoint.Checkpointer, log: TrainLog, sft_steps: int,
           resume: checkpoint.Saved | None, out: Path, data_dir: Path | None,
           console: Console, after_step: Any) -> Path | None:
    """The RL stage with its rollout engine (and evaluations during training)."""
    if recipe.rl.engine == "vllm":  # weights pushed and checked after each update
        os.environ.setdefault("VLLM_ENABLE_V1_MULTIPROCESSING", "0")  # in-process
        evals = (recipe.eval.sampling.max_tokens if recipe.eval.enabled and recipe.eval.every
                 else 0)
        rollouts = VLLMRollouts(str(rl_start), policy.model, policy.processor,
                                compute=policy.compute, seed=recipe.rl.seed,
                                **rollout_engine_options(recipe.rl, policy.model,
                                                         policy.processor, evals, policy.compute))
        engine: Engine = rollouts
        push: Callable[[], dict[str, float]] | None = rollouts.push
        rollouts.push()  # engine == trainer before the first rollout (and after a resume)
    else:
        engine = LiveHFEngine(policy.model, policy.processor, compute=policy.compute)
        push = None

    def evaluate_during(step: int, ckpt: Path) -> None:
        results = evaluate_checkpoint(recipe.eval, ckpt, out / "evals" / f"step-{step}",
                                      data_dir, console, engine=engine)
        log.metrics(score_record(step, results))

    every = recipe.eval.every if recipe.eval.enabled else 0
    hooks = Hooks(push=push, evaluate=evaluate_during if every else None, evaluate_every=every,
                  after_step=after_step)
    try:
        return train_rl(recipe.rl, policy, engine, pool, rl_start, ckpts, log, sft_steps,
                        resume, hooks)
    finally:
        engine.close()  # frees a vLLM engine's memory before the final evaluation


def average_last(root: Path, count: int, console: Console) -> Path | None:
    """The uniform average of the newest ``count`` checkpoints (OVR's released model), or
    None when fewer than two exist."""
    paths = checkpoint.last_checkpoints(root, count)
    if len(paths) < 2:
        console.print(f"checkpoints.average_last={count}: only {len(paths)} checkpoint(s), "
                      "nothing to average")
        return None
    if len(paths) < count:
        console.print(f"checkpoints.average_last={count}: averaging the {len(paths)} there are")
    out = root / f"average-{'-'.join(str(checkpoint.step_of(p)) for p in paths)}"
    console.print(f"averaging {len(paths)} checkpoints into {out}")
    return checkpoint.average(paths, out)


def log_step(final: Path, root: Path) -> int:
    """The global step a final model stands for (an average: its newest checkpoint's)."""
    try:
        return checkpoint.step_of(final)
    except ValueError:
        return max(checkpoint.step_of(p) for p in checkpoint.last_checkpoints(root, 1))


def check_not_an_eval_run(out: Path) -> None:
    """Refuse an ``ovr eval`` run folder as ``--out``: training would write checkpoints into
    it and then fail at its final evaluation (another model's records are there)."""
    if (out / "config.yaml").is_file() or (out / "checkpoints").is_dir():
        return  # a training run (its final evaluation writes the eval files too)
    if (out / "config.json").is_file() or (out / "samples").is_dir():
        raise UserError(f"{out} is an `ovr eval` run folder (config.json, samples/), not a "
                        "training run: choose another --out")


def check_steps_left(recipe: Recipe, out: Path, state: checkpoint.TrainState | None) -> None:
    """Refuse a resume whose recipe asks for fewer RL iterations than the run has done: it
    would train nothing, yet rewrite config.yaml and evaluate again."""
    if state is None or state.stage != "rl" or not recipe.rl.enabled:
        return
    if recipe.rl.steps < state.stage_step:
        raise UserError(f"{out} has done {state.stage_step} RL step(s) of {state.stage_steps}; "
                        f"rl.steps={recipe.rl.steps} is fewer, so nothing would be trained: "
                        f"run the recipe that made it (rl.steps={state.stage_steps}) to resume "
                        "it, or choose another --out")


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
