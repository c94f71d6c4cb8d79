"""The files of a run folder as types: a sample's :class:`Record` (one line of
``samples/<task>.jsonl``), a task's :class:`TaskResult` and the run's :class:`RunResults`
(``results.json``). ``ovr_eval.runs`` reads and writes them; everything else uses these types.

Each record and each results.json carries ``schema_version``. Files written before versions
were (no ``schema_version``) read as version 1 with absent fields at their defaults; a file of
a newer version than this code knows is refused with one line, never half read.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, fields
from typing import Any

from ovr_eval.result_entries import ImportSummary, JudgeSummary

SCHEMA_VERSION = 1  # the layout below; bump when a field changes meaning or goes away


class NewerSchema(ValueError):
    """A file written by a newer ovr-eval than this one."""


def check_version(data: dict[str, Any], what: str) -> int:
    """The schema version of a record or results file (1 when it has none); NewerSchema when
    this code cannot read it."""
    version = data.get("schema_version", 1)
    if not isinstance(version, int) or isinstance(version, bool):
        raise ValueError(f"{what} has schema_version {version!r}; expected a whole number")
    if version > SCHEMA_VERSION:
        raise NewerSchema(f"{what} has schema_version {version}, written by a newer ovr-eval "
                          f"(this one reads up to {SCHEMA_VERSION}); upgrade ovr-eval")
    return version


def as_text(value: Any) -> str:
    """A field value as text: strings as they are, anything else as JSON (a gold of 3 is "3")."""
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)


def _list(value: Any) -> list[Any]:
    """A list field; anything else (absent, null, damaged) reads as empty."""
    return value if isinstance(value, list) else []


def _texts(value: Any) -> list[str]:
    return ["" if v is None else as_text(v) for v in _list(value)]


def _optional_texts(value: Any) -> list[str | None]:
    return [None if v is None else as_text(v) for v in _list(value)]


def _token_ids(value: list[Any]) -> list[list[int]]:
    """Per response its token ids; a damaged entry reads as no ids."""
    return [[t for t in ids if isinstance(t, int) and not isinstance(t, bool)]
            if isinstance(ids, list) else [] for ids in value]


@dataclass
class RecordJudgement:
    """A language-model judge's reading of every response of a record (``ovr_eval.judge``),
    beside the rule verifier's: per response the extracted answer, verdict, how it was decided
    ("rules", "judge", "judge+match", a protocol's quick rule) and any judge failure."""

    model: str
    mode: str
    protocol: str
    extracted: list[str | None]
    correct: list[bool]
    methods: list[str]
    errors: list[str | None]

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RecordJudgement:
        return cls(model=str(data.get("model", "")), mode=str(data.get("mode", "")),
                   protocol=str(data.get("protocol", "")),
                   extracted=_optional_texts(data.get("extracted")),
                   correct=[bool(c) for c in _list(data.get("correct"))],
                   methods=_texts(data.get("methods")),
                   errors=_optional_texts(data.get("errors")))

    def to_json(self) -> dict[str, Any]:
        return {"model": self.model, "mode": self.mode, "protocol": self.protocol,
                "extracted": self.extracted, "correct": self.correct, "methods": self.methods,
                "errors": self.errors}


@dataclass
class Record:
    """One sample of one task as a run saved it: the question, the prompt sent, every response
    and the rule verifier's verdict on each (lists indexed by response), and Math-Verify's
    verdict on each (``math_verify``, a second opinion; absent in older records)."""

    id: str
    task: str = ""
    split: str = ""
    question: str = ""
    images: list[str] = field(default_factory=list)  # image files (paths); in-memory ones omitted
    gold: str = ""
    choices: list[str] | None = None  # option texts A, B, ...
    answer_type: str = "free_form"  # or "multiple_choice"
    metadata: dict[str, Any] = field(default_factory=dict)  # the task's fields (subsets, ...)
    prompt: str = ""  # the prompt text the engine received
    responses: list[str] = field(default_factory=list)
    extracted: list[str | None] = field(default_factory=list)  # the verifier's answer
    correct: list[bool] = field(default_factory=list)  # the verifier's verdict
    methods: list[str] = field(default_factory=list)  # the rule that decided it
    errors: list[str | None] = field(default_factory=list)  # a check that did not finish
    prompt_tokens: int = 0
    completion_tokens: list[int] = field(default_factory=list)
    finish_reasons: list[str] = field(default_factory=list)  # "stop" or "length" (truncated)
    # the engine's sampled token ids of each response, stop token included (``ovr budget``
    # cuts responses with them); None: not saved (older records, engines that do not say)
    token_ids: list[list[int]] | None = None
    judge: RecordJudgement | None = None  # with --judge on a task with a judge protocol
    # Math-Verify's verdict on each response, a second opinion beside ``correct`` (None in the
    # list: it gave none; the field None: not asked, as in records from before it existed)
    math_verify: list[bool | None] | None = None
    # set on the copies a task scores with (Task.official), never saved: which official rule
    # decided each response ("verifier" where the verifier's verdict stands)
    official_method: list[str] | None = None
    extra: dict[str, Any] = field(default_factory=dict)  # fields this version does not know
    schema_version: int = SCHEMA_VERSION

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Record:
        """A record from its JSON object; absent or damaged fields read as their defaults (an
        old record is shown as far as it goes). NewerSchema for a newer layout."""
        check_version(data, f"record {data.get('id')!r}")
        known = {f.name for f in fields(cls)} - {"official_method", "extra"}
        choices = data.get("choices")
        metadata = data.get("metadata")
        judge = data.get("judge")
        second = data.get("math_verify")
        tokens = data.get("prompt_tokens")
        ids = data.get("token_ids")
        return cls(
            id=as_text(data.get("id", "")), task=str(data.get("task") or ""),
            split=str(data.get("split") or ""),
            question="" if data.get("question") is None else as_text(data["question"]),
            images=_texts(data.get("images")),
            gold="" if data.get("gold") is None else as_text(data["gold"]),
            choices=_texts(choices) if isinstance(choices, list) else None,
            answer_type=str(data.get("answer_type") or "free_form"),
            metadata=metadata if isinstance(metadata, dict) else {},
            prompt=str(data.get("prompt") or ""), responses=_texts(data.get("responses")),
            extracted=_optional_texts(data.get("extracted")),
            correct=[bool(c) for c in _list(data.get("correct"))],
            methods=_texts(data.get("methods")), errors=_optional_texts(data.get("errors")),
            prompt_tokens=tokens if isinstance(tokens, int) else 0,
            completion_tokens=[t if isinstance(t, int) else 0
                               for t in _list(data.get("completion_tokens"))],
            finish_reasons=_texts(data.get("finish_reasons")),
            token_ids=_token_ids(ids) if isinstance(ids, list) else None,
            judge=RecordJudgement.from_json(judge) if isinstance(judge, dict) else None,
            math_verify=([None if v is None else bool(v) for v in second]
                         if isinstance(second, list) else None),
            extra={k: v for k, v in data.items() if k not in known},
        )

    def to_json(self) -> dict[str, Any]:
        """The record's JSON object, fields in the order a reader expects them."""
        data: dict[str, Any] = {
            "schema_version": self.schema_version, "id": self.id, "task": self.task,
            "split": self.split, "question": self.question, "images": self.images,
            "gold": self.gold, "choices": self.choices, "answer_type": self.answer_type,
            "metadata": self.metadata, "prompt": self.prompt, "responses": self.responses,
            "extracted": self.extracted, "correct": self.correct, "methods": self.methods,
            "errors": self.errors, "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens, "finish_reasons": self.finish_reasons,
        }
        if self.token_ids is not None:
            data["token_ids"] = self.token_ids
        if self.math_verify is not None:
            data["math_verify"] = self.math_verify
        if self.judge is not None:
            data["judge"] = self.judge.to_json()
        return {**self.extra, **data}

    def response(self, index: int) -> str:
        """Response ``index``'s text ("" when the record keeps none)."""
        return self.responses[index] if index < len(self.responses) else ""

    def extraction(self, index: int) -> str | None:
        """The verifier's extracted answer of response ``index`` (None when absent)."""
        return self.extracted[index] if index < len(self.extracted) else None


# the keys of a task's headline (``ovr_eval.metrics.summarize``), in results.json's order
HEADLINE = ("score", "stderr", "ci95", "n", "stderr_rerun", "ci95_rerun", "stderr_rerun_k1",
            "samples_per_item")
# every key of a task's entry in results.json that TaskResult types; the task's own further
# results (WeMath's loose score, the verifier's own score, ...) are kept in ``parts``
_TASK_KEYS = ("split", "metric", *HEADLINE, "pass@k", "subsets", "tokens", "skipped",
              "check_failures", "answer_sources", "math_verify", "judge", "imported", "partial")
REQUIRED = ("score", "stderr", "ci95", "n")  # what every version has had


@dataclass
class TaskResult:
    """One task's entry in results.json: its headline (the paper's column, by the task's own
    metric) with both standard errors and intervals (``ovr_eval.metrics``), pass@k, per-subset
    scores, tokens, the task's further parts, and what the run could not score."""

    split: str | None
    metric: str = "accuracy"
    score: float | None = None  # a fraction in [0, 1]; None when nothing was scored
    stderr: float | None = None  # between problems: another sample of problems
    ci95: list[float] | None = None
    n: int = 0  # headline units (problems, DynaMath seeds, ...)
    stderr_rerun: float | None = None  # within problems: the same problems rerun
    ci95_rerun: list[float] | None = None
    stderr_rerun_k1: float | None = None  # the rerun error of one response per problem
    samples_per_item: int = 0  # responses per unit (the smallest)
    pass_at_k: dict[str, float] | None = None  # "2" -> pass@2, ... (k > 1 only)
    subsets: dict[str, dict[str, dict[str, Any]]] | None = None  # key -> value -> summary
    tokens: dict[str, float] | None = None  # mean_completion_tokens, truncated_fraction
    parts: dict[str, Any] = field(default_factory=dict)  # the task's own further results
    skipped: dict[str, Any] = field(default_factory=lambda: {"count": 0, "rows": []})
    check_failures: dict[str, int] = field(default_factory=dict)  # reason -> responses
    # where each response's answer was read (``ovr_eval.metrics.answer_sources``): boxed,
    # answer_phrase, ..., last_line / last_sentence (no marker), none -> responses
    answer_sources: dict[str, int] = field(default_factory=dict)
    # rules against Math-Verify (``ovr_eval.metrics.second_opinion_summary``): responses, agree,
    # disagree (rules_only / math_verify_only credit), no_opinion, Math-Verify's score
    math_verify: dict[str, Any] | None = None
    judge: JudgeSummary | None = None  # judged scores, agreement (ovr_eval.judge)
    imported: ImportSummary | None = None  # what `ovr import` matched
    partial: bool = False  # scored from records newer than results.json (not saved so)

    @classmethod
    def from_scores(cls, split: str | None, scores: dict[str, Any], **rest: Any) -> TaskResult:
        """A result from ``Task.score``'s mapping (headline keys, pass@k, subsets, tokens and
        the task's own parts) and the run's own entries (``skipped``, ``check_failures``...)."""
        return cls.from_json({**scores, "split": split, **rest})

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> TaskResult:
        """A task's entry of results.json (KeyError when a headline key is missing)."""
        missing = [k for k in REQUIRED if k not in data]
        if missing:
            raise KeyError(", ".join(missing))
        split = data.get("split")
        return cls(
            split=None if split is None else str(split), metric=str(data.get("metric", "accuracy")),
            score=data["score"], stderr=data["stderr"], ci95=data["ci95"], n=int(data["n"] or 0),
            stderr_rerun=data.get("stderr_rerun"), ci95_rerun=data.get("ci95_rerun"),
            stderr_rerun_k1=data.get("stderr_rerun_k1"),
            samples_per_item=int(data.get("samples_per_item") or 0),
            pass_at_k=data.get("pass@k"), subsets=data.get("subsets"), tokens=data.get("tokens"),
            parts={k: v for k, v in data.items() if k not in _TASK_KEYS},
            skipped=data.get("skipped") or {"count": 0, "rows": []},
            check_failures=data.get("check_failures") or {},
            answer_sources=data.get("answer_sources") or {},
            math_verify=second if isinstance(second := data.get("math_verify"), dict) else None,
            judge=JudgeSummary.from_json(data.get("judge")),
            imported=ImportSummary.from_json(data.get("imported")),
            partial=bool(data.get("partial")))

    def to_json(self) -> dict[str, Any]:
        """The entry as results.json holds it (one flat mapping)."""
        data: dict[str, Any] = {"split": self.split, "metric": self.metric,
                                **self.headline()}
        for key, value in (("pass@k", self.pass_at_k), ("subsets", self.subsets),
                           ("tokens", self.tokens)):
            if value is not None:
                data[key] = value
        data.update(self.parts)
        data.update(skipped=self.skipped, check_failures=self.check_failures)
        if self.answer_sources:
            data["answer_sources"] = self.answer_sources
        if self.math_verify is not None:
            data["math_verify"] = self.math_verify
        for key, entry in (("judge", self.judge), ("imported", self.imported)):
            if entry is not None:
                data[key] = entry.to_json()
        if self.partial:
            data["partial"] = True
        return data

    def headline(self) -> dict[str, Any]:
        """The headline's summary (``ovr_eval.metrics.summarize``'s keys)."""
        return {"score": self.score, "stderr": self.stderr, "ci95": self.ci95, "n": self.n,
                "stderr_rerun": self.stderr_rerun, "ci95_rerun": self.ci95_rerun,
                "stderr_rerun_k1": self.stderr_rerun_k1,
                "samples_per_item": self.samples_per_item}

    def part(self, name: str) -> dict[str, Any] | None:
        """One of the task's further results by key (a summary such as WeMath's "loose")."""
        found = self.parts.get(name)
        return found if isinstance(found, dict) else None


@dataclass
class RunResults:
    """results.json: the model and every task's result."""

    model: str
    tasks: dict[str, TaskResult] = field(default_factory=dict)
    schema_version: int = SCHEMA_VERSION

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RunResults:
        check_version(data, "results.json")
        return cls(model=str(data.get("model") or ""),
                   tasks={str(name): TaskResult.from_json(task)
                          for name, task in data["tasks"].items()})

    def to_json(self) -> dict[str, Any]:
        return {"schema_version": self.schema_version, "model": self.model,
                "tasks": {name: task.to_json() for name, task in self.tasks.items()}}
