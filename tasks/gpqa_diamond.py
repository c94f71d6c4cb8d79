"""GPQA Diamond: 198 graduate-level science questions with four options, scored by accuracy.

The hub rows keep the correct answer in a fixed column ("Correct Answer"), so the options are
shuffled per item with a seed derived from its "Record ID": the same letters on every run and
machine, and the correct letter spread over A-D.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ovr_eval.tasks import Task
from ovr_eval.types import BadRow, Sample
from ovr_tasks._ovr import shuffled_options, with_choices

WRONG = ("Incorrect Answer 1", "Incorrect Answer 2", "Incorrect Answer 3")


class GPQADiamond(Task):
    def hub_split_for(self, split: str) -> str:
        return "train"  # the hub's only split

    def local_rows(self, data_dir: Path, split: str) -> Iterable[dict[str, Any]]:
        """The release CSV (``gpqa_diamond.csv``, as in the hub repo) or a parquet export."""
        path = self.local_dir(data_dir) / "gpqa_diamond.csv"
        if not path.is_file():
            return super().local_rows(data_dir, split)
        with path.open(encoding="utf-8", newline="") as handle:
            return list(csv.DictReader(handle))

    def row_to_sample(self, row: dict[str, Any], index: int, base_dir: Path | None) -> Sample:
        sample_id = str(row.get("Record ID") or index)
        texts = [str(row.get(k) or "").strip() for k in ("Question", "Correct Answer", *WRONG)]
        if not all(texts):
            raise BadRow(sample_id, "question or an option is empty")
        question, correct, *wrong = texts
        options, letter = shuffled_options(correct, wrong, sample_id)
        return Sample(
            id=sample_id, task=self.name, question=with_choices(question, options),
            answer=letter, choices=options, answer_type="multiple_choice",
            metadata={"domain": row.get("High-level domain"), "subdomain": row.get("Subdomain")},
        )


TASK = GPQADiamond(
    name="gpqa_diamond",
    description="GPQA Diamond (198 four-option science questions; options shuffled per item)",
    hub_id="Idavidrein/gpqa",
    revision="633f5ee89ab8ad4522a9f850766b73f62147ffdd",
    hub_config="gpqa_diamond",
    default_split="diamond",
    splits=("diamond",),
    subset_keys=("domain",),
)
