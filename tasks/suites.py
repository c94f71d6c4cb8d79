"""Named task groups that reproduce the OVR paper's tables in one command.

``ovr-language`` is Table 2 (language reasoning and general), ``ovr-visual`` is Table 3
(visual reasoning; CharXiv is not implemented yet) and ``ovr-all`` is both plus MMMU
(validation), which the issue asks for although the paper reports no MMMU score.
"""

from __future__ import annotations

LANGUAGE = ["aime2024", "aime2025", "math500", "gpqa_diamond", "mmlu", "mmlu_pro"]
VISUAL = ["mathvista", "mathvision", "mathverse", "dynamath", "wemath", "logicvista", "mmmu_pro"]

SUITES: dict[str, list[str]] = {
    "ovr-language": LANGUAGE,
    "ovr-visual": VISUAL,
    "ovr-all": [*LANGUAGE, *VISUAL, "mmmu"],
}
