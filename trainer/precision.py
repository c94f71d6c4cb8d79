"""Mixed precision: fp32 master weights and optimiser state, forward/backward in the compute dtype.

``model.dtype`` names the *compute* dtype. The trained parameters, their gradients and AdamW's
moments are always float32 (as DeepSpeed's and FSDP's bf16 mixed precision keep them): an
update of lr 1e-6 on a weight of size 0.02 is 5e-5 of it, below bfloat16's resolution (2^-8 ≈
4e-3), so bf16 weights updated in place do not move (measured: benchmarks/master_weights.py).
Matrix products run in bfloat16 through ``torch.autocast``; the frozen reference policy and the
rollout engine receive the weights cast to the compute dtype.
"""

from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext

import torch

from ovr_eval.types import UserError
from ovr_trainer.config import FP16_REFUSED


def compute_dtype(name: str) -> torch.dtype:
    """The compute dtype a recipe's ``model.dtype`` names; ``auto``: bf16 on GPU, fp32 on CPU.

    Raises UserError for float16 (no loss scaler).
    """
    if name == "float16":
        raise UserError(FP16_REFUSED)
    if name == "auto":
        return torch.bfloat16 if torch.cuda.is_available() else torch.float32
    return getattr(torch, name)


def autocast(dtype: torch.dtype, device: torch.device | str) -> AbstractContextManager:
    """Run the enclosed forward passes in ``dtype`` (no-op for float32)."""
    if dtype == torch.float32:
        return nullcontext()
    return torch.autocast(device_type=torch.device(device).type, dtype=dtype)


def dtype_name(dtype: torch.dtype) -> str:
    """``torch.bfloat16`` → ``bfloat16`` (the spelling engines and recipes use)."""
    return str(dtype).removeprefix("torch.")
