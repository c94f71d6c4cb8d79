"""Compound answers: intervals and unions, tuples, sets and lists, compared element by element.

Works on normalised strings, where ``;`` separates the parts of an answer given as a list
("6 and 8", "(11,7) or (7,11)", "-12; -11") and ``,`` separates elements. A list of
assignments reads as values: ``p=5,q=2`` is the tuple ``(5,2)``, ``x_1=a,x_2=b`` the set
``{a, b}``.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from ovr_eval.verify.relations import as_interval

OPEN, CLOSE = "([{", ")]}"
_MATRIX_START, _MATRIX_END = "\\begin{pmatrix}", "\\end{pmatrix}"
_ASSIGNMENT = re.compile(r"^([a-zA-Z])(_\{?\w+\}?)?=(?=[^=<>]+$)(.+)$")


def split_top_level(text: str, separator: str = ",") -> list[str]:
    """Split on ``separator`` outside any brackets or braces."""
    parts, depth, start = [], 0, 0
    for i, ch in enumerate(text):
        if ch in OPEN:
            depth += 1
        elif ch in CLOSE:
            depth -= 1
        elif ch == separator and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    parts.append(text[start:])
    return [p.strip() for p in parts]


def _wrapped(text: str) -> bool:
    """True when the first bracket closes at the very end (so "(1)+(2)" is not wrapped)."""
    depth = 0
    for i, ch in enumerate(text):
        if ch in OPEN:
            depth += 1
        elif ch in CLOSE:
            depth -= 1
            if depth == 0 and i != len(text) - 1:
                return False
    return depth == 0


def _single_matrix(s: str) -> bool:
    return (s.startswith(_MATRIX_START) and s.endswith(_MATRIX_END)
            and s.count(_MATRIX_START) == 1 and s.count(_MATRIX_END) == 1)


def _assignments(parts: list[str]) -> tuple[str, list[str]] | None:
    """("()", values) for ``p=5,q=2`` (different variables, in the order written) or ("set",
    values) for ``x=1,x=2`` / ``x_1=a,x_2=b`` (one variable, several values)."""
    matches = [_ASSIGNMENT.match(p) for p in parts]
    if len(parts) < 2 or not all(matches):
        return None
    names = [m.group(1) + (m.group(2) or "") for m in matches if m]
    bases = {m.group(1) for m in matches if m}
    values = [m.group(3) for m in matches if m]
    if len(set(names)) == len(names) and len(bases) == len(names):
        return "()", values
    if len(bases) == 1:
        return "set", values
    return None


def parse_compound(s: str) -> tuple[str, list[str]] | None:
    """(kind, elements) of a normalised compound answer, or None for a single value.

    kind is "set" (\\{...\\}, a ``;`` list, or a bare comma list: order does not matter),
    "list" (a bare comma list, which may also stand for an unbracketed tuple), "matrixRxC",
    "union", or the pair of bracket characters, such as "[)", for tuples and intervals.
    """
    if _single_matrix(s):
        rows = s[len(_MATRIX_START) : -len(_MATRIX_END)].split("\\\\")
        cells = [split_top_level(r, "&") for r in rows if r.strip()]
        if cells and len({len(r) for r in cells}) == 1:
            return f"matrix{len(cells)}x{len(cells[0])}", [c for r in cells for c in r]
    strong = split_top_level(s, ";")
    if len(strong) >= 2 and all(strong):
        elements = []
        for part in strong:
            pieces = split_top_level(part)
            assigned = _assignments(pieces)
            if assigned and assigned[0] == "()":
                elements.append(f"({','.join(assigned[1])})")
            elif assigned or (len(pieces) > 1 and all(pieces)):  # "21,16 or 11": one list
                elements += assigned[1] if assigned else pieces
            else:
                elements.append(part)
        return "set", elements
    interval = as_interval(s)
    if interval is not None:
        s = interval
    if "\\cup" in s:
        pieces = [p for p in s.split("\\cup") if p]
        if len(pieces) > 1:
            return "union", pieces
    if s.startswith("\\{") and s.endswith("\\}"):
        return "set", split_top_level(s[2:-2])
    if len(s) >= 2 and s[0] in "([" and s[-1] in ")]" and _wrapped(s):
        inner = split_top_level(s[1:-1])
        if len(inner) >= 2:
            return s[0] + s[-1], inner
        return None
    parts = split_top_level(s)
    if len(parts) >= 2 and all(parts):
        assigned = _assignments(parts)
        if assigned is not None:
            return assigned
        intervals = [as_interval(p) for p in parts]
        if all(intervals):  # "x<-2, x>3" is a union of intervals
            return "union", [i for i in intervals if i]
        return "list", parts
    return None


def _same_kind(p: str, g: str, sizes_equal: bool) -> str | None:
    """How two kinds compare: "unordered", "ordered", or None when they cannot be equal."""
    unordered = {"set", "union", "list"}
    if p == g:
        return "unordered" if p in unordered else "ordered"
    if {p, g} <= unordered:
        return "unordered"
    if sizes_equal and "list" in (p, g) and "()" in (p, g):  # "1,3" written for "(1,3)"
        return "ordered"
    return None


def compare_compound(
    pred: str, gold: str, equal: Callable[[str, str], bool | None]
) -> bool | None:
    """Compare two compound answers with ``equal`` on elements; None when undecidable here.

    Unordered kinds match when every element of each side equals some element of the other
    (a repeated element is not a different answer); ordered kinds element by element."""
    p, g = parse_compound(pred), parse_compound(gold)
    if p is None and g is None:
        return None
    if p is None or g is None:
        present = p if p is not None else g
        assert present is not None
        if present[0].startswith("matrix"):
            return None  # an expression may evaluate to the matrix: a symbolic check decides
        return False  # one value against several
    (pk, pe), (gk, ge) = p, g
    how = _same_kind(pk, gk, len(pe) == len(ge))
    if how is None:
        return False
    if how == "unordered":
        return _covers(pe, ge, equal) and _covers(ge, pe, equal)
    if len(pe) != len(ge):
        return False
    decided = True
    for a, b in zip(pe, ge, strict=True):
        verdict = equal(a, b)
        if verdict is False:
            return False
        if verdict is None:
            decided = False
    return True if decided else None


def _covers(these: list[str], those: list[str],
            equal: Callable[[str, str], bool | None]) -> bool | None:
    """Every element of ``these`` equals some element of ``those`` (None: undecidable)."""
    undecided = False
    for element in these:
        unsure = False
        for candidate in those:  # the first equal candidate settles the element
            verdict = equal(element, candidate)
            if verdict is True:
                break
            unsure = unsure or verdict is None
        else:
            if not unsure:
                return False
            undecided = True
    return None if undecided else True
