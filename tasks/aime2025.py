"""AIME 2025: the 30 problems of AIME 2025 I and II (the set MathArena uses), scored by
accuracy like AIME 2024."""

from __future__ import annotations

from ovr_eval.presets import ORZ_AVG16
from ovr_tasks.aime2024 import Aime

TASK = Aime(
    paper_sampling=ORZ_AVG16,  # ORZ reports avg@16 at T=1, top-p 1
    name="aime2025",
    description="AIME 2025 I+II (30 problems, integer answers)",
    hub_id="yentinglin/aime_2025",
    # the dataset's tree at this commit was seen on huggingface.co (no code pin was found)
    revision="1bdb867fb342dc8d521bb4b03f3d96478bb9a550",
    default_split="test",
    splits=("test",),
    folder_aliases=("aime25",),
)
