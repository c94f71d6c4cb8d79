"""Checkpoints: ``checkpoints/step-N/`` = HF weights + processor (+ ``trainer_state.pt``).

A *full* checkpoint holds the float32 master weights and a :class:`TrainState` (optimiser,
scheduler, critic and RNG states): a run resumes from the newest one. A *weights-only*
checkpoint (written for an evaluation during training) holds the weights in the compute dtype
and no trainer state: half the bytes of the weights and none of the optimiser's. Each is
written to ``step-N.tmp`` and renamed, so a crash never leaves a half checkpoint that resume
would pick up. :func:`prune` applies ``checkpoints.keep_last``; :func:`average` makes the
uniform average of several checkpoints (OVR's released model).
"""

from __future__ import annotations

import json
import random
import re
import shutil
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ovr_eval.types import UserError
from ovr_trainer.precision import dtype_name

STATE_FILE = "trainer_state.pt"
_STEP = re.compile(r"^step-(\d+)$")


@dataclass
class TrainState:
    """Where a run stands; saved in every full checkpoint, read once on resume."""

    stage: str  # "sft" | "rl"
    stage_step: int  # iterations of this stage done
    stage_steps: int  # iterations this stage runs
    step: int  # global step: SFT steps, then RL steps after them
    rl_start: str | None = None  # the checkpoint RL started from (its initial policy)
    optimiser: dict[str, Any] = field(default_factory=dict)  # the stage's optimiser states
    rng: dict[str, Any] = field(default_factory=dict)

    @property
    def finished(self) -> bool:
        """The stage ran all its iterations."""
        return self.stage_step >= self.stage_steps

    @property
    def stage_offset(self) -> int:
        """Global steps before this stage began (the SFT steps, for RL)."""
        return self.step - self.stage_step

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainState:
        """Read a saved state, including the dicts earlier versions wrote."""
        if "optimiser" not in data:  # earlier layout: stage-specific keys at the top level
            optimiser = data.get("rl") or {k: data[k] for k in ("optimizer", "scheduler")
                                            if k in data}
            data = {**data, "optimiser": optimiser, "rl_start": data.get("ref_path")}
        names = {f for f in cls.__dataclass_fields__}
        return cls(**{k: v for k, v in data.items() if k in names})


@dataclass
class Saved:
    """A full checkpoint folder and its trainer state, loaded once (optimiser and critic
    states are large for big models)."""

    path: Path
    state: TrainState


def seed_all(seed: int) -> None:
    """Seed every generator a stage draws from (Python, NumPy, torch, CUDA): a stage that
    starts fresh starts from the same state whatever ran before it in the process."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)  # seeds every CUDA device too


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


def save_weights(model: Any, folder: Path, dtype: torch.dtype | None = None) -> None:
    """The model in HF format, cast to ``dtype`` (default: as held)."""
    held = next(model.parameters()).dtype
    if dtype is None or dtype == held:
        model.save_pretrained(folder)
        return
    cast: dict[int, torch.Tensor] = {}  # one copy per storage: tied weights stay tied
    weights = {}
    for name, tensor in model.state_dict().items():
        if tensor.data_ptr() not in cast:
            cast[tensor.data_ptr()] = tensor.to(dtype) if tensor.is_floating_point() else tensor
        weights[name] = cast[tensor.data_ptr()]
    model.save_pretrained(folder, state_dict=weights)
    config = folder / "config.json"  # say what the file holds: loaders pick dtype "auto" by it
    data = json.loads(config.read_text())
    for node in (data, data.get("text_config") or {}, data.get("vision_config") or {}):
        for key in ("dtype", "torch_dtype"):
            if key in node:
                node[key] = dtype_name(dtype)
    config.write_text(json.dumps(data, indent=2))


def save(root: Path, step: int, model: Any, processor: Any, state: TrainState | None = None,
         weights_dtype: torch.dtype | None = None) -> Path:
    """Write checkpoint ``step``: full (master weights + ``state``) or, with ``state`` None,
    weights only in ``weights_dtype``."""
    final = root / f"step-{step}"
    tmp = root / f"step-{step}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    save_weights(model, tmp, None if state is not None else weights_dtype)
    processor.save_pretrained(tmp)
    if state is not None:
        state.step, state.rng = step, rng_state()
        torch.save(asdict(state), tmp / STATE_FILE)
    shutil.rmtree(final, ignore_errors=True)
    tmp.rename(final)
    return final


def _steps(root: Path) -> list[tuple[int, Path]]:
    if not root.is_dir():
        return []
    return sorted((int(m.group(1)), p) for p in root.iterdir() if (m := _STEP.match(p.name)))


def latest(root: Path) -> Path | None:
    """The highest full (resumable) ``step-N`` folder, if any."""
    full = [p for _, p in _steps(root) if (p / STATE_FILE).is_file()]
    return full[-1] if full else None


def load_state(folder: Path) -> TrainState:
    return TrainState.from_dict(torch.load(folder / STATE_FILE, weights_only=False))


def step_of(folder: Path) -> int:
    """The global step of a ``step-N`` checkpoint folder, from its name."""
    match = _STEP.match(Path(folder).name)
    if match is None:
        raise ValueError(f"{folder} is not a step-N checkpoint folder")
    return int(match.group(1))


def prune(root: Path, keep_last: int, protect: set[Path] | None = None) -> list[Path]:
    """Delete all but the newest ``keep_last`` step folders (0: keep all); the newest full
    checkpoint and ``protect`` always stay. Returns the deleted folders."""
    if keep_last <= 0:
        return []
    steps = [p for _, p in _steps(root)]
    keep = set(steps[-keep_last:]) | {p.resolve() for p in protect or set()}
    if (newest := latest(root)) is not None:
        keep.add(newest)
    gone = [p for p in steps if p not in keep and p.resolve() not in keep]
    for path in gone:
        shutil.rmtree(path, ignore_errors=True)
    return gone


def last_checkpoints(root: Path, count: int) -> list[Path]:
    """The newest ``count`` step folders, oldest first."""
    return [p for _, p in _steps(root)][-count:]


def average(paths: list[Path], out: Path) -> Path:
    """Write the uniform average of the checkpoints' weights to ``out`` (HF format, the
    processor, config and dtype of the last one).

    Weights are summed in float32 on the CPU, one checkpoint loaded at a time beside the sum.
    Checkpoints of different architectures are refused.
    """
    from ovr_trainer.modeling import load_policy

    if len(paths) < 2:
        raise UserError(f"averaging needs at least two checkpoints, got {len(paths)}")
    for path in paths:
        if not (Path(path) / "config.json").is_file():
            raise UserError(f"{path} is not a checkpoint folder (no config.json)")
    stored = json.loads((Path(paths[-1]) / "config.json").read_text())
    stored_dtype = stored.get("dtype") or stored.get("torch_dtype") or "float32"
    total, processor = load_policy(paths[-1], "float32", device="cpu")
    sums = dict(total.named_parameters())
    for path in paths[:-1]:
        other, _ = load_policy(path, "auto", device="cpu")
        params = dict(other.named_parameters())
        if params.keys() != sums.keys() or any(
                params[k].shape != sums[k].shape for k in sums):
            raise UserError(f"{path} has another architecture than {paths[-1]}: "
                            "only checkpoints of one model can be averaged")
        with torch.no_grad():
            for name, param in sums.items():
                param.add_(params[name].float())
        del other, params
    with torch.no_grad():
        for param in sums.values():
            param.div_(len(paths))
    tmp = out.with_name(out.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    save_weights(total, tmp, getattr(torch, stored_dtype))
    processor.save_pretrained(tmp)
    (tmp / "averaged_from.json").write_text(json.dumps([str(p) for p in paths], indent=2))
    shutil.rmtree(out, ignore_errors=True)
    tmp.rename(out)
    return out


@dataclass
class Checkpointer:
    """Writes a run's checkpoints and applies ``checkpoints.keep_last`` after each one."""

    root: Path
    keep_last: int = 0
    weights_dtype: torch.dtype | None = None  # of weights-only checkpoints (compute dtype)
    protect: set[Path] = field(default_factory=set)  # never pruned (e.g. where RL started)

    def full(self, step: int, model: Any, processor: Any, state: TrainState) -> Path:
        """A resumable checkpoint: master weights and trainer state."""
        return self._pruned(save(self.root, step, model, processor, state))

    def weights(self, step: int, model: Any, processor: Any) -> Path:
        """Weights only (for an evaluation): no optimiser state, compute dtype."""
        return self._pruned(save(self.root, step, model, processor, None, self.weights_dtype))

    def _pruned(self, path: Path) -> Path:
        prune(self.root, self.keep_last, self.protect | {path})
        return path
