"""Train then evaluate: ``ovr eval`` on a checkpoint, into the run folder."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.console import Console

from ovr_eval.engines import Engine
from ovr_eval.evaluate import Evaluation
from ovr_eval.records import RunResults
from ovr_trainer.config import EvalStage


def resolve_data_dir(value: str | Path | None) -> Path | None:
    """``embedded``: the benchmark slices shipped in ovr_eval; otherwise a path or the hub."""
    if str(value) == "embedded":
        from ovr_eval.tiny import EMBEDDED

        return EMBEDDED / "data"
    return Path(value) if value else None


def hub_note(task_names: list[str], folder: Path | None, what: str) -> str | None:
    """A line saying that ``what`` (tasks' data) is about to be read from the network, or None
    when it comes from local files (``folder``, else $OVR_DATA_DIR, as the tasks read them) or
    is generated."""
    from ovr_eval import task_registry, tasks

    if (folder or tasks.resolve_data_dir(None)) is not None:
        return None
    remote = [f"{t.name} ({t.hub_id}" + (f"@{t.revision[:10]})" if t.revision else ")")
              for t in task_registry.resolve(task_names, []) if t.hub_id]
    if not remote:
        return None
    return (f"reading {what} from the network: {', '.join(remote)}; offline, give local files "
            "(--data-dir, or the recipe's data_dir)")


def evaluate_checkpoint(cfg: EvalStage, checkpoint: Path, out: Path,
                        data_dir: Path | None = None, console: Console | None = None,
                        engine: Engine | None = None) -> RunResults:
    """Run ``ovr eval`` on ``checkpoint``; ``out`` becomes an ordinary eval run folder.

    ``engine``: an engine already serving these weights (the trainer's rollout engine, used
    for evaluations during training); by default ``cfg.engine`` loads the checkpoint.
    """
    options = cfg.for_checkpoint(checkpoint, out, data_dir or resolve_data_dir(cfg.data_dir))
    return Evaluation(options, console or Console(stderr=True), engine=engine).run()


def score_record(step: int, results: RunResults) -> dict[str, Any]:
    """A ``train/metrics.jsonl`` line with each task's score (curves next to the reward)."""
    return {"step": step, "stage": "eval",
            **{f"eval_{name}": task.score for name, task in results.tasks.items()}}
