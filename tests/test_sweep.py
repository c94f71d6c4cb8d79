"""Sweeps: many checkpoints on one engine (``ovr eval --model A,B``, ``ovr sweep RUN``)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import kill_9_when_saved
from ovr_eval.sweep import architecture, architecture_changes, checkpoint_list
from ovr_eval.types import UserError

OVR = [sys.executable, "-m", "ovr_eval.cli"]


def ovr(*args: str, timeout: int = 600) -> subprocess.CompletedProcess:
    return subprocess.run([*OVR, *args], capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, "COLUMNS": "160"})


def _fake_checkpoint(folder: Path, hidden: int = 128) -> Path:
    folder.mkdir(parents=True)
    (folder / "config.json").write_text(json.dumps({
        "_name_or_path": str(folder), "model_type": "qwen2_5_vl",
        "text_config": {"hidden_size": hidden, "num_hidden_layers": 2}}))
    return folder


def test_checkpoint_list_reads_runs_globs_and_lists(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    root = tmp_path / "run" / "checkpoints"
    for name in ("step-10", "step-2", "step-100"):
        _fake_checkpoint(root / name)
    (root / "step-200.tmp").mkdir()  # unfinished: no config.json
    steps = ["step-2", "step-10", "step-100"]
    assert [p.name for p in checkpoint_list("run") or []] == steps
    assert [p.name for p in checkpoint_list("run/checkpoints/step-*") or []] == steps
    given = checkpoint_list("run/checkpoints/step-100, run/checkpoints/step-2")
    assert [p.name for p in given or []] == ["step-100", "step-2"]
    assert checkpoint_list("run/checkpoints/step-2") is None  # one model: no sweep
    assert checkpoint_list("Qwen/Qwen2.5-VL-7B-Instruct") is None
    with pytest.raises(UserError, match="matches no checkpoint folder"):
        checkpoint_list("run/checkpoints/nope-*")
    _fake_checkpoint(tmp_path / "other" / "step-2")
    with pytest.raises(UserError, match="two checkpoints are named step-2"):
        checkpoint_list("run/checkpoints/step-2,other/step-2")


def test_architecture_ignores_paths_and_names_changes(tmp_path):
    a = architecture(_fake_checkpoint(tmp_path / "a"))
    assert a == architecture(_fake_checkpoint(tmp_path / "b"))  # _name_or_path differs only
    c = architecture(_fake_checkpoint(tmp_path / "c", hidden=192))
    assert architecture_changes(a, c) == ["text_config.hidden_size: 128 → 192"]


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory) -> list[Path]:
    """A training run's folder: two tiny checkpoints of one architecture, one of another."""
    from ovr_eval.tiny import build_tiny_qwen2_5_vl

    root = tmp_path_factory.mktemp("train") / "checkpoints"
    return [build_tiny_qwen2_5_vl(root / f"step-{step}", seed=seed, hidden_size=hidden)
            for step, seed, hidden in ((1, 0, 128), (2, 1, 128), (3, 2, 192))]


def _args(shared_data: Path, engine: str = "hf") -> list[str]:
    return ["--tasks", "math500,mathvision", "--data-dir", str(shared_data), "--split",
            "mathvision=testmini", "--limit", "4", "--max-tokens", "24", "--engine", engine,
            "--batch-size", "1", "--dtype", "float32"]


def _responses(folder: Path) -> dict[str, dict[str, list[str]]]:
    out = {}
    for task in ("math500", "mathvision"):
        rows = map(json.loads, (folder / "samples" / f"{task}.jsonl").read_text().splitlines())
        out[task] = {r["id"]: r["responses"] for r in rows}
    return out


def _config(folder: Path) -> dict:
    return json.loads((folder / "config.json").read_text())


@pytest.fixture(scope="module")
def separate(tmp_path_factory, checkpoints, shared_data) -> Path:
    """``ovr eval`` of the second checkpoint on its own."""
    out = tmp_path_factory.mktemp("separate") / "step-2"
    result = ovr("eval", "--model", str(checkpoints[1]), *_args(shared_data), "--out", str(out))
    assert result.returncode == 0, result.stderr[-3000:]
    return out


@pytest.mark.slow
def test_sweep_matches_separate_runs_and_starts_one_engine_per_architecture(
        tmp_path, checkpoints, separate, shared_data):
    run = checkpoints[0].parent.parent
    out = tmp_path / "sweep"
    result = ovr("sweep", str(run), *_args(shared_data), "--out", str(out))
    assert result.returncode == 0, result.stderr[-3000:]
    assert [p.name for p in sorted(out.iterdir())] == ["step-1", "step-2", "step-3", "sweep.json"]
    assert _responses(out / "step-2") == _responses(separate)  # pushed = loaded on its own
    loaded = [_config(out / f"step-{i}")["engine_info"]["sweep"]["loaded_by"] for i in (1, 2, 3)]
    assert loaded == ["engine start", "push", "engine start"]
    lines = [x for x in result.stdout.splitlines() if "architecture differs" in x]
    assert len(lines) == 1 and lines[0].startswith("step-3: architecture differs from step-2 ("
                                                   "text_config.hidden_size: 128 → 192")
    weights = [_config(out / f"step-{i}")["weights"]["id"] for i in (1, 2, 3)]
    assert len(set(weights)) == 3 and weights[1] == _config(separate)["weights"]["id"]
    summary = json.loads((out / "sweep.json").read_text())
    assert summary["complete"] and [c["step"] for c in summary["checkpoints"]] == [1, 2, 3]
    compared = ovr("compare", str(out), "--json")  # the curve, each step against the last
    assert compared.returncode == 0, compared.stderr[-3000:]
    curve = json.loads(compared.stdout)
    assert [Path(c["run"]).name for c in curve["curve"]] == ["step-1", "step-2", "step-3"]
    assert list(curve["steps"]) == ["step-2 - step-1", "step-3 - step-2"]
    assert {r["method"] for rows in curve["steps"].values() for r in rows} == {"paired"}


@pytest.mark.slow
def test_sweep_resumes_after_kill_9_mid_checkpoint(tmp_path, checkpoints, separate,
                                                   shared_data):
    out = tmp_path / "sweep"
    args = ["eval", "--model", f"{checkpoints[0]},{checkpoints[1]}", *_args(shared_data),
            "--out", str(out)]
    process = subprocess.Popen([*OVR, *args], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    partial = kill_9_when_saved(process, out / "step-2" / "samples" / "math500.jsonl", 1)
    assert 1 <= len(partial) < 4, "the sweep was not interrupted inside step-2"
    first = (out / "step-1" / "samples" / "math500.jsonl").stat().st_mtime_ns

    resumed = ovr(*args)  # the killed process's lock went with it
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "resuming the run in" in resumed.stdout
    assert (out / "step-1" / "samples" / "math500.jsonl").stat().st_mtime_ns == first
    # step-1 was complete: the resumed sweep starts its engine on step-2, loading nothing else
    assert _config(out / "step-2")["engine_info"]["sweep"]["loaded_by"] == "engine start"
    assert _responses(out / "step-2") == _responses(separate)
    assert json.loads((out / "sweep.json").read_text())["complete"]


def test_sweep_mistakes_are_one_line(tmp_path, checkpoints, shared_data):
    result = ovr("eval", "--model", f"{checkpoints[0]},{tmp_path / 'missing'}",
                 *_args(shared_data), "--out", str(tmp_path / "s"))
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0 and "does not exist" in result.stderr
    assert not (tmp_path / "s").exists()  # every checkpoint is checked before any work


@pytest.mark.slow
@pytest.mark.vllm
def test_vllm_sweep_pushes_checked_weights(tmp_path, checkpoints, shared_data):
    args = [*_args(shared_data, "vllm"), "--limit", "2", "--max-tokens", "12"]
    alone = tmp_path / "alone"
    result = ovr("eval", "--model", str(checkpoints[1]), *args, "--out", str(alone))
    assert result.returncode == 0, result.stderr[-3000:]
    out = tmp_path / "sweep"
    result = ovr("eval", "--model", f"{checkpoints[0]},{checkpoints[1]}", *args,
                 "--out", str(out))
    assert result.returncode == 0, result.stderr[-3000:]
    pushed = _config(out / "step-2")["engine_info"]["sweep"]
    assert pushed["loaded_by"] == "push" and pushed["logprob_gap"] < 1e-3  # float32
    assert _responses(out / "step-2") == _responses(alone)


@pytest.mark.slow
def test_sweep_forwards_its_options_to_eval(tmp_path, checkpoints, shared_data):
    # `ovr sweep` is `ovr eval` with its checkpoints as --model: each option it takes reaches
    # every checkpoint's run (as its config.json records it); those it lacks keep eval's
    # defaults
    a, b = checkpoints[:2]
    out = tmp_path / "out"
    result = ovr("sweep", f"{a},{b}", "--tasks", "math500", "--out", str(out), "--engine", "hf",
                 "--limit", "2", "--samples", "2", "--temperature", "1", "--max-tokens", "7",
                 "--seed", "3", "--prompt", "plain", "--split", "math500=test", "--data-dir",
                 str(shared_data), "--dtype", "float32", "--batch-size", "4",
                 "--deterministic")
    assert result.returncode == 0, result.stderr[-3000:]
    for step in ("step-1", "step-2"):
        config = _config(out / step)
        assert (config["model"], config["tasks"], config["engine"], config["limit"]) == (
            str(a if step == "step-1" else b), ["math500"], "hf", 2)
        sampling = config["sampling"]
        assert (sampling["n"], sampling["temperature"], sampling["max_tokens"],
                sampling["seed"]) == (2, 1.0, 7, 3)
        assert sampling["top_p"] == 1.0 and "preset" not in config  # eval's defaults
        assert config["prompt"] == {"math500": "plain"} and config["splits"] == {
            "math500": "test"}
        options = config["engine_options"]
        assert (options["dtype"], options["batch_size"], options["deterministic"]) == (
            "float32", 4, True)
        assert config["judge"] is None
        records = (out / step / "samples" / "math500.jsonl").read_text().splitlines()
        assert len(records) == 2
        assert all(len(json.loads(r)["math_verify"]) == 2 for r in records)  # eval's default
