"""Verdicts do not depend on how busy the machine is (the check's limit counts its own CPU time,
worker start-up never counts, a timed-out check is retried once)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from ovr_eval.verify import grade_many
from ovr_eval.verify.pool import close_shared_pools

# Answers that only the symbolic path decides, true and false, each a few milliseconds of work.
CASES = [
    ("\\frac{x^2-1}{x-1}", "x+1"), ("\\sin^2 x + \\cos^2 x", "1"), ("(a+b)^2", "a^2+2ab+b^2"),
    ("\\sqrt{8}", "2\\sqrt{2}"), ("\\frac{\\pi}{6}", "30^\\circ"), ("e^{i\\pi}", "-1"),
    ("\\log_2 8", "3"), ("x^3-y^3", "(x-y)(x^2+xy+y^2)"), ("\\binom{5}{2}", "10"),
    ("\\frac{1}{\\sqrt{3}}", "\\frac{\\sqrt{3}}{3}"), ("(x+1)^2", "x^2+1"), ("\\sqrt{12}", "3"),
    ("\\frac{2}{3}\\pi", "120^\\circ"), ("y=2x+1", "2x-y+1=0"), ("2^{10}", "1000"),
]


def _grade_with_fresh_workers() -> list[tuple[bool, str | None]]:
    close_shared_pools()  # workers start (import sympy, warm up) inside this call
    items = [(f"The answer is $\\boxed{{{p}}}$.", g) for p, g in CASES] * 4
    return [(v.correct, v.error) for v in grade_many(items, workers=2)]


@pytest.mark.slow
def test_the_same_verdicts_idle_and_with_every_core_busy():
    idle = _grade_with_fresh_workers()
    burners = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(4)]
    try:
        loaded = _grade_with_fresh_workers()
    finally:
        for burner in burners:
            burner.kill()
            burner.wait()
    assert loaded == idle
    assert not any(error for _, error in idle)
    assert sum(correct for correct, _ in idle) == 4 * 9  # 9 of the 15 pairs are equal
