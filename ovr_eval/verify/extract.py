"""Find the final answer in a model response."""

from __future__ import annotations

import re

_THINK_END = re.compile(r"</think>", re.I)
_ANSWER_TAG = re.compile(r"<answer>(.*?)</answer>", re.I | re.S)
_BOXED = re.compile(r"\\(?:boxed|fbox)\s*")
_ANSWER_PHRASE = re.compile(
    r"(?:final\s+answer\s*(?:is)?\s*[:：]?|the\s+answer\s+is\s*[:：]?|\banswer\s*[:：])\s*(.+)",
    re.I,
)
_MAX_TAIL = 20_000  # only the end of very long responses can hold the final answer


_THINK_START = re.compile(r"<think>", re.I)
_BARE = re.compile(r"^[^a-zA-Z]*(?:\\[a-zA-Z]+[^a-zA-Z]*|[a-zA-Z]{1,3}\b[^a-zA-Z]*)*$")


def strip_thinking(response: str) -> str:
    """The part of a response after its last </think>: the whole response when it has no
    thinking block, and nothing when a <think> block was never closed (a truncated response)."""
    parts = _THINK_END.split(response)
    if len(parts) > 1:
        return parts[-1]
    return "" if _THINK_START.search(response) else response


def bare_answer(text: str) -> str | None:
    """A last line that is nothing but a short answer ("12", "$x = 5$", "**-2**")."""
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    if not lines:
        return None
    last = lines[-1].strip("*").strip()
    if len(last) > 40 or not _BARE.match(last):
        return None
    answer = _clean_phrase(last)
    return answer or None


def last_boxed(text: str) -> str | None:
    """Content of the last \\boxed{...} / \\fbox{...}, nested braces included."""
    starts = [m.end() for m in _BOXED.finditer(text)]
    for start in reversed(starts):
        if start < len(text) and text[start] == "{":
            depth = 0
            for i in range(start, len(text)):
                if text[i] == "{":
                    depth += 1
                elif text[i] == "}":
                    depth -= 1
                    if depth == 0:
                        return text[start + 1 : i].strip()
            continue  # unbalanced: try an earlier one
        token = re.match(r"[^\s$.,;]+", text[start:])  # \boxed 5
        if token:
            return token.group(0)
    return None


def _clean_phrase(answer: str) -> str:
    answer = answer.strip().strip("*").strip()
    answer = re.sub(r"\s*(?:I hope it is correct)\.?\s*$", "", answer, flags=re.I)
    answer = answer.rstrip(". ").strip()
    if len(answer) >= 2 and answer[0] == answer[-1] == "$":
        answer = answer[1:-1].strip()
    return answer.strip("*").strip()


def final_answer(response: str, boxed_only: bool = False) -> tuple[str | None, str]:
    """(answer text, where it came from) for a response; (None, "none") when nothing is found.

    ``boxed_only``: read only the last \\boxed{} after the thinking (the RL reward of ORZ/OVR),
    so that answers in prose, answer phrases or a bare last line earn nothing.
    """
    text = strip_thinking(response)[-_MAX_TAIL:]
    if boxed_only:
        boxed = last_boxed(text)
        return (boxed, "boxed") if boxed is not None else (None, "none")
    tags = _ANSWER_TAG.findall(text)
    if tags:
        inside = tags[-1]
        boxed = last_boxed(inside)
        if boxed is not None:
            return boxed, "answer_tag"
        phrases = _ANSWER_PHRASE.findall(inside)
        return _clean_phrase(phrases[-1] if phrases else inside), "answer_tag"
    boxed = last_boxed(text)
    if boxed is not None:
        return boxed, "boxed"
    phrases = _ANSWER_PHRASE.findall(text)
    if phrases:
        answer = phrases[-1].splitlines()[0]
        while inner := _ANSWER_PHRASE.findall(answer):  # "Final Answer: The answer is 12"
            answer = inner[-1]
        return _clean_phrase(answer), "answer_phrase"
    bare = bare_answer(text)
    if bare is not None:
        return bare, "last_line"
    return None, "none"


_LETTER_FORMS = [
    re.compile(r"^\(?([A-J])\)?(?:[.:)]|\s*$)"),  # C  (C)  C.  C:  C)
    re.compile(r"^\\text\{\s*\(?([A-J])\)?\s*\}$"),  # \text{C}
    re.compile(r"^\\textbf\{\s*\(?([A-J])\)?\s*\}$"),
    re.compile(r"^(?:option|choice)\s*\(?([A-J])\)?", re.I),  # option C
]
_LETTER_IN_TEXT = re.compile(r"(?:\b(?:option|choice)\s*|\()\(?([A-J])\b\)?", re.I)


def choice_letter(answer: str, choices: list[str] | None, n_options: int = 10) -> str | None:
    """The option letter an extracted answer names: by letter, or by the option's value."""
    raw = answer.strip()
    answer = raw.strip("$").strip()
    n = len(choices) if choices else n_options
    for form in _LETTER_FORMS:
        match = form.match(answer)
        if match and ord(match.group(1)) - ord("A") < n:
            return match.group(1)
    if choices:
        from ovr_eval.verify.normalize import normalize

        value = normalize(raw)
        hits = [chr(65 + i) for i, c in enumerate(choices) if normalize(c) == value]
        if len(hits) == 1:
            return hits[0]
    named = _LETTER_IN_TEXT.findall(answer)
    if named and ord(named[-1]) - ord("A") < n:
        return named[-1]
    return None
