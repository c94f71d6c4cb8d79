"""Re-grade responses produced by any harness (``ovr grade IN.jsonl -o OUT.jsonl``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import Progress

from ovr_eval.types import UserError
from ovr_eval.verify import DEFAULT_TIMEOUT_S, grade_many

CHUNK = 512


def _parse(line: str, number: int) -> tuple[dict[str, Any] | None, str | None]:
    """The line's object, or an error naming the line and what is wrong with it."""
    try:
        item = json.loads(line)
    except json.JSONDecodeError as exc:
        return None, f"line {number}: not valid JSON ({exc.msg})"
    if not isinstance(item, dict):
        return None, f"line {number}: expected a JSON object"
    for key in ("response", "answer"):
        if not isinstance(item.get(key), (str, int, float)) or isinstance(item.get(key), bool):
            return None, f"line {number}: missing or non-text {key!r}"
    choices = item.get("choices")
    if choices is not None and not (isinstance(choices, list)
                                    and all(isinstance(c, (str, int, float)) for c in choices)):
        return None, f"line {number}: 'choices' must be a list of option texts or null"
    return item, None


def grade_file(source: Path, output: Path, workers: int = 2,
               timeout_s: float = DEFAULT_TIMEOUT_S, console: Console | None = None
               ) -> dict[str, int]:
    """Grade every line of ``source`` into ``output``; malformed lines are reported and skipped."""
    console = console or Console(stderr=True)
    if not source.is_file():
        raise UserError(f"input file {source} does not exist")
    lines = source.read_text(encoding="utf-8").splitlines()
    counts = {"graded": 0, "correct": 0, "malformed": 0}
    cache: dict = {}
    output.parent.mkdir(parents=True, exist_ok=True)
    with output.open("w", encoding="utf-8") as out, Progress(console=console) as bar:
        progress = bar.add_task("grading", total=len(lines))
        for start in range(0, len(lines), CHUNK):
            batch = []
            for number, line in enumerate(lines[start : start + CHUNK], start + 1):
                if not line.strip():
                    continue
                item, error = _parse(line, number)
                if error:
                    console.print(f"[yellow]skipped {error}")
                    counts["malformed"] += 1
                else:
                    batch.append(item)
            items = [{"response": str(i["response"]), "answer": str(i["answer"]),
                      "choices": [str(c) for c in i["choices"]] if i.get("choices") else None}
                     for i in batch]
            for item, verdict in zip(batch, grade_many(items, workers, timeout_s, cache),
                                     strict=True):
                item.update(extracted=verdict.extracted, correct=verdict.correct,
                            method=verdict.method, error=verdict.error)
                out.write(json.dumps(item, ensure_ascii=False) + "\n")
                counts["graded"] += 1
                counts["correct"] += int(verdict.correct)
            bar.update(progress, advance=min(CHUNK, len(lines) - start))
    return counts
