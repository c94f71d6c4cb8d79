"""Load new weights into a live in-process vLLM engine and check that it serves them.

The trainer pushes its policy after each update (``ovr_trainer.rollout.VLLMRollouts``); a
checkpoint sweep (``ovr_eval.sweep``) pushes each checkpoint into one engine. Both then compare
the engine's log-probs on a probe with those of the model the weights came from: a gap above
:func:`sync_tolerance` means the engine still serves (part of) the old weights.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import torch

from ovr_eval.engines.vllm_engine import VLLMEngine

# Mean |source - engine| log-prob over the probe's response tokens above which the engine is
# taken to serve stale weights. Same weights measure 1e-6..6e-6 in float32 and 0.02..0.04 in
# bfloat16 (tiny Qwen2.5-VL, CPU): in half precision only gross staleness (a missed layer, an
# untouched output layer) stands out from kernel rounding; one small optimiser step may not.
FULL_PRECISION_TOLERANCE = 1e-3
HALF_PRECISION_TOLERANCE = 0.1


def sync_tolerance(dtype: torch.dtype) -> float:
    """Largest mean log-prob gap accepted after a push, for weights in ``dtype``."""
    full = dtype in (torch.float32, torch.float64)
    return FULL_PRECISION_TOLERANCE if full else HALF_PRECISION_TOLERANCE


def model_weights(model: Any, with_lm_head: bool = True, dtype: torch.dtype | None = None
                  ) -> Iterator[tuple[str, torch.Tensor]]:
    """A transformers model's HF-format weights, cast to ``dtype`` one tensor at a time (float32
    master weights are never copied whole); the output layer is always included even when
    tied: vLLM keeps its own copy of a tied ``lm_head`` and does not re-tie it on reload, so a
    push without it leaves the output layer stale (``with_lm_head=False`` shows the check
    sees it).
    """
    weights = dict(model.state_dict())
    if with_lm_head:
        weights.setdefault("lm_head.weight", model.get_output_embeddings().weight)
    else:
        weights.pop("lm_head.weight", None)
    for name, tensor in weights.items():
        tensor = tensor.detach()
        yield name, tensor.to(dtype) if dtype is not None and tensor.is_floating_point() else tensor


def push_to_vllm(engine: VLLMEngine, model: Any, with_lm_head: bool = True,
                 dtype: torch.dtype | None = None) -> float:
    """Load ``model``'s weights (cast to the engine's ``dtype``) into an in-process
    VLLMEngine; seconds taken.

    Uses vLLM's public ``reload_weights`` RPC with the full HF-format state dict, then resets
    the prefix cache (no stale KV reused) and the encoder cache: the RPC empties the worker's
    cache of image embeddings but not the scheduler's record of it, and the next request with
    an image seen before fails ("Encoder cache miss"). Needs the engine core in this process
    (``VLLM_ENABLE_V1_MULTIPROCESSING=0``).
    """
    began = time.monotonic()
    with torch.no_grad():
        engine.llm.collective_rpc("reload_weights", kwargs={
            "weights_iterator": model_weights(model, with_lm_head, dtype),
            "is_checkpoint_format": True})
    engine.llm.reset_prefix_cache()
    engine.engine.reset_encoder_cache()
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    return time.monotonic() - began


def engine_prompt_logprobs(engine: VLLMEngine, token_ids: list[int], images: list[Any]
                           ) -> tuple[list[int], torch.Tensor]:
    """The engine's token ids (image placeholders expanded) and log-prob of each token after
    the first, scored as a prompt."""
    from vllm import SamplingParams

    prompt: Any = {"prompt_token_ids": token_ids}  # a vLLM TokensPrompt
    if images:
        prompt["multi_modal_data"] = {"image": images[0] if len(images) == 1 else images}
    params = SamplingParams(max_tokens=1, temperature=0.0, prompt_logprobs=0, detokenize=False)
    out: Any = engine.llm.generate([prompt], params, use_tqdm=False)[0]
    ids = list(out.prompt_token_ids)
    scores = [out.prompt_logprobs[i][ids[i]].logprob for i in range(1, len(ids))]
    return ids, torch.tensor(scores)


def text_logprobs(model: Any, token_ids: list[int]) -> torch.Tensor:
    """Log-prob of each token after the first under a transformers model (text only)."""
    ids = torch.tensor([token_ids], device=next(model.parameters()).device)
    with torch.no_grad():
        logits = model(input_ids=ids).logits[0, :-1].float()
    return torch.log_softmax(logits, dim=-1).gather(1, ids[0, 1:, None])[:, 0].cpu()


def text_gap(engine: VLLMEngine, model: Any, prompt_ids: list[int], response_ids: list[int]
             ) -> tuple[float, float]:
    """Mean and max |model - engine| log-prob over ``response_ids`` after a text prompt."""
    ids = prompt_ids + response_ids
    engine_ids, engine_scores = engine_prompt_logprobs(engine, ids, [])
    if engine_ids != ids:
        raise RuntimeError("vLLM changed the probe's token ids")
    diff = (engine_scores[-len(response_ids):] - text_logprobs(model, ids)[-len(response_ids):])
    return float(diff.abs().mean()), float(diff.abs().max())
