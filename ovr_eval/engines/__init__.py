"""Engines behind one interface: ``vllm`` (default when installed), ``hf``, ``openai``."""

from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path

from ovr_eval.engines.base import Engine
from ovr_eval.engines.options import (
    DTYPES,
    ENGINE_OPTIONS,
    EngineOptions,
    HFOptions,
    OpenAIOptions,
    VLLMOptions,
    options_for,
)
from ovr_eval.types import UserError

__all__ = ["ENGINES", "Engine", "EngineOptions", "HFOptions", "OpenAIOptions", "VLLMOptions",
           "check_dtype", "check_engine", "check_model", "create_engine", "default_engine",
           "options_for"]

ENGINES = tuple(ENGINE_OPTIONS)  # vllm, hf, openai
HUB_ID = re.compile(r"[A-Za-z0-9][\w.-]*/[\w.-]+")


def default_engine() -> str:
    """``vllm`` whenever it is installed, else ``hf``."""
    return "vllm" if importlib.util.find_spec("vllm") is not None else "hf"


def check_model(model: str) -> None:
    """A clear error for a local model path that does not exist or is not a checkpoint (its
    config.json missing, empty or not JSON): found in milliseconds, not after loading."""
    from ovr_eval.fingerprint import is_local

    if not is_local(model):
        if not HUB_ID.fullmatch(model):
            raise UserError(f"model {model!r} is neither a local folder nor a Hugging Face id "
                            "such as Kangheng/OVR-7B-RL")
        return
    path = Path(model).expanduser()
    if not path.is_dir():
        raise UserError(f"model path {model} does not exist (give a local checkpoint folder "
                        "or a Hugging Face id such as Kangheng/OVR-7B-RL)")
    config = path / "config.json"
    if not config.is_file():
        raise UserError(f"{model} has no config.json: not a Hugging Face checkpoint folder")
    try:
        text = config.read_text(encoding="utf-8")
        if not text.strip():
            raise UserError(f"{config} is empty: the checkpoint folder is incomplete")
        if not isinstance(json.loads(text), dict):
            raise ValueError("not a JSON object")
    except (ValueError, OSError) as exc:
        raise UserError(f"{config} is not a valid model config ({exc})") from None


def check_engine(name: str) -> None:
    """A clear error for an engine name that is unknown or not installed."""
    if name not in ENGINES:
        raise UserError(f"unknown engine {name!r}; choose one of: {', '.join(ENGINES)}")
    if name == "vllm" and importlib.util.find_spec("vllm") is None:
        raise UserError("engine vllm is not installed: pip install 'ovr-eval[vllm]' "
                        "(GPU) or 'ovr-eval[cpu]', or use --engine hf")


def check_dtype(options: EngineOptions | None) -> None:
    """A clear error for a weight dtype neither engine knows (``bf16`` for ``bfloat16``), found
    before the run folder is touched rather than when the model loads."""
    if isinstance(options, (VLLMOptions, HFOptions)) and options.dtype not in DTYPES:
        raise UserError(f"--dtype {options.dtype!r} is not a weight dtype; choose one of: "
                        f"{', '.join(DTYPES)}")


def create_engine(name: str, model: str, options: EngineOptions | None = None, *,
                  revision: str | None = None, seed: int = 0,
                  max_images_per_prompt: int = 1) -> Engine:
    """Build an engine by name with its options (None: its defaults). ``revision`` (a hub
    commit, branch or tag), ``seed`` and ``max_images_per_prompt`` size and pin the local
    engines; an OpenAI-compatible server decides them itself."""
    check_engine(name)
    options = options if options is not None else options_for(name)
    if not isinstance(options, ENGINE_OPTIONS[name]):
        raise TypeError(f"engine {name} takes {ENGINE_OPTIONS[name].__name__}, "
                        f"not {type(options).__name__}")
    if isinstance(options, OpenAIOptions):
        from ovr_eval.engines.openai_engine import OpenAIEngine

        return OpenAIEngine(model, options)
    check_model(model)
    try:
        if isinstance(options, VLLMOptions):
            from ovr_eval.engines.vllm_engine import VLLMEngine

            return VLLMEngine(model, options, revision=revision, seed=seed,
                              max_images_per_prompt=max_images_per_prompt)
        from ovr_eval.engines.hf import HFEngine

        assert isinstance(options, HFOptions)
        return HFEngine(model, options, revision=revision)
    except (OSError, ValueError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise UserError(f"could not load model {model} with engine {name}: {first}") from exc
