"""The sample browser: each record as a view (responses clipped, verdicts, judge and
second opinions, subset tags), and which records are shown."""


from __future__ import annotations

from typing import Any

from ovr_eval.judge_views import (
    response_judgement,
    rules_and_judge_disagree,
)
from ovr_eval.metrics import disagreements
from ovr_eval.records import Record
from ovr_eval.report.assets import ImageStore
from ovr_eval.report.model import (
    MAX_RESPONSES,
    RESPONSE_HEAD,
    RESPONSE_TAIL,
    ResponseView,
    SampleVerdict,
    SampleView,
)
from ovr_eval.runs import SavedRun

# ---------------------------------------------------------------- samples and images


def _at(values: list[Any], i: int) -> Any:
    return values[i] if i < len(values) else None


def clip(text: str) -> tuple[str, int]:
    """A long response's head and tail (where the answer is), and how many characters were cut."""
    cut = len(text) - RESPONSE_HEAD - RESPONSE_TAIL
    if cut <= 0:
        return text, 0
    return (f"{text[:RESPONSE_HEAD]}\n[… {cut:,} characters left out …]\n"
            f"{text[-RESPONSE_TAIL:]}", cut)


def sample_verdict(correct: list[bool]) -> SampleVerdict:
    if not correct:
        return "unknown"
    right = sum(bool(c) for c in correct)
    return "correct" if right == len(correct) else "incorrect" if right == 0 else "mixed"


def math_verify_view(record: Record, index: int) -> str | None:
    """Math-Verify's verdict on response ``index`` as the browser names it (None: not asked)."""
    if record.math_verify is None:
        return None
    verdict = _at(record.math_verify, index)
    return "unknown" if verdict is None else "correct" if verdict else "incorrect"


def subset_tag(key: str, value: Any) -> str:
    """A subset filter's label: ``skill=inductive``, never a Python list (``skill=['a']``);
    several values joined by ", "."""
    if isinstance(value, (list, tuple)):
        value = ", ".join(str(v) for v in value)
    return f"{key}={value}"


def just_letters(choices: list[str] | None) -> bool:
    """Whether the options are only their own letters (A, B, C, ...: drawn in the image), so
    the page shows them once instead of "A. A, B. B"."""
    return bool(choices) and [str(c).strip() for c in choices or []] == \
        [chr(ord("A") + i) for i in range(len(choices or []))]


def sample_view(record: Record, run_index: int, run: SavedRun, task: str,
                images: ImageStore) -> SampleView:
    """A record (any age of the format: absent fields are shown as absent) for the browser."""
    result = run.tasks.get(task)
    subset_keys = (result.subsets if result is not None else None) or {}
    responses = []
    for i, raw in enumerate(record.responses[:MAX_RESPONSES]):
        text, cut = clip(raw)
        tokens = _at(record.completion_tokens, i)
        responses.append(ResponseView(
            text=text, extracted=_at(record.extracted, i), correct=_at(record.correct, i),
            finish=_at(record.finish_reasons, i), tokens=tokens, chars_left_out=cut,
            judge=response_judgement(record, i), math_verify=math_verify_view(record, i)))
    keys = [(ref, images.add(ref, run.path)) for ref in record.images]
    metadata = record.metadata
    return SampleView(
        run=run_index, task=task, id=record.id,
        subsets=[subset_tag(k, metadata[k]) for k in subset_keys
                 if metadata.get(k) not in (None, [], ())],
        question=record.question, gold=record.gold, choices=record.choices,
        images=[k for _, k in keys if k], missing_images=[r for r, k in keys if not k],
        responses=responses, responses_left_out=max(0, len(record.responses) - MAX_RESPONSES),
        verdict=sample_verdict(record.correct), disagree=rules_and_judge_disagree(record),
        mv_graded=record.math_verify is not None, mv_disagree=bool(disagreements(record)),
        letter_choices=just_letters(record.choices))


def pick_records(records: list[dict[str, list[Record] | None]], task: str,
                 max_samples: int) -> list[list[Record]]:
    """Up to ``max_samples`` records of a task per run, the same samples across runs first."""
    order = list(dict.fromkeys(r.id for by_task in records for r in by_task.get(task) or []))
    rank = {i: n for n, i in enumerate(order[:max_samples])}
    picked = []
    for by_task in records:
        mine = by_task.get(task) or []
        shared = sorted((r for r in mine if r.id in rank), key=lambda r: rank[r.id])
        rest = [r for r in mine if r.id not in rank]
        picked.append(shared + rest[:max_samples - len(shared)])
    return picked
