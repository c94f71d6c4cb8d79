"""Math-Verify's second opinion (``ovr_eval.verify.second_opinion``): what it reads, and a
timeout that is no opinion."""

from __future__ import annotations

from ovr_eval.verify.second_opinion import plan, second_opinions

CHOICES = ["1", "2", "3", "4"]


def test_math_verify_reads_what_the_rules_read():
    # after the thinking, as the rules read it
    response = "<think>maybe it is \\boxed{9}</think>So it is $\\boxed{4}$."
    assert plan(response, "4") == ("So it is $\\boxed{4}$.", "4", None)
    assert second_opinions([(response, "4"), (response, "9")]) == [True, False]
    # an option letter gold, read among the question's option letters
    assert plan("Answer: E", "(E)", ["a", "b", "c", "d", "e"]) == \
        ("Answer: E", "E", ("A", "B", "C", "D", "E"))
    # no opinion to give: an empty gold, a gold of several letters
    assert plan("\\boxed{2}", "") is None and plan("B and D", "B, D") is None
    assert second_opinions([("\\boxed{2}", ""), ("B and D", "B, D", CHOICES)]) == [None, None]


def test_a_math_verify_timeout_is_no_opinion_never_a_disagreement():
    long_sum = "+".join(f"x_{{{i}}}^{{{i}}}" for i in range(300))
    items = [(f"So the answer is $\\boxed{{{long_sum}}}$.", long_sum)]
    assert second_opinions(items, timeout_s=0.001) == [None]  # out of CPU time, twice
