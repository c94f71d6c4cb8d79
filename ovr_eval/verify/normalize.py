"""String normalisation of answers under MATH-style conventions (no parsing, no evaluation)."""

from __future__ import annotations

import math
import re
from fractions import Fraction

MAX_ANSWER_CHARS = 2_000  # a final answer longer than this is not compared

_UNICODE = {
    "√": "\\sqrt", "π": "\\pi", "×": "\\times", "·": "\\cdot", "−": "-", "–": "-",
    "≤": "\\le", "≥": "\\ge", "∞": "\\infty", "∪": "\\cup", "∩": "\\cap", "÷": "/",
    "\\leq": "\\le", "\\geq": "\\ge", "\\dfrac": "\\frac", "\\tfrac": "\\frac",
    "\\displaystyle": "", "\\left": "", "\\right": "", "\\!": "", "\\,": " ", "\\;": " ",
    "\\:": " ", "{,}": ",", "\\quad": " ", "\\qquad": " ", "\\$": "", "$": "",
    "\\%": "", "%": "", "°": "", "\\degree": "",
}
_TEXT_CMD = re.compile(r"\\(?:text|textbf|textit|mathrm|mbox|mathbf|operatorname)\s*\{([^{}]*)\}")
_UNITS = (
    r"cm|mm|km|m|meters?|centimeters?|kilometers?|inches|inch|in|feet|foot|ft|yards?|miles?|"
    r"units?|square\s*units|sq\.?\s*units|degrees?|cents?|dollars?|hours?|hrs?|minutes?|mins?|"
    r"seconds?|secs?|mph|kg|g|grams?|liters?|litres?|ml|l|days?|weeks?|years?|people|students?"
)
_TRAILING_UNIT = re.compile(rf"(?<=[\d}}a-zA-Z])\s*(?:{_UNITS})(?:\^\{{?[23]\}}?|²|³)?$")
_THOUSANDS = re.compile(r"(?<![\d.])(\d{1,3}(?:,\d{3})+)(?![\d,])")
_CIRC = re.compile(r"\^\s*\{?\s*\\circ\s*\}?|\\circ")
_PREFIX = re.compile(r"^[a-zA-Z](?:_\{?\w+\}?)?\s*=\s*(?=[^=<>]+$)")  # "x = 3" -> "3"


def normalize(answer: str) -> str:
    """A canonical string form: spacing, delimiters, \\left/\\right, units and such removed."""
    s = str(answer)[:MAX_ANSWER_CHARS].strip()
    s = s.replace("\n", " ")
    for old, new in _UNICODE.items():
        s = s.replace(old, new)
    s = re.sub(r"(?<!\\)\\ ", " ", s)  # "\ " is a space, "\\ " a matrix row end
    s = re.sub(r"\\begin\{[bBvV]?matrix\}", r"\\begin{pmatrix}", s)
    s = re.sub(r"\\end\{[bBvV]?matrix\}", r"\\end{pmatrix}", s)
    s = _CIRC.sub("", s)
    for _ in range(3):  # nested \text{\textbf{...}}
        s = _TEXT_CMD.sub(r"\1", s)
    s = s.strip().rstrip(".").strip()
    s = _TRAILING_UNIT.sub("", s).strip()
    s = _THOUSANDS.sub(lambda m: m.group(1).replace(",", ""), s)
    s = _PREFIX.sub("", s)
    s = s.rstrip(".").strip()
    # keep one space where it separates a command from a letter (\pi r), drop all others
    s = re.sub(r"(\\[a-zA-Z]+)\s+(?=[a-zA-Z])", r"\1 ", s)
    s = re.sub(r"(?<![a-zA-Z])\s+|\s+(?![a-zA-Z])", "", s)
    s = re.sub(r"\\frac(\d)(\d)", r"\\frac{\1}{\2}", s)  # \frac12
    s = re.sub(r"\\frac\{([^{}]+)\}(\d)", r"\\frac{\1}{\2}", s)
    s = re.sub(r"\\frac(\d)\{", r"\\frac{\1}{", s)
    s = re.sub(r"\\sqrt(\d+)", r"\\sqrt{\1}", s)
    s = re.sub(r"(?<![\d.])0+(?=\d)", "", s)  # leading zeros
    s = re.sub(r"(\.\d*?)0+(?=$|[^\d])", r"\1", s)  # trailing decimal zeros: 2.50 -> 2.5
    s = re.sub(r"(?<=\d)\.(?=$|[^\d])", "", s)  # 2. -> 2
    if s.startswith("{") and s.endswith("}") and s.count("{") == 1:
        s = s[1:-1]
    s = re.sub(r"^\(([A-Za-z])\)$", r"\1", s)  # (C) -> C
    if m := re.fullmatch(r"\\pm\{?([^{}]+?)\}?", s):  # \pm 3 -> 3,-3
        s = f"{m.group(1)},-{m.group(1)}"
    return s


_NUMBER = re.compile(r"^[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d{1,3})?$")
_FRACTION = re.compile(r"^([-+]?)\\frac\{([-+]?\d+(?:\.\d+)?)\}\{([-+]?\d+(?:\.\d+)?)\}$")
_SLASH = re.compile(r"^([-+]?\d+(?:\.\d+)?)/(\d+(?:\.\d+)?)$")
_MIXED = re.compile(r"^([-+]?)(\d+)\\frac\{(\d+)\}\{(\d+)\}$")
_SCIENTIFIC = re.compile(r"^([-+]?\d+(?:\.\d+)?)(?:\\times|\\cdot|\*|x)10\^\{?([-+]?\d{1,3})\}?$")
_POWER = re.compile(r"^([-+]?\d{1,6})\^\{?(\d{1,5})\}?$")
_FACTORIAL = re.compile(r"^(\d{1,3})!$")
_BASE = re.compile(r"^([0-9A-Za-z]+)_\{?(\d{1,2})\}?$")
MAX_DIGITS = 1_000


def based_number(normalized: str) -> tuple[str, int] | None:
    """(digits, base) for answers such as 1011_2."""
    m = _BASE.match(normalized)
    if m and 2 <= int(m.group(2)) <= 36:
        try:
            int(m.group(1), int(m.group(2)))
        except ValueError:
            return None
        return m.group(1).upper(), int(m.group(2))
    return None


def as_number(normalized: str) -> Fraction | None:
    """The exact value of a plain numeric answer, else None.

    Integers, decimals, a/b, \\frac{a}{b}, mixed numbers, scientific notation, small powers
    and factorials, and numbers in a base (1011_2); nothing is ever evaluated as code.
    """
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
        if m := _SCIENTIFIC.match(s):
            return Fraction(m.group(1)) * Fraction(10) ** int(m.group(2))
        if m := _POWER.match(s):
            base, exponent = int(m.group(1)), int(m.group(2))
            if abs(base) < 2 or exponent * math.log10(abs(base)) <= MAX_DIGITS:
                return Fraction(base) ** exponent
        if m := _FACTORIAL.match(s):
            return Fraction(math.factorial(int(m.group(1))))
        if based := based_number(s):
            return Fraction(int(based[0], based[1]))
    except (ZeroDivisionError, ValueError, OverflowError):
        return None
    return None
