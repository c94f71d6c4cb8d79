"""Decide whether a predicted answer equals the gold one.

``cheap_equal`` decides what plain string and number rules can (exact, numeric, text,
compound answers made of such parts) and says "undecided" (None) otherwise. ``full_equal``
adds symbolic comparison through math-verify's LaTeX grammar (latex2sympy2_extended); it is
run in worker processes under a hard time limit. Model text never reaches ``eval``,
``sympify`` or ``parse_expr``.
"""

from __future__ import annotations

import re

from ovr_eval.verify.normalize import MAX_ANSWER_CHARS, as_number, based_number, normalize
from ovr_eval.verify.structures import compare_compound, parse_compound

MAX_SYMBOLIC_CHARS = 400
DEFAULT_TIMEOUT_S = 2.0
_WORD = re.compile(r"^[A-Za-z][A-Za-z\s\-']*$")


def _numbers_equal(a, b) -> bool:
    tolerance = abs(b) * 1e-6 if b else 1e-9
    return abs(a - b) <= tolerance


def cheap_equal(pred: str, gold: str) -> tuple[bool | None, str]:
    """(True/False, method) when string and number rules decide, (None, "") otherwise."""
    if pred == gold:
        return (True, "exact") if gold else (False, "empty")
    if not pred:
        return False, "empty"
    gold_base = based_number(gold)
    if gold_base and re.fullmatch(r"[0-9A-Za-z]+", pred):  # "1011" for 1011_2
        return pred.upper() == gold_base[0], "base"
    p_num, g_num = as_number(pred), as_number(gold)
    if p_num is not None and g_num is not None:
        return _numbers_equal(p_num, g_num), "numeric"
    p_word, g_word = bool(_WORD.match(pred)), bool(_WORD.match(gold))
    if p_word and g_word:
        return pred.lower().replace(" ", "") == gold.lower().replace(" ", ""), "text"
    if (p_word and g_num is not None) or (g_word and p_num is not None):
        return False, "text"
    if parse_compound(pred) is not None or parse_compound(gold) is not None:
        verdict = compare_compound(pred, gold, lambda a, b: cheap_equal(a, b)[0])
        if verdict is not None:
            return verdict, "structure"
    return None, ""


def symbolic_equal(pred: str, gold: str, timeout_s: float = DEFAULT_TIMEOUT_S) -> bool:
    """math-verify's LaTeX parse and comparison; False when either side does not parse."""
    import threading

    from math_verify import LatexExtractionConfig, parse, verify

    if len(pred) > MAX_SYMBOLIC_CHARS or len(gold) > MAX_SYMBOLIC_CHARS:
        return False
    # math-verify's own (SIGALRM) limits work only in a main thread; the pool's limit is hard.
    in_main = threading.current_thread() is threading.main_thread()
    limit = max(1, int(timeout_s)) if in_main else None
    config = [LatexExtractionConfig(boxed_match_priority=0)]
    gold_parsed = parse(f"${gold}$", extraction_config=config, parsing_timeout=limit)
    if not gold_parsed:
        return False
    pred_parsed = parse(f"${pred}$", extraction_config=config, parsing_timeout=limit)
    if not pred_parsed:
        return False
    return bool(verify(gold_parsed, pred_parsed, timeout_seconds=limit))


def full_equal(pred: str, gold: str, timeout_s: float = DEFAULT_TIMEOUT_S) -> tuple[bool, str]:
    """(equal?, method) with every rule, symbolic included. Run it under a time limit."""
    p, g = normalize(pred), normalize(gold)
    verdict, method = cheap_equal(p, g)
    if verdict is not None:
        return verdict, method
    if parse_compound(p) is not None or parse_compound(g) is not None:

        def element(a: str, b: str) -> bool:
            decided = cheap_equal(a, b)[0]
            return decided if decided is not None else symbolic_equal(a, b, timeout_s)

        compound = compare_compound(p, g, element)
        if compound is not None:
            return compound, "structure"
    return symbolic_equal(p, g, timeout_s), "symbolic"


def symbolic_job(pred: str, gold: str, timeout_s: float) -> tuple[bool, str]:
    """The job a verifier worker runs: every rule, with math-verify's own limits set below
    the pool's hard limit so that most slow parses end gracefully."""
    import sympy  # noqa: F401  (imported once per worker, before any time limit counts)

    return full_equal(pred, gold, max(1.0, timeout_s / 2))


def too_long(pred: str) -> bool:
    return len(pred) > MAX_ANSWER_CHARS
