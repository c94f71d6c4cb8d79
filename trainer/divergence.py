"""Stop on a non-finite loss or gradient before it reaches the weights."""

from __future__ import annotations

import math

import torch

from ovr_eval.types import UserError


class TrainingDiverged(UserError):
    """A NaN/inf loss or gradient norm: training stops before the update is applied."""


def check_finite(value: torch.Tensor | float, what: str, stage: str, step: int) -> None:
    """Raise :class:`TrainingDiverged` (naming what, where and what to do) unless finite."""
    if not math.isfinite(float(value)):
        raise TrainingDiverged(
            f"{what} is {float(value)} at {stage} step {step}: training stopped before "
            "applying the update, so the last checkpoint is the last good one. Lower the "
            "learning rate or max_grad_norm, then run the same command to resume from it.")
