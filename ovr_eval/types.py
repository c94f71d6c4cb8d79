"""The few types that flow through the pipeline: Sample -> Request -> Completion -> Verdict."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

AnswerType = Literal["free_form", "multiple_choice"]


@dataclass
class Sample:
    """One benchmark item, as a task plugin produces it."""

    id: str
    task: str
    question: str
    answer: str
    images: list[Any] = field(default_factory=list)  # paths or PIL images, opened lazily
    choices: list[str] | None = None  # option texts in order A, B, ...
    answer_type: AnswerType = "free_form"
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class SamplingConfig:
    """Generation settings shared by every engine; the defaults are ``ovr eval``'s."""

    n: int = 1  # responses per prompt (avg@n, pass@k)
    temperature: float = 0.0  # 0: greedy
    top_p: float = 1.0
    max_tokens: int = 32768  # new tokens per response: OVR writes long reasoning
    seed: int = 0  # the run's seed; each request's derives from it


@dataclass
class Request:
    """What an engine receives: chat messages (text and images) for one sample."""

    sample_id: str
    messages: list[dict[str, Any]]
    images: list[Any] = field(default_factory=list)  # PIL images referenced in messages
    seed: int = 0  # per-request seed, so results do not depend on batching


@dataclass
class Completion:
    """What an engine returns for one request: n responses."""

    sample_id: str
    responses: list[str]
    prompt: str = ""
    prompt_tokens: int = 0
    completion_tokens: list[int] = field(default_factory=list)
    finish_reasons: list[str] = field(default_factory=list)
    error: str | None = None  # an input the engine could not use (e.g. a corrupt image)
    # the sampled token ids of each response, when the engine exposes them (hf, vllm): the
    # stop token is included when generation stopped on it. Empty: not available (openai).
    token_ids: list[list[int]] = field(default_factory=list)


@dataclass
class Verdict:
    """A verifier's decision on one response."""

    extracted: str | None
    correct: bool
    method: str = ""
    error: str | None = None

    @property
    def score(self) -> float:
        return 1.0 if self.correct else 0.0


class UserError(Exception):
    """A mistake in the user's input: reported as one clear line, never a traceback."""


class Interrupted(KeyboardInterrupt):
    """Ctrl-C, with a message saying what was saved and how to resume."""


class BadRow(Exception):
    """A dataset row that cannot become a Sample; it is skipped, counted and reported."""

    def __init__(self, row_id: str, reason: str):
        super().__init__(f"{row_id}: {reason}")
        self.row_id = row_id
        self.reason = reason


PathLike = str | Path
