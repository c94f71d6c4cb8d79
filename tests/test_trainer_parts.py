"""Trainer pieces a user relies on: recipe checks, SFT traces from tasks, the critic, the
length schedule, divergence and wrong-model guards."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from ovr_eval.engines.base import render_chat
from ovr_eval.prompting import build_request, load_template
from ovr_eval.task_registry import resolve
from ovr_eval.types import UserError
from ovr_trainer.chat_data import IGNORE, ChatEncoder, collate, task_traces
from ovr_trainer.config import load_recipe
from ovr_trainer.modeling import Critic
from ovr_trainer.rl import max_new_tokens_at
from ovr_trainer.sft import sft_loss

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def policy(tiny_model):
    from ovr_trainer.modeling import load_policy

    return load_policy(tiny_model, "float32")


def ovr_train(out: Path, *sets: str) -> subprocess.CompletedProcess:
    args = [a for s in sets for a in ("--set", s)]
    return subprocess.run([sys.executable, "-m", "ovr_eval.cli", "train", "--config", "tiny",
                           "--out", str(out), *args], capture_output=True, text=True, cwd=REPO,
                          timeout=600)


def test_a_misspelt_recipe_key_names_the_nearest_one(tmp_path):
    with pytest.raises(UserError, match=r"'stpes'; did you mean tiny\.rl\.steps\?"):
        load_recipe("tiny", {"rl.stpes": 3})
    with pytest.raises(UserError, match="'dpo' is not one of ppo, grpo"):
        load_recipe("tiny", {"rl.algorithm": "dpo"})
    result = ovr_train(tmp_path / "run", "sft.lr=fast")
    assert result.returncode != 0
    assert "tiny.sft.lr: expected a number, got 'fast'" in result.stderr
    assert "Traceback" not in result.stderr


def test_wrongly_shaped_values_and_missing_models_are_named(tmp_path):
    with pytest.raises(UserError, match=r"tiny\.rl\.length_schedule: expected a mapping"):
        load_recipe("tiny", {"rl.length_schedule": "abc"})
    with pytest.raises(UserError, match=r"tiny\.eval\.tasks: expected a list"):
        load_recipe("tiny", {"eval.tasks": 3})
    assert load_recipe("tiny", {"rl.tasks": "math500"}).rl.tasks == ["math500"]
    result = ovr_train(tmp_path / "run", f"model.path={tmp_path / 'no-such-checkpoint'}")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "no-such-checkpoint does not exist" in " ".join(result.stderr.split())


def test_an_eval_of_several_greedy_samples_is_refused_before_training():
    with pytest.raises(UserError, match=r"tiny: eval\.sampling\.n 2 at temperature 0 .* set "
                                        r"eval\.sampling\.temperature above 0"):
        load_recipe("tiny", {"eval.sampling.n": 2})
    recipe = load_recipe("tiny", {"eval.sampling.n": 2, "eval.sampling.temperature": 1.0})
    assert recipe.eval.sampling.n == 2


def test_numbers_yaml_reads_as_text_are_numbers():
    assert load_recipe("tiny", {"sft.lr": "2e-3"}).sft.lr == 2e-3  # YAML 1.1 reads 2e-3 as text


def test_whole_number_keys_take_any_whole_spelling_and_refuse_fractions():
    recipe = load_recipe("tiny", {"rl.steps": "1e3", "rl.limit": 4.0,
                                  "rl.length_schedule": {"10": "2e3"}})
    assert (recipe.rl.steps, recipe.rl.limit) == (1000, 4)
    assert type(recipe.rl.steps) is int and recipe.rl.length_schedule == {10: 2000}
    with pytest.raises(UserError, match=r"^tiny\.rl\.prompts_per_step: expected a whole number, "
                                        r"got 2\.5$"):
        load_recipe("tiny", {"rl.prompts_per_step": 2.5})
    with pytest.raises(UserError, match=r"^tiny\.rl\.limit: expected a whole number"):
        load_recipe("tiny", {"rl.limit": "7.5"})
    with pytest.raises(UserError, match=r"^tiny\.sft\.epochs: expected a number, got True$"):
        load_recipe("tiny", {"sft.epochs": True})
    with pytest.raises(UserError, match=r"^tiny\.rl\.length_schedule: key 'late' is not a whole"):
        load_recipe("tiny", {"rl.length_schedule": {"late": 64}})
    with pytest.raises(UserError, match=r"^tiny\.rl\.length_schedule\.5: expected a whole number"):
        load_recipe("tiny", {"rl.length_schedule": {5: 64.5}})
    with pytest.raises(UserError, match=r"^tiny\.rl\.length_schedule: \{5: 0\} needs"):
        load_recipe("tiny", {"rl.length_schedule": {5: 0}})


@pytest.mark.parametrize("key", ["sft.batch_size", "sft.grad_accum", "sft.epochs",
                                 "rl.prompts_per_step", "rl.rollouts_per_prompt",
                                 "rl.micro_batch_size", "rl.logprob_chunk", "rl.critic_updates",
                                 "rl.steps"])
def test_counts_below_one_are_refused_naming_the_key(key):
    for bad in (0, -2):
        with pytest.raises(UserError, match=rf"^tiny\.{re.escape(key)} must be at least 1, "
                                            rf"got {bad}$"):
            load_recipe("tiny", {key: bad})


def test_a_fractional_count_from_the_command_line_is_one_line(tmp_path):
    result = ovr_train(tmp_path / "run", "rl.prompts_per_step=2.5")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "tiny.rl.prompts_per_step: expected a whole number, got 2.5" in result.stderr


def test_length_schedule_grows_the_response_cap():
    rl = load_recipe("ovr-7b-rl").rl  # OVR: 24k to step 300, 32k to 700, then 48k
    assert [max_new_tokens_at(rl, s) for s in (0, 299, 300, 699, 700, 999)] == [
        24576, 24576, 32768, 32768, 49152, 49152]


def test_sft_traces_from_a_task_use_the_evaluation_prompt(policy):
    _, processor = policy
    [task] = resolve(["arithmetic"])
    rows = task_traces("arithmetic", "train", 6, None)
    samples = list(task.samples("train"))[:6]
    encoder = ChatEncoder(processor, 256)
    for row, sample in zip(rows, samples, strict=True):
        request = build_request(load_template(task.default_prompt), sample, 0)
        assert len(row["images"]) == len(sample.images)
        item = encoder.encode(row)
        text = re.sub(r"(<\|image_pad\|>)+", "<|image_pad|>",  # one pad per image, as rendered
                      processor.tokenizer.decode(item["input_ids"]))
        assert text.startswith(render_chat(processor, request))  # exactly what eval sends
        assert processor.tokenizer.decode([t for t in item["labels"] if t != IGNORE]) == \
            f"\\boxed{{{sample.answer}}}<|im_end|>"
    assert {bool(r["images"]) for r in rows} == {True, False}


def test_a_task_without_worked_solutions_is_refused():
    with pytest.raises(UserError, match="no worked solution"):
        task_traces("aime2024", None, 1, REPO.parent / "shared" / "data")


def test_sft_loss_skips_prompt_logits_without_changing_the_loss(policy):
    model, processor = policy
    encoder = ChatEncoder(processor, 256)
    batch = collate([encoder.encode(r) for r in task_traces("arithmetic", "train", 6, None)],
                    processor.tokenizer.pad_token_id)
    loss, count = sft_loss(model, dict(batch))
    labels = batch.pop("labels")
    logits = model(**batch).logits[:, :-1].float()
    full = torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]),
                                             labels[:, 1:].reshape(-1), ignore_index=IGNORE,
                                             reduction="sum")
    assert count == int((labels[:, 1:] != IGNORE).sum())
    assert loss.item() == pytest.approx(full.item(), rel=1e-5)


def test_critic_kinds(policy):
    model, processor = policy
    ids = processor.tokenizer("Compute 2 + 2. \\boxed{4}", return_tensors="pt")
    inputs = {"input_ids": ids["input_ids"], "attention_mask": ids["attention_mask"]}
    width = inputs["input_ids"].shape[1] - 3
    model.zero_grad(set_to_none=True)
    full = Critic(model, "model")  # its own trunk, trained with the head
    values = full(inputs, None, 2, width)
    assert values.shape == (1, width)
    values.sum().backward()
    text_trunk = [(n, p) for n, p in full.trunk.named_parameters() if "visual" not in n]
    assert all(p.grad is not None for n, p in text_trunk if "layers" in n), "trunk not trained"
    assert all(p.grad is None for p in model.parameters())  # the policy is not touched
    head = Critic(model, "head")
    hidden = model(**inputs, output_hidden_states=True).hidden_states[-1][:, 2 : 2 + width]
    head(inputs, hidden, 2, width).sum().backward()
    assert head.trunk is None and head.head.linear.weight.grad is not None
    assert all(p.grad is None for p in model.parameters())


@pytest.mark.slow
def test_a_nan_loss_stops_training_and_keeps_the_last_good_checkpoint(tmp_path):
    out = tmp_path / "run"
    result = ovr_train(out, "sft.lr=1.0e+30", "sft.save_every=1", "sft.max_steps=3",
                       "sft.grad_accum=1", "rl.enabled=false", "eval.enabled=false")
    assert result.returncode == 2, result.stderr[-2000:]  # a clear error, not a crash
    message = " ".join(result.stderr.split())
    assert "the loss is nan at SFT step 2" in message and "Traceback" not in message
    assert sorted(p.name for p in (out / "checkpoints").iterdir()) == ["step-1"]


def test_a_run_folder_of_another_model_is_refused(tmp_path):
    from ovr_trainer import checkpoint
    from ovr_trainer.config import save_recipe
    from ovr_trainer.runner import train

    out = tmp_path / "run"
    save_recipe(load_recipe("tiny", {"model.path": "Qwen/Qwen2.5-VL-7B-Instruct"}),
                out / "config.yaml")
    (out / "checkpoints" / "step-3").mkdir(parents=True)
    (out / "checkpoints" / "step-3" / checkpoint.STATE_FILE).write_bytes(b"")
    with pytest.raises(UserError, match=r"trained from 'Qwen/Qwen2\.5-VL-7B-Instruct'"):
        train(load_recipe("tiny"), out)


def test_a_negative_sft_max_steps_is_refused():
    with pytest.raises(UserError, match=r"tiny\.sft\.max_steps must be at least 1"):
        load_recipe("tiny", {"sft.max_steps": -1})


def _no_work(monkeypatch):
    """Make any step past the cheap checks fail loudly (the data, the model)."""
    from ovr_trainer import runner

    def refuse(*_, **__):
        raise AssertionError("training started: the refusal came too late")

    monkeypatch.setattr(runner, "checked_data", refuse)
    monkeypatch.setattr(runner, "base_model", refuse)


def test_an_eval_run_folder_is_refused_as_a_training_out(tmp_path, monkeypatch):
    from ovr_trainer.runner import train

    _no_work(monkeypatch)
    out = tmp_path / "eval-run"
    (out / "samples").mkdir(parents=True)
    (out / "config.json").write_text('{"model": "m", "tasks": ["math500"]}')
    (out / "samples" / "math500.jsonl").write_text('{"id": "1"}\n')
    before = sorted(p.relative_to(out) for p in out.rglob("*"))
    with pytest.raises(UserError, match=r"is an `ovr eval` run folder .*choose another --out"):
        train(load_recipe("tiny"), out)
    assert sorted(p.relative_to(out) for p in out.rglob("*")) == before
    result = ovr_train(out)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr


def test_fewer_rl_steps_than_a_run_has_done_is_refused(tmp_path, monkeypatch):
    import dataclasses

    import torch

    from ovr_trainer import checkpoint
    from ovr_trainer.config import save_recipe
    from ovr_trainer.runner import train

    _no_work(monkeypatch)
    out = tmp_path / "run"
    save_recipe(load_recipe("tiny", {"rl.steps": 4}), out / "config.yaml")
    step = out / "checkpoints" / "step-7"
    step.mkdir(parents=True)
    state = checkpoint.TrainState(stage="rl", stage_step=4, stage_steps=4, step=7)
    torch.save(dataclasses.asdict(state), step / checkpoint.STATE_FILE)
    recipe_before = (out / "config.yaml").read_bytes()
    with pytest.raises(UserError, match=r"has done 4 RL step\(s\) of 4; rl\.steps=3 is fewer, "
                                        r"so nothing would be trained"):
        train(load_recipe("tiny", {"rl.steps": 3}), out)
    assert (out / "config.yaml").read_bytes() == recipe_before
    assert not (out / "train").exists()
