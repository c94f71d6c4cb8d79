"""``ovr train export-verl``: verl's parquet rows, the reward shim, the run script, the CLI.

verl itself is not installed here (it pins an older transformers); scripts/check-verl-export.sh
loads the same export with verl 0.9.1 in its own environment.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import io
import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import ModuleType

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from PIL import Image

from ovr_eval.prompting import build_request, load_template
from ovr_eval.types import UserError
from ovr_trainer.collect import prompt_pool
from ovr_trainer.config import load_recipe
from ovr_trainer.evaluation import resolve_data_dir
from ovr_trainer.verl_export import export_verl, flatten_messages, script

OVR = [sys.executable, "-m", "ovr_eval.cli"]
# the tiny recipe on benchmark-style prompts: MATH500 text and MathVision image problems
# (free-form and multiple choice), validated on MathVerse (no item shared with them)
PROMPTS = {"rl.tasks": ["math500", "mathvision"], "rl.splits": {"mathvision": "testmini"},
           "rl.data_dir": "embedded", "eval.tasks": ["mathverse"],
           "eval.splits": {"mathverse": "testmini_text_only"}}


def tiny_recipe(**extra: object):
    return load_recipe(Path("tiny"), {**PROMPTS, **extra})


@pytest.fixture(scope="module")
def export(tmp_path_factory, tiny_model) -> Path:
    """The tiny recipe with MATH500 text + MathVision image prompts, exported once."""
    out = tmp_path_factory.mktemp("verl-export")
    export_verl(tiny_recipe(**{"model.path": str(tiny_model)}), out)
    return out


@pytest.fixture(scope="module")
def shim(export) -> ModuleType:
    """``ovr_reward.py`` imported from its file, as verl does."""
    spec = importlib.util.spec_from_file_location("ovr_reward_test", export / "ovr_reward.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def rows(path: Path) -> list[dict]:
    return pq.read_table(path).to_pylist()


def test_export_folder_contents(export):
    names = {p.name for p in export.iterdir()}
    assert {"train.parquet", "val.parquet", "ovr_reward.py", "run_verl_ppo.sh",
            "README.md"} <= names
    assert os.access(export / "run_verl_ppo.sh", os.X_OK)
    readme = (export / "README.md").read_text()
    assert "verl[vllm,fsdp]==0.9.1" in readme and "< 3.13" in readme
    assert "10 steps" in readme


def test_parquet_types_are_verls(export):
    schema = pq.read_schema(export / "train.parquet")
    message = pa.struct([("role", pa.string()), ("content", pa.string())])
    assert schema.field("prompt").type == pa.list_(message)
    image = pa.struct([("bytes", pa.binary()), ("path", pa.string())])
    assert schema.field("images").type == pa.list_(image)
    assert schema.field("reward_model").type == pa.struct(
        [("style", pa.string()), ("ground_truth", pa.string())])


def test_rows_carry_the_trainers_prompts_images_and_answers(export):
    recipe = tiny_recipe()
    samples = {s.id: s for s in prompt_pool(recipe.rl, resolve_data_dir(recipe.rl.data_dir))}
    train = rows(export / "train.parquet")
    assert len(train) == len(samples)
    assert {r["data_source"] for r in train} == {"ovr/math500", "ovr/mathvision"}
    text = [r for r in train if not r["images"]]
    image = [r for r in train if r["images"]]
    assert text and image
    template = load_template("reasoning")
    for index, row in enumerate(train):
        sample = samples[row["extra_info"]["id"]]
        images = row["images"] or []
        content = row["prompt"][0]["content"]
        assert row["prompt"][0]["role"] == "user" and len(row["prompt"]) == 1
        assert content.count("<image>") == len(images) == len(sample.images)
        # the user turn ovr train / ovr eval send, image parts written as <image>
        assert row["prompt"] == flatten_messages(build_request(template, sample, 0).messages)
        assert row["reward_model"] == {"style": "rule", "ground_truth": sample.answer}
        assert row["ability"] == "math"
        info = row["extra_info"]
        assert (info["index"], info["split"], info["task"]) == (index, "train", sample.task)
        assert info["answer_type"] == sample.answer_type and info["choices"] == sample.choices
        for item in images:
            assert item["path"] is None and item["bytes"].startswith(b"\x89PNG")
            with Image.open(io.BytesIO(item["bytes"])) as decoded:
                assert decoded.mode == "RGB" and min(decoded.size) > 0


def test_val_rows_come_from_the_recipes_eval_tasks(export):
    recipe = tiny_recipe()
    val = rows(export / "val.parquet")
    per_task = {t: sum(r["extra_info"]["task"] == t for r in val) for t in recipe.eval.tasks}
    assert per_task == dict.fromkeys(recipe.eval.tasks, recipe.eval.limit)
    assert {r["extra_info"]["split"] for r in val} == {"val"}


def test_reward_shim_scores_with_the_verifier(export, shim):
    train = rows(export / "train.parquet")
    free = next(r for r in train if r["extra_info"]["answer_type"] == "free_form")
    gold = free["reward_model"]["ground_truth"]

    def score(row: dict, response: str, gold: str) -> dict:
        return shim.compute_score(row["data_source"], response, gold, row["extra_info"],
                                  reward_router_address=None)

    right = score(free, f"<think>work</think> The answer is \\boxed{{{gold}}}.", gold)
    assert right == {"score": 1.0, "acc": 1.0, "pred": gold}
    assert score(free, r"\boxed{-987654321}", gold)["score"] == 0.0
    assert score(free, "no answer at all", gold) == {"score": 0.0, "acc": 0.0, "pred": ""}
    choice = next(r for r in train if r["extra_info"]["answer_type"] == "multiple_choice")
    assert choice["data_source"] == "ovr/mathvision" and choice["extra_info"]["choices"]
    letter = choice["reward_model"]["ground_truth"]
    other = "A" if letter != "A" else "B"
    assert score(choice, f"so the answer is \\boxed{{{letter}}}", letter)["score"] == 1.0
    assert score(choice, f"\\boxed{{{other}}}", letter)["score"] == 0.0


def test_reward_shim_reads_answers_as_the_recipe_says(export, shim, tmp_path):
    """rl.reward boxed (the default): only a boxed answer earns the reward; lenient: the
    evaluation's extraction, as `ovr train` itself does."""
    from ovr_trainer.verl_export import write_reward

    row = next(r for r in rows(export / "train.parquet")
               if r["extra_info"]["answer_type"] == "free_form")
    gold = row["reward_model"]["ground_truth"]
    prose = f"After checking, the final answer is {gold}."
    assert shim.BOXED_ONLY is True
    assert shim.compute_score(row["data_source"], prose, gold, row["extra_info"])["score"] == 0.0
    write_reward(tmp_path / "lenient.py", boxed_only=False)
    spec = importlib.util.spec_from_file_location("ovr_reward_lenient", tmp_path / "lenient.py")
    lenient = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(lenient)
    assert lenient.compute_score(row["data_source"], prose, gold, row["extra_info"])["score"] == 1.0


def test_reward_shim_is_thread_safe(export, shim):
    """verl calls a synchronous compute_score from a thread pool."""
    row = rows(export / "train.parquet")[0]
    cases = [(r"\boxed{\dfrac{1}{\sqrt{2}}}", r"\frac{\sqrt{2}}{2}", 1.0),
             (r"\boxed{(x-1)(x+1)}", "x^2-1", 1.0), (r"\boxed{x^2+1}", "x^2-1", 0.0)] * 4
    with ThreadPoolExecutor(8) as pool:
        scores = list(pool.map(lambda c: shim.compute_score(
            row["data_source"], c[0], c[1], row["extra_info"])["score"], cases))
    assert scores == [c[2] for c in cases]


def test_run_script_carries_the_recipe(export):
    text = (export / "run_verl_ppo.sh").read_text()
    assert subprocess.run(["bash", "-n", str(export / "run_verl_ppo.sh")]).returncode == 0
    for override in ("algorithm.adv_estimator=gae", "algorithm.gamma=1.0", "algorithm.lam=1.0",
                     "reward.custom_reward_function.path='$HERE/ovr_reward.py'",
                     "reward.custom_reward_function.name=compute_score",
                     "trainer.total_training_steps=2", "actor_rollout_ref.rollout.n=2",
                     "data.train_batch_size=4", "critic.cliprange_value=0.2",
                     "data.val_files=['$HERE/val.parquet']", "data.filter_overlong_prompts=True",
                     # critic_updates = 2 critic steps within one pass over the batch
                     "critic.ppo_mini_batch_size=2", "critic.ppo_epochs=1",
                     "actor_rollout_ref.actor.loss_agg_mode=token-mean"):
        assert f'"{override}"' in text, override
    assert 'MODEL="${MODEL:-' in text and text.rstrip().endswith('"$@"')


def test_script_maps_recipe_values():
    recipe = load_recipe(Path("trainer/recipes/ovr-7b-rl.yaml"), {
        "rl.gamma": 0.99, "rl.lam": 0.95, "rl.steps": 7, "rl.rollouts_per_prompt": 5,
        "rl.prompts_per_step": 12, "rl.critic_updates": 3, "rl.kl_coef": 0.01,
        "rl.policy_lr": 2e-6, "rl.critic_lr": 5e-6, "rl.warmup_steps": 5, "rl.save_every": 50,
        "eval.every": 10})
    text = script(recipe, recipe.model.path, False, True)
    for override in ("algorithm.gamma=0.99", "algorithm.lam=0.95",
                     "trainer.total_training_steps=7", "actor_rollout_ref.rollout.n=5",
                     "data.train_batch_size=12", "actor_rollout_ref.actor.ppo_mini_batch_size=12",
                     "critic.ppo_mini_batch_size=4", "actor_rollout_ref.actor.use_kl_loss=True",
                     "actor_rollout_ref.actor.kl_loss_coef=0.01",
                     "actor_rollout_ref.actor.optim.lr=2e-06",
                     "actor_rollout_ref.actor.optim.lr_warmup_steps=5",
                     "actor_rollout_ref.actor.optim.betas=[0.9,0.95]",
                     "critic.optim.lr=5e-06", "trainer.test_freq=10", "trainer.save_freq=50"):
        assert f'"{override}"' in text, override
    assert 'MODEL="${MODEL:-Kangheng/OVR-7B-ColdStart}"' in text
    grpo = dataclasses.replace(recipe, rl=dataclasses.replace(recipe.rl, algorithm="grpo"))
    text = script(grpo, grpo.model.path, False, True)
    assert '"algorithm.adv_estimator=grpo"' in text and "critic." not in text


@pytest.mark.slow
def test_cli_keeps_train_and_adds_export_verl(tmp_path):
    env = {**os.environ, "COLUMNS": "160"}
    help_text = subprocess.run([*OVR, "train", "--help"], capture_output=True, text=True,
                               env=env).stdout
    assert "--config" in help_text and "export-verl" in help_text
    sub = subprocess.run([*OVR, "train", "export-verl", "--help"], capture_output=True,
                         text=True, env=env).stdout
    assert "--config" in sub and "--out" in sub and "--set" in sub
    bad = subprocess.run([*OVR, "train", "export-verl", "--config", "tiny", "--out",
                          str(tmp_path / "x"), "--set", "rl.enabled=false"],
                         capture_output=True, text=True, env=env)
    assert bad.returncode == 2 and "Traceback" not in bad.stderr
    assert "has no RL stage" in bad.stderr and len(bad.stderr.strip().splitlines()) == 1
    missing = subprocess.run([*OVR, "train", "--out", str(tmp_path / "y")],
                             capture_output=True, text=True, env=env)
    assert missing.returncode == 2 and "--config" in missing.stderr
    assert "Traceback" not in missing.stderr


def test_a_validation_split_for_a_task_outside_eval_tasks_is_refused(tmp_path):
    with pytest.raises(UserError, match=r"^eval\.splits names task 'mathverse', which is not "
                                        r"in eval\.tasks \(math500\)$"):
        export_verl(tiny_recipe(**{"eval.tasks": ["math500"]}), tmp_path)


def test_rl_prompts_that_are_validation_items_follow_train_overlap(tmp_path):
    recipe = tiny_recipe(**{"eval.tasks": ["math500"], "eval.splits": {}, "eval.limit": 3})
    with pytest.raises(UserError, match=r"RL prompts .* are evaluation items"):
        export_verl(recipe, tmp_path / "refused")
    dropped = export_verl(dataclasses.replace(recipe, eval=dataclasses.replace(
        recipe.eval, train_overlap="drop")), tmp_path / "dropped")
    pool = prompt_pool(recipe.rl, resolve_data_dir("embedded"))
    assert dropped["counts"]["train"]["rows"] == len(pool) - 3
    assert json.loads((tmp_path / "dropped" / "overlap.json").read_text())[
        "RL prompts (rl.tasks)"]["dropped"] == 3


def test_export_summary_is_json(tmp_path, tiny_model):
    summary = export_verl(tiny_recipe(**{"model.path": str(tiny_model), "eval.enabled": False}),
                          tmp_path)
    assert json.loads(json.dumps(summary))["counts"]["train"]["image_rows"] > 0
    assert not (tmp_path / "val.parquet").exists()
    text = (tmp_path / "run_verl_ppo.sh").read_text()
    assert '"trainer.test_freq=-1"' in text and '"trainer.val_before_train=False"' in text
