"""What the judge and ``ovr import`` add to a task's entry in results.json, as types:
:class:`JudgeSummary` (``judge``: the judged scores and their agreement with the rules) and
:class:`ImportSummary` (``imported``: how another harness's rows matched the samples). Each
reads and writes the same JSON object results.json has always held."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


@dataclass
class Agreement:
    """The rules' verdicts against the judge's, over the responses both gave one."""

    responses: int = 0
    agree: int = 0
    rate: float | None = None  # agree / responses; None over no response
    samples_disagreeing: int = 0
    disagreeing_ids: list[str] = field(default_factory=list)  # the first 200
    failures: int = 0  # responses the judge could not read (counted wrong)

    @classmethod
    def from_json(cls, data: Any) -> Agreement:
        data = data if isinstance(data, dict) else {}
        rate = data.get("rate")
        return cls(responses=_int(data.get("responses")), agree=_int(data.get("agree")),
                   rate=float(rate) if isinstance(rate, (int, float)) else None,
                   samples_disagreeing=_int(data.get("samples_disagreeing")),
                   disagreeing_ids=[str(i) for i in data.get("disagreeing_ids") or []],
                   failures=_int(data.get("failures")))


# the keys of a judge entry besides the judge's own settings (``JudgeOptions.describe``)
_JUDGE_KEYS = ("protocol", "source", "official", "scores", "agreement", "failures", "requests")


@dataclass
class JudgeSummary:
    """A task's ``judge`` entry: the judge's settings, the official protocol it followed, the
    judged scores (the same mapping as the task's own ``Task.score``), the agreement with the
    rules and this invocation's requests."""

    settings: dict[str, Any]  # JudgeOptions.describe(): model, engine, mode, ...
    protocol: str
    source: str
    scores: dict[str, Any]
    agreement: Agreement = field(default_factory=Agreement)
    requests: dict[str, int] | None = None  # JudgeStats: asked, from_cache, unreadable
    official: bool = True

    @classmethod
    def from_json(cls, data: Any) -> JudgeSummary | None:
        """A saved entry; None for one without judged scores (nothing to show)."""
        if not isinstance(data, dict) or not isinstance(data.get("scores"), dict):
            return None
        requests = data.get("requests")
        return cls(settings={k: v for k, v in data.items() if k not in _JUDGE_KEYS},
                   protocol=str(data.get("protocol") or ""), source=str(data.get("source") or ""),
                   scores=data["scores"], agreement=Agreement.from_json(data.get("agreement")),
                   requests=requests if isinstance(requests, dict) else None,
                   official=bool(data.get("official", True)))

    def to_json(self) -> dict[str, Any]:
        data = {**self.settings, "protocol": self.protocol, "source": self.source,
                "official": self.official, "scores": self.scores,
                "agreement": asdict(self.agreement), "failures": self.failures}
        if self.requests is not None:
            data["requests"] = self.requests
        return data

    @property
    def failures(self) -> int:
        return self.agreement.failures

    @property
    def score(self) -> float | None:
        """The judged headline (a fraction), None when nothing was judged."""
        value = self.scores.get("score")
        return float(value) if isinstance(value, (int, float)) else None

    def notes(self) -> list[str]:
        """What a reader of a judged score must know: judge, protocol, agreement, failures."""
        notes = [f"judged by {self.settings.get('model')} ({self.settings.get('mode')} mode), "
                 f"the official {self.protocol} protocol"]
        a = self.agreement
        if a.rate is not None:
            notes.append(f"rules and judge agree on {100 * a.rate:.1f}% of {a.responses} "
                         f"responses ({a.samples_disagreeing} samples differ)")
        if self.failures:
            notes.append(f"{self.failures} judge failure(s) counted as wrong")
        return notes


@dataclass
class ImportSummary:
    """A task's ``imported`` entry: which files of which format, and how their rows matched
    the task's samples (by id field or question text)."""

    format: str
    files: list[str]
    rows: int = 0
    matched: int = 0
    matched_by: dict[str, int] = field(default_factory=dict)
    duplicates: int = 0
    unmatched: int = 0
    unmatched_rows: list[Any] = field(default_factory=list)  # the first 200
    samples_without_row: int = 0

    @classmethod
    def from_json(cls, data: Any) -> ImportSummary | None:
        if not isinstance(data, dict):
            return None
        matched_by = data.get("matched_by")
        return cls(format=str(data.get("format") or ""),
                   files=[str(f) for f in data.get("files") or []], rows=_int(data.get("rows")),
                   matched=_int(data.get("matched")),
                   matched_by=dict(matched_by) if isinstance(matched_by, dict) else {},
                   duplicates=_int(data.get("duplicates")),
                   unmatched=_int(data.get("unmatched")),
                   unmatched_rows=list(data.get("unmatched_rows") or []),
                   samples_without_row=_int(data.get("samples_without_row")))

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    def describe(self) -> str:
        """"40 of 42 row(s) matched (38 by id, 2 by question); 2 unmatched, 0 duplicate(s)"."""
        how = ", ".join(f"{n} by {k}" for k, n in self.matched_by.items())
        return (f"{self.matched} of {self.rows} row(s) matched ({how}); {self.unmatched} "
                f"unmatched, {self.duplicates} duplicate(s)")
