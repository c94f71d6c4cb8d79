"""A run folder's budget curves (``ovr budget``, the eval summary's truncation warning): each
task's budget from config.json, the run's tokenizer to decode cut responses, and
``ovr_eval.budget``'s curve of every task."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ovr_eval.budget import (
    Decode,
    budget_curve,
    budget_point,
    check_budgets,
    default_budgets,
    missing_token_ids,
    undecodable,
)
from ovr_eval.records import Record
from ovr_eval.run_config import RunConfig
from ovr_eval.runs import RunDir
from ovr_eval.types import UserError

BUDGET_SCHEMA = 1


def run_max_tokens(config: RunConfig, task: str) -> int:
    """The ``--max-tokens`` a task of the run generated with."""
    value = config.sampling_of(task).get("max_tokens")
    if not isinstance(value, int) or value < 1:
        raise UserError(f"config.json names no --max-tokens for {task}: the budget curve needs "
                        "the budget the run generated with")
    return value


def load_decoder(config: RunConfig, tokenizer: str | None = None) -> tuple[Decode, str]:
    """The run's tokenizer as ``ids -> text`` (as the engines decode: special tokens left out)
    and its name: ``tokenizer`` when given, else the run's model at its revision."""
    name = tokenizer or config.model
    if not name:
        raise UserError("config.json names no model; give the tokenizer with --tokenizer")
    from transformers import AutoTokenizer

    from ovr_eval.hub import offline_reason

    options = config.engine_options
    offline = not Path(str(name)).is_dir() and offline_reason() is not None
    try:
        loaded = AutoTokenizer.from_pretrained(
            str(name), revision=None if tokenizer else config.revision,
            trust_remote_code=bool(options.get("trust_remote_code")),
            local_files_only=offline)  # offline: the cache, without a minute of retries
    except (OSError, ValueError) as error:
        raise UserError(f"cannot load the tokenizer of {name} to decode cut responses "
                        f"({str(error).splitlines()[0]}); give one with --tokenizer") from None

    def decode(ids: list[int]) -> str:
        return str(loaded.decode(ids, skip_special_tokens=True))

    return decode, str(name)


def task_records(run_dir: RunDir, task: str) -> list[Record]:
    """A task's records, each with its token ids; one line when the run did not keep them."""
    records = run_dir.records(task)
    if not records:
        raise UserError(f"{run_dir.path} holds no records of {task}")
    missing = missing_token_ids(records)
    if missing:
        raise UserError(f"{task}: {missing} of {len(records)} records in {run_dir.path} hold no "
                        "token ids (written before ovr-eval kept them, or by an engine that "
                        "gives none, such as openai); rerun the task with --engine hf or vllm "
                        "into a new --out to get its budget curve")
    return records


def task_budgets(config: RunConfig, task: str, budgets: Sequence[int] | None
                 ) -> list[int]:
    """The budgets to score a task at: ``budgets`` (checked) or the default grid."""
    max_tokens = run_max_tokens(config, task)
    return check_budgets(budgets or default_budgets(max_tokens), max_tokens, task)


def task_curve(run_dir: RunDir, task: str, config: RunConfig, decode: Decode,
               budgets: Sequence[int] | None = None,
               extra_dirs: Sequence[Path] = ()) -> dict[str, Any]:
    """One task's curve as budget.json holds it: the run's budget and sampling (a real run at
    a smaller budget gives the same records under ``--deterministic``), how many saved texts
    are not their ids' decoding (their cuts approximate), and one point per budget."""
    chosen = task_budgets(config, task, budgets)
    records = task_records(run_dir, task)
    return {"max_tokens": run_max_tokens(config, task),
            "temperature": config.sampling_of(task).get("temperature"),
            "deterministic": config.deterministic,
            "responses": sum(len(r.responses) for r in records),
            "approximate_texts": undecodable(records, decode),
            "points": budget_curve(task, records, chosen, decode, extra_dirs)}


def run_curves(path: Path, tasks: Sequence[str] | None = None,
               budgets: Sequence[int] | None = None, tokenizer: str | None = None,
               extra_dirs: Sequence[Path] = ()) -> dict[str, Any]:
    """budget.json's contents for a run folder: every chosen task's curve (default: every
    task with records), and the tokenizer that decoded them."""
    run_dir = RunDir(path)
    if not path.is_dir():
        raise UserError(f"run folder {path} does not exist")
    config = run_dir.read_config()
    if config is None:
        raise UserError(f"{path} has no config.json: is it an `ovr eval` run folder?")
    saved = run_dir.saved_tasks()
    chosen = list(tasks) if tasks else saved
    unknown = [t for t in chosen if t not in saved]
    if unknown:
        raise UserError(f"{path} holds no records of {', '.join(unknown)}; it has "
                        f"{', '.join(saved) or 'none'}")
    for task in chosen:  # every refusal comes before the tokenizer loads
        task_budgets(config, task, budgets)
        task_records(run_dir, task)
    decode, name = load_decoder(config, tokenizer)
    return {"schema_version": BUDGET_SCHEMA, "model": config.model, "tokenizer": name,
            "tasks": {task: task_curve(run_dir, task, config, decode, budgets, extra_dirs)
                      for task in chosen}}


def truncation_note(run_dir: RunDir, task: str, config: RunConfig,
                    decode: Decode | None) -> str:
    """What truncation costs a task, for the eval summary's warning: the finished and truncated
    responses' scores, what the last doubling of the budget added (the score at half the
    budget, when the records hold token ids and ``decode`` is given), and the most a larger
    budget could add (every truncated response ending correct)."""
    max_tokens = run_max_tokens(config, task)
    records = run_dir.records(task)
    half: dict[str, Any] | None = None
    if decode is not None and max_tokens >= 2 and records and not missing_token_ids(records):
        half, full = budget_curve(task, records, [max_tokens // 2, max_tokens], decode)
    else:
        full = budget_point(task, records, max_tokens)
    finished, truncated = full["finished"], full["truncated"]
    total = finished["responses"] + truncated["responses"]
    lines = [f"{100 * full['truncated_fraction']:.0f}% of responses stopped at --max-tokens "
             f"{max_tokens} before finishing (finished ones score {_pct(finished)}, truncated "
             f"ones {_pct(truncated)})"]
    if half is not None and half["score"] is not None and full["score"] is not None:
        gain = 100 * (full["score"] - half["score"])
        lines.append(f"the last doubling ({max_tokens // 2} → {max_tokens} tokens) moved the "
                     f"score {gain:+.1f} points" + ("" if gain > 0.5 else
                                                    ", so more budget may not help (truncated "
                                                    "responses may be repeating themselves)"))
    if total and truncated["score"] is not None:
        headroom = 100 * truncated["responses"] * (1 - truncated["score"]) / total
        lines.append(f"2× the budget ({2 * max_tokens}) adds at most {headroom:+.1f} points "
                     "(if every truncated response ended correct)")
    return "; ".join(lines) + f"; `ovr budget {run_dir.path}` shows the score by budget"


def _pct(summary: dict[str, Any]) -> str:
    """A finished / truncated summary as "41.0% of 170 responses" ("-" over none)."""
    if summary.get("score") is None:
        return "- (no responses)"
    return f"{100 * summary['score']:.1f}% of {summary['responses']}"
