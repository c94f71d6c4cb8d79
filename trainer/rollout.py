"""Rollout engines around the live policy.

CPU: :class:`LiveHFEngine` is ovr_eval's ``hf`` engine over the model object being trained
(no reload, no copy). GPU: :func:`push_to_vllm` loads the updated weights into an in-process
ovr_eval ``vllm`` engine, and :func:`vllm_logprob_gap` checks that the sync took.
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
        self.model, self.processor = model, processor
        self.tokenizer = getattr(processor, "tokenizer", processor)
        self.tokenizer.padding_side = "left"
        if self.tokenizer.pad_token is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        self.supports_images = processor is not self.tokenizer
        self.device = str(next(model.parameters()).device)

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


def vllm_logprob_gap(engine: Any, token_ids: list[int], prompt_len: int,
                     trainer_logprobs: torch.Tensor) -> float:
    """Mean |trainer − vLLM| log-prob over one rollout's response tokens (text-only probe).

    Scores the full sequence with ``prompt_logprobs`` and compares the response part; a gap
    far above bf16 noise (~1e-2) means the engine serves stale or mis-mapped weights.
    """
    from vllm import SamplingParams, TokensPrompt

    params = SamplingParams(max_tokens=1, prompt_logprobs=0, temperature=1.0)
    output = engine.llm.generate([TokensPrompt(prompt_token_ids=token_ids)], params,
                                 use_tqdm=False)[0]
    engine_lp = [next(iter(d.values())).logprob if d else 0.0
                 for d in output.prompt_logprobs[prompt_len:]]
    gap = (torch.tensor(engine_lp) - trainer_logprobs.float().cpu()[: len(engine_lp)]).abs()
    return float(gap.mean())
