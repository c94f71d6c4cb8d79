"""Decide whether a predicted answer equals the gold one.

``cheap_equal`` decides what plain string and number rules can (exact, numeric, percent, text,
intervals, compound answers made of such parts) and says "undecided" (None) otherwise.
``full_equal`` adds symbolic comparison through math-verify's LaTeX grammar
(latex2sympy2_extended), equations compared up to rearrangement; it is run in worker processes
under a hard limit. Model text never reaches ``eval``, ``sympify`` or ``parse_expr``.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from fractions import Fraction
from typing import Any

from ovr_eval.verify.arithmetic import value_of, values_equal
from ovr_eval.verify.normalize import (
    MAX_ANSWER_CHARS,
    as_number,
    based_number,
    has_variable,
    normalize,
    normalize_pair,
    split_percent,
)
from ovr_eval.verify.relations import as_interval
from ovr_eval.verify.structures import compare_compound

MAX_SYMBOLIC_CHARS = 400
DEFAULT_TIMEOUT_S = 2.0
_WORD = re.compile(r"^[A-Za-z][A-Za-z\s\-']*$")
_ARTICLE = re.compile(r"^(?:the|a|an)\s+", re.I)
_BARE_LOG = re.compile(r"\\log(?!_|[a-zA-Z])")
# hyperbolic functions, which an answer may write through exponentials instead
_HYPERBOLIC = re.compile(r"\\(?:operatorname\s*\{\s*)?(?:a?(?:sinh|cosh|tanh|coth|sech|csch))"
                         r"(?![a-zA-Z])")


def numbers_equal(a: Fraction, b: Fraction) -> bool:
    """Equal up to a relative 1e-6 (decimals written with rounding noise still match)."""
    tolerance = abs(b) * Fraction(1, 10**6) if b else Fraction(1, 10**9)
    return abs(a - b) <= tolerance


def _numeric(pred: str, gold: str) -> tuple[bool | None, str]:
    """Numbers compared by value: exactly for plain numbers, in floating point (relative 1e-9)
    for closed forms such as 2\\sqrt{3}; a percentage also matches its fraction (10% = 0.1)."""
    (p_text, p_pct), (g_text, g_pct) = split_percent(pred), split_percent(gold)
    p_num, g_num = as_number(p_text), as_number(g_text)
    if p_num is not None and g_num is not None:
        return _same_number(p_num, g_num, p_pct, g_pct, numbers_equal, 100), "numeric"
    p_value = p_num if p_num is not None else value_of(p_text)
    g_value = g_num if g_num is not None else value_of(g_text)
    if p_value is None or g_value is None:
        return None, ""
    return _same_number(p_value, g_value, p_pct, g_pct, values_equal, 100.0), "value"


def _same_number(p: Any, g: Any, p_pct: bool, g_pct: bool, same: Callable[[Any, Any], bool],
                 scale: float) -> bool:
    """``same(p, g)``, or with the side written as a percentage divided by ``scale``."""
    if same(p, g):
        return True
    if p_pct != g_pct:
        scaled = p / scale if p_pct else g / scale
        return same(scaled, g if p_pct else p)
    return False


def _text_key(text: str) -> str:
    return _ARTICLE.sub("", text.strip()).lower().replace(" ", "")


def cheap_equal(pred: str, gold: str) -> tuple[bool | None, str]:
    """(True/False, method) when string and number rules decide, (None, "") otherwise.

    Both sides are normalised strings."""
    if pred == gold:
        return (True, "exact") if gold else (False, "empty")
    if not pred:
        return False, "empty"
    gold_base = based_number(gold)
    if gold_base and re.fullmatch(r"[0-9A-Za-z]+", pred):  # "1011" for 1011_2
        return pred.upper() == gold_base[0], "base"
    numeric, method = _numeric(pred, gold)
    if numeric is not None:
        return numeric, method
    p_word, g_word = bool(_WORD.match(pred)), bool(_WORD.match(gold))
    if p_word and g_word:
        return _text_key(pred) == _text_key(gold), "text"
    p_value = split_percent(pred)[0]
    g_value = split_percent(gold)[0]
    if (p_word and as_number(g_value) is not None) or (g_word and as_number(p_value) is not None):
        return False, "text"
    p_interval, g_interval = as_interval(pred), as_interval(gold)
    if p_interval is not None and p_interval == g_interval:
        return True, "interval"
    verdict = compare_compound(pred, gold, lambda a, b: cheap_equal(a, b)[0])  # None: no compound
    if verdict is not None:
        return verdict, "structure"
    return None, ""


def _quiet_math_verify() -> None:
    """math-verify warns on every call that its own alarms are off; they are off on purpose."""
    for name in ("math_verify.parser", "math_verify.grader"):
        logging.getLogger(name).setLevel(logging.ERROR)


def _parse(latex: str) -> Any:
    """math-verify's parse of a normalised answer; its own unit stripping is off (``normalize``
    has removed the units already, and keeps a letter that the other answer uses as a
    variable: "\\frac{1}{\\sqrt{2}}c")."""
    from latex2sympy2_extended.math_normalization import NormalizationConfig
    from math_verify import LatexExtractionConfig, parse

    _quiet_math_verify()
    normalization = NormalizationConfig(basic_latex=True, units=False, malformed_operators=True,
                                        nits=True, boxed="all", equations=False)
    config = [LatexExtractionConfig(boxed_match_priority=0, normalization_config=normalization)]
    return parse(f"${latex}$", extraction_config=config, parsing_timeout=None)


def _equations_equal(pred_parsed: Any, gold_parsed: Any) -> bool:
    """Two equations with the same solutions: lhs - rhs of one is a non-zero constant multiple
    of the other's (``y=-x/2+3/4`` and ``2x+4y-3=0``)."""
    import sympy

    p, g = pred_parsed[0], gold_parsed[0]
    if not (isinstance(p, sympy.Eq) and isinstance(g, sympy.Eq)):
        return False
    p_diff, g_diff = p.lhs - p.rhs, g.lhs - g.rhs
    if g_diff == 0 or not p_diff.free_symbols:
        return False
    ratio = sympy.simplify(p_diff / g_diff)
    return bool(ratio != 0 and not ratio.free_symbols and ratio.is_finite)


def _equal_through_exp(pred_parsed: Any, gold_parsed: Any) -> bool:
    """Two expressions equal once hyperbolic functions are written through exp:
    ``\\sinh(at)/a`` and ``(e^{at} - e^{-at})/(2a)``."""
    import sympy

    p, g = pred_parsed[0], gold_parsed[0]
    if not (isinstance(p, sympy.Expr) and isinstance(g, sympy.Expr)):
        return False
    return bool(sympy.simplify((p - g).rewrite(sympy.exp)) == 0)


def symbolic_equal(pred: str, gold: str) -> bool:
    """math-verify's LaTeX parse and comparison; False when either side does not parse.

    math-verify's own wall-clock alarms are off (``None``): under load they would turn a true
    equality into False. The worker that runs this limits its CPU time instead (worker.py)."""
    from math_verify import verify

    if len(pred) > MAX_SYMBOLIC_CHARS or len(gold) > MAX_SYMBOLIC_CHARS:
        return False
    gold_parsed = _parse(gold)
    if not gold_parsed:
        return False
    pred_parsed = _parse(pred)
    if not pred_parsed:
        return False
    if verify(gold_parsed, pred_parsed, timeout_seconds=None):
        return True
    if _equations_equal(pred_parsed, gold_parsed):
        return True
    if (_HYPERBOLIC.search(pred) or _HYPERBOLIC.search(gold)) and _equal_through_exp(
            pred_parsed, gold_parsed):
        return True
    if _BARE_LOG.search(pred) or _BARE_LOG.search(gold):  # \log with no base: also the natural log
        return symbolic_equal(_BARE_LOG.sub(r"\\ln", pred), _BARE_LOG.sub(r"\\ln", gold))
    return False


def _is_equation(normalized: str) -> bool:
    return normalized.count("=") == 1 and not re.search(r"\\(?:le|ge|ne)|[<>]", normalized)


def _states_equation(one: str, other_with_label: str) -> bool:
    """``one`` is an equation in its variables ("9=4a+b", not a named value such as "|AB|=1")
    and the other answer is no equation even with its label kept."""
    return (_is_equation(one) and has_variable(one.split("=")[1])
            and not _is_equation(other_with_label))


def full_equal(pred: str, gold: str) -> tuple[bool, str]:
    """(equal?, method) with every rule, symbolic included. Run it under a time limit (the
    verifier's workers do)."""
    p, g = normalize_pair(pred, gold)
    verdict, method = cheap_equal(p, g)
    if verdict is not None:
        return verdict, method

    def element(a: str, b: str) -> bool:
        decided = cheap_equal(a, b)[0]
        return decided if decided is not None else symbolic_equal(a, b)

    compound = compare_compound(p, g, element)  # None where neither side is a compound
    if compound is not None:
        return compound, "structure"
    p_eq, g_eq = normalize(pred, keep_label=True), normalize(gold, keep_label=True)
    if _states_equation(p, g_eq) or _states_equation(g, p_eq):
        return False, "equation"  # "9 = 4a + b" is an equation, "4a + b" an expression
    if symbolic_equal(p, g):
        return True, "symbolic"
    if _is_equation(p_eq) and _is_equation(g_eq) and (p_eq, g_eq) != (p, g):
        return symbolic_equal(p_eq, g_eq), "equation"
    return False, "symbolic"


def symbolic_job(pred: str, gold: str | list[str]) -> Any:
    """The job a verifier worker runs: every rule (``full_equal``), or for a multiple-choice
    answer given as a value, ``gold`` is the list of option texts (see ``option_job``)."""
    if isinstance(gold, list):
        return option_job(pred, gold)
    return full_equal(pred, gold)


def warm_up() -> None:
    """Import and exercise the parser once, so that no job pays for start-up (run by each
    verifier worker before it reports ready)."""
    symbolic_equal("\\frac{x+1}{2}", "0.5x+0.5")


def too_long(pred: str) -> bool:
    return len(pred) > MAX_ANSWER_CHARS


def option_job(pred: str, options: list[str]) -> tuple[int, ...]:
    """The indices of the options whose value equals the answer ("24" for the option
    "$2 \\cdot 4 \\cdot 3$")."""
    return tuple(i for i, option in enumerate(options) if full_equal(pred, option)[0])
