"""Arithmetic: synthetic sums of two small numbers, posed as text or as a rendered image.

Not a paper benchmark: a verifiable sanity task for trainers ("does my recipe learn, on text
and on images?"). Items are generated offline and deterministically, so it needs no download
and no data folder. Every pair ``a + b`` with ``a, b`` in 0..9 appears twice in ``train`` (as
text and as an image); ``test`` is a fixed half of those items. Test items are therefore seen
in training: the task measures whether a recipe learns, not whether it generalises.
``train_text`` / ``test_text`` hold the text items only. ``train80_text`` / ``heldout20_text``
split the 100 pairs themselves, 80 / 20 (text items, fixed order): RL on the first, generalisation
measured on pairs it never saw (``benchmarks/trainer.py``). Each sample carries a short worked
solution (``metadata["solution"]``, just the boxed answer: a tiny model learns the sums, not
prose) for SFT.
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from functools import cache
from pathlib import Path
from typing import Any

from ovr_eval.tasks import Task
from ovr_eval.types import Sample

OPERANDS = range(10)
IMAGE_SIZE = (112, 56)


@cache
def render_sum(a: int, b: int) -> Any:
    """``a + b`` drawn black on white (a fresh copy is returned to each caller)."""
    from PIL import Image, ImageDraw, ImageFont

    image = Image.new("RGB", IMAGE_SIZE, "white")
    font = ImageFont.load_default(size=30)
    ImageDraw.Draw(image).text((IMAGE_SIZE[0] // 2, IMAGE_SIZE[1] // 2), f"{a} + {b}",
                               fill="black", font=font, anchor="mm")
    return image


HELDOUT_PAIRS = 20  # of the 100 pairs, kept out of ``train80_text``


def generate_rows(split: str) -> list[dict[str, Any]]:
    """The items of ``split`` in a fixed order (``*_text``: the text items only)."""
    if split in ("train80_text", "heldout20_text"):
        pairs = [(a, b) for a in OPERANDS for b in OPERANDS]
        random.Random(80).shuffle(pairs)
        chosen = pairs[HELDOUT_PAIRS:] if split == "train80_text" else pairs[:HELDOUT_PAIRS]
        return [{"id": f"text-{a}+{b}", "a": a, "b": b, "modality": "text"} for a, b in chosen]
    rows = [{"id": f"{modality}-{a}+{b}", "a": a, "b": b, "modality": modality}
            for modality in ("text", "image") for a in OPERANDS for b in OPERANDS]
    random.Random(0).shuffle(rows)
    if split.startswith("test"):
        rows = rows[: len(rows) // 2]
    return [r for r in rows if r["modality"] == "text"] if split.endswith("_text") else rows


class Arithmetic(Task):
    def hub_rows(self, split: str) -> Iterable[dict[str, Any]]:
        return generate_rows(split)

    def local_rows(self, data_dir: Path, split: str) -> Iterable[dict[str, Any]]:
        return generate_rows(split)  # generated, whatever the data folder

    def data_fingerprint(self, split: str, data_dir: Path | None) -> dict[str, Any]:
        return {"kind": "generated", "id": f"generated:{self.name}@v{self.version}"}

    def row_to_sample(self, row: dict[str, Any], index: int, base_dir: Path | None) -> Sample:
        a, b, total = row["a"], row["b"], row["a"] + row["b"]
        if row["modality"] == "image":
            question, images = "Compute the sum shown in the image.", [render_sum(a, b).copy()]
        else:
            question, images = f"Compute {a} + {b}.", []
        return Sample(
            id=row["id"], task=self.name, question=question, answer=str(total), images=images,
            metadata={"modality": row["modality"], "solution": "\\boxed{" + str(total) + "}"},
        )


TASK = Arithmetic(
    name="arithmetic",
    description="Synthetic sums a + b (a, b < 10) as text and as rendered images (a trainer check)",
    hub_id="",  # generated locally
    revision=None,
    default_split="test",
    splits=("test", "train", "test_text", "train_text", "train80_text", "heldout20_text"),
    modality="image",
    subset_keys=("modality",),
    default_prompt="plain",
)
