"""Answers as real models and other harnesses write them: one test per rule of the verifier.

Every case here was written for this project (the shared peer corpora only measure).
"""

from __future__ import annotations

import pytest

from ovr_eval.verify import grade, grade_many
from ovr_eval.verify.extract import final_answer


def _correct(response: str, gold: str, choices: list[str] | None = None, **kw) -> bool:
    return grade(response, gold, choices, **kw).correct


# -- where the answer is -------------------------------------------------------------------
@pytest.mark.parametrize("response,gold", [
    ("Both points work: $\\boxed{(1,3)}$ and $\\boxed{(4,0)}$.", "(1,3),(4,0)"),
    ("The roots are \\boxed{-3}, \\boxed{5}", "5,-3"),
    ("For (a) $\\boxed{7}$ \\text{ and for (b) } $\\boxed{12}$", "7, 12"),
    ("$$\\boxed{m = 2} \\quad \\text{and} \\quad \\boxed{k = 9}$$", "m=2, k=9"),
])
def test_several_boxes_answer_a_multi_part_gold(response, gold):
    assert _correct(response, gold)


def test_a_single_gold_is_read_from_the_last_box_only():
    response = "First I thought $\\boxed{2}$, but after checking it is $\\boxed{7}$."
    assert _correct(response, "7") and not _correct(response, "2")


def test_a_later_answer_phrase_wins_over_an_earlier_box():
    response = ("The interest is $\\boxed{40}$, so the balance becomes 1,040.\n\n"
                "Final Answer: The final answer is $1{,}040$. I hope it is correct.")
    assert _correct(response, "1040")


@pytest.mark.parametrize("response,gold", [
    ("So we conclude that $y \\le 4$ holds.", "y \\le 4"),
    ("In total there are 17 marbles left in the bag.", "17"),
    ("The final matrix is $\\begin{pmatrix}2&0\\\\0&2\\end{pmatrix}$.",
     "\\begin{pmatrix}2&0\\\\0&2\\end{pmatrix}"),
    ("Adding both parts gives the total.\n$$42$$", "42"),
    ("Thus the area grows by 50%.", "50\\%"),
])
def test_without_a_cue_the_closing_formula_or_number_is_the_answer(response, gold):
    assert _correct(response, gold)


def test_a_response_cut_off_mid_sentence_has_no_answer():
    verdict = grade("We get $x = 5$ for the first part. Next we substitute this into the", "5")
    assert not verdict.correct and verdict.extracted is None


@pytest.mark.parametrize("response,gold", [
    ("Final Answer: The smallest possible $k$ is 12.", "12"),
    ("... so 3,450 in all. The final answer is 3,450. I hope it is correct."
     "<|im_end|>\n<|im_start|>user\nNext question", "3450"),
    ("So the answer is 1984 with a total of 52 medals.", "1984"),
    ("**Answer:** 6 apples", "6"),
    ("The answer is:\n\n\\[ 15 \\]", "15"),
    ("Answer \\( -\\tfrac{2}{5} \\)", "-2/5"),
])
def test_answer_phrases_are_reduced_to_their_value(response, gold):
    assert _correct(response, gold)


@pytest.mark.parametrize("response,gold", [
    ("The answer is \\((3, -7)\\).", "(3,-7)"), ("Answer: $$ 8 $$", "8"),
    ("\\[\\boxed{\\left[ 2, 5 \\right)}\\]", "[2,5)"),
])
def test_math_delimiters_are_not_part_of_the_answer(response, gold):
    assert _correct(response, gold)


# -- what the answer means ----------------------------------------------------------------------
@pytest.mark.parametrize("prediction,gold,expected", [
    ("(2,500)", "(2, 500)", True), ("(2,500)", "2500", False), ("3,\\! 250", "3250", True),
    ("1,234,567", "1234567", True), ("[1,000, 2]", "[1000, 2]", False),
])
def test_thousands_separators_only_in_a_lone_number(prediction, gold, expected):
    assert _correct(f"\\boxed{{{prediction}}}", gold) is expected


@pytest.mark.parametrize("prediction,gold", [
    ("(a,b)=(4,1)", "(4,1)"), ("t \\in (0, 2]", "(0,2]"), ("-4; 2; 9", "\\{2,9,-4\\}"),
    ("3 \\text{ or } 11", "3, 11"), ("z > -2", "(-2, \\infty)"), ("0 \\le w < 3", "[0,3)"),
    ("-q \\ge -6", "q \\le 6"), ("r = 3, s = -1", "(3,-1)"),
    ("x = 2 \\text{ and } x = -5", "-5, 2"),
    ("35 pct", "35\\%"), ("0.35", "35\\%"), ("12 percent", "12\\%"),
])
def test_labelled_and_re_separated_answers(prediction, gold):
    assert _correct(f"\\boxed{{{prediction}}}", gold)


@pytest.mark.parametrize("prediction,gold,expected", [
    ("y = 3x - 2", "3x - y - 2 = 0", True), ("6x - 2y = 4", "y = 3x - 2", True),
    ("y = 3x + 2", "3x - y - 2 = 0", False), ("9 = 4a + b", "4a + b", False),
])
def test_equations_are_equal_up_to_rearrangement(prediction, gold, expected):
    assert _correct(f"\\boxed{{{prediction}}}", gold) is expected


# -- multiple choice ------------------------------------------------------------------------------
SHAPES = ["circle", "square", "triangle", "hexagon"]
ANGLES = ["36°", "54°", "72°", "108°"]


@pytest.mark.parametrize("response,gold,choices", [
    ("So the answer is D (108°).", "D", ANGLES),
    ("Answer: C, the triangle.", "C", SHAPES),
    ("The correct option is C.", "C", SHAPES),
    ("Therefore the answer is \\( \\text{B} \\)", "B", SHAPES),
    ("$\\textbf{(A)}$ is the one.", "A", SHAPES),
    ("经过计算，答案是 B。", "B", SHAPES),
    ("答案：D", "D", SHAPES),
    ("the answer is (c)", "C", SHAPES),
    ("So the answer is \\boxed{72^\\circ}", "C", ANGLES),
    ("The shape must be the Hexagon.", "D", SHAPES),
    ("\\boxed{\\frac{9}{4}}", "B", ["3/2", "9/4", "4/9"]),
    ("No, the line is not steeper.", "B", ["Yes", "No"]),
    ("（C）triangle", "C", SHAPES),
    ("I think it is B", "B", None),
])
def test_multiple_choice_as_models_write_it(response, gold, choices):
    verdict = grade(response, gold, choices)
    assert verdict.correct, verdict


@pytest.mark.parametrize("response,gold,choices", [
    ("\\boxed{(A),(C),(D)}", "A", SHAPES),            # several options for one answer
    ("The answer is B (108°).", "B", ANGLES),          # B's stated value is option D's
    ("N/A", "A", SHAPES),                              # "N/A" names no option
    ("I am not sure; it could be A or it could be C.", "A", SHAPES),
    ("\\boxed{E*2}", "E", ["1", "2", "3", "4", "5"]),  # an expression, not option E
])
def test_multiple_choice_without_false_credit(response, gold, choices):
    assert not _correct(response, gold, choices)


def test_several_letters_for_a_several_letter_gold():
    assert _correct("The odd ones out are B and D.", "B, D")
    assert _correct("\\boxed{B} and \\boxed{D}", "B, D")
    assert not _correct("Only B.", "B, D")


def test_a_letter_before_options_whose_texts_are_letters():
    # the options are point labels: "Answer: A" is option A (point "E"), not the option "A"
    assert _correct("The curve flattens at point E.\n\nAnswer: A", "A", ["E", "C", "D", "A", "B"])


def test_an_option_value_equal_only_after_evaluation_goes_to_the_symbolic_check():
    options = ["$2+4+3$", "$2 \\cdot 4+3$", "$2+4 \\cdot 3$", "$2 \\cdot 4 \\cdot 3$"]
    assert _correct("She has \\boxed{24} mandarins.", "D", options)
    assert not _correct("She has \\boxed{11} mandarins.", "D", options)


# -- predictions from other harnesses --------------------------------------------------------
@pytest.mark.parametrize("prediction,gold,choices", [
    ("\\begin{bmatrix}1&2\\\\3&4\\end{bmatrix}", "\\begin{pmatrix}1&2\\\\3&4\\end{pmatrix}", None),
    ("$Odd$", "\\text{odd}", None), ("45 percent", "45\\%", None), ("B", "B", SHAPES),
    ("The result is $x = 7$", "7", None),
])
def test_an_extracted_prediction_is_graded_as_the_answer(prediction, gold, choices):
    verdict = grade("", gold, choices, prediction=prediction)
    assert verdict.correct and verdict.method.startswith("prediction"), verdict


def test_predictions_and_responses_mix_in_one_batch():
    verdicts = grade_many([{"prediction": "12", "answer": "12"},
                           {"response": "so \\boxed{12}", "answer": "12"},
                           {"prediction": "13", "answer": "12"}])
    assert [v.correct for v in verdicts] == [True, True, False]


# -- damage done to the text on its way to us --------------------------------------------------
@pytest.mark.parametrize("response,gold", [
    ("\\boxed{\x0crac{3}{4}}", "\\frac{3}{4}"),           # "\f" of \frac read as a form feed
    ("\\boxed{\\\\frac{3}{4}}", "0.75"),                  # a doubled backslash
    ("\\boxed{144\\}", "144"),                             # a stray trailing backslash
    ("\\boxed{7\\text{ boxes}}", "7"),
    ("The total is 1,000.50€.", "1000.5"),
])
def test_escape_damage_and_decorations_are_undone(response, gold):
    assert _correct(response, gold)


def test_extraction_reports_where_the_answer_came_from():
    assert final_answer("so \\boxed{3}").source == "boxed"
    assert final_answer("The answer is 3.").source == "answer_phrase"
    assert final_answer("Working...\n$3$").source == "last_line"
    assert final_answer("We count them: there are 3 in all.").source == "last_sentence"
    assert final_answer("<think>3</think>").text is None


@pytest.mark.parametrize("prediction,gold,expected", [
    ("2\\sqrt{3}", "\\sqrt{12}", True), ("3 \\cdot 2^{5}", "96", True),
    ("\\frac{1+\\sqrt{5}}{2}", "(1+\\sqrt{5})/2", True), ("\\sqrt[3]{8}", "2", True),
    ("2\\sqrt{3}", "3.4641", False), ("2^{10}", "1000", False),
])
def test_closed_form_numbers_are_compared_by_value_in_process(prediction, gold, expected):
    verdict = grade(f"\\boxed{{{prediction}}}", gold)
    assert verdict.correct is expected and verdict.method.endswith(("value", "numeric")), verdict


def test_closed_form_values_never_run_code_and_stay_bounded():
    from ovr_eval.verify.arithmetic import value_of

    assert value_of("9^{9^{9^{9}}}") is None  # too large: no value, no hang
    assert value_of("(" * 100 + "1" + ")" * 100) is None  # too deep
    assert value_of("__import__('os')") is None
    assert value_of("\\sqrt{-4}") is None and value_of("\\frac{1}{0}") is None


@pytest.mark.parametrize("response,gold", [
    ("There are 3 bars with values below 40.", "3"),
    ("So, there is 1 block that has exactly 36 houses.", "1"),
    ("The pencil is about 7 inches long.", "7"),
    ("The difference between the two groups is approximately 12.", "12"),
])
def test_a_sentence_stating_a_count_or_measure_gives_its_leading_number(response, gold):
    assert _correct(response, gold)


def test_hedged_options_match_hedged_answers():
    options = ["Around 20%", "Around 30%", "Around 40%"]
    assert _correct("Based on the chart, the share is around 30%.", "B", options)


@pytest.mark.parametrize("response", [
    "A is incorrect, B is incorrect, C is correct.", "Option C is the correct answer.",
])
def test_a_letter_judged_correct_is_the_answer(response):
    assert _correct(response, "C", SHAPES)


@pytest.mark.parametrize("response,gold,expected", [
    ("The clock shows 5:30.", "5:30", True),
    ("The ratio simplifies to 1:4.", "1", False),      # a ratio is not its first number
    ("So the perimeter is 2 + 2 + 2 = **6 inches**.\n\nDo you have other questions?", "6", True),
    ("The answer to your question is (B) No. It is not larger.", "B", True),
])
def test_times_ratios_bold_values_and_sign_offs(response, gold, expected):
    choices = ["Yes", "No"] if gold == "B" else None
    assert _correct(response, gold, choices) is expected


def test_numbers_given_as_numbers_are_graded_as_their_text():
    verdicts = grade_many([("The answer is 0.", 0), {"response": "The answer is 0.", "answer": 0},
                           {"prediction": 0, "answer": 0}, {"response": 0, "answer": "0"},
                           {"response": "The answer is 2.", "answer": 2, "choices": [1, 2]}])
    assert [(v.correct, v.error) for v in verdicts] == [(True, None)] * 5
    assert grade_many([("The answer is 0.", None)])[0].error == "empty gold answer"
