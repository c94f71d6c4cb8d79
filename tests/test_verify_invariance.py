"""Metamorphic tests: rewrites of a response that must keep its verdict, and one that must
flip it, over the project's own labelled cases (tests/data/verifier_cases.jsonl).

A violation is a bug in a rule (it reads the surrounding instead of the answer), never a case
to add. ``benchmarks/verifier.py`` reports the same invariance over every case and rewrite."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ovr_eval.verify import grade, grade_many
from ovr_eval.verify.metamorphic import INVARIANT, flip_boxed_number

CASES = [json.loads(line) for line in
         (Path(__file__).parent / "data" / "verifier_cases.jsonl").read_text().splitlines()
         if line.strip()]
REWRITES = sorted(INVARIANT)
SETTINGS = settings(max_examples=150, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])


# Rewrites compose as a real response is built: its content first, then end tokens, then the
# reasoning template around it, then the prompt transcript around everything (one of each).
_LAYERS = ["box_in", "after_box", "sign_off", "spaced", "shouted_cues", "end_token",
           "run_on_turn", "template", "transcript"]


def _rewritten(response: str, names: list[str]) -> str:
    layers = {name.split(":")[0]: name for name in names}
    for layer in sorted(layers, key=_LAYERS.index):
        response = INVARIANT[layers[layer]](response)
    return response


def _verdict(response: str, case: dict) -> bool:
    return grade(response, case["answer"], case["choices"]).correct


@SETTINGS
@given(case=st.sampled_from(CASES), names=st.lists(st.sampled_from(REWRITES), min_size=1,
                                                     max_size=3))
def test_verdict_is_the_same_whatever_template_delimiters_or_sign_off_surround_it(case, names):
    response = _rewritten(case["response"], names)
    assert _verdict(response, case) == case["correct"], (names, response)


@SETTINGS
@given(case=st.sampled_from([c for c in CASES
                             if c["correct"] and flip_boxed_number(c["response"])]),
       names=st.lists(st.sampled_from(REWRITES), max_size=2))
def test_another_number_in_the_box_turns_a_right_answer_wrong_in_any_surrounding(case, names):
    response = flip_boxed_number(case["response"])
    assert response is not None
    response = _rewritten(response, names)
    assert not _verdict(response, case), (names, response)


@pytest.mark.slow
def test_every_rewrite_keeps_every_verdict_of_the_labelled_cases():
    """The whole product (case x rewrite) at once: the invariance rate is 100%."""
    items, labels = [], []
    for case in CASES:
        for rewrite in INVARIANT.values():
            items.append((rewrite(case["response"]), case["answer"], case["choices"]))
            labels.append(case["correct"])
    verdicts = grade_many(items)
    broken = [(item[0][-120:], item[1]) for item, verdict, label
              in zip(items, verdicts, labels, strict=True) if verdict.correct != label]
    assert not broken, f"{len(broken)} of {len(items)} rewrites changed a verdict: {broken[:5]}"
