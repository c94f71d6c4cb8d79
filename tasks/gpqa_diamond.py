"""GPQA Diamond: 198 graduate-level science questions with four options, scored by accuracy.

The hub rows keep the correct answer in a fixed column ("Correct Answer"), so the options are
shuffled per item with a seed derived from its "Record ID": the same letters on every run and
machine, and the correct letter spread over A-D.

Official score (the GPQA baselines' ``parse_sampled_answer``, on the answer part of the
response): the first "answer is (X)", else the first "Answer: (X)", "answer: (X)", "answer
(X)"; where none is there, the verifier's letter (the official prompt asks for "(X)", ours for
\\boxed{}); where the verifier names none either, the first "(X)" anywhere. No guessing.
``verifier`` is the verifier's letter alone.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ovr_eval.metrics import task_scores
from ovr_eval.presets import ORZ_AVG16
from ovr_eval.records import Record
from ovr_eval.tasks import Task
from ovr_eval.types import BadRow, Sample
from ovr_eval.verify.region import answer_region
from ovr_tasks._official import (
    method_counts,
    named_option,
    official_records,
    verifier_summary,
)
from ovr_tasks._rows import shuffled_options, with_choices

WRONG = ("Incorrect Answer 1", "Incorrect Answer 2", "Incorrect Answer 3")
# the official phrases in the official order; for each only its first occurrence is read
ANSWER_PHRASES = tuple(re.compile(p) for p in (
    r"answer is \((.)\)", r"Answer: \((.)\)", r"answer: \((.)\)", r"answer \((.)\)"))
ANY_PARENTHESISED = re.compile(r"\((.)\)")


def _first_letter(pattern: re.Pattern[str], text: str) -> str | None:
    match = pattern.search(text)
    return match.group(1) if match and match.group(1) in "ABCD" else None


def official_rule(record: Record, j: int) -> tuple[bool, str] | None:
    """The GPQA baselines' reading of response j (None: the verifier's letter stands)."""
    text, gold = answer_region(record.response(j)), record.gold.strip()
    for pattern in ANSWER_PHRASES:
        if letter := _first_letter(pattern, text):
            return letter == gold, "answer is (X)"
    if named_option(record, j) is not None:
        return None
    if letter := _first_letter(ANY_PARENTHESISED, text):
        return letter == gold, "first (X)"
    return None


class GPQADiamond(Task):
    def official(self, records: list[Record]) -> list[Record]:
        return official_records(records, official_rule)

    def score(self, records: list[Record]) -> dict[str, Any]:
        official = self.official(records)
        return {**task_scores(official, self.subset_keys), "verifier": verifier_summary(records),
                "official_methods": method_counts(official),
                "official_rules": "the first 'answer is (X)' phrase, else the verifier's "
                                  "letter, else the first '(X)'"}

    def hub_split_for(self, split: str) -> str:
        return "train"  # the hub's only split

    def local_rows(self, data_dir: Path, split: str
                   ) -> Iterable[dict[str, Any] | BadRow]:
        """The release CSV (``gpqa_diamond.csv``, as in the hub repo) or a parquet export."""
        path = self.local_dir(data_dir) / "gpqa_diamond.csv"
        if not path.is_file():
            return super().local_rows(data_dir, split)
        with path.open(encoding="utf-8", newline="") as handle:
            return list(csv.DictReader(handle))

    def row_to_sample(self, row: dict[str, Any], index: int, base_dir: Path | None) -> Sample:
        sample_id = str(row.get("Record ID") or index)
        texts = [str(row.get(k) or "").strip() for k in ("Question", "Correct Answer", *WRONG)]
        if not all(texts):
            raise BadRow(sample_id, "question or an option is empty")
        question, correct, *wrong = texts
        options, letter = shuffled_options(correct, wrong, sample_id)
        return Sample(
            id=sample_id, task=self.name, question=with_choices(question, options),
            answer=letter, choices=options, answer_type="multiple_choice",
            metadata={"domain": row.get("High-level domain"), "subdomain": row.get("Subdomain")},
        )


TASK = GPQADiamond(
    paper_sampling=ORZ_AVG16,  # ORZ reports avg@16 at T=1, top-p 1
    name="gpqa_diamond",
    description="GPQA Diamond (198 four-option science questions; options shuffled per item)",
    hub_id="Idavidrein/gpqa",
    revision="633f5ee89ab8ad4522a9f850766b73f62147ffdd",
    hub_config="gpqa_diamond",
    default_split="diamond",
    splits=("diamond",),
    subset_keys=("domain",),
)
