"""No training on the test sets: SFT and RL items that are also evaluation items.

A training item overlaps an evaluation item when it is the same item (same task and sample id:
the RL source *is* an evaluation set, or one split holds another's items) or when its question
text contains the evaluation question, compared as normalised words (case, spacing,
punctuation and LaTeX commands ignored; a templated prompt or a chat's user turns are searched
for the whole question). Only a question that identifies its item is matched by text: one of
at least ``MIN_WORDS`` words that no other evaluation item shares ("Find x.", or "Compute the
sum shown in the image." asked of many images, are matched by id only).

``eval.train_overlap`` decides what happens: ``refuse`` (one line naming the count and
examples), ``drop`` (train without them; ``train/overlap.json`` lists them) or ``allow``.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from ovr_eval.types import Sample, UserError

MIN_WORDS = 6  # shorter questions are matched by id only
EXAMPLES = 3  # overlaps named in the message
_LATEX_COMMAND = re.compile(r"\\[a-zA-Z]+")
_WORD = re.compile(r"[0-9a-z]+")

Item = TypeVar("Item")


def words(text: str) -> list[str]:
    """Lower-case letters and digits runs of ``text``, LaTeX commands and markup dropped."""
    text = _LATEX_COMMAND.sub(" ", unicodedata.normalize("NFKC", str(text)))
    return _WORD.findall(text.lower())


@dataclass(frozen=True)
class Key:
    """What identifies a training item for the check."""

    task: str | None
    id: str | None
    text: str


@dataclass(frozen=True)
class Overlap:
    """A training item that is an evaluation item."""

    train: Key
    eval: Sample
    by: str  # "id" | "question text"

    def describe(self) -> str:
        name = f"{self.train.task}/{self.train.id}" if self.train.id else "an item"
        shown = " ".join(self.eval.question.split())[:60]
        return f"{name} is {self.eval.task}/{self.eval.id} by {self.by} ({shown!r})"


class EvalIndex:
    """The evaluation items, indexed by (task, id) and by the first words of each question."""

    def __init__(self, samples: Iterable[Sample]):
        self.by_id: dict[tuple[str, str], Sample] = {}
        self.by_start: dict[tuple[str, ...], list[tuple[str, Sample]]] = defaultdict(list)
        questions: dict[str, list[Sample]] = defaultdict(list)
        for sample in samples:
            self.by_id[(sample.task, str(sample.id))] = sample
            questions[" ".join(words(sample.question))].append(sample)
        for question, same in questions.items():
            if len(same) == 1 and len(first := question.split()) >= MIN_WORDS:
                self.by_start[tuple(first[:MIN_WORDS])].append((question, same[0]))

    def __len__(self) -> int:
        return len(self.by_id)

    def match(self, key: Key) -> Overlap | None:
        """The evaluation item ``key`` is, if any."""
        if key.task is not None and key.id is not None:
            same = self.by_id.get((key.task, str(key.id)))
            if same is not None:
                return Overlap(key, same, "id")
        text = words(key.text)
        joined = f" {' '.join(text)} "
        for start in range(len(text) - MIN_WORDS + 1):
            for question, sample in self.by_start.get(tuple(text[start : start + MIN_WORDS]), ()):
                if f" {question} " in joined:
                    return Overlap(key, sample, "question text")
        return None


def sample_key(sample: Sample) -> Key:
    return Key(sample.task, str(sample.id), sample.question)


def chat_key(row: dict[str, Any]) -> Key:
    """An SFT chat: its task and id when it came from a task (``task:NAME``), and the text of
    its user turns (the assistant's answer is not searched)."""
    texts = []
    for message in row.get("messages") or []:
        if message.get("role") != "user":
            continue
        content = message.get("content")
        if isinstance(content, str):
            texts.append(content)
        else:
            texts += [part.get("text") or "" for part in content or []
                      if isinstance(part, dict)]
    task, item = row.get("task"), row.get("id")
    return Key(task, None if item is None else str(item), "\n".join(texts))


def apply_policy(items: list[Item], key: Callable[[Item], Key], index: EvalIndex, what: str,
                 policy: str, record: Path | None = None) -> list[Item]:
    """``items`` under ``eval.train_overlap``: refused (UserError naming the overlap), the
    overlapping ones dropped (and listed in ``record``), or all of them kept."""
    if policy == "allow" or not len(index):
        return items
    found = [(i, o) for i, item in enumerate(items) if (o := index.match(key(item)))]
    if not found:
        return items
    examples = "; ".join(o.describe() for _, o in found[:EXAMPLES])
    if policy == "refuse":
        raise UserError(
            f"{len(found)} of {len(items)} {what} are evaluation items (eval.tasks): "
            f"{examples}{' ...' if len(found) > EXAMPLES else ''}. Training on them makes "
            "the scores meaningless: remove them, or set eval.train_overlap=drop to train "
            "without them (allow: train on them anyway)")
    if record is not None:
        record.parent.mkdir(parents=True, exist_ok=True)
        old = json.loads(record.read_text()) if record.is_file() else {}
        old[what] = {"dropped": len(found), "of": len(items),
                     "items": [o.describe() for _, o in found]}
        record.write_text(json.dumps(old, indent=2))
    dropped = {i for i, _ in found}
    return [item for i, item in enumerate(items) if i not in dropped]
