"""Rewrites of a response that must not change its verdict, and one that must.

A grader that reads a response's answer by kind (step 1: the answer region; step 2: the
answer's marker) gives the same verdict whatever template, delimiters or sign-off surround the
answer. Each ``INVARIANT`` rewrite changes only that surrounding; ``flip_boxed_number`` changes
the answer itself. Used by the tests (over the project's labelled cases, with ``hypothesis``)
and by ``benchmarks/verifier.py`` (the invariance rate over every case and rewrite).
"""

from __future__ import annotations

import re
from collections.abc import Callable

from ovr_eval.verify.extract import boxed_spans, final_answer, math_spans

Rewrite = Callable[[str], str]

# Reasoning that a template drops: it names a wrong answer in every way a grader might read.
_DISTRACTOR = ("Let me think. Maybe the answer is -987654? So the answer is (J), "
               "\\boxed{-987654}. Hmm, let me check again.")
_PROMPT = ("Solve the problem. Put the final answer in \\boxed{}. Is it \\boxed{-987654}?")

REASONING_TEMPLATES: dict[str, str] = {
    "think": "<think>\n{r}\n</think>\n\n{a}",
    "think_opened_in_prompt": "{r}\n</think>\n\n{a}",
    "thought_solution": ("<|begin_of_thought|>\n\n{r}\n\n<|end_of_thought|>\n\n"
                         "<|begin_of_solution|>\n\n{a}\n\n<|end_of_solution|>"),
    "thinking": "<thinking>{r}</thinking>\n{a}",
    "seed_think": "<seed:think>{r}</seed:think>{a}",
    "kimi": "◁think▷{r}◁/think▷{a}",
    "magistral": "[THINK]{r}[/THINK]{a}",
    "harmony": ("<|channel|>analysis<|message|>{r}<|end|><|start|>assistant"
                "<|channel|>final<|message|>{a}<|return|>"),
    "think_answer_tags": "<think>{r}</think>\n<answer>{a}</answer>",
}

END_TOKENS = ("<|im_end|>", "<|eot_id|>", "</s>", "<|endoftext|>", "<｜end▁of▁sentence｜>",
              "<end_of_turn>", "<|end|>", "<|im_end|>\n<|endoftext|>")

RUN_ON_TURNS = (
    "<|im_end|>\n<|im_start|>user\nNext: what is 2+2? The answer is \\boxed{-987654}",
    "<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nAnd \\boxed{-987654}?",
    "</s>\nHuman: thanks! Is it \\boxed{-987654}?",
    "<end_of_turn>\n<start_of_turn>user\nSo the answer is -987654?",
)

PROMPT_TRANSCRIPTS = (
    "<|im_start|>system\nYou are helpful.<|im_end|>\n<|im_start|>user\n{p}<|im_end|>\n"
    "<|im_start|>assistant\n{a}",
    "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\n{p}<|eot_id|>"
    "<|start_header_id|>assistant<|end_header_id|>\n\n{a}",
    "<｜begin▁of▁sentence｜><｜User｜>{p}<｜Assistant｜>{a}",
)

SIGN_OFFS = ("\n\nI hope this helps!", "\n\nLet me know if you have any other questions.",
             " Hope this helps.", "\n\nFeel free to ask if anything is unclear!",
             "\n\nThank you for the question.")

BOX_WRAPPERS = ("${b}$", "\\({b}\\)", "\\[{b}\\]", "$${b}$$", "**{b}**", "\n\n{b}\n")

AFTER_BOX = (".", " units.", " \\text{ cm}", " miles from the start.", ".\n\nThis is the result.",
             " square units", " (in total).")


def in_template(name: str) -> Rewrite:
    """The response as the answer part of a reasoning template, after a reasoning block that
    names a wrong answer."""
    template = REASONING_TEMPLATES[name]
    return lambda response: template.format(r=_DISTRACTOR, a=response)


def followed_by(suffix: str) -> Rewrite:
    """The response with ``suffix`` (end tokens, a run-on turn, a sign-off) after it."""
    return lambda response: response + suffix


def in_transcript(template: str) -> Rewrite:
    """The response after a prompt transcript (system and user turns) that names a wrong
    answer."""
    return lambda response: template.format(p=_PROMPT, a=response)


def _last_box(response: str) -> tuple[int, int] | None:
    """(start, end) of the last box, widened to the formula that holds it."""
    boxes = boxed_spans(response)
    if not boxes:
        return None
    start, end, _ = boxes[-1]
    for span_start, span_end, _ in math_spans(response):
        if span_start <= start and end <= span_end:
            return span_start, span_end
    return start, end


def box_in(wrapper: str) -> Rewrite:
    """The last box (outside any formula) written in other delimiters or bold."""
    def rewrite(response: str) -> str:
        boxes = boxed_spans(response)
        where = _last_box(response)
        if not boxes or where is None or where[:2] != boxes[-1][:2]:
            return response  # the box is inside a formula already
        start, end, _ = boxes[-1]
        return response[:start] + wrapper.format(b=response[start:end]) + response[end:]
    return rewrite


def after_box(words: str) -> Rewrite:
    """Words or a full stop right after the last box (after its formula, when in one)."""
    def rewrite(response: str) -> str:
        where = _last_box(response)
        if where is None:
            return response
        end = where[1]
        rest = response[end:]
        if rest.strip(" .") and not rest.lstrip(" .").startswith("\n"):
            return response  # the sentence goes on: the words would not follow the box
        return response[:end] + words + rest.lstrip(" .")
    return rewrite


def spaced(response: str) -> str:
    """More whitespace: around the response, and blank lines between its lines."""
    return "\n  " + response.replace("\n", "\n\n") + "  \n\n"


def shouted_cues(response: str) -> str:
    """Answer cues in capitals ("THE FINAL ANSWER IS")."""
    return re.sub(r"\b(?:final answer|the answer is|answer)\b", lambda m: m.group(0).upper(),
                  response, flags=re.I)


def invariant_rewrites() -> dict[str, Rewrite]:
    """Every rewrite that must not change a verdict, by name."""
    rewrites: dict[str, Rewrite] = {f"template:{n}": in_template(n) for n in REASONING_TEMPLATES}
    rewrites |= {f"end_token:{t!r}": followed_by(t) for t in END_TOKENS}
    rewrites |= {f"run_on_turn:{i}": followed_by(t) for i, t in enumerate(RUN_ON_TURNS)}
    rewrites |= {f"transcript:{i}": in_transcript(t) for i, t in enumerate(PROMPT_TRANSCRIPTS)}
    rewrites |= {f"sign_off:{s.strip()!r}": followed_by(s) for s in SIGN_OFFS}
    rewrites |= {f"box_in:{w.strip()!r}": box_in(w) for w in BOX_WRAPPERS}
    rewrites |= {f"after_box:{w!r}": after_box(w) for w in AFTER_BOX}
    rewrites |= {"spaced": spaced, "shouted_cues": shouted_cues}
    return rewrites


INVARIANT: dict[str, Rewrite] = invariant_rewrites()

_INTEGER_BOX = re.compile(r"^\s*-?\d+\s*$")


def flip_boxed_number(response: str) -> str | None:
    """The response with the whole number in its last box replaced by another (a rewrite that
    must turn a right answer wrong); None when the last box holds no whole number."""
    boxes = boxed_spans(response)
    if final_answer(response).source != "boxed" or not _INTEGER_BOX.match(boxes[-1][2]):
        return None
    start, end, content = boxes[-1]
    other = str(3 * int(content) + 7)
    return response[:start] + f"\\boxed{{{other}}}" + response[end:]
