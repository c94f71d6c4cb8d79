"""RL stage: rollouts through an ovr_eval engine, rewards from ovr_eval.verify, PPO/GRPO updates.

One iteration (ORZ/OVR order): sample ``prompts_per_step`` prompts × ``rollouts_per_prompt``
responses → grade (the reward per ``rl.reward``: by default the last boxed answer, as ORZ/OVR)
→ score them with the current policy (old log-probs, entropy), the critic
(values) and, when ``kl_coef`` > 0, the initial policy → advantages (GAE, or group-relative
for GRPO) → ``critic_updates`` critic steps on disjoint mini-batches of one shuffled pass, then
one policy step over the whole batch (verl's order; strictly on-policy as ORZ/OVR) → push the
weights to the engine when it is vLLM.

Rollouts and rewards come from ``collect.py``. Training uses the token ids the engine sampled
(the stop token included only when generation stopped on it); engines that return text only
are re-tokenised. Log-probs are taken under softmax(logits / temperature), the distribution the
rollouts were sampled from.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

import torch

from ovr_eval.behaviours import count_behaviours, summarise
from ovr_eval.engines import Engine
from ovr_eval.types import Sample
from ovr_trainer import algos, checkpoint
from ovr_trainer.chat_data import IMAGE_TENSORS, TOKEN_TYPES
from ovr_trainer.collect import Rollout, collect, prompts_for_step, task_templates
from ovr_trainer.config import RLConfig
from ovr_trainer.divergence import check_finite
from ovr_trainer.logs import TrainLog
from ovr_trainer.modeling import Critic, Policy, last_hidden, load_policy, output_layer
from ovr_trainer.precision import autocast, dtype_name
from ovr_trainer.schedule import scheduler


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


@dataclass
class Scores:
    """Per response token of a batch: log-probs, and entropy / values when asked for."""

    logprobs: torch.Tensor
    entropy: torch.Tensor | None = None
    values: torch.Tensor | None = None


def score(model: Any, batch: Batch, critic: Critic | None = None, with_entropy: bool = False,
          temperature: float = 1.0, chunk: int = 256, dtype: torch.dtype = torch.float32
          ) -> Scores:
    """Log-probs of the response tokens under softmax(logits / temperature) (and the entropy),
    the critic's values; forward passes in ``dtype`` (autocast), log-probs chunk by chunk."""
    with autocast(dtype, batch.targets.device):
        hidden = last_hidden(model, batch.inputs, batch.start, batch.width)
        logprobs, entropy = algos.logprobs_from_hidden(
            hidden, output_layer(model), batch.targets, temperature, chunk, with_entropy)
        values = None
        if critic is not None:
            values = critic(batch.inputs, hidden if critic.trunk is None else None,
                            batch.start, batch.width).float()
    return Scores(logprobs, entropy, values)


@dataclass
class Experience:
    """One iteration's rollouts scored before the update, per response token
    ([rollouts, width] each; ``None`` where the algorithm has no such quantity)."""

    mask: torch.Tensor
    logprobs: torch.Tensor  # the sampling policy's (old) log-probs
    entropy: torch.Tensor
    advantages: torch.Tensor
    values: torch.Tensor | None = None  # the critic's, before the update (PPO)
    returns: torch.Tensor | None = None  # GAE targets of the critic (PPO)
    ref_logprobs: torch.Tensor | None = None  # the initial policy's (kl_coef > 0)

    def rows(self, index: list[int], width: int) -> Experience:
        """The rows of ``index`` (in that order), cut to ``width`` tokens."""
        picked = torch.tensor(index, device=self.mask.device)
        return replace(self, **{f.name: t[picked, :width] for f in fields(self)
                                if (t := getattr(self, f.name)) is not None})


def _pad_cat(chunks: list[torch.Tensor], width: int) -> torch.Tensor:
    return torch.cat([torch.nn.functional.pad(c, (0, width - c.shape[1])) for c in chunks])


MicroBatch = tuple[list[int], Batch]  # rollout indices and their model inputs


def critic_minibatches(count: int, updates: int, seed: int) -> list[list[int]]:
    """``updates`` disjoint, non-empty mini-batches covering rollouts 0 … count − 1 once, in a
    shuffled order (one pass, one critic optimiser step each; fewer when count < updates)."""
    order = list(range(count))
    random.Random(seed).shuffle(order)
    parts = [order[i::updates] for i in range(updates)]
    return [part for part in parts if part]


class RLTrainer:
    """Owns the policy's optimiser, the critic and (when kl_coef > 0) the reference policy."""

    def __init__(self, cfg: RLConfig, policy: Policy, rl_start: Path):
        self.cfg, self.policy, self.model = cfg, policy, policy.model
        self.pad_id = policy.tokenizer.pad_token_id
        self.device = policy.device
        self.temperature = cfg.temperature if cfg.temperature > 0 else 1.0
        self.ref = None
        if cfg.kl_coef > 0:  # the initial policy, frozen, in the compute dtype
            self.ref, _ = load_policy(rl_start, dtype_name(policy.compute))
            self.ref.eval().requires_grad_(False)
        self.params = [p for p in self.model.parameters() if p.requires_grad]
        self.policy_opt = torch.optim.AdamW(self.params, lr=cfg.policy_lr, betas=(0.9, 0.95),
                                            weight_decay=0.0)
        self.policy_sched = scheduler(self.policy_opt, cfg.warmup_steps, 0)
        self.critic: Critic | None = None
        if cfg.algorithm == "ppo":
            self.critic = Critic(self.model, cfg.critic)
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

    def _score(self, model: Any, batch: Batch, **kwargs: Any) -> Scores:
        return score(model, batch, temperature=self.temperature, chunk=self.cfg.logprob_chunk,
                     dtype=self.policy.compute, **kwargs)

    def micro_batches(self, rollouts: list[Rollout], order: list[int] | None = None
                      ) -> list[MicroBatch]:
        """``micro_batch_size`` rollouts at a time (in ``order``), as model inputs."""
        order = list(range(len(rollouts))) if order is None else order
        size = self.cfg.micro_batch_size
        chunks = [order[s : s + size] for s in range(0, len(order), size)]
        return [(c, make_batch([rollouts[i] for i in c], self.pad_id, self.device))
                for c in chunks]

    def experience(self, rollouts: list[Rollout], batches: list[MicroBatch]) -> Experience:
        """Old log-probs, entropy, values, reference log-probs and advantages of a batch."""
        cfg, parts = self.cfg, []
        self.model.eval()  # no dropout while scoring the sampling policy (nor the critic)
        if self.critic is not None:
            self.critic.eval()
        with torch.no_grad():
            for _, batch in batches:
                scores = self._score(self.model, batch, critic=self.critic, with_entropy=True)
                ref = self._score(self.ref, batch).logprobs if self.ref is not None else None
                parts.append((batch.mask, scores, ref))
        width = max(mask.shape[1] for mask, _, _ in parts)

        def stack(pick: Callable[[Any], torch.Tensor | None]) -> torch.Tensor | None:
            chunks = [c for c in (pick(p) for p in parts) if c is not None]
            return _pad_cat(chunks, width) if chunks else None

        def stack_all(pick: Callable[[Any], torch.Tensor | None]) -> torch.Tensor:
            stacked = stack(pick)
            assert stacked is not None
            return stacked

        mask = stack_all(lambda p: p[0])
        exp = Experience(mask=mask, logprobs=stack_all(lambda p: p[1].logprobs),
                         entropy=stack_all(lambda p: p[1].entropy),
                         advantages=torch.zeros_like(mask),
                         values=stack(lambda p: p[1].values), ref_logprobs=stack(lambda p: p[2]))
        rewards = torch.tensor([r.reward for r in rollouts], device=mask.device)
        if cfg.algorithm == "grpo":
            per_seq = algos.group_advantages(rewards, cfg.rollouts_per_prompt,
                                             scale=cfg.normalize_advantages)
            exp.advantages = per_seq[:, None] * mask
        else:
            token_rewards = algos.terminal_rewards(rewards, mask)
            assert exp.values is not None  # PPO has a critic
            adv, exp.returns = algos.gae(token_rewards, exp.values, mask, cfg.gamma, cfg.lam)
            exp.advantages = algos.whiten(adv, mask) if cfg.normalize_advantages else adv
        return exp

    def critic_steps(self, rollouts: list[Rollout], exp: Experience, step: int
                     ) -> dict[str, float | None]:
        """``critic_updates`` optimiser steps of the critic, each on its own mini-batch of one
        shuffled pass over the rollouts (ORZ's critic_update_steps); the mean value loss."""
        if self.critic is None:
            return {"value_loss": None}
        losses = []
        self.critic.train()
        for part in critic_minibatches(len(rollouts), self.cfg.critic_updates,
                                       self.cfg.seed * 1_000_003 + step):
            norm = algos.Normaliser.of(exp.mask[part])  # the mini-batch's counts
            self.critic_opt.zero_grad(set_to_none=True)
            total = 0.0
            for index, batch in self.micro_batches(rollouts, part):
                rows = exp.rows(index, batch.width)
                values = self._critic_values(batch)
                assert rows.values is not None and rows.returns is not None  # PPO's
                loss = algos.value_loss(values, rows.values, rows.returns, rows.mask,
                                        self.cfg.value_clip, norm)
                check_finite(loss.detach(), "the value loss", "RL", step)
                loss.backward()
                total += loss.item()
            norm_ = torch.nn.utils.clip_grad_norm_(self.critic_params, self.cfg.max_grad_norm)
            check_finite(norm_, "the critic gradient norm", "RL", step)
            self.critic_opt.step()
            losses.append(total)
        self.critic_sched.step()
        return {"value_loss": sum(losses) / len(losses)}

    def _critic_values(self, batch: Batch) -> torch.Tensor:
        """Values with gradients for the critic only."""
        assert self.critic is not None
        hidden = None
        with autocast(self.policy.compute, self.device):
            if self.critic.trunk is None:  # head on the policy's (frozen) features
                with torch.no_grad():
                    hidden = last_hidden(self.model, batch.inputs, batch.start, batch.width)
            return self.critic(batch.inputs, hidden, batch.start, batch.width).float()

    def policy_step(self, rollouts: list[Rollout], batches: list[MicroBatch], exp: Experience,
                    step: int, horizon: int) -> dict[str, float]:
        """One optimiser step of the policy over the whole batch, the loss aggregated by
        ``loss_agg`` over every micro-batch (accumulated gradients)."""
        cfg = self.cfg
        norm = algos.Normaliser.of(exp.mask, horizon)
        self.model.train()
        self.policy_opt.zero_grad(set_to_none=True)
        # summed on the device in float64 (one read at the end, the same numbers as floats)
        policy_loss = clip = torch.zeros((), dtype=torch.float64, device=self.device)
        for index, batch in batches:
            rows = exp.rows(index, batch.width)
            new = self._score(self.model, batch).logprobs
            loss, clipped = algos.policy_loss(new, rows.logprobs, rows.advantages, rows.mask,
                                              cfg.clip_eps, cfg.loss_agg, norm)
            policy_loss = policy_loss + loss.detach().double()
            clip = clip + clipped.double() * rows.mask.sum().double() / max(norm.tokens, 1.0)
            if cfg.kl_coef:
                assert rows.ref_logprobs is not None  # loaded when kl_coef > 0
                kl = algos.aggregate(algos.kl_k3(new, rows.ref_logprobs), rows.mask,
                                     cfg.loss_agg, norm)
                loss = loss + cfg.kl_coef * kl
            check_finite(loss.detach(), "the loss", "RL", step)
            loss.backward()
        grad_norm = torch.nn.utils.clip_grad_norm_(self.params, cfg.max_grad_norm)
        check_finite(grad_norm, "the policy gradient norm", "RL", step)
        self.policy_opt.step()
        self.policy_sched.step()
        return {"policy_loss": float(policy_loss), "clip_fraction": float(clip),
                "grad_norm": float(grad_norm)}

    def update(self, rollouts: list[Rollout], batches: list[MicroBatch], exp: Experience,
               step: int, horizon: int) -> dict[str, float | None]:
        """The critic steps, then the policy step (verl's order: the critic learns from the
        features of the policy that sampled the batch)."""
        return {**self.critic_steps(rollouts, exp, step),
                **self.policy_step(rollouts, batches, exp, step, horizon)}


def max_new_tokens_at(cfg: RLConfig, step: int) -> int:
    """The response length cap of iteration ``step`` (0-based) under ``length_schedule``."""
    cap = cfg.max_new_tokens
    for at, value in sorted((int(k), int(v)) for k, v in cfg.length_schedule.items()):
        if step >= at:
            cap = value
    return cap


def step_record(cfg: RLConfig, rollouts: list[Rollout], exp: Experience) -> dict[str, Any]:
    """Rollout statistics of one iteration: reward, accuracy (text / image), length, KL (when
    a reference is loaded), entropy and the share of responses showing each cognitive
    behaviour (the paper's analysis)."""
    mask = exp.mask
    kl = None
    if exp.ref_logprobs is not None:
        kl = float(algos.masked_mean(algos.kl_k3(exp.logprobs, exp.ref_logprobs), mask))
    image = [r for r in rollouts if r.source.images]
    text = [r for r in rollouts if not r.source.images]
    return {
        "algorithm": cfg.algorithm,
        "reward": sum(r.reward for r in rollouts) / len(rollouts),
        "accuracy": sum(r.correct for r in rollouts) / len(rollouts),
        "accuracy_text": sum(r.correct for r in text) / len(text) if text else None,
        "accuracy_image": sum(r.correct for r in image) / len(image) if image else None,
        "response_length": float(mask.sum(dim=1).mean()),
        "truncated_fraction": sum(r.truncated for r in rollouts) / len(rollouts),
        "entropy": float(algos.masked_mean(exp.entropy, mask)), "kl": kl,
        **{f"behaviour_{name}": value["frequency"] for name, value in summarise(
            [count_behaviours(r.response) for r in rollouts]).items()},
    }


@dataclass
class Hooks:
    """What the runner plugs into the RL loop."""

    push: Callable[[], dict[str, float]] | None = None  # weights → engine after an update
    evaluate: Callable[[int, Path], None] | None = None  # (global step, weights checkpoint)
    evaluate_every: int = 0  # iterations between evaluations (the last is left to the caller)
    after_step: Callable[[int], None] | None = None  # after each iteration (test hook)


def train_rl(cfg: RLConfig, policy: Policy, engine: Engine, pool: list[Sample],
             rl_start: Path, ckpts: checkpoint.Checkpointer, log: TrainLog, step_offset: int,
             resume: checkpoint.Saved | None = None, hooks: Hooks | None = None) -> Path | None:
    """Run (or finish) the RL stage on ``pool``; global step numbers continue after
    ``step_offset``. Returns the final checkpoint."""
    hooks = hooks or Hooks()
    templates = task_templates(cfg.tasks, cfg.prompt)
    # the stage starts from its seed whatever ran before it in this process (SFT steps, a
    # resume from SFT's last checkpoint): the critic's initial head, dropout, mini-batches
    checkpoint.seed_all(cfg.seed)
    trainer = RLTrainer(cfg, policy, rl_start)
    start, final = 0, resume.path if resume is not None else None
    if resume is not None and resume.state.stage == "rl":
        trainer.load(resume.state.optimiser)
        checkpoint.set_rng_state(resume.state.rng)
        start = resume.state.stage_step
    log.stage("rl", start, cfg.steps)
    for step in range(start, cfg.steps):
        global_step = step_offset + step + 1
        began = time.monotonic()
        samples = prompts_for_step(pool, step, cfg.prompts_per_step, cfg.seed)
        horizon = max_new_tokens_at(cfg, step)
        rollouts, generated = collect(engine, policy.processor, samples, cfg, templates,
                                      cfg.seed + step, horizon)
        gen_s = time.monotonic() - began
        batches = trainer.micro_batches(rollouts)
        exp = trainer.experience(rollouts, batches)
        losses = trainer.update(rollouts, batches, exp, global_step, horizon)
        sync = hooks.push() if hooks.push is not None else {}  # weight_sync_s, logprob gap
        elapsed = time.monotonic() - began
        tokens = sum(len(r.prompt["input_ids"]) + len(r.response_ids) for r in rollouts)
        log.metrics({
            "step": global_step, "stage": "rl", **step_record(cfg, rollouts, exp), **losses,
            "lr": trainer.policy_sched.get_last_lr()[0], "max_new_tokens": horizon,
            # throughput: prompt + response tokens of the iteration per wall second (TRL's
            # num_tokens convention), and generated tokens alone
            "tokens": tokens, "tokens_per_s": tokens / max(elapsed, 1e-9),
            "generated_tokens_per_s": generated / max(elapsed, 1e-9),
            "generate_tokens_per_s": generated / max(gen_s, 1e-9),
            "generate_s": gen_s, "step_s": elapsed, **sync,
        })
        log.rollouts([{"step": global_step, "prompt_id": r.source.id, "task": r.source.task,
                       "response": r.response, "reward": r.reward, "correct": r.correct}
                      for r in rollouts])
        last = step + 1 == cfg.steps
        due_eval = (bool(hooks.evaluate_every) and (step + 1) % hooks.evaluate_every == 0
                    and not last)
        if last or (cfg.save_every and (step + 1) % cfg.save_every == 0):
            final = ckpts.full(global_step, policy.model, policy.processor, checkpoint.TrainState(
                "rl", step + 1, cfg.steps, global_step, str(rl_start.resolve()),  # any cwd
                trainer.state()))
        elif due_eval:
            final = ckpts.weights(global_step, policy.model, policy.processor)
        if due_eval and hooks.evaluate is not None:
            assert final is not None  # saved just above
            hooks.evaluate(global_step, final)
        if hooks.after_step is not None:
            hooks.after_step(global_step)
    return final
