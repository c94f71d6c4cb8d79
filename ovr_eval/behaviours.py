"""Cognitive behaviours in model responses (OVR §2, Table 1; §5.2): judge-free pattern rules.

OVR counts behaviours with GPT-4o and published one of its eight prompts (backtracking, which
asks for a count of "distinct instances"). We count instances with documented regular
expressions instead, one rule set per behaviour of Table 1: the four linguistic habits
(backtracking, verification, subgoal setting, backward chaining) and their four visual
counterparts (visual reflection, visual verification, visual divide-and-conquer, goal-driven
visual tracing), plus Open-Reasoner-Zero's published reflection keywords. An instance is a
sentence (or line) matching one of the behaviour's patterns; a behaviour's *frequency* is the
share of responses with at least one instance (the paper's emergence rate) and *mean_count*
the instances per response. Rules are case-insensitive unless marked otherwise; they overlap
where the definitions do (goal-driven visual tracing is backward chaining about the image).

Training runs: ``RUN/train/rollouts.jsonl`` holds one JSON object a line,
``{"step": int, "response": str, "reward": float}``; behaviours are reported per step, and a
rollout with reward > 0 counts as correct.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from ovr_eval.runs import RunDir
from ovr_eval.types import PathLike, UserError

ROLLOUTS = Path("train") / "rollouts.jsonl"
_VIS = r"(?:image|figure|diagram|picture|graph|chart|plot|illustration|photo|drawing)"
_SUBJ = r"(?:we|I|let's|let us)"


_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|\n+")


def sentences(text: str) -> list[str]:
    """A response cut into sentences and lines (one instance at most per piece)."""
    return [piece for piece in _SENTENCE_END.split(text or "") if piece.strip()]


@dataclass(frozen=True)
class Behaviour:
    """One behaviour: its definition and the patterns whose matches count as instances."""

    name: str
    kind: str  # "linguistic", "visual" or "keyword"
    definition: str
    patterns: tuple[str, ...]
    case_sensitive: bool = False

    @cached_property
    def regex(self) -> re.Pattern[str]:
        flags = 0 if self.case_sensitive else re.IGNORECASE
        return re.compile("|".join(f"(?:{p})" for p in self.patterns), flags)

    def count(self, text: str) -> int:
        """Instances in ``text``: sentences (or lines) with at least one match."""
        return sum(1 for sentence in sentences(text) if self.regex.search(sentence))


BEHAVIOURS: tuple[Behaviour, ...] = (
    Behaviour(
        "backtracking", "linguistic",
        "realises a path, calculation or assumption is wrong and says it switches approach",
        (r"\bwait\b",
         r"\bthat(?:'s| is| was) (?:not right|wrong|incorrect|a mistake)\b",
         r"\bI (?:think I )?made (?:a|an) (?:mistake|error)\b",
         r"\b(?:let me|let's|let us) (?:start over|redo|reconsider|rethink|re-?calculate|"
         r"re-?compute|re-?evaluate|try (?:again|another|a different))\b",
         r"\bthis (?:approach|method|path) (?:won't|doesn't|does not|will not) work\b",
         r"\b(?:on second thought|scratch that|dead end)\b",
         r"\bstart(?:ing)? over\b",
         r"\blet(?:'s| me| us) try [^.\n]{0,60}?\binstead\b",
         r"\balternatively\b",
         r"\bmy (?:previous|earlier|initial) (?:assumption|answer|calculation|reasoning|"
         r"approach)\b[^.\n]{0,40}?\b(?:was|is) (?:wrong|incorrect|flawed|mistaken)\b")),
    Behaviour(
        "verification", "linguistic",
        "checks an intermediate or final result (substitution, recomputation, a sanity check)",
        (r"\b(?:let me|let's|let us|I(?:'ll| will| should| can)?) (?:double[- ]check|verify|"
         r"check|confirm)\b",
         r"\bto (?:verify|double[- ]check|confirm)\b",
         r"\b(?:plug(?:ging)?|substitut(?:e|ing)) (?:\w+ ){0,3}back\b",
         r"\bsanity check\b",
         r"\b(?:this|which|that|it) (?:checks out|is consistent)\b",
         r"\bverif(?:y|ying|ies|ied|ication)\b")),
    Behaviour(
        "subgoal_setting", "linguistic",
        "breaks the problem into intermediate goals (\"First, we need to ...\")",
        (rf"\b(?:first|firstly),? {_SUBJ} (?:need to|should|must|will|have to|can)\b",
         r"\bstep \d+\b",
         rf"\b(?:next|then|finally|second|secondly),? {_SUBJ} (?:need to|should|must|will|can|"
         r"have to)\b",
         r"\blet(?:'s| us| me) break (?:this|it|the problem) (?:down|into)\b",
         r"\bto (?:solve|find|answer|determine) (?:this|the problem|the question|it),? "
         r"(?:we|I) (?:need|must|will|should|first)\b",
         r"\b(?:our|the) (?:first|next) (?:goal|step|task) is\b")),
    Behaviour(
        "backward_chaining", "linguistic",
        "starts from the goal and reasons back to what is needed (\"To get 75, we need ...\")",
        (r"\bto (?:get|obtain|reach|make|achieve) [^.\n]{1,60}?, (?:we|I) (?:would )?(?:need|"
         r"must|have to)\b",
         r"\bwork(?:ing)? backwards?\b",
         r"\bfor (?:this|that|it) to (?:be true|hold|work), (?:we|I) (?:need|must)\b")),
    Behaviour(
        "visual_reflection", "visual",
        "revisits the image after doubting its reasoning (\"Let me see the image again.\")",
        (rf"\b(?:look|looking|see|seeing|check|checking|examine|examining|glance|glancing|"
         rf"inspect|inspecting)(?: back)?(?: at| to)? (?:the )?{_VIS} (?:again|once more)\b",
         rf"\b(?:look|looking|go|going|refer|referring|come|coming) back (?:at|to) "
         rf"(?:the )?{_VIS}\b",
         rf"\bre-?(?:examin|inspect|check|read|visit)\w* (?:the )?{_VIS}\b")),
    Behaviour(
        "visual_verification", "visual",
        "cross-checks an intermediate conclusion with the image "
        "(\"I will now verify this against the image.\")",
        (rf"\b(?:verify|verifying|check|checking|confirm|confirming|cross-check\w*)\b[^.\n]{{0,60}}?"
         rf"\b(?:against|with|in|using|from) (?:the )?{_VIS}\b",
         rf"\b(?:consistent|matches|agrees) with (?:what is shown in )?(?:the )?{_VIS}\b",
         rf"\bthe {_VIS} (?:confirms|agrees)\b")),
    Behaviour(
        "visual_divide_and_conquer", "visual",
        "splits the image into regions or parts handled in turn "
        "(\"Let's first look at the numbers on the left.\")",
        (r"\b(?:first|next|now|then),? (?:let(?:'s| us| me) )?(?:look|focus|examine|consider)\w*"
         r" (?:at|on) (?:the )?(?:[\w-]+ ){0,3}(?:on|in|at) the (?:left|right|top|bottom|middle|"
         r"center|upper|lower)\b",
         rf"\b(?:left|right|top|bottom|upper|lower)(?:[- ]\w+)? (?:part|half|side|panel|region|"
         rf"section|corner|row|column) of the {_VIS}\b",
         rf"\blet(?:'s| us| me) (?:break|divide|split) (?:up )?(?:the )?{_VIS}\b")),
    Behaviour(
        "goal_driven_visual_tracing", "visual",
        "starts from the wanted conclusion and searches the image for supporting evidence "
        "(\"To get this answer, I need to find an object that ...\")",
        (r"\bto (?:get|find|determine|answer|obtain)\b[^.\n]{0,60}?, ?(?:we|I) (?:need|have|must)"
         r" to (?:find|locate|look for|identify|spot)\b",
         r"\b(?:look|looking|search|searching) for (?:an?|the) (?:object|region|part|shape|"
         r"element|point|line|item)s? (?:\w+ ){0,4}(?:that|which|with)\b")),
    Behaviour(
        "orz_reflection", "keyword",
        "Open-Reasoner-Zero's reflection keywords (case-sensitive): 'wait,', 'recheck' + "
        "comma or space, 'retry', 'alternatively,', 'however,'",
        (r"wait,", r"recheck[,\s]", r"retry", r"alternatively,", r"however,"),
        case_sensitive=True),
)
BY_NAME = {b.name: b for b in BEHAVIOURS}


def count_behaviours(text: str, behaviours: Sequence[Behaviour] = BEHAVIOURS) -> dict[str, int]:
    """Instances of each behaviour in one response."""
    return {b.name: b.count(text) for b in behaviours}


def summarise(counts: Sequence[dict[str, int]],
              behaviours: Sequence[Behaviour] = BEHAVIOURS) -> dict[str, dict[str, float]]:
    """Per behaviour: frequency (share of responses with an instance) and mean count."""
    n = len(counts)
    return {b.name: {"frequency": sum(c[b.name] > 0 for c in counts) / n if n else 0.0,
                     "mean_count": sum(c[b.name] for c in counts) / n if n else 0.0}
            for b in behaviours}


def _grouped(pairs: Iterable[tuple[dict[str, int], bool]]) -> dict[str, Any]:
    """All / correct / incorrect summaries of (behaviour counts, correct) pairs."""
    groups: dict[str, list[dict[str, int]]] = {"all": [], "correct": [], "incorrect": []}
    for counts, correct in pairs:
        groups["all"].append(counts)
        groups["correct" if correct else "incorrect"].append(counts)
    return {"responses": {k: len(v) for k, v in groups.items()},
            **{k: summarise(v) for k, v in groups.items()}}


def _task_pairs(run: RunDir, task: str) -> list[tuple[dict[str, int], bool]]:
    """(behaviour counts, correct) for every saved response of a task."""
    pairs = []
    for record in run.records(task):
        pairs += [(count_behaviours(r), c)
                  for r, c in zip(record.responses, record.correct, strict=False)]
    return pairs


def rollouts_by_step(path: Path) -> tuple[dict[int, list[tuple[str, float]]], int]:
    """Rollouts of a training run grouped by step, and the number of unusable lines."""
    steps: dict[int, list[tuple[str, float]]] = defaultdict(list)
    bad = 0
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            if not line.strip():
                continue
            try:
                item = json.loads(line)
                steps[int(item["step"])].append((str(item["response"]),
                                                 float(item.get("reward") or 0.0)))
            except (json.JSONDecodeError, KeyError, TypeError, ValueError):
                bad += 1
    return dict(sorted(steps.items())), bad


def training_behaviours(path: Path) -> dict[str, Any]:
    """Behaviours per training step (rollouts with reward > 0 count as correct)."""
    steps, bad = rollouts_by_step(path)
    rows = []
    for step, items in steps.items():
        summary = _grouped((count_behaviours(text), reward > 0) for text, reward in items)
        rows.append({"step": step, "mean_reward": sum(r for _, r in items) / len(items),
                     **summary})
    return {"source": str(path), "malformed_lines": bad, "steps": rows}


def behaviours_for_run(run_dir: PathLike) -> dict[str, Any]:
    """Behaviours of every saved response of an ``ovr eval`` run (per task, and per correct /
    incorrect response) and, when ``train/rollouts.jsonl`` exists, per training step."""
    root = Path(run_dir)
    if not root.is_dir():
        raise UserError(f"run folder {root} does not exist")
    run = RunDir(root)
    tasks = run.saved_tasks()
    rollouts = root / ROLLOUTS
    if not tasks and not rollouts.is_file():
        raise UserError(f"{root} has no samples/<task>.jsonl and no {ROLLOUTS}: "
                        "is it an `ovr eval` or training run folder?")
    per_task, everything = {}, []
    for task in tasks:
        pairs = _task_pairs(run, task)
        everything += pairs
        per_task[task] = _grouped(pairs)
    return {
        "method": "pattern rules (ovr_eval.behaviours); frequency = share of responses with "
                  "at least one instance, mean_count = instances per response",
        "behaviours": {b.name: {"kind": b.kind, "definition": b.definition} for b in BEHAVIOURS},
        "tasks": per_task,
        "overall": _grouped(everything) if tasks else None,
        "training": training_behaviours(rollouts) if rollouts.is_file() else None,
    }
