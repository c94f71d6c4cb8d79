"""LogicVista: 448 visual logical-reasoning questions (options mostly drawn in the image).

Official metric: accuracy, overall and per skill (inductive, deductive, numerical, spatial,
mechanical). Answers are option letters; an item with several letters ("B, D") needs exactly
that set. Options written in the question ("(A) True (B) False", "A) 10 B) 12") become the
sample's choices, so an answer given by an option's value counts as the official judge counts
it; options drawn in the image leave only the letters. The release's item ``v1_382`` has no
question and no answer: it cannot be asked, but the official ``extract_accuracy.py`` scores all
448 items and counts it wrong, so the headline counts it as a wrong unit once the run reaches
it (``items_asked`` leaves it out).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ovr_eval.judge_protocols import (
    Extraction,
    Protocol,
    UnreadableReply,
    judge_view,
)
from ovr_eval.metrics import record_units, summarize, task_scores
from ovr_eval.records import Record
from ovr_eval.tasks import Task, read_keyed_rows, require_image
from ovr_eval.types import BadRow, Sample
from ovr_tasks._rows import inline_choices
from ovr_tasks.mathverse import multiple_choice_gold

EMPTY_ITEMS = ("v1_382",)  # no question, no answer in the release; official: counted wrong
_INDEX = re.compile(r"^v1_(\d+)$")


def _index(item_id: Any) -> int | None:
    match = _INDEX.match(str(item_id))
    return int(match.group(1)) if match else None


def official_units(records: list[Record]) -> dict[str, list[float]]:
    """One unit per item asked, plus a wrong one for each empty release item the run passed."""
    units = record_units(records)
    reached = max((i for r in records if (i := _index(r.id)) is not None), default=-1)
    k = min((len(r.correct) for r in records), default=1)
    for item in EMPTY_ITEMS:
        if item not in units and (_index(item) or 0) < reached:
            units[item] = [0.0] * k
    return units


def as_list(value: Any) -> list[str]:
    """A metadata list that may arrive as a list or as one string."""
    if value is None:
        return []
    return [str(v) for v in value] if isinstance(value, (list, tuple)) else [str(value)]


class LogicVista(Task):
    def local_rows(self, data_dir: Path, split: str
                   ) -> Iterable[dict[str, Any] | BadRow]:
        """The release's ``dataset.json`` (keyed ``v1_0`` ...; images under ``images/``)."""
        path = self.local_dir(data_dir) / "dataset.json"
        if not path.is_file():
            return super().local_rows(data_dir, split)
        return read_keyed_rows(path, "id")

    def row_to_sample(self, row: dict[str, Any], index: int, base_dir: Path | None) -> Sample:
        sample_id = str(row.get("id") or index)
        question = str(row.get("question") or "").strip()
        if not question:
            raise BadRow(sample_id, "no question text")
        image = row.get("image")
        if image is None and row.get("imagename"):
            image = f"images/{row['imagename']}"
        image = require_image(image, sample_id, base_dir)
        answer = multiple_choice_gold(str(row.get("answer") or ""), None)
        letters = re.fullmatch(r"[A-J](?:, [A-J])*", answer) is not None
        return Sample(
            id=sample_id, task=self.name, question=question, answer=answer, images=[image],
            choices=inline_choices(question) if letters else None,  # options written inline
            answer_type="multiple_choice" if answer and letters else "free_form",
            metadata={"skill": as_list(row.get("skill")),
                      "capability": as_list(row.get("broad_capability"))},
        )

    def units(self, records: list[Record]) -> dict[str, list[float]]:
        return official_units(records)

    def score(self, records: list[Record]) -> dict[str, Any]:
        result = task_scores(records, ("skill", "capability"))
        units = official_units(records)
        return {**result, **summarize(units), "items_asked": summarize(record_units(records)),
                "counted_wrong_unasked": sorted(set(units) - {r.id for r in records}),
                "official_rules": "set of letters; the release's empty item counted wrong"}


# ---------------------------------------------------------------- the official judge

LOGICVISTA_INSTRUCTIONS = """\
You read a reply to a multiple-choice question and report which option letter or letters the \
reply chose. If it names no letter, work out from the option texts which option it means, if \
you can. If the reply matches no option or chooses nothing, reply NONE. Reply with the chosen \
letters only, separated by commas (for example: B or A, C)."""

_SEPARATOR = re.compile(r"\s*(?:,|\band\b|&)\s*|\s+", re.I)
_LETTER_LIST = re.compile(r"[A-J](?:,?[A-J])*", re.I)


class LogicVistaJudge(Protocol):
    """LogicVista's one-character rule, letter extraction and set comparison."""

    name = "logicvista"
    source = "Yijia-Xiao/LogicVista eval/extract_accuracy.py @ e5795f17"

    def shortcut(self, record: Record, response: str) -> Extraction | None:
        text = judge_view(response)
        if text == "":
            return Extraction(None, "official rule")
        if len(text) == 1:
            if text.isalpha() and text.lower() in "abcde":
                return Extraction(text.upper(), "official rule")
            if not text.isnumeric():
                return Extraction(None, "official rule")
        return None

    def extraction_prompt(self, record: Record, response: str) -> str:
        return (f"{LOGICVISTA_INSTRUCTIONS}\n\nQuestion: {record.question}\n\n"
                f"Reply: {judge_view(response)}\n\nChosen letters: ")

    def parse_extraction(self, reply: str) -> str | None:
        text = re.sub(r"^\s*chosen letters?\s*:", "", reply, flags=re.I).strip().rstrip(".")
        if text.upper() in ("NONE", "Z", "ZZZZZ"):
            return None
        joined = _SEPARATOR.sub(",", text)
        if not _LETTER_LIST.fullmatch(joined):
            raise UnreadableReply(f"expected option letters or NONE, got {reply.strip()[:80]!r}")
        return ", ".join(sorted({c.upper() for c in joined if c.isalpha()}))

    def verdict(self, record: Record, answer: str | None) -> bool:
        if answer is None:
            return False
        gold = sorted(x.strip().lower() for x in record.gold.split(","))
        return sorted(x.strip().lower() for x in answer.split(",")) == gold


TASK = LogicVista(
    judge=LogicVistaJudge(),
    name="logicvista",
    description="LogicVista (448 visual logic questions; accuracy per skill)",
    hub_id="lscpku/LogicVista",
    # A third-party copy (the authors publish the data on GitHub, Yijia-Xiao/LogicVista, not on
    # the hub). No public pin of it could be verified offline: the hub head is used until one
    # is, and `ovr compare` / `ovr report` show the commit a run resolved it to.
    revision=None,
    default_split="test",
    splits=("test",),
    modality="image",
)
