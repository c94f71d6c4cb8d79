"""MMMU-Pro: 1,730 questions in two settings, ``standard (10 options)`` (question, options and
images) and ``vision`` (one screenshot holding question and options).

Official metric: accuracy per setting; the overall MMMU-Pro score is the mean of the standard
(10 options) and vision accuracies, the headline here. Both settings ask the same 1,730
questions, so the headline's errors are paired by question (a unit is a question, its slots
the mean of its two settings' responses); its score equals the mean of the settings when they
cover the same questions. Official fallback as MMMU's (a random option where none is named,
counted in ``official_methods``); ``verifier`` is the score without guesses. Split ``test``
serves both settings item by item (standard 1, vision 1, standard 2, ...); ``standard10``,
``standard4`` and ``vision`` serve one setting.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

from ovr_eval.metrics import record_slots, summarize
from ovr_eval.records import Record
from ovr_eval.tasks import Task, read_parquet, require_image
from ovr_eval.types import BadRow, Sample
from ovr_tasks._official import guess_rule, official_records
from ovr_tasks._rows import glob_escape, option_letters, round_robin, with_choices
from ovr_tasks.mmmu import guessed_scores, parse_options, row_images, show_image_tags

CONFIGS = {"standard10": "standard (10 options)", "standard4": "standard (4 options)",
           "vision": "vision"}
OVERALL = ("standard10", "vision")
VISION_PROMPT = ("Answer the multiple-choice question shown in the image "
                 "with the letter of the correct option.")


def question_units(records: list[Record], settings: Iterable[str] = OVERALL
                   ) -> dict[str, list[float]]:
    """Per question, per response slot: the mean of its settings' verdicts (the overall score
    paired over the questions both settings ask)."""
    by_question: dict[str, dict[str, list[float]]] = defaultdict(dict)
    for record in records:
        setting, _, question = record.id.partition("/")
        by_question[question][setting] = record_slots(record)
    units = {}
    for question, found in by_question.items():
        present = [found[s] for s in settings if s in found]
        if present:
            k = min(len(p) for p in present)
            units[question] = [sum(p[j] for p in present) / len(present) for j in range(k)]
    return units


class MMMUPro(Task):
    def settings(self, split: str) -> list[str]:
        return list(OVERALL) if split == "test" else [split]

    def hub_rows(self, split: str) -> Iterable[dict[str, Any]]:
        tables = {s: Task.hub_rows(replace(self, hub_config=CONFIGS[s]), "test")
                  for s in self.settings(split)}
        return self._interleave(tables)

    def local_rows(self, data_dir: Path, split: str) -> Iterable[dict[str, Any]]:
        """The hub layout: ``<config>/test-*.parquet`` ("standard (10 options)", "vision")."""
        folder = self.local_dir(data_dir)
        tables = {}
        for setting in self.settings(split):
            files = sorted(folder.glob(f"{glob_escape(CONFIGS[setting])}/test-*.parquet"))
            if files:
                tables[setting] = read_parquet(files)
        if not tables:
            raise self._missing_split(folder, split, '"standard (10 options)/test-*.parquet" '
                                      'or "vision/test-*.parquet"')
        return self._interleave(tables)

    @staticmethod
    def _interleave(tables: dict[str, Any]) -> Iterator[dict[str, Any]]:
        """Rows item by item: item i in every setting, then item i + 1."""
        return ({**row, "_setting": setting} for _, setting, row in round_robin(tables))

    def row_to_sample(self, row: dict[str, Any], index: int, base_dir: Path | None) -> Sample:
        setting = row.get("_setting", "standard10")
        sample_id = f"{setting}/{row.get('id') or index}"
        options = [show_image_tags(o) for o in parse_options(row.get("options"))]
        answer = str(row.get("answer") or "").strip()
        if answer not in option_letters(options):
            raise BadRow(sample_id, f"answer {answer!r} names no option")
        if setting == "vision":
            images = [require_image(row.get("image"), sample_id, base_dir)]
            question = VISION_PROMPT  # question and options are in the screenshot
        else:
            images = row_images(row, sample_id, base_dir)
            question = show_image_tags(str(row.get("question") or "").strip())
            if not question:
                raise BadRow(sample_id, "no question text")
            question = with_choices(question, options)
        return Sample(
            id=sample_id, task=self.name, question=question, answer=answer, images=images,
            choices=options, answer_type="multiple_choice",
            metadata={"setting": setting, "subject": row.get("subject"),
                      "difficulty": row.get("topic_difficulty")},
        )

    def official(self, records: list[Record]) -> list[Record]:
        return official_records(records, guess_rule)

    def units(self, records: list[Record]) -> dict[str, list[float]]:
        return question_units(self.official(records), self._overall_settings(records))

    @staticmethod
    def _overall_settings(records: list[Record]) -> list[str]:
        present = {r.metadata.get("setting") for r in records}
        return [s for s in OVERALL if s in present] or sorted(s for s in present if s)

    def score(self, records: list[Record]) -> dict[str, Any]:
        result = guessed_scores(self, records)
        settings = self._overall_settings(records)
        official = self.official(records)
        per_setting = result["subsets"].get("setting", {})
        headline = summarize(question_units(official, settings))
        in_overall = [per_setting[s]["score"] for s in settings if s in per_setting]
        result.update({"metric": "mean of standard (10 options) and vision accuracy",
                       **headline, "overall": headline, "settings_in_overall": settings,
                       "mean_of_settings": sum(in_overall) / len(in_overall) if in_overall
                       else None,
                       "verifier": summarize(question_units(records, settings))})
        return result


TASK = MMMUPro(
    name="mmmu_pro",
    description="MMMU-Pro (standard 10 options + vision; overall = mean of the two)",
    hub_id="MMMU/MMMU_Pro",
    # the dataset's tree at this commit was seen on huggingface.co (no code pin was found)
    revision="cd9382dd4f8fa7704aa1007f004bfa63aabde6fc",
    default_split="test",
    splits=("test", "standard10", "standard4", "vision"),
    modality="image",
    subset_keys=("setting", "subject", "difficulty"),
)
