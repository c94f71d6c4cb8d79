"""Learning-rate schedule: linear warm-up, then cosine decay to a floor."""

from __future__ import annotations

import math


def warmup_cosine(step: int, warmup: int, total: int, min_ratio: float = 0.0) -> float:
    """LR multiplier at optimiser step ``step`` (0-based).

    Rises linearly to 1 over ``warmup`` steps ((step + 1) / warmup), then follows a cosine from
    1 to ``min_ratio`` at ``total``; ``total <= warmup`` keeps it at 1 (constant after warm-up,
    the ORZ/OVR RL schedule).
    """
    if warmup > 0 and step < warmup:
        return (step + 1) / warmup
    if total <= warmup:
        return 1.0
    progress = min(1.0, (step - warmup) / max(1, total - warmup))
    return min_ratio + (1.0 - min_ratio) * 0.5 * (1.0 + math.cos(math.pi * progress))


def scheduler(optimizer, warmup: int, total: int, min_ratio: float = 0.0):
    """A torch LambdaLR applying :func:`warmup_cosine`."""
    from torch.optim.lr_scheduler import LambdaLR

    return LambdaLR(optimizer, lambda step: warmup_cosine(step, warmup, total, min_ratio))
