"""Engines behind one interface: ``vllm`` (default when installed), ``hf``, ``openai``."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

from ovr_eval.engines.base import Engine
from ovr_eval.types import UserError

ENGINES = ("vllm", "hf", "openai")


def default_engine() -> str:
    """``vllm`` whenever it is installed, else ``hf``."""
    return "vllm" if importlib.util.find_spec("vllm") is not None else "hf"


def check_model(model: str) -> None:
    """A clear error for a local model path that does not exist or is not a checkpoint."""
    path = Path(model).expanduser()
    looks_local = model.startswith(("/", ".", "~")) or path.exists() or model.count("/") != 1
    if not looks_local:
        return  # a hub id such as Kangheng/OVR-7B-RL
    if not path.is_dir():
        raise UserError(f"model path {model} does not exist (give a local checkpoint folder "
                        "or a Hugging Face id such as Kangheng/OVR-7B-RL)")
    if not (path / "config.json").is_file():
        raise UserError(f"{model} has no config.json: not a Hugging Face checkpoint folder")


def create_engine(name: str, model: str, **options: Any) -> Engine:
    """Build an engine by name; options not used by that engine are ignored."""
    if name not in ENGINES:
        raise UserError(f"unknown engine {name!r}; choose one of: {', '.join(ENGINES)}")
    if name == "openai":
        from ovr_eval.engines.openai_engine import OpenAIEngine

        keys = ("base_url", "api_key", "concurrency", "max_retries")
        return OpenAIEngine(model, **{k: options[k] for k in keys if options.get(k) is not None})
    check_model(model)
    try:
        if name == "vllm":
            if importlib.util.find_spec("vllm") is None:
                raise UserError("engine vllm is not installed: pip install 'ovr-eval[vllm]' "
                                "(GPU) or 'ovr-eval[cpu]', or use --engine hf")
            from ovr_eval.engines.vllm_engine import VLLMEngine

            keys = ("revision", "dtype", "tensor_parallel_size", "max_model_len", "seed",
                    "gpu_memory_utilization", "max_images_per_prompt", "trust_remote_code",
                    "distributed_executor_backend")
            return VLLMEngine(model, **{k: options[k] for k in keys if options.get(k) is not None})
        from ovr_eval.engines.hf import HFEngine

        keys = ("revision", "dtype", "batch_size", "trust_remote_code")
        return HFEngine(model, **{k: options[k] for k in keys if options.get(k) is not None})
    except (OSError, ValueError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise UserError(f"could not load model {model} with engine {name}: {first}") from exc
