"""Sampling presets: the protocol a paper used, per benchmark (``ovr eval --preset NAME``).

``ovr``: the sampling behind the OVR paper's tables as far as it is known. OVR states no
evaluation protocol; its language rows come from Open-Reasoner-Zero, whose paper reports the
average of 16 responses per question for AIME 2024, AIME 2025, MATH500 and GPQA Diamond, and
whose evaluation code samples at temperature 1.0, top-p 1.0 (the setting OVR and ORZ train
with). So: avg@16 at T = 1, top-p = 1 on those four; one response at T = 1, top-p = 1 on every
other benchmark (no source gives more). Options given explicitly (``--samples``,
``--temperature``, ``--top-p``) override the preset for every task.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from ovr_eval.types import SamplingConfig, UserError


@dataclass(frozen=True)
class Preset:
    """Per-task sampling (``n``, ``temperature``, ``top_p``) and where it comes from."""

    name: str
    source: str
    default: dict[str, float | int]
    per_task: dict[str, dict[str, float | int]] = field(default_factory=dict)

    def sampling_for(self, task: str, base: SamplingConfig,
                     overrides: dict[str, float | int]) -> SamplingConfig:
        """``base`` (max tokens, seed) with this preset's values for ``task``, then
        ``overrides`` (the options the user gave explicitly)."""
        values: dict[str, Any] = {**self.default, **self.per_task.get(task, {}), **overrides}
        return replace(base, **values)


_ORZ_AVG16 = {"n": 16, "temperature": 1.0, "top_p": 1.0}

PRESETS: dict[str, Preset] = {
    "ovr": Preset(
        name="ovr",
        source="OVR states no protocol; ORZ (its language rows' source): avg@16 at T=1, "
               "top-p 1 on AIME 2024/2025, MATH500, GPQA Diamond; one response at T=1, top-p 1 "
               "elsewhere",
        default={"n": 1, "temperature": 1.0, "top_p": 1.0},
        per_task={task: _ORZ_AVG16 for task in ("aime2024", "aime2025", "math500",
                                                "gpqa_diamond")},
    ),
}


def get_preset(name: str) -> Preset:
    """A preset by name; a clear error listing the presets otherwise."""
    if name not in PRESETS:
        raise UserError(f"unknown --preset {name!r}; presets: {', '.join(sorted(PRESETS))}")
    return PRESETS[name]
