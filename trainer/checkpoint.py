"""Checkpoints: ``checkpoints/step-N/`` = HF weights + processor + ``trainer_state.pt``.

Each is written to ``step-N.tmp`` and renamed, so a crash never leaves a half checkpoint that
resume would pick up.
"""

from __future__ import annotations

import random
import re
import shutil
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import torch

STATE_FILE = "trainer_state.pt"
_STEP = re.compile(r"^step-(\d+)$")


class Saved(NamedTuple):
    """A checkpoint folder and its trainer state, loaded once (it holds optimiser and critic
    states: large for big models)."""

    path: Path
    state: dict[str, Any]


def rng_state() -> dict[str, Any]:
    state = {"python": random.getstate(), "numpy": np.random.get_state(),
             "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def save(root: Path, step: int, model: Any, processor: Any, state: dict[str, Any]) -> Path:
    """Write checkpoint ``step`` (model in HF format, trainer state beside it)."""
    final = root / f"step-{step}"
    tmp = root / f"step-{step}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    model.save_pretrained(tmp)
    processor.save_pretrained(tmp)
    torch.save({**state, "step": step, "rng": rng_state()}, tmp / STATE_FILE)
    shutil.rmtree(final, ignore_errors=True)
    tmp.rename(final)
    return final


def latest(root: Path) -> Path | None:
    """The highest complete ``step-N`` folder, if any."""
    if not root.is_dir():
        return None
    found = [(int(m.group(1)), p) for p in root.iterdir()
             if (m := _STEP.match(p.name)) and (p / STATE_FILE).is_file()]
    return max(found)[1] if found else None


def load_state(folder: Path) -> dict[str, Any]:
    return torch.load(folder / STATE_FILE, weights_only=False)


def step_of(folder: Path) -> int:
    """The global step of a ``step-N`` checkpoint folder, from its name."""
    match = _STEP.match(Path(folder).name)
    if match is None:
        raise ValueError(f"{folder} is not a step-N checkpoint folder")
    return int(match.group(1))
