"""Hostile and random inputs: the verifier answers every one, in bounded time, running nothing."""

from __future__ import annotations

import json
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ovr_eval.verify import grade, grade_many
from ovr_eval.verify.pool import JobFailed, WorkerPool

HANG_BOUND_S = 20.0  # two tries of 2 s CPU plus worker restarts: catches hangs, times nothing

INJECTIONS = [
    "__import__('os').system('touch {marker}')",
    "exec(\"open('{marker}', 'w')\")",
    "eval(\"__import__('pathlib').Path('{marker}').touch()\")",
    "lambda: open('{marker}', 'w')",
    "Symbol('x').__class__.__mro__[-1].__subclasses__()",
]
POSITIONS = [
    "\\boxed{{{p}}}", "The answer is {p}", "<answer>{p}</answer>", "Answer: {p}",
    "<think>\\boxed{{{p}}}</think> \\boxed{{{p}}}", "\\fbox{{{p}}}",
]


@pytest.mark.parametrize("payload", INJECTIONS)
def test_code_in_every_answer_position_is_never_run(tmp_path, payload):
    marker = tmp_path / "ran"
    text = payload.format(marker=marker)
    items = [(position.format(p=text), gold) for position in POSITIONS
             for gold in ("2", text, "\\frac{1}{2}")]
    items += [(position.format(p="2"), text) for position in POSITIONS]  # hostile gold too
    verdicts = grade_many(items)
    assert len(verdicts) == len(items)
    assert not marker.exists()


@pytest.mark.parametrize("name,response,gold", [
    ("exponent tower", "\\boxed{9^{9^{9^9}}}", "1"),
    ("huge polynomial", "\\boxed{(x+1)^{100000}}", "x^{100000}"),
    ("nested parentheses", "\\boxed{" + "(" * 5000 + "1" + ")" * 5000 + "}", "1"),
    ("nested braces", "\\boxed{" + "{" * 5000 + "1" + "}" * 5000 + "}", "1"),
    ("2 MB response", "x " * 1_000_000 + "\\boxed{3}", "4"),
    ("factorial", "\\boxed{100000!}", "2"),
    ("many answer tags", "<answer>" * 5000, "2"),
    ("huge power", "\\boxed{2^{99999}}", "2"),
])
def test_pathological_inputs_end_quickly_and_wrong(name, response, gold):
    start = time.monotonic()
    verdict = grade(response, gold)
    assert time.monotonic() - start < HANG_BOUND_S, name
    assert verdict.correct is False


BURN = "hashlib:pbkdf2_hmac"  # (name, password, salt, iterations): pure CPU work


def test_a_job_over_its_cpu_limit_is_retried_once_then_reported():
    with WorkerPool(BURN, workers=1, timeout_s=0.3) as pool:
        results = pool.map([("sha256", b"p", b"s", 50_000_000), ("sha256", b"p", b"s", 1)])
    assert results[0] == JobFailed("timeout")
    assert isinstance(results[1], bytes)  # the replacement worker carries on


def test_a_job_that_waits_without_computing_ends_at_the_wall_limit():
    with WorkerPool("time:sleep", workers=1, timeout_s=0.2, wall_limit_s=0.5) as pool:
        start = time.monotonic()
        results = pool.map([(30,), (0,)])
    assert results == [JobFailed("timeout"), None]
    assert time.monotonic() - start < 10  # two attempts of 0.5 s plus worker start-ups


def test_worker_start_up_never_counts_against_a_job():
    # a warm-up far longer than the job's limit: the job still finishes
    with WorkerPool(BURN, workers=1, timeout_s=0.5, warm_up="ovr_eval.verify.equivalence:warm_up"
                    ) as pool:
        assert isinstance(pool.map([("sha256", b"p", b"s", 10)])[0], bytes)


def test_a_worker_that_blows_its_memory_limit_is_replaced():
    with WorkerPool("os:urandom", workers=1, timeout_s=10, memory_mb=64) as pool:
        results = pool.map([(2**30,), (4,)])
        assert isinstance(results[0], JobFailed)
        assert isinstance(results[1], bytes) and len(results[1]) == 4


LATEX_ALPHABET = st.sampled_from([
    *"0123456789+-*/^_{}()[],.=xyab \\", "\\frac", "\\sqrt", "\\boxed{", "\\pi",
    "\\cup", "\\infty", "\\text{", "<answer>",
    "</answer>", "</think>", "The answer is ", "\\left(", "\\right)", "!", "%", "^\\circ"])


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(LATEX_ALPHABET, max_size=40).map("".join),
       st.lists(LATEX_ALPHABET, max_size=12).map("".join))
def test_random_latex_never_crashes_or_hangs(response, gold):
    start = time.monotonic()
    verdict = grade(response, gold)
    assert time.monotonic() - start < HANG_BOUND_S
    assert isinstance(verdict.correct, bool)
    json.dumps(verdict.__dict__)  # serialisable into records


@settings(max_examples=100, deadline=None)
@given(st.text(max_size=300), st.text(max_size=30),
       st.none() | st.lists(st.text(max_size=10), min_size=1, max_size=5))
def test_arbitrary_text_never_crashes(response, gold, choices):
    verdict = grade(response, gold, choices)
    assert isinstance(verdict.correct, bool)
