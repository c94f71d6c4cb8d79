"""MathVision (MATH-V): 3,040 competition problems with images; testmini has 304.

Errata: the hub dataset ``MathLLMs/MathVision`` corrected two golds after the release
(commit "Fix answers for ID 338 (B→D) and ID 1826 (D→E)"); the GitHub release files
(``mathllm/MATH-V`` ``data/test.jsonl``, what ``--data-dir`` reads) still have the old ones.
``ERRATA`` applies the correction to rows from either source, by id, so the hub and local
files score alike (``version`` 2).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ovr_eval.tasks import Task, require_image
from ovr_eval.types import Sample
from ovr_tasks._rows import IMAGE_ONLY_QUESTION, LETTERS, format_choices, strip_image_tags

# id -> (gold in the release files, corrected gold): the hub's fix, applied to every source
ERRATA: dict[str, tuple[str, str]] = {"338": ("B", "D"), "1826": ("D", "E")}


class MathVision(Task):
    def row_to_sample(self, row: dict[str, Any], index: int, base_dir: Path | None) -> Sample:
        sample_id = str(row.get("id") or index)
        image = row.get("decoded_image") or row.get("image")
        image = require_image(image, sample_id, base_dir)
        options = [str(o) for o in (row.get("options") or [])]
        question = strip_image_tags(str(row.get("question") or "")) or IMAGE_ONLY_QUESTION
        choices = None
        if options:
            if options == list(LETTERS[: len(options)]):  # options drawn in the image
                question += "\nChoices: " + ", ".join(f"({o})" for o in options)
            else:
                question += "\n" + format_choices(options)
            choices = options
        answer = str(row.get("answer") or "")
        metadata: dict[str, Any] = {"subject": row.get("subject"), "level": row.get("level")}
        if sample_id in ERRATA:
            answer = ERRATA[sample_id][1]
            metadata["erratum"] = "gold {} -> {} (the hub's correction)".format(*ERRATA[sample_id])
        return Sample(
            id=sample_id, task=self.name, question=question, answer=answer,
            images=[image], choices=choices,
            answer_type="multiple_choice" if options else "free_form",
            metadata=metadata,
        )


TASK = MathVision(
    name="mathvision",
    description="MathVision (competition math with images; test 3,040, testmini 304)",
    hub_id="MathLLMs/MathVision",
    # No public pin of this dataset could be verified offline: the hub head is used until one
    # is, and `ovr compare` / `ovr report` show the commit a run resolved it to.
    revision=None,
    default_split="test",
    splits=("test", "testmini"),
    modality="image",
    subset_keys=("subject", "level"),
    version=2,  # 2: ERRATA (ids 338 and 1826 take the hub's corrected golds)
)
