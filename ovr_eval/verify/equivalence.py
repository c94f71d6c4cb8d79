"""Decide whether a predicted answer equals the gold one: exact, then numeric, then symbolic.

The symbolic step parses LaTeX with math-verify (latex2sympy2_extended, an ANTLR grammar):
model text is never handed to ``eval``, ``sympify`` or ``parse_expr``.
"""

from __future__ import annotations

import threading

from ovr_eval.verify.normalize import as_number, normalize

MAX_SYMBOLIC_CHARS = 1_000  # longer answers are not worth a symbolic parse
DEFAULT_TIMEOUT_S = 2.0


def _latex_config():
    from math_verify import LatexExtractionConfig

    return [LatexExtractionConfig(boxed_match_priority=0)]


def symbolic_equal(prediction: str, gold: str, timeout_s: float = DEFAULT_TIMEOUT_S) -> bool:
    """math-verify's LaTeX parse and comparison; False when either side does not parse."""
    from math_verify import parse, verify

    if len(prediction) > MAX_SYMBOLIC_CHARS:
        return False
    # math-verify enforces its time limits with SIGALRM, which only the main thread may use.
    in_main = threading.current_thread() is threading.main_thread()
    limit = int(max(1, round(timeout_s))) if in_main else None
    config = _latex_config()
    gold_parsed = parse(f"${gold}$", extraction_config=config, parsing_timeout=limit)
    pred_parsed = parse(f"${prediction}$", extraction_config=config, parsing_timeout=limit)
    if not gold_parsed or not pred_parsed:
        return False
    return bool(verify(gold_parsed, pred_parsed, timeout_seconds=limit))


def equivalent(
    prediction: str, gold: str, timeout_s: float = DEFAULT_TIMEOUT_S
) -> tuple[bool, str]:
    """(equal?, the method that decided)."""
    pred_norm, gold_norm = normalize(prediction), normalize(gold)
    if pred_norm == gold_norm and gold_norm:
        return True, "exact"
    pred_num, gold_num = as_number(pred_norm), as_number(gold_norm)
    if pred_num is not None and gold_num is not None:
        tolerance = abs(gold_num) * 1e-6 if gold_num else 1e-9
        return abs(pred_num - gold_num) <= tolerance, "numeric"
    if pred_norm.lower() == gold_norm.lower() and gold_norm.isalpha():
        return True, "text"
    return symbolic_equal(prediction, gold, timeout_s), "symbolic"
