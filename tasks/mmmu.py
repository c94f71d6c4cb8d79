"""MMMU validation: 900 college-level multimodal questions over 30 subjects (one hub config
per subject), mostly multiple choice, some open answers.

Official metric: accuracy (micro over questions), reported overall, per discipline (the six
of the MMMU paper) and per subject. Questions reference their images as ``<image 1>``...;
the images go first in the message and the tags read "[image 1]".

Official score (MMMU's ``eval_utils.py``): a multiple-choice response that names no option gets
a random option; here the verifier decides, and where it names no option a random option
seeded by the item and response slot stands in (``official_methods["guess"]`` counts them).
``verifier`` is the score without guesses. Open questions: the verifier.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

from ovr_eval.metrics import task_scores
from ovr_eval.records import Record
from ovr_eval.tasks import Task, read_parquet, require_image
from ovr_eval.types import BadRow, Sample
from ovr_tasks._official import guess_rule, method_counts, official_records, verifier_summary
from ovr_tasks._rows import glob_escape, option_letters, with_choices

DISCIPLINES = {
    "Art and Design": ("Art", "Art_Theory", "Design", "Music"),
    "Business": ("Accounting", "Economics", "Finance", "Manage", "Marketing"),
    "Science": ("Biology", "Chemistry", "Geography", "Math", "Physics"),
    "Health and Medicine": ("Basic_Medical_Science", "Clinical_Medicine",
                            "Diagnostics_and_Laboratory_Medicine", "Pharmacy", "Public_Health"),
    "Humanities and Social Science": ("History", "Literature", "Psychology", "Sociology"),
    "Tech and Engineering": ("Agriculture", "Architecture_and_Engineering", "Computer_Science",
                             "Electronics", "Energy_and_Power", "Materials",
                             "Mechanical_Engineering"),
}
SUBJECTS = tuple(s for subjects in DISCIPLINES.values() for s in subjects)
DISCIPLINE_OF = {s: d for d, subjects in DISCIPLINES.items() for s in subjects}
_IMAGE_TAG = re.compile(r"<image (\d+)>")


def parse_options(value: Any) -> list[str]:
    """MMMU stores options as the text of a Python list ("['a', 'b']"); parse it safely."""
    if isinstance(value, (list, tuple)):
        return [str(v) for v in value]
    if not value:
        return []
    try:
        parsed = ast.literal_eval(str(value))
    except (ValueError, SyntaxError):
        return []
    return [str(v) for v in parsed] if isinstance(parsed, (list, tuple)) else []


def subject_of(sample_id: str) -> str | None:
    """"validation_Art_Theory_12" -> "Art_Theory"."""
    match = re.match(r"^(?:dev|validation|test)_(.+)_\d+$", sample_id)
    return match.group(1) if match else None


def row_images(row: dict[str, Any], sample_id: str, base_dir: Path | None) -> list[Any]:
    """The non-empty ``image_1`` ... ``image_7`` columns, in order."""
    return [require_image(row[f"image_{i}"], sample_id, base_dir)
            for i in range(1, 8) if row.get(f"image_{i}") is not None]


def show_image_tags(text: str) -> str:
    """``<image 1>`` -> ``[image 1]`` (the images themselves go first in the message)."""
    return _IMAGE_TAG.sub(r"[image \1]", text)


def open_gold(answer: Any) -> str:
    """An open question's gold: the first of a list-like answer ("['3.5', '7/2']")."""
    text = str(answer or "").strip()
    if text.startswith("["):
        options = parse_options(text)
        return options[0] if options else text
    return text


def guessed_scores(task: Task, records: list[Record]) -> dict[str, Any]:
    """Accuracy with MMMU's random-guess fallback, the verifier's beside it, guesses counted."""
    official = task.official(records)
    methods = method_counts(official)
    return {**task_scores(official, task.subset_keys), "verifier": verifier_summary(records),
            "official_methods": methods, "guesses": methods.get("guess", 0),
            "official_rules": "verifier; a seeded random option where no option is named"}


class MMMU(Task):
    def official(self, records: list[Record]) -> list[Record]:
        return official_records(records, guess_rule)

    def score(self, records: list[Record]) -> dict[str, Any]:
        return guessed_scores(self, records)

    def hub_rows(self, split: str) -> Iterable[dict[str, Any]]:
        """Every subject config in turn (the base loader with ``hub_config`` = the subject)."""
        def rows() -> Iterator[dict[str, Any]]:
            for subject in SUBJECTS:
                yield from Task.hub_rows(replace(self, hub_config=subject), split)

        return rows()

    def local_rows(self, data_dir: Path, split: str) -> Iterable[dict[str, Any]]:
        """The hub layout (``<Subject>/<split>-*.parquet``) or ``<split>*.parquet``."""
        folder = self.local_dir(data_dir)
        files = sorted(folder.glob(f"{split}*.parquet"))
        for subject in SUBJECTS:
            files += sorted(folder.glob(f"{glob_escape(subject)}/{split}-*.parquet"))
        if not files:
            raise self._missing_split(folder, split, f"<Subject>/{split}-*.parquet")
        return read_parquet(files)

    def row_to_sample(self, row: dict[str, Any], index: int, base_dir: Path | None) -> Sample:
        sample_id = str(row.get("id") or index)
        subject = subject_of(sample_id)
        question = show_image_tags(str(row.get("question") or "").strip())
        if not question:
            raise BadRow(sample_id, "no question text")
        images = row_images(row, sample_id, base_dir)
        options = [show_image_tags(o) for o in parse_options(row.get("options"))]
        multiple_choice = row.get("question_type") != "open" and bool(options)
        answer = str(row.get("answer") or "").strip()
        if multiple_choice:
            if answer not in option_letters(options):
                raise BadRow(sample_id, f"answer {answer!r} names no option")
            question = with_choices(question, options)
        else:
            answer = open_gold(answer)
        return Sample(
            id=sample_id, task=self.name, question=question, answer=answer, images=images,
            choices=options if multiple_choice else None,
            answer_type="multiple_choice" if multiple_choice else "free_form",
            metadata={"subject": subject, "discipline": DISCIPLINE_OF.get(subject or ""),
                      "question_type": row.get("question_type"),
                      "difficulty": row.get("topic_difficulty"), "images": len(images)},
        )


TASK = MMMU(
    name="mmmu",
    description="MMMU validation (900 questions, 30 subjects; accuracy per discipline)",
    hub_id="MMMU/MMMU",
    # the commit public fetch scripts of MMMU's validation set pin (every subject config)
    revision="876ce5cb130f7f7e290ce4d9984357737d4db5cf",
    # the hub's layout (<Subject>/validation-00000-of-00001.parquet): never the 3.3 GB test split
    hub_files="{config}/{split}-*.parquet",
    default_split="validation",
    splits=("validation", "dev"),
    modality="image",
    subset_keys=("discipline", "subject", "question_type", "difficulty"),
)
