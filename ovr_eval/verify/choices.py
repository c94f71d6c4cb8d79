"""Multiple choice: which option(s) an answer names, by letter or by the option's value.

Models write a letter in many ways: "C", "(C)", "C.", "c", "\\text{C}", "\\textbf{(B)}",
"Option C", "C (145°)", "B, no.", "答案是 C", or the option's value instead ("18 cm",
"\\frac{120}{17}" for "120/17"). An answer that names several options for a one-letter gold
("\\boxed{(A),(B),(C)}"), or a letter whose stated value is another option's value ("C (145°)"
where 145° is option B), names none.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

from ovr_eval.verify.normalize import normalize

LETTERS = "ABCDEFGHIJ"
CONTRADICTION = frozenset({"!"})  # a letter whose stated value is another option's
_WRAPPER = re.compile(r"\\(?:boxed|fbox|text|textbf|textit|textrm|mathrm|mathbf|mbox|"
                      r"operatorname)\s*\{([^{}]*)\}")
_DELIMITERS = re.compile(r"\\[()\[\]]|\$+|\*\*|__|[“”\"`]")
_PREFIX = re.compile(r"^(?:(?:the\s+)?(?:correct\s+|right\s+|best\s+|final\s+)?"
                     r"(?:answer|option|choice)s?\s*(?:is|are|:|：)?|option|choice|选项|选)\s*",
                     re.I)
_TOKEN = re.compile(r"(?<![A-Za-z0-9\\/'’])(\(?)([A-Ja-j])(\)?)(?![A-Za-z0-9/'’])")
_JOINER = re.compile(r"^\s*(?:,|、|/|&|and|or|和|或)\s*$", re.I)
_JUDGED_RIGHT = re.compile(r"\s+(?:is|was|must be|would be)\s+(?:the\s+)?(?:correct|right|true|"
                           r"best|answer)\b", re.I)
# Words after which a letter is an option letter: copulas, option nouns, verbs of choosing,
# joiners, adverbs ("definitely B", "for sure D"). After any other word a letter is part of a
# name ("Vitamin B", "Plan B", "type A", "at A").
_INTRODUCER = re.compile(
    r"(?:^|[^A-Za-z])(?:is|are|was|were|be|been|being|option|options|choice|choices|answer|"
    r"answers|letter|graph|figure|fig|image|diagram|picture|shape|statement|pattern|item|set|"
    r"choose|chose|chosen|pick|picked|select|selected|say|said|guess|and|or|either|both|"
    r"than|then|thus|so|hence|therefore|as|like|with|to|get|gives?|think|believe|"
    r"[a-z]+ly|sure|just|still|indeed|again|also|only|now|here|maybe|perhaps|=)\s+\(?$"
    r"|['’]s\s+\(?$", re.I)
_WORD_BEFORE = re.compile(r"[A-Za-z]+\s+\(?$")
# A letter the text rules out: "not A", "except B", "B is wrong", "rule out C".
_NEGATION_BEFORE = re.compile(
    r"\b(?:not|no|never|except|excluding|exclude|eliminate[sd]?|eliminating|rule[sd]?\s+out|"
    r"ruling\s+out|rather\s+than|instead\s+of|isn't|aren't|cannot\s+be|can't\s+be)"
    r"\s+(?:(?:option|choice|answer)\s+)?\(?$", re.I)
_NEGATION_AFTER = re.compile(
    r"^\)?\s*(?:is|was|are|would\s+be|seems|looks)\s+(?:also\s+)?(?:wrong|incorrect|false|"
    r"not\b|impossible|unlikely|ruled\s+out|eliminated|invalid)"
    r"|^\)?\s*(?:can|could)\s+(?:also\s+)?be\s+(?:ruled\s+out|eliminated)", re.I)
# A second letter offered as a possibility right after the first: "B, but maybe D", "B or
# possibly C", "B or D".
_HEDGE_BETWEEN = re.compile(
    r"^\)?\s*[,;]?\s*(?:but\s+)?(?:(?:maybe|perhaps|possibly|probably|alternatively|or|"
    r"it\s+(?:might|could)\s+be|(?:might|could)\s+be)\s+)+(?:(?:option|choice)\s+)?\(?$", re.I)
_LETTER_ONLY = re.compile(r"^\(?([A-Ja-j])\)?[.:)]?$")
_GOLD = re.compile(r"^\s*(?:\(([A-J])\)|([A-J])[.):](?=\s|$)|([A-J])$)(?:\s+.*)?$", re.S)
_GOLD_SET = re.compile(r"^\s*\(?[A-J]\)?(?:\s*(?:,|and|&)\s*\(?[A-J]\)?)+\s*$")


def gold_letters(gold: str) -> frozenset[str] | None:
    """The letter(s) a gold answer names: "C", "(C)", "C. x = 42", "B, D"; None for a gold
    that is not an option letter."""
    if _GOLD_SET.match(gold):
        return frozenset(re.findall(r"[A-J]", gold))
    match = _GOLD.match(gold)
    if not match:
        return None
    return frozenset(next(g for g in match.groups() if g))


def unwrap(answer: str) -> str:
    """The answer without LaTeX wrappers, math delimiters and markdown emphasis."""
    text = str(answer)
    for _ in range(4):
        text = _WRAPPER.sub(r" \1 ", text)
    text = _DELIMITERS.sub(" ", text)
    return re.sub(r"\s+", " ", text).strip()


def _is_letter(text: str, match: re.Match[str], cued: bool) -> bool:
    """Whether a one-letter token is an option letter rather than a word ("I think",
    "a triangle", "A is the vertex" in a sentence that is not cued)."""
    opened, letter, closed = match.groups()
    if opened or closed:
        return True
    after = text[match.end():]
    followed_by_word = re.match(r"\s+[a-z]", after) is not None
    if letter.islower():
        return not followed_by_word and not re.match(r"\s+[A-Za-z]", after)
    if letter == "I" and followed_by_word:
        return False
    return not (letter == "A" and followed_by_word and not cued)


def _tokens(text: str, n: int, cued: bool) -> list[re.Match[str]]:
    return [m for m in _TOKEN.finditer(text)
            if LETTERS.index(m.group(2).upper()) < n and _is_letter(text, m, cued)]


def _in_a_name(text: str, match: re.Match[str]) -> bool:
    """Whether a letter is part of a name: right after a word that does not introduce an
    option ("Vitamin B", "Plan B", "type A", "at A"; not "is B", "option B", "or B")."""
    if match.group(1):
        return False  # "(A)" is a letter form of its own: "the small jar (A)"
    before = text[: match.start()]
    return bool(_WORD_BEFORE.search(before)) and not _INTRODUCER.search(before)


def _ruled_out(text: str, match: re.Match[str]) -> bool:
    """Whether the text rules the letter out ("not A", "except B", "C is wrong")."""
    return bool(_NEGATION_BEFORE.search(text[: match.start()])
                or _NEGATION_AFTER.match(text[match.end():]))


def _options_named(text: str, n: int, cued: bool) -> list[re.Match[str]]:
    """The letter tokens that name an option: not part of a name, not ruled out (a letter
    joined to a ruled-out one is ruled out too: "it can't be A or B")."""
    named, previous, previous_out = [], None, False
    for match in _tokens(text, n, cued):
        joined = previous is not None and re.fullmatch(
            r"\)?\s*(?:,|and|or|nor|/)\s*\(?", text[previous.end() : match.start()], re.I)
        out = _ruled_out(text, match) or bool(joined and previous_out)
        if not out and not _in_a_name(text, match):
            named.append(match)
        previous, previous_out = match, out
    return named


def _leading(text: str, n: int, cued: bool) -> tuple[list[str], str] | None:
    """Letters listed at the start ("A", "A, C", "(B) and (D)") and the text after them."""
    tokens = _tokens(text, n, cued)
    if not tokens or text[: tokens[0].start()].strip(" .:-"):
        return None
    letters, end = [tokens[0].group(2).upper()], tokens[0].end()
    for token in tokens[1:]:
        if not _JOINER.match(text[end : token.start()]):
            break
        letters.append(token.group(2).upper())
        end = token.end()
    return letters, text[end:]


@dataclass(frozen=True)
class _Options:
    """What the option texts are matched by, prepared once per list of options."""

    values: tuple[str, ...]  # each option normalised, as a stated value is
    openings: tuple[tuple[int, str, re.Pattern[str]], ...]  # (length, letter, opens the text)
    mentions: tuple[tuple[str, re.Pattern[str]], ...]  # (letter, mentioned as words of its own)


@lru_cache(maxsize=256)
def _prepared(choices: tuple[str, ...]) -> _Options:
    from ovr_eval.verify.extract import strip_hedge

    texts = [(LETTERS[i], option) for i, option in enumerate(choices[: len(LETTERS)])]
    lowered = [(letter, option.strip().lower()) for letter, option in texts]
    return _Options(
        tuple(normalize(strip_hedge(option)) for _, option in texts),
        tuple((len(value), letter, re.compile(rf"{re.escape(value)}(?:[\s,.;:!)]|$)"))
              for letter, value in lowered if re.search(r"[a-z]{2}", value)),
        tuple((letter, re.compile(rf"(?<![\w]){re.escape(value)}(?![\w])"))
              for letter, value in lowered if len(value) >= 3))


def _options(choices: Sequence[str]) -> _Options:
    return _prepared(tuple(str(option) for option in choices))


def _value_matches(text: str, choices: Sequence[str]) -> list[str]:
    """Letters of the options whose value the text states (compared after normalisation)."""
    from ovr_eval.verify.equivalence import cheap_equal
    from ovr_eval.verify.extract import strip_hedge

    value = normalize(strip_hedge(text))
    if not value:
        return []
    options = _options(choices).values
    exact = [LETTERS[i] for i, option in enumerate(options) if option == value]
    if exact:  # options that differ only in order ("A, B, C" / "B, A, C") are not equal here
        return exact
    return [LETTERS[i] for i, option in enumerate(options) if cheap_equal(value, option)[0]]


def _opening_option(text: str, choices: Sequence[str]) -> str | None:
    """The option whose text opens the answer as a word or phrase of its own ("No, it is not
    the maximum" for the option "No"); None when no option, or more than one, does."""
    lowered = text.lower()
    hits = [(size, letter) for size, letter, opens in _options(choices).openings
            if opens.match(lowered)]
    if not hits:
        return None
    longest = max(hits)[0]
    best = [letter for size, letter in hits if size == longest]
    return best[0] if len(best) == 1 else None


def _stated_value(rest: str) -> str:
    """The value written after a letter: "(145°)" -> "145°", ". 18 cm" -> "18 cm"."""
    rest = rest.strip().lstrip(".:：,-–)").strip()
    if rest.startswith("(") and rest.endswith(")"):
        rest = rest[1:-1]
    return rest.strip().rstrip(".").strip()


def _hedged(text: str, start: int, n: int, cued: bool) -> set[str]:
    """Letters offered right after ``start`` as other possibilities ("..., but maybe D")."""
    hedged, end = set(), start
    for match in _options_named(text, n, cued):
        if match.start() < end:
            continue
        if not _HEDGE_BETWEEN.match(text[end : match.start()]):
            break
        hedged.add(match.group(2).upper())
        end = match.end()
    return hedged


def named_options(answer: str, choices: Sequence[str] | None = None, n_options: int = 10,
                  cued: bool = True) -> frozenset[str]:
    """The option letters an answer names (empty when it names none, or contradicts itself).

    ``cued``: the text follows an answer cue, so its first letter is the answer; otherwise
    (a closing sentence) only a letter that ends the sentence or stands in a letter form
    counts, and the last one wins."""
    n = min(len(choices), len(LETTERS)) if choices else n_options
    unwrapped = unwrap(answer)
    text = _PREFIX.sub("", unwrapped, count=1).strip()
    cued = cued or text != unwrapped.strip()  # "Option C ...": the prefix names the letter
    text = re.sub(r"^(?:both|either)\s+", "", text, flags=re.I)  # "both (C) and (G)"
    if not text:
        return frozenset()
    only = _LETTER_ONLY.match(text)
    if only and LETTERS.index(only.group(1).upper()) < n and (cued or only.group(1).isupper()):
        return frozenset(only.group(1).upper())  # a letter before any option whose text is one
    if choices:
        whole = _value_matches(answer, choices)
        if len(whole) == 1:
            return frozenset(whole)
        opening = _opening_option(text, choices)
        if opening:
            return frozenset(opening)
    if re.match(r"\(?[A-Ja-j]\)?\s*(?:[*^+=/]|\\(?:cdot|times))", text):
        return frozenset()  # "E*2" is an expression, not option E
    leading = _leading(text, n, cued)
    if leading and not cued and not re.match(r"\(|[A-Ja-j](?:[.):]|\s*$)", text):
        leading = None  # uncued: only a letter form ("D.", "(D)") at the start counts
    if leading and not cued:
        leading = (leading[0][:1], leading[1])
    if leading and _NEGATION_AFTER.match(leading[1]):
        return frozenset()  # "Option B is wrong"
    if leading:
        letters, rest = leading
        letters = letters + sorted(_hedged(text, len(text) - len(rest), n, cued))
        if len(set(letters)) == 1 and choices and (value := _stated_value(rest)):
            stated = _value_matches(value, choices)
            if stated and letters[0] not in stated:
                return CONTRADICTION  # "C (145°)" where 145° is another option
        return frozenset(letters)
    tokens = _options_named(text, n, cued)
    if cued and tokens:  # "B, but maybe D" names two: no choice made
        return frozenset({tokens[0].group(2).upper()} | _hedged(text, tokens[0].end(), n, cued))
    found = set()  # uncued: letters that close their sentence, are named or in parentheses
    for token in tokens:
        after = text[token.end():]
        closes = re.match(r"\s*(?:[.!?。)]|$)", after)
        named = re.search(r"\b(?:is|be|option|choice|answer)\s*$", text[: token.start()], re.I)
        judged = _JUDGED_RIGHT.match(after)  # "C is correct", "B is the right one"
        if closes or named or judged or token.group(1):
            found.add(token.group(2).upper())
    return frozenset(found) if len(found) == 1 else frozenset()  # several: no choice made


_STRICT_LEADING = re.compile(r"^\W{0,3}(?:\(([A-J])\)|([A-J])[.):](?=\s|$)|([A-J])$)")


def leading_letters(text: str, choices: Sequence[str] | None = None,
                    n_options: int = 10) -> frozenset[str]:
    """The letter a line opens with in a letter form ("(D) ...", "D. ...", "D) ..."), after
    at most a bullet or stray symbol; empty otherwise."""
    n = min(len(choices), len(LETTERS)) if choices else n_options
    match = _STRICT_LEADING.match(unwrap(text))
    if not match:
        return frozenset()
    letter = next(g for g in match.groups() if g)
    return frozenset(letter) if LETTERS.index(letter) < n else frozenset()


def mentioned_option(sentence: str, choices: Sequence[str]) -> frozenset[str]:
    """The one option whose text (three characters or more) a short statement mentions as
    words of their own ("the Hexagon"); empty when none or several are mentioned."""
    lowered = sentence.lower()
    hits = {letter for letter, mention in _options(choices).mentions if mention.search(lowered)}
    return frozenset(hits) if len(hits) == 1 else frozenset()
