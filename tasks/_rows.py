"""Helpers for task plugins that turn dataset rows into Samples: lettered options, image
placeholders, the local file layouts of benchmark releases.

Official scoring rules on saved records are in ``ovr_tasks._official``.
"""

from __future__ import annotations

import hashlib
import random
import re
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

LETTERS = "ABCDEFGHIJ"
_IMAGE_TAG = re.compile(r"<image\d*>")
IMAGE_ONLY_QUESTION = "Answer the question shown in the image."


# -- question text ------------------------------------------------------------------------------


def strip_image_tags(text: str) -> str:
    """Drop inline image placeholders such as <image1> (images go first in the message)."""
    return _IMAGE_TAG.sub("", text).strip()


def format_choices(choices: list[str]) -> str:
    """'Choices:' block, one lettered option per line."""
    lines = [f"({LETTERS[i]}) {c}" for i, c in enumerate(choices)]
    return "Choices:\n" + "\n".join(lines)


# -- local files --------------------------------------------------------------------------------


def folder_with_alias(data_dir: Path, name: str, aliases: Sequence[str]) -> Path:
    """``data_dir/name``, or the first existing ``data_dir/<alias>`` (e.g. ``aime24``)."""
    for candidate in (name, *aliases):
        if (data_dir / candidate).is_dir():
            return data_dir / candidate
    return data_dir / name


def parquet_files(folder: Path, split: str, configs: Sequence[str] = ("*",)) -> list[Path]:
    """Parquet files of a split: ``<split>*.parquet``, ``<split>/*.parquet`` or the hub's
    ``<config>/<split>-*.parquet`` layout (``all/test-00000-of-00001.parquet``)."""
    found = sorted(folder.glob(f"{split}*.parquet")) + sorted(folder.glob(f"{split}/*.parquet"))
    if not found:
        for config in configs:
            found += sorted(folder.glob(f"{glob_escape(config)}/{split}-*.parquet"))
    return found


def glob_escape(name: str) -> str:
    """A folder name usable in a glob pattern ("standard (10 options)" has no specials, but
    brackets would)."""
    return re.sub(r"([\[\]*?])", r"[\1]", name)


def round_robin(tables: dict[Any, Any]) -> Iterator[tuple[int, Any, Any]]:
    """(position, table key, row): row 1 of every table, then row 2, ... (shorter tables end)."""
    iterators = {key: iter(table) for key, table in tables.items()}
    position = 0
    while iterators:
        position += 1
        for key in list(iterators):
            row = next(iterators[key], None)
            if row is None:
                del iterators[key]
            else:
                yield position, key, row


# -- multiple choice ----------------------------------------------------------------------------


def stable_rng(key: str) -> random.Random:
    """A random generator seeded by a string (an item id): the same order on every machine."""
    return random.Random(int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big"))


def shuffled_options(correct: str, wrong: Sequence[str], key: str) -> tuple[list[str], str]:
    """The options in an order fixed by ``key``, and the letter of the correct one."""
    options = [correct, *wrong]
    order = list(range(len(options)))
    stable_rng(key).shuffle(order)
    shuffled = [options[i] for i in order]
    return shuffled, LETTERS[order.index(0)]


def option_letters(options: Sequence[Any]) -> list[str]:
    """The letters that name ``options`` ("A", "B", ...): a list, so "" is never a member."""
    return list(LETTERS[: len(options)])


def with_choices(question: str, options: Sequence[str]) -> str:
    """The question followed by its lettered options."""
    return f"{question.strip()}\n{format_choices(list(options))}"


_INLINE_CHOICES = re.compile(r"Choices?\s*:\s*(.*)$", re.S | re.I)
_OPTION_MARK = re.compile(r"\(([A-J])\)|(?<![A-Za-z0-9(])([A-J])\)")


def inline_choices(question: str) -> list[str] | None:
    """Option texts written in the question: a trailing "Choices: (A) yes (B) no", or the last
    run of "(A) ... (B) ..." / "A) 10 B) 12" marks, when the letters are A, B, ... in order."""
    match = _INLINE_CHOICES.search(question)
    tail = match.group(1) if match else question
    marks = [(m.start(), m.end(), m.group(1) or m.group(2)) for m in _OPTION_MARK.finditer(tail)]
    starts = [i for i, mark in enumerate(marks) if mark[2] == "A"]
    for first in reversed(starts):
        run = [marks[first]]
        for mark in marks[first + 1 :]:
            if mark[2] != LETTERS[len(run)]:
                break
            run.append(mark)
        if len(run) >= 2:
            ends = [mark[0] for mark in run[1:]] + [len(tail)]
            texts = [tail[mark[1] : end].strip().rstrip(";,").strip()
                     for mark, end in zip(run, ends, strict=True)]
            return texts
    return None


_LETTERED = re.compile(r"(?:^|;)\s*([A-J])\s*[.:)．]\s*")


def lettered_options(text: str) -> list[str] | None:
    """"A. 300, 400;B. 400, 300; E. None" -> option texts in letter order (WeMath style)."""
    marks = list(_LETTERED.finditer(text))
    if not marks or [m.group(1) for m in marks] != list(LETTERS[: len(marks)]):
        return None
    ends = [m.start() for m in marks[1:]] + [len(text)]
    spans = zip(marks, ends, strict=True)
    return [text[m.end() : end].strip().rstrip(";").strip() for m, end in spans]
