"""Open-Reasoner-Zero's RL math prompts: a *training* set (RL prompts), not a benchmark.

ORZ released the prompts its PPO runs trained on in its repository (``data/``): ~57k problems
with verifiable answers collected from AIME (up to 2023), MATH, NuminaMath, Tulu3 MATH and
others (split ``train``), a 72k extension (``extended``) and 13k hard ones (``hard``). OVR's
own ~300k RL set is unreleased; its language part names the same sources (OVR §3.3), so this
is the closest public text RL set. The files are read from the repository at a pinned commit
(GitHub, not the Hugging Face hub), or from ``DATA_DIR/orz_math/<file>`` in the same layout:
a JSON list of two-turn dialogues ``[{"from": "human", "value": QUESTION}, {"from":
"assistant", "ground_truth": {"value": ANSWER}}]``. Ids are positions in the file.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from ovr_eval.tasks import Task, read_json
from ovr_eval.types import BadRow, Sample, UserError

REPOSITORY = "Open-Reasoner-Zero/Open-Reasoner-Zero"
COMMIT = "3fdd9a07b4fb01e06005e6e74fc56690cde8a341"  # 2025-06-03, the repository's head
FILES = {"train": "orz_math_57k_collected.json",
         "extended": "orz_math_72k_collection_extended.json",
         "hard": "orz_math_13k_collection_hard.json"}


def dialogue_rows(path: Path) -> Iterator[dict[str, Any]]:
    """The dialogues of an ORZ file as flat rows (question, answer, index); malformed ones are
    kept for ``row_to_sample`` to name."""
    dialogues = read_json(path, list, "a JSON array of two-turn dialogues")
    for index, dialogue in enumerate(dialogues):
        row: dict[str, Any] = {"index": index, "question": None, "answer": None}
        if isinstance(dialogue, list) and len(dialogue) == 2:
            human, assistant = (turn if isinstance(turn, dict) else {} for turn in dialogue)
            truth = assistant.get("ground_truth")
            row["question"] = human.get("value")
            row["answer"] = truth.get("value") if isinstance(truth, dict) else None
        yield row


class OrzMath(Task):
    def file_url(self, split: str) -> str:
        return f"https://raw.githubusercontent.com/{REPOSITORY}/{self.revision}/data/{FILES[split]}"

    def hub_rows(self, split: str) -> Iterable[dict[str, Any]]:
        from datasets.utils.file_utils import cached_path

        url = self.file_url(split)
        try:
            path = cached_path(url)  # downloaded once into the datasets cache
        except Exception as exc:  # offline, moved file
            raise UserError(f"could not download {url}: {type(exc).__name__}. Offline? Put "
                            f"{FILES[split]} in DATA_DIR/{self.name}/ and pass --data-dir "
                            "(or rl.data_dir)") from exc
        return dialogue_rows(Path(path))

    def local_rows(self, data_dir: Path, split: str) -> Iterable[dict[str, Any]]:
        path = self.local_dir(data_dir) / FILES[split]
        if not path.is_file():
            raise self._missing_split(self.local_dir(data_dir), split, FILES[split])
        return dialogue_rows(path)

    def row_to_sample(self, row: dict[str, Any], index: int, base_dir: Path | None) -> Sample:
        sample_id = f"orz-{row['index']}"
        if not row.get("question"):
            raise BadRow(sample_id, "not a two-turn dialogue with a question")
        return Sample(id=sample_id, task=self.name, question=str(row["question"]),
                      answer=str(row.get("answer") or ""))


TASK = OrzMath(
    name="orz_math",
    description="Open-Reasoner-Zero RL math prompts (training set: 57k, extended 72k, hard 13k)",
    hub_id=f"github:{REPOSITORY}",
    revision=COMMIT,
    default_split="train",
    splits=tuple(FILES),
)
