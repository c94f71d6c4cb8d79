"""MMK12: K-12 multimodal math with images, from MM-Eureka — a *training* set (RL prompts).

OVR trains its multimodal RL on "K12 (from MM-Eureka)" among its STEM sources (OVR §3.3; the
~300k OVR set itself is unreleased). ``train``: ~15.6k math problems with one image and a
verifiable answer; ``test``: 2,000 multiple-choice questions (math, physics, chemistry,
biology) with the options written in the question as ``A. ...`` lines and the letter as
answer. Hub rows: ``id``, ``subject``, ``image``, ``question``, ``answer``; local files: the
hub's parquet files in ``DATA_DIR/mmk12/`` (``train-*.parquet``, ``test-*.parquet``).
The revision is the commit public training scripts pin; it could not be checked offline.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from ovr_eval.tasks import Task, require_image
from ovr_eval.types import Sample
from ovr_tasks._rows import IMAGE_ONLY_QUESTION, LETTERS, option_letters, strip_image_tags

_OPTION = re.compile(r"^\s*\(?([A-H])[\.\)．:：]\s*(.+?)\s*$")


def inline_options(question: str) -> list[str]:
    """The option texts of ``A. ...`` / ``(B) ...`` lines, in order, when they run A, B, ..."""
    found = [m.groups() for line in question.splitlines() if (m := _OPTION.match(line))]
    letters = [letter for letter, _ in found]
    return [text for _, text in found] if letters == list(LETTERS[: len(found)]) else []


class MMK12(Task):
    def row_to_sample(self, row: dict[str, Any], index: int, base_dir: Path | None) -> Sample:
        sample_id = str(row.get("id") or f"{self.name}-{index}")
        image = require_image(row.get("image"), sample_id, base_dir)
        question = strip_image_tags(str(row.get("question") or "")) or IMAGE_ONLY_QUESTION
        answer = str(row.get("answer") or "").strip()
        options = inline_options(question)
        choice = len(options) >= 2 and answer.upper() in option_letters(options)
        return Sample(
            id=sample_id, task=self.name, question=question,
            answer=answer.upper() if choice else answer, images=[image],
            choices=options if choice else None,
            answer_type="multiple_choice" if choice else "free_form",
            metadata={"subject": row.get("subject")},
        )


TASK = MMK12(
    name="mmk12",
    description="MMK12 K-12 multimodal math from MM-Eureka (training set: train 15.6k; test 2k MC)",
    hub_id="FanqingM/MMK12",
    revision="372a609268ea79b5e78d90ab173e02c37b486163",
    default_split="train",
    splits=("train", "test"),
    modality="image",
    subset_keys=("subject",),
)
