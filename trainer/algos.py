"""RL math as pure tensor functions: GAE, group advantages, PPO losses, KL, entropy.

Shapes: ``[batch, tokens]`` over response tokens, with ``mask`` 1 on real response tokens.
Losses are aggregated token-level: a mean over every unmasked token of the batch.
"""

from __future__ import annotations

import torch


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
                mask: torch.Tensor, clip_eps: float = 0.2) -> tuple[torch.Tensor, torch.Tensor]:
    """PPO clipped surrogate, token-mean; returns (loss, clip fraction)."""
    ratio = torch.exp(logprobs - old_logprobs)
    unclipped = ratio * advantages
    clipped = ratio.clamp(1 - clip_eps, 1 + clip_eps) * advantages
    loss = masked_mean(-torch.minimum(unclipped, clipped), mask)
    clip_fraction = masked_mean((clipped < unclipped).float(), mask)
    return loss, clip_fraction.detach()


def value_loss(values: torch.Tensor, old_values: torch.Tensor, returns: torch.Tensor,
               mask: torch.Tensor, clip: float | None = 0.2) -> torch.Tensor:
    """Clipped value loss: 0.5 · max((V − R)², (V_clipped − R)²), token-mean."""
    loss = (values - returns) ** 2
    if clip is not None:
        clipped = old_values + (values - old_values).clamp(-clip, clip)
        loss = torch.maximum(loss, (clipped - returns) ** 2)
    return 0.5 * masked_mean(loss, mask)


def kl_k3(logprobs: torch.Tensor, ref_logprobs: torch.Tensor) -> torch.Tensor:
    """Per-token k3 estimator of KL(policy ‖ reference): exp(r) − r − 1 with r = ref − policy."""
    log_ratio = ref_logprobs - logprobs
    return torch.exp(log_ratio) - log_ratio - 1


def entropy_from_logits(logits: torch.Tensor) -> torch.Tensor:
    """Per-token entropy of the full next-token distribution (not of the sampled token)."""
    logp = torch.log_softmax(logits.float(), dim=-1)
    return -(logp.exp() * logp).sum(dim=-1)


def token_logprobs(logits: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
    """Log-probability of each given token under ``logits`` (same leading shape)."""
    logp = torch.log_softmax(logits.float(), dim=-1)
    return logp.gather(-1, tokens.unsqueeze(-1)).squeeze(-1)
