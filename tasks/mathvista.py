"""MathVista testmini: 1,000 visual math questions (540 multiple choice, 460 free form).

Official metric: accuracy, reported overall and by question type, answer type, task, category,
context, grade, language and skill. The prompt is the benchmark's own ``query`` (question, hint
on the answer format, options). Free-form floats follow the official rule: a prediction
rounded to the item's ``precision`` that equals the answer counts as correct.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ovr_eval.metrics import task_scores
from ovr_eval.tasks import Task, require_image
from ovr_eval.types import BadRow, Sample
from ovr_tasks._common import IMAGE_ONLY_QUESTION, LETTERS
from ovr_tasks._ovr import multi_label_subsets, plain_number, rejudged, with_choices


def precision_rule(record: dict[str, Any], extracted: str | None) -> bool:
    """MathVista's float rule: round the prediction to ``precision`` decimals, compare."""
    meta = record.get("metadata", {})
    if meta.get("answer_type") != "float" or meta.get("precision") is None:
        return False
    value, gold = plain_number(extracted), plain_number(record.get("gold"))
    if value is None or gold is None:
        return False
    return round(value, int(meta["precision"])) == gold


class MathVista(Task):
    def local_rows(self, data_dir: Path, split: str) -> Iterable[dict[str, Any]]:
        """The official release: ``<split>.json`` (keyed by pid) and ``query.json``."""
        folder = self.local_dir(data_dir)
        path = folder / f"{split}.json"
        if not path.is_file():
            return super().local_rows(data_dir, split)
        rows = json.loads(path.read_text(encoding="utf-8"))
        queries = {}
        if (folder / "query.json").is_file():
            queries = json.loads((folder / "query.json").read_text(encoding="utf-8"))
        return [{**row, "pid": pid, "query": row.get("query") or queries.get(pid)}
                for pid, row in rows.items()]

    def row_to_sample(self, row: dict[str, Any], index: int, base_dir: Path | None) -> Sample:
        sample_id = str(row.get("pid") or index)
        image = row.get("decoded_image") or row.get("image")
        image = require_image(image, sample_id, base_dir)
        choices = [str(c) for c in row.get("choices") or []] or None
        answer = str(row.get("answer") if row.get("answer") is not None else "").strip()
        multiple_choice = row.get("question_type") == "multi_choice" and bool(choices)
        if multiple_choice:
            matches = [i for i, c in enumerate(choices) if c.strip() == answer]
            if not matches:
                raise BadRow(sample_id, f"answer {answer!r} is none of the choices")
            answer = LETTERS[matches[0]]
        question = str(row.get("query") or "").strip()
        if not question:
            question = str(row.get("question") or "").strip() or IMAGE_ONLY_QUESTION
            if multiple_choice:
                question = with_choices(question, choices)
        meta = dict(row.get("metadata") or {})
        return Sample(
            id=sample_id, task=self.name, question=question, answer=answer, images=[image],
            choices=choices if multiple_choice else None,
            answer_type="multiple_choice" if multiple_choice else "free_form",
            metadata={
                "question_type": row.get("question_type"), "answer_type": row.get("answer_type"),
                "precision": row.get("precision"), "unit": row.get("unit"),
                **{k: meta.get(k) for k in ("task", "category", "context", "grade", "language",
                                            "source", "skills")},
            },
        )

    def score(self, records: list[dict[str, Any]]) -> dict[str, Any]:
        scored = rejudged(records, precision_rule)
        result = task_scores(scored, self.subset_keys)
        result["subsets"]["skills"] = multi_label_subsets(scored, "skills")
        result["official_rules"] = "free-form floats rounded to the item's precision"
        return result


TASK = MathVista(
    name="mathvista",
    description="MathVista testmini (1,000; accuracy by question type, task, skill, ...)",
    hub_id="AI4Math/MathVista",
    revision="2b6ad69445fbb5695c9b165475e8decdbeb97747",
    default_split="testmini",
    splits=("testmini",),
    modality="image",
    subset_keys=("question_type", "answer_type", "task", "category", "context", "grade",
                 "language"),
)
