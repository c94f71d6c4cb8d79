"""Provenance: which data and which version of a task a run scored. config.json records them,
a resumed run must read the same data, and ``ovr compare`` warns when two runs differ."""

from __future__ import annotations

import json
import shutil

import pytest

from ovr_eval.compare import compare_runs
from ovr_eval.run_config import RunConfig
from ovr_eval.runs import load_run
from ovr_eval.task_registry import resolve


@pytest.fixture
def math500_data(tmp_path, shared_data):
    """A private copy of the MATH500 release to edit."""
    root = tmp_path / "data"
    shutil.copytree(shared_data / "math500", root / "math500")
    return root


def test_local_data_is_fingerprinted_by_content(math500_data, tmp_path):
    (task,) = resolve("math500")
    first = task.data_fingerprint("test", math500_data)
    assert first["kind"] == "local" and first["id"].startswith("sha256:") and first["files"]
    moved = tmp_path / "elsewhere"
    shutil.copytree(math500_data, moved)  # the same files elsewhere: the same data
    assert task.data_fingerprint("test", moved)["id"] == first["id"]
    with (moved / "math500" / "test.jsonl").open("a") as handle:
        handle.write("\n")  # one byte more
    assert task.data_fingerprint("test", moved)["id"] != first["id"]


def test_hub_data_is_its_commit_and_unknown_offline(monkeypatch, tmp_path):
    import huggingface_hub.constants as hub

    (math500,) = resolve("math500")  # pinned to a commit: known without asking anyone
    pinned = math500.data_fingerprint("test", None)
    assert pinned["commit"] == math500.revision and pinned["resolved_by"] == "given"
    monkeypatch.setattr(hub, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(hub, "HF_HUB_CACHE", str(tmp_path))  # never downloaded
    monkeypatch.delenv("OVR_DATA_DIR", raising=False)
    (head,) = resolve("mathvision")  # read at the hub's head: resolved when it can be
    assert head.revision is None and head.data_fingerprint("test", None)["id"] is None
    ref = tmp_path / "datasets--MathLLMs--MathVision" / "refs" / "main"
    ref.parent.mkdir(parents=True)
    ref.write_text("a" * 40)
    assert head.data_fingerprint("test", None)["id"] == f"hub:{head.hub_id}@{'a' * 40}"


def config(data_id: str | None, version: int = 1) -> RunConfig:
    return RunConfig(model="m", tasks=["math500"], task_versions={"math500": version},
                     data={"math500": {"kind": "local", "id": data_id, "files": 1, "path": "/d"}})


def test_a_resumed_run_must_read_the_same_data_and_task_version():
    old = config("sha256:" + "a" * 64)
    assert old.differences(config("sha256:" + "a" * 64)) == []
    assert old.differences(config(None)) == []  # unknown now: not a difference
    (change,) = old.differences(config("sha256:" + "b" * 64))
    assert change.startswith("data.math500: sha256:aaaa") and "→ sha256:bbbb" in change
    assert old.differences(config("sha256:" + "a" * 64, version=2)) == [
        "task_versions.math500: 1 → 2"]
    older = RunConfig(model="m", tasks=["math500"])  # made before provenance was recorded
    assert older.differences(config("sha256:" + "a" * 64)) == []
    merged = old.merged(config(None))
    assert (merged.data["math500"] or {})["id"] == "sha256:" + "a" * 64  # what was known stays


def run_folder(root, config: RunConfig | dict):
    from test_compare import items, make_run

    run = make_run(root, "m", {"math500": items(3, 6)})
    saved = json.loads((run / "config.json").read_text())
    (run / "config.json").write_text(json.dumps(
        {**saved, **(config.to_json() if isinstance(config, RunConfig) else config)}))
    return load_run(run)


def test_compare_warns_when_runs_read_other_data_or_task_versions(tmp_path):
    a = run_folder(tmp_path / "a", config("sha256:" + "a" * 64))
    same = run_folder(tmp_path / "b", config("sha256:" + "a" * 64))
    [row] = compare_runs(a, same)
    assert row.warnings == []
    other = run_folder(tmp_path / "c", config("sha256:" + "b" * 64, version=2))
    [row] = compare_runs(a, other)
    assert "task versions differ: 1 vs 2 (its prompt, parsing or metric changed in between)" \
        in row.warnings
    assert any(w.startswith("data differ: sha256:aaaa") for w in row.warnings)
    older = run_folder(tmp_path / "d", {})  # no provenance recorded: nothing to warn about
    [row] = compare_runs(a, older)
    assert row.warnings == []


def hub_data(task: str, revision: str, commit: str | None) -> dict:
    return {"model": "m", "tasks": [task], "task_versions": {task: 1},
            "data": {task: {"kind": "hub", "id": f"hub:x/y@{commit}" if commit else None,
                            "repo": "x/y", "revision": revision, "commit": commit,
                            "resolved_by": "hub" if commit else None}}}


def test_unpinned_hub_data_is_shown_beside_the_score(tmp_path, monkeypatch):
    from rich.console import Console

    from ovr_eval.compare import compare_to_reference, reference_table, runs_table
    from ovr_eval.report import write_report

    monkeypatch.setenv("OVR_KATEX_DIR", str(tmp_path / "no-katex-here"))

    head = run_folder(tmp_path / "a", hub_data("math500", "main", "abc1234" + "0" * 33))
    unknown = run_folder(tmp_path / "b", hub_data("math500", "main", None))
    pinned = run_folder(tmp_path / "c", hub_data("math500", "d" * 40, "d" * 40))
    [row] = compare_runs(head, unknown)
    assert row.data_a == "data: hub head abc1234 (unpinned)"
    assert row.data_b == "data: hub head, commit unknown (unpinned)"
    [row_pinned] = compare_runs(pinned, pinned)
    assert row_pinned.data_a is None and row_pinned.data_b is None
    console = Console(width=400, record=True)
    console.print(runs_table([row]))
    assert "A data: hub head abc1234 (unpinned)" in console.export_text()
    [ref] = compare_to_reference(head, "OVR-7B-RL")
    assert ref.data == "data: hub head abc1234 (unpinned)"
    console.print(reference_table([ref]))
    assert "data: hub head abc1234 (unpinned)" in console.export_text()

    out = tmp_path / "report.html"
    write_report([head.path, pinned.path], out, reference_models=["none"])
    page = out.read_text()
    assert page.count("data: hub head abc1234 (unpinned)") >= 1
    assert "data: hub head d" not in page
