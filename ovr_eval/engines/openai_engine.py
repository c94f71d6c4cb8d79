"""OpenAI-compatible chat-completions engine (``vllm serve``, SGLang, hosted APIs)."""

from __future__ import annotations

import asyncio
import base64
import os
import queue
import threading
from collections.abc import Iterator, Sequence
from typing import Any

from ovr_eval.engines.base import Engine, chat_messages
from ovr_eval.engines.images import UnusableImage, png_bytes
from ovr_eval.engines.options import OpenAIOptions
from ovr_eval.types import Completion, Request, SamplingConfig, UserError

RETRY_STATUS = {408, 409, 429, 500, 502, 503, 504}


def image_data_url(image: Any) -> str:
    """A PNG data URL for an image path or PIL image."""
    return "data:image/png;base64," + base64.b64encode(png_bytes(image)).decode()


def api_messages(request: Request) -> list[dict[str, Any]]:
    """Chat messages with each image part replaced by an ``image_url`` data URL."""
    images = iter(request.images)
    messages = []
    for message in chat_messages(request):
        content = message["content"]
        if isinstance(content, list):
            content = [
                {"type": "image_url", "image_url": {"url": image_data_url(next(images))}}
                if part.get("type") == "image" else part
                for part in content
            ]
        messages.append({"role": message["role"], "content": content})
    return messages


class OpenAIEngine(Engine):
    """Concurrent chat-completion requests with bounded concurrency and retries with backoff."""

    name = "openai"
    supports_images = True

    def __init__(self, model: str, options: OpenAIOptions | None = None):
        import httpx

        o = options or OpenAIOptions()
        self.model_name, self.base_url = model, o.base_url.rstrip("/")
        self.concurrency, self.max_retries = o.concurrency, o.max_retries
        self.timeout_s, self.backoff_s = o.timeout_s, o.backoff_s
        key = o.api_key or os.environ.get("OPENAI_API_KEY", "EMPTY")
        self.headers = {"Authorization": f"Bearer {key}"}
        try:
            reply = httpx.get(f"{self.base_url}/models", headers=self.headers, timeout=10)
        except httpx.HTTPError as exc:
            raise UserError(
                f"cannot reach the server at {self.base_url} ({type(exc).__name__}); "
                "start it (e.g. `vllm serve MODEL`) or fix --base-url"
            ) from None
        if reply.status_code == 401:
            raise UserError(
                f"the server at {self.base_url} refused the API key (set OPENAI_API_KEY)"
            )

    def describe(self) -> dict[str, Any]:
        return {"engine": self.name, "base_url": self.base_url, "concurrency": self.concurrency}

    async def _one(self, client, request: Request, sampling: SamplingConfig) -> Completion:
        import httpx

        try:
            messages = api_messages(request)
        except UnusableImage as bad:
            return Completion(request.sample_id, [], error=str(bad))
        body = {
            "model": self.model_name, "messages": messages, "n": sampling.n,
            "temperature": sampling.temperature, "top_p": sampling.top_p,
            "max_tokens": sampling.max_tokens, "seed": request.seed,
        }
        for attempt in range(self.max_retries + 1):
            try:
                reply = await client.post(f"{self.base_url}/chat/completions", json=body)
                if reply.status_code < 300:
                    return self._completion(request, reply.json())
                if reply.status_code not in RETRY_STATUS:
                    raise UserError(
                        f"the server at {self.base_url} rejected the request for sample "
                        f"{request.sample_id}: HTTP {reply.status_code}: {reply.text[:300]}"
                    )
                error: str = f"HTTP {reply.status_code}"
            except httpx.TransportError as exc:  # timeouts included
                error = type(exc).__name__
            if attempt < self.max_retries:
                await asyncio.sleep(self.backoff_s * 2**attempt)
        raise UserError(f"request for sample {request.sample_id} failed {self.max_retries + 1} "
                        f"times ({error}) at {self.base_url}")

    @staticmethod
    def _completion(request: Request, data: dict[str, Any]) -> Completion:
        choices = sorted(data.get("choices", []), key=lambda c: c.get("index", 0))
        usage = data.get("usage") or {}
        total = int(usage.get("completion_tokens") or 0)
        per = [total // max(1, len(choices))] * len(choices)
        return Completion(
            sample_id=request.sample_id,
            responses=[(c.get("message") or {}).get("content") or "" for c in choices],
            prompt_tokens=int(usage.get("prompt_tokens") or 0), completion_tokens=per,
            finish_reasons=[str(c.get("finish_reason")) for c in choices],
        )

    def generate(
        self, requests: Sequence[Request], sampling: SamplingConfig
    ) -> Iterator[Completion]:
        results: queue.Queue = queue.Queue()
        done = object()
        self.activity.running, self.activity.tokens = 0, 0

        async def run() -> None:
            import httpx

            limit = asyncio.Semaphore(self.concurrency)
            limits = httpx.Limits(max_connections=self.concurrency)
            async with httpx.AsyncClient(
                headers=self.headers, timeout=self.timeout_s, limits=limits
            ) as client:

                async def bounded(request: Request) -> None:
                    async with limit:
                        self.activity.running += 1
                        try:
                            completion = await self._one(client, request, sampling)
                        finally:
                            self.activity.running -= 1
                        self.activity.tokens += sum(completion.completion_tokens)
                        results.put(completion)

                await asyncio.gather(*(bounded(r) for r in requests))

        def worker() -> None:
            try:
                asyncio.run(run())
            except BaseException as exc:  # handed to the consumer thread
                results.put(exc)
            results.put(done)

        thread = threading.Thread(target=worker, daemon=True)
        thread.start()
        while (item := results.get()) is not done:
            if isinstance(item, BaseException):
                raise item
            yield item
        thread.join()
