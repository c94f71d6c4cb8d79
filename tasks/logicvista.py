"""LogicVista: 448 visual logical-reasoning questions (options mostly drawn in the image).

Official metric: accuracy, overall and per skill (inductive, deductive, numerical, spatial,
mechanical). Answers are option letters; an item with several letters ("B, D") needs exactly
that set.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ovr_eval.metrics import task_scores
from ovr_eval.tasks import Task, require_image
from ovr_eval.types import BadRow, Sample
from ovr_tasks._ovr import multi_label_subsets
from ovr_tasks.mathverse import multiple_choice_gold


def as_list(value: Any) -> list[str]:
    """A metadata list that may arrive as a list or as one string."""
    if value is None:
        return []
    return [str(v) for v in value] if isinstance(value, (list, tuple)) else [str(value)]


class LogicVista(Task):
    def local_rows(self, data_dir: Path, split: str) -> Iterable[dict[str, Any]]:
        """The release's ``dataset.json`` (keyed ``v1_0`` ...; images under ``images/``)."""
        path = self.local_dir(data_dir) / "dataset.json"
        if not path.is_file():
            return super().local_rows(data_dir, split)
        data = json.loads(path.read_text(encoding="utf-8"))
        return [{**row, "id": key} for key, row in data.items()]

    def row_to_sample(self, row: dict[str, Any], index: int, base_dir: Path | None) -> Sample:
        sample_id = str(row.get("id") or index)
        question = str(row.get("question") or "").strip()
        if not question:
            raise BadRow(sample_id, "no question text")
        image = row.get("image")
        if image is None and row.get("imagename"):
            image = f"images/{row['imagename']}"
        image = require_image(image, sample_id, base_dir)
        answer = multiple_choice_gold(str(row.get("answer") or ""), None)
        letters = re.fullmatch(r"[A-J](?:, [A-J])*", answer) is not None
        return Sample(
            id=sample_id, task=self.name, question=question, answer=answer, images=[image],
            answer_type="multiple_choice" if answer and letters else "free_form",
            metadata={"skill": as_list(row.get("skill")),
                      "capability": as_list(row.get("broad_capability"))},
        )

    def score(self, records: list[dict[str, Any]]) -> dict[str, Any]:
        result = task_scores(records, self.subset_keys)
        result["subsets"]["skill"] = multi_label_subsets(records, "skill")
        result["subsets"]["capability"] = multi_label_subsets(records, "capability")
        return result


TASK = LogicVista(
    name="logicvista",
    description="LogicVista (448 visual logic questions; accuracy per skill)",
    hub_id="lscpku/LogicVista",
    # No public pin of this dataset could be verified offline: the hub head is used until one is.
    revision=None,
    default_split="test",
    splits=("test",),
    modality="image",
)
