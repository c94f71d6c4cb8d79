"""Scores from records, and prompt rendering."""

from __future__ import annotations

import math

import pytest

from ovr_eval.metrics import pass_at_k, task_scores
from ovr_eval.prompting import build_request, load_template, render_prompt
from ovr_eval.records import Record
from ovr_eval.types import Sample, UserError


def test_pass_at_k_matches_the_closed_form():
    assert pass_at_k(4, 0, 1) == 0.0 and pass_at_k(4, 4, 2) == 1.0
    assert math.isclose(pass_at_k(4, 1, 1), 0.25)
    assert math.isclose(pass_at_k(4, 1, 2), 1 - (3 * 2) / (4 * 3))  # 1 - C(3,2)/C(4,2)


def test_task_scores_avg_at_k_error_and_subsets():
    records = [
        Record(id="a", correct=[True, False], metadata={"level": 1}),
        Record(id="b", correct=[True, True], metadata={"level": 1}),
        Record(id="c", correct=[False, False], metadata={"level": 2}),
    ]
    scores = task_scores(records, ["level"])
    assert math.isclose(scores["score"], 0.5) and scores["n"] == 3
    assert math.isclose(scores["stderr"], 0.5 / math.sqrt(3))
    assert math.isclose(scores["pass@k"]["2"], 2 / 3)
    assert scores["subsets"]["level"]["1"]["score"] == 0.75
    assert scores["subsets"]["level"]["2"]["n"] == 1


def test_reasoning_prompt_asks_for_think_and_boxed():
    sample = Sample(id="1", task="t", question="What is 1+1?", answer="2")
    text = render_prompt(load_template("reasoning"), sample)
    assert "What is 1+1?" in text and "<think>" in text and "\\boxed{}" in text


def test_plain_prompt_and_images_first():
    sample = Sample(id="1", task="t", question="Which?\nChoices: (A) (B)", answer="A",
                    images=["x.png"], choices=["A", "B"], answer_type="multiple_choice")
    request = build_request(load_template("plain"), sample, seed=3)
    content = request.messages[0]["content"]
    assert content[0] == {"type": "image"} and "letter" in content[1]["text"]
    assert request.seed == build_request(load_template("plain"), sample, seed=3).seed


def test_unknown_prompt_lists_the_prompts():
    with pytest.raises(UserError, match="plain, reasoning"):
        load_template("nope")
