"""RL math as pure tensor functions: GAE, group advantages, PPO losses, KL, entropy, log-probs.

Shapes: ``[batch, tokens]`` over response tokens, with ``mask`` 1 on real response tokens.
Per-token losses become one number through :func:`aggregate` (``rl.loss_agg``, verl's
``loss_agg_mode``); the default, ``token-mean``, is a mean over every unmasked token of the
optimiser step, as ORZ and verl do.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch.utils.checkpoint import checkpoint

# how per-token losses become one number (verl's loss_agg_mode names; see aggregate)
LOSS_AGG_MODES = ("token-mean", "seq-mean-token-mean", "seq-mean-token-sum",
                  "seq-mean-token-sum-norm")


@dataclass(frozen=True)
class Normaliser:
    """Counts of a whole optimiser step, so micro-batch losses add up to the step's loss."""

    tokens: float  # unmasked response tokens
    sequences: int  # responses
    horizon: int  # the response length cap (Dr. GRPO's constant)

    @classmethod
    def of(cls, mask: torch.Tensor, horizon: int | None = None) -> Normaliser:
        """The counts of ``mask`` alone (one micro-batch is the whole step)."""
        return cls(float(mask.sum()), int(mask.shape[0]), horizon or int(mask.shape[1]))


def aggregate(values: torch.Tensor, mask: torch.Tensor, mode: str = "token-mean",
              norm: Normaliser | None = None) -> torch.Tensor:
    """This micro-batch's share of the step's loss under ``mode`` (verl's names):

    - ``token-mean``: Σ tokens ÷ the step's tokens (ORZ, verl's default; long responses weigh
      more per sequence, every token weighs the same);
    - ``seq-mean-token-mean``: each response's token mean, averaged over responses (GRPO's
      original form; a token of a short response weighs more);
    - ``seq-mean-token-sum``: each response's token sum, averaged over responses;
    - ``seq-mean-token-sum-norm``: token sums ÷ (responses × horizon) (Dr. GRPO, TRL's
      ``dr_grpo``: no length normalisation at all).
    """
    norm = norm or Normaliser.of(mask)
    summed = values * mask
    if mode == "token-mean":
        return summed.sum() / max(norm.tokens, 1.0)
    per_seq = summed.sum(dim=1)
    if mode == "seq-mean-token-mean":
        per_seq = per_seq / mask.sum(dim=1).clamp(min=1)
    elif mode == "seq-mean-token-sum-norm":
        per_seq = per_seq / max(norm.horizon, 1)
    elif mode != "seq-mean-token-sum":
        raise ValueError(f"unknown loss aggregation {mode!r}; one of {LOSS_AGG_MODES}")
    return per_seq.sum() / max(norm.sequences, 1)


def masked_mean(values: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean over unmasked entries (0 when none)."""
    return (values * mask).sum() / mask.sum().clamp(min=1)


def whiten(values: torch.Tensor, mask: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """Batch-level normalisation to mean 0, std 1 over unmasked tokens (ORZ, verl)."""
    mean = masked_mean(values, mask)
    var = masked_mean((values - mean) ** 2, mask)
    return (values - mean) * torch.rsqrt(var + eps) * mask


def terminal_rewards(rewards: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Per-token rewards: each sequence's scalar reward on its last response token."""
    token_rewards = torch.zeros_like(mask, dtype=torch.float32)
    last = (mask.sum(dim=1) - 1).clamp(min=0).long()
    token_rewards[torch.arange(mask.shape[0]), last] = rewards.float()
    return token_rewards * mask


def gae(token_rewards: torch.Tensor, values: torch.Tensor, mask: torch.Tensor,
        gamma: float = 1.0, lam: float = 1.0) -> tuple[torch.Tensor, torch.Tensor]:
    """Generalised advantage estimation; returns (advantages, returns).

    delta_t = r_t + γ V_{t+1} − V_t with V = 0 after the last response token;
    A_t = delta_t + γλ A_{t+1}. With γ = λ = 1 and a terminal reward R, A_t = R − V_t.
    """
    values = values * mask
    advantages = torch.zeros_like(values)
    running = torch.zeros(values.shape[0], dtype=values.dtype, device=values.device)
    next_value = torch.zeros_like(running)
    for t in reversed(range(values.shape[1])):
        live = mask[:, t].to(values.dtype)
        delta = token_rewards[:, t] + gamma * next_value - values[:, t]
        running = (delta + gamma * lam * running) * live
        advantages[:, t] = running
        next_value = values[:, t] * live
    return advantages, (advantages + values) * mask


def group_advantages(rewards: torch.Tensor, group_size: int, scale: bool = True,
                     eps: float = 1e-6) -> torch.Tensor:
    """GRPO: each reward minus its group's mean, divided by the group's std when ``scale``.

    ``rewards`` is ``[prompts × group_size]`` ordered group by group. A group whose rewards are
    all equal gets advantage 0 (nothing to learn from it).
    """
    groups = rewards.float().view(-1, group_size)
    centred = groups - groups.mean(dim=1, keepdim=True)
    if scale:
        centred = centred / (groups.std(dim=1, unbiased=False, keepdim=True) + eps)
    return centred.reshape(-1)


def policy_loss(logprobs: torch.Tensor, old_logprobs: torch.Tensor, advantages: torch.Tensor,
                mask: torch.Tensor, clip_eps: float = 0.2, mode: str = "token-mean",
                norm: Normaliser | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """PPO clipped surrogate aggregated by ``mode``; returns (loss, clip fraction of these
    tokens)."""
    ratio = torch.exp(logprobs - old_logprobs)
    unclipped = ratio * advantages
    clipped = ratio.clamp(1 - clip_eps, 1 + clip_eps) * advantages
    loss = aggregate(-torch.minimum(unclipped, clipped), mask, mode, norm)
    clip_fraction = masked_mean((clipped < unclipped).float(), mask)
    return loss, clip_fraction.detach()


def value_loss(values: torch.Tensor, old_values: torch.Tensor, returns: torch.Tensor,
               mask: torch.Tensor, clip: float | None = 0.2,
               norm: Normaliser | None = None) -> torch.Tensor:
    """Clipped value loss: 0.5 · max((V − R)², (V_clipped − R)²), token-mean (ORZ, verl)."""
    loss = (values - returns) ** 2
    if clip is not None:
        clipped = old_values + (values - old_values).clamp(-clip, clip)
        loss = torch.maximum(loss, (clipped - returns) ** 2)
    return 0.5 * aggregate(loss, mask, "token-mean", norm)


def kl_k3(logprobs: torch.Tensor, ref_logprobs: torch.Tensor) -> torch.Tensor:
    """Per-token k3 estimator of KL(policy ‖ reference): exp(r) − r − 1 with r = ref − policy."""
    log_ratio = ref_logprobs - logprobs
    return torch.exp(log_ratio) - log_ratio - 1


def _chunk_scores(hidden: torch.Tensor, output_layer: Any, tokens: torch.Tensor,
                  temperature: float, with_entropy: bool) -> tuple[torch.Tensor, torch.Tensor]:
    logits = output_layer(hidden).float()
    if temperature != 1.0:
        logits = logits / temperature
    logp = torch.log_softmax(logits, dim=-1)
    chosen = logp.gather(-1, tokens.unsqueeze(-1)).squeeze(-1)
    entropy = -(logp.exp() * logp).sum(dim=-1) if with_entropy else torch.zeros_like(chosen)
    return chosen, entropy


def logprobs_from_hidden(hidden: torch.Tensor, output_layer: Any, tokens: torch.Tensor,
                         temperature: float = 1.0, chunk: int = 256,
                         with_entropy: bool = False) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Log-probabilities of ``tokens`` [batch, tokens] (and the entropy of each next-token
    distribution) under softmax(output_layer(hidden) / temperature), ``chunk`` positions at a
    time.

    The [positions × vocabulary] logits of a whole batch never exist at once: each chunk's are
    made, reduced and dropped, and rebuilt in the backward pass (activation checkpointing), so
    memory grows with ``chunk × vocabulary`` instead of ``tokens × vocabulary`` (152k × 4 bytes
    per position for Qwen2.5: 29 GB at 48k tokens). Dividing by the sampling temperature scores
    tokens under the distribution they were sampled from (verl, TRL).
    """
    chunk = max(1, chunk)
    width = hidden.shape[-1]
    flat_hidden, flat_tokens = hidden.reshape(-1, width), tokens.reshape(-1)
    grad = torch.is_grad_enabled() and (hidden.requires_grad or any(
        p.requires_grad for p in output_layer.parameters()))
    chosen, entropy = [], []
    for start in range(0, flat_hidden.shape[0], chunk):
        part = (flat_hidden[start : start + chunk], output_layer,
                flat_tokens[start : start + chunk], temperature, with_entropy)
        if grad:
            c, e = checkpoint(_chunk_scores, *part, use_reentrant=False)
        else:
            c, e = _chunk_scores(*part)
        chosen.append(c)
        entropy.append(e)
    shape = tokens.shape
    return (torch.cat(chosen).view(shape),
            torch.cat(entropy).view(shape) if with_entropy else None)
