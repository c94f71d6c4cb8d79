"""``ovr eval`` end to end, as a user runs it: files written, errors, kill -9 and resume."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import kill_9_when_saved

REPO = Path(__file__).resolve().parents[1]
OVR = [sys.executable, "-m", "ovr_eval.cli"]


def ovr(*args: str, cwd: Path | None = None, timeout: int = 600) -> subprocess.CompletedProcess:
    env = {**os.environ, "COLUMNS": "160"}
    return subprocess.run([*OVR, *args], capture_output=True, text=True, cwd=cwd,
                          timeout=timeout, env=env)


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory, shared_data, mathverse_hub_fixture) -> Path:
    """MATH500 and MathVision from ../shared/data, MathVerse (5 versions) in hub format."""
    root = tmp_path_factory.mktemp("data")
    for name in ("math500", "mathvision"):
        (root / name).symlink_to(shared_data / name)
    (root / "mathverse").symlink_to(mathverse_hub_fixture / "mathverse")
    return root


@pytest.mark.vllm
@pytest.mark.slow
def test_eval_all_three_tasks_through_vllm(tmp_path, tiny_model, data_dir):
    out = tmp_path / "run"
    result = ovr("eval", "--model", str(tiny_model), "--tasks", "math500,mathvision,mathverse",
                 "--data-dir", str(data_dir), "--limit", "5", "--max-tokens", "16",
                 "--samples", "2", "--temperature", "1.0", "--dtype", "float32",
                 "--max-model-len", "2048", "--out", str(out))
    assert result.returncode == 0, result.stderr[-3000:]
    results = json.loads((out / "results.json").read_text())
    config = json.loads((out / "config.json").read_text())
    assert config["engine"] == "vllm" and config["sampling"]["n"] == 2
    assert config["engine_info"]["vllm_version"] and "transformers" in config["versions"]
    for task in ("math500", "mathvision", "mathverse"):
        scores = results["tasks"][task]
        # MathVerse's headline is the paper's Vision Only column: 1 of the 5 items served
        assert scores["n"] == (1 if task == "mathverse" else 5)
        assert scores["samples_per_item"] == 2 and scores["stderr_rerun"] is not None
        assert 0.0 <= scores["score"] <= 1.0
        assert "2" in scores["pass@k"]
        records = [json.loads(x) for x in (out / "samples" / f"{task}.jsonl").open()]
        assert len(records) == 5 and len({r["id"] for r in records}) == 5
        for record in records:
            assert len(record["responses"]) == 2 and len(record["correct"]) == 2
            assert record["prompt"] and record["completion_tokens"] == [16, 16]
            assert len(record["extracted"]) == 2
    assert "problem_version" in results["tasks"]["mathverse"]["subsets"]
    assert results["tasks"]["mathverse"]["all_versions"]["n"] == 5
    assert "accuracy" in result.stdout and "samples/s" in result.stdout


def _records(path: Path) -> dict[str, dict]:
    return {r["id"]: r for r in map(json.loads, path.read_text().splitlines())}


@pytest.mark.slow
def test_kill_9_then_resume_gives_the_same_results(tmp_path, tiny_model, shared_data):
    args = ["eval", "--model", str(tiny_model), "--tasks", "math500,mathvision",
            "--data-dir", str(shared_data), "--split", "mathvision=testmini", "--limit", "6",
            "--max-tokens", "24", "--engine", "hf", "--batch-size", "1", "--dtype", "float32"]
    reference = tmp_path / "reference"
    assert ovr(*args, "--out", str(reference)).returncode == 0

    out = tmp_path / "killed"
    process = subprocess.Popen([*OVR, *args, "--out", str(out)], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    partial = kill_9_when_saved(process, out / "samples" / "math500.jsonl", 2)
    assert 2 <= len(partial) < 6, "the run was not interrupted mid-task"

    resumed = ovr(*args, "--out", str(out))  # the killed process's lock went with it
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "resuming" in resumed.stdout
    for task in ("math500", "mathvision"):
        lines = (out / "samples" / f"{task}.jsonl").read_text().splitlines()
        ids = [json.loads(x)["id"] for x in lines]
        assert len(ids) == len(set(ids)) == 6  # no duplicates, nothing missing
        got, want = _records(out / "samples" / f"{task}.jsonl"), _records(
            reference / "samples" / f"{task}.jsonl")
        assert {k: v["responses"] for k, v in got.items()} == {
            k: v["responses"] for k, v in want.items()}
    got = json.loads((out / "results.json").read_text())
    want = json.loads((reference / "results.json").read_text())
    assert got["tasks"] == want["tasks"]
    # the kept records were not regenerated
    assert [json.loads(x)["id"] for x in partial] == ids_prefix(out, len(partial))


def ids_prefix(out: Path, n: int) -> list[str]:
    lines = (out / "samples" / "math500.jsonl").read_text().splitlines()[:n]
    return [json.loads(x)["id"] for x in lines]


@pytest.mark.slow
def test_resume_with_different_settings_is_refused(tmp_path, tiny_model, shared_data):
    out = tmp_path / "run"
    base = ["eval", "--model", str(tiny_model), "--tasks", "math500", "--data-dir",
            str(shared_data), "--limit", "1", "--max-tokens", "4", "--engine", "hf"]
    assert ovr(*base, "--out", str(out)).returncode == 0
    result = ovr(*base, "--temperature", "0.7", "--out", str(out))
    assert result.returncode == 2
    assert "other settings (sampling.temperature: 0.0 → 0.7)" in result.stderr


@pytest.mark.parametrize("args,message", [
    (["--tasks", "math500,nope"], "unknown task(s): nope"),
    (["--model", "/no/such/model"], "model path /no/such/model does not exist"),
    (["--engine", "openai", "--base-url", "http://127.0.0.1:9/v1", "--model", "m", "--tasks",
      "math500"], "cannot reach the server"),
    (["--split", "mathvision"], "expected TASK=SPLIT"),
    (["--prompt", "nope"], "unknown prompt"),
])
def test_user_mistakes_get_one_clear_line(tmp_path, args, message, shared_data):
    result = ovr("eval", "--data-dir", str(shared_data), "--out", str(tmp_path / "r"), *args)
    assert result.returncode == 2
    assert message in result.stderr and "Traceback" not in result.stderr


def test_unknown_dtype_is_refused_before_the_run_folder(tmp_path, tiny_model, shared_data):
    out = tmp_path / "r"
    result = ovr("eval", "--model", str(tiny_model), "--tasks", "math500", "--engine", "hf",
                 "--dtype", "bf16", "--data-dir", str(shared_data), "--out", str(out))
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.strip() == ("error: --dtype 'bf16' is not a weight dtype; choose one "
                                     "of: auto, bfloat16, float16, float32")
    assert not out.exists()


def test_demo_refuses_zero_max_tokens(tmp_path, tiny_model):
    cache = tmp_path / "cache" / "models"
    cache.mkdir(parents=True)
    (cache / "tiny-qwen2_5_vl").symlink_to(tiny_model)  # the demo's model, already built
    result = subprocess.run([*OVR, "eval", "--engine", "hf", "--max-tokens", "0"],
                            capture_output=True, text=True, cwd=tmp_path, timeout=600,
                            env={**os.environ, "OVR_CACHE_DIR": str(tmp_path / "cache"),
                                 "COLUMNS": "160"})
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.strip() == "error: --max-tokens must be 1 or more (got 0)"
    assert not (tmp_path / "runs").exists()


def test_data_dir_without_the_split(tmp_path, tiny_model):
    (tmp_path / "data" / "math500").mkdir(parents=True)
    result = ovr("eval", "--model", str(tiny_model), "--tasks", "math500", "--engine", "hf",
                 "--data-dir", str(tmp_path / "data"), "--out", str(tmp_path / "r"))
    assert result.returncode == 2 and "no math500 split 'test'" in result.stderr


@pytest.mark.vllm
@pytest.mark.slow
def test_no_arguments_runs_the_embedded_demo(tmp_path):
    env_cache = tmp_path / "cache"
    result = subprocess.run([*OVR, "eval"], capture_output=True, text=True, cwd=tmp_path,
                            timeout=600, env={**os.environ, "OVR_CACHE_DIR": str(env_cache),
                                              "COLUMNS": "160"})
    assert result.returncode == 0, result.stderr[-3000:]
    assert "random weights" in result.stdout
    results = json.loads((tmp_path / "runs" / "demo-tiny-qwen2_5_vl" / "results.json").read_text())
    assert set(results["tasks"]) == {"math500", "mathvision", "mathverse"}
    shutil.rmtree(env_cache)


@pytest.mark.slow
def test_data_parallel_replicas_give_the_same_records(tmp_path, tiny_model, shared_data):
    args = ["eval", "--model", str(tiny_model), "--tasks", "math500,mathvision",
            "--data-dir", str(shared_data), "--split", "mathvision=testmini", "--limit", "5",
            "--max-tokens", "12", "--engine", "hf", "--batch-size", "1", "--dtype", "float32"]
    single, parallel = tmp_path / "single", tmp_path / "parallel"
    assert ovr(*args, "--out", str(single)).returncode == 0
    result = ovr(*args, "--data-parallel", "2", "--out", str(parallel))
    assert result.returncode == 0, result.stderr[-3000:]
    for task in ("math500", "mathvision"):
        lines = (parallel / "samples" / f"{task}.jsonl").read_text().splitlines()
        assert len(lines) == 5  # every sample once, lines never interleaved
        got = _records(parallel / "samples" / f"{task}.jsonl")
        want = _records(single / "samples" / f"{task}.jsonl")
        assert {k: v["responses"] for k, v in got.items()} == {
            k: v["responses"] for k, v in want.items()}
    assert (json.loads((parallel / "results.json").read_text())["tasks"]
            == json.loads((single / "results.json").read_text())["tasks"])
    assert (parallel / "logs" / "worker-1.log").is_file()


@pytest.mark.parametrize("args,message", [
    (["--samples", "2"], "error: --samples 2 at temperature 0 gives 2 identical greedy "
                         "responses: set --temperature above 0"),
    (["--preset", "ovr", "--temperature", "0"], "error: task math500: --samples 16 at "
                                                "temperature 0"),
])
def test_several_samples_at_temperature_0_are_refused_before_the_engine(
        tmp_path, tiny_model, shared_data, args, message):
    out = tmp_path / "r"
    result = ovr("eval", "--model", str(tiny_model), "--tasks", "math500", "--engine", "hf",
                 "--data-dir", str(shared_data), "--out", str(out), *args, timeout=120)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert result.stderr.startswith(message), result.stderr
    assert not out.exists()


def test_several_samples_with_a_preset_take_its_temperature(tmp_path, shared_data):
    from ovr_eval.evaluate import EvalOptions, Evaluation
    from ovr_eval.types import SamplingConfig

    options = EvalOptions(model="m", tasks=["math500"], out=tmp_path / "r", engine="openai",
                          sampling=SamplingConfig(n=4), preset="ovr",
                          sampling_overrides={"n": 4}, data_dir=shared_data)
    evaluation = Evaluation(options)
    sampling = evaluation.sampling_of(evaluation.tasks[0])
    assert (sampling.n, sampling.temperature) == (4, 1.0)


@pytest.mark.slow
def test_an_empty_task_list_is_refused_before_any_folder(tmp_path, tiny_model):
    out = tmp_path / "r"
    for tasks in ("", " , "):
        result = ovr("eval", "--model", str(tiny_model), "--engine", "hf", "--tasks", tasks,
                     "--out", str(out), timeout=120)
        assert result.returncode == 2 and "Traceback" not in result.stderr
        assert "--tasks" in result.stderr and "names no task" in result.stderr
        assert not out.exists()


def test_every_task_without_data_is_named_in_one_message(tmp_path, tiny_model):
    data = tmp_path / "data"  # math500 present, mathvision and mathverse without their splits
    (data / "math500").mkdir(parents=True)
    (data / "math500" / "test.jsonl").write_text(json.dumps(
        {"problem": "What is 1 + 1?", "answer": "2", "unique_id": "t/1.json"}) + "\n")
    (data / "mathvision").mkdir()
    out = tmp_path / "r"
    result = ovr("eval", "--model", str(tiny_model), "--engine", "hf", "--data-dir", str(data),
                 "--out", str(out), timeout=120)
    said = result.stderr.strip()
    assert result.returncode == 2 and "Traceback" not in said
    assert len(said.splitlines()) == 1, said
    assert said.startswith("error: 2 of 3 tasks cannot be read (mathvision, mathverse):"), said
    assert "no mathvision split 'test'" in said and "no mathverse split 'testmini'" in said
    assert not out.exists()


@pytest.mark.parametrize("env", [{"HF_HUB_OFFLINE": "1"},
                                 {"HF_ENDPOINT": "http://127.0.0.1:9"}],  # nothing listens
                         ids=["HF_HUB_OFFLINE", "unreachable"])
@pytest.mark.slow
def test_offline_without_data_dir_is_said_at_once(tmp_path, tiny_model, env):
    base = {k: v for k, v in os.environ.items()
            if k not in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "TRANSFORMERS_OFFLINE",
                         "HF_ENDPOINT", "OVR_DATA_DIR")}
    run_env = {**base, "HF_HOME": str(tmp_path / "hf"), "COLUMNS": "160", **env}
    out = tmp_path / "r"
    start = time.monotonic()
    result = subprocess.run([*OVR, "eval", "--model", str(tiny_model), "--engine", "hf",
                             "--out", str(out)], capture_output=True, text=True, timeout=120,
                            env=run_env)
    seconds = time.monotonic() - start
    said = result.stderr.strip()
    assert result.returncode == 2 and "Traceback" not in said, said
    assert len(said.splitlines()) == 1 and "Retrying" not in said, said
    assert said.startswith("error: offline (") and "3 task(s) not in the local hub cache: " \
        "math500 (HuggingFaceH4/MATH-500, split test), mathvision" in said, said
    assert "--data-dir" in said and not out.exists()
    assert seconds < 15, f"{seconds:.1f} s"  # retried for ~26 s before
    imported = subprocess.run([*OVR, "import", "lm-eval", str(next(
        (REPO / "tests" / "data" / "lm-eval").glob("**/samples_*.jsonl"))), "--task", "math500",
        "--out", str(tmp_path / "imported")], capture_output=True, text=True, timeout=120,
        env=run_env)
    assert imported.returncode == 2 and "Traceback" not in imported.stderr
    assert imported.stderr.startswith("error: offline ("), imported.stderr
    assert "HuggingFaceH4/MATH-500, split test is not in the local hub cache" in imported.stderr


def _options(command: str) -> dict[str, tuple]:
    """Each option of ``ovr COMMAND`` as --help shows it: flags, default, help, hidden."""
    import typer.main

    from ovr_eval.cli import app

    params = typer.main.get_command(app).commands[command].params
    return {p.name: (tuple(p.opts), tuple(p.secondary_opts), p.default, p.help, p.hidden)
            for p in params if p.param_type_name == "option"}


JUDGE_OPTIONS = ("judge", "judge_engine", "judge_base_url", "judge_mode", "judge_concurrency",
                 "judge_max_tokens")


@pytest.mark.parametrize("command", ["eval", "grade", "import"])
def test_eval_grade_and_import_take_the_same_judge_options(command):
    from ovr_eval.judge import JudgeOptions

    judge = {k: v for k, v in _options(command).items() if k.startswith("judge")}
    assert list(judge) == list(JUDGE_OPTIONS)  # one group, in its order, after the others
    assert judge == {k: v for k, v in _options("eval").items() if k.startswith("judge")}
    assert [judge[k][0] for k in JUDGE_OPTIONS] == [
        ("--judge",), ("--judge-engine",), ("--judge-base-url",), ("--judge-mode",),
        ("--judge-concurrency",), ("--judge-max-tokens",)]
    assert [judge[k][2] for k in JUDGE_OPTIONS] == [
        None, None, JudgeOptions.base_url, JudgeOptions.mode, JudgeOptions.concurrency,
        JudgeOptions.max_tokens]


def test_the_worker_shard_option_stays_hidden():
    assert _options("eval")["shard"][4] is True
    assert [k for k, v in _options("eval").items() if v[4]] == ["shard"]
