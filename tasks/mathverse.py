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

from ovr_eval.judge_protocols import (
    Protocol,
    UnreadableReply,
    judge_view,
)
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


# ---------------------------------------------------------------- the official judge

MATHVERSE_EXTRACTION = """\
Below is a model's reply to a math problem ("Model response"). Copy out the final answer it \
gives as "Extracted Answer": the answer only, with no explanation. If the reply gives no \
answer, write null.

1.
Model response: 'So the solution set, written as an interval, is\\n\\n[-1, 4)'
Extracted Answer: [-1, 4)

2.
Model response: 'Both lines meet where the two prices are equal.\\n\\nThe correct option is \
C. The cost is the same for both plans.'
Extracted Answer: C

3.
Model response: 'Reading the graph from left to right:\\nDomain: \\\\([-2, 5]\\\\)\\nRange: \
\\\\([0, 3]\\\\)'
Extracted Answer: Domain: \\\\([-2, 5]\\\\)\\nRange: \\\\([0, 3]\\\\)

4.
Model response: 'The figure does not show the side lengths, so I cannot choose an option.'
Extracted Answer: null

5.
Model response: 'Using tan(40°) = h / 12, the height of the tower is h = 12 tan(40°), \
about 10.1 meters.'
Extracted Answer: 10.1

6.
Model response: 'Putting the intercepts together, the line through both points is\\n\
\\\\( y = 2x - 3 \\\\)'
Extracted Answer: y = 2x - 3

7."""

MATHVERSE_MATCH = """\
Decide whether a model's answer to a math question agrees with the standard answer. \
[Question] is the question, [Standard Answer] the correct answer and [Model_answer] the answer \
taken from the model's reply. They agree only when the model gives the same final result: \
for multiple choice, the same option; otherwise the same value, even when written differently \
(for example 0.5 m and 50 cm). Reply with Judgement 1 if they agree and 0 if they do not.

[Question]: Write the solution set of the inequality shown on the number line.
[Standard Answer]: [-1, 4)
[Model_answer] : (-1, 4)
Judgement: 0

[Question]: Which plan costs less for 10 hours?\\nChoices:\\nA:Plan 1\\nB:Plan 2\\nC:Both \
cost the same
[Standard Answer]: B
[Model_answer] : A:Plan 1
Judgement: 0

[Question]: Give the domain and the range of g.
[Standard Answer]: domain: [-2, 5] and range: [0, 3]
[Model_answer] : Range: [0, 3]
Judgement: 0

[Question]: What is the height of the tower, to one decimal place?
[Standard Answer]: 10.1
[Model_answer] : 10.1 m
Judgement: 1

[Question]: Find the equation of the circle with centre (0, 0) through (3, 4).\\nChoices:\\n\
A:x^2 + y^2 = 25\\nB:x^2 + y^2 = 5
[Standard Answer]: A
[Model_answer] : x^2 + y^2 = 25
Judgement: 1"""


class MathVerseJudge(Protocol):
    """MathVerse's two steps: few-shot extraction, then a 0/1 consistency judgement."""

    name = "mathverse"
    source = ("ZrrSkywalker/MathVerse evaluation/extract_answer_s1.py + score_answer_s2.py"
              " @ 937b0905")
    metadata_keys = ("question_for_eval",)

    def extraction_prompt(self, record: Record, response: str) -> str:
        return (f"{MATHVERSE_EXTRACTION}\nModel response: '{judge_view(response)}'\n"
                "Extracted Answer: ")

    def parse_extraction(self, reply: str) -> str | None:
        text = re.sub(r"^\s*extracted answer\s*:", "", reply, flags=re.I).strip()
        return None if text.lower() in ("", "null", "none") else text

    def verdict(self, record: Record, answer: str | None) -> bool | None:
        if answer is None:
            return False
        if answer.strip() == record.gold.strip():
            return True
        return None

    def match_prompt(self, record: Record, answer: str) -> str:
        question = record.metadata.get("question_for_eval") or record.question
        return (f"{MATHVERSE_MATCH}\n\n[Question]: {question}\n"
                f"[Standard Answer]: {record.gold}\n[Model_answer] : {answer}\n"
                "Judgement: ")

    def parse_match(self, reply: str) -> bool:
        text = re.sub(r"^\s*judge?ment\s*:", "", reply, flags=re.I).strip()
        if text not in ("0", "1"):
            raise UnreadableReply(f"expected 0 or 1, got {reply.strip()[:80]!r}")
        return text == "1"


TASK = MathVerse(
    judge=MathVerseJudge(),
    name="mathverse",
    description="MathVerse testmini (788 problems x 5 versions; per-version scores)",
    hub_id="AI4Math/MathVerse",
    revision="3bc86196678bad115a923d2851c6821dbe235939",
    default_split="testmini",
    splits=("testmini", "testmini_text_only"),
    modality="image",
    subset_keys=("problem_version", "subject"),
    summary_subsets=("problem_version",),  # the paper's columns are the five versions
)
