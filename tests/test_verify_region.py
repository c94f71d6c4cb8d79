"""Step 1 of reading an answer: the answer region (ovr_eval.verify.region), step by step."""

from __future__ import annotations

import pytest

from ovr_eval.verify import grade
from ovr_eval.verify.extract import final_answer
from ovr_eval.verify.region import after_reasoning, answer_region, reply, solution, without_markup


@pytest.mark.parametrize("transcript", [
    "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nIs it 3?<|im_end|>\n"
    "<|im_start|>assistant\nIt is 4.<|im_end|>",
    "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nIs it 3?<|eot_id|>"
    "<|start_header_id|>assistant<|end_header_id|>\n\nIt is 4.<|eot_id|>",
    "<｜begin▁of▁sentence｜><｜User｜>Is it 3?<｜Assistant｜>It is 4.<｜end▁of▁sentence｜>",
    "<start_of_turn>user\nIs it 3?<end_of_turn>\n<start_of_turn>model\nIt is 4.<end_of_turn>",
    "[INST] Is it 3? [/INST] It is 4.</s>",
])
def test_reply_of_a_transcript_that_opens_with_the_prompt_is_the_assistant_turn(transcript):
    region = answer_region(transcript)
    assert "It is 4." in region and "Is it 3?" not in region


@pytest.mark.parametrize("run_on", [
    "<|im_end|>\n<|im_start|>user\nAnd 5?",
    "<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nAnd 5?",
    "</s>\nHuman: And 5?",
    "<|endoftext|>User: And 5?",
    "<end_of_turn>\n<start_of_turn>user\nAnd 5?",
])
def test_reply_ends_where_a_new_user_turn_starts(run_on):
    assert "And 5?" not in reply("It is 4." + run_on)


@pytest.mark.parametrize("token", ["<|im_end|>", "<|eot_id|>", "</s>", "<|endoftext|>",
                                   "<|end_of_solution|>", "<|some_new_token|>"])
def test_special_tokens_are_boundaries_not_cut_points(token):
    region = answer_region(f"First part.{token}\nSo the answer is \\boxed{{4}}.{token}")
    assert "\\boxed{4}" in region and token not in region


@pytest.mark.parametrize("response", [
    "<think>maybe 3</think>It is 4.",
    "maybe 3</think>It is 4.",                              # <think> was in the prompt
    "<|begin_of_thought|>maybe 3<|end_of_thought|>It is 4.",
    "<thinking>maybe 3</thinking>It is 4.",
    "◁think▷maybe 3◁/think▷It is 4.",
    "[THINK]maybe 3[/THINK]It is 4.",
    "<seed:think>maybe 3</seed:think>It is 4.",
    "<|channel|>analysis<|message|>maybe 3<|end|><|start|>assistant<|channel|>final"
    "<|message|>It is 4.",
    "<think>maybe 3</think><think>or 5</think>It is 4.",    # the last closed block counts
])
def test_reasoning_blocks_of_every_template_are_dropped(response):
    region = answer_region(response)
    assert "It is 4." in region and "3" not in region


@pytest.mark.parametrize("response", [
    "<think>I get 12 so far, let me", "<|begin_of_thought|>so the answer is \\boxed{12}",
    "<think>a</think>\n<think>maybe \\boxed{12}",
])
def test_a_reasoning_block_that_never_closes_holds_no_answer(response):
    assert not after_reasoning(response).strip()
    assert final_answer(response).text is None


def test_a_solution_block_is_kept_and_its_markers_removed():
    text = ("<|begin_of_thought|>\nthe answer is 7\n<|end_of_thought|>\n\n<|begin_of_solution|>\n"
            "Thus $\\boxed{5}$.\n<|end_of_solution|>")
    assert solution(after_reasoning(text)).strip().startswith("Thus")
    assert answer_region(text) == "Thus $\\boxed{5}$."
    assert grade(text, "5").correct and not grade(text, "7").correct


def test_markup_becomes_line_breaks():
    assert without_markup("a<|im_end|>b</s>c") == "a\nb\nc"


def test_the_rl_reward_reads_the_same_region():
    response = ("<|begin_of_thought|>\\boxed{7}<|end_of_thought|><|begin_of_solution|>"
                "\\boxed{5}<|end_of_solution|>")
    assert grade(response, "5", boxed_only=True).correct
    assert not grade(response, "7", boxed_only=True).correct
