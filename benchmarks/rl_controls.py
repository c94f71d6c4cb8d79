"""Show RL working: a rise that only the reward can explain (used by ``trainer.py`` on CPU and
``gpu_check.py`` on a GPU).

1. A tiny Qwen2.5-VL is SFT-ed (``ovr train``, JSONL chat data) on a *biased prior* over the
   100 sums ``a + b`` (a, b < 10) of the ``arithmetic`` task: every pair is written as
   ``\\boxed{a+b}`` in 30% of its copies and ``\\boxed{a+b+1}`` in 70%. The model learns the
   format (≈ 1), the mixture (sampled accuracy ≈ 0.3) and a wrong greedy answer (≈ 0).
2. From that one SFT checkpoint, four RL arms through ``ovr train`` (same prompts, seed and
   sampler): **ppo** (critic model, ORZ settings: GAE γ = λ = 1, no KL, clip 0.2, whitened
   advantages), **grpo**, **no-rl** (GRPO with learning rate 0: the same pipeline, no update)
   and **random** (PPO with ``rl.reward: random``, a Bernoulli reward independent of
   correctness). RL prompts are the 80 pairs of ``arithmetic/train80_text``; the 20 pairs of
   ``heldout20_text`` are never trained on by RL.
3. Every few steps each arm's checkpoint is probed: the exact teacher-forced probability of the
   correct response ``\\boxed{a+b}<|im_end|>`` (no sampling noise; mean over the prompts of a
   split) and greedy accuracy, beside the reward of the step's rollouts. The probes are also
   appended to the arm's ``train/metrics.jsonl`` (``stage: probe``), so ``ovr report`` on the
   arm folders draws them as training curves.

The claim holds when PPO and GRPO each end ≥ 0.4 above both controls in mean p(correct) on the
RL pairs.
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rich.console import Console

from ovr_eval.engines.base import render_chat
from ovr_eval.evaluate import load_samples
from ovr_eval.prompting import build_request, load_template
from ovr_eval.task_registry import resolve
from ovr_eval.tiny import build_tiny_qwen2_5_vl
from ovr_eval.types import Sample, SamplingConfig
from ovr_eval.verify import grade_many
from ovr_eval.verify.extract import last_boxed
from ovr_trainer import checkpoint
from ovr_trainer.chat_data import task_traces
from ovr_trainer.config import load_recipe
from ovr_trainer.modeling import load_policy
from ovr_trainer.rollout import LiveHFEngine, policy_logprobs
from ovr_trainer.runner import train

TASK = "arithmetic"
SPLITS = {"rl": "train80_text", "heldout": "heldout20_text"}
RIGHT_SHARE, COPIES = 0.3, 10  # of each pair's 10 SFT copies, 3 are right and 7 are a+b+1
MAX_TOKENS = 16
ARMS = ("ppo", "grpo", "no-rl", "random")
CONTROLS = ("no-rl", "random")
MARGIN = 0.4  # PPO and GRPO must beat both controls by this much in mean p(correct)


def settings(size: str = "cpu") -> dict[str, Any]:
    """Model size, SFT and RL settings: ``cpu`` (2 cores, minutes), ``gpu`` (larger model) or
    ``quick`` (``cpu`` for a few steps: a smoke test of the scripts)."""
    common = {
        "seed": 0, "init_std": 0.02,
        "sft": {"batch_size": 50, "lr": 3e-3, "warmup_steps": 20, "min_lr_ratio": 0.1},
        "rl": {"prompts_per_step": 16, "rollouts_per_prompt": 8, "temperature": 1.0,
               "policy_lr": 2e-4, "critic_lr": 1e-3, "critic_updates": 4, "clip_eps": 0.2,
               "value_clip": 0.2, "gamma": 1.0, "lam": 1.0, "kl_coef": 0.0,
               "normalize_advantages": True, "micro_batch_size": 128},
        "probe_every": 5,
    }
    if size == "cpu":
        # the first 4,096 of Qwen's BPE tokens: the same texts in about as many tokens, and
        # an output layer 37x smaller than Qwen's 151,936 rows (it dominated every step)
        return {**common, "hidden_size": 128, "layers": 2, "vocab": 4096, "sft_steps": 600,
                "rl_steps": 30}
    if size == "gpu":
        return {**common, "hidden_size": 512, "layers": 4, "vocab": None, "sft_steps": 600,
                "rl_steps": 40}
    if size == "quick":
        cpu = settings("cpu")
        return {**cpu, "sft_steps": 4, "rl_steps": 2, "probe_every": 1,
                "rl": {**cpu["rl"], "prompts_per_step": 4, "rollouts_per_prompt": 2}}
    raise ValueError(f"unknown size {size!r}")


def split_samples() -> dict[str, list[Sample]]:
    [task] = resolve([TASK])
    return {name: load_samples(task, split, None, None)[0] for name, split in SPLITS.items()}


def write_sft_data(path: Path) -> int:
    """The biased prior as chat JSONL: every text pair in ``COPIES`` copies, ``RIGHT_SHARE``
    of them answered right and the rest one too high; the user turn is exactly the RL prompt."""
    rows = []
    for row in task_traces(TASK, "train_text", None, None):
        *prompt, answer = row["messages"]
        right = int(last_boxed(answer["content"]))
        for copy in range(COPIES):
            value = right if copy < round(RIGHT_SHARE * COPIES) else right + 1
            rows.append({"messages": [*prompt, {"role": "assistant",
                                                "content": f"\\boxed{{{value}}}"}]})
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return len(rows)


def last_checkpoint(run: Path) -> Path:
    found = checkpoint.latest(run / "checkpoints")
    if found is None:
        raise RuntimeError(f"{run} wrote no checkpoint")
    return found


def sft(work: Path, cfg: dict[str, Any], console: Console) -> tuple[Path, dict[str, Any]]:
    """The SFT checkpoint of the biased prior, through ``ovr train`` (SFT stage only)."""
    base = build_tiny_qwen2_5_vl(work / "base", seed=cfg["seed"], force=True,
                                 init_std=cfg["init_std"], hidden_size=cfg["hidden_size"],
                                 layers=cfg["layers"], vocab=cfg["vocab"])
    data = work / "sft.jsonl"
    rows = write_sft_data(data)
    run = work / "sft"
    shutil.rmtree(run, ignore_errors=True)
    recipe = load_recipe("tiny", {
        "name": "rl-controls-sft", "model.path": str(base), "model.freeze_vision": True,
        "sft.data": str(data), "sft.data_dir": None, "sft.max_length": 96,
        "sft.grad_accum": 1, "sft.grouping": "none", "sft.epochs": 1000,
        "sft.max_steps": cfg["sft_steps"], "sft.seed": cfg["seed"],
        **{f"sft.{k}": v for k, v in cfg["sft"].items()},
        "rl.enabled": False, "eval.enabled": False})
    began = time.monotonic()
    train(recipe, run, console=console)
    losses = [json.loads(line)["loss"] for line in (run / "train/metrics.jsonl").open()]
    return last_checkpoint(run), {"rows": rows, "steps": len(losses),
                                  "loss_first_last": [round(losses[0], 4), round(losses[-1], 4)],
                                  "wall_s": round(time.monotonic() - began, 1)}


def arm_overrides(arm: str, start: Path, cfg: dict[str, Any], engine: str) -> dict[str, Any]:
    """``ovr train`` settings of one arm (RL stage from ``start``, final greedy evaluation on
    the held-out pairs)."""
    rl = dict(cfg["rl"])
    if arm in ("ppo", "random"):
        rl.update(algorithm="ppo", critic="model")
    else:
        rl.update(algorithm="grpo")
    if arm == "no-rl":
        rl["policy_lr"] = 0.0
    if arm == "random":
        rl.update(reward="random", random_reward_rate=RIGHT_SHARE)
    return {
        "name": f"rl-controls-{arm}", "model.path": str(start), "model.freeze_vision": True,
        "sft.enabled": False, "rl.tasks": [TASK], "rl.splits": {TASK: SPLITS["rl"]},
        "rl.data_dir": None, "rl.max_new_tokens": MAX_TOKENS, "rl.steps": cfg["rl_steps"],
        "rl.save_every": cfg["probe_every"], "rl.engine": engine, "rl.seed": cfg["seed"],
        **{f"rl.{k}": v for k, v in rl.items()},
        "eval.tasks": [TASK], "eval.splits": {TASK: SPLITS["heldout"]}, "eval.data_dir": None,
        "eval.limit": None, "eval.engine": "hf", "eval.sampling.max_tokens": MAX_TOKENS,
        "eval.sampling.temperature": 0.0, "eval.sampling.n": 1, "eval.every": 0,
    }


def probe(model: Any, processor: Any, samples: dict[str, list[Sample]],
          sampled: int = 0) -> dict[str, float]:
    """Per split: mean exact p(correct response) and p(the prior's wrong answer a+b+1),
    greedy accuracy (``sampled`` > 0: also accuracy and boxed-format share of that many samples
    per prompt at temperature 1)."""
    template = load_template(resolve([TASK])[0].default_prompt)
    tokenizer = getattr(processor, "tokenizer", processor)
    engine = LiveHFEngine(model, processor, batch_size=128)
    out: dict[str, float] = {}
    for name, items in samples.items():
        requests = [build_request(template, s, 0) for s in items]
        for key, offset in (("p_correct", 0), ("p_plus_one", 1)):  # the prior's two answers
            probs = []
            for sample, request in zip(items, requests, strict=True):
                response = tokenizer(f"\\boxed{{{int(sample.answer) + offset}}}",
                                     add_special_tokens=False)["input_ids"]
                _, logprobs = policy_logprobs(model, processor, render_chat(processor, request),
                                              [], [*response, tokenizer.eos_token_id])
                probs.append(float(logprobs.sum().exp()))
            out[f"{key}_{name}"] = sum(probs) / len(probs)
        runs = [("greedy", SamplingConfig(n=1, temperature=0.0, max_tokens=MAX_TOKENS))]
        if sampled:
            runs.append(("sampled", SamplingConfig(n=sampled, temperature=1.0,
                                                   max_tokens=MAX_TOKENS, seed=0)))
        for kind, sampling in runs:
            by_id = {c.sample_id: c for c in engine.generate(requests, sampling)}
            pairs = [(r, s.answer) for s, q in zip(items, requests, strict=True)
                     for r in by_id[q.sample_id].responses]
            verdicts = grade_many(pairs)
            out[f"{kind}_accuracy_{name}"] = sum(v.correct for v in verdicts) / len(verdicts)
            if kind == "sampled":
                out[f"sampled_format_{name}"] = (sum(last_boxed(r) is not None for r, _ in pairs)
                                                 / len(pairs))
    return {k: round(v, 4) for k, v in out.items()}


def probe_checkpoint(folder: Path, samples: dict[str, list[Sample]], sampled: int = 0
                     ) -> dict[str, float]:
    model, processor = load_policy(folder, "float32")
    return probe(model.eval(), processor, samples, sampled)


def run_arm(arm: str, start: Path, start_probe: dict[str, float], work: Path,
            cfg: dict[str, Any], samples: dict[str, list[Sample]], console: Console,
            engine: str = "hf") -> dict[str, Any]:
    """One arm through ``ovr train``, then its checkpoints probed; its curves."""
    run = work / arm
    shutil.rmtree(run, ignore_errors=True)
    began = time.monotonic()
    summary = train(load_recipe("tiny", arm_overrides(arm, start, cfg, engine)), run,
                    console=console)
    train_s = time.monotonic() - began
    metrics = [json.loads(line) for line in (run / "train/metrics.jsonl").open()]
    steps = [m for m in metrics if m.get("stage") == "rl"]
    probes = [{"step": 0, **start_probe}]
    for folder in sorted((run / "checkpoints").iterdir(), key=checkpoint.step_of):
        probes.append({"step": checkpoint.step_of(folder), **probe_checkpoint(folder, samples)})
        # optimiser and critic: not needed any more (weights-only checkpoints have none)
        (folder / checkpoint.STATE_FILE).unlink(missing_ok=True)
    with (run / "train/metrics.jsonl").open("a") as log:  # curves for `ovr report`
        for record in probes:  # step 0: the SFT checkpoint the arm started from
            log.write(json.dumps({"stage": "probe", **record}) + "\n")
    heldout = summary["eval"].tasks[TASK]
    return {
        "probes": probes,
        "reward_by_step": [round(m["reward"], 4) for m in steps],
        "accuracy_by_step": [round(m["accuracy"], 4) for m in steps],
        "tokens_per_s": round(sum(m["tokens"] for m in steps)
                              / sum(m["step_s"] for m in steps), 1),
        "final_eval_heldout": {"accuracy": heldout.score, "ci95": heldout.ci95,
                               "n": heldout.n},
        "train_wall_s": round(train_s, 1), "run": str(run),
    }


def summarise(arms: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Start → end of each arm's metrics, and whether PPO and GRPO beat both controls."""
    table = {}
    for arm, result in arms.items():
        first, last = result["probes"][0], result["probes"][-1]
        rewards = result["reward_by_step"]
        tail = rewards[-max(1, len(rewards) // 5):]
        table[arm] = {
            **{k: [first[k], last[k]] for k in first if k.startswith(("p_correct", "greedy"))},
            "reward_first_last_fifth": [round(sum(rewards[:len(tail)]) / len(tail), 4),
                                        round(sum(tail) / len(tail), 4)],
        }
    end = {arm: row["p_correct_rl"][1] for arm, row in table.items()}
    margins = {arm: round(end[arm] - max(end[c] for c in CONTROLS), 4)
               for arm in ARMS if arm not in CONTROLS}
    return {"table": table, "margin_over_controls_p_correct_rl": margins,
            "passed": all(m >= MARGIN for m in margins.values())}


def run_benchmark(work: Path, cfg: dict[str, Any], console: Console, engine: str = "hf",
                  progress: Callable[[str], None] | None = None) -> dict[str, Any]:
    """SFT on the biased prior, then the four arms from its checkpoint; everything measured."""
    say = progress or (lambda text: console.print(f"[bold]{text}"))
    work.mkdir(parents=True, exist_ok=True)
    began = time.monotonic()
    samples = split_samples()
    say(f"SFT: {cfg['sft_steps']} steps on the biased prior")
    start, sft_info = sft(work, cfg, console)
    start_probe = probe_checkpoint(start, samples, sampled=8)
    say(f"SFT checkpoint: {start_probe}")
    arms = {}
    for arm in ARMS:
        say(f"arm {arm}: {cfg['rl_steps']} RL steps")
        arms[arm] = run_arm(arm, start, start_probe, work, cfg, samples, console, engine)
        say(f"arm {arm}: {arms[arm]['probes'][-1]}")
    return {"settings": cfg, "sft": {**sft_info, "checkpoint": str(start), "probe": start_probe},
            "arms": arms,
            **summarise(arms), "wall_s": round(time.monotonic() - began, 1)}


def plot(result: dict[str, Any], path: Path, title: str) -> None:
    """p(correct) (RL pairs solid, held-out dashed), greedy accuracy and reward per arm."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    colours = {"ppo": "tab:blue", "grpo": "tab:green", "no-rl": "tab:gray",
               "random": "tab:red"}
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.2))
    for arm, data in result["arms"].items():
        steps = [p["step"] for p in data["probes"]]
        for ax, key in ((axes[0], "p_correct"), (axes[1], "greedy_accuracy")):
            ax.plot(steps, [p[f"{key}_rl"] for p in data["probes"]], "-o", ms=3,
                    color=colours[arm], label=f"{arm} (RL pairs)")
            ax.plot(steps, [p[f"{key}_heldout"] for p in data["probes"]], "--",
                    color=colours[arm], alpha=0.7, label=f"{arm} (held-out)")
        rewards = data["reward_by_step"]
        axes[2].plot(range(1, len(rewards) + 1), rewards, color=colours[arm], label=arm)
    names = ("mean p(correct answer), teacher-forced", "greedy accuracy",
             "reward of the step's rollouts")
    for ax, name in zip(axes, names, strict=True):
        ax.set_title(name, fontsize=10)
        ax.set_xlabel("RL step")
        ax.set_ylim(-0.03, 1.03)
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=7, ncol=2)
    axes[2].legend(fontsize=8)
    fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
