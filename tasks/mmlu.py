"""MMLU: 14,042 four-option test questions over 57 subjects, scored by accuracy (zero-shot,
generative: the model reasons and names a letter)."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ovr_eval.tasks import Task, read_parquet
from ovr_eval.types import BadRow, Sample
from ovr_tasks._rows import LETTERS, option_letters, parquet_files, with_choices


class MMLU(Task):
    def local_rows(self, data_dir: Path, split: str) -> Iterable[dict[str, Any]]:
        """``<split>*.parquet`` or the hub layout ``all/<split>-*.parquet``."""
        folder = self.local_dir(data_dir)
        files = parquet_files(folder, split, configs=("all",))
        if not files:
            raise self._missing_split(folder, split, f"{split}*.parquet or all/{split}-*.parquet")
        return read_parquet(files)

    def row_to_sample(self, row: dict[str, Any], index: int, base_dir: Path | None) -> Sample:
        subject = str(row.get("subject") or "")
        sample_id = f"{subject}/{index}" if subject else str(index)
        options = [str(c) for c in row.get("choices") or []]
        answer = row.get("answer")
        if not row.get("question") or len(options) < 2:
            raise BadRow(sample_id, "no question or fewer than two options")
        if isinstance(answer, str) and answer.strip() in option_letters(options):
            letter = answer.strip()
        elif isinstance(answer, int) and 0 <= answer < len(options):
            letter = LETTERS[answer]
        else:
            raise BadRow(sample_id, f"answer {answer!r} names no option")
        return Sample(
            id=sample_id, task=self.name, question=with_choices(str(row["question"]), options),
            answer=letter, choices=options, answer_type="multiple_choice",
            metadata={"subject": subject},
        )


TASK = MMLU(
    name="mmlu",
    description="MMLU (57 subjects, four options; accuracy per subject too)",
    hub_id="cais/mmlu",
    revision="c30699e8356da336a370243923dbaf21066bb9fe",
    hub_config="all",
    # the hub's layout (all/test-00000-of-00001.parquet): the run's split only, never the
    # config's auxiliary_train
    hub_files="{config}/{split}-*.parquet",
    default_split="test",
    splits=("test", "validation", "dev"),
    subset_keys=("subject",),
)
