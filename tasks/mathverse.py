"""MathVerse testmini: 788 problems x 5 problem versions (3,940 items), scored per version.

The headline ``score`` is the paper's column: accuracy on the Vision Only version (788 items);
``all_versions`` is the accuracy over every item served. ``testmini_text_only`` is the 788-item
"Text Only" ablation (no images): it has no paper column, so its headline is its accuracy and
``paper_column`` is false. Official scoring asks GPT to extract and to judge each answer; the
verifier decides here."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from ovr_eval.metrics import record_units, summarize, task_scores
from ovr_eval.records import Record
from ovr_eval.tasks import Task, require_image
from ovr_eval.types import BadRow, Sample
from ovr_tasks._rows import IMAGE_ONLY_QUESTION

VERSIONS = ("Text Dominant", "Text Lite", "Vision Intensive", "Vision Dominant", "Vision Only")
PAPER_VERSION = "Vision Only"  # the version OVR's table reports
_CHOICES = re.compile(r"\n\s*Choices?\s*:\s*\n(.*)$", re.S | re.I)
_OPTION = re.compile(r"^\s*\(?([A-H])\)?\s*[:.)]\s*(.*\S)\s*$")


def parse_inline_choices(question: str) -> list[str] | None:
    """Option texts from a trailing 'Choices:' block (A:..., B:...), if the question has one."""
    match = _CHOICES.search(question)
    if not match:
        return None
    options: list[str] = []
    for line in match.group(1).splitlines():
        option = _OPTION.match(line)
        if option is None:
            continue
        if ord(option.group(1)) - ord("A") != len(options):
            return None
        options.append(option.group(2))
    return options or None


def multiple_choice_gold(answer: str, choices: list[str] | None) -> str:
    """The gold as option letter(s): "(C)" -> "C", an option's text -> its letter,
    several letters ("C\\nD") -> "C, D" (graded as an unordered set)."""
    answer = answer.strip()
    letters = re.findall(r"\(?\b([A-H])\b\)?", answer)
    if letters and re.fullmatch(r"[\s(),A-H]+", answer):
        return ", ".join(letters)
    if choices:
        matches = [chr(65 + i) for i, c in enumerate(choices) if c.strip() == answer]
        if len(matches) == 1:
            return matches[0]
    return answer


class MathVerse(Task):
    def units(self, records: list[Record]) -> dict[str, list[float]]:
        """Vision Only items when the run has any (the headline), else every item."""
        return record_units(paper_records(records) or records)

    def score(self, records: list[Record]) -> dict[str, Any]:
        result = task_scores(records, self.subset_keys)
        every = {k: result[k] for k in summarize({})}
        paper = paper_records(records)
        if paper:
            return {**result, "metric": f"accuracy on {PAPER_VERSION} (the paper's column)",
                    **summarize(record_units(paper)), "all_versions": every,
                    "paper_column": True}
        return {**result, "metric": f"accuracy over all items (no {PAPER_VERSION} item: not "
                "the paper's column)", "all_versions": every, "paper_column": False}

    def hub_config_for(self, split: str) -> str | None:
        return split

    def row_to_sample(self, row: dict[str, Any], index: int, base_dir: Path | None) -> Sample:
        sample_id = str(row.get("sample_index") or index)
        version = str(row.get("problem_version") or "")
        question = str(row.get("question") or "").strip()
        images = []
        if version != "Text Only":
            image = row.get("image")
            if isinstance(image, str) and image and base_dir is not None:
                images_dir = base_dir / "images"
                base = images_dir if (images_dir / image).is_file() else base_dir
                images = [require_image(image, sample_id, base)]
            else:
                images = [require_image(image, sample_id, base_dir)]
            question = question or IMAGE_ONLY_QUESTION
        if not question:
            raise BadRow(sample_id, "no question text")
        multiple_choice = row.get("question_type") == "multi-choice"
        choices = parse_inline_choices(question) if multiple_choice else None
        answer = str(row.get("answer") or "")
        if multiple_choice:
            answer = multiple_choice_gold(answer, choices)
        metadata = dict(row.get("metadata") or {})
        return Sample(
            id=sample_id, task=self.name, question=question, answer=answer, images=images,
            choices=choices,
            answer_type="multiple_choice" if multiple_choice else "free_form",
            metadata={
                "problem_version": version, "problem_index": row.get("problem_index"),
                "subject": metadata.get("subject"), "source": metadata.get("source"),
                # the full question (Vision Only items have none): MathVerse's judge reads it
                "question_for_eval": row.get("question_for_eval"),
            },
        )


def paper_records(records: list[Record]) -> list[Record]:
    """The records of the paper's version (Vision Only)."""
    return [r for r in records if r.metadata.get("problem_version") == PAPER_VERSION]


TASK = MathVerse(
    name="mathverse",
    description="MathVerse testmini (788 problems x 5 versions; per-version scores)",
    hub_id="AI4Math/MathVerse",
    revision="3bc86196678bad115a923d2851c6821dbe235939",
    default_split="testmini",
    splits=("testmini", "testmini_text_only"),
    modality="image",
    subset_keys=("problem_version", "subject"),
)
