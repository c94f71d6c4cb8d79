"""The first verifier: extraction, equivalence, multiple choice, and no code execution."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from ovr_eval.verify import grade, grade_many, reward
from ovr_eval.verify.extract import final_answer, last_boxed


def test_every_math500_boxed_solution_grades_correct(shared_data):
    rows = [json.loads(line) for line in (shared_data / "math500" / "test.jsonl").open()]
    wrong = []
    for row in rows:
        boxed = last_boxed(row["solution"])
        verdict = grade(f"So the result is $\\boxed{{{boxed}}}$.", row["answer"])
        if not verdict.correct:
            wrong.append((row["unique_id"], boxed, row["answer"], verdict))
    assert len(rows) == 500 and wrong == []


@pytest.mark.parametrize("response,expected", [
    ("<think>maybe \\boxed{1}</think> so \\boxed{2}", "2"),
    ("<think>long</think><answer>The value is \\boxed{\\frac{1}{2}}</answer>", "\\frac{1}{2}"),
    ("<answer> 42 </answer>", "42"),
    ("first \\boxed{1} then \\boxed{\\frac{a}{\\sqrt{b}}}", "\\frac{a}{\\sqrt{b}}"),
    ("\\fbox{7}", "7"),
    ("so the answer is $x^2+1$.", "x^2+1"),
    ("Final Answer: The final answer is 12. I hope it is correct.", "12"),
    ("**Answer:** C", "C"),
    ("I could not work this one out.", None),
])
def test_final_answer_extraction(response, expected):
    assert final_answer(response).text == expected


@pytest.mark.parametrize("prediction,gold", [
    ("0.5", "\\frac{1}{2}"), ("\\dfrac{7}{2}", "3\\frac12"), ("x = 3", "3"),
    ("10,000", "10000"), ("2\\sqrt{3}", "\\sqrt{12}"), ("90^\\circ", "90"),
    ("(3, \\pi/2)", "\\left( 3, \\frac{\\pi}{2} \\right)"), ("5\\text{ cm}", "5"),
    ("\\text{Evelyn}", "\\text{Evelyn}"),
])
def test_equivalent_answers_are_correct(prediction, gold):
    assert grade(f"\\boxed{{{prediction}}}", gold).correct


@pytest.mark.parametrize("prediction,gold", [
    ("3", "-3"), ("[1,2)", "[1,2]"), ("(1,2)", "(2,1)"), ("\\frac{1}{3}", "0.33"), ("12", "1,2"),
])
def test_different_answers_are_wrong(prediction, gold):
    assert not grade(f"\\boxed{{{prediction}}}", gold).correct


@pytest.mark.parametrize("response", [
    "\\boxed{C}", "The answer is (C).", "\\boxed{\\text{C}}", "Answer: C. 18 cm",
    "\\boxed{18 cm}", "I pick option C",
])
def test_multiple_choice_by_letter_or_value(response):
    verdict = grade(response, "C", ["10 cm", "12 cm", "18 cm", "20 cm"])
    assert verdict.correct and verdict.extracted == "C"


def test_multiple_choice_wrong_letter():
    assert not grade("\\boxed{B}", "C", ["1", "2", "3"]).correct


def test_reward_is_the_same_decision():
    assert reward("\\boxed{4}", "4") == 1.0 and reward("\\boxed{5}", "4") == 0.0


def test_model_text_never_reaches_sympify(monkeypatch, tmp_path):
    import sympy
    import sympy.parsing.sympy_parser as parser

    from ovr_eval.verify.equivalence import full_equal

    seen: list[str] = []  # every string handed to sympify / parse_expr

    def recording(original):
        def wrapper(*args, **kwargs):
            seen.append(str(args[0]) if args else "")
            return original(*args, **kwargs)
        return wrapper

    monkeypatch.setattr(sympy, "sympify", recording(sympy.sympify))
    monkeypatch.setattr(parser, "parse_expr", recording(parser.parse_expr))
    marker = tmp_path / "pwned"
    hostile = f"__import__('os').system('touch {marker}')"
    for response in (f"\\boxed{{{hostile}}}", f"The answer is {hostile}",
                     f"<answer>{hostile}</answer>"):
        verdict = grade(response, "2")
        assert not verdict.correct
        # the whole symbolic path, in this process so the recording sees it
        assert full_equal(hostile, "2") == (False, "symbolic")
    assert not marker.exists()
    assert not [s for s in seen if "import" in s or "system" in s or "touch" in s]


CASES = Path(__file__).parent / "data" / "verifier_cases.jsonl"


def test_labelled_cases_all_agree_with_human_judgement():
    cases = [json.loads(line) for line in CASES.read_text().splitlines() if line.strip()]
    verdicts = grade_many([(c["response"], c["answer"], c.get("choices")) for c in cases])
    disagreements = [(c["rule"], c["answer"], c["response"][-80:], v.method)
                     for c, v in zip(cases, verdicts, strict=True) if v.correct != c["correct"]]
    assert len(cases) >= 500 and disagreements == []


def test_ovr_grade_regrades_a_file_and_skips_malformed_lines(tmp_path):
    source, target = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    source.write_text("\n".join([
        json.dumps({"response": "so \\boxed{\\frac{1}{2}}", "answer": "0.5"}),
        "{not json",
        json.dumps({"response": "I choose (B)", "answer": "B", "choices": ["3", "4"]}),
        json.dumps({"answer": "3"}),
        json.dumps({"response": "\\boxed{5}", "answer": "4", "choices": None}),
    ]))
    result = subprocess.run([sys.executable, "-m", "ovr_eval.cli", "grade", str(source), "-o",
                             str(target)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "line 2" in result.stdout + result.stderr and "line 4" in result.stdout + result.stderr
    graded = [json.loads(x) for x in target.read_text().splitlines()]
    assert [g["correct"] for g in graded] == [True, True, False]
    assert graded[1]["extracted"] == "B" and graded[0]["method"].endswith("numeric")
    assert all({"extracted", "correct", "method", "error"} <= set(g) for g in graded)


@pytest.mark.parametrize("response", [
    "The answer is 4.", "Final Answer: 4", "so we get\n4", "<answer>4</answer>",
])
def test_boxed_only_ignores_answers_outside_a_box(response):
    assert grade(response, "4").correct  # the evaluation's lenient reading finds it
    assert not grade(response, "4", boxed_only=True).correct
    assert reward(response, "4") == 0.0


def test_boxed_only_reads_the_last_box_after_thinking():
    response = "<think>maybe \\boxed{3}</think> The answer is \\boxed{4}."
    assert grade(response, "4", boxed_only=True).correct
    assert reward(response, "4") == 1.0
    assert reward("\\boxed{C}", "C", ["1", "2", "3"]) == 1.0
    assert reward("The answer is C", "C", ["1", "2", "3"]) == 0.0
