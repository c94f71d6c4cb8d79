"""String normalisation of answers under MATH-style conventions (no parsing, no evaluation)."""

from __future__ import annotations

import re
from fractions import Fraction

_TEXT_CMD = re.compile(r"\\(?:text|textbf|mathrm|mbox|mathbf)\{([^{}]*)\}")
_UNITS = (
    r"cm|mm|km|m|meters?|centimeters?|inches|inch|in|feet|ft|units?|sq|square|degrees?|"
    r"cents?|dollars?|hours?|minutes?|seconds?|mph|kg|g|grams?|liters?|ml|l"
)
_TRAILING_UNIT = re.compile(rf"(?<=[\d}}])\s*(?:\\,|~|\s)*\s*(?:{_UNITS})(?:\^?\{{?[23]\}}?)?$")
_THOUSANDS = re.compile(r"(?<!\d)(\d{1,3}(?:,\d{3})+)(?![\d,])")


def normalize(answer: str) -> str:
    """A canonical string form: spacing, delimiters, \\left/\\right, units and such removed."""
    s = str(answer).strip()
    s = s.replace("\n", " ").replace("\\!", "").replace("\\,", " ").replace("\\;", " ")
    s = s.replace("\\ ", " ").replace("\\left", "").replace("\\right", "")
    s = s.replace("\\dfrac", "\\frac").replace("\\tfrac", "\\frac").replace("\\displaystyle", "")
    s = s.replace("$", "").replace("\\$", "")
    s = re.sub(r"\^\s*\{?\\circ\}?|°|\\degree", "", s)
    s = s.replace("\\%", "").replace("%", "")
    s = _TEXT_CMD.sub(r"\1", s)
    s = _TRAILING_UNIT.sub("", s.strip())
    s = _THOUSANDS.sub(lambda m: m.group(1).replace(",", ""), s)
    s = re.sub(r"^[a-zA-Z]\s*=\s*(?=[^=]+$)", "", s)  # "x = 3" -> "3"
    s = s.rstrip(".").strip()
    s = re.sub(r"\s+", "", s)
    s = re.sub(r"\\frac(\d)(\d)", r"\\frac{\1}{\2}", s)  # \frac12
    s = re.sub(r"\\frac\{([^{}]+)\}(\d)", r"\\frac{\1}{\2}", s)
    s = re.sub(r"\\sqrt(\d+)", r"\\sqrt{\1}", s)
    s = re.sub(r"^0+(?=\d)", "", s)
    return s


_NUMBER = re.compile(r"^[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?$")
_FRACTION = re.compile(r"^([-+]?)\\frac\{([-+]?\d+(?:\.\d+)?)\}\{([-+]?\d+(?:\.\d+)?)\}$")
_SLASH = re.compile(r"^([-+]?\d+(?:\.\d+)?)/(\d+(?:\.\d+)?)$")
_MIXED = re.compile(r"^([-+]?)(\d+)\\frac\{(\d+)\}\{(\d+)\}$")


def as_number(normalized: str) -> Fraction | None:
    """The exact value of a plain numeric answer (int, decimal, a/b, \\frac, mixed), else None."""
    s = normalized
    try:
        if _NUMBER.match(s):
            return Fraction(s)
        if m := _FRACTION.match(s):
            value = Fraction(m.group(2)) / Fraction(m.group(3))
            return -value if m.group(1) == "-" else value
        if m := _SLASH.match(s):
            return Fraction(m.group(1)) / Fraction(m.group(2))
        if m := _MIXED.match(s):
            value = int(m.group(2)) + Fraction(int(m.group(3)), int(m.group(4)))
            return -value if m.group(1) == "-" else value
    except (ZeroDivisionError, ValueError):
        return None
    return None
