"""Gold answers of the real benchmarks grade correct against reformatted copies of themselves."""

from __future__ import annotations

import re

import pytest

from ovr_eval.evaluate import load_samples
from ovr_eval.task_registry import resolve
from ovr_eval.verify import grade_many
from ovr_eval.verify.normalize import normalize


def reformat(gold: str) -> str:
    """The same answer written differently: \\dfrac, spacing, a trailing .0 on integers."""
    text = gold.replace("\\frac", "\\dfrac")
    text = re.sub(r"(?<=\S)([+=])(?=\S)", r" \1 ", text)
    if re.fullmatch(r"-?\d+", text):
        text += ".0"
    return text


def _samples(task: str, split: str, data_dir):
    (plugin,) = resolve(task)
    samples, _ = load_samples(plugin, split, data_dir, None)
    return samples


@pytest.mark.parametrize("task,split", [("mathvision", "test"),
                                        ("mathverse", "testmini_text_only")])
def test_free_form_golds_match_reformatted_copies(shared_data, task, split):
    samples = [s for s in _samples(task, split, shared_data) if s.answer_type == "free_form"]
    responses = [f"Thus the result is $\\boxed{{{reformat(s.answer)}}}$." for s in samples]
    verdicts = grade_many([(r, s.answer) for r, s in zip(responses, samples, strict=True)])
    wrong = [(s.id, s.answer, v) for s, v in zip(samples, verdicts, strict=True)
             if not v.correct]
    assert len(samples) > 300
    assert wrong == []


@pytest.mark.parametrize("task,split", [("mathvision", "test"),
                                        ("mathverse", "testmini_text_only")])
def test_multiple_choice_golds_by_letter_and_by_value(shared_data, task, split):
    samples = [s for s in _samples(task, split, shared_data)
               if s.answer_type == "multiple_choice" and len(s.answer) == 1]
    items = []
    for s in samples:
        items.append((f"After checking each option, the answer is ({s.answer}).", s.answer,
                      s.choices, True))
        options = s.choices or []
        index = ord(s.answer) - ord("A")
        value = options[index] if 0 <= index < len(options) else None
        # (an option whose text is itself a letter, such as "$\text{B}$", is ambiguous)
        if value and len(options) == len(set(options)) and len(normalize(value)) > 1:
            items.append((f"So the answer is \\boxed{{{value}}}", s.answer, options, True))
    verdicts = grade_many(items)
    wrong = [(i[0][-60:], i[1], v) for i, v in zip(items, verdicts, strict=True)
             if not v.correct]
    assert len(samples) > 300
    assert wrong == []
