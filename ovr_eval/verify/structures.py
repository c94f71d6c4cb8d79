"""Compound answers: intervals and unions, tuples, sets and lists, compared element by element."""

from __future__ import annotations

from collections.abc import Callable

OPEN, CLOSE = "([{", ")]}"


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


def parse_compound(s: str) -> tuple[str, list[str]] | None:
    """(kind, elements) of a normalised compound answer, or None for a single value.

    kind is "set" (\\{...\\} or a bare comma list: order does not matter) or the pair of
    bracket characters, such as "[)", for tuples and intervals (order and brackets matter).
    """
    if s.startswith("\\begin{pmatrix}") and s.endswith("\\end{pmatrix}"):
        rows = s[len("\\begin{pmatrix}") : -len("\\end{pmatrix}")].split("\\\\")
        cells = [split_top_level(r, "&") for r in rows if r.strip()]
        if cells and len({len(r) for r in cells}) == 1:
            return f"matrix{len(cells)}x{len(cells[0])}", [c for r in cells for c in r]
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
        return "set", parts
    return None


def compare_compound(
    pred: str, gold: str, equal: Callable[[str, str], bool | None]
) -> bool | None:
    """Compare two compound answers with ``equal`` on elements; None when undecidable here."""
    p, g = parse_compound(pred), parse_compound(gold)
    if p is None and g is None:
        return None
    if p is None or g is None:
        return False  # one value against several
    (pk, pe), (gk, ge) = p, g
    if pk != gk or len(pe) != len(ge):
        return False
    if pk in ("set", "union"):
        remaining = list(ge)
        for element in pe:
            for i, candidate in enumerate(remaining):
                verdict = equal(element, candidate)
                if verdict is None:
                    return None
                if verdict:
                    del remaining[i]
                    break
            else:
                return False
        return True
    decided = True
    for a, b in zip(pe, ge, strict=True):
        verdict = equal(a, b)
        if verdict is False:
            return False
        if verdict is None:
            decided = False
    return True if decided else None
