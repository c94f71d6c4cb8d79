"""Sampling presets: the protocol a paper used, per benchmark (``ovr eval --preset NAME``).

``ovr``: the sampling behind the OVR paper's tables as far as it is known. OVR states no
evaluation protocol; its language rows come from Open-Reasoner-Zero, whose paper reports the
average of 16 responses per question for AIME 2024, AIME 2025, MATH500 and GPQA Diamond, and
whose evaluation code samples at temperature 1.0, top-p 1.0 (the setting OVR and ORZ train
with). So: avg@16 at T = 1, top-p = 1 on those four; one response at T = 1, top-p = 1 on every
other benchmark (no source gives more). Each benchmark declares its own in its task module
(``Task.paper_sampling``). Options given explicitly (``--samples``,
``--temperature``, ``--top-p``) override the preset for every task.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from ovr_eval.types import SamplingConfig, UserError

if TYPE_CHECKING:
    from ovr_eval.tasks import Task


@dataclass(frozen=True)
class Preset:
    """Sampling (``n``, ``temperature``, ``top_p``) for every task, each benchmark's own where
    it declares one (``Task.paper_sampling``), and where it comes from."""

    name: str
    source: str
    default: dict[str, float | int]

    def sampling_for(self, task: Task | None, base: SamplingConfig,
                     overrides: dict[str, float | int]) -> SamplingConfig:
        """``base`` (max tokens, seed) with this preset's values for ``task`` (None: the
        default), then ``overrides`` (the options the user gave explicitly)."""
        own = dict(task.paper_sampling) if task is not None else {}
        values: dict[str, Any] = {**self.default, **own, **overrides}
        return replace(base, **values)


PRESETS: dict[str, Preset] = {
    "ovr": Preset(
        name="ovr",
        source="OVR states no protocol; ORZ (its language rows' source): avg@16 at T=1, "
               "top-p 1 on AIME 2024/2025, MATH500, GPQA Diamond; one response at T=1, top-p 1 "
               "elsewhere",
        default={"n": 1, "temperature": 1.0, "top_p": 1.0},
    ),
}

# ORZ's avg@16 (the paper's language rows): what those benchmarks set as Task.paper_sampling
ORZ_AVG16: dict[str, float | int] = {"n": 16, "temperature": 1.0, "top_p": 1.0}


def get_preset(name: str) -> Preset:
    """A preset by name; a clear error listing the presets otherwise."""
    if name not in PRESETS:
        raise UserError(f"unknown --preset {name!r}; presets: {', '.join(sorted(PRESETS))}")
    return PRESETS[name]
