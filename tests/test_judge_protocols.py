"""The official extraction protocols (MathVista, MathVerse, LogicVista): what the judge is asked,
how its replies are read, how the official pipelines decide; the judge's reply cache."""

from __future__ import annotations

from dataclasses import replace

import pytest

from ovr_eval.judge import JudgeCache, cache_key, rules_found_no_answer
from ovr_eval.judge_protocols import JUDGE_MAX_CHARS, UnreadableReply, judge_view
from ovr_eval.judged import agreement
from ovr_eval.records import Record
from ovr_eval.task_registry import judge_protocols, protocol_for


def rec(**fields) -> Record:
    """A record with only the fields a test sets (the rest at their defaults)."""
    return Record.from_json(fields)


def _mc_record(**meta):
    return rec(id="1", question="Which is largest?\nChoices:\n(A) 3\n(B) 12\n(C) 7",
               gold="B", choices=["3", "12", "7"],
               metadata={"question_type": "multi_choice", "answer_type": "text", **meta})


def test_only_the_three_judged_benchmarks_have_a_protocol():
    assert set(judge_protocols()) == {"mathvista", "mathverse", "logicvista"}
    for rule_based in ("mathvision", "math500", "dynamath", "wemath", "mmmu_pro"):
        assert protocol_for(rule_based) is None


def test_the_judge_reads_the_answer_after_thinking_and_the_end_of_long_answers():
    assert judge_view("<think>try 3, no</think> The answer is 12.") == "The answer is 12."
    long = "x" * (2 * JUDGE_MAX_CHARS) + " final: 12"
    seen = judge_view(long)
    assert seen.endswith("final: 12") and len(seen) == JUDGE_MAX_CHARS + 1
    record = _mc_record()
    prompt = judge_protocols()["mathvista"].extraction_prompt(
        record, "<think>hm</think>It is (B) 12.")
    assert record.question in prompt and "It is (B) 12." in prompt and "hm" not in prompt
    assert prompt.endswith("Extracted answer: ")


def test_mathvista_quick_rules_skip_the_judge():
    mathvista = judge_protocols()["mathvista"]
    assert mathvista.shortcut(_mc_record(), "12").answer == "12"  # the option's own text
    integer = rec(question="How many?", gold="4", metadata={"answer_type": "integer"})
    assert mathvista.shortcut(integer, " 4 ").answer == "4"
    assert mathvista.shortcut(integer, "four apples") is None
    assert mathvista.shortcut(integer, "").answer == ""


def test_mathvista_normalises_like_the_official_scorer():
    mathvista, record = judge_protocols()["mathvista"], _mc_record()
    assert mathvista.verdict(record, "B") is True
    assert mathvista.verdict(record, "(b) 12") is True  # the letter in parentheses
    assert mathvista.verdict(record, "12") is True  # the nearest option is "12"
    assert mathvista.verdict(record, "A") is False
    # the official nearest-option rule maps even a refusal to some option (a tie: the first)
    assert mathvista.verdict(record, "x12") is True  # one edit from "12", the gold
    assert mathvista.verdict(record, "cannot tell") is False  # mapped to "3"
    assert mathvista.verdict(replace(record, gold="A"), "cannot tell") is True  # "3" is gold
    floats = rec(gold="1.45", metadata={"answer_type": "float", "precision": 2.0})
    assert mathvista.verdict(floats, "1.4501") is True
    assert mathvista.verdict(floats, "1.5") is False
    assert mathvista.verdict(rec(gold="3", metadata={"answer_type": "integer"}), "3.0") is True
    assert mathvista.verdict(rec(gold="[1, 2]", metadata={"answer_type": "list"}), "[1, 2]")


def test_mathverse_exact_answers_skip_the_match_question():
    mathverse = judge_protocols()["mathverse"]
    record = rec(question="Find x.", gold="5", metadata={"question_for_eval": "Find x in T."})
    assert mathverse.parse_extraction("Extracted Answer: 5") == "5"
    assert mathverse.parse_extraction(" null ") is None
    assert mathverse.verdict(record, "5") is True
    assert mathverse.verdict(record, None) is False
    assert mathverse.verdict(record, "x = 5") is None  # the judge decides
    prompt = mathverse.match_prompt(record, "x = 5")
    assert "[Question]: Find x in T." in prompt and "[Standard Answer]: 5" in prompt
    assert "[Model_answer] : x = 5" in prompt
    assert mathverse.parse_match("Judgement: 1") is True
    assert mathverse.parse_match("0") is False
    with pytest.raises(UnreadableReply):
        mathverse.parse_match("They agree.")


def test_logicvista_letters_and_the_one_character_rule():
    logicvista = judge_protocols()["logicvista"]
    assert logicvista.shortcut(rec(), "b").answer == "B"
    assert logicvista.shortcut(rec(), "G").answer is None  # a single letter beyond E: no answer
    assert logicvista.shortcut(rec(), "?").answer is None
    assert logicvista.shortcut(rec(), "3") is None  # a digit goes to the judge
    assert logicvista.parse_extraction("D, B") == "B, D"
    assert logicvista.parse_extraction("A and C.") == "A, C"
    assert logicvista.parse_extraction("NONE") is None
    with pytest.raises(UnreadableReply):
        logicvista.parse_extraction("I think the second one")
    record = rec(gold="B, D")
    assert logicvista.verdict(record, "B, D") is True
    assert logicvista.verdict(record, "B") is False
    assert logicvista.verdict(record, None) is False


def test_fallback_asks_only_where_the_rules_found_no_answer():
    record = rec(extracted=["12", None, "x"], errors=[None, "no final answer found",
                                                     "no option named"])
    assert [rules_found_no_answer(record, i) for i in range(3)] == [False, True, True]


def test_agreement_counts_responses_samples_and_failures():
    records = [
        rec(id="a", correct=[True, False], judge={"correct": [True, True],
                                                  "errors": [None, None]}),
        rec(id="b", correct=[False], judge={"correct": [False],
                                            "errors": ["judge request failed: x"]}),
    ]
    found = agreement(records)
    assert (found.responses, found.agree, found.samples_disagreeing) == (3, 2, 1)
    assert found.disagreeing_ids == ["a"] and found.failures == 1


def test_cache_keeps_replies_across_a_torn_last_line(tmp_path):
    path = tmp_path / "judge" / "cache.jsonl"
    cache = JudgeCache(path)
    key = cache_key("m", "prompt", "response", 0)
    assert key != cache_key("m2", "prompt", "response", 0)
    assert key != cache_key("m", "prompt", "response", 1)
    cache.put(key, "m", 0, "prompt", "B")
    cache.close()
    with path.open("a") as handle:
        handle.write('{"key": "half a li')  # a kill -9 in the middle of a write
    again = JudgeCache(path)
    assert again.get(key) == "B" and len(again.replies) == 1
    again.put(cache_key("m", "p2", "r", 0), "m", 0, "p2", "C")
    again.close()
    assert len(path.read_text().splitlines()) == 2  # the torn line was cut, not kept
