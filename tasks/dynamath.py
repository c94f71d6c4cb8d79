"""DynaMath: 501 seed questions, each rendered as 10 generated variants (5,010 items).

Official metrics (DynaMath's evaluation scripts): average accuracy over all variants, and
worst-case accuracy (a seed counts only when every one of its variants is answered
correctly), which OVR reports. Official answer rules, applied to the verifier's extracted
answer: a float item is right when its number is within 0.001 of the answer (the number read
from the verifier's normalised answer, so "2.094 \\text{ cm}" and "2.094^\\circ" are 2.094); a
text item is right when the gold is a substring of the answer ("Sep" in "September"); a
multiple-choice item is the verifier's letter. The verifier's verdicts alone are reported
beside (``verifier``). Both errors are clustered by seed. Split ``test`` holds all variants,
seed by seed (seed 1 variants 1-10, seed 2 ...); ``sample_variantN`` holds one variant.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from ovr_eval.metrics import Summary, summarize, task_scores
from ovr_eval.records import Record
from ovr_eval.tasks import Task, read_keyed_rows, read_parquet, require_image
from ovr_eval.types import BadRow, Sample
from ovr_tasks._official import (
    method_counts,
    numeric_value,
    official_records,
    plain_number,
)
from ovr_tasks._rows import inline_choices, round_robin

VARIANTS = 10
FLOAT_TOLERANCE = 1e-3


def official_rule(record: Record, j: int) -> tuple[bool, str] | None:
    """DynaMath's rule for response j: floats within 0.001, text by substring (None: a
    multiple-choice item, or a float answer with no readable number -- the verifier decides)."""
    kind = record.metadata.get("answer_type")
    extracted = record.extraction(j)
    if kind == "float":
        value, gold = numeric_value(extracted), plain_number(record.gold)
        if value is None or gold is None:
            return None
        return abs(value - gold) <= FLOAT_TOLERANCE, "float within 0.001"
    if kind == "text":
        text = record.gold
        return bool(text) and extracted is not None and text in extracted, "gold substring"
    return None


def _by_seed(records: list[Record]) -> dict[str, list[list[bool]]]:
    by_seed: dict[str, list[list[bool]]] = defaultdict(list)
    for record in records:
        by_seed[str(record.metadata["seed"])].append(record.correct)
    return by_seed


def worst_case_units(records: list[Record]) -> dict[str, list[float]]:
    """Per seed, per response slot (1st, 2nd, ... response): 1.0 when every variant of the
    seed is right in that slot."""
    units = {}
    for seed, variants in _by_seed(records).items():
        k = min(len(c) for c in variants)
        units[seed] = [1.0 if all(c[j] for c in variants) else 0.0 for j in range(k)]
    return units


def average(records: list[Record]) -> Summary:
    """Average accuracy over variants, its errors clustered by seed (a seed's variants are not
    independent problems): a unit per seed, weighted by its number of variants, whose slot j is
    the share of its variants answered right by response j."""
    units, weights = {}, {}
    for seed, variants in _by_seed(records).items():
        k = min(len(c) for c in variants)
        units[seed] = [sum(bool(c[j]) for c in variants) / len(variants) for j in range(k)]
        weights[seed] = len(variants)
    return summarize(units, weights)


class DynaMath(Task):
    def variant_splits(self, split: str) -> list[int]:
        if split == "test":
            return list(range(1, VARIANTS + 1))
        return [int(split.removeprefix("sample_variant"))]

    def hub_rows(self, split: str) -> Iterable[dict[str, Any]]:
        tables = {v: super(DynaMath, self).hub_rows(f"sample_variant{v}")
                  for v in self.variant_splits(split)}
        return self._interleave(tables)

    def local_rows(self, data_dir: Path, split: str) -> Iterable[dict[str, Any] | BadRow]:
        """The release's ``sample_variantN.json`` files (keyed "1".."501"), or hub parquet
        ``sample_variantN*.parquet``; for ``test``, whichever variants are present."""
        folder = self.local_dir(data_dir)
        tables: dict[int, Any] = {}
        for v in self.variant_splits(split):
            path = folder / f"sample_variant{v}.json"
            parquet = sorted(folder.glob(f"sample_variant{v}-*.parquet")) + sorted(
                folder.glob(f"sample_variant{v}.parquet"))
            if path.is_file():
                tables[v] = read_keyed_rows(path, "id")
            elif parquet:
                tables[v] = read_parquet(parquet)
        if not tables:
            raise self._missing_split(folder, split, "sample_variantN.json or "
                                      "sample_variantN-*.parquet")
        return self._interleave(tables)

    @staticmethod
    def _interleave(tables: dict[int, Any]) -> Iterator[Any]:
        """Rows seed by seed: row i of every variant, then row i + 1 (BadRows as they are)."""
        return (row if isinstance(row, BadRow) else {**row, "_seed": str(position),
                                                       "_variant": variant}
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

    def official(self, records: list[Record]) -> list[Record]:
        return official_records(records, official_rule)

    def units(self, records: list[Record]) -> dict[str, list[float]]:
        return worst_case_units(self.official(records))

    def score(self, records: list[Record]) -> dict[str, Any]:
        official = self.official(records)
        per_variant = task_scores(official, self.subset_keys)
        worst = summarize(worst_case_units(official))
        variants = {seed: len(v) for seed, v in _by_seed(official).items()}
        counts = sorted(set(variants.values()))
        return {
            **per_variant, "metric": "worst-case accuracy", **worst, "worst_case": worst,
            "average": average(official),
            "verifier": {"worst_case": summarize(worst_case_units(records)),
                         "average": average(records)},
            "official_methods": method_counts(official),
            "seeds": len(variants),
            "variants_per_seed": counts[0] if len(counts) == 1 else counts,
            "complete": bool(variants) and min(variants.values()) == VARIANTS,
            "variants_expected": VARIANTS,
            "official_rules": "floats within 0.001 of the answer (number read from the "
                              "normalised answer); text answers contain the gold; letters by "
                              "the verifier; worst case over each seed's variants",
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
