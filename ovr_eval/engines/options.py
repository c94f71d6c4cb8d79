"""Each engine's settings as a dataclass: the one place their defaults live. The command line,
``ovr eval``'s config.json and the judge build them; :func:`ovr_eval.engines.create_engine`
takes them.

Settings that are facts of a run rather than of an engine are passed beside them: the model's
hub ``revision`` (it names the weights), the run ``seed`` and the most images in one sample.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

SECRET_FIELDS = ("api_key",)  # never written to a run folder
DTYPES = ("auto", "bfloat16", "float16", "float32")  # weight dtypes (vLLM's and torch's names)


@dataclass
class EngineOptions:
    """Settings of one engine."""

    def as_config(self) -> dict[str, Any]:
        """The settings as config.json records them (secrets left out)."""
        return {k: v for k, v in asdict(self).items() if k not in SECRET_FIELDS}


@dataclass
class VLLMOptions(EngineOptions):
    """``--engine vllm``: vLLM's offline engine."""

    dtype: str = "auto"  # one of DTYPES; auto: the checkpoint's
    tensor_parallel_size: int = 1  # GPUs one engine is split over
    max_model_len: int | None = None  # prompt + response tokens; None: the model's
    gpu_memory_utilization: float = 0.9  # share of each GPU's memory vLLM may take
    distributed_executor_backend: str | None = None  # "ray": one engine over several nodes
    trust_remote_code: bool = False
    # responses independent of batching and resume: vLLM's batch-invariant kernels where it
    # has them (NVIDIA GPUs of compute capability >= 8.0), one sequence at a time elsewhere;
    # no prefix caching (engines/determinism.py)
    deterministic: bool = False


@dataclass
class HFOptions(EngineOptions):
    """``--engine hf``: transformers ``generate`` in batches (CPU and small models)."""

    dtype: str = "auto"  # one of DTYPES; auto: the checkpoint's
    batch_size: int = 16
    trust_remote_code: bool = False
    # responses independent of batching and resume: one prompt per generate call, seeded by
    # its own seed; deterministic torch kernels on CUDA (engines/determinism.py)
    deterministic: bool = False


@dataclass
class OpenAIOptions(EngineOptions):
    """``--engine openai``: any OpenAI-compatible server (``vllm serve``, SGLang, hosted APIs)."""

    base_url: str = "http://localhost:8000/v1"
    concurrency: int = 64  # requests in flight
    api_key: str | None = None  # None: $OPENAI_API_KEY
    max_retries: int = 5  # per request, with exponential backoff
    timeout_s: float = 3600.0  # per request
    backoff_s: float = 1.0  # the first retry's wait; it doubles


ENGINE_OPTIONS: dict[str, type[EngineOptions]] = {
    "vllm": VLLMOptions, "hf": HFOptions, "openai": OpenAIOptions}


def options_for(engine: str, **values: Any) -> EngineOptions:
    """``engine``'s options from settings given for any engine (the command line offers every
    engine's): the values its class has a field for; None keeps that field's default."""
    cls = ENGINE_OPTIONS[engine]
    names = {f.name for f in fields(cls)}
    return cls(**{k: v for k, v in values.items() if k in names and v is not None})
