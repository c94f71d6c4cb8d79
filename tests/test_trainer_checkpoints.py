"""Checkpoints: weights-only ones for evaluations, retention (keep_last), the resume state
object, and averaging (``ovr train average``)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from ovr_trainer import checkpoint
from ovr_trainer.modeling import load_policy

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def policy(tiny_model):
    return load_policy(tiny_model, "float32")


def names(root: Path) -> list[str]:
    return sorted((p.name for p in root.iterdir()), key=lambda n: int(n.split("-")[1]))


def state(step: int) -> checkpoint.TrainState:
    return checkpoint.TrainState("rl", step, 9, step, optimiser={"policy_opt": {"x": step}})


@pytest.mark.slow
def test_evaluation_checkpoints_hold_weights_only_in_the_compute_dtype(tmp_path, policy):
    model, processor = policy
    ckpts = checkpoint.Checkpointer(tmp_path, weights_dtype=torch.bfloat16)
    full = ckpts.full(3, model, processor, state(3))
    light = ckpts.weights(4, model, processor)
    assert (full / checkpoint.STATE_FILE).is_file()
    assert not (light / checkpoint.STATE_FILE).exists()  # no optimiser state
    assert checkpoint.latest(tmp_path) == full  # resume never picks a weights-only one
    assert json.loads((light / "config.json").read_text())["dtype"] == "bfloat16"
    size = sum(f.stat().st_size for f in light.glob("*.safetensors"))
    assert size < 0.6 * sum(f.stat().st_size for f in full.glob("*.safetensors"))
    loaded, _ = load_policy(light, "auto")
    assert next(loaded.parameters()).dtype == torch.bfloat16
    for (name, a), b in zip(model.named_parameters(), loaded.parameters(), strict=True):
        assert torch.equal(a.detach().to(torch.bfloat16), b), name
    resumed = checkpoint.load_state(full)
    assert resumed.stage == "rl" and resumed.step == 3 and resumed.optimiser["policy_opt"]


@pytest.mark.slow
def test_keep_last_keeps_the_newest_the_resumable_and_where_rl_started(tmp_path, policy):
    model, processor = policy
    ckpts = checkpoint.Checkpointer(tmp_path, keep_last=2, weights_dtype=torch.bfloat16)
    start = ckpts.full(1, model, processor, state(1))
    ckpts.protect.add(start)
    ckpts.full(2, model, processor, state(2))
    for step in (3, 4):
        ckpts.weights(step, model, processor)
    # newest two (3, 4), the newest resumable one (2), the RL start (1)
    assert names(tmp_path) == ["step-1", "step-2", "step-3", "step-4"]
    ckpts.weights(5, model, processor)
    assert names(tmp_path) == ["step-1", "step-2", "step-4", "step-5"]
    ckpts.full(6, model, processor, state(6))
    assert names(tmp_path) == ["step-1", "step-5", "step-6"]


def test_states_written_by_earlier_versions_still_resume():
    old = {"stage": "rl", "stage_step": 2, "stage_steps": 3, "step": 5, "ref_path": "/a/step-3",
           "rl": {"policy_opt": {}}, "rng": {"python": 1}}
    state = checkpoint.TrainState.from_dict(old)
    assert (state.rl_start, state.optimiser, state.stage_offset) == ("/a/step-3",
                                                                      {"policy_opt": {}}, 3)
    sft = checkpoint.TrainState.from_dict({"stage": "sft", "stage_step": 3, "stage_steps": 3,
                                           "step": 3, "optimizer": {"o": 1},
                                           "scheduler": {"s": 1}, "rng": {}})
    assert sft.finished and sft.optimiser == {"optimizer": {"o": 1}, "scheduler": {"s": 1}}


@pytest.mark.slow
def test_ovr_train_average_writes_the_uniform_average(tmp_path, policy):
    model, processor = policy
    folders = []
    for shift in (0.0, 0.3, -0.6):
        with torch.no_grad():
            for param in model.parameters():
                param.add_(shift)
        folders.append(checkpoint.save(tmp_path / "run", len(folders) + 1, model, processor))
    out = tmp_path / "averaged"
    result = subprocess.run([sys.executable, "-m", "ovr_eval.cli", "train", "average",
                             *map(str, folders), "--out", str(out)], capture_output=True,
                            text=True, cwd=REPO, timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    averaged, _ = load_policy(out)
    # the three checkpoints are w, w + 0.3, w - 0.3: their mean is w + 0
    first, _ = load_policy(folders[0])
    for a, b in zip(first.parameters(), averaged.parameters(), strict=True):
        assert torch.allclose(a, b, atol=1e-5)
    assert json.loads((out / "averaged_from.json").read_text()) == list(map(str, folders))
    same = subprocess.run([sys.executable, "-m", "ovr_eval.cli", "train", "average",
                           str(folders[0]), str(folders[1]), "--out", str(folders[1])],
                          capture_output=True, text=True, cwd=REPO, timeout=600)
    assert same.returncode == 2 and "is one of the checkpoints" in " ".join(same.stderr.split())
