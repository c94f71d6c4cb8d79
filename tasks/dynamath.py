"""DynaMath: 501 seed questions, each rendered as 10 generated variants (5,010 items).

Official metrics: average accuracy over all variants, and worst-case accuracy (a seed counts
only when every one of its variants is answered correctly), which OVR reports. Float answers
count as correct within 0.001 (DynaMath's own tolerance). Split ``test`` holds all variants,
seed by seed (seed 1 variants 1-10, seed 2 ...); ``sample_variantN`` holds one variant.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from ovr_eval.metrics import mean_with_error, task_scores
from ovr_eval.tasks import Task, require_image
from ovr_eval.types import BadRow, Sample
from ovr_tasks._ovr import inline_choices, plain_number, read_parquet, rejudged, round_robin

VARIANTS = 10
FLOAT_TOLERANCE = 1e-3


def tolerance_rule(record: dict[str, Any], extracted: str | None) -> bool:
    """DynaMath's float rule: |prediction - answer| <= 0.001."""
    if record.get("metadata", {}).get("answer_type") != "float":
        return False
    value, gold = plain_number(extracted), plain_number(record.get("gold"))
    return value is not None and gold is not None and abs(value - gold) <= FLOAT_TOLERANCE


def worst_case(records: list[dict[str, Any]]) -> tuple[list[float], dict[str, int]]:
    """Per seed: the share of response slots (1st, 2nd, ... response) in which every variant
    of the seed is correct; and how many variants each seed had."""
    by_seed: dict[str, list[list[bool]]] = defaultdict(list)
    for record in records:
        by_seed[str(record["metadata"]["seed"])].append(record["correct"])
    values = []
    for slots in by_seed.values():
        k = min(len(c) for c in slots)
        values.append(sum(all(c[j] for c in slots) for j in range(k)) / k if k else 0.0)
    return values, {seed: len(slots) for seed, slots in by_seed.items()}


class DynaMath(Task):
    def variant_splits(self, split: str) -> list[int]:
        if split == "test":
            return list(range(1, VARIANTS + 1))
        return [int(split.removeprefix("sample_variant"))]

    def hub_rows(self, split: str) -> Iterable[dict[str, Any]]:
        tables = {v: super(DynaMath, self).hub_rows(f"sample_variant{v}")
                  for v in self.variant_splits(split)}
        return self._interleave(tables)

    def local_rows(self, data_dir: Path, split: str) -> Iterable[dict[str, Any]]:
        """The release's ``sample_variantN.json`` files (keyed "1".."501"), or hub parquet
        ``sample_variantN*.parquet``; for ``test``, whichever variants are present."""
        folder = self.local_dir(data_dir)
        tables: dict[int, Any] = {}
        for v in self.variant_splits(split):
            path = folder / f"sample_variant{v}.json"
            parquet = sorted(folder.glob(f"sample_variant{v}-*.parquet")) + sorted(
                folder.glob(f"sample_variant{v}.parquet"))
            if path.is_file():
                data = json.loads(path.read_text(encoding="utf-8"))
                tables[v] = [{**row, "id": key} for key, row in data.items()]
            elif parquet:
                tables[v] = read_parquet(parquet)
        if not tables:
            raise self._missing_split(folder, split, "sample_variantN.json or "
                                      "sample_variantN-*.parquet")
        return self._interleave(tables)

    @staticmethod
    def _interleave(tables: dict[int, Any]) -> Iterator[dict[str, Any]]:
        """Rows seed by seed: row i of every variant, then row i + 1."""
        return ({**row, "_seed": str(position), "_variant": variant}
                for position, variant, row in round_robin(tables))

    def row_to_sample(self, row: dict[str, Any], index: int, base_dir: Path | None) -> Sample:
        seed, variant = row.get("_seed", str(index + 1)), row.get("_variant", 1)
        sample_id = f"{seed}/v{variant}"
        question = str(row.get("question") or "").strip()
        if not question:
            raise BadRow(sample_id, "no question text")
        image = require_image(row.get("decoded_image") or row.get("image"), sample_id, base_dir)
        answer = str(row.get("ground_truth") or row.get("answer") or "").strip()
        answer_type = str(row.get("answer_type") or "")
        multiple_choice = answer_type == "multiple choice"
        choices = inline_choices(question) if multiple_choice else None
        return Sample(
            id=sample_id, task=self.name, question=question, answer=answer, images=[image],
            choices=choices, answer_type="multiple_choice" if multiple_choice else "free_form",
            metadata={"seed": seed, "variant": variant, "answer_type": answer_type,
                      "subject": row.get("subject"),
                      "level": row.get("knowledge_level") or row.get("level")},
        )

    def score(self, records: list[dict[str, Any]]) -> dict[str, Any]:
        scored = rejudged(records, tolerance_rule)
        average = task_scores(scored, self.subset_keys)
        values, variants = worst_case(scored)
        counts = sorted(set(variants.values()))
        return {
            **average, "metric": "worst-case accuracy", **mean_with_error(values),
            "worst_case": mean_with_error(values),
            "average": {k: average[k] for k in ("score", "stderr", "ci95", "n")},
            "seeds": len(variants),
            "variants_per_seed": counts[0] if len(counts) == 1 else counts,
            "complete": bool(variants) and min(variants.values()) == VARIANTS,
            "official_rules": "floats within 0.001; worst case over each seed's variants",
        }


TASK = DynaMath(
    name="dynamath",
    description="DynaMath (501 seeds x 10 variants; worst-case and average accuracy)",
    hub_id="DynaMath/DynaMath_Sample",
    # the dataset's tree at this commit was seen on huggingface.co (no code pin was found)
    revision="0180adbcfca1ba725d591bbe62c0ff7473a0377d",
    default_split="test",
    splits=("test", *(f"sample_variant{v}" for v in range(1, VARIANTS + 1))),
    modality="image",
    subset_keys=("subject", "level", "answer_type"),
)
