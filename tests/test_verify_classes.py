"""Answer classes the verifier reads by kind (each case written for this project): units after
a constant, compound units, mixed numbers, ordinals, subscripts, one-letter units that may be
variables, pi as a word, the natural log, hyperbolic functions, words after a box, sign-offs."""

from __future__ import annotations

import pytest

from ovr_eval.verify import grade
from ovr_eval.verify.extract import final_answer


def _both_ways(answer: str, gold: str) -> tuple[bool, bool]:
    """The verdict on the answer boxed in a response and given as an extracted prediction."""
    boxed = grade(f"So the result is $\\boxed{{{answer}}}$.", gold).correct
    predicted = grade("", gold, prediction=answer).correct
    return boxed, predicted


def _right(answer: str, gold: str) -> bool:
    return _both_ways(answer, gold) == (True, True)


def _wrong(answer: str, gold: str) -> bool:
    return _both_ways(answer, gold) == (False, False)


@pytest.mark.parametrize("answer,gold", [
    ("6\\pi \\text{ cm}", "6 * pi"), ("6πcm", "6\\pi"), ("150\\pi \\text{ cm}^2", "150\\pi"),
    ("150πcm^{2}", "150\\pi"), ("9\\sqrt{2} \\text{ units}", "9\\sqrt{2}"),
    ("2\\pi\\ \\mathrm{m}", "2\\pi"),
])
def test_units_after_a_constant_are_not_part_of_the_value(answer, gold):
    assert _right(answer, gold)


@pytest.mark.parametrize("answer,gold", [("6\\pi \\text{ cm}", "5\\pi"), ("6πcm", "6")])
def test_units_after_a_constant_keep_the_value_compared(answer, gold):
    assert _wrong(answer, gold)


@pytest.mark.parametrize("answer,gold", [
    ("3 5/7", "\\frac{26}{7}"), ("3\\ 5/7", "26/7"), ("3\\frac{5}{7}", "26/7"),
    ("-1 1/4", "-\\frac{5}{4}"), ("26/7", "3\\frac{5}{7}"),
])
def test_a_whole_number_beside_a_fraction_is_a_mixed_number(answer, gold):
    assert _right(answer, gold)


@pytest.mark.parametrize("answer,gold", [("3 5/7", "\\frac{15}{7}"), ("3 5/7", "35/7"),
                                         ("3\\frac{5}{7}", "\\frac{15}{7}")])
def test_a_mixed_number_is_not_a_product_or_a_concatenation(answer, gold):
    assert _wrong(answer, gold)


@pytest.mark.parametrize("answer,gold", [
    ("21^{\\text{st}}", "21"), ("3^{rd}", "3"), ("8\\text{th}", "8"), ("42nd", "42"),
])
def test_an_ordinal_is_its_number(answer, gold):
    assert _right(answer, gold)


@pytest.mark.parametrize("answer,gold", [
    ("a_1 + a_2", "a_{1}+a_{2}"), ("F_1, F_2", "F_{1},F_{2}"),
    ("\\frac{1}{4}Q_1", "\\frac{1}{4}Q_{1}"),
])
def test_a_one_character_subscript_reads_the_same_with_or_without_braces(answer, gold):
    assert _right(answer, gold)


def test_subscripts_keep_their_index():
    assert _wrong("a_1 + a_3", "a_{1}+a_{2}")


@pytest.mark.parametrize("answer,gold", [
    ("\\frac{11k}{3}", "\\frac{11}{3}k"), ("\\frac{v}{\\sqrt{3}}", "\\frac{1}{\\sqrt{3}}v"),
    ("P(t) = 7 + 2t", "P(t)=2t+7"), ("h(s) = 3s + 1", "h(s) = 1 + 3s"),
])
def test_a_one_letter_unit_is_a_variable_when_the_other_answer_has_variables(answer, gold):
    assert _right(answer, gold)


@pytest.mark.parametrize("answer,gold", [("4.5 m", "4.5"), ("12 h", "12"), ("30 s", "30")])
def test_a_one_letter_unit_after_a_number_is_a_unit(answer, gold):
    assert _right(answer, gold)


@pytest.mark.parametrize("answer,gold", [("P(t) = 7 + 2t", "P(t)=2t+8"),
                                         ("\\frac{11k}{3}", "\\frac{11}{3}")])
def test_a_variable_is_not_dropped_as_a_unit(answer, gold):
    assert _wrong(answer, gold)


@pytest.mark.parametrize("answer,gold", [("3pi/4", "\\frac{3\\pi}{4}"), ("2pi", "2\\pi"),
                                         ("pi", "\\pi")])
def test_pi_written_as_a_word_is_pi(answer, gold):
    assert _right(answer, gold)


def test_a_log_without_a_base_may_be_the_natural_log():
    assert _right("\\log(3)+i\\pi", "\\ln 3+i\\pi")
    assert _right("\\log 100", "2")  # and base ten
    assert _wrong("\\log(3)", "\\ln 4")


@pytest.mark.parametrize("answer,gold", [("15 Newton-meters", "15"), ("7 apples", "7"),
                                         ("2.5 light years", "2.5")])
def test_words_after_a_number_are_its_unit(answer, gold):
    assert _right(answer, gold)


def test_words_after_a_number_are_not_a_range():
    assert _wrong("5 or more", "5")


@pytest.mark.parametrize("response", [
    "The trip is $\\boxed{27}$ miles from the start.",
    "$$\\boxed{27} \\text{ miles}$$",
    "So $\\boxed{27}$.\n\nI hope this helps! Let me know if you have other questions.",
    "Hence \\boxed{27}. This is 3 hours at 9 miles per hour.",
    "**Final answer:** \\boxed{27} (the distance, in miles, which is 3 times 9)",
])
def test_a_box_is_the_answer_and_the_words_after_it_are_not(response):
    assert grade(response, "27").correct
    assert not grade(response, "3").correct


def test_a_later_explicit_answer_still_wins_over_an_earlier_box():
    response = "First $\\boxed{27}$, but I misread the map.\n\nThe final answer is 30."
    assert grade(response, "30").correct and not grade(response, "27").correct


@pytest.mark.parametrize("sign_off", [
    "\n\nI hope this helps!", "\n\nGood luck with your studies!", " Thanks for asking.",
    "\n\nFeel free to ask more questions. I am happy to help.",
])
def test_a_sign_off_after_a_bare_answer_is_not_the_answer(sign_off):
    assert grade("We add them.\n\n$42$" + sign_off, "42").correct


def test_a_sentence_that_starts_like_a_sign_off_is_kept_when_it_states_the_answer():
    assert grade("Thanks to symmetry, the total is 42.", "42").correct
    assert grade("I hope it is correct: I get 5. Rechecking, the total is 42.", "42").correct


# -- multiple choice that must name nothing ---------------------------------------------------
@pytest.mark.parametrize("response", [
    "The deficiency described here is most likely Vitamin B.",
    "Such a patient shows a type B personality.",
    "If that fails, we switch to Plan B.",
    "Therefore the shortest path ends at B.",
    "The closest city to the river is Town B.",
])
def test_a_letter_that_is_part_of_a_name_names_no_option(response):
    assert not grade(response, "B", multiple_choice=True).correct


@pytest.mark.parametrize("response", [
    "The answer is not B.", "Option B is wrong.", "It is definitely not (B); the answer is D.",
    "The answer is D, since it can't be A or B.", "We can rule out B, so D.",
])
def test_a_letter_the_response_rules_out_is_not_its_answer(response):
    assert not grade(response, "B", multiple_choice=True).correct


@pytest.mark.parametrize("response", [
    "The answer is probably B, but maybe D.", "The answer is B or possibly D.",
    "The answer is \\boxed{B} or \\boxed{D}.", "I would say B or D.",
])
def test_a_hedge_between_letters_names_no_single_option(response):
    assert not grade(response, "B", multiple_choice=True).correct


@pytest.mark.parametrize("response", [
    "The answer is definitely D.", "The answer is for sure D, it can't be A or B.",
    "It's not A because the slope is negative, so I think it's D.",
    "The figure belongs to set D.", "The smallest jar (D) goes out first.",
    "Both checks agree: the answer is option D.",
])
def test_a_letter_after_an_adverb_option_noun_or_in_parentheses_names_its_option(response):
    assert grade(response, "D", multiple_choice=True).correct
    assert not grade(response, "C", multiple_choice=True).correct


@pytest.mark.parametrize("answer,gold,same", [
    ("7:15 \\text{ a.m.}", "7:15 am", True), ("7 PM", "7pm", True), ("7 p.m.", "7 am", False),
    ("7:15", "7:15 pm", False),
])
def test_the_time_of_day_is_kept_and_read_in_every_spelling(answer, gold, same):
    assert _both_ways(answer, gold) == (same, same)


def test_code_is_not_where_the_answer_is_stated_but_its_printed_output_is():
    script = "Let me compute it.\n```python\nanswer = 12\nprint(answer)\n```\n"
    assert grade(script + "```output\n12\n```\nSo the total is 12.", "12").correct
    assert final_answer(script).text is None


def test_a_box_that_never_closes_holds_the_rest_of_its_line():
    assert grade("Thus the temperature is \\boxed{-17", "-17").correct


def test_a_closing_commentary_does_not_hide_the_closing_statement():
    response = ("The remainder when the product is divided by 7 is 5.\n\n"
                "This problem shows how modular arithmetic simplifies products.")
    assert grade(response, "5").correct
    assert final_answer(response).source == "last_sentence"


def test_a_formula_that_only_names_a_variable_is_not_an_uncued_answer():
    assert final_answer("There may be several solutions for $n$ here.").text is None
    assert final_answer("So $x = 4$ works, for every $n$ we tried.").text == "x = 4"


@pytest.mark.parametrize("answer,gold", [
    ("0.\\overline{6}", "\\frac{2}{3}"), ("0.1\\overline{6}", "1/6"), ("2.(45)", "\\frac{27}{11}"),
    ("1.\\dot{3}", "4/3"),
])
def test_a_repeating_decimal_is_its_fraction(answer, gold):
    assert _right(answer, gold)


def test_a_repeating_decimal_is_not_its_truncation():
    assert _wrong("0.\\overline{6}", "0.6")


@pytest.mark.parametrize("answer,gold", [
    ("\\mathbb{R}", "(-\\infty,\\infty)"), ("All real numbers", "\\mathbb{R}"),
    ("x \\in \\mathbb{R}", "(-\\infty, \\infty)"), ("\\varnothing", "\\emptyset"), ("∅", "\\{\\}"),
])
def test_the_real_line_and_the_empty_set_are_read_however_they_are_named(answer, gold):
    assert _right(answer, gold)


def test_the_plane_is_not_the_real_line():
    assert _wrong("\\mathbb{R}^2", "(-\\infty,\\infty)")


@pytest.mark.parametrize("response,gold", [
    ("There are four marbles left in the jar.", "4"),
    ("There are 3 bars that are taller than 7 units in the chart.", "3"),
    ("There were two runners faster than 60 seconds.", "2"),
    ("The answer is twenty-one.", "21"), ("So the count is eleven.", "11"),
])
def test_a_stated_count_and_a_number_word_are_the_answer(response, gold):
    assert grade(response, gold).correct
    assert not grade(response, str(int(gold) + 1)).correct


def test_a_number_word_inside_a_name_is_not_a_count():
    assert not grade("The one with the red roof is the tallest.", "1").correct


def test_an_untagged_fence_used_for_display_is_read():
    assert grade("So:\n```\nDE = \\sqrt{124} = \\boxed{2\\sqrt{31}}\n```", "2\\sqrt{31}").correct


def test_a_count_followed_by_arithmetic_is_not_the_count():
    response = "Since the 6 dots are split into 3 equal groups, there are 6/3 = 2 dots in each."
    assert grade(response, "2").correct and not grade(response, "6").correct


def test_answer_tags_around_an_uncued_answer_read_it_as_uncued():
    response = "Of the three shapes only the last is closed.\n\nA) open\nB) open\nC) closed"
    for text in (response, f"<answer>{response}</answer>",
                 f"<think>maybe (A)</think>\n<answer>{response}</answer>"):
        assert grade(text, "C", multiple_choice=True).correct == grade(
            response, "C", multiple_choice=True).correct


@pytest.mark.parametrize("response,gold,other", [
    ("The final answer is 3, not 4.", "3", "4"),
    ("The answer is x = 3, rather than x = 4.", "3", "4"),
    ("The answer is 5 (not 6).", "5", "6"),
])
def test_an_alternative_the_answer_phrase_rules_out_is_not_part_of_it(response, gold, other):
    assert grade(response, gold).correct and not grade(response, other).correct


@pytest.mark.parametrize("response,gold", [
    ("The answer is 12 (twelve).", "12"), ("The answer is (1, 2) (in that order).", "(1,2)"),
    ("The answer is 5 (mod 7).", "5"), ("The answer is $5 \\pmod{7}$.", "5"),
])
def test_a_restatement_or_qualifier_after_the_value_is_not_part_of_it(response, gold):
    assert grade(response, gold).correct


@pytest.mark.parametrize("answer,gold", [
    ("15000 \\text{ kcal m}^{-2} \\text{ yr}^{-1}", "15000"),
    ("15,000 \\, \\text{kcal m}^{-2} \\text{ yr}^{-1}", "15000"),
    ("3.2 \\times 10^{4} \\text{ J mol}^{-1}", "32000"),
    ("7\\ \\text{kg}\\cdot\\text{m}^2", "7"),
    ("2.5 \\text{ kg}\\cdot\\text{m}^{2}\\text{/s}", "2.5"),
    ("9.8 \\, \\mathrm{m} / \\mathrm{s}^{2}", "9.8"),
])
def test_a_compound_unit_after_its_value_is_not_part_of_it(answer, gold):
    assert _right(answer, gold)


@pytest.mark.parametrize("answer,gold", [
    ("15001 \\text{ kcal m}^{-2} \\text{ yr}^{-1}", "15000"),
    ("9.8 \\, \\mathrm{m} / \\mathrm{s}^{2}", "9.81"),
    ("x \\text{ m}", "2"),
])
def test_a_compound_unit_keeps_the_value_compared(answer, gold):
    assert _wrong(answer, gold)


@pytest.mark.parametrize("answer", ["5 \\text{ or 6}", "5 \\text{ apples} \\text{ and 6 pears}"])
def test_text_that_holds_another_number_is_no_unit(answer):
    assert _wrong(answer, "5")


@pytest.mark.parametrize("answer,gold", [
    ("\\frac{\\sinh(at)}{a}", "\\frac{1}{2a}(\\exp{a*t}-\\exp{-a*t})"),
    ("\\frac{1}{a} \\sinh(at)", "\\frac{1}{2a}(e^{at}-e^{-at})"),
    ("\\cosh x", "\\frac{e^x+e^{-x}}{2}"), ("\\tanh x", "\\frac{e^{2x}-1}{e^{2x}+1}"),
    ("\\frac{e^x-e^{-x}}{2}", "\\sinh x"),
])
def test_a_hyperbolic_function_equals_its_exponential_form(answer, gold):
    assert _right(answer, gold)


@pytest.mark.parametrize("answer,gold", [
    ("\\frac{\\sinh(at)}{2a}", "\\frac{1}{2a}(e^{at}-e^{-at})"),
    ("\\frac{\\cosh(at)}{a}", "\\frac{1}{2a}(e^{at}-e^{-at})"), ("\\sinh x", "\\cosh x"),
])
def test_a_hyperbolic_function_is_not_another_exponential_form(answer, gold):
    assert _wrong(answer, gold)
