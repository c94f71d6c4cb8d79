"""Inequalities as intervals: ``x\\ge5`` is ``[5,\\infty)``, ``-2\\lex\\le7`` is ``[-2,7]``.

Works on normalised strings (no spaces, relations spelled ``<``, ``>``, ``\\le``, ``\\ge``,
``\\ne``). One variable (``x``, ``x_1``, ``f(x)``, ``|z|`` is left alone) compared with values
that contain no variable; anything else is not an inequality this module rewrites.
"""

from __future__ import annotations

import re

_VARIABLE = r"-?[a-zA-Z](?:_\{?\w+\}?)?(?:\([a-zA-Z]\))?"
_RELATION = r"<|>|\\le|\\ge"
_VALUE = r"[^<>=;,]+?"
_ONE_SIDED = re.compile(rf"^({_VARIABLE})({_RELATION})({_VALUE})$")
_ONE_SIDED_REVERSED = re.compile(rf"^({_VALUE})({_RELATION})({_VARIABLE})$")
_CHAINED = re.compile(rf"^({_VALUE})({_RELATION})({_VARIABLE})({_RELATION})({_VALUE})$")
_NOT_EQUAL = re.compile(rf"^({_VARIABLE})\\ne({_VALUE})$")
_FLIP = {"<": ">", ">": "<", "\\le": "\\ge", "\\ge": "\\le"}
_COMMAND = re.compile(r"\\[a-zA-Z]+")


def _is_value(text: str) -> bool:
    """A side with no variable: digits, \\frac, \\sqrt, \\pi, \\infty ... but no bare letter."""
    return bool(text) and not re.search(r"[a-zA-Z]", _COMMAND.sub("", text))


def _bound(relation: str, value: str) -> tuple[str, str, str, str]:
    """(left bracket, low, high, right bracket) of ``variable <relation> value``."""
    if relation in ("<", "\\le"):
        return "(", "-\\infty", value, ")" if relation == "<" else "]"
    return "(" if relation == ">" else "[", value, "\\infty", ")"


def _negated(value: str) -> str:
    return value[1:] if value.startswith("-") else f"-{value}"


def _positive(variable: str, relation: str, value: str) -> tuple[str, str]:
    """``-x > -1`` read as ``x < 1``: (relation, value) for the variable itself."""
    if variable.startswith("-"):
        return _FLIP[relation], _negated(value)
    return relation, value


def as_interval(normalized: str) -> str | None:
    """The interval a one-variable inequality describes, as a normalised string; else None."""
    s = normalized.replace(" ", "")
    if m := _NOT_EQUAL.match(s):
        value = m.group(2) if not m.group(1).startswith("-") else _negated(m.group(2))
        if _is_value(value):
            return f"(-\\infty,{value})\\cup({value},\\infty)"
        return None
    if m := _CHAINED.match(s):
        low, rel1, variable, rel2, high = m.groups()
        if variable.startswith("-"):  # -1 < -x < 2 is -2 < x < 1
            low, high = _negated(high), _negated(low)
        if not (_is_value(low) and _is_value(high)):
            return None
        if rel1 in (">", "\\ge") and rel2 in (">", "\\ge"):  # 7 >= x >= -2
            low, high, rel1, rel2 = high, low, _FLIP[rel2], _FLIP[rel1]
        if rel1 in ("<", "\\le") and rel2 in ("<", "\\le"):
            left = "(" if rel1 == "<" else "["
            right = ")" if rel2 == "<" else "]"
            return f"{left}{low},{high}{right}"
        return None
    if m := _ONE_SIDED.match(s):
        variable, relation, value = m.groups()
    elif m := _ONE_SIDED_REVERSED.match(s):
        value, relation, variable = m.groups()
        relation = _FLIP[relation]
    else:
        return None
    relation, value = _positive(variable, relation, value)
    if not _is_value(value):
        return None
    left, low, high, right = _bound(relation, value)
    return f"{left}{low},{high}{right}"
