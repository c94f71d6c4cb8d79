"""AIME 2024: the 30 problems of AIME 2024 I and II; integer answers 0-999, scored by accuracy
(avg@k with ``--samples k``; OVR's baselines report avg@16)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ovr_eval.presets import ORZ_AVG16
from ovr_eval.tasks import Task
from ovr_eval.types import BadRow, Sample
from ovr_tasks._rows import folder_with_alias


@dataclass
class Aime(Task):
    """An AIME year: one problem per row, an integer answer (leading zeros dropped)."""

    folder_aliases: tuple[str, ...] = ()  # other folder names under --data-dir ("aime24")
    hub_split: str = "train"

    def hub_split_for(self, split: str) -> str:
        return self.hub_split

    def local_dir(self, data_dir: Path) -> Path:
        return folder_with_alias(data_dir, self.name, self.folder_aliases)

    def row_to_sample(self, row: dict[str, Any], index: int, base_dir: Path | None) -> Sample:
        row = {str(k).lower(): v for k, v in row.items()}  # ID/Problem/Answer copies exist too
        sample_id = str(row.get("id") if row.get("id") is not None else index)
        problem = str(row.get("problem") or row.get("question") or "").strip()
        if not problem:
            raise BadRow(sample_id, "no problem text")
        answer = str(row.get("answer") if row.get("answer") is not None else "").strip()
        if answer.isdigit():
            answer = str(int(answer))  # "025" -> "25"
        return Sample(id=sample_id, task=self.name, question=problem, answer=answer,
                      metadata={"url": row.get("url")})


TASK = Aime(
    paper_sampling=ORZ_AVG16,  # ORZ reports avg@16 at T=1, top-p 1
    name="aime2024",
    description="AIME 2024 I+II (30 problems, integer answers)",
    hub_id="HuggingFaceH4/aime_2024",
    revision="2fe88a2f1091d5048c0f36abc874fb997b3dd99a",
    default_split="test",
    splits=("test",),
    folder_aliases=("aime24",),
)
