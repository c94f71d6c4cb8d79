"""Rollout engines around the live policy.

CPU: :class:`LiveHFEngine` is ovr_eval's ``hf`` engine over the model object being trained
(no reload, no copy). GPU: :func:`push_to_vllm` loads the updated weights into an in-process
ovr_eval ``vllm`` engine.
"""

from __future__ import annotations

import time
from typing import Any

import torch

from ovr_eval.engines.hf import HFEngine


class LiveHFEngine(HFEngine):
    """ovr_eval's HF engine generating with an already loaded (training) model."""

    def __init__(self, model: Any, processor: Any, batch_size: int = 16):
        self.model_name, self.revision, self.batch_size = "live-policy", None, batch_size
        self.use(model, processor)

    def generate(self, requests, sampling):
        was_training = self.model.training
        self.model.eval()
        try:
            yield from super().generate(requests, sampling)
        finally:
            self.model.train(was_training)

    def close(self) -> None:
        """The trainer owns the model."""


# --- GPU only: vLLM weight sync (not exercised by the CPU tests) --------------------------

def push_to_vllm(engine: Any, model: Any) -> float:
    """Load the policy's current weights into an in-process ovr_eval VLLMEngine; seconds taken.

    Uses vLLM's public ``reload_weights`` RPC with the full HF-format state dict (tied
    ``lm_head`` included), then resets the prefix cache so no stale KV is reused. Needs the
    engine core in this process (``VLLM_ENABLE_V1_MULTIPROCESSING=0``).
    """
    began = time.monotonic()
    with torch.no_grad():
        weights = [(name, tensor.detach()) for name, tensor in model.state_dict().items()]
        if "lm_head.weight" not in dict(weights):
            embed = model.get_input_embeddings().weight.detach()
            weights.append(("lm_head.weight", embed))
        engine.llm.collective_rpc("reload_weights", kwargs={
            "weights_iterator": iter(weights), "is_checkpoint_format": True})
    engine.llm.reset_prefix_cache()
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    return time.monotonic() - began
