"""Train then evaluate: ``ovr eval`` on a checkpoint, into the run folder."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.console import Console

from ovr_eval.evaluate import EvalOptions, Evaluation
from ovr_eval.types import SamplingConfig
from ovr_trainer.config import EvalConfig

EMBEDDED_SPLITS = {"mathvision": "testmini", "mathverse": "testmini_text_only"}


def resolve_data_dir(value: str | Path | None) -> Path | None:
    """``embedded``: the benchmark slices shipped in ovr_eval; otherwise a path or the hub."""
    if value == "embedded":
        from ovr_eval.tiny import EMBEDDED

        return EMBEDDED / "data"
    return Path(value) if value else None


def evaluate_checkpoint(cfg: EvalConfig, checkpoint: Path, out: Path,
                        data_dir: Path | None = None, console: Console | None = None
                        ) -> dict[str, Any]:
    """Run ``ovr eval`` on ``checkpoint``; ``out`` becomes an ordinary eval run folder."""
    data = data_dir or resolve_data_dir(cfg.data_dir)
    options = EvalOptions(
        model=str(checkpoint), tasks=cfg.tasks, out=out, engine=cfg.engine,
        sampling=SamplingConfig(n=cfg.samples, temperature=cfg.temperature,
                                max_tokens=cfg.max_tokens),
        splits=cfg.splits, data_dir=data, limit=cfg.limit,
    )
    return Evaluation(options, console or Console(stderr=True)).run()
