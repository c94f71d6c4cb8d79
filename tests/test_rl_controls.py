"""The RL-controls benchmark's data (benchmarks/rl_controls.py) and the arithmetic task it
trains on, plus a short smoke test of RL on the task's image items."""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path

import pytest
import torch
from rich.console import Console

from ovr_eval.engines.base import chat_messages
from ovr_eval.evaluate import load_samples
from ovr_eval.prompting import build_request, load_template
from ovr_eval.task_registry import resolve
from ovr_eval.verify.extract import last_boxed

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks"))

import rl_controls  # noqa: E402


def test_pair_splits_hold_out_a_fifth_of_the_pairs():
    [task] = resolve(["arithmetic"])
    rl, heldout, every = (
        {s.id for s in load_samples(task, split, None, None)[0]}
        for split in ("train80_text", "heldout20_text", "train_text"))
    assert len(rl) == 80 and len(heldout) == 20
    assert not rl & heldout and rl | heldout == every


def test_the_biased_prior_answers_each_pair_right_three_times_in_ten(tmp_path):
    path = tmp_path / "sft.jsonl"
    assert rl_controls.write_sft_data(path) == 1000
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    [task] = resolve(["arithmetic"])
    template = load_template(task.default_prompt)
    prompts = {s.id: chat_messages(build_request(template, s, 0))
               for s in load_samples(task, "train_text", None, None)[0]}
    by_prompt: dict[str, Counter] = {}
    for row in rows:
        *prompt, answer = row["messages"]
        question = prompt[-1]["content"]
        a, b = (int(x) for x in question.split("Compute ")[1].split(".")[0].split(" + "))
        assert prompt == prompts[f"text-{a}+{b}"]  # exactly the RL prompt
        value = int(last_boxed(answer["content"]))
        by_prompt.setdefault(question, Counter())[value - (a + b)] += 1
    assert len(by_prompt) == 100
    assert all(counts == {0: 3, 1: 7} for counts in by_prompt.values())


@pytest.mark.slow
def test_rl_on_arithmetic_images_trains_the_vision_tower(tmp_path):
    """The image path: SFT and one RL step on text and image sums, the vision tower trained."""
    from ovr_eval.tiny import build_tiny_qwen2_5_vl
    from ovr_trainer.config import load_recipe
    from ovr_trainer.modeling import load_policy
    from ovr_trainer.runner import train

    base = build_tiny_qwen2_5_vl(tmp_path / "base", init_std=0.02, vocab=4096)
    run = tmp_path / "run"
    recipe = load_recipe("tiny", {
        "model.path": str(base), "model.freeze_vision": False,
        "sft.data": "task:arithmetic", "sft.data_split": "train", "sft.data_dir": None,
        "sft.limit": 8, "sft.max_steps": 2, "sft.batch_size": 4, "sft.grad_accum": 1,
        "rl.tasks": ["arithmetic"], "rl.splits": {"arithmetic": "train"}, "rl.data_dir": None,
        "rl.limit": 8, "rl.steps": 1, "rl.prompts_per_step": 8, "rl.rollouts_per_prompt": 2,
        "rl.max_new_tokens": 8, "rl.micro_batch_size": 16, "eval.enabled": False})
    train(recipe, run, console=Console(quiet=True))
    [rl] = [json.loads(x) for x in (run / "train/metrics.jsonl").read_text().splitlines()
            if json.loads(x)["stage"] == "rl"]
    assert rl["accuracy_image"] is not None and rl["accuracy_text"] is not None
    rollouts = [json.loads(x) for x in (run / "train/rollouts.jsonl").read_text().splitlines()]
    assert any(r["prompt_id"].startswith("image-") for r in rollouts)
    sft, _ = load_policy(run / "checkpoints" / "step-2", "float32")
    after_rl, _ = load_policy(run / "checkpoints" / "step-3", "float32")
    moved = [name for name, p in after_rl.named_parameters() if "visual." in name
             and not torch.equal(p, dict(sft.named_parameters())[name])]
    assert moved  # the RL gradient reached the vision tower through the image tokens
