"""The official scoring rules of the OVR benchmarks on saved records: numbers read from the
verifier's normalised answer, per-response official verdicts beside the verifier's, seeded
guesses where a benchmark's script guesses.

Helpers that build Samples from dataset rows are in ``ovr_tasks._rows``.
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import replace

from ovr_eval.metrics import Summary, record_units, summarize
from ovr_eval.records import Record
from ovr_eval.verify.normalize import as_number, normalize
from ovr_tasks._rows import LETTERS, stable_rng

# -- numbers ------------------------------------------------------------------------------------


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


# -- official verdicts -------------------------------------------------------------------------


# rule(record, j) -> (verdict, method) for response j, or None: the verifier's verdict stands
OfficialRule = Callable[[Record, int], "tuple[bool, str] | None"]


def official_records(records: Sequence[Record], rule: OfficialRule) -> list[Record]:
    """Copies of the records whose ``correct`` holds the benchmark's official verdicts and whose
    ``official_method`` says where each came from ("verifier" where ``rule`` returns None). The
    saved records keep the verifier's verdicts; only the task's scores use these copies."""
    out = []
    for record in records:
        correct, methods = [], []
        for j, verdict in enumerate(record.correct):
            decided = rule(record, j)
            correct.append(bool(verdict) if decided is None else decided[0])
            methods.append("verifier" if decided is None else decided[1])
        out.append(replace(record, correct=correct, official_method=methods))
    return out


def method_counts(records: Sequence[Record]) -> dict[str, int]:
    """How many responses each official rule decided (from :func:`official_records`)."""
    counts: dict[str, int] = defaultdict(int)
    for record in records:
        for method in record.official_method or ():
            counts[method] += 1
    return dict(sorted(counts.items()))


def verifier_summary(records: Sequence[Record]) -> Summary:
    """The headline as the verifier alone scores it (the saved records' verdicts)."""
    return summarize(record_units(records))


# -- multiple-choice fallbacks ------------------------------------------------------------------

_LETTER = re.compile(r"^[A-J]$")


def named_option(record: Record, j: int) -> str | None:
    """The option letter the verifier read in response j, or None when it named none."""
    extracted = record.extraction(j)
    return extracted if isinstance(extracted, str) and _LETTER.match(extracted) else None


def option_count(record: Record) -> int:
    """How many options the item offers (its choices; ten when it keeps none)."""
    return len(record.choices) if record.choices else 10


def seeded_guess(key: str, options: int) -> str:
    """A random option letter fixed by ``key`` (item id and response slot): the same guess on
    every run and machine, right once in ``options`` guesses on average."""
    return LETTERS[stable_rng(key).randrange(options)]


def guess_rule(record: Record, j: int) -> tuple[bool, str] | None:
    """MMMU's fallback for a multiple-choice item: when no option is named, a random option
    (seeded per response)."""
    if not record.choices or named_option(record, j) is not None:
        return None
    guess = seeded_guess(f"{record.id}/{j}", option_count(record))
    return guess == record.gold.strip(), "guess"
