"""``--deterministic``: responses that do not depend on batching or on a resume.

Per-request seeds fix what is *sampled*; they do not fix the *numbers* it is sampled from. A
batched forward pass pads prompts to one length and picks its matrix kernels by the batch's
shape, so a prompt's logits move in their last bits with its neighbours, and a near-tie between
two tokens can flip (greedy included). A resumed run batches the remaining prompts differently
from an uninterrupted one, so the same thing happens there. The cure is to make a prompt's
numbers depend on that prompt alone:

- ``hf``: one prompt per ``generate`` call (no padding, one batch shape), seeded by its own seed;
  on CUDA, torch's deterministic kernels and no TF32.
- ``vllm``: on NVIDIA GPUs of compute capability 8.0 or more, vLLM's batch-invariant kernels
  (``VLLM_BATCH_INVARIANT=1``: batching is kept); elsewhere (the CPU backend, older GPUs) one
  sequence at a time (``max_num_seqs=1``). Prefix caching is off in both: a cached prefix was
  computed beside other requests.

What holds then: the same records for the same model, data, settings, software and hardware,
whatever the batch size, the order of requests, or where a run was killed and resumed.
"""

from __future__ import annotations

import os
from typing import Any

BATCH_INVARIANT_CAPABILITY = (8, 0)  # vLLM's batch-invariant kernels: NVIDIA sm80 and newer


def use_deterministic_torch() -> None:
    """Deterministic torch kernels on CUDA (a no-op on the CPU, whose kernels already are)."""
    import torch

    if not torch.cuda.is_available():
        return
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")  # cuBLAS's reproducible mode
    torch.use_deterministic_algorithms(True, warn_only=True)
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    torch.backends.cudnn.benchmark = False


def has_batch_invariant_kernels() -> bool:
    """Whether vLLM's batch-invariant mode runs on this machine's GPU."""
    import torch

    return (torch.cuda.is_available()
            and torch.cuda.get_device_capability(0) >= BATCH_INVARIANT_CAPABILITY)


def deterministic_vllm_args(engine_args: dict[str, Any]) -> str:
    """Set up a vLLM engine for batch-invariant responses (``engine_args`` are updated in
    place, the environment when vLLM's kernels are used); returns the mode, for config.json."""
    engine_args["enable_prefix_caching"] = False
    if has_batch_invariant_kernels():
        os.environ["VLLM_BATCH_INVARIANT"] = "1"
        return "batch-invariant kernels"
    engine_args["max_num_seqs"] = 1
    return "one sequence at a time"
