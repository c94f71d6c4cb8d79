"""What an official judge protocol is: the answer-extraction steps of a benchmark whose official
metric uses a language model. Each benchmark keeps its own protocol in its task module
(``Task.judge``: ``ovr_tasks.mathvista``, ``ovr_tasks.mathverse``, ``ovr_tasks.logicvista``);
``task_registry.protocol_for`` finds it by task name.

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

from dataclasses import dataclass

from ovr_eval.records import Record
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
    # metadata the protocol reads; ``ovr grade --judge`` takes them from a graded line's top
    # level too
    metadata_keys: tuple[str, ...] = ()

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
