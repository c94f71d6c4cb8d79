"""Step 1 of reading an answer: the part of a response that can hold its final answer.

A response may carry the markup of the template that produced it: a transcript of the whole
chat (system and user turns before the reply), a reasoning block before the answer
(``<think>…</think>``, ``<|begin_of_thought|>…<|end_of_thought|>``, ``◁think▷…◁/think▷``,
``[THINK]…[/THINK]``, ...), a solution block after it (``<|begin_of_solution|>…``), end
tokens (``<|im_end|>``, ``<|eot_id|>``, ``</s>``, ``<｜end▁of▁sentence｜>``, ...). The region
is read in this order:

1. the reply: when the text opens with a prompt (system or user turns), the reply starts after
   the first assistant marker; it ends where a new user or system turn starts (the model ran on
   into the next turn). Nothing else ends it: special tokens are boundaries, not cut points;
2. reasoning: the text after the last closed reasoning block; a reasoning block that opens
   and never closes is a response cut off while thinking, and holds no answer;
3. what is left keeps its solution blocks and loses its markup: each remaining special token
   becomes a line break, and fenced blocks of a programming language are dropped (an
   ``output`` block's printed result, and an untagged or ``latex`` fence, are kept).

Templates are recognised by kind (a role marker, a reasoning pair, a special token), not by
model name, so a new model family that writes ``<|foo|>`` tokens is read the same way.
"""

from __future__ import annotations

import re

_FULL_WIDTH = {code: code - 0xFEE0 for code in range(0xFF01, 0xFF5F)} | {0x3000: 0x20}

# A turn's start: the role it opens. ChatML, Llama 3, Gemma, Mistral's [INST], Phi/Zephyr and
# DeepSeek (<｜User｜>, read after the full-width bars became ASCII).
_ROLE = re.compile(
    r"<\|im_start\|>\s*(?P<a>user|system|assistant|tool)\b"
    r"|<\|start_header_id\|>\s*(?P<b>user|system|assistant|ipython)\s*<\|end_header_id\|>"
    r"|<start_of_turn>\s*(?P<c>user|model)\b"
    r"|<\|(?P<d>user|assistant|system)\|>"
    r"|(?P<e>\[INST\])|(?P<f>\[/INST\])",
    re.I,
)
_ASSISTANT = {"assistant", "model", "[/inst]"}
# After an end-of-turn or end-of-text token, a plain-text speaker label starts a new turn.
_END_TOKEN = re.compile(r"<\|(?:im_end|eot_id|endoftext|end_of_text|end|eot)\|>|</s>|<eos>"
                        r"|<end_of_turn>|<\|end▁of▁sentence\|>", re.I)
_SPEAKER = re.compile(r"\s*(?:Human|User|USER|Question)\s*:")

# Reasoning blocks: (opening, closing) pairs of the templates in use.
_REASONING_PAIRS = (
    (r"<think>", r"</think>"),
    (r"<thinking>", r"</thinking>"),
    (r"<thought>", r"</thought>"),
    (r"<reasoning>", r"</reasoning>"),
    (r"<seed:think>", r"</seed:think>"),
    (r"<\|begin_of_thought\|>", r"<\|end_of_thought\|>"),
    (r"<\|thinking\|>", r"<\|/thinking\|>"),
    (r"◁think▷", r"◁/think▷"),
    (r"\[THINK\]", r"\[/THINK\]"),
    (r"<\|channel\|>\s*analysis\s*<\|message\|>",
     r"<\|channel\|>\s*final\s*<\|message\|>"),
)
_REASONING_OPEN = re.compile("|".join(f"(?:{o})" for o, _ in _REASONING_PAIRS), re.I)
_REASONING_CLOSE = re.compile("|".join(f"(?:{c})" for _, c in _REASONING_PAIRS), re.I)
_SOLUTION_OPEN = re.compile(r"<\|begin_of_solution\|>|<solution>", re.I)

# Any other markup token: <|name|>, <s>, </s>, <eos>, <bos>, Gemma's turn tokens, [INST].
_SPECIAL_TOKEN = re.compile(
    r"<\|[^<>|\n]{1,40}\|>|</?s>|<eos>|<bos>|<pad>|<end_of_turn>|<start_of_turn>(?:model)?"
    r"|\[/?INST\]|</?solution>|<\|begin_of_solution\|>|<\|end_of_solution\|>", re.I)


def _role(match: re.Match[str]) -> str:
    return next(g for g in match.groups() if g is not None).lower()


def _only_markup(text: str) -> bool:
    return not _SPECIAL_TOKEN.sub("", text).strip()


def reply(text: str) -> str:
    """The model's reply in ``text``: after the prompt when the text opens with one, up to
    the start of a new user or system turn."""
    roles = list(_ROLE.finditer(text))
    start = 0
    if roles and _role(roles[0]) not in _ASSISTANT and _only_markup(text[: roles[0].start()]):
        assistant = next((m for m in roles if _role(m) in _ASSISTANT), None)
        if assistant is not None:
            start = assistant.end()
    for match in roles:
        if (match.start() > start and _role(match) not in _ASSISTANT
                and not _only_markup(text[start : match.start()])):
            return text[start : match.start()]
    for match in _END_TOKEN.finditer(text, start):
        if _SPEAKER.match(text, match.end()):
            return text[start : match.start()]
    return text[start:]


def after_reasoning(text: str) -> str:
    """The text after its last closed reasoning block (all of it when there is none); the text
    before a reasoning block that never closes (a response cut off while thinking)."""
    closes = list(_REASONING_CLOSE.finditer(text))
    if closes:
        text = text[closes[-1].end():]
    opened = _REASONING_OPEN.search(text)
    if opened is not None:
        text = text[: opened.start()]
    return text


def solution(text: str) -> str:
    """The last solution block and what follows it, when the text marks one; else the text."""
    opens = list(_SOLUTION_OPEN.finditer(text))
    return text[opens[-1].end():] if opens else text


_CODE_BLOCK = re.compile(r"```[ \t]*([\w+#.-]*)[^\n]*\n(.*?)(?:```|\Z)", re.S)
_NOT_CODE = frozenset({"", "output", "text", "txt", "plaintext", "latex", "tex", "math",
                       "markdown", "md"})


def without_code(text: str) -> str:
    """Fenced blocks of a programming language dropped (code is not where an answer is
    stated); the content of other fences kept (a program's ``output``, an untagged or
    ``latex`` block used for display)."""
    return _CODE_BLOCK.sub(lambda m: "\n" if m.group(1).lower() not in _NOT_CODE
                           else f"\n{m.group(2)}\n", text)


def without_markup(text: str) -> str:
    """Each special token replaced by a line break (a boundary the answer cannot cross)."""
    return _SPECIAL_TOKEN.sub("\n", text)


def answer_region(response: str) -> str:
    """The part of ``response`` that can hold its final answer (steps 1-3 of the module's
    docstring); full-width forms ("（D）", "：", "｜") are read as ASCII."""
    text = str(response or "").translate(_FULL_WIDTH)
    return without_code(without_markup(solution(after_reasoning(reply(text))))).strip()
