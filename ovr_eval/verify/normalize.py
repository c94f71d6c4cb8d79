"""String normalisation of answers under MATH-style conventions (no parsing, no evaluation).

``normalize`` maps the many ways of writing one answer to one string: LaTeX spacing and
delimiters, \\left/\\right, text wrappers, units and unit words, degrees, thousands separators
of a lone number, relation spellings (``>=``, ``\\geq``, ``≥``), list separators (``;``,
"and", "or", ``\\quad``), JSON escape damage (``\\f`` read as a form feed). Percent signs are
kept as a trailing ``%`` so that ``10%`` can also mean 0.1 (see ``equivalence.numbers_equal``).
"""

from __future__ import annotations

import math
import re
from fractions import Fraction

MAX_ANSWER_CHARS = 2_000  # a final answer longer than this is not compared

# JSON and Python string escapes that ate a LaTeX backslash: "\frac" written without escaping
# reaches us as form feed + "rac", "\beta" as backspace + "eta", "\times" as tab + "imes".
_ESCAPE_DAMAGE = {"\x0c": "\\f", "\x08": "\\b", "\x07": "\\a", "\x0b": "\\v"}
_TAB_OR_CR_COMMAND = re.compile(r"\t(?=imes|ext|heta|au|an\b|frac|riangle)|\r(?=ight|ho\b|angle)")
# A command written with a doubled backslash ("\\frac" from a double-escaped response).
_DOUBLED = re.compile(
    r"(?<!\\)\\\\(?=(?:frac|dfrac|tfrac|sqrt|left|right|boxed|text|textbf|mathrm|mathbf|le|leq|ge|"
    r"geq|ne|neq|lt|gt|pi|infty|cdot|times|circ|in|cup|cap|pm|mp|div|alpha|beta|gamma|theta|"
    r"degree|quad|qquad)(?![a-zA-Z]))")

_UNICODE = {
    "√": "\\sqrt", "π": "\\pi ", "×": "\\times", "·": "\\cdot", "−": "-", "–": "-", "—": "-",
    "≤": "\\le", "≥": "\\ge", "≠": "\\ne", "∞": "\\infty", "∪": "\\cup", "∩": "\\cap",
    "÷": "/", "∈": "\\in", "±": "\\pm", "²": "^2", "³": "^3",
    "∅": "\\emptyset", "\\varnothing": "\\emptyset", "\\{\\}": "\\emptyset",
    "\\leqslant": "\\le", "\\geqslant": "\\ge", "\\leq": "\\le", "\\geq": "\\ge",
    "\\neq": "\\ne", "\\lt": "<", "\\gt": ">", ">=": "\\ge", "<=": "\\le", "!=": "\\ne",
    "\\dfrac": "\\frac", "\\tfrac": "\\frac", "\\cfrac": "\\frac",
    "\\displaystyle": "", "\\left": "", "\\right": "", "\\big": "", "\\Big": "",
    "\\!": "", "\\,": " ", "\\;": " ", "\\:": " ", "\\qquad": " ", "\\quad": " ",
    "\\$": "", "$": "", "\\%": "%", "°": "", "\\degree": "", "\\infinity": "\\infty",
    "\\(": " ", "\\)": " ", "\\[": " ", "\\]": " ", "€": "", "£": "", "¥": "", "₹": "",
    '\\"': "", '"': "", "“": "", "”": "",
}
_TEXT_CMD = re.compile(
    r"\\(?:text|textbf|textit|textrm|textnormal|mathrm|mbox|mathbf|mathit|operatorname|hbox)"
    r"\s*\{([^{}]*)\}")
_UNITS = (
    r"cm|mm|km|m|meters?|metres?|centimeters?|millimeters?|kilometers?|inches|inch|in|feet|foot|"
    r"ft|yards?|yd|miles?|mi|units?|square\s*units|sq\.?\s*units|degrees?|deg|radians?|rad|"
    r"cents?|dollars?|euros?|yuan|hours?|hrs?|h|minutes?|mins?|seconds?|secs?|s|mph|km/h|m/s|"
    r"kg|g|grams?|kilograms?|mg|lbs?|pounds?|liters?|litres?|ml|mL|l|L|days?|weeks?|months?|"
    r"years?|people|persons?|students?|times|N|J|W|V|A|Pa|kPa|Hz|cal|kcal|kWh|ohms?|"
    r"cm\^\{?[23]\}?|m\^\{?[23]\}?|cm²|cm³|m²|m³"
)
# a unit ends an answer after its value: a digit, a closing brace or bracket, or a constant
_AFTER_VALUE = r"(?:(?<=[\d})])|(?<=\\pi)|(?<=\\pi )|(?<=\\infty))"
_TRAILING_UNIT = re.compile(rf"{_AFTER_VALUE}\s*(?P<unit>{_UNITS})(?:\^\{{?[23]\}}?|²|³)?\.?$")
# a written unit after its value, simple or compound: one or more \text{...} words, each with
# an exponent or not, joined by spaces, \cdot, "/" or thin spaces ("15000 \text{ kcal m}^{-2}
# \text{ yr}^{-1}", "7\,\text{kg}\cdot\text{m}^2"); a group holding a digit is no unit
_UNIT_GROUP = (r"\\(?:text|mathrm|mbox|textbf|textrm)\s*\{[^{}\d]*\}"
               r"(?:\^\s*\{?\s*[-−]?\d\s*\}?|²|³)?")
_UNIT_JOIN = r"(?:\s|\\[,;:!]|\\cdot|/|~)*"
_TRAILING_TEXT_UNIT = re.compile(rf"{_AFTER_VALUE}(?:{_UNIT_JOIN}{_UNIT_GROUP})+\s*$")
# "12^{\text{th}}", "3rd": an ordinal is its number
_ORDINAL = re.compile(r"(?<=\d)\s*(?:\^\s*\{?\s*(?:\\(?:text|mathrm)\s*\{)?"
                      r"|\\(?:text|mathrm)\s*\{)?(?:st|nd|rd|th)\b\}?\}?(?![a-zA-Z])")
# "4 4/9", "4\ 4/9": a whole number and a fraction written apart are a mixed number
_SPACED_MIXED = re.compile(r"^([-+]?\d+)\s+(\d+)/(\d+)$")
# a number followed only by words ("10 Newton-meters", "6 apples"): the words are its unit
_NUMBER_WORDS = re.compile(r"^([-+]?(?:\d+(?:\.\d+)?|\\frac\{\d+\}\{\d+\}))\s+(?!(?:and|or)\b)"
                           r"[A-Za-z][A-Za-z\-']+(?:\s+[A-Za-z][A-Za-z\-']+){0,2}$")
# "5 a.m.", "5\\text{ pm}": the time of day is kept as am/pm, never dropped as a unit
_TIME_OF_DAY = re.compile(r"(?<=\d)\s*(?:\\(?:text|mathrm)\s*\{\s*)?([aApP])\.?\s*[mM]\.?(?:\s*\})?"
                          r"(?![a-zA-Z])")
# the whole real line, however it is named
_REALS = re.compile(r"^(?:x\s*\\in\s*)?(?:\\mathbb\s*\{?\s*R\s*\}?|ℝ|\\R"
                    r"|(?:all\s+)?real\s+numbers)$", re.I)
_ONES_WORDS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine",
                "ten", "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen",
                "seventeen", "eighteen", "nineteen"]
_TENS_WORDS = ["twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]
NUMBER_WORD = (r"(?:(?:" + "|".join(_TENS_WORDS) + r")(?:[-\s](?:" + "|".join(_ONES_WORDS[1:10])
               + r"))?|" + "|".join(_ONES_WORDS) + r")")
_NUMBER_WORD = re.compile(rf"^{NUMBER_WORD}$", re.I)


def number_word_value(word: str) -> int | None:
    """The value of a number written as a word ("three" -> 3, "twenty-one" -> 21)."""
    if not _NUMBER_WORD.match(word.strip()):
        return None
    parts = re.split(r"[-\s]+", word.strip().lower())
    if parts[0] in _TENS_WORDS:
        tens = 10 * (_TENS_WORDS.index(parts[0]) + 2)
        return tens + (_ONES_WORDS.index(parts[1]) if len(parts) > 1 else 0)
    return _ONES_WORDS.index(parts[0])


# pi written as a word ("2pi", "pi/2")
_PI_WORD = re.compile(r"(?<![a-zA-Z\\])pi(?![a-zA-Z])")
# a one-character subscript written without braces: E_1 is E_{1}
_BARE_SUBSCRIPT = re.compile(r"_(?=[A-Za-z0-9])([A-Za-z0-9])")
_PERCENT_WORD = re.compile(r"(?<=[\d}])\s*(?:\\%|%|percent(?:age)?|pct)(?![a-zA-Z])", re.I)
_LONE_THOUSANDS = re.compile(r"[-+]?\d{1,3}(?:,\d{3})+(?:\.\d+)?")
_MARKED_THOUSANDS = re.compile(r"(?<=\d)(?:\{,\}|\{\s*,\s*\}|,\\!\s*)(?=\d{3})")
_CIRC = re.compile(r"\^\s*\{?\s*\\circ\s*\}?|\\circ")
_SEPARATOR_WORDS = re.compile(r"(?:\s+|(?<=[\d)\]}]))(?:and|or)(?:\s+|(?=[\d(\[\\-]))", re.I)
_TEXT_SEPARATOR = re.compile(r"\\text\s*\{\s*(?:and|or|,)\s*\}", re.I)
_SET_MEMBER = re.compile(r"^[a-zA-Z](?:_\{?\w+\}?)?\s*\\in(?![a-zA-Z])\s*")
_TUPLE_LABEL = re.compile(r"^\(\s*[a-zA-Z](?:_\{?\w+\}?)?(?:\s*,\s*[a-zA-Z](?:_\{?\w+\}?)?)+\s*\)"
                          r"\s*=\s*(?=[(\[])")
_ARRAY = re.compile(r"(?:\\left)?\s*[\[(]?\s*\\begin\{array\}\{[^{}]*\}(.*?)\\end\{array\}\s*"
                    r"(?:\\right)?\s*[\])]?", re.S)
_LETTER_IN_COMMAND = re.compile(r"\\[a-zA-Z]+")


def repair_escapes(s: str) -> str:
    """Undo JSON/Python escape damage: form feed + "rac" is \\frac, a doubled backslash
    before a known command is one."""
    for old, new in _ESCAPE_DAMAGE.items():
        s = s.replace(old, new)
    s = _TAB_OR_CR_COMMAND.sub(lambda m: "\\t" if m.group(0) == "\t" else "\\r", s)
    return _DOUBLED.sub(r"\\", s)


def _top_level_semicolons(s: str) -> str:
    """';' inside brackets separates a tuple's parts (",") and stays a list separator outside."""
    out, depth = [], 0
    for ch in s:
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        out.append("," if ch == ";" and depth > 0 else ch)
    return "".join(out)


def _tidy_separators(s: str) -> str:
    s = _top_level_semicolons(s)
    s = re.sub(r"\s*;[\s;,]*", ";", s)  # ",\quad" and repeated separators are one separator
    s = re.sub(r",\s*;", ";", s)
    return s.strip(";").strip()


def lone_number_thousands(s: str) -> str:
    """'12,000,023' -> '12000023' when the whole answer is one number written with separators
    (inside a tuple or list "1,100" stays two numbers)."""
    if _LONE_THOUSANDS.fullmatch(s):
        return s.replace(",", "")
    return s


def equation_value(s: str) -> str:
    """'5\\times6\\times4=120' -> '120': a chain of equalities that starts from a value with no
    variable (a computation) stands for its last side; a real equation is left alone."""
    if "=" not in s or re.search(r"\\(?:le|ge|ne)|[<>]", s):
        return s
    sides = s.split("=")
    if len(sides) < 2 or not all(sides):
        return s
    if has_variable(sides[0]) or has_variable(sides[-1]):
        return s  # an equation such as "7 = 11a + c", not a computation
    return sides[-1]


_VALUE_COMMANDS = frozenset({
    "frac", "dfrac", "tfrac", "sqrt", "cdot", "times", "div", "pi", "circ", "infty", "log", "ln",
    "sin", "cos", "tan", "cot", "sec", "csc", "arcsin", "arccos", "arctan", "exp", "pm", "mp",
    "left", "right", "text", "mathrm", "e",
})


def has_variable(text: str) -> bool:
    """Whether a side of an equation names a variable: a letter outside LaTeX commands, or a
    command that is not a number or an operation (\\alpha, \\theta)."""
    commands = _LETTER_IN_COMMAND.findall(text)
    if any(c[1:] not in _VALUE_COMMANDS for c in commands):
        return True
    return re.search(r"[a-zA-Z]", _LETTER_IN_COMMAND.sub("", text)) is not None


def normalize(answer: str, keep_label: bool = False, keep_letter_unit: bool = False) -> str:
    """A canonical string form: spacing, delimiters, \\left/\\right, units and such removed.

    ``keep_label``: keep a leading "variable =" (needed to compare equations as equations).
    ``keep_letter_unit``: keep a trailing one-letter unit ("m", "h"), which may be a variable
    (see ``normalize_pair``)."""
    s = repair_escapes(str(answer)[:MAX_ANSWER_CHARS]).strip()
    s = s.replace("\n", " ")
    s = _TEXT_SEPARATOR.sub(";", s)
    s = _REALS.sub(r"(-\\infty,\\infty)", s.strip())
    if (as_word := number_word_value(s)) is not None:  # "three" is 3
        s = str(as_word)
    s = _TIME_OF_DAY.sub(lambda m: f"{m.group(1).lower()}m", s)
    s = _ARRAY.sub(r"\\begin{pmatrix}\1\\end{pmatrix}", s)
    s = _MARKED_THOUSANDS.sub("", s)
    for old, new in _UNICODE.items():
        s = s.replace(old, new)
    s = re.sub(r"(?<!\\)\\ ", " ", s)  # "\ " is a space, "\\ " a matrix row end
    s = re.sub(r"\\begin\{[bBvV]?matrix\}", r"\\begin{pmatrix}", s)
    s = re.sub(r"\\end\{[bBvV]?matrix\}", r"\\end{pmatrix}", s)
    s = _CIRC.sub("", s)
    s = _PERCENT_WORD.sub("%", s)
    s = _ORDINAL.sub("", s)
    s = _PI_WORD.sub(r"\\pi ", s)
    s = _TRAILING_TEXT_UNIT.sub("", s.strip())
    for _ in range(3):  # nested \text{\textbf{...}}
        s = _TEXT_CMD.sub(r"\1", s)
    s = s.strip().rstrip(".").strip()
    s = re.sub(r"(?<!\\)\\+$", "", s).strip()  # a stray trailing backslash: "185\"
    s = _TRAILING_UNIT.sub(lambda m: m.group(0) if keep_letter_unit and len(m.group("unit")) == 1
                           else "", s).strip()
    s = _NUMBER_WORDS.sub(r"\1", s)
    s = _SPACED_MIXED.sub(r"\1\\frac{\2}{\3}", s)
    s = _SEPARATOR_WORDS.sub(";", s)
    s = _SET_MEMBER.sub("", s)
    s = _TUPLE_LABEL.sub("", s)
    s = s.rstrip(".").strip()
    if not keep_label:
        s = strip_label(s).strip()
    s = lone_number_thousands(s)
    # keep one space where it separates a command from a letter (\pi r), drop all others
    s = re.sub(r"(\\[a-zA-Z]+)\s+(?=[a-zA-Z])", r"\1 ", s)
    s = re.sub(r"(?<![a-zA-Z])\s+|\s+(?![a-zA-Z])", "", s)
    s = _tidy_separators(s)
    s = re.sub(r"\\frac(\d)(\d)", r"\\frac{\1}{\2}", s)  # \frac12
    s = re.sub(r"\\frac\{([^{}]+)\}(\d)", r"\\frac{\1}{\2}", s)
    s = re.sub(r"\\frac(\d)\{", r"\\frac{\1}{", s)
    s = re.sub(r"\\sqrt(\d+)", r"\\sqrt{\1}", s)
    s = _BARE_SUBSCRIPT.sub(r"_{\1}", s)
    s = re.sub(r"(?<![\d.])0+(?=\d)", "", s)  # leading zeros
    s = re.sub(r"(\.\d*?)0+(?=$|[^\d])", r"\1", s)  # trailing decimal zeros: 2.50 -> 2.5
    s = re.sub(r"(?<=\d)\.(?=$|[^\d\\(])", "", s)  # 2. -> 2 (not 0.\overline{3}, 2.(45))
    s = re.sub(r"\+?\\infty", r"\\infty", s)
    if s.startswith("{") and s.endswith("}") and _wrapped_once(s):
        s = s[1:-1]
    s = re.sub(r"^\(([A-Za-z])\)$", r"\1", s)  # (C) -> C
    if m := re.fullmatch(r"\\pm\{?([^{}]+?)\}?", s):  # \pm 3 -> 3,-3
        s = f"{m.group(1)},-{m.group(1)}"
    return equation_value(s)


def normalize_pair(pred: str, gold: str) -> tuple[str, str]:
    """Both answers normalised for comparison with each other: a trailing one-letter unit
    ("m", "h", "s") is a unit only when the other answer names no variable ("9.25 m" = "9.25",
    but in "\\frac{37}{4}m" against "\\frac{37m}{4}" the m is a variable)."""
    p, g = normalize(pred), normalize(gold)
    p_kept, g_kept = normalize(pred, keep_letter_unit=True), normalize(gold, keep_letter_unit=True)
    if p != p_kept and has_variable(g_kept):
        p = p_kept
    if g != g_kept and has_variable(p_kept):
        g = g_kept
    return p, g


def _wrapped_once(s: str) -> bool:
    """True when the opening brace of ``s`` closes at its very end ("{1,3}" but not "{a}{b}")."""
    depth = 0
    for i, ch in enumerate(s):
        depth += ch == "{"
        depth -= ch == "}"
        if depth == 0 and i != len(s) - 1:
            return False
    return depth == 0


_LABEL = re.compile(
    r"^(?:[a-zA-Z](?:_\{?\w+\}?)?(?:\([a-zA-Z]\))?|\\[a-zA-Z]+)\s*=\s*(?=[^=<>]+$)")


def strip_label(normalized: str) -> str:
    """'x=3' -> '3', 'f(x)=2x+1' -> '2x+1': an answer given as "variable = value"."""
    return _LABEL.sub("", normalized, count=1)


def split_percent(normalized: str) -> tuple[str, bool]:
    """('28', True) for '28%': the value and whether it was written as a percentage."""
    if normalized.endswith("%") and len(normalized) > 1:
        return normalized[:-1], True
    return normalized, False


_NUMBER = re.compile(r"^[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d{1,3})?$")
_FRACTION = re.compile(r"^([-+]?)\\frac\{([-+]?\d+(?:\.\d+)?)\}\{([-+]?\d+(?:\.\d+)?)\}$")
_SLASH = re.compile(r"^([-+]?\d+(?:\.\d+)?)/(\d+(?:\.\d+)?)$")
_MIXED = re.compile(r"^([-+]?)(\d+)\\frac\{(\d+)\}\{(\d+)\}$")
_SCIENTIFIC = re.compile(r"^([-+]?\d+(?:\.\d+)?)(?:\\times|\\cdot|\*|x)10\^\{?([-+]?\d{1,3})\}?$")
_REPEATING = re.compile(r"^([-+]?)(\d*)\.(\d*)(?:\\overline\{(\d+)\}|\\dot\{(\d)\}|\((\d+)\))$")
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
        if m := _REPEATING.match(s):  # 0.1\overline{6} = 1/6
            sign, whole, fixed = m.group(1), m.group(2) or "0", m.group(3)
            cycle = next(g for g in m.groups()[3:] if g)
            value = (Fraction(int(whole + fixed or "0"), 10 ** len(fixed))
                     + Fraction(int(cycle), (10 ** len(cycle) - 1) * 10 ** len(fixed)))
            return -value if sign == "-" else value
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
