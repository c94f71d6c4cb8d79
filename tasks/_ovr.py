"""Helpers shared by the OVR benchmark plugins: local file layouts, multiple-choice items, and
the official scoring rules (numbers read from the verifier's normalised answer, per-response
official verdicts beside the verifier's, seeded guesses where a benchmark's script guesses)."""

from __future__ import annotations

import hashlib
import math
import random
import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from ovr_eval.metrics import record_units, summarize
from ovr_eval.verify.normalize import as_number, normalize
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


# -- records and official rules ---------------------------------------------------------------


_PI_MULTIPLE = re.compile(r"^([-+]?[^{}\\]*)\\pi$")  # 2\pi, -\pi, 0.5\pi
_PI_FRACTION = re.compile(r"^([-+]?)\\frac\{([^{}\\]*)\\pi\}\{([^{}]+)\}$")  # \frac{2\pi}{3}


def _coefficient(text: str) -> float | None:
    if text in ("", "+"):
        return 1.0
    if text == "-":
        return -1.0
    value = as_number(text)
    return None if value is None else float(value)


def numeric_value(answer: str | None) -> float | None:
    """The number an extracted answer states, read from the verifier's normalised form (units,
    \\text{}, degrees and thousands separators stripped): "2.094 \\text{ cm}", "2.094^\\circ",
    "2.094 units" -> 2.094; fractions, mixed numbers and scientific notation as the verifier
    reads them; multiples of pi ("2\\pi", "\\frac{2\\pi}{3}") as floats. None otherwise."""
    if answer is None:
        return None
    text = normalize(str(answer))
    try:
        value = as_number(text)
        return _pi_multiple(text) if value is None else float(value)
    except OverflowError:  # 10^400 is a number, not a float
        return None


def _pi_multiple(text: str) -> float | None:
    if match := _PI_FRACTION.match(text):
        numerator, denominator = _coefficient(match.group(2)), as_number(match.group(3))
        if numerator is None or not denominator:
            return None
        sign = -1.0 if match.group(1) == "-" else 1.0
        return sign * numerator * math.pi / float(denominator)
    if match := _PI_MULTIPLE.match(text):
        coefficient = _coefficient(match.group(1))
        return None if coefficient is None else coefficient * math.pi
    return None


def plain_number(text: str | None) -> float | None:
    """A gold answer written as a bare number ("3.14", "-2", "1,000"); None otherwise."""
    if text is None:
        return None
    cleaned = str(text).strip().replace(",", "")
    try:
        value = float(cleaned)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


# rule(record, j) -> (verdict, method) for response j, or None: the verifier's verdict stands
OfficialRule = Callable[[dict[str, Any], int], "tuple[bool, str] | None"]


def extracted_at(record: dict[str, Any], j: int) -> str | None:
    """The verifier's extracted answer of response j (None when absent)."""
    extracted = record.get("extracted") or []
    return extracted[j] if j < len(extracted) else None


def response_at(record: dict[str, Any], j: int) -> str:
    """Response j's text ("" when the record keeps none)."""
    responses = record.get("responses") or []
    return str(responses[j] or "") if j < len(responses) else ""


def official_records(records: Sequence[dict[str, Any]], rule: OfficialRule
                     ) -> list[dict[str, Any]]:
    """Copies of the records whose ``correct`` holds the benchmark's official verdicts and whose
    ``official_method`` says where each came from ("verifier" where ``rule`` returns None). The
    saved records keep the verifier's verdicts; only the task's scores use these copies."""
    out = []
    for record in records:
        correct, methods = [], []
        for j, verdict in enumerate(record["correct"]):
            decided = rule(record, j)
            correct.append(bool(verdict) if decided is None else decided[0])
            methods.append("verifier" if decided is None else decided[1])
        out.append({**record, "correct": correct, "official_method": methods})
    return out


def method_counts(records: Sequence[dict[str, Any]]) -> dict[str, int]:
    """How many responses each official rule decided (from :func:`official_records`)."""
    counts: dict[str, int] = defaultdict(int)
    for record in records:
        for method in record.get("official_method", ()):
            counts[method] += 1
    return dict(sorted(counts.items()))


def verifier_summary(records: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """The headline as the verifier alone scores it (the saved records' verdicts)."""
    return summarize(record_units(records))


# -- multiple-choice fallbacks ---------------------------------------------------------------

_LETTER = re.compile(r"^[A-J]$")


def named_option(record: dict[str, Any], j: int) -> str | None:
    """The option letter the verifier read in response j, or None when it named none."""
    extracted = extracted_at(record, j)
    return extracted if isinstance(extracted, str) and _LETTER.match(extracted) else None


def option_count(record: dict[str, Any]) -> int:
    """How many options the item offers (its choices; ten when it keeps none)."""
    choices = record.get("choices")
    return len(choices) if choices else 10


def seeded_guess(key: str, options: int) -> str:
    """A random option letter fixed by ``key`` (item id and response slot): the same guess on
    every run and machine, right once in ``options`` guesses on average."""
    return LETTERS[stable_rng(key).randrange(options)]


def guess_rule(record: dict[str, Any], j: int) -> tuple[bool, str] | None:
    """MMMU's fallback for a multiple-choice item: when no option is named, a random option
    (seeded per response)."""
    if not record.get("choices") or named_option(record, j) is not None:
        return None
    guess = seeded_guess(f"{record['id']}/{j}", option_count(record))
    return guess == str(record.get("gold", "")).strip(), "guess"


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
