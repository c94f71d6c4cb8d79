"""The engine interface: requests in, completions out (streamed as they finish)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from ovr_eval.types import Completion, Request, SamplingConfig


@dataclass
class Activity:
    """What an engine is doing right now, for progress displays (read from another thread)."""

    running: int = 0  # requests being generated
    tokens: int = 0  # tokens generated so far in the current ``generate`` call


class Engine(ABC):
    """Generates responses for chat requests. Completions may arrive in any order.

    A request whose input cannot be used (a corrupt image) yields a Completion with ``error``
    set and no responses; the others go on."""

    name: str = "engine"
    supports_images: bool = False
    activity: Activity

    def __new__(cls, *args: Any, **kwargs: Any) -> Engine:
        engine = super().__new__(cls)
        engine.activity = Activity()
        return engine

    @abstractmethod
    def generate(
        self, requests: Sequence[Request], sampling: SamplingConfig
    ) -> Iterator[Completion]:
        """Yield one Completion per request as soon as it is finished."""

    def describe(self) -> dict[str, Any]:
        """Engine facts recorded in the run's config.json."""
        return {"engine": self.name}

    def prepare(self, max_images_per_prompt: int = 1) -> None:  # noqa: B027 - optional hook
        """Get ready to generate for prompts of up to ``max_images_per_prompt`` images; called
        before the first ``generate`` of a run (a sweep's engine loads its checkpoint here)."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release the model and its memory."""


def chat_messages(request: Request) -> list[dict[str, Any]]:
    """Request messages in the form chat templates expect: plain strings when text-only."""
    messages = []
    for message in request.messages:
        content = message["content"]
        if isinstance(content, list) and all(part.get("type") == "text" for part in content):
            content = "\n".join(part["text"] for part in content)
        messages.append({"role": message["role"], "content": content})
    return messages


def render_chat(template_owner: Any, request: Request) -> str:
    """The prompt text of a request, through the model's own chat template."""
    return template_owner.apply_chat_template(
        chat_messages(request), tokenize=False, add_generation_prompt=True
    )
