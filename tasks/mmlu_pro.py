"""MMLU-Pro: 12,032 test questions with up to ten options over 14 categories, scored by
accuracy (overall and per category, as its leaderboard reports)."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ovr_eval.tasks import Task
from ovr_eval.types import BadRow, Sample
from ovr_tasks._common import LETTERS
from ovr_tasks._ovr import option_letters, parquet_files, read_parquet, with_choices


class MMLUPro(Task):
    def local_rows(self, data_dir: Path, split: str) -> Iterable[dict[str, Any]]:
        """``<split>*.parquet`` or the hub layout ``data/<split>-*.parquet``."""
        folder = self.local_dir(data_dir)
        files = parquet_files(folder, split, configs=("data",))
        if not files:
            raise self._missing_split(folder, split, f"{split}*.parquet or data/{split}-*.parquet")
        return read_parquet(files)

    def row_to_sample(self, row: dict[str, Any], index: int, base_dir: Path | None) -> Sample:
        sample_id = str(row.get("question_id") if row.get("question_id") is not None else index)
        options = [str(o) for o in row.get("options") or []]
        letter = str(row.get("answer") or "").strip()
        answer_index = row.get("answer_index")
        if letter not in option_letters(options) and isinstance(answer_index, int):
            letter = LETTERS[answer_index] if 0 <= answer_index < len(options) else ""
        if not row.get("question") or letter not in option_letters(options):
            raise BadRow(sample_id, "no question, or the answer names no option")
        return Sample(
            id=sample_id, task=self.name, question=with_choices(str(row["question"]), options),
            answer=letter, choices=options, answer_type="multiple_choice",
            metadata={"category": row.get("category"), "src": row.get("src")},
        )


TASK = MMLUPro(
    name="mmlu_pro",
    description="MMLU-Pro (14 categories, up to ten options)",
    hub_id="TIGER-Lab/MMLU-Pro",
    revision="b189ec765aa7ed75c8acfea42df31fdae71f97be",
    default_split="test",
    splits=("test", "validation"),
    subset_keys=("category",),
)
