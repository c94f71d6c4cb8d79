"""Task plugins read the real benchmark files and report unusable rows instead of crashing."""

from __future__ import annotations

import json
import shutil
from collections import Counter

import pytest

from ovr_eval.engines.images import load_image
from ovr_eval.evaluate import load_samples
from ovr_eval.task_registry import discover, resolve
from ovr_eval.tasks import LazyImage
from ovr_eval.types import BadRow, UserError


def test_builtin_tasks_are_discovered():
    assert {"math500", "mathvision", "mathverse"} <= set(discover())


def test_unknown_task_names_the_task_and_the_choices():
    with pytest.raises(UserError, match=r"unknown task\(s\): nope.*math500"):
        resolve("math500,nope")


def test_math500_loads_all_500_rows(shared_data):
    (task,) = resolve("math500")
    samples, skipped = load_samples(task, "test", shared_data, None)
    assert len(samples) == 500 and not skipped
    first = samples[0]
    assert first.id == "test/precalculus/807.json"
    assert first.metadata["subject"] == "Precalculus" and first.metadata["level"] == 2
    assert first.answer == "\\left( 3, \\frac{\\pi}{2} \\right)"


@pytest.mark.parametrize("split,count", [("test", 3040), ("testmini", 304)])
def test_mathvision_splits_have_an_image_per_item(shared_data, split, count):
    (task,) = resolve("mathvision")
    samples, skipped = load_samples(task, split, shared_data, None)
    assert len(samples) == count and not skipped
    assert all(len(s.images) == 1 and s.images[0].is_file() for s in samples)
    kinds = Counter(s.answer_type for s in samples)
    assert kinds["multiple_choice"] > 0 and kinds["free_form"] > 0
    mc = next(s for s in samples if s.answer_type == "multiple_choice")
    assert mc.choices and mc.answer in "ABCDE" and "Choices" in mc.question
    assert "<image" not in mc.question


def test_mathverse_text_only_split(shared_data):
    (task,) = resolve("mathverse")
    samples, skipped = load_samples(task, "testmini_text_only", shared_data, None)
    assert len(samples) == 788 and not skipped
    assert {s.metadata["problem_version"] for s in samples} == {"Text Only"}
    mc = next(s for s in samples if s.answer_type == "multiple_choice")
    assert mc.choices and len(mc.choices) >= 2  # parsed from the inline "Choices:" block


def test_mathverse_hub_format_has_five_versions_with_images(mathverse_hub_fixture):
    (task,) = resolve("mathverse")
    samples, skipped = load_samples(task, "testmini", mathverse_hub_fixture, None)
    assert len(samples) == 10 and not skipped
    versions = Counter(s.metadata["problem_version"] for s in samples)
    assert set(versions) == {"Text Dominant", "Text Lite", "Vision Intensive",
                             "Vision Dominant", "Vision Only"}
    assert all(len(s.images) == 1 for s in samples)
    # hub images stay undecoded in the memory-mapped table until an engine opens them
    assert all(isinstance(s.images[0], LazyImage) for s in samples)
    assert load_image(samples[0].images[0]).mode == "RGB"
    vision_only = next(s for s in samples if s.metadata["problem_version"] == "Vision Only")
    assert vision_only.question  # never an empty prompt


def test_bad_rows_are_skipped_and_named(tmp_path, shared_data):
    folder = tmp_path / "mathvision"
    (folder / "images").mkdir(parents=True)
    rows = [json.loads(line) for line in
            (shared_data / "mathvision" / "testmini.jsonl").read_text().splitlines()[:3]]
    shutil.copy(shared_data / "mathvision" / rows[0]["image"], folder / rows[0]["image"])
    rows[1]["image"] = "images/missing.jpg"
    shutil.copy(shared_data / "mathvision" / rows[2]["image"], folder / rows[2]["image"])
    rows[2]["answer"] = ""
    (folder / "testmini.jsonl").write_text("\n".join(json.dumps(r) for r in rows))
    (task,) = resolve("mathvision")
    items = list(task.samples("testmini", tmp_path))
    bad = [i for i in items if isinstance(i, BadRow)]
    assert len(items) == 3 and len(bad) == 2
    assert "image file not found" in bad[0].reason and bad[1].reason == "no gold answer"


def test_data_dir_without_the_split_is_a_clear_error(tmp_path):
    (tmp_path / "math500").mkdir()
    (task,) = resolve("math500")
    with pytest.raises(UserError, match="no math500 split 'test' under"):
        list(task.samples("test", tmp_path))


def test_unknown_split_lists_the_splits():
    (task,) = resolve("mathvision")
    with pytest.raises(UserError, match="choose one of: test, testmini"):
        list(task.samples("validation"))


def test_task_plugins_from_a_user_folder(tmp_path, shared_data):
    (tmp_path / "tiny_math.py").write_text(
        "from ovr_tasks.math500 import Math500\n"
        "TASK = Math500(name='tiny_math', description='d', hub_id='x/y', revision=None,\n"
        "               default_split='test', splits=('test',))\n"
    )
    (task,) = resolve("tiny_math", [tmp_path])
    (tmp_path / "data" / "tiny_math").mkdir(parents=True)
    shutil.copy(shared_data / "math500" / "test.jsonl", tmp_path / "data" / "tiny_math")
    samples, _ = load_samples(task, "test", tmp_path / "data", 5)
    assert len(samples) == 5 and samples[0].task == "tiny_math"


def test_hub_loading_failure_tells_the_user_what_to_do(monkeypatch):
    import datasets
    import huggingface_hub

    monkeypatch.setattr(datasets.config, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    monkeypatch.delenv("OVR_DATA_DIR", raising=False)
    (task,) = resolve("math500")
    with pytest.raises(UserError, match="--data-dir"):
        list(task.samples("test"))


def _mathvision_row(sample_id, answer, image):
    return {"id": sample_id, "question": "Which? <image1>", "options": list("ABCDE"),
            "answer": answer, "level": 1, "subject": "arithmetic", "image": image}


def test_mathvision_errata_give_the_hub_and_local_files_the_same_golds(tmp_path, monkeypatch):
    """The hub corrected ids 338 (B -> D) and 1826 (D -> E); the release files did not."""
    import datasets
    from PIL import Image

    folder = tmp_path / "mathvision"
    (folder / "images").mkdir(parents=True)
    Image.new("RGB", (4, 4)).save(folder / "images" / "x.jpg")
    old = [_mathvision_row(i, gold, "images/x.jpg") for i, gold in
           (("338", "B"), ("1826", "D"), ("7", "C"))]
    (folder / "test.jsonl").write_text("\n".join(json.dumps(r) for r in old))
    (task,) = resolve("mathvision")
    local = {s.id: s.answer for s in task.samples("test", tmp_path)}

    picture = Image.new("RGB", (4, 4))
    for golds in ({"338": "B", "1826": "D"}, {"338": "D", "1826": "E"}):  # before / after the fix
        hub = [{**_mathvision_row(i, golds.get(i, "C"), None), "decoded_image": picture}
               for i in ("338", "1826", "7")]
        monkeypatch.setattr(datasets, "load_dataset", lambda *a, rows=hub, **k: rows)
        monkeypatch.delenv("OVR_DATA_DIR", raising=False)
        assert {s.id: s.answer for s in task.samples("test")} == local
    assert local == {"338": "D", "1826": "E", "7": "C"}
    assert task.version >= 2


def _hub_refusal(status, wrapped):
    """The errors a gated dataset raises: huggingface_hub's GatedRepoError (a 401 without a
    token, 403 with one whose account has not accepted the terms), which ``datasets`` wraps."""
    import httpx2
    from datasets.exceptions import DatasetNotFoundError
    from huggingface_hub.errors import GatedRepoError, HfHubHTTPError

    url = "https://huggingface.co/api/datasets/Idavidrein/gpqa/revision/633f5ee8"
    response = httpx2.Response(status, request=httpx2.Request("GET", url))
    if wrapped is None:
        return HfHubHTTPError(f"{status} Client Error", response=response)
    gated = GatedRepoError(f"{status} Client Error. Cannot access gated repo", response=response)
    if not wrapped:
        return gated
    try:
        raise DatasetNotFoundError("Dataset 'Idavidrein/gpqa' is a gated dataset on the Hub.")\
            from gated
    except DatasetNotFoundError as exc:
        return exc


@pytest.mark.parametrize("status,wrapped", [(401, True), (403, True), (403, False),
                                            (401, None)])
def test_a_gated_dataset_names_the_fix_before_any_engine_starts(monkeypatch, tmp_path, status,
                                                                 wrapped):
    import datasets

    import ovr_eval.evaluate as evaluate
    import ovr_eval.hub as hub

    def refuse(path, *args, **kwargs):
        raise _hub_refusal(status, wrapped)

    def no_engine(*args, **kwargs):
        raise AssertionError("an engine was started")

    monkeypatch.setattr(datasets, "load_dataset", refuse)
    monkeypatch.setattr(evaluate, "create_engine", no_engine)
    monkeypatch.setattr(hub, "offline_reason", lambda: None)  # as if online
    monkeypatch.delenv("OVR_DATA_DIR", raising=False)
    monkeypatch.delenv("HF_TOKEN", raising=False)
    run = evaluate.Evaluation(evaluate.EvalOptions(model="org/m", tasks=["gpqa_diamond"],
                                                   engine="hf", out=tmp_path / "run"))
    with pytest.raises(UserError) as raised:
        run.run()
    said = str(raised.value)
    assert "\n" not in said and "Offline?" not in said
    assert said.startswith(f"Idavidrein/gpqa is gated on the Hugging Face hub (HTTP {status}")
    assert "accept its terms on https://huggingface.co/datasets/Idavidrein/gpqa" in said
    assert "set HF_TOKEN" in said and "no HF_TOKEN is set" in said


def test_a_gated_dataset_with_a_token_says_the_account_lacks_access(monkeypatch):
    from ovr_eval.hub import Gated, access_denied

    monkeypatch.setenv("HF_TOKEN", "hf_x")
    assert access_denied(_hub_refusal(403, True)) == 403
    assert access_denied(ValueError("gated")) is None
    assert "HF_TOKEN is set, but its account has no access" in str(Gated("a/b", 403))


def _hub_repo(root, configs):
    """A folder laid out as a hub dataset repository: ``{config: {split: rows | None}}`` as
    ``<config>/<split>-00000-of-00001.parquet`` (None: a file that is not parquet, so reading
    it fails) and the README's ``configs`` that name every split."""
    import pandas as pd

    card = ["---", "configs:"]
    for config, splits in configs.items():
        folder = config if config != "default" else "data"
        (root / folder).mkdir(parents=True, exist_ok=True)
        card += [f"- config_name: {config}", "  data_files:"]
        for split, rows in splits.items():
            path = root / folder / f"{split}-00000-of-00001.parquet"
            if rows is None:
                path.write_bytes(b"not a parquet file: a split the run must not read")
            else:
                pd.DataFrame(rows).to_parquet(path)
            card += [f"  - split: {split}", f"    path: {folder}/{split}-*"]
    (root / "README.md").write_text("\n".join([*card, "---", ""]))
    return root


@pytest.mark.parametrize("name,config,split,others", [
    ("mmlu", "all", "test", ("validation", "dev", "auxiliary_train")),
    ("mmmu", "Accounting", "validation", ("dev", "test")),
    ("mmlu_pro", "default", "test", ("validation",)),
    ("mathvista", "default", "testmini", ("test",)),
])
def test_hub_loading_reads_only_the_runs_split(tmp_path, monkeypatch, name, config, split,
                                               others):
    """The hub's parquet layout: only the split the run reads is downloaded and read."""
    from dataclasses import replace

    import datasets

    import ovr_eval.hub as hub
    from ovr_eval.tasks import Task

    monkeypatch.setattr(hub, "offline_reason", lambda: None)
    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", str(tmp_path / "cache"))
    wanted = [{"id": f"{split}-{i}", "text": "x"} for i in range(3)]
    repo = _hub_repo(tmp_path / "repo", {config: {split: wanted, **dict.fromkeys(others)}})
    (task,) = resolve(name)
    assert task.hub_files is not None
    here = replace(task, hub_id=str(repo), revision=None,
                   hub_config=None if config == "default" else config)
    rows = Task.hub_rows(here, split)
    assert [row["id"] for row in rows] == [r["id"] for r in wanted]


def test_hub_loading_falls_back_to_the_whole_config_when_the_layout_changed(tmp_path,
                                                                            monkeypatch):
    from dataclasses import replace

    import datasets

    import ovr_eval.hub as hub

    monkeypatch.setattr(hub, "offline_reason", lambda: None)
    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", str(tmp_path / "cache"))
    repo = _hub_repo(tmp_path / "repo", {"all": {"test": [{"id": "a"}], "dev": [{"id": "b"}]}})
    (task,) = resolve("mmlu")
    moved = replace(task, hub_id=str(repo), revision=None, hub_files="{config}/x/{split}.parquet")
    assert [row["id"] for row in moved.hub_rows("test")] == ["a"]


PLUGIN_WITH_ITS_OWN_METRIC = """
from ovr_tasks.math500 import Math500


class Strict(Math500):
    def score(self, records):
        scores = super().score(records)
        return {**scores, "score": 0.25}  # this plugin's metric, unlike plain accuracy


TASK = Strict(name="strict_math", description="d", hub_id="x/y", revision=None,
              default_split="test", splits=("test",))
"""


def test_two_plugins_defining_one_task_name_are_refused_naming_both_files(tmp_path):
    for folder in ("a", "b"):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "mine.py").write_text(PLUGIN_WITH_ITS_OWN_METRIC)
    with pytest.raises(UserError) as error:
        resolve("strict_math", [tmp_path / "a", tmp_path / "b"])
    said = str(error.value)
    assert "'strict_math' is defined twice" in said
    assert str(tmp_path / "a" / "mine.py") in said and str(tmp_path / "b" / "mine.py") in said


def test_a_plugin_folder_is_loaded_once_per_process(tmp_path):
    (tmp_path / "counted.py").write_text(
        f"open({str(tmp_path / 'loads.txt')!r}, 'a').write('x')\n" + PLUGIN_WITH_ITS_OWN_METRIC)
    for _ in range(3):
        resolve("strict_math", [tmp_path])
        discover([tmp_path])
    assert (tmp_path / "loads.txt").read_text() == "x"


def test_a_saved_run_is_rescored_with_its_plugin_tasks_metric(tmp_path, shared_data):
    # ovr compare / ovr report read an unfinished run by scoring its records: a --task-dir
    # plugin's own metric applies there as in `ovr eval`, found through config.json
    from ovr_eval.evaluate import make_record
    from ovr_eval.run_config import RunConfig
    from ovr_eval.runs import RunDir, load_run
    from ovr_eval.types import Completion

    plugins = tmp_path / "plugins"
    plugins.mkdir()
    (plugins / "strict.py").write_text(PLUGIN_WITH_ITS_OWN_METRIC)
    (task,) = resolve("strict_math", [plugins])
    (tmp_path / "data" / "strict_math").mkdir(parents=True)
    shutil.copy(shared_data / "math500" / "test.jsonl", tmp_path / "data" / "strict_math")
    samples, _ = load_samples(task, "test", tmp_path / "data", 4)
    run = RunDir(tmp_path / "run")
    run.samples_dir.mkdir(parents=True)
    run.write_config(RunConfig(model="m", tasks=["strict_math"], task_dirs=[str(plugins)]))
    run.rewrite_records("strict_math", [
        make_record(s, "test", Completion(s.id, [f"\\boxed{{{s.answer}}}"]), 2.0)
        for s in samples])
    scored = load_run(tmp_path / "run").tasks["strict_math"]
    assert scored.n == 4 and scored.score == 0.25


@pytest.mark.parametrize("source,said", [
    ("X = 1\n", "defines no TASK, TASKS or SUITES"),
    ("from ovr_eval.tasks import Task\nclass Mine(Task):\n    pass\nTASK = Mine\n",
     "not the class Mine (e.g. TASK = MyTask(name=..., ...))"),
    ("TASKS = ['math500']\n", "not str"),
])
def test_a_plugin_file_that_defines_no_task_is_one_line_naming_it(tmp_path, source, said):
    # a file in --task-dir is a plugin: one that gives no task is a mistake, said at once
    (tmp_path / "mine.py").write_text(source)
    (tmp_path / "_helper.py").write_text("X = 1\n")  # a helper by its name: not loaded
    with pytest.raises(UserError) as error:
        discover([tmp_path])
    assert str(tmp_path / "mine.py") in str(error.value) and said in str(error.value)
