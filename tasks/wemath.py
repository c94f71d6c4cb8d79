"""We-Math testmini: 525 composite problems (360 two-step, 165 three-step) and their one-step
sub-problems, 1,740 multiple-choice items.

Official metric: the four-dimensional scores over the 525 problems, judged from each
sub-problem and the composite question: Insufficient Knowledge (IK: a sub-problem wrong and the
composite wrong), Inadequate Generalization (IG: every sub-problem right, the composite wrong),
Complete Mastery (CM) and Rote Memorization (RM: the composite right despite sub-problem
errors), in a strict version (CM needs every sub-problem right) and a loose one (CM needs one).
Score = (problems - 0.5 IG - RM - IK) / problems; OVR reports Score (Strict) and (Loose).
Also We-Math's One-step / Two-step / Three-step accuracies (``step_accuracy``). Errors are
per problem (its parts answer together).
Rows are served problem by problem (sub-problems, then the composite) so ``--limit`` keeps
whole problems.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ovr_eval.metrics import Summary, record_units, summarize, task_scores
from ovr_eval.records import Record
from ovr_eval.tasks import Task, require_image
from ovr_eval.types import BadRow, Sample
from ovr_tasks._rows import lettered_options

_KEY = re.compile(r"^(\d)steps_(\d|multi)$")


def problem_order(rows: list[dict[str, Any]]) -> list[int]:
    """Row indices grouped by problem (``ID``): sub-problems 1, 2, (3), then ``multi``."""
    def sort_key(i: int) -> tuple:
        row = rows[i]
        match = _KEY.match(str(row.get("key") or ""))
        part = 99 if match is None or match.group(2) == "multi" else int(match.group(2))
        steps, number = str(row.get("ID") or "").partition("_")[::2]
        return (steps, int(number) if number.isdigit() else 0, str(row.get("ID")), part, i)

    return sorted(range(len(rows)), key=sort_key)


def classify(parts: dict[str, list[bool]], slot: int) -> dict[str, bool]:
    """One problem, one response slot: which of the four dimensions it falls in."""
    subs = [c[slot] for role, c in parts.items() if role != "multi"]
    multi = parts["multi"][slot]
    every, some = all(subs), any(subs)
    return {
        "IK": not every and not multi, "IG": every and not multi,
        "CM_strict": every and multi, "RM_strict": not every and multi,
        "CM_loose": some and multi, "RM_loose": not some and multi,
    }


def complete_problems(records: list[Record]) -> dict[str, dict[str, list[bool]]]:
    """Problem -> part ("1", "2", ("3",) "multi") -> verdicts, for problems with every part."""
    problems: dict[str, dict[str, list[bool]]] = defaultdict(dict)
    steps: dict[str, int] = {}
    for record in records:
        meta = record.metadata
        problems[meta["problem"]][str(meta["part"])] = record.correct
        steps[meta["problem"]] = int(meta["steps"])
    return {p: parts for p, parts in problems.items()
            if "multi" in parts and len(parts) == steps[p] + 1}


def score_units(records: list[Record], kind: str) -> dict[str, list[float]]:
    """Per complete problem, per response slot: its WeMath score, 1 - 0.5 IG - RM - IK (1 for
    complete mastery, 0.5 for inadequate generalisation, 0 otherwise), strict or loose."""
    units = {}
    for problem, parts in complete_problems(records).items():
        k = min(len(c) for c in parts.values())
        cells = [classify(parts, j) for j in range(k)]
        units[problem] = [c[f"CM_{kind}"] + 0.5 * c["IG"] for c in cells]
    return units


def four_dimensional(records: list[Record]) -> dict[str, Any]:
    """Strict and loose scores (per-problem units with errors) and the four dimensions."""
    problems = complete_problems(records)
    all_problems = {str(r.metadata["problem"]) for r in records}
    counts = dict.fromkeys(("IK", "IG", "CM_strict", "RM_strict", "CM_loose", "RM_loose"), 0.0)
    for parts in problems.values():
        k = min(len(c) for c in parts.values())
        cells = [classify(parts, j) for j in range(k)]
        for name in counts:
            counts[name] += sum(c[name] for c in cells) / k
    n = len(problems)

    def rates(kind: str) -> dict[str, float | None]:
        cm, rm = counts[f"CM_{kind}"], counts[f"RM_{kind}"]
        return {"IK": counts["IK"] / n if n else None, "IG": counts["IG"] / n if n else None,
                "CM": cm / n if n else None, "RM": rm / (cm + rm) if cm + rm else None}

    return {
        "strict": summarize(score_units(records, "strict")),
        "loose": summarize(score_units(records, "loose")),
        "four_dimensional": {"problems": n, "incomplete_problems": len(all_problems) - n,
                             "counts": counts, "strict": rates("strict"),
                             "loose": rates("loose")},
    }


def step_accuracy(records: list[Record]) -> dict[str, Any]:
    """We-Math's One-step (every sub-problem), Two-step and Three-step (the composite
    questions of two- and three-step problems) accuracies, over complete problems."""
    complete = complete_problems(records)
    kept = [r for r in records if r.metadata["problem"] in complete]

    def part(test: Any) -> Summary:
        return summarize(record_units([r for r in kept if test(r.metadata)]))

    return {"one_step": part(lambda m: m["part"] != "multi"),
            "two_step": part(lambda m: m["part"] == "multi" and int(m["steps"]) == 2),
            "three_step": part(lambda m: m["part"] == "multi" and int(m["steps"]) == 3)}


class WeMath(Task):
    def local_rows(self, data_dir: Path, split: str) -> Iterable[dict[str, Any] | BadRow]:
        """The release's ``<split>.json`` (images under ``2steps/``, ``3steps/``), JSONL or
        parquet."""
        return self._by_problem(super().local_rows(data_dir, split))

    def hub_rows(self, split: str) -> Iterable[dict[str, Any]]:
        return self._by_problem(super().hub_rows(split))

    @staticmethod
    def _by_problem(rows: Any) -> Any:
        """The rows grouped by problem; unreadable rows (BadRows) after them."""
        if hasattr(rows, "select"):  # a datasets.Dataset: reorder without decoding images
            columns = [{"ID": i, "key": k} for i, k in zip(rows["ID"], rows["key"], strict=True)]
            return rows.select(problem_order(columns))
        rows = list(rows)
        good = [r for r in rows if isinstance(r, dict)]
        return [good[i] for i in problem_order(good)] + [r for r in rows if isinstance(r, BadRow)]

    def row_to_sample(self, row: dict[str, Any], index: int, base_dir: Path | None) -> Sample:
        problem, key = str(row.get("ID") or index), str(row.get("key") or "")
        sample_id = f"{problem}/{key}"
        match = _KEY.match(key)
        if match is None:
            raise BadRow(sample_id, f"unknown key {key!r}")
        image = require_image(row.get("image_path") or row.get("image"), sample_id, base_dir)
        options = lettered_options(str(row.get("option") or ""))
        question = str(row.get("question") or "").strip()
        question = f"{question}\n{row.get('option') or ''}".strip()
        return Sample(
            id=sample_id, task=self.name, question=question,
            answer=str(row.get("answer") or "").strip(), images=[image], choices=options,
            answer_type="multiple_choice",
            metadata={"problem": problem, "steps": int(match.group(1)), "part": match.group(2),
                      "concept": row.get("knowledge concept")},
        )

    def units(self, records: list[Record]) -> dict[str, list[float]]:
        return score_units(records, "strict")

    def score(self, records: list[Record]) -> dict[str, Any]:
        accuracy = task_scores(records, self.subset_keys)
        dims = four_dimensional(records)
        return {
            **accuracy, "metric": "WeMath score (strict)", **dims["strict"],
            "score_strict": dims["strict"], "score_loose": dims["loose"],
            "four_dimensional": dims["four_dimensional"],
            "step_accuracy": step_accuracy(records),
            "question_accuracy": {k: accuracy[k] for k in summarize({})},
            "subsets": {**accuracy["subsets"],
                        "wemath_score": {"strict": dims["strict"], "loose": dims["loose"]}},
        }


TASK = WeMath(
    name="wemath",
    description="We-Math testmini (525 problems; four-dimensional strict/loose scores)",
    hub_id="We-Math/We-Math",
    # No public pin of this dataset could be verified offline: the hub head is used until one
    # is, and `ovr compare` / `ovr report` show the commit a run resolved it to.
    revision=None,
    default_split="testmini",
    splits=("testmini",),
    modality="image",
    subset_keys=("steps", "part"),
)
