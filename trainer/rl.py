"""RL stage: rollouts through an ovr_eval engine, rewards from ovr_eval.verify, PPO/GRPO updates.

One iteration (ORZ/OVR order): sample ``prompts_per_step`` prompts × ``rollouts_per_prompt``
responses → grade (the reward per ``rl.reward``: by default the last boxed answer, as ORZ/OVR)
→ score the sequences with the current policy (old log-probs, values, entropy) and the initial
policy (KL, logged) → advantages (GAE, or group-relative for GRPO) →
one policy optimiser step (token-mean over the whole batch, accumulated over micro-batches) and
``critic_updates`` value-head steps → push weights to the engine when it is vLLM.
Responses are re-tokenised from their text for training, as ORZ does.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from ovr_eval.behaviours import count_behaviours, summarise
from ovr_eval.engines import Engine
from ovr_eval.engines.images import load_image
from ovr_eval.evaluate import load_samples
from ovr_eval.prompting import build_request, load_template
from ovr_eval.tasks import resolve
from ovr_eval.types import Sample, SamplingConfig, Verdict
from ovr_eval.verify import grade_many
from ovr_trainer import algos, checkpoint
from ovr_trainer.chat_data import IMAGE_TENSORS, TOKEN_TYPES
from ovr_trainer.config import RLConfig
from ovr_trainer.divergence import check_finite
from ovr_trainer.logs import TrainLog
from ovr_trainer.modeling import Critic, load_policy
from ovr_trainer.schedule import scheduler


@dataclass
class Rollout:
    """One response, tokenised for training."""

    sample: Sample | None  # None: a probe scored outside training
    prompt: dict[str, Any]  # input_ids (list) and image tensors of the prompt
    response: str
    response_ids: list[int]
    reward: float
    correct: bool
    truncated: bool


def prompt_pool(cfg: RLConfig, data_dir: Path | None) -> list[Sample]:
    """Every usable sample of the recipe's tasks (text and image problems together)."""
    pool = []
    for task in resolve(cfg.tasks, []):
        split = cfg.splits.get(task.name, task.default_split)
        pool.extend(load_samples(task, split, data_dir, cfg.limit)[0])
    return pool


def task_templates(task_names: list[str], prompt: str | None) -> dict[str, Any]:
    """The prompt template of each task: ``prompt`` when given, else the task's own."""
    return {t.name: load_template(prompt or t.default_prompt) for t in resolve(task_names, [])}


def prompts_for_step(pool: list[Sample], step: int, count: int, seed: int) -> list[Sample]:
    """The prompts of iteration ``step`` (0-based): a fresh shuffle of the pool each pass."""
    orders: dict[int, list[int]] = {}  # pass → order; one shuffle per pass touched
    chosen = []
    for i in range(step * count, (step + 1) * count):
        epoch = i // len(pool)
        if epoch not in orders:
            orders[epoch] = list(range(len(pool)))
            random.Random(seed * 1000 + epoch).shuffle(orders[epoch])
        chosen.append(pool[orders[epoch][i % len(pool)]])
    return chosen


def encode_prompt(processor: Any, text: str, images: list[Any]) -> dict[str, Any]:
    tokenizer = getattr(processor, "tokenizer", processor)
    if images:
        enc = processor(text=[text], images=[load_image(i) for i in images], return_tensors="pt")
        out = {k: enc[k] for k in IMAGE_TENSORS if k in enc}
        if TOKEN_TYPES in enc:
            out[TOKEN_TYPES] = enc[TOKEN_TYPES][0].tolist()
        return {"input_ids": enc["input_ids"][0].tolist(), **out}
    return {"input_ids": tokenizer(text, add_special_tokens=False)["input_ids"]}


def rewards(cfg: RLConfig, items: list[tuple[str, str, list[str] | None, bool]],
            verdicts: list[Verdict], rng: random.Random,
            cache: dict[tuple[str, str], Any] | None = None) -> list[float]:
    """The reward of each graded response ``(response, gold, choices, multiple_choice)`` under
    ``cfg.reward``; ``verdicts`` are the evaluation's (lenient) grades of the same items."""
    if cfg.reward == "lenient":
        return [v.score for v in verdicts]
    if cfg.reward == "random":  # a control: independent of the response
        return [float(rng.random() < cfg.random_reward_rate) for _ in items]
    return [v.score for v in grade_many(items, cache=cache, boxed_only=True)]


def collect(engine: Engine, processor: Any, samples: list[Sample], cfg: RLConfig,
            templates: dict[str, Any], seed: int, max_new_tokens: int
            ) -> tuple[list[Rollout], int]:
    """Generate ``rollouts_per_prompt`` responses per sample and grade them with ovr_eval.verify.

    Returns rollouts grouped prompt by prompt (GRPO relies on that order) and the number of
    response tokens the engine generated.
    """
    tokenizer = getattr(processor, "tokenizer", processor)
    requests = [build_request(templates[s.task], s, seed) for s in samples]
    for i, request in enumerate(requests):  # the same problem twice in a step stays distinct
        request.sample_id = f"{i}:{request.sample_id}"
    sampling = SamplingConfig(n=cfg.rollouts_per_prompt, temperature=cfg.temperature,
                              top_p=cfg.top_p, max_tokens=max_new_tokens, seed=seed)
    completions = {c.sample_id: c for c in engine.generate(requests, sampling)}
    rollouts, generated = [], 0
    rng, cache = random.Random(f"reward-{seed}"), {}
    for request, sample in zip(requests, samples, strict=True):
        completion = completions[request.sample_id]
        generated += sum(completion.completion_tokens)
        prompt = encode_prompt(processor, completion.prompt, sample.images)
        mc = sample.answer_type == "multiple_choice"
        items = [(r, sample.answer, sample.choices, mc) for r in completion.responses]
        verdicts = grade_many(items, cache=cache)
        for text, reason, verdict, score in zip(
                completion.responses, completion.finish_reasons, verdicts,
                rewards(cfg, items, verdicts, rng, cache), strict=True):
            truncated = reason == "length"
            ids = tokenizer(text, add_special_tokens=False)["input_ids"]
            ids = ids if truncated else [*ids, tokenizer.eos_token_id]
            zero = truncated and cfg.truncated_reward_zero and cfg.reward != "random"
            reward = 0.0 if zero else score
            rollouts.append(Rollout(sample, prompt, text, ids or [tokenizer.eos_token_id],
                                    reward, verdict.correct, truncated))
    return rollouts, generated


@dataclass
class Batch:
    """Rollouts as model inputs: prompts left-padded, responses right-padded, so response
    token ``j`` of every row sits at position ``start + 1 + j``."""

    inputs: dict[str, torch.Tensor]
    targets: torch.Tensor  # [rows, width] response token ids
    mask: torch.Tensor  # [rows, width] 1.0 on real response tokens
    start: int  # position whose output predicts the first response token

    @property
    def width(self) -> int:
        return self.targets.shape[1]


def make_batch(rollouts: list[Rollout], pad_id: int, device: torch.device) -> Batch:
    prompt_w = max(len(r.prompt["input_ids"]) for r in rollouts)
    resp = max(len(r.response_ids) for r in rollouts)
    ids, attention, targets, mask = [], [], [], []
    for r in rollouts:
        left, right = prompt_w - len(r.prompt["input_ids"]), resp - len(r.response_ids)
        ids.append([pad_id] * left + r.prompt["input_ids"] + r.response_ids + [pad_id] * right)
        attention.append([0] * left + [1] * (prompt_w - left + len(r.response_ids)) + [0] * right)
        targets.append(r.response_ids + [pad_id] * right)
        mask.append([1.0] * len(r.response_ids) + [0.0] * right)
    inputs: dict[str, torch.Tensor] = {"input_ids": torch.tensor(ids, device=device),
                                       "attention_mask": torch.tensor(attention, device=device)}
    if any(TOKEN_TYPES in r.prompt for r in rollouts):
        inputs[TOKEN_TYPES] = torch.tensor([
            [0] * (prompt_w - len(r.prompt["input_ids"]))
            + r.prompt.get(TOKEN_TYPES, [0] * len(r.prompt["input_ids"])) + [0] * resp
            for r in rollouts], device=device)
    for key in IMAGE_TENSORS:
        parts = [r.prompt[key] for r in rollouts if key in r.prompt]
        if parts:
            inputs[key] = torch.cat(parts).to(device)
    return Batch(inputs, torch.tensor(targets, device=device), torch.tensor(mask, device=device),
                 prompt_w - 1)


def score(model: Any, batch: Batch, critic: Critic | None = None, with_entropy: bool = False
          ) -> dict[str, torch.Tensor]:
    """Per response token: the policy's log-probs (and entropy), the critic's values."""
    head_only = critic is not None and critic.trunk is None
    out = model(**batch.inputs, output_hidden_states=head_only, logits_to_keep=batch.width + 1)
    logits = out.logits[:, :-1]  # outputs at start … start + width − 1
    result = {"logprobs": algos.token_logprobs(logits, batch.targets)}
    if with_entropy:
        result["entropy"] = algos.entropy_from_logits(logits)
    if critic is not None:
        hidden = (out.hidden_states[-1][:, batch.start : batch.start + batch.width]
                  if head_only else None)
        result["values"] = critic(batch.inputs, hidden, batch.start, batch.width)
    return result


def _pad_cat(chunks: list[torch.Tensor], width: int) -> torch.Tensor:
    return torch.cat([torch.nn.functional.pad(c, (0, width - c.shape[1])) for c in chunks])


class RLTrainer:
    """Owns the policy, critic, optimisers and reference policy of the RL stage."""

    def __init__(self, cfg: RLConfig, model: Any, processor: Any, ref_path: Path):
        self.cfg, self.model = cfg, model
        self.tokenizer = getattr(processor, "tokenizer", processor)
        self.pad_id = self.tokenizer.pad_token_id
        self.device = next(model.parameters()).device
        self.ref, _ = load_policy(ref_path, str(next(model.parameters()).dtype).split(".")[-1])
        self.ref.eval().requires_grad_(False)
        self.params = [p for p in model.parameters() if p.requires_grad]
        self.policy_opt = torch.optim.AdamW(self.params, lr=cfg.policy_lr, betas=(0.9, 0.95),
                                            weight_decay=0.0)
        self.policy_sched = scheduler(self.policy_opt, cfg.warmup_steps, 0)
        self.critic: Critic | None = None
        if cfg.algorithm == "ppo":
            self.critic = Critic(model, cfg.critic)
            self.critic_params = [p for p in self.critic.parameters() if p.requires_grad]
            self.critic_opt = torch.optim.AdamW(self.critic_params, lr=cfg.critic_lr,
                                                betas=(0.9, 0.95), weight_decay=0.0)
            self.critic_sched = scheduler(self.critic_opt, cfg.warmup_steps, 0)

    def state(self) -> dict[str, Any]:
        state = {"policy_opt": self.policy_opt.state_dict(),
                 "policy_sched": self.policy_sched.state_dict()}
        if self.critic is not None:
            state.update(critic=self.critic.state_dict(),
                         critic_opt=self.critic_opt.state_dict(),
                         critic_sched=self.critic_sched.state_dict())
        return state

    def load(self, state: dict[str, Any]) -> None:
        self.policy_opt.load_state_dict(state["policy_opt"])
        self.policy_sched.load_state_dict(state["policy_sched"])
        if self.critic is not None:
            self.critic.load_state_dict(state["critic"])
            self.critic_opt.load_state_dict(state["critic_opt"])
            self.critic_sched.load_state_dict(state["critic_sched"])

    def batches(self, rollouts: list[Rollout]) -> list[tuple[slice, Batch]]:
        """Micro-batches of ``micro_batch_size`` rollouts, as model inputs."""
        size = self.cfg.micro_batch_size
        chunks = [slice(s, min(s + size, len(rollouts))) for s in range(0, len(rollouts), size)]
        return [(c, make_batch(rollouts[c], self.pad_id, self.device)) for c in chunks]

    def critic_values(self, batch: Batch) -> torch.Tensor:
        """Values with gradients for the critic only."""
        assert self.critic is not None
        hidden = None
        if self.critic.trunk is None:  # head on the policy's (frozen) features
            with torch.no_grad():
                out = self.model(**batch.inputs, output_hidden_states=True, logits_to_keep=1)
            hidden = out.hidden_states[-1][:, batch.start : batch.start + batch.width]
        return self.critic(batch.inputs, hidden, batch.start, batch.width)

    def experience(self, rollouts: list[Rollout], batches: list[tuple[slice, Batch]]
                   ) -> dict[str, torch.Tensor]:
        """Old log-probs, values, entropy, reference log-probs and advantages of a batch."""
        cfg, parts = self.cfg, []
        with torch.no_grad():
            for _, batch in batches:
                current = score(self.model, batch, self.critic, with_entropy=True)
                current["ref_logprobs"] = score(self.ref, batch)["logprobs"]
                current["mask"] = batch.mask
                parts.append(current)
        width = max(p["mask"].shape[1] for p in parts)
        exp = {k: _pad_cat([p[k] for p in parts], width) for k in parts[0]}
        mask = exp["mask"]
        rewards = torch.tensor([r.reward for r in rollouts], device=mask.device)
        if cfg.algorithm == "grpo":
            per_seq = algos.group_advantages(rewards, cfg.rollouts_per_prompt)
            exp["advantages"] = per_seq[:, None] * mask
        else:
            token_rewards = algos.terminal_rewards(rewards, mask)
            adv, exp["returns"] = algos.gae(token_rewards, exp["values"], mask, cfg.gamma,
                                            cfg.lam)
            exp["advantages"] = algos.whiten(adv, mask) if cfg.normalize_advantages else adv
        return exp

    def update(self, batches: list[tuple[slice, Batch]], exp: dict[str, torch.Tensor],
               step: int) -> dict[str, float | None]:
        """One policy step and ``critic_updates`` critic steps (token-mean over the whole
        batch, accumulated over micro-batches); their losses."""
        cfg, total = self.cfg, exp["mask"].sum().clamp(min=1)
        self.model.train()
        self.policy_opt.zero_grad(set_to_none=True)
        policy_loss = clip = value_loss = 0.0
        critic_rounds = max(1, cfg.critic_updates) if self.critic is not None else 1
        for round_ in range(critic_rounds):
            if self.critic is not None:
                self.critic_opt.zero_grad(set_to_none=True)
            round_value = 0.0
            for chunk, batch in batches:
                part = {k: v[chunk][:, : batch.width] for k, v in exp.items()}
                weight = part["mask"].sum() / total
                loss = torch.zeros((), device=self.device)
                if round_ == 0:  # the policy step, with the first critic round
                    new = score(self.model, batch, self.critic)
                    pl, cf = algos.policy_loss(new["logprobs"], part["logprobs"],
                                               part["advantages"], part["mask"], cfg.clip_eps)
                    loss = loss + pl
                    if cfg.kl_coef:
                        kl = algos.masked_mean(
                            algos.kl_k3(new["logprobs"], part["ref_logprobs"]), part["mask"])
                        loss = loss + cfg.kl_coef * kl
                    policy_loss += pl.item() * float(weight)
                    clip += float(cf) * float(weight)
                    values = new.get("values")
                else:
                    values = self.critic_values(batch)
                if values is not None:
                    vl = algos.value_loss(values, part["values"], part["returns"],
                                          part["mask"], cfg.value_clip)
                    loss = loss + vl
                    round_value += vl.item() * float(weight)
                check_finite(loss.detach(), "the loss", "RL", step)
                (loss * weight).backward()
            if round_ == 0:
                norm = torch.nn.utils.clip_grad_norm_(self.params, cfg.max_grad_norm)
                check_finite(norm, "the policy gradient norm", "RL", step)
                self.policy_opt.step()
                self.policy_sched.step()
            if self.critic is not None:
                norm = torch.nn.utils.clip_grad_norm_(self.critic_params, cfg.max_grad_norm)
                check_finite(norm, "the critic gradient norm", "RL", step)
                self.critic_opt.step()
                self.critic_sched.step()
                value_loss = round_value
        return {"policy_loss": policy_loss, "clip_fraction": clip,
                "value_loss": value_loss if self.critic is not None else None}


def max_new_tokens_at(cfg: RLConfig, step: int) -> int:
    """The response length cap of iteration ``step`` (0-based) under ``length_schedule``."""
    cap = cfg.max_new_tokens
    for at, value in sorted((int(k), int(v)) for k, v in cfg.length_schedule.items()):
        if step >= at:
            cap = value
    return cap


def step_record(cfg: RLConfig, rollouts: list[Rollout], exp: dict[str, torch.Tensor]
                ) -> dict[str, Any]:
    """Rollout statistics of one iteration: reward, accuracy (text / image), length, KL,
    entropy and the share of responses showing each cognitive behaviour (the paper's
    analysis)."""
    mask = exp["mask"]
    kl = algos.masked_mean(algos.kl_k3(exp["logprobs"], exp["ref_logprobs"]), mask)
    image = [r for r in rollouts if r.sample.images]
    text = [r for r in rollouts if not r.sample.images]
    return {
        "algorithm": cfg.algorithm,
        "reward": sum(r.reward for r in rollouts) / len(rollouts),
        "accuracy": sum(r.correct for r in rollouts) / len(rollouts),
        "accuracy_text": sum(r.correct for r in text) / len(text) if text else None,
        "accuracy_image": sum(r.correct for r in image) / len(image) if image else None,
        "response_length": float(mask.sum(dim=1).mean()),
        "truncated_fraction": sum(r.truncated for r in rollouts) / len(rollouts),
        "entropy": float(algos.masked_mean(exp["entropy"], mask)), "kl": float(kl),
        **{f"behaviour_{name}": value["frequency"] for name, value in summarise(
            [count_behaviours(r.response) for r in rollouts]).items()},
    }


def train_rl(
    cfg: RLConfig, model: Any, processor: Any, engine: Engine, ref_path: Path, ckpt_root: Path,
    log: TrainLog, step_offset: int, resume: checkpoint.Saved | None = None,
    data_dir: Path | None = None,
    after_step: Callable[[int], None] | None = None,
    push: Callable[[], dict[str, float]] | None = None,
    evaluate: tuple[int, Callable[[int, Path], None]] | None = None,
) -> Path | None:
    """Run (or finish) the RL stage; global step numbers continue after ``step_offset``.

    ``evaluate`` = (every, fn): every ``every`` iterations a checkpoint is saved and
    ``fn(global_step, checkpoint)`` runs (the last iteration is left to the caller).
    """
    pool = prompt_pool(cfg, data_dir)
    templates = task_templates(cfg.tasks, cfg.prompt)
    trainer = RLTrainer(cfg, model, processor, ref_path)
    start, final = 0, resume.path if resume is not None else None
    if resume is not None:
        state = resume.state
        if state["stage"] == "rl":
            trainer.load(state["rl"])
            checkpoint.set_rng_state(state["rng"])
            start = state["stage_step"]
    every = evaluate[0] if evaluate else 0
    for step in range(start, cfg.steps):
        global_step = step_offset + step + 1
        began = time.monotonic()
        samples = prompts_for_step(pool, step, cfg.prompts_per_step, cfg.seed)
        rollouts, generated = collect(engine, processor, samples, cfg, templates,
                                      cfg.seed + step, max_new_tokens_at(cfg, step))
        gen_s = time.monotonic() - began
        batches = trainer.batches(rollouts)
        exp = trainer.experience(rollouts, batches)
        losses = trainer.update(batches, exp, global_step)
        sync = push() if push is not None else {}  # e.g. weight_sync_s, sync_logprob_gap
        elapsed = time.monotonic() - began
        tokens = sum(len(r.prompt["input_ids"]) + len(r.response_ids) for r in rollouts)
        log.metrics({
            "step": global_step, "stage": "rl", **step_record(cfg, rollouts, exp), **losses,
            "lr": trainer.policy_sched.get_last_lr()[0],
            "max_new_tokens": max_new_tokens_at(cfg, step),
            # throughput: prompt + response tokens of the iteration per wall second (TRL's
            # num_tokens convention), and generated tokens alone
            "tokens": tokens, "tokens_per_s": tokens / max(elapsed, 1e-9),
            "generated_tokens_per_s": generated / max(elapsed, 1e-9),
            "generate_tokens_per_s": generated / max(gen_s, 1e-9),
            "generate_s": gen_s, "step_s": elapsed, **sync,
        })
        log.rollouts([{"step": global_step, "prompt_id": r.sample.id, "task": r.sample.task,
                       "response": r.response, "reward": r.reward, "correct": r.correct}
                      for r in rollouts])
        last = step + 1 == cfg.steps
        due_eval = bool(every) and (step + 1) % every == 0 and not last
        if last or due_eval or (cfg.save_every and (step + 1) % cfg.save_every == 0):
            final = checkpoint.save(ckpt_root, global_step, model, processor, {
                "stage": "rl", "stage_step": step + 1, "stage_steps": cfg.steps,
                "rl": trainer.state(), "ref_path": str(ref_path)})
        if due_eval and evaluate is not None:
            evaluate[1](global_step, final)
        if after_step is not None:
            after_step(global_step)
    return final
