"""MathVista testmini: 1,000 visual math questions (540 multiple choice, 460 free form).

Official metric: accuracy, reported overall and by question type, answer type, source, task,
category, context, grade, language and skill. The prompt is the benchmark's own ``query``
(question, hint on the answer format, options). Free-form numbers follow the official
``calculate_score.py`` on the number read from the verifier's normalised answer (where the
official pipeline has GPT-4 extract it): a float answer is right when the number rounded to the
item's ``precision`` prints as the answer, an integer answer when the number truncated to an
integer does ("3.7" counts for 3, as ``int(float(x))`` does). Multiple choice and lists are
the verifier's (no nearest-option mapping). The verifier alone is reported as ``verifier``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ovr_eval.judge_protocols import (
    Extraction,
    Protocol,
    edit_distance,
    judge_view,
)
from ovr_eval.metrics import task_scores
from ovr_eval.records import Record
from ovr_eval.tasks import Task, read_json, read_keyed_rows, require_image
from ovr_eval.types import BadRow, Sample
from ovr_tasks._official import (
    method_counts,
    numeric_value,
    official_records,
    verifier_summary,
)
from ovr_tasks._rows import IMAGE_ONLY_QUESTION, LETTERS, with_choices


def official_rule(record: Record, j: int) -> tuple[bool, str] | None:
    """MathVista's numeric rules for response j; None (the verifier decides) for multiple
    choice, lists, or an answer with no readable number."""
    meta = record.metadata
    kind, gold = meta.get("answer_type"), record.gold.strip()
    if record.answer_type == "multiple_choice" or kind not in ("float", "integer"):
        return None
    value = numeric_value(record.extraction(j))
    if value is None:
        return None
    if kind == "integer":
        return str(int(value)) == gold, "integer as int(float(x))"
    if meta.get("precision") is None:
        return None
    return str(round(value, int(meta["precision"]))) == gold, "float at precision"


class MathVista(Task):
    def local_rows(self, data_dir: Path, split: str
                   ) -> Iterable[dict[str, Any] | BadRow]:
        """The official release: ``<split>.json`` (keyed by pid) and ``query.json``."""
        folder = self.local_dir(data_dir)
        path = folder / f"{split}.json"
        if not path.is_file():
            return super().local_rows(data_dir, split)
        queries: dict[str, Any] = {}
        if (folder / "query.json").is_file():
            queries = read_json(folder / "query.json", dict, "a JSON object of queries by pid")
        return [row if isinstance(row, BadRow)
                else {**row, "query": row.get("query") or queries.get(row["pid"])}
                for row in read_keyed_rows(path, "pid")]

    def row_to_sample(self, row: dict[str, Any], index: int, base_dir: Path | None) -> Sample:
        sample_id = str(row.get("pid") or index)
        image = row.get("decoded_image") or row.get("image")
        image = require_image(image, sample_id, base_dir)
        choices = [str(c) for c in row.get("choices") or []] or None
        answer = str(row.get("answer") if row.get("answer") is not None else "").strip()
        multiple_choice = row.get("question_type") == "multi_choice" and bool(choices)
        if multiple_choice:
            matches = [i for i, c in enumerate(choices or []) if c.strip() == answer]
            if not matches:
                raise BadRow(sample_id, f"answer {answer!r} is none of the choices")
            answer = LETTERS[matches[0]]
        question = str(row.get("query") or "").strip()
        if not question:
            question = str(row.get("question") or "").strip() or IMAGE_ONLY_QUESTION
            if multiple_choice and choices:
                question = with_choices(question, choices)
        meta = dict(row.get("metadata") or {})
        return Sample(
            id=sample_id, task=self.name, question=question, answer=answer, images=[image],
            choices=choices if multiple_choice else None,
            answer_type="multiple_choice" if multiple_choice else "free_form",
            metadata={
                "question_type": row.get("question_type"), "answer_type": row.get("answer_type"),
                "precision": row.get("precision"), "unit": row.get("unit"),
                **{k: meta.get(k) for k in ("task", "category", "context", "grade", "language",
                                            "source", "skills")},
            },
        )

    def official(self, records: list[Record]) -> list[Record]:
        return official_records(records, official_rule)

    def score(self, records: list[Record]) -> dict[str, Any]:
        official = self.official(records)
        return {**task_scores(official, self.subset_keys),
                "verifier": verifier_summary(records),
                "official_methods": method_counts(official),
                "official_rules": "free-form numbers: floats rounded to the item's precision, "
                                  "integers truncated, compared as printed"}


# ---------------------------------------------------------------- the official judge

MATHVISTA_INSTRUCTIONS = """\
A model has answered the question below. Find the final answer it gave and write only that \
answer after "Extracted answer:", in the form the hint asks for: a whole number, a number with \
the stated decimal places, a Python list, or an option letter. Five solved examples come first.

Hint: Please answer the question requiring an integer answer and provide the final value, \
e.g., 1, 2, 3, at the end.
Question: How many apples are on the plate?

Model response: Counting the fruit one by one, I find five apples on the plate.

Extracted answer: 5

Hint: Please answer the question requiring a floating-point number with one decimal place \
and provide the final value, e.g., 1.2, 1.3, 1.4, at the end.
Question: How long is the red segment? (Unit: cm)

Model response: Read against the ruler, the red segment spans about 3.4 cm.

Extracted answer: 3.4

Hint: Please answer the question requiring a floating-point number with two decimal places \
and provide the final value, e.g., 1.23, 1.34, 1.45, at the end.
Question: What do a pen and a notebook cost together? (Unit: $)

Model response: The pen is $0.75 and the notebook $2.10, so together they cost $2.85.

Extracted answer: 2.85

Hint: Please answer the question requiring a Python list as an answer and provide the final \
list, e.g., [1, 2, 3], [1.2, 1.3, 1.4], at the end.
Question: At which x values does the curve cross the x-axis?

Model response: The curve meets the axis twice, at x = -2 and at x = 3.

Extracted answer: [-2, 3]

Hint: Please answer the question and provide the correct option letter, e.g., A, B, C, D, \
at the end.
Question: Which shape has the most sides?
Choices:
(A) triangle
(B) hexagon
(C) square
(D) pentagon

Model response: A hexagon has six sides, more than any other shape listed: (B) hexagon.

Extracted answer: B"""


class MathVistaJudge(Protocol):
    """MathVista's quick rules, few-shot extraction and answer normalisation."""

    name = "mathvista"
    source = "lupantech/MathVista evaluation/extract_answer.py + calculate_score.py @ 53d52587"
    metadata_keys = ("question_type", "answer_type", "precision", "unit")

    def shortcut(self, record: Record, response: str) -> Extraction | None:
        meta = record.metadata
        text = judge_view(response)
        if text == "":
            return Extraction("", "official rule")
        if meta.get("question_type") == "multi_choice" and text in (record.choices or []):
            return Extraction(text, "official rule")
        try:
            if meta.get("answer_type") == "integer":
                return Extraction(str(int(text)), "official rule")
            if meta.get("answer_type") == "float":
                return Extraction(str(float(text)), "official rule")
        except ValueError:
            pass
        return None

    def extraction_prompt(self, record: Record, response: str) -> str:
        return (f"{MATHVISTA_INSTRUCTIONS}\n\n{record.question.strip()}\n\n"
                f"Model response: {judge_view(response)}\n\nExtracted answer: ")

    def parse_extraction(self, reply: str) -> str | None:
        return re.sub(r"^\s*extracted answer\s*:", "", reply, flags=re.I).strip()

    def verdict(self, record: Record, answer: str | None) -> bool:
        """The official normalisation, then string equality with the gold answer. A multiple
        choice extraction that names no option letter goes to the nearest option, so the
        official pipeline can credit a refusal; that is reproduced, not corrected."""
        meta = record.metadata
        gold, choices = record.gold.strip(), record.choices or []
        text = (answer or "").strip()
        if meta.get("question_type") == "multi_choice" and choices:
            letter = re.findall(r"\(([a-zA-Z])\)", text)
            if letter:
                text = letter[0].upper()
            letters = LETTERS[: len(choices)]
            if text and text in letters:
                chosen = choices[letters.index(text)]
            else:
                distances = [edit_distance(text, str(c)) for c in choices]
                chosen = choices[distances.index(min(distances))]
            gold_text = choices[LETTERS.index(gold)] if gold in letters else gold
            return chosen == gold_text
        try:
            if meta.get("answer_type") == "integer":
                return str(int(float(text))) == gold
            if meta.get("answer_type") == "float":
                return str(round(float(text), int(meta.get("precision") or 0))) == gold
        except (ValueError, OverflowError):
            return False
        return text == gold


TASK = MathVista(
    judge=MathVistaJudge(),
    name="mathvista",
    description="MathVista testmini (1,000; accuracy by question type, task, skill, ...)",
    hub_id="AI4Math/MathVista",
    revision="2b6ad69445fbb5695c9b165475e8decdbeb97747",
    # data/testmini-*.parquet beside data/test-*.parquet (5,141 items): testmini only. Not
    # verified offline; should no file match, the whole config loads as before
    hub_files="data/{split}-*.parquet",
    default_split="testmini",
    splits=("testmini",),
    modality="image",
    subset_keys=("question_type", "answer_type", "source", "task", "category", "context", "grade",
                 "language", "skills"),
)
