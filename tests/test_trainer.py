"""The trainer: loss masking, schedule, RL math, SFT learning, crash-resume, end to end."""

from __future__ import annotations

import itertools
import json
import math
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from ovr_trainer import algos
from ovr_trainer.chat_data import IGNORE, ChatEncoder, collate, task_traces
from ovr_trainer.evaluation import resolve_data_dir
from ovr_trainer.schedule import warmup_cosine

REPO = Path(__file__).resolve().parents[1]
TINY_RECIPE = REPO / "trainer" / "recipes" / "tiny.yaml"


def run_train(out: Path, *args: str, cwd: Path = REPO) -> subprocess.CompletedProcess:
    """``ovr train`` as users run it (the trainer's commands mounted on the ovr command line)."""
    command = [sys.executable, "-m", "ovr_eval.cli", "train", "--config", str(TINY_RECIPE),
               "--out", str(out), *args]
    return subprocess.run(command, capture_output=True, text=True, cwd=cwd, timeout=600)


def metrics(out: Path) -> list[dict]:
    return [json.loads(x) for x in (out / "train" / "metrics.jsonl").read_text().splitlines()]


@pytest.fixture(scope="module")
def policy(tiny_model):
    from ovr_trainer.modeling import load_policy

    return load_policy(tiny_model)


def test_loss_mask_covers_assistant_turns_only(policy):
    _, processor = policy
    encoder = ChatEncoder(processor, 4096)
    chat = {"messages": [{"role": "user", "content": "What is 2+2?"},
                         {"role": "assistant", "content": "It is \\boxed{4}."},
                         {"role": "user", "content": "And 3+3?"},
                         {"role": "assistant", "content": "\\boxed{6}"}]}
    item = encoder.encode(chat)
    tokenizer = processor.tokenizer
    labelled = tokenizer.decode([t for t in item["labels"] if t != IGNORE])
    assert labelled == "It is \\boxed{4}.<|im_end|>\\boxed{6}<|im_end|>"
    unlabelled = tokenizer.decode([t for t, lab in zip(item["input_ids"], item["labels"],
                                                        strict=True) if lab == IGNORE])
    assert "What is 2+2?" in unlabelled and "And 3+3?" in unlabelled
    assert "boxed" not in unlabelled


def test_loss_mask_with_an_image(policy):
    _, processor = policy
    image = REPO / "ovr_eval" / "embedded" / "data" / "mathvision" / "images" / "4.jpg"
    item = ChatEncoder(processor, 4096).encode({
        "messages": [{"role": "user", "content": "How many digits?"},
                     {"role": "assistant", "content": "\\boxed{6}"}], "images": [image]})
    pad = processor.tokenizer.convert_tokens_to_ids("<|image_pad|>")
    assert item["input_ids"].count(pad) == int(item["image_grid_thw"].prod()) // 4
    assert processor.tokenizer.decode([t for t in item["labels"] if t != IGNORE]) == \
        "\\boxed{6}<|im_end|>"


def test_warmup_then_cosine():
    values = [warmup_cosine(s, warmup=4, total=12, min_ratio=0.1) for s in range(13)]
    assert values[:4] == [0.25, 0.5, 0.75, 1.0]
    assert values[4] == pytest.approx(1.0)
    assert values[8] == pytest.approx(0.1 + 0.9 * 0.5)  # halfway through the cosine
    assert values[12] == pytest.approx(0.1)
    assert all(a >= b for a, b in itertools.pairwise(values[4:]))
    assert warmup_cosine(100, warmup=50, total=0) == 1.0  # constant after warm-up (ORZ RL)


def test_gae_gamma_lambda_one_is_reward_minus_value():
    mask = torch.tensor([[1.0, 1.0, 1.0, 0.0], [1.0, 1.0, 0.0, 0.0]])
    values = torch.tensor([[0.2, 0.5, 0.9, 7.0], [0.1, -0.3, 7.0, 7.0]])
    rewards = algos.terminal_rewards(torch.tensor([1.0, 0.0]), mask)
    adv, ret = algos.gae(rewards, values, mask, gamma=1.0, lam=1.0)
    assert torch.allclose(adv, torch.tensor([[0.8, 0.5, 0.1, 0], [-0.1, 0.3, 0, 0]]))
    assert torch.allclose(ret, torch.tensor([[1.0, 1.0, 1.0, 0], [0.0, 0.0, 0, 0]]))


def test_gae_with_discount_matches_hand_computation():
    mask = torch.ones(1, 3)
    values = torch.tensor([[0.5, 0.4, 0.3]])
    rewards = torch.tensor([[0.0, 0.0, 1.0]])
    gamma, lam = 0.9, 0.8
    d2 = 1.0 - 0.3
    d1 = 0.0 + gamma * 0.3 - 0.4
    d0 = 0.0 + gamma * 0.4 - 0.5
    a2, a1 = d2, d1 + gamma * lam * d2
    a0 = d0 + gamma * lam * a1
    adv, ret = algos.gae(rewards, values, mask, gamma, lam)
    assert torch.allclose(adv, torch.tensor([[a0, a1, a2]]))
    assert torch.allclose(ret, torch.tensor([[a0 + 0.5, a1 + 0.4, a2 + 0.3]]))


def test_ppo_clipped_policy_loss_on_a_handmade_batch():
    old = torch.zeros(1, 4)
    new = torch.log(torch.tensor([[1.5, 0.5, 1.1, 1.5]]))  # ratios
    adv = torch.tensor([[1.0, -1.0, 2.0, 9.0]])
    mask = torch.tensor([[1.0, 1.0, 1.0, 0.0]])  # the last token is padding
    loss, clip_fraction = algos.policy_loss(new, old, adv, mask, clip_eps=0.2)
    # per token -min(r·A, clip(r)·A): -1.2, +0.8, -2.2 → mean over 3 tokens
    assert loss.item() == pytest.approx((-1.2 + 0.8 - 2.2) / 3)
    assert clip_fraction.item() == pytest.approx(2 / 3)


def test_clipped_value_loss():
    old = torch.tensor([[0.0, 0.0]])
    new = torch.tensor([[0.5, -0.1]])
    returns = torch.tensor([[1.0, 1.0]])
    mask = torch.ones(1, 2)
    # token 1: unclipped (0.5-1)²=0.25, clipped (0.2-1)²=0.64 → 0.64; token 2: 1.21 either way
    assert algos.value_loss(new, old, returns, mask, clip=0.2).item() == pytest.approx(
        0.5 * (0.64 + 1.21) / 2)


def test_grpo_advantages_are_group_relative():
    rewards = torch.tensor([1.0, 0.0, 0.0, 0.0, 1.0, 1.0, 1.0, 1.0])
    adv = algos.group_advantages(rewards, group_size=4)
    std = math.sqrt(0.1875)
    expected = torch.tensor([0.75, -0.25, -0.25, -0.25]) / std
    assert torch.allclose(adv[:4], expected, atol=1e-4)
    assert torch.equal(adv[4:], torch.zeros(4))  # all-correct group: nothing to learn
    unscaled = algos.group_advantages(rewards, group_size=4, scale=False)
    assert torch.allclose(unscaled[:4], torch.tensor([0.75, -0.25, -0.25, -0.25]))


@pytest.mark.slow
def test_sft_lowers_the_loss(tiny_model):
    from ovr_trainer.modeling import load_policy
    from ovr_trainer.sft import sft_loss

    model, processor = load_policy(tiny_model)
    encoder = ChatEncoder(processor, 256)
    traces = task_traces("math500", None, 4, resolve_data_dir("embedded"))
    items = [encoder.encode(r) for r in traces]
    batch = collate(items, processor.tokenizer.pad_token_id)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)

    def mean_loss() -> torch.Tensor:
        loss, count = sft_loss(model, dict(batch))
        return loss / count

    before = mean_loss().item()
    for _ in range(5):
        optimizer.zero_grad()
        mean_loss().backward()
        optimizer.step()
    assert mean_loss().item() < before - 1.0


TIMING = ("tokens_per_s", "generated_tokens_per_s", "generate_tokens_per_s", "generate_s",
          "step_s")


def trained_numbers(out: Path) -> list[dict]:
    """Every logged metric of a run but the wall-clock ones."""
    return [{k: v for k, v in m.items() if k not in TIMING} for m in metrics(out)]


@pytest.mark.slow
def test_a_run_killed_at_each_stage_point_resumes_into_the_uninterrupted_run(tmp_path):
    # killed mid-SFT, at the end of SFT (RL then starts in a fresh process: the critic's head,
    # dropout and mini-batch order must not depend on what ran before) and mid-RL; each time
    # the process ends without cleanup, as kill -9 does
    overrides = [f"--set={kv}" for kv in ("sft.save_every=1", "sft.grad_accum=1",
                                            "rl.save_every=1", "eval.enabled=false")]
    for crash_after in (2, 3, 4):
        crashed = run_train(tmp_path / "run", *overrides, "--crash-after", str(crash_after))
        assert crashed.returncode == 3, crashed.stderr[-2000:]
        assert metrics(tmp_path / "run")[-1]["step"] == crash_after
    resumed = run_train(tmp_path / "run", *overrides)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert "resuming from" in resumed.stderr
    straight = run_train(tmp_path / "straight", *overrides)
    assert straight.returncode == 0, straight.stderr[-2000:]
    steps = trained_numbers(tmp_path / "run")
    assert [(m["step"], m["stage"]) for m in steps] == [
        (1, "sft"), (2, "sft"), (3, "sft"), (4, "rl"), (5, "rl")]
    # same data order, optimiser, schedule, critic and RNG states: bit for bit the same run
    assert steps == trained_numbers(tmp_path / "straight")


@pytest.mark.slow
def test_tiny_recipe_end_to_end(tmp_path):
    out = tmp_path / "run"
    result = run_train(out, "--set", "eval.every=1")
    assert result.returncode == 0, result.stderr[-3000:]
    records = metrics(out)
    assert [(m["step"], m["stage"]) for m in records] == [
        (1, "sft"), (2, "sft"), (3, "sft"), (4, "rl"), (4, "eval"), (5, "rl"), (5, "eval")]
    rl = records[-2]
    for key in ("reward", "accuracy", "response_length", "entropy", "clip_fraction",
                "value_loss", "policy_loss", "tokens_per_s"):
        assert rl[key] is not None, key
    assert rl["entropy"] > 0
    assert rl["kl"] is None  # kl_coef 0 (ORZ/OVR): no reference model loaded, no KL
    behaviours = {k: v for k, v in rl.items() if k.startswith("behaviour_")}
    assert {"behaviour_backtracking", "behaviour_verification"} <= set(behaviours)
    assert all(0.0 <= v <= 1.0 for v in behaviours.values())
    rollouts = [json.loads(x) for x in (out / "train" / "rollouts.jsonl").read_text().splitlines()]
    assert len(rollouts) == 2 * 4 * 2
    assert {r["prompt_id"].split("-")[0] for r in rollouts} == {"text", "image"}  # both kinds
    final = out / "checkpoints" / "step-5"
    assert (final / "config.json").is_file() and (final / "trainer_state.pt").is_file()
    # the evaluation at step 4 wrote weights only (no optimiser state)
    assert not (out / "checkpoints" / "step-4" / "trainer_state.pt").exists()
    # the final checkpoint's evaluation lands in the run folder itself; step 4 was evaluated
    # during training (into evals/step-4) and both scores are curves beside the reward
    results = json.loads((out / "results.json").read_text())
    assert set(results["tasks"]) == {"math500", "mathvision"}
    assert results["model"] == str(final)
    during = json.loads((out / "evals" / "step-4" / "results.json").read_text())
    assert during["model"] == str(out / "checkpoints" / "step-4")
    assert records[-1]["eval_math500"] == results["tasks"]["math500"]["score"]
    assert (out / "config.yaml").is_file()
    # a live line per step on the console
    said = result.stderr
    assert "sft   step     3  loss " in said and "rl    step     5  reward " in said
    assert "eval  step     4  math500 " in said
    from ovr_eval.report import build_report

    report = build_report([out])
    curves = {c.metric: c for c in report.curves}
    assert {"reward", "value_loss", "eval_math500", "eval_mathvision"} <= set(curves)
    assert [p[0] for p in curves["eval_math500"].series[0].points] == [4.0, 5.0]


@pytest.mark.slow
def test_crash_mid_rl_resumes_without_losing_logs(tmp_path):
    out = tmp_path / "run"
    # kl_coef > 0: the resumed run reloads the reference policy from where RL started
    overrides = [f"--set={kv}" for kv in ("sft.max_steps=1", "rl.steps=3", "rl.save_every=1",
                                            "rl.kl_coef=0.01", "eval.enabled=false")]
    # killed after RL step 2 of 3; --out relative to another folder than the resume's
    crashed = run_train(Path("run"), *overrides, "--crash-after", "3", cwd=tmp_path)
    assert crashed.returncode == 3, crashed.stderr[-2000:]
    from ovr_trainer.checkpoint import load_state

    rl_start = load_state(out / "checkpoints" / "step-3").rl_start
    assert rl_start == str((out / "checkpoints" / "step-1").resolve())
    with (out / "train" / "metrics.jsonl").open("a") as handle:
        handle.write('{"step": 4, "stage": "rl", "rew')  # a torn line, as a kill can leave
    resumed = run_train(out, *overrides)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert "(rl step 2)" in " ".join(resumed.stderr.split())
    assert [(m["step"], m["stage"]) for m in metrics(out)] == [
        (1, "sft"), (2, "rl"), (3, "rl"), (4, "rl")]
    steps = [json.loads(x)["step"] for x in (out / "train" / "rollouts.jsonl").open()]
    assert sorted(set(steps)) == [2, 3, 4] and steps == sorted(steps)
