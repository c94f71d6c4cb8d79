"""MATH500: the 500-problem test subset of MATH (Lightman et al., "Let's Verify Step by Step")."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ovr_eval.presets import ORZ_AVG16
from ovr_eval.tasks import Task
from ovr_eval.types import BadRow, Sample


class Math500(Task):
    def row_to_sample(self, row: dict[str, Any], index: int, base_dir: Path | None) -> Sample:
        sample_id = str(row.get("unique_id") or f"{self.name}-{index}")
        if not row.get("problem"):
            raise BadRow(sample_id, "no problem text")
        return Sample(
            id=sample_id, task=self.name, question=row["problem"],
            answer=str(row.get("answer") or ""),
            metadata={"subject": row.get("subject"), "level": row.get("level"),
                      "solution": row.get("solution")},  # worked solution (SFT traces)
        )


TASK = Math500(
    paper_sampling=ORZ_AVG16,  # ORZ reports avg@16 at T=1, top-p 1
    name="math500",
    description="MATH500 (500 competition problems, free-form answers)",
    hub_id="HuggingFaceH4/MATH-500",
    revision="6e4ed1a2a79af7d8630a6b768ec859cb5af4d3be",
    default_split="test",
    splits=("test",),
    subset_keys=("subject", "level"),
)
