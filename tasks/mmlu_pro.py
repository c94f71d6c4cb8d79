"""MMLU-Pro: 12,032 test questions with up to ten options over 14 categories, scored by
accuracy (overall and per category, as its leaderboard reports).

Official score (``evaluate_from_local.py``): where the verifier names no option, the official
chain takes over on the answer part of the response (after any thinking block): the first
"answer is (X)", then "Answer: X" on the first line that has one, then the last standalone
letter A-J; when nothing parses, a random option with ``random.seed(12345)`` reset before each
draw (so always the same option for a given number of options). ``verifier`` is the score
without these fallbacks; ``official_methods`` counts what decided each response.
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ovr_eval.metrics import task_scores
from ovr_eval.records import Record
from ovr_eval.tasks import Task, read_parquet
from ovr_eval.types import BadRow, Sample
from ovr_eval.verify.region import answer_region
from ovr_tasks._official import (
    method_counts,
    named_option,
    official_records,
    verifier_summary,
)
from ovr_tasks._rows import LETTERS, option_letters, parquet_files, with_choices

GUESS_SEED = 12345  # the official script re-seeds with it before every guess
_ANSWER_IS = re.compile(r"answer is \(?([A-J])\)?")  # the first one counts
_ANSWER_COLON = re.compile(r"^.*[aA]nswer:\s*([A-J])", re.M)  # first such line, its last one
_STANDALONE = re.compile(r"\b[A-J]\b")  # the last one counts


def official_letter(text: str) -> str | None:
    """The letter MMLU-Pro's official extraction chain reads in ``text``; None if none."""
    for pattern in (_ANSWER_IS, _ANSWER_COLON):
        if match := pattern.search(text):
            return match.group(1)
    standalone = _STANDALONE.findall(text)
    return standalone[-1] if standalone else None


def official_guess(options: int) -> str:
    """The official random guess: ``random.seed(12345)`` then ``randint(0, options - 1)``."""
    return LETTERS[random.Random(GUESS_SEED).randint(0, options - 1)]


def official_rule(record: Record, j: int) -> tuple[bool, str] | None:
    """The official fallbacks for response j where the verifier named no option."""
    if named_option(record, j) is not None:
        return None
    gold = record.gold.strip()
    letter = official_letter(answer_region(record.response(j)))
    if letter is not None:
        return letter == gold, "official extraction"
    options: list[str | None] = [c for c in record.choices or [] if c != "N/A"] or [None] * 10
    return official_guess(len(options)) == gold, "guess"


class MMLUPro(Task):
    def official(self, records: list[Record]) -> list[Record]:
        return official_records(records, official_rule)

    def score(self, records: list[Record]) -> dict[str, Any]:
        official = self.official(records)
        methods = method_counts(official)
        return {**task_scores(official, self.subset_keys), "verifier": verifier_summary(records),
                "official_methods": methods, "guesses": methods.get("guess", 0),
                "official_rules": "verifier, then the official extraction chain, then the "
                                  "official seeded guess"}

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
    hub_files="data/{split}-*.parquet",  # the hub's layout (data/test-00000-of-00001.parquet)
    default_split="test",
    splits=("test", "validation"),
    subset_keys=("category",),
)
