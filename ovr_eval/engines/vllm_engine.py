"""vLLM offline engine: every request of a task fed to one engine that schedules them itself.

Requests are streamed into ``LLMEngine`` and completions streamed out as they finish, so the
engine's batch stays full, finished records are saved at once (nothing is lost on a crash) and
only a bounded number of decoded images is held at any time.
"""

from __future__ import annotations

import itertools
import os
import queue
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from ovr_eval.engines.base import Engine, render_chat
from ovr_eval.engines.determinism import deterministic_vllm_args
from ovr_eval.engines.images import UnusableImage, load_image
from ovr_eval.engines.options import VLLMOptions
from ovr_eval.types import Completion, Request, SamplingConfig

CPU_KV_CACHE_BYTES = 1 << 30
ACTIVITY_EVERY_S = 0.25


def _on_cpu() -> bool:
    import torch

    return not torch.cuda.is_available()


def prefetch(requests: Sequence[Request], prepare: Callable[[Request], Any], depth: int = 64
             ) -> Iterator[tuple[Request, Any]]:
    """(request, prepare(request)) in order, computed on a background thread ``depth`` ahead:
    images are decoded and prompts rendered while the engine steps."""
    ready: queue.Queue = queue.Queue(maxsize=depth)

    def work() -> None:
        for request in requests:
            try:
                ready.put((request, prepare(request), None))
            except BaseException as exc:  # handed to the consumer
                ready.put((request, None, exc))
                return

    threading.Thread(target=work, name="ovr-prefetch", daemon=True).start()
    for _ in requests:
        request, value, error = ready.get()
        if error is not None:
            raise error
        yield request, value


class VLLMEngine(Engine):
    """Offline ``vllm.LLM``: images, n samples per prompt, per-request seeds, tensor parallel."""

    name = "vllm"

    def __init__(
        self, model: str, options: VLLMOptions | None = None, *, revision: str | None = None,
        seed: int = 0, max_images_per_prompt: int = 1, max_in_flight: int | None = None,
        **engine_args: Any,
    ):
        """``options``: the engine's settings (None: their defaults); ``engine_args``: any
        further ``vllm.LLM`` arguments (the trainer's rollout engine sizes its KV cache)."""
        o = options or VLLMOptions()
        cpu = _on_cpu()
        if cpu:
            # in-process engine core (2 s start instead of 15 s) and no torch.compile of the
            # sampler; both give the same tokens on the CPU backend.
            os.environ.setdefault("VLLM_ENABLE_V1_MULTIPROCESSING", "0")
            os.environ.setdefault("TORCH_COMPILE_DISABLE", "1")
            engine_args.setdefault("enforce_eager", True)
            engine_args.setdefault("kv_cache_memory_bytes", CPU_KV_CACHE_BYTES)
        else:
            engine_args.setdefault("gpu_memory_utilization", o.gpu_memory_utilization)
        if o.distributed_executor_backend is not None:
            engine_args.setdefault("distributed_executor_backend",
                                   o.distributed_executor_backend)
        # each image is seen once in an evaluation: vLLM's processed-input cache (GiBs) only
        # costs host memory
        engine_args.setdefault("mm_processor_cache_gb", 0)
        deterministic = deterministic_vllm_args(engine_args) if o.deterministic else None
        from vllm import LLM

        self.model_name, self.revision = model, revision
        self.llm = LLM(
            model=model, revision=revision, tokenizer_revision=revision,
            dtype=o.dtype,  # type: ignore[arg-type]  # a string vLLM checks itself
            tensor_parallel_size=o.tensor_parallel_size, max_model_len=o.max_model_len,
            seed=seed, trust_remote_code=o.trust_remote_code,
            limit_mm_per_prompt={"image": max_images_per_prompt, "video": 0},
            **engine_args,
        )
        self.engine = self.llm.llm_engine
        self.request_ids = itertools.count()
        # enough queued requests to refill the running batch at once, not the whole task: a
        # queued request holds its processed image tensors in host memory
        running = getattr(self.engine.vllm_config.scheduler_config, "max_num_seqs", 256)
        self.max_in_flight = max_in_flight or 2 * running
        self.supports_images = bool(self.engine.model_config.is_multimodal_model)
        self.engine_args = {"dtype": o.dtype, "tensor_parallel_size": o.tensor_parallel_size,
                            "max_model_len": self.engine.model_config.max_model_len,
                            "device": "cpu" if cpu else "cuda", **engine_args,
                            **({"deterministic": deterministic} if deterministic else {})}
        self.chat_template_owner = self._chat_template_owner(o.trust_remote_code)

    def _chat_template_owner(self, trust_remote_code: bool) -> Any:
        if self.supports_images:
            from transformers import AutoProcessor

            return AutoProcessor.from_pretrained(
                self.model_name, revision=self.revision, trust_remote_code=trust_remote_code
            )
        return self.llm.get_tokenizer()

    def describe(self) -> dict[str, Any]:
        import vllm

        return {"engine": self.name, "vllm_version": vllm.__version__, **self.engine_args}

    def _engine_input(self, request: Request) -> dict[str, Any] | UnusableImage:
        """The engine prompt of a request, or the image error that makes it unusable."""
        prompt: dict[str, Any] = {"prompt": render_chat(self.chat_template_owner, request)}
        if request.images:
            try:
                images = [load_image(i) for i in request.images]
            except UnusableImage as bad:
                return bad
            prompt["multi_modal_data"] = {"image": images[0] if len(images) == 1 else images}
        return prompt

    def _tokens_in_flight(self) -> int:
        """Tokens generated so far by unfinished requests (0 where vLLM does not say)."""
        try:
            states = list(self.engine.output_processor.request_states.values())
            return sum(int(s.detokenizer.num_output_tokens()) for s in states
                       if s.detokenizer is not None)
        except (AttributeError, RuntimeError):  # another vLLM version: finished tokens only
            return 0

    def generate(
        self, requests: Sequence[Request], sampling: SamplingConfig
    ) -> Iterator[Completion]:
        in_flight: dict[str, tuple[Request, str]] = {}
        try:
            yield from self._stream(requests, sampling, in_flight)
        finally:  # left early (an error, or the caller stopped): free what is still queued
            if in_flight:
                self.engine.abort_request(list(in_flight))

    def _stream(self, requests: Sequence[Request], sampling: SamplingConfig,
                in_flight: dict[str, tuple[Request, str]]) -> Iterator[Completion]:
        from vllm import SamplingParams
        from vllm.sampling_params import RequestOutputKind

        prepared = prefetch(requests, self._engine_input)
        pending = len(requests)
        aliases: dict[str, str] = {}
        finished_tokens, shown = 0, 0.0
        self.activity.running, self.activity.tokens = 0, 0
        while pending or in_flight:
            while pending and len(in_flight) < self.max_in_flight:
                request, prompt = next(prepared)
                pending -= 1
                if isinstance(prompt, UnusableImage):
                    yield Completion(request.sample_id, [], error=str(prompt))
                    continue
                params = SamplingParams(
                    n=sampling.n, temperature=sampling.temperature, top_p=sampling.top_p,
                    max_tokens=sampling.max_tokens, seed=request.seed,
                    output_kind=RequestOutputKind.FINAL_ONLY,  # one output, all n samples
                )
                external_id = f"ovr-{next(self.request_ids)}"  # unique over calls
                try:
                    internal_id = self.engine.add_request(external_id, prompt, params)
                except ValueError as exc:  # vLLM rejects this input (too long, bad image size)
                    reason = str(exc).strip().splitlines()[0] if str(exc).strip() else "rejected"
                    yield Completion(request.sample_id, [], prompt=prompt["prompt"],
                                     error=f"rejected by vLLM: {reason}")
                    continue
                # outputs carry the id we gave (newer vLLM) or the engine's internal one (older)
                entry = (request, prompt["prompt"])
                in_flight[external_id] = entry
                if internal_id and internal_id != external_id:
                    aliases[internal_id] = external_id
            for output in self.engine.step():
                key = aliases.pop(output.request_id, output.request_id) if output.finished else None
                if key not in in_flight:
                    continue
                request, prompt_text = in_flight.pop(key)
                outs: list[Any] = sorted(output.outputs, key=lambda o: o.index)  # type: ignore[arg-type]
                finished_tokens += sum(len(o.token_ids) for o in outs)
                yield Completion(
                    sample_id=request.sample_id, responses=[o.text for o in outs],
                    prompt=prompt_text, prompt_tokens=len(output.prompt_token_ids or []),
                    completion_tokens=[len(o.token_ids) for o in outs],
                    finish_reasons=[str(o.finish_reason) for o in outs],
                    token_ids=[list(o.token_ids) for o in outs],
                )
            if time.monotonic() - shown > ACTIVITY_EVERY_S:
                shown = time.monotonic()
                self.activity.running = self.engine.get_num_unfinished_requests()
                self.activity.tokens = finished_tokens + self._tokens_in_flight()
        self.activity.running, self.activity.tokens = 0, finished_tokens

    def close(self) -> None:
        import gc

        del self.engine, self.llm
        gc.collect()
