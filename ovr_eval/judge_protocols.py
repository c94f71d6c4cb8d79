"""The official answer-extraction protocols of the benchmarks whose metric uses a language model.

Each protocol says, for one response: which official rule decides it without a model
(``shortcut``), what to ask the judge model (``extraction_prompt``, instructions written for
this project in our own words after reading the official code), how to read its reply
(``parse_extraction``), and how the official pipeline then decides correctness (``verdict``;
MathVerse asks the judge a second question, ``match_prompt``).

Sources read (official code, not copied):
- MathVista ``evaluation/extract_answer.py``, ``prompts/ext_ans.py``, ``calculate_score.py``
  (lupantech/MathVista @ 53d52587): quick rules, then a few-shot extraction prompt built from
  the item's query and the response; multiple choice mapped to the nearest option by edit
  distance, integers by ``int(float())``, floats rounded to the item's precision.
- MathVerse ``evaluation/extract_answer_s1.py``, ``score_answer_s2.py``, ``prompts.py``
  (ZrrSkywalker/MathVerse @ 937b0905): few-shot extraction, then a few-shot 0/1 consistency
  judgement against the standard answer (an exact string match skips it, as VLMEvalKit does).
- LogicVista ``eval/extract_accuracy.py`` (Yijia-Xiao/LogicVista @ e5795f17): one-character
  replies taken as they are, otherwise the judge lists the chosen letters; letter sets compared.

The other benchmarks of the paper have rule-based official metrics (MathVision, DynaMath,
WeMath, MMMU(-Pro), the language benchmarks); VLMEvalKit also runs a judge on MathVision,
DynaMath, WeMath and MMMU, but that is its own choice, not those benchmarks' protocol.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ovr_eval.records import Record
from ovr_eval.verify.choices import LETTERS
from ovr_eval.verify.region import answer_region

JUDGE_MAX_CHARS = 6000  # the judge reads at most the last this-many characters of an answer


class UnreadableReply(ValueError):
    """The judge's reply does not have the form the protocol asked for (the question is retried)."""


@dataclass(frozen=True)
class Extraction:
    """An answer read out of a response: ``answer`` None when the response gives none."""

    answer: str | None
    method: str  # "official rule" (no model asked) or "judge"


def judge_view(response: str) -> str:
    """The part of a response the judge reads: the answer after any thinking block, its end
    kept when long (where the final answer is)."""
    text = answer_region(str(response or "")).strip()
    return text if len(text) <= JUDGE_MAX_CHARS else "…" + text[-JUDGE_MAX_CHARS:]


def edit_distance(a: str, b: str) -> int:
    """Levenshtein distance (insertions, deletions, substitutions all cost 1)."""
    previous = list(range(len(b) + 1))
    for i, char_a in enumerate(a, 1):
        current = [i]
        for j, char_b in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1,
                               previous[j - 1] + (char_a != char_b)))
        previous = current
    return previous[-1]


class Protocol:
    """One benchmark's official extraction and scoring; subclasses fill in the steps."""

    name = ""
    source = ""

    def shortcut(self, record: Record, response: str) -> Extraction | None:
        """An extraction made by an official rule without asking the judge, if one applies."""
        return None

    def extraction_prompt(self, record: Record, response: str) -> str:
        raise NotImplementedError

    def parse_extraction(self, reply: str) -> str | None:
        """The answer in the judge's reply (None: it says there is none); raises
        :class:`UnreadableReply` when the reply has the wrong form."""
        text = reply.strip()
        return text or None

    def verdict(self, record: Record, answer: str | None) -> bool | None:
        """Whether ``answer`` is right by the official rule; None: ask ``match_prompt``."""
        raise NotImplementedError

    def match_prompt(self, record: Record, answer: str) -> str:
        raise NotImplementedError(f"{self.name} decides without a second question")

    def parse_match(self, reply: str) -> bool:
        raise NotImplementedError(f"{self.name} decides without a second question")


# ---------------------------------------------------------------- MathVista

MATHVISTA_INSTRUCTIONS = """\
A model has answered the question below. Find the final answer it gave and write only that \
answer after "Extracted answer:", in the form the hint asks for: a whole number, a number with \
the stated decimal places, a Python list, or an option letter. Five solved examples come first.

Hint: Please answer the question requiring an integer answer and provide the final value, \
e.g., 1, 2, 3, at the end.
Question: How many apples are on the plate?

Model response: Counting the fruit one by one, I find five apples on the plate.

Extracted answer: 5

Hint: Please answer the question requiring a floating-point number with one decimal place \
and provide the final value, e.g., 1.2, 1.3, 1.4, at the end.
Question: How long is the red segment? (Unit: cm)

Model response: Read against the ruler, the red segment spans about 3.4 cm.

Extracted answer: 3.4

Hint: Please answer the question requiring a floating-point number with two decimal places \
and provide the final value, e.g., 1.23, 1.34, 1.45, at the end.
Question: What do a pen and a notebook cost together? (Unit: $)

Model response: The pen is $0.75 and the notebook $2.10, so together they cost $2.85.

Extracted answer: 2.85

Hint: Please answer the question requiring a Python list as an answer and provide the final \
list, e.g., [1, 2, 3], [1.2, 1.3, 1.4], at the end.
Question: At which x values does the curve cross the x-axis?

Model response: The curve meets the axis twice, at x = -2 and at x = 3.

Extracted answer: [-2, 3]

Hint: Please answer the question and provide the correct option letter, e.g., A, B, C, D, \
at the end.
Question: Which shape has the most sides?
Choices:
(A) triangle
(B) hexagon
(C) square
(D) pentagon

Model response: A hexagon has six sides, more than any other shape listed: (B) hexagon.

Extracted answer: B"""


class MathVista(Protocol):
    """MathVista's quick rules, few-shot extraction and answer normalisation."""

    name = "mathvista"
    source = "lupantech/MathVista evaluation/extract_answer.py + calculate_score.py @ 53d52587"

    def shortcut(self, record: Record, response: str) -> Extraction | None:
        meta = record.metadata
        text = judge_view(response)
        if text == "":
            return Extraction("", "official rule")
        if meta.get("question_type") == "multi_choice" and text in (record.choices or []):
            return Extraction(text, "official rule")
        try:
            if meta.get("answer_type") == "integer":
                return Extraction(str(int(text)), "official rule")
            if meta.get("answer_type") == "float":
                return Extraction(str(float(text)), "official rule")
        except ValueError:
            pass
        return None

    def extraction_prompt(self, record: Record, response: str) -> str:
        return (f"{MATHVISTA_INSTRUCTIONS}\n\n{record.question.strip()}\n\n"
                f"Model response: {judge_view(response)}\n\nExtracted answer: ")

    def parse_extraction(self, reply: str) -> str | None:
        return re.sub(r"^\s*extracted answer\s*:", "", reply, flags=re.I).strip()

    def verdict(self, record: Record, answer: str | None) -> bool:
        """The official normalisation, then string equality with the gold answer. A multiple
        choice extraction that names no option letter goes to the nearest option, so the
        official pipeline can credit a refusal; that is reproduced, not corrected."""
        meta = record.metadata
        gold, choices = record.gold.strip(), record.choices or []
        text = (answer or "").strip()
        if meta.get("question_type") == "multi_choice" and choices:
            letter = re.findall(r"\(([a-zA-Z])\)", text)
            if letter:
                text = letter[0].upper()
            letters = LETTERS[: len(choices)]
            if text and text in letters:
                chosen = choices[letters.index(text)]
            else:
                distances = [edit_distance(text, str(c)) for c in choices]
                chosen = choices[distances.index(min(distances))]
            gold_text = choices[LETTERS.index(gold)] if gold in letters else gold
            return chosen == gold_text
        try:
            if meta.get("answer_type") == "integer":
                return str(int(float(text))) == gold
            if meta.get("answer_type") == "float":
                return str(round(float(text), int(meta.get("precision") or 0))) == gold
        except (ValueError, OverflowError):
            return False
        return text == gold


# ---------------------------------------------------------------- MathVerse

MATHVERSE_EXTRACTION = """\
Below is a model's reply to a math problem ("Model response"). Copy out the final answer it \
gives as "Extracted Answer": the answer only, with no explanation. If the reply gives no \
answer, write null.

1.
Model response: 'So the solution set, written as an interval, is\\n\\n[-1, 4)'
Extracted Answer: [-1, 4)

2.
Model response: 'Both lines meet where the two prices are equal.\\n\\nThe correct option is \
C. The cost is the same for both plans.'
Extracted Answer: C

3.
Model response: 'Reading the graph from left to right:\\nDomain: \\\\([-2, 5]\\\\)\\nRange: \
\\\\([0, 3]\\\\)'
Extracted Answer: Domain: \\\\([-2, 5]\\\\)\\nRange: \\\\([0, 3]\\\\)

4.
Model response: 'The figure does not show the side lengths, so I cannot choose an option.'
Extracted Answer: null

5.
Model response: 'Using tan(40°) = h / 12, the height of the tower is h = 12 tan(40°), \
about 10.1 meters.'
Extracted Answer: 10.1

6.
Model response: 'Putting the intercepts together, the line through both points is\\n\
\\\\( y = 2x - 3 \\\\)'
Extracted Answer: y = 2x - 3

7."""

MATHVERSE_MATCH = """\
Decide whether a model's answer to a math question agrees with the standard answer. \
[Question] is the question, [Standard Answer] the correct answer and [Model_answer] the answer \
taken from the model's reply. They agree only when the model gives the same final result: \
for multiple choice, the same option; otherwise the same value, even when written differently \
(for example 0.5 m and 50 cm). Reply with Judgement 1 if they agree and 0 if they do not.

[Question]: Write the solution set of the inequality shown on the number line.
[Standard Answer]: [-1, 4)
[Model_answer] : (-1, 4)
Judgement: 0

[Question]: Which plan costs less for 10 hours?\\nChoices:\\nA:Plan 1\\nB:Plan 2\\nC:Both \
cost the same
[Standard Answer]: B
[Model_answer] : A:Plan 1
Judgement: 0

[Question]: Give the domain and the range of g.
[Standard Answer]: domain: [-2, 5] and range: [0, 3]
[Model_answer] : Range: [0, 3]
Judgement: 0

[Question]: What is the height of the tower, to one decimal place?
[Standard Answer]: 10.1
[Model_answer] : 10.1 m
Judgement: 1

[Question]: Find the equation of the circle with centre (0, 0) through (3, 4).\\nChoices:\\n\
A:x^2 + y^2 = 25\\nB:x^2 + y^2 = 5
[Standard Answer]: A
[Model_answer] : x^2 + y^2 = 25
Judgement: 1"""


class MathVerse(Protocol):
    """MathVerse's two steps: few-shot extraction, then a 0/1 consistency judgement."""

    name = "mathverse"
    source = ("ZrrSkywalker/MathVerse evaluation/extract_answer_s1.py + score_answer_s2.py"
              " @ 937b0905")

    def extraction_prompt(self, record: Record, response: str) -> str:
        return (f"{MATHVERSE_EXTRACTION}\nModel response: '{judge_view(response)}'\n"
                "Extracted Answer: ")

    def parse_extraction(self, reply: str) -> str | None:
        text = re.sub(r"^\s*extracted answer\s*:", "", reply, flags=re.I).strip()
        return None if text.lower() in ("", "null", "none") else text

    def verdict(self, record: Record, answer: str | None) -> bool | None:
        if answer is None:
            return False
        if answer.strip() == record.gold.strip():
            return True
        return None

    def match_prompt(self, record: Record, answer: str) -> str:
        question = record.metadata.get("question_for_eval") or record.question
        return (f"{MATHVERSE_MATCH}\n\n[Question]: {question}\n"
                f"[Standard Answer]: {record.gold}\n[Model_answer] : {answer}\n"
                "Judgement: ")

    def parse_match(self, reply: str) -> bool:
        text = re.sub(r"^\s*judge?ment\s*:", "", reply, flags=re.I).strip()
        if text not in ("0", "1"):
            raise UnreadableReply(f"expected 0 or 1, got {reply.strip()[:80]!r}")
        return text == "1"


# ---------------------------------------------------------------- LogicVista

LOGICVISTA_INSTRUCTIONS = """\
You read a reply to a multiple-choice question and report which option letter or letters the \
reply chose. If it names no letter, work out from the option texts which option it means, if \
you can. If the reply matches no option or chooses nothing, reply NONE. Reply with the chosen \
letters only, separated by commas (for example: B or A, C)."""

_SEPARATOR = re.compile(r"\s*(?:,|\band\b|&)\s*|\s+", re.I)
_LETTER_LIST = re.compile(r"[A-J](?:,?[A-J])*", re.I)


class LogicVista(Protocol):
    """LogicVista's one-character rule, letter extraction and set comparison."""

    name = "logicvista"
    source = "Yijia-Xiao/LogicVista eval/extract_accuracy.py @ e5795f17"

    def shortcut(self, record: Record, response: str) -> Extraction | None:
        text = judge_view(response)
        if text == "":
            return Extraction(None, "official rule")
        if len(text) == 1:
            if text.isalpha() and text.lower() in "abcde":
                return Extraction(text.upper(), "official rule")
            if not text.isnumeric():
                return Extraction(None, "official rule")
        return None

    def extraction_prompt(self, record: Record, response: str) -> str:
        return (f"{LOGICVISTA_INSTRUCTIONS}\n\nQuestion: {record.question}\n\n"
                f"Reply: {judge_view(response)}\n\nChosen letters: ")

    def parse_extraction(self, reply: str) -> str | None:
        text = re.sub(r"^\s*chosen letters?\s*:", "", reply, flags=re.I).strip().rstrip(".")
        if text.upper() in ("NONE", "Z", "ZZZZZ"):
            return None
        joined = _SEPARATOR.sub(",", text)
        if not _LETTER_LIST.fullmatch(joined):
            raise UnreadableReply(f"expected option letters or NONE, got {reply.strip()[:80]!r}")
        return ", ".join(sorted({c.upper() for c in joined if c.isalpha()}))

    def verdict(self, record: Record, answer: str | None) -> bool:
        if answer is None:
            return False
        gold = sorted(x.strip().lower() for x in record.gold.split(","))
        return sorted(x.strip().lower() for x in answer.split(",")) == gold


PROTOCOLS: dict[str, Protocol] = {p.name: p for p in (MathVista(), MathVerse(), LogicVista())}


def protocol_for(task: str) -> Protocol | None:
    """The official judge protocol of a task, or None when its official metric is rule-based."""
    return PROTOCOLS.get(task)
