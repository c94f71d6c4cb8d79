"""Find the final answer in a model response, in two steps (the third, equivalence, is
``equivalence``'s):

1. the answer region (``region.answer_region``): the reply, after its reasoning blocks, its
   template markup turned into line breaks; then JSON escape damage is repaired and closing
   pleasantries ("I hope it is correct") are cut;
2. the answer in that region, the last thing it states as its answer, in this order:
   ``<answer>`` tags; the later of the last ``\\boxed{}`` (with the boxes written next to it,
   for answers in several parts) and the last answer phrase ("the final answer is", "Answer:",
   "答案是", ...) — a box ends its answer: the words after it are not part of it; a last line
   that is nothing but an answer; the last formula, then the last number, of the closing
   sentence. ``Answer.cued`` tells an answer that a marker names from one that is only the last
   thing said.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from functools import lru_cache

from ovr_eval.verify.normalize import NUMBER_WORD, repair_escapes
from ovr_eval.verify.region import answer_region

_MAX_TAIL = 20_000  # only the end of very long responses can hold the final answer
_ANSWER_OPEN = re.compile(r"<answer>", re.I)
_ANSWER_CLOSE = re.compile(r"</answer>", re.I)
_BOXED = re.compile(r"\\(?:boxed|fbox)\s*")
_PLEASANTRY = re.compile(r"\s*(?:I hope (?:it|this|that) (?:is|was) (?:correct|right|helpful)"
                         r"|Hope (?:this|that|it) helps)[.!]?", re.I)
_SIGN_OFF_WORDS = (r"(?:I hope|Hope (?:this|that|it)|Let me know|Please let me know|Feel free|"
                   r"Is there anything|If you have (?:any )?(?:other |more |further )?questions|"
                   r"Thank you|Thanks(?!\s+to\b)|Do you (?:have|want|need)|Would you like|"
                   r"Good luck|"
                   r"Happy (?:learning|studying|solving|problem[- ]solving)|Cheers|"
                   r"(?:I am |I'm )?(?:happy|glad) to help)")
_SIGN_OFF = re.compile(rf"^\W*{_SIGN_OFF_WORDS}", re.I)
# a closing sentence or line that only signs off ("...\n\nI hope this helps!")
_TRAILING_SIGN_OFF = re.compile(rf"(?:^|(?<=[.!?\n]))[ \t*_]*{_SIGN_OFF_WORDS}"
                                r"(?:[^.!?\n]|[.!?](?=\S))*[.!?]*[ \t*_]*$", re.I)
_MATH = re.compile(
    r"\$\$(.{1,4000}?)\$\$|\\\[(.{1,4000}?)\\\]|\\\((.{1,4000}?)\\\)"
    r"|(?<![\\$])\$(?!\$)([^\n$]{1,1000}?)(?<!\\)\$",  # inline $...$ stays on one line
    re.S,
)
_MARKUP = r"[*_#\s]*"
_MASK = "\x00"
_CUE = re.compile(
    rf"(?:\bfinal\s+answer{_MARKUP}(?:is|would\s+be|will\s+be)?{_MARKUP}[:：]?"
    rf"|\b(?:the\s+)?(?:correct\s+|right\s+|best\s+|final\s+)?(?:answer|option|choice)"
    rf"(?:\s+to\s+(?:the|this|your|that)\s+question)?{_MARKUP}"
    rf"(?:is|should\s+be|would\s+be|will\s+be|must\s+be|=){_MARKUP}[:：]?"
    rf"|\banswer{_MARKUP}[:：]"
    rf"|\banswer(?=\s*(?:\$|\\\(|\\\[|{_MASK}))"
    rf"|(?:正确)?(?:答案|选项)\s*(?:是|为|應為|应为|[:：])"
    rf"|故选|所以选|应选|答案选)",
    re.I,
)
_NUMBER = re.compile(r"(?<![A-Za-z\d:.])(?:\d+(?:\.\d+)?:\d+(?:\.\d+)?(?![\d:])"  # 5:30, 1:4
                     r"|[-+]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?(?:\s*(?:%|\\%|percent))?"
                     r"|[-+]?\.\d+)")
_UNIT_WORDS = re.compile(
    r"\b(?:units?|square|cubic|cm|mm|km|m|meters?|metres?|inches|inch|feet|foot|ft|yards?|miles?|"
    r"degrees?|percent|percentage|pct|dollars?|cents?|hours?|minutes?|seconds?|days?|years?|"
    r"kg|g|grams?|liters?|ml|and|or|per)\b", re.I)
_WORD = re.compile(r"[A-Za-z]{2,}")
_SENTENCE_END = re.compile(r"(?<=[^\s\d])[.!?](?=\s+|$)|(?<=\d)[.!?](?=\s+[A-Z\n]|\s*$)|。")
_COPULA = re.compile(r"\s(?:is|are|was|be|equals|equal\s+to|of)\s+|=(?![^$]*\$)|:\s+", re.I)


@dataclass(frozen=True)
class Answer:
    """A response's final answer: its text, where it was found, and how it was cued.

    ``parts``: the boxes written together at the end when there are several (an answer in
    parts, such as "\\boxed{(2,2)} and \\boxed{(6,2)}"), else empty. ``cued``: True when an
    explicit cue (tags, a box, an answer phrase) marks the answer, False when it is only the
    last thing said (a last line, the closing sentence)."""

    text: str | None
    source: str
    parts: tuple[str, ...] = ()
    cued: bool = True
    raw: str | None = None  # the last answer phrase as written, before reduction to a value

    @property
    def said(self) -> str | None:
        """What the response wrote as its answer (the whole phrase, for a phrase)."""
        return self.raw if self.raw is not None else self.text


NO_ANSWER = Answer(None, "none", cued=False)


def clean_tail(text: str) -> str:
    """An answer region without JSON escape damage and closing pleasantries ("I hope it is
    correct")."""
    text = repair_escapes(text).rstrip()
    while (match := _TRAILING_SIGN_OFF.search(text)) and match.start() > 0:
        text = text[: match.start()].rstrip()
    return _PLEASANTRY.sub("", text).rstrip()


def final_region(response: str) -> str:
    """Where a response's final answer can be: its answer region (``region.answer_region``:
    the reply, after its reasoning, without markup), its end when it is very long, cleaned."""
    return clean_tail(answer_region(str(response or ""))[-_MAX_TAIL:])


def math_spans(text: str) -> list[tuple[int, int, str]]:
    """(start, end, content) of every $...$, $$...$$, \\(...\\), \\[...\\] span."""
    spans = []
    for m in _MATH.finditer(text):
        content = next(g for g in m.groups() if g is not None)
        spans.append((m.start(), m.end(), content.strip()))
    return spans


@lru_cache(maxsize=8)  # one response is masked by several readers in turn
def masked(text: str) -> str:
    """``text`` with every math span replaced by the same number of mask characters, so that
    line and sentence boundaries can be found without looking inside formulas."""
    out = list(text)
    for start, end, _ in math_spans(text):
        out[start:end] = _MASK * (end - start)
    return "".join(out)


def boxed_spans(text: str) -> list[tuple[int, int, str]]:
    """(start, end, content) of every \\boxed{...} / \\fbox{...}, nested braces included."""
    spans = []
    for m in _BOXED.finditer(text):
        start = m.end()
        if start < len(text) and text[start] == "{":
            depth = 0
            for i in range(start, min(len(text), start + 20_000)):
                if text[i] == "{":
                    depth += 1
                elif text[i] == "}":
                    depth -= 1
                    if depth == 0:
                        spans.append((m.start(), i + 1, text[start + 1 : i].strip()))
                        break
            else:  # never closed: the box holds the rest of its line ("\\boxed{-10" at the end)
                end = text.find("\n", start)
                end = len(text) if end < 0 else end
                rest = re.sub(r"(?:\$+|\\\]|\\\))\s*$", "", text[start + 1 : end]).strip()
                if rest and "\\boxed" not in rest:
                    spans.append((m.start(), end, rest))
            continue
        token = re.match(r"[^\s$.,;*_}]+", text[start:])  # \boxed 5
        if token:
            spans.append((m.start(), start + token.end(), token.group(0)))
    return spans


def last_boxed(text: str) -> str | None:
    """Content of the last \\boxed{...} / \\fbox{...}, nested braces included."""
    spans = boxed_spans(text)
    return spans[-1][2] if spans else None


_CONNECTOR = re.compile(r"^[\s,;.$&]*(?:\\quad|\\qquad|\\text\{[^{}]{0,40}\}|\\[()\[\]]|and|or|"
                        r"[a-zA-Z](?:_\{?\w+\}?)?\s*=|[\s,;.$&])*$")


def _box_group(text: str, spans: list[tuple[int, int, str]]) -> tuple[str, ...]:
    """The boxes written together with the last one: separated only by punctuation, math
    delimiters, "and"/"or", \\quad, short \\text{...} connectors or labels ("y_2 =")."""
    group = [spans[-1]]
    for span in reversed(spans[:-1]):
        between = text[span[1] : group[0][0]]
        if len(between) > 80 or not _CONNECTOR.match(between):
            break
        group.insert(0, span)
    return tuple(s[2] for s in group) if len(group) > 1 else ()


def _cut_unbalanced(text: str) -> str:
    """Cut at the first closing brace/bracket or math delimiter that opened before ``text``
    ("G} \\]" -> "G", from "\\text{Answer: G}")."""
    depth = 0
    i = 0
    while i < len(text):
        two = text[i : i + 2]
        if two in ("\\)", "\\]") and depth == 0:
            return text[:i]
        ch = text[i]
        if ch == "{":
            depth += 1
        elif ch == "}":
            if depth == 0:
                return text[:i]
            depth -= 1
        i += 1
    return text


def _until_sentence_end(text: str) -> str:
    """The text up to the end of its first sentence (ignoring stops inside formulas)."""
    hidden = masked(text)
    match = _SENTENCE_END.search(hidden)
    return text[: match.start()] if match else text


def _phrase_capture(text: str, end: int) -> str:
    """What follows an answer cue: the rest of its line (display formulas included), or the
    next line when the cue ends its line ("The answer is:\\n\\n\\[ 42 \\]")."""
    hidden = masked(text)
    rest, rest_hidden = text[end:], hidden[end:]
    lines = rest_hidden.split("\n")
    offset = 0
    for line in lines[:4]:
        content = rest[offset : offset + len(line)]
        if content.strip(" \t*:：_#-"):
            return _cut_unbalanced(_until_sentence_end(content)).strip()
        offset += len(line) + 1
    return ""


def _words(text: str) -> list[str]:
    """Words of two or more letters outside formulas, \\text{} and unit words."""
    plain = masked(text).replace(_MASK, " ")
    plain = re.sub(r"\\[a-zA-Z]+(?:\{[^{}]*\})?", " ", plain)
    plain = _UNIT_WORDS.sub(" ", plain)
    return _WORD.findall(plain)


def _unwrap_math(text: str) -> str:
    """"$x$" -> "x" when the whole text is one formula."""
    spans = math_spans(text)
    if len(spans) == 1 and spans[0][0] == 0 and spans[0][1] == len(text):
        return spans[0][2]
    return text


_HEDGE = re.compile(r"^(?:approximately|approx\.?|about|around|roughly|nearly|almost|exactly|"
                    r"only|just|~|≈|\\approx)\s*", re.I)


def strip_hedge(text: str) -> str:
    """"about 50" -> "50", "approximately 7" -> "7"."""
    return _HEDGE.sub("", text.strip())


def tidy(text: str) -> str:
    """An answer without markdown, a leading colon, closing punctuation, quotes and its
    math delimiters (when it is one formula)."""
    text = text.strip().strip("*_#").strip()
    text = re.sub(r"^[:：]\s*|^[-–]\s+", "", text)
    text = strip_hedge(text)
    text = text.strip('"“”').removeprefix('\\"').removesuffix('\\"').strip()
    text = text.rstrip(" .,;:").strip().strip("*_").strip()
    return _unwrap_math(text).strip()


_LEADING_VALUE = re.compile(r"^([-+]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?%?)\s+(?=[a-z])")


def stated_tail(sentence: str, words: int = 6) -> str | None:
    """What a short statement says after its last "is"/"are"/"=" (at most ``words`` words):
    "The shape must be the hexagon." -> "the hexagon"."""
    copulas = list(_COPULA.finditer(masked(sentence)))
    if not copulas:
        return None
    tail = tidy(_until_sentence_end(sentence[copulas[-1].end():]))
    return tail if tail and len(tail.split()) <= words else None


_LONE_VARIABLE = re.compile(r"^\\?[A-Za-z]+(?:_\{?\w+\}?)?$")  # "$n$", "$\\theta$": names a thing


# a count stated as such: "There are three objects left", "there were 12 in all"
_THERE_ARE = re.compile(rf"\bthere\s+(?:are|were|is|was|will\s+be)\s+(?:only\s+|exactly\s+|"
                        rf"a\s+total\s+of\s+|in\s+total\s+)?(\d+(?:\.\d+)?|{NUMBER_WORD})\b"
                        r"(?!\s*(?:%|[-+*/×÷=^:]|\\(?:times|cdot|div)))",
                        re.I)


_NUMBER_WORD_IN = re.compile(rf"\b{NUMBER_WORD}\b", re.I)


def from_sentence(sentence: str) -> str | None:
    """The answer a sentence states: what follows its last "is"/"="/":" when that is short,
    else its last formula, else its last number ("Therefore $x \\geq 5$ is the solution" ->
    "x \\geq 5"; "There are 12 such sequences" -> "12")."""
    hidden = masked(sentence)
    if count := _THERE_ARE.search(hidden):  # the count, not a number in its description
        return count.group(1)
    copulas = list(_COPULA.finditer(hidden))
    if copulas:
        tail = tidy(_until_sentence_end(sentence[copulas[-1].end():]))
        leading = _LEADING_VALUE.match(tail)
        if leading:  # "2 inches long", "5 people in the room"
            return leading.group(1)
        if tail and len(_words(tail)) <= 1 and len(tail) <= 200:
            return tail
    formulas = [span for span in math_spans(sentence)
                if len(_words(span[2])) < 2 and not _LONE_VARIABLE.match(span[2])]
    if formulas:
        return formulas[-1][2]
    numbers = _NUMBER.findall(re.sub(r"\$|\\[()\[\]]", " ", sentence))
    return numbers[-1].strip() if numbers else None


def is_sentence(text: str, words: int = 3) -> bool:
    """Prose rather than an answer: ``words`` or more words outside formulas and units."""
    return len(_words(text)) >= words




_RULED_OUT_TAIL = re.compile(r"(?<=\S)(?:,?\s+(?:not|rather\s+than|instead\s+of)\s+[^,;]{1,40}"
                             r"|\s*\(\s*(?:not|rather\s+than)\s+[^()]{1,40}\))$", re.I)
# a restatement or qualifier after the value: "12 (twelve)", "(1, 2) (in order)", "5 (mod 7)"
_WORDS_IN_PARENTHESES = re.compile(r"(?<=[\d$})\]])\s*(?:\((?=[^()]*[A-Za-z])[^()\d$\\]{1,40}\)"
                                   r"|\(\s*mod\s*\d+\s*\)|\\pmod\s*\{\s*\d+\s*\})$")


def reduce_phrase(capture: str) -> str | None:
    """The answer inside an answer phrase's capture: the capture itself when it is short, its
    leading number ("1982 with a total of ..." -> "1982"), or the value its sentence states
    ("The largest $n$ is 34" -> "34")."""
    text = tidy(capture)
    if not text:
        return None
    text = _RULED_OUT_TAIL.sub("", text).strip()  # "3, not 4": the 4 is ruled out
    text = _WORDS_IN_PARENTHESES.sub("", text).strip()  # "12 (twelve)"
    if not is_sentence(text):
        return text
    leading = _LEADING_VALUE.match(text)
    return leading.group(1) if leading else from_sentence(text)


_BOLD_VALUE = re.compile(r"\*\*\s*([^*\n]{1,24}?)\s*\*\*")
_CONDITIONAL = re.compile(r"\b(?:if|whether|unless|suppose|assuming)\b", re.I)


def _last_cue(text: str) -> tuple[int, str] | None:
    """(position, capture) of the last answer cue with something after it: an answer phrase
    not inside a condition ("If X, then the answer is B" is no answer), or a short bold value
    ("the median is **5**")."""
    hidden = masked(text)
    cues: list[tuple[int, str]] = []
    for match in reversed(list(_CUE.finditer(hidden))):
        start = max(hidden.rfind(".", 0, match.start()), hidden.rfind("\n", 0, match.start()))
        if _CONDITIONAL.search(hidden[start + 1 : match.start()]):
            continue
        capture = _phrase_capture(text, match.end())
        if capture:
            cues.append((match.start(), capture))
            break
    for match in _BOLD_VALUE.finditer(text):
        value = match.group(1).strip(" :.")
        if re.search(r"\d", value) and not _words(value):  # "**16**", "**6 inches**"
            cues.append((match.start(), value))
    return max(cues) if cues else None


def _answer_like(text: str | None) -> bool:
    """Worth more than an earlier box: a number, a formula or an option letter."""
    return bool(text) and bool(re.search(r"\d|\\[a-zA-Z]|^\(?[A-J]\)?\b", text or ""))


def bare_answer(text: str) -> str | None:
    """A last line that is nothing but an answer ("12", "$x = 5$", "**-2**", "$Even$",
    "\\begin{pmatrix}...\\end{pmatrix}", "28 percent")."""
    hidden = masked(text.strip())
    lines = [line for line in hidden.split("\n") if line.strip()]
    if not lines:
        return None
    start = hidden.rstrip().rfind(lines[-1])
    last = text.strip()[start : start + len(lines[-1])].strip().strip("*_").strip()
    if not last:
        return None
    whole = _unwrap_math(last)
    if whole != last and len(whole) <= 400:
        return whole or None
    if re.fullmatch(r"\\begin\{(\w+)\}.*\\end\{\1\}", last, re.S):
        return last
    if len(lines) == 1 and len(last) <= 40 and len(last.split()) <= 3:
        return tidy(last) or None  # the whole response is one short answer ("odd", "B, D")
    if len(last) > 60 or _words(last):
        return None
    return tidy(last) or None




def sentences(text: str) -> list[str]:
    """The sentences of a text (a displayed formula is one of its own), sign-offs ("Let me
    know if ...") left out."""
    hidden = masked(text)
    ends = [0] + [m.end() for m in _SENTENCE_END.finditer(hidden)] + [len(text)]
    ends += [m.end() for m in re.finditer(r"\n", hidden)]
    for start, end, _ in math_spans(text):  # a displayed formula is a block of its own
        if text.startswith(("$$", "\\["), start):
            ends += [start, end]
    ends = sorted(set(ends))
    pieces = [text[a:b].strip() for a, b in itertools.pairwise(ends)]
    return [p for p in pieces if p.strip(" .!?*_#`\n") and not _SIGN_OFF.match(p)]


_COMPLETE = re.compile(r"[.!?。]\W*$")
_COMMENTARY = 2  # complete sentences without a value that may follow the closing statement


def _closing_sentence(text: str) -> str | None:
    """The last sentence that holds a formula or a number, when at most two complete
    sentences of commentary follow it ("This problem shows how ..."); None when the response
    was cut off mid-sentence (a truncated response) or ends in more prose than that."""
    pieces = sentences(text)
    for back, piece in enumerate(reversed(pieces[-_COMMENTARY - 1:])):
        if (math_spans(piece) or _NUMBER.search(masked(piece))
                or _NUMBER_WORD_IN.search(piece)):
            return piece
        if back == 0 and not _COMPLETE.search(piece):
            return None  # cut off mid-sentence
    return None


def answer_tag(text: str) -> str | None:
    """The content of the last ``<answer>`` tag: up to its closing tag, or to the end when it
    never closes; before a closing tag whose opening tag was in a dropped reasoning block."""
    opens = list(_ANSWER_OPEN.finditer(text))
    if opens:
        start = opens[-1].end()
        close = _ANSWER_CLOSE.search(text, start)
        return text[start : close.start()] if close else text[start:]
    close = _ANSWER_CLOSE.search(text)
    return text[: close.start()] if close else None


def final_answer(response: str, boxed_only: bool = False) -> Answer:
    """The final answer of a response (``NO_ANSWER`` when there is none).

    ``boxed_only``: read only the boxed answer after the thinking (the RL reward of ORZ/OVR),
    so that answers in prose, answer phrases or a bare last line earn nothing."""
    text = final_region(response)
    if not text.strip():
        return NO_ANSWER
    if boxed_only:
        spans = boxed_spans(text)
        return Answer(spans[-1][2], "boxed", _box_group(text, spans)) if spans else NO_ANSWER
    tag = answer_tag(text)
    if tag is not None:
        inside = final_answer(tag)
        if inside.text is not None:  # as cued as the tag's own answer is
            return Answer(inside.text, "answer_tag", inside.parts, inside.cued, inside.raw)
        short = tidy(tag)
        if short and not is_sentence(short):  # "<answer>odd one out</answer>"
            return Answer(short, "answer_tag")
        return Answer(None, "answer_tag", cued=False, raw=inside.raw)  # prose naming no value
    spans = boxed_spans(text)
    cue = _last_cue(text)
    if spans:
        if cue and cue[0] > spans[-1][1]:
            phrase = reduce_phrase(cue[1])
            if _answer_like(phrase):
                return Answer(phrase, "answer_phrase", raw=tidy(cue[1]))
        return Answer(spans[-1][2], "boxed", _box_group(text, spans))
    phrase = tidy(cue[1]) if cue else None
    if cue:
        value = reduce_phrase(cue[1])
        if value:
            return Answer(value, "answer_phrase", raw=phrase)
    bare = bare_answer(text)
    if bare is not None:
        return Answer(bare, "last_line", cued=False, raw=phrase)
    sentence = _closing_sentence(text)
    if sentence is not None:
        value = from_sentence(sentence)
        if value:
            return Answer(value, "last_sentence", cued=False, raw=phrase)
    return Answer(None, "none", cued=False, raw=phrase)


def closing_text(response: str, limit: int = 300) -> str:
    """The end of a response's answer region (of its ``<answer>`` tag, when it has one):
    where an uncued answer would be."""
    region = final_region(response)
    tag = answer_tag(region)
    return (region if tag is None else tag).strip()[-limit:]
