"""Helpers shared by the OVR benchmark plugins: local file layouts, multiple-choice items,
per-response bookkeeping for grouped metrics (DynaMath, WeMath) and numeric re-judging."""

from __future__ import annotations

import hashlib
import random
import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from ovr_eval.metrics import mean_with_error
from ovr_tasks._common import LETTERS, format_choices

# -- local files ----------------------------------------------------------------------------


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


def read_parquet(files: Iterable[Path]) -> Any:
    """Rows of parquet files through ``datasets`` (images decoded as PIL images)."""
    import datasets

    return datasets.load_dataset("parquet", data_files=[str(p) for p in files], split="train")


# -- multiple choice ------------------------------------------------------------------------


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
_INLINE_OPTION = re.compile(r"\(([A-J])\)\s*(.*?)\s*(?=\([A-J]\)|$)", re.S)


def inline_choices(question: str) -> list[str] | None:
    """Option texts of a trailing "Choices: (A) yes (B) no" (or bare "(A) ... (B) ...") run,
    when the letters are A, B, ... in order."""
    match = _INLINE_CHOICES.search(question)
    if match:
        tail = match.group(1)
    elif "(A)" in question:
        tail = question[question.rfind("(A)") :]
    else:
        return None
    found = _INLINE_OPTION.findall(tail)
    if not found or [letter for letter, _ in found] != list(LETTERS[: len(found)]):
        return None
    return [text.strip().rstrip(";,") for _, text in found]


_LETTERED = re.compile(r"(?:^|;)\s*([A-J])\s*[.:)．]\s*")


def lettered_options(text: str) -> list[str] | None:
    """"A. 300, 400;B. 400, 300; E. None" -> option texts in letter order (WeMath style)."""
    marks = list(_LETTERED.finditer(text))
    if not marks or [m.group(1) for m in marks] != list(LETTERS[: len(marks)]):
        return None
    ends = [m.start() for m in marks[1:]] + [len(text)]
    spans = zip(marks, ends, strict=True)
    return [text[m.end() : end].strip().rstrip(";").strip() for m, end in spans]


# -- records --------------------------------------------------------------------------------


def multi_label_subsets(records: Sequence[dict[str, Any]], key: str) -> dict[str, Any]:
    """Scores per label for a metadata field holding a list (an item counts for each label)."""
    groups: dict[str, list[float]] = defaultdict(list)
    for record in records:
        labels = record.get("metadata", {}).get(key) or []
        labels = [labels] if isinstance(labels, str) else labels
        for label in labels:
            correct = record["correct"]
            groups[str(label)].append(sum(correct) / len(correct) if correct else 0.0)
    return {label: mean_with_error(values) for label, values in sorted(groups.items())}


_PLAIN_NUMBER = re.compile(r"[-+]?(?:\d+(?:\.\d*)?|\.\d+)")


def plain_number(text: str | None) -> float | None:
    """A bare number ("3.14", "$-2$", "1,000", "12.5%"); None for anything else."""
    if text is None:
        return None
    cleaned = str(text).strip().strip("$").strip().replace(",", "").rstrip("%").strip()
    if not _PLAIN_NUMBER.fullmatch(cleaned):
        return None
    return float(cleaned)


def rejudged(records: Sequence[dict[str, Any]],
             rule: Callable[[dict[str, Any], str | None], bool]) -> list[dict[str, Any]]:
    """Copies of the records where a response also counts as correct when ``rule(record,
    extracted)`` holds (a benchmark's own numeric tolerance). The saved records keep the
    verifier's verdicts; only the task's scores use these."""
    out = []
    for record in records:
        extracted = record.get("extracted") or [None] * len(record["correct"])
        pairs = zip(record["correct"], extracted, strict=False)
        correct = [bool(c) or rule(record, e) for c, e in pairs]
        out.append({**record, "correct": correct})
    return out


def round_robin(tables: dict[Any, Any]) -> Iterator[tuple[int, Any, dict[str, Any]]]:
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
                yield position, key, dict(row)
