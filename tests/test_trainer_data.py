"""Training data: no training on the evaluation sets, the public RL sets' loaders (on local
files in the hub's schema), token-budget SFT batches, recipes found from any folder."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from ovr_eval.evaluate import load_samples
from ovr_eval.task_registry import resolve
from ovr_eval.types import UserError
from ovr_trainer.chat_data import batch_plan
from ovr_trainer.config import load_recipe
from ovr_trainer.evaluation import hub_note, resolve_data_dir
from ovr_trainer.overlap import EvalIndex, apply_policy, chat_key, sample_key

REPO = Path(__file__).resolve().parents[1]
EMBEDDED = resolve_data_dir("embedded")


def ovr(*args: str, cwd: Path = REPO, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ovr_eval.cli", *args], capture_output=True,
                          text=True, cwd=cwd, timeout=600, env={**os.environ, **env})


@pytest.fixture(scope="module")
def math500():
    [task] = resolve(["math500"])
    return load_samples(task, "test", EMBEDDED, None)[0]


def test_an_rl_source_that_is_an_evaluation_set_is_refused_before_training(tmp_path):
    result = ovr("train", "--config", "tiny", "--out", str(tmp_path / "run"),
                 "--set", "rl.tasks=[math500]", "--set", "rl.splits={}",
                 "--set", "rl.data_dir=embedded")
    message = " ".join(result.stderr.split())
    assert result.returncode == 2 and "Traceback" not in message
    assert "RL prompts (rl.tasks) are evaluation items (eval.tasks)" in message
    assert "math500/test/" in message and "by id" in message
    assert "eval.train_overlap=drop" in message
    assert not (tmp_path / "run" / "base-model").exists()  # stopped before any model


def test_a_misspelt_task_in_rl_splits_is_refused_before_training(tmp_path):
    result = ovr("train", "--config", "tiny", "--out", str(tmp_path / "run"),
                 "--set", "rl.splits={arithmetc: train}")
    message = " ".join(result.stderr.split())
    assert result.returncode == 2 and "Traceback" not in message
    assert ("rl.splits names task 'arithmetc', which is not in rl.tasks (arithmetic)"
            in message)
    assert not (tmp_path / "run" / "base-model").exists()  # stopped before any model


def test_overlap_by_question_text_inside_a_prompt_template(math500, tmp_path):
    index = EvalIndex(math500)
    question = math500[0].question
    wrapped = {"messages": [
        {"role": "system", "content": "You are helpful."},
        {"role": "user", "content": f"Solve this.\nThis is the problem:\n  {question.upper()}\n"},
        {"role": "assistant", "content": "\\boxed{1}"}]}
    other = {"messages": [{"role": "user", "content": "What is the capital of France today?"},
                          {"role": "assistant", "content": "Paris"}]}
    rows = [wrapped, other]
    with pytest.raises(UserError, match=r"1 of 2 SFT chats .* by question text"):
        apply_policy(rows, chat_key, index, "SFT chats", "refuse")
    record = tmp_path / "overlap.json"
    assert apply_policy(rows, chat_key, index, "SFT chats", "drop", record) == [other]
    assert json.loads(record.read_text())["SFT chats"]["dropped"] == 1
    assert apply_policy(rows, chat_key, index, "SFT chats", "allow") == rows


def test_short_generic_questions_match_by_id_only():
    [arithmetic] = resolve(["arithmetic"])
    test = load_samples(arithmetic, "test", None, None)[0]
    train = load_samples(arithmetic, "train", None, None)[0]
    index = EvalIndex(test)
    # "Compute the sum shown in the image." is in every image item: no text match ...
    assert index.match(sample_key(train[0]).__class__(None, None, train[0].question)) is None
    # ... but the same item of the same task is one (test ⊂ train)
    overlapping = [s for s in train if index.match(sample_key(s))]
    assert len(overlapping) == len(test)


def test_orz_math_reads_orz_dialogue_files(tmp_path):
    folder = tmp_path / "orz_math"
    folder.mkdir()
    dialogues = [
        [{"from": "human", "value": "What is $1+1$?"},
         {"from": "assistant", "ground_truth": {"value": "2", "pass_at_n": 0.5}}],
        [{"from": "human", "value": "no answer here"}],  # malformed: skipped, named
        [{"from": "human", "value": "Find $x$ if $2x=6$."},
         {"from": "assistant", "ground_truth": {"value": "3"}}],
    ]
    (folder / "orz_math_57k_collected.json").write_text(json.dumps(dialogues))
    [task] = resolve(["orz_math"])
    samples, skipped = load_samples(task, "train", tmp_path, None)
    assert [(s.id, s.question, s.answer) for s in samples] == [
        ("orz-0", "What is $1+1$?", "2"), ("orz-2", "Find $x$ if $2x=6$.", "3")]
    assert len(skipped) == 1 and task.revision and len(task.revision) == 40


def test_mmk12_reads_the_hub_parquet_schema(tmp_path):
    import datasets
    from PIL import Image

    rows = [
        {"id": "k-1", "subject": "math", "image": Image.new("RGB", (40, 30), "white"),
         "question": "<image>In the figure, find the area of the square.", "answer": "16"},
        {"id": "k-2", "subject": "physics", "image": Image.new("RGB", (40, 30), "black"),
         "question": "Which is larger?\nA. 3\nB. 5\nC. 4\nD. 1", "answer": "b"},
        {"id": "k-3", "subject": "math", "image": Image.new("RGB", (40, 30), "white"),
         "question": "Which are even?\nA. 3\nB. 2\nC. 4\nD. 1", "answer": "BC"},
    ]
    features = datasets.Features({"id": datasets.Value("string"),
                                  "subject": datasets.Value("string"),
                                  "image": datasets.Image(), "question": datasets.Value("string"),
                                  "answer": datasets.Value("string")})
    (tmp_path / "mmk12").mkdir()
    datasets.Dataset.from_list(rows, features=features).to_parquet(
        str(tmp_path / "mmk12" / "train-00000-of-00001.parquet"))
    [task] = resolve(["mmk12"])
    free, choice, letters = load_samples(task, "train", tmp_path, None)[0]
    assert free.question == "In the figure, find the area of the square."
    assert free.answer_type == "free_form" and free.choices is None and len(free.images) == 1
    assert choice.answer_type == "multiple_choice" and choice.answer == "B"
    assert choice.choices == ["3", "5", "4", "1"]
    assert choice.images[0].open().size == (40, 30)
    # a gold naming two options is no single letter: graded as the free-form text it is
    assert letters.answer_type == "free_form" and letters.answer == "BC"


def test_the_7b_recipes_train_on_training_sets_at_pinned_revisions():
    rl = load_recipe("ovr-7b-rl")
    assert not set(rl.rl.tasks) & set(rl.eval.tasks)
    for task in resolve(rl.rl.tasks):
        assert task.revision and len(task.revision) == 40, task.name
    cold = load_recipe("ovr-7b-coldstart")
    assert cold.sft.data_revision and len(cold.sft.data_revision) == 40
    text = (REPO / "trainer" / "recipes" / "ovr-7b-rl.yaml").read_text()
    assert text.count("[assumption]") >= 5 and "[paper]" in text


def test_token_budget_batches_follow_the_packed_reading():
    lengths = [100, 900, 450, 30, 700, 250, 640, 80, 1000, 333] * 5
    plan = batch_plan(lengths, batch_size=4, epochs=2, seed=1, batch_tokens=2000)
    for batch in plan:
        assert len(batch) == 1 or len(batch) * max(lengths[i] for i in batch) <= 2000
    first_epoch = sorted(i for b in plan[: len(plan) // 2] for i in b)
    assert sorted(i for b in plan for i in b) == sorted(list(range(len(lengths))) * 2)
    assert len(first_epoch) > 0


def test_the_hub_is_not_announced_when_ovr_data_dir_holds_the_data(tmp_path, monkeypatch):
    monkeypatch.delenv("OVR_DATA_DIR", raising=False)
    assert "from the network: math500 (" in hub_note(["math500"], None, "the RL prompts")
    monkeypatch.setenv("OVR_DATA_DIR", str(tmp_path))  # Task.samples reads it too
    assert hub_note(["math500"], None, "the RL prompts") is None


@pytest.mark.slow
def test_recipes_resolve_outside_the_repository_and_the_hub_is_announced(tmp_path):
    result = ovr("train", "export-verl", "--config", "trainer/recipes/ovr-7b-rl.yaml",
                 "--out", str(tmp_path / "export"), cwd=tmp_path, HF_HUB_OFFLINE="1",
                 HF_DATASETS_OFFLINE="1")
    said = " ".join(result.stderr.split())
    assert result.returncode == 2 and "Traceback" not in result.stderr
    announced = said.index("reading the validation prompts (eval.tasks) from the network: "
                           "math500 (HuggingFaceH4/MATH-500@")
    assert said.index("error: offline (HF_HUB_OFFLINE=1) and HuggingFaceH4/MATH-500, split "
                      "test is not in the local hub cache") > announced
    missing = ovr("train", "--config", "no-such-recipe.yaml", "--out", str(tmp_path / "x"),
                  cwd=tmp_path)
    assert missing.returncode == 2
    assert "packaged recipes: ovr-7b-coldstart, ovr-7b-rl, tiny" in " ".join(missing.stderr.split())
