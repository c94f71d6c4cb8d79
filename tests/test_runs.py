"""Runs a user can trust: weights fingerprints, one writer per folder, growing runs, cheap
checks first, bad rows skipped and named, one clear line for each fault, Ctrl-C.

Each fault is injected for real where the machine allows it (a read-only folder, a second
process, a corrupt file, SIGINT to the process group) and at the system-call boundary where it
does not (a full disk); the one-line message and what stays on disk are asserted."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from ovr_eval.evaluate import load_samples
from ovr_eval.fingerprint import hub_fingerprint, local_fingerprint
from ovr_eval.run_config import RunConfig
from ovr_eval.run_files import RecordWriter
from ovr_eval.runs import RunDir, load_run
from ovr_eval.task_registry import resolve
from ovr_eval.tasks import read_json_rows
from ovr_eval.types import BadRow, UserError

OVR = [sys.executable, "-m", "ovr_eval.cli"]
ENV = {**os.environ, "COLUMNS": "200"}


def ovr(*args: str, cwd: Path | None = None, env: dict | None = None,
        prefix: list[str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([*(prefix or []), *OVR, *args], capture_output=True, text=True,
                          cwd=cwd, timeout=600, env=env or ENV)


def lines(path: Path) -> list[dict]:
    return [json.loads(x) for x in path.read_text().splitlines()]


def one_error_line(result: subprocess.CompletedProcess, code: int = 2) -> str:
    """The error output of a refused command: exactly one line, no traceback."""
    assert result.returncode == code, result.stderr[-3000:]
    assert "Traceback" not in result.stderr, result.stderr[-3000:]
    err = [x for x in result.stderr.splitlines() if x.strip()]
    assert len(err) == 1, result.stderr
    return err[0]


def unprivileged() -> list[str]:
    """A command prefix that makes file permissions apply (root ignores them otherwise)."""
    if os.geteuid() != 0:
        return []
    if shutil.which("setpriv") is None:
        pytest.skip("running as root without setpriv: a read-only folder cannot be made")
    return ["setpriv", "--bounding-set=-dac_override,-dac_read_search,-fowner,-linux_immutable"]


@pytest.fixture
def model_copy(tmp_path, tiny_model) -> Path:
    target = tmp_path / "model"
    shutil.copytree(tiny_model, target)
    return target


def base_args(model: Path, data: Path, out: Path, *extra: str) -> list[str]:
    return ["eval", "--model", str(model), "--data-dir", str(data), "--out", str(out),
            "--engine", "hf", "--dtype", "float32", "--batch-size", "1", "--max-tokens", "6",
            *extra]


# ---------------------------------------------------------------- 1. weights fingerprint


def test_local_fingerprint_follows_content_not_copies(tmp_path, tiny_model):
    copy = tmp_path / "copy"
    shutil.copytree(tiny_model, copy)  # new mtimes, same bytes
    original = local_fingerprint(tiny_model)
    assert local_fingerprint(copy)["id"] == original["id"]
    assert original["weight_files"] == 1 and original["weight_bytes"] > 10_000_000
    (copy / "chat_template.jinja").write_text("{{ messages }}")  # changes every prompt
    assert local_fingerprint(copy)["id"] != original["id"]
    with pytest.raises(UserError, match="holds no weight files"):
        local_fingerprint(tmp_path)


def test_large_weight_files_are_sampled_and_a_retrained_shard_is_noticed(tmp_path):
    folder = tmp_path / "big"
    folder.mkdir()
    (folder / "config.json").write_text("{}")
    shard = folder / "model-00001-of-00001.safetensors"
    with shard.open("wb") as handle:  # 200 MB, sparse: written in milliseconds
        handle.truncate(200 << 20)
    before = local_fingerprint(folder)
    with shard.open("r+b") as handle:  # "retrained": every region of the file changes
        for offset in range(0, 200 << 20, 1 << 20):
            handle.seek(offset)
            handle.write(os.urandom(64))
    after = local_fingerprint(folder)
    assert before["id"] != after["id"] and after["weight_bytes"] == 200 << 20


@pytest.mark.slow
def test_hub_revision_resolution_offline_never_blocks(tmp_path, monkeypatch):
    commit = "0123456789abcdef0123456789abcdef01234567"
    given = hub_fingerprint("Org/Model", commit)
    assert given["id"] == f"hub:Org/Model@{commit}" and given["resolved_by"] == "given"
    # a hub that accepts connections and never answers: bounded by the timeout, unknown
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{silent.getsockname()[1]}")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    import huggingface_hub.constants as constants

    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.setattr(constants, "ENDPOINT", os.environ["HF_ENDPOINT"])
    start = time.monotonic()
    unknown = hub_fingerprint("Org/Model", None)
    assert time.monotonic() - start < 10
    assert unknown["id"] is None and unknown["commit"] is None
    silent.close()
    # the local cache knows what "main" pointed to when the model was downloaded
    refs = tmp_path / "hub" / "models--Org--Model" / "refs"
    refs.mkdir(parents=True)
    (refs / "main").write_text(commit)
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    cached = hub_fingerprint("Org/Model", None)
    assert cached["commit"] == commit and cached["resolved_by"] == "cache"


@pytest.mark.slow
def test_eval_refuses_a_folder_written_by_other_weights(tmp_path, model_copy, shared_data):
    from ovr_eval.tiny import build_tiny_qwen2_5_vl

    out = tmp_path / "run"
    args = base_args(model_copy, shared_data, out, "--tasks", "math500", "--limit", "1")
    assert ovr(*args).returncode == 0
    records = (out / "samples" / "math500.jsonl").read_bytes()
    config = json.loads((out / "config.json").read_text())
    assert config["weights"]["id"].startswith("sha256:")
    build_tiny_qwen2_5_vl(model_copy, seed=1, force=True)  # new weights, same folder
    refused = ovr(*base_args(model_copy, shared_data, out, "--tasks", "math500", "--limit", "2"))
    line = one_error_line(refused)
    new_id = local_fingerprint(model_copy)["id"]
    assert "holds records of other weights" in line
    assert config["weights"]["id"][:19] in line and new_id[:19] in line
    assert (out / "samples" / "math500.jsonl").read_bytes() == records  # nothing mixed in
    assert json.loads((out / "config.json").read_text()) == config


# ---------------------------------------------------------------- 3. one writer per folder


def test_lock_refuses_a_second_writer_and_is_reentrant(tmp_path):
    run = RunDir(tmp_path / "run")
    holder = subprocess.Popen([sys.executable, "-c", (
        "import sys, time; from ovr_eval.runs import RunDir\n"
        f"with RunDir({str(run.path)!r}).lock():\n"
        "    print('held', flush=True); time.sleep(60)")], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        busy = rf"in use by another ovr process \(pid {holder.pid}"
        with pytest.raises(UserError, match=busy), run.lock():
            pass
        assert run.in_use() and f"pid {holder.pid}" in run.in_use()
    finally:
        holder.send_signal(signal.SIGKILL)  # the kernel drops its lock: never stale
        holder.wait()
    assert run.in_use() is None
    with run.lock(), run.lock():  # re-entrant in one process (the trainer's evaluation)
        assert json.loads(run.lock_path.read_text())["pid"] == os.getpid()
    assert run.in_use() is None


def test_a_second_eval_into_a_busy_folder_gets_one_line(tmp_path, tiny_model, shared_data):
    out = tmp_path / "run"
    with RunDir(out).lock():
        result = ovr(*base_args(tiny_model, shared_data, out, "--tasks", "math500",
                                "--limit", "1"))
    line = one_error_line(result)
    assert f"{out} is in use by another ovr process (pid {os.getpid()}" in line
    assert not (out / "config.json").exists() and not (out / "samples").exists()


# ---------------------------------------------------------------- 4. growing runs


def test_config_differences_name_old_and_new_values():
    old = {"model": "m", "engine": "hf", "sampling": {"n": 1, "temperature": 0.0},
           "prompt": {"math500": "reasoning"}, "splits": {"math500": "test"},
           "tasks": ["math500"], "limit": 3}
    new = {**old, "sampling": {"n": 1, "temperature": 0.7},
           "prompt": {"math500": "plain", "aime2024": "reasoning"},
           "splits": {"math500": "test", "aime2024": "test"}, "tasks": ["aime2024"], "limit": 1}
    saved = RunConfig.from_json(old)
    assert saved.differences(RunConfig.from_json(new)) == [
        "sampling.temperature: 0.0 → 0.7", 'prompt.math500: "reasoning" → "plain"']
    grown = RunConfig.from_json(
        {**new, "sampling": old["sampling"], "prompt": {**new["prompt"], **old["prompt"]}})
    assert saved.differences(grown) == []  # a new task is growth, not a change
    merged = saved.merged(grown)
    assert merged.tasks == ["math500", "aime2024"] and merged.limit == 3
    assert set(merged.splits) == {"math500", "aime2024"}
    assert saved.merged(RunConfig.from_json({**grown.to_json(), "limit": None})).limit is None


def test_config_json_reads_and_writes_back_unchanged_keys_and_order():
    # the typed RunConfig is a view of config.json: what it does not know stays as written
    written = {"model": "m", "revision": None, "engine": "hf", "weights": {"id": "sha256:1"},
               "engine_options": {"batch_size": 4}, "sampling": {"n": 1, "temperature": 0.0},
               "preset": "ovr", "sampling_by_task": {"math500": {"n": 16}},
               "prompt": {"math500": "reasoning"}, "splits": {"math500": "test"},
               "data_dir": None, "limit": None, "tasks": ["math500"], "task_dirs": [],
               "task_versions": {"math500": 1}, "data": {"math500": None}, "versions": {},
               "git_sha": None, "started": "2026-01-01T00:00:00+00:00", "judge": None,
               "engine_info": {"engine": "hf"}, "from_a_newer_version": [1, 2]}
    back = RunConfig.from_json(written).to_json()
    assert back == written and list(back) == list(written)
    older = RunConfig.from_json({"model": "m", "tasks": ["a", "b"], "prompt": "plain"})
    assert older.prompt == {"a": "plain", "b": "plain"}  # one prompt then stood for every task
    assert "preset" not in RunConfig(model="m").to_json()  # no preset: neither preset key


def test_a_resumed_run_that_builds_no_engine_keeps_what_config_json_said_of_it(tmp_path):
    run = RunDir(tmp_path / "run")
    run.samples_dir.mkdir(parents=True)
    run.write_config(RunConfig(model="m", tasks=["math500"], engine_info={"engine": "hf"}))
    (run.samples_path("math500")).write_text('{"id": "1"}\n')
    start = run.start(RunConfig(model="m", tasks=["math500", "aime2024"]))
    assert start.resuming and start.config.tasks == ["math500", "aime2024"]
    assert start.config.engine_info == {"engine": "hf"}


@pytest.mark.slow
def test_a_run_folder_grows_and_results_cover_every_record(tmp_path, tiny_model, shared_data):
    out = tmp_path / "run"

    def run(*extra: str) -> subprocess.CompletedProcess:
        result = ovr(*base_args(tiny_model, shared_data, out, *extra))
        assert result.returncode == 0, result.stderr[-3000:]
        return result

    def n(task: str) -> int:
        return json.loads((out / "results.json").read_text())["tasks"][task]["n"]

    run("--tasks", "math500", "--limit", "2")
    assert n("math500") == 2
    run("--tasks", "math500", "--limit", "3")  # more samples: appended
    assert n("math500") == 3 and len(lines(out / "samples" / "math500.jsonl")) == 3
    smaller = run("--tasks", "math500", "--limit", "1")  # nothing to do, nothing rewritten
    assert n("math500") == 3
    assert "results cover all 3 saved samples" in smaller.stdout
    run("--tasks", "aime2024", "--limit", "1")  # another task: appended beside the first
    results = json.loads((out / "results.json").read_text())["tasks"]
    assert results["math500"]["n"] == 3 and results["aime2024"]["n"] == 1
    config = json.loads((out / "config.json").read_text())
    assert config["tasks"] == ["math500", "aime2024"] and config["limit"] == 3
    changed = ovr(*base_args(tiny_model, shared_data, out, "--tasks", "math500",
                             "--max-tokens", "7"))
    assert "sampling.max_tokens: 6 → 7" in one_error_line(changed)


@pytest.mark.parametrize("value", ["0", "-1"])
def test_limit_zero_or_negative_is_an_error(tmp_path, tiny_model, shared_data, value):
    out = tmp_path / "run"
    line = one_error_line(ovr(*base_args(tiny_model, shared_data, out, "--tasks", "math500",
                                         "--limit", value)))
    assert f"--limit must be 1 or more (got {value})" in line
    assert not out.exists()


# ---------------------------------------------------------------- 5. cheap checks first


@pytest.mark.parametrize("args,message", [
    (["--engine", "vlm"], "unknown engine 'vlm'"),
    (["--split", "math500=tset"], "task math500 has no split 'tset'"),
    (["--samples", "0"], "--samples must be 1 or more"),
    (["--top-p", "1.5"], "--top-p must be in (0, 1]"),
    (["--temperature", "-1"], "--temperature must be 0 or more"),
    (["--max-tokens", "0"], "--max-tokens must be 1 or more"),
    (["--model", "not a/hub id"], "is neither a local folder nor a Hugging Face id"),
])
def test_a_failed_first_attempt_leaves_no_trace(tmp_path, tiny_model, shared_data, args,
                                                 message):
    out = tmp_path / "run"
    result = ovr(*base_args(tiny_model, shared_data, out, "--tasks", "math500", *args))
    assert message in one_error_line(result)
    assert not out.exists()


@pytest.mark.slow
def test_a_config_without_records_is_restarted_with_other_settings(tmp_path, tiny_model,
                                                                    shared_data):
    out = tmp_path / "run"
    (out / "samples").mkdir(parents=True)  # what a first attempt whose engine failed leaves
    (out / "config.json").write_text(json.dumps({
        "model": "/elsewhere", "engine": "vllm", "sampling": {"n": 4, "temperature": 1.0},
        "tasks": ["math500"], "prompt": {"math500": "plain"}, "splits": {"math500": "test"}}))
    result = ovr(*base_args(tiny_model, shared_data, out, "--tasks", "math500", "--limit", "1"))
    assert result.returncode == 0, result.stderr[-3000:]
    config = json.loads((out / "config.json").read_text())
    assert config["model"] == str(tiny_model) and config["sampling"]["n"] == 1
    assert "resuming" not in result.stdout


def test_an_empty_model_config_fails_fast(tmp_path, shared_data):
    model = tmp_path / "model"
    model.mkdir()
    (model / "config.json").write_text("")
    (model / "model.safetensors").write_bytes(b"\0" * 64)
    start = time.monotonic()
    result = ovr(*base_args(model, shared_data, tmp_path / "run", "--tasks", "math500"))
    assert f"{model / 'config.json'} is empty" in one_error_line(result)
    assert time.monotonic() - start < 30  # before any model loading
    assert not (tmp_path / "run").exists()


# ---------------------------------------------------------------- 6. bad rows


def test_corrupt_jsonl_lines_are_named_rows(tmp_path):
    path = tmp_path / "test.jsonl"
    path.write_bytes(b'{"a": 1}\n{"a": 2,\n[1, 2]\n\xff\xfe{}\n\n{"a": 3}\n')
    rows = list(read_json_rows(path))
    assert [r["a"] for r in rows if isinstance(r, dict)] == [1, 3]
    bad = [r for r in rows if isinstance(r, BadRow)]
    assert [b.row_id for b in bad] == [f"{path} line {n}" for n in (2, 3, 4)]
    assert [b.reason.split(" (")[0] for b in bad] == ["not valid JSON", "not a JSON object",
                                                      "not UTF-8 text"]


def test_a_release_file_that_is_not_json_or_not_its_shape_is_one_error_naming_it(tmp_path):
    (logicvista,) = resolve("logicvista")
    path = tmp_path / "logicvista" / "dataset.json"
    path.parent.mkdir()
    for content, says in (('{"v1_0": {"question"', "is not valid JSON"),
                          ('[{"question": "q"}]', "must hold a JSON object of rows keyed by id")):
        path.write_text(content)
        with pytest.raises(UserError, match=f"{re.escape(str(path))} ({says})"):
            load_samples(logicvista, logicvista.default_split, tmp_path, None)


def test_entries_of_a_release_file_that_are_not_rows_are_skipped_and_named(tmp_path, shared_data):
    # LogicVista's dataset.json keyed by id: one entry is a string, the others load
    release = json.loads((shared_data / "logicvista" / "dataset.json").read_text())
    first = dict(list(release.items())[:2])
    folder = tmp_path / "logicvista"
    folder.mkdir()
    (folder / "images").symlink_to(shared_data / "logicvista" / "images")
    (folder / "dataset.json").write_text(json.dumps({**first, "broken": "not a row"}))
    (logicvista,) = resolve("logicvista")
    samples, skipped = load_samples(logicvista, logicvista.default_split, tmp_path, None)
    assert [s.id for s in samples] == list(first)
    assert skipped == [{"id": f"{folder / 'dataset.json'} item broken",
                        "reason": "not a JSON object"}]
    # ORZ's dialogues: a ground truth that is not an object leaves the item without a gold
    orz = tmp_path / "orz_math"
    orz.mkdir()
    (orz / "orz_math_57k_collected.json").write_text(json.dumps([
        [{"from": "human", "value": "1+1?"}, {"from": "assistant", "ground_truth": "2"}],
        [{"from": "human", "value": "2+2?"}, {"from": "assistant",
                                              "ground_truth": {"value": "4"}}]]))
    (orz_math,) = resolve("orz_math")
    samples, skipped = load_samples(orz_math, "train", tmp_path, None)
    assert [(s.id, s.answer) for s in samples] == [("orz-1", "4")]
    assert [row["id"] for row in skipped] == ["orz-0"]


def test_wemath_reads_its_rows_from_jsonl_too(tmp_path, shared_data):
    release = json.loads((shared_data / "wemath" / "testmini.json").read_text())[:6]
    folders = {kind: tmp_path / kind / "wemath" for kind in ("json", "jsonl")}
    for folder in folders.values():
        folder.mkdir(parents=True)
        for steps in ("2steps", "3steps"):
            (folder / steps).symlink_to(shared_data / "wemath" / steps)
    (folders["json"] / "testmini.json").write_text(json.dumps(release))
    (folders["jsonl"] / "testmini.jsonl").write_text(
        "".join(json.dumps(r) + "\n" for r in release) + "{torn\n")
    (wemath,) = resolve("wemath")
    from_json, _ = load_samples(wemath, "testmini", tmp_path / "json", None)
    samples, skipped = load_samples(wemath, "testmini", tmp_path / "jsonl", None)
    assert len(samples) == 6 and [s.id for s in samples] == [s.id for s in from_json]
    assert [row["id"] for row in skipped] == [f"{folders['jsonl'] / 'testmini.jsonl'} line 7"]


@pytest.fixture
def bad_data(tmp_path, shared_data) -> Path:
    """math500 with a torn line; mathvision with an image that is not an image."""
    root = tmp_path / "data"
    (root / "math500").mkdir(parents=True)
    good = (shared_data / "math500" / "test.jsonl").read_text().splitlines()[:3]
    (root / "math500" / "test.jsonl").write_text("\n".join(
        [good[0], '{"problem": "torn', *good[1:]]) + "\n")
    vision = root / "mathvision"
    (vision / "images").mkdir(parents=True)
    rows = [json.loads(x) for x in
            (shared_data / "mathvision" / "testmini.jsonl").read_text().splitlines()[:3]]
    for row in rows:
        shutil.copy(shared_data / "mathvision" / row["image"], vision / row["image"])
    (vision / rows[1]["image"]).write_bytes(b"\xff\xd8\xff this is no JPEG at all")
    (vision / "testmini.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    return root


@pytest.mark.slow
def test_bad_rows_are_skipped_named_and_counted(tmp_path, tiny_model, bad_data):
    out = tmp_path / "run"
    args = base_args(tiny_model, bad_data, out, "--tasks", "math500,mathvision",
                     "--split", "mathvision=testmini")
    for attempt in range(2):  # the rerun meets the same rows and does not crash either
        result = ovr(*args)
        assert result.returncode == 0, result.stderr[-3000:]
        assert "Traceback" not in result.stderr
        results = json.loads((out / "results.json").read_text())["tasks"]
        math, vision = results["math500"], results["mathvision"]
        assert math["n"] == 3 and math["skipped"]["count"] == 1
        row = math["skipped"]["rows"][0]
        assert row["id"] == f"{bad_data / 'math500' / 'test.jsonl'} line 2"
        assert row["reason"].startswith("not valid JSON")
        assert vision["n"] == 2 and vision["skipped"]["count"] == 1
        (bad_row,) = vision["skipped"]["rows"]
        assert bad_row["id"] == "5" and "images/5.jpg" in bad_row["reason"]
        assert len(lines(out / "samples" / "mathvision.jsonl")) == 2
        if attempt == 0:
            assert "mathvision: skipped 5:" in result.stdout


# ---------------------------------------------------------------- 7. one line per fault


def test_read_only_output_folder_is_one_line(tmp_path, tiny_model, shared_data):
    parent = tmp_path / "ro"
    parent.mkdir()
    parent.chmod(0o555)
    try:
        result = ovr(*base_args(tiny_model, shared_data, parent / "run", "--tasks", "math500",
                                "--limit", "1"), prefix=unprivileged())
    finally:
        parent.chmod(0o755)
    line = one_error_line(result)
    assert f"cannot write {parent / 'run'}" in line and "read-only; choose another --out" in line
    assert list(parent.iterdir()) == []


DISK_FULL = """
import errno, os, sys
real_write, written = os.write, []
def write(fd, data):
    if os.readlink(f"/proc/self/fd/{fd}").endswith("samples/math500.jsonl"):
        if len(written) >= 2:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        written.append(data)
    return real_write(fd, data)
os.write = write
from ovr_eval.cli import main
sys.argv = ["ovr", *sys.argv[1:]]
main()
"""


@pytest.mark.slow
def test_disk_full_names_the_file_and_a_rerun_resumes(tmp_path, tiny_model, shared_data):
    out = tmp_path / "run"
    args = base_args(tiny_model, shared_data, out, "--tasks", "math500", "--limit", "4")
    full = subprocess.run([sys.executable, "-c", DISK_FULL, *args], capture_output=True,
                          text=True, timeout=600, env=ENV)
    records = out / "samples" / "math500.jsonl"
    line = one_error_line(full)
    assert f"disk full while writing {records}" in line
    assert "re-run the same command: it resumes" in line
    kept = lines(records)
    assert len(kept) == 2 and not (out / "results.json").exists()
    again = ovr(*args)
    assert again.returncode == 0, again.stderr[-3000:]
    ids = [r["id"] for r in lines(records)]
    assert len(ids) == len(set(ids)) == 4 and ids[:2] == [r["id"] for r in kept]


def test_disk_full_for_a_record_file_is_a_user_error():
    writer = RecordWriter(Path("/dev/full"))  # the kernel's always-full device
    with pytest.raises(UserError, match=r"disk full while writing /dev/full: free some space"):
        writer.write({"id": "1"})
    with pytest.raises(UserError):
        writer.close()


def test_behaviours_on_a_read_only_run_shows_the_report(tmp_path):
    run = tmp_path / "run"
    (run / "samples").mkdir(parents=True)
    record = {"id": "1", "responses": ["Wait, let me verify: 2+2=4. \\boxed{4}"],
              "correct": [True]}
    (run / "samples" / "math500.jsonl").write_text(json.dumps(record) + "\n")
    for folder in (run / "samples", run):
        folder.chmod(0o555)
    try:
        result = ovr("behaviours", str(run), prefix=unprivileged())
    finally:
        for folder in (run, run / "samples"):
            folder.chmod(0o755)
    assert result.returncode == 0, result.stderr
    warning = one_error_line(result, code=0)
    assert warning.startswith("warning: not saved: cannot write") and "read-only" in warning
    assert "math500: 1 responses" in result.stdout and "written:" not in result.stdout
    assert not (run / "behaviours.json").exists()


# ---------------------------------------------------------------- 9. Ctrl-C


@pytest.mark.slow
def test_ctrl_c_says_what_was_saved_and_how_to_resume(tmp_path, tiny_model, shared_data):
    out = tmp_path / "run"
    args = base_args(tiny_model, shared_data, out, "--tasks", "math500", "--limit", "12")
    args[args.index("--max-tokens") + 1] = "48"
    process = subprocess.Popen([*OVR, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True, env=ENV, start_new_session=True)
    records = out / "samples" / "math500.jsonl"
    deadline = time.time() + 300
    while time.time() < deadline and not (records.is_file() and records.read_text().strip()):
        time.sleep(0.05)
    os.killpg(process.pid, signal.SIGINT)  # what a terminal's Ctrl-C does: the whole group
    _, stderr = process.communicate(timeout=120)
    result = subprocess.CompletedProcess(process.args, process.returncode, "", stderr)
    line = one_error_line(result, code=130)
    saved = lines(records)
    assert 1 <= len(saved) < 12, "the run was not interrupted mid-task"
    assert line == (f"interrupted: samples saved in {out / 'samples'}: math500 {len(saved)}/12 "
                    "(results.json not updated); re-run the same command to resume")
    # no verdict lost to the interrupt (verifier workers ignore it; their parent decides)
    assert not {"crashed", "memory"} & {e for r in saved for e in r["errors"]}
    assert RunDir(out).in_use() is None  # the lock went with the process
    again = ovr(*args)
    assert again.returncode == 0, again.stderr[-3000:]
    assert json.loads((out / "results.json").read_text())["tasks"]["math500"]["n"] == 12


# ---------------------------------------------------------------- a newcomer's view


@pytest.mark.slow
def test_engine_output_stays_in_the_log_unless_verbose(tmp_path, tiny_model, shared_data):
    out = tmp_path / "run"
    args = base_args(tiny_model, shared_data, out, "--tasks", "math500", "--limit", "1")
    quiet = ovr(*args)
    assert quiet.returncode == 0 and quiet.stderr.strip() == "", quiet.stderr
    assert "Loading weights" in (out / "logs" / "engine.log").read_text()
    loud = ovr(*base_args(tiny_model, shared_data, tmp_path / "loud", "--tasks", "math500",
                          "--limit", "1", "--verbose"))
    assert loud.returncode == 0 and "Loading weights" in loud.stderr


def test_hf_engine_reports_live_activity_and_skips_a_corrupt_image(tiny_model, shared_data,
                                                                   tmp_path):
    from ovr_eval.engines import HFOptions, create_engine
    from ovr_eval.types import Request, SamplingConfig

    broken = tmp_path / "broken.png"
    broken.write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    requests = [Request(f"r{i}", [{"role": "user", "content": [
        {"type": "image"}, {"type": "text", "text": "What is shown?"}]}], images=[image], seed=i)
        for i, image in enumerate([shared_data / "mathvision" / "images" / "4.jpg", broken])]
    engine = create_engine("hf", str(tiny_model), HFOptions(dtype="float32", batch_size=2))
    seen: list[int] = []
    done = threading.Event()

    def watch() -> None:
        while not done.is_set():
            seen.append(engine.activity.running)
            time.sleep(0.001)

    watcher = threading.Thread(target=watch)
    watcher.start()
    out = {c.sample_id: c for c in engine.generate(requests, SamplingConfig(max_tokens=9))}
    done.set()
    watcher.join()
    assert out["r1"].error and "broken.png" in out["r1"].error and out["r1"].responses == []
    assert out["r0"].error is None and len(out["r0"].responses) == 1
    assert engine.activity.tokens == sum(out["r0"].completion_tokens)
    assert max(seen) == 1 and engine.activity.running == 0


def test_every_eval_option_has_help_text():
    import typer.main

    from ovr_eval.cli import app

    command = typer.main.get_command(app).commands["eval"]
    missing = [p.name for p in command.params if not getattr(p, "hidden", False)
               and not (getattr(p, "help", None) or "").strip()]
    assert missing == []


def test_tasks_lists_suites_without_cutting_at_80_columns():
    result = ovr("tasks", env={**os.environ, "COLUMNS": "80"})
    assert result.returncode == 0, result.stderr
    from ovr_eval.task_registry import discover, suites

    for task in discover().values():
        assert task.hub_id in result.stdout and task.name in result.stdout
    assert "…" not in result.stdout
    for name, members in suites().items():
        assert name in result.stdout and ", ".join(members) in result.stdout


@pytest.mark.slow
def test_unfinished_runs_are_read_and_marked_partial(tmp_path, no_results_run):
    from ovr_eval.runs import load_run

    run = load_run(no_results_run)
    assert run.tasks["math500"].n == 2 and run.tasks["math500"].partial
    assert run.partial == ["math500: 2 sample(s) saved, not yet in results.json"]
    result = ovr("compare", str(no_results_run))
    assert result.returncode == 0, result.stderr
    assert f"partial: {no_results_run} is unfinished" in result.stdout
    assert "(partial) vs OVR-7B-RL" in result.stdout
    out = tmp_path / "r.html"
    report = ovr("report", str(no_results_run), "-o", str(out))
    assert report.returncode == 0, report.stderr
    html = out.read_text()
    assert 'class="partial"' in html and "unfinished (partial)" in report.stdout
    assert "temperature</th><td class=\"mono\">0.0" in html and "{&#39;" not in html


@pytest.fixture
def no_results_run(tmp_path) -> Path:
    """An `ovr eval` folder interrupted before it wrote results.json."""
    root = tmp_path / "unfinished"
    (root / "samples").mkdir(parents=True)
    (root / "config.json").write_text(json.dumps({
        "model": "m", "engine": "vllm", "tasks": ["math500"],
        "prompt": {"math500": "reasoning"}, "splits": {"math500": "test"},
        "sampling": {"n": 1, "temperature": 0.0, "top_p": 1.0, "max_tokens": 64, "seed": 0}}))
    records = [{"id": str(i), "split": "test", "correct": [i == 0], "responses": ["\\boxed{1}"],
                "completion_tokens": [5], "finish_reasons": ["stop"], "metadata": {}}
               for i in range(2)]
    (root / "samples" / "math500.jsonl").write_text(
        "".join(json.dumps(r) + "\n" for r in records))
    return root


@pytest.mark.slow
def test_each_command_writes_config_and_results_once_and_resumes_keep_check_failures(
        tmp_path, tiny_model, shared_data, monkeypatch):
    # one document per command: settings written before the first record (with the engine as
    # built), scores at the end; a task this command did not name is re-scored from its records
    # with everything a first scoring reports (here: a check that timed out)
    import io

    from rich.console import Console

    from ovr_eval import runs
    from ovr_eval.engines import HFOptions
    from ovr_eval.evaluate import EvalOptions, Evaluation
    from ovr_eval.types import SamplingConfig

    out = tmp_path / "run"
    writes: list[str] = []
    real = runs.write_json_atomic
    monkeypatch.setattr(runs, "write_json_atomic",
                        lambda path, data: (writes.append(path.name), real(path, data)))

    def evaluate(task: str) -> None:
        options = EvalOptions(model=str(tiny_model), tasks=[task], out=out, engine="hf",
                              sampling=SamplingConfig(max_tokens=4), data_dir=shared_data,
                              limit=2, engine_options=HFOptions(dtype="float32"))
        Evaluation(options, Console(file=io.StringIO())).run()

    evaluate("math500")
    assert sorted(writes) == ["config.json", "results.json"]
    config = json.loads((out / "config.json").read_text())
    assert config["engine_info"]["engine"] == "hf" and config["tasks"] == ["math500"]
    saved = lines(out / "samples" / "math500.jsonl")
    saved[0]["errors"][0] = "timeout"  # its check did not finish: graded wrong, and counted
    (out / "samples" / "math500.jsonl").write_text(
        "".join(json.dumps(r) + "\n" for r in saved))  # newer than results.json
    writes.clear()
    evaluate("aime2024")
    assert sorted(writes) == ["config.json", "results.json"]
    results = json.loads((out / "results.json").read_text())["tasks"]
    assert results["math500"]["check_failures"] == {"timeout": 1}
    assert set(results) == {"math500", "aime2024"}
    config = json.loads((out / "config.json").read_text())
    assert config["tasks"] == ["math500", "aime2024"] and config["engine_info"]["engine"] == "hf"
    writes.clear()
    evaluate("aime2024")  # everything saved: nothing generated, still one write of each
    assert sorted(writes) == ["config.json", "results.json"]


def test_a_task_rescored_from_its_records_keeps_its_judged_scores(tmp_path):
    # an unfinished run read back (ovr compare / ovr report), like a resumed run's other
    # tasks, scores saved records again: the judge's verdicts in them give the judged entry
    root = tmp_path / "run"
    (root / "samples").mkdir(parents=True)
    judge = {"model": "j", "engine": "openai", "mode": "fallback"}
    (root / "config.json").write_text(json.dumps({"model": "m", "tasks": ["mathverse"],
                                                  "judge": judge}))
    rows = [{"id": f"q{i}", "correct": [i < 1], "extracted": ["1"], "methods": ["boxed"],
             "errors": [None], "metadata": {"problem_version": "Vision Only"},
             "judge": {"model": "j", "mode": "fallback", "protocol": "mathverse",
                       "extracted": ["1"], "correct": [i < 3], "methods": ["judge"],
                       "errors": [None]}} for i in range(4)]
    (root / "samples" / "mathverse.jsonl").write_text(
        "".join(json.dumps(r) + "\n" for r in rows))
    task = load_run(root).tasks["mathverse"]
    assert task.partial and task.score == 0.25
    assert task.judge is not None and task.judge.score == 0.75
    assert task.judge.settings["model"] == "j" and task.judge.protocol == "mathverse"
    assert (task.judge.agreement.responses, task.judge.agreement.agree) == (4, 2)
