"""The judge end to end with real engines: the tiny model judges its own responses through the
offline vLLM engine and through a real ``vllm serve``. Its extractions are noise, so these tests
check the plumbing: the prompts sent, both scores and their agreement written, failures counted,
the cache answering a resumed run (also after a kill -9 mid-judging), compare and report."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from conftest import REPO
from ovr_eval.cli import app
from ovr_eval.engines import VLLMOptions
from ovr_eval.evaluate import EvalOptions, Evaluation
from ovr_eval.judge import JudgeOptions
from ovr_eval.judge_protocols import judge_view
from ovr_eval.records import Record
from ovr_eval.task_registry import judge_protocols
from ovr_eval.types import SamplingConfig

pytestmark = pytest.mark.vllm

JUDGED = ("mathvista", "mathverse", "logicvista")


@pytest.fixture(scope="module")
def judge_data(tmp_path_factory, shared_data) -> Path:
    """LogicVista and MathVerse (text only) from ../shared/data; MathVista testmini's real
    annotations and queries in the hub's parquet schema with a rendered image each (its images
    are not in ../shared/data)."""
    import datasets
    from PIL import Image, ImageDraw

    root = tmp_path_factory.mktemp("judge_data")
    for name in ("logicvista", "mathverse"):
        (root / name).symlink_to(shared_data / name)
    rows = json.loads((shared_data / "mathvista" / "testmini.json").read_text())
    queries = json.loads((shared_data / "mathvista" / "query.json").read_text())
    records = []
    for pid in ("1", "2", "5"):  # free form (float), multiple choice, ...
        image = Image.new("RGB", (160, 120), "white")
        ImageDraw.Draw(image).text((8, 8), rows[pid]["question"][:30], fill="black")
        records.append({**{k: rows[pid].get(k) for k in ("pid", "question", "choices", "unit",
                                                           "answer", "question_type",
                                                           "answer_type")},
                         "precision": rows[pid].get("precision"), "decoded_image": image,
                         "query": queries[pid]})
    text = datasets.Value("string")
    features = datasets.Features({
        "pid": text, "question": text, "choices": datasets.Sequence(text), "unit": text,
        "answer": text, "question_type": text, "answer_type": text,
        "precision": datasets.Value("float64"), "decoded_image": datasets.Image(),
        "query": text})
    (root / "mathvista").mkdir()
    datasets.Dataset.from_list(records, features=features).to_parquet(
        str(root / "mathvista" / "testmini-00000-of-00001.parquet"))
    return root


def _options(tiny_model: Path, data: Path, out: Path, judge: JudgeOptions) -> EvalOptions:
    return EvalOptions(
        model=str(tiny_model), tasks=list(JUDGED), out=out, engine="vllm",
        sampling=SamplingConfig(n=2, temperature=1.0, max_tokens=8), data_dir=data, limit=2,
        splits={"mathverse": "testmini_text_only"},
        engine_options=VLLMOptions(dtype="float32", max_model_len=4096), judge=judge)


def _cache(out: Path) -> list[dict]:
    path = out / "judge" / "cache.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.is_file() else []


@pytest.mark.slow
def test_offline_vllm_judge_writes_both_scores_and_resumes_from_cache(tiny_model, judge_data,
                                                                      tmp_path):
    judge = JudgeOptions(model=str(tiny_model), engine="vllm", mode="all", max_tokens=8,
                         retries=1, engine_options={"dtype": "float32", "max_model_len": 4096})
    out = tmp_path / "run"
    results = Evaluation(_options(tiny_model, judge_data, out, judge)).run()

    for name in JUDGED:
        task = results.tasks[name]
        entry = task.judge.to_json()  # as results.json holds it
        assert entry["model"] == str(tiny_model) and entry["mode"] == "all"
        assert entry["official"] and entry["protocol"] == name
        assert entry["scores"]["n"] == task.n == 2 and entry["scores"]["score"] is not None
        assert entry["agreement"]["responses"] == 4  # 2 samples x 2 responses
        assert 0 <= entry["agreement"]["agree"] <= 4 and isinstance(entry["failures"], int)
        assert entry["requests"]["asked"] + entry["requests"]["from_cache"] >= 1
        records = [json.loads(line) for line in (out / "samples" / f"{name}.jsonl").open()]
        assert len(records) == 2
        for record in records:  # both extractions and both verdicts kept
            assert len(record["extracted"]) == len(record["judge"]["extracted"]) == 2
            assert len(record["correct"]) == len(record["judge"]["correct"]) == 2
            assert set(record["judge"]["methods"]) <= {"judge", "judge+match", "official rule"}
    saved = json.loads((out / "results.json").read_text())
    assert saved["tasks"]["logicvista"]["judge"] == results.tasks["logicvista"].judge.to_json()
    config = json.loads((out / "config.json").read_text())
    assert config["judge"]["model"] == str(tiny_model)

    # the prompts sent: each benchmark's instructions around the response the judge must read
    cache = _cache(out)
    assert cache and len({c["key"] for c in cache}) == len(cache)
    responses = [judge_view(r) for name in JUDGED for line in
                 (out / "samples" / f"{name}.jsonl").open() for r in json.loads(line)["responses"]]
    for entry in cache:
        assert any(resp in entry["prompt"] for resp in responses if resp) or "[Model_answer]" in \
            entry["prompt"]
    first_lines = {p.extraction_prompt(Record(id=""), "").splitlines()[0]
                   for p in judge_protocols().values()}
    assert {line for line in first_lines if any(line in c["prompt"] for c in cache)}

    # a second run asks the judge nothing: every reply comes from the cache
    again = Evaluation(_options(tiny_model, judge_data, out, judge)).run()
    for name in JUDGED:
        before, after = results.tasks[name].judge, again.tasks[name].judge
        assert after.requests is not None and after.requests["asked"] == 0
        assert after.score == before.score and after.agreement == before.agreement
    assert len(_cache(out)) == len(cache)

    # ovr compare: both rows, the judged one marked as the official protocol
    result = CliRunner().invoke(app, ["compare", str(out), "--json"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)["reference"][str(out)]
    tasks = [r["task"] for r in rows]
    for name in JUDGED:
        assert f"{name} (rules)" in tasks and f"{name} (judged, official)" in tasks
    judged_row = next(r for r in rows if r["task"] == "logicvista (judged, official)")
    assert any("agree on" in w for w in judged_row["warnings"])

    # ovr report: a judged column beside each rule column; judge verdicts in the samples
    from ovr_eval.report import build_report

    report = build_report([out], reference_models=["OVR-7B-RL"])
    keys = [c.key for c in report.columns]
    for name in JUDGED:
        assert keys.index(f"{name}·judged") == keys.index(name) + 1
    run_row = next(r for r in report.rows if r.kind == "run")
    assert run_row.cells["logicvista·judged"].score == pytest.approx(
        100 * results.tasks["logicvista"].judge.scores["score"])
    assert all(r.judge is not None for s in report.samples for r in s.responses)
    disagreeing = {s.id for s in report.samples if s.task == "logicvista" and s.disagree}
    expected = set(results.tasks["logicvista"].judge.agreement.disagreeing_ids)
    assert disagreeing == expected


@pytest.mark.slow
def test_grade_with_a_served_judge_counts_failures(vllm_server, tmp_path):
    lines = [
        {"response": "Looking at the figure, the third shape fits.", "answer": "C",
         "question": "Which shape completes the row? Select from A-D."},
        {"response": "The answer is B.", "answer": "B", "question": "Which figure is next?"},
        {"response": "7 " * 4000, "answer": "A", "question": "Which one?"},  # too long to serve
    ]
    source = tmp_path / "in.jsonl"
    source.write_text("".join(json.dumps(line) + "\n" for line in lines))
    output = tmp_path / "out.jsonl"
    command = ["grade", str(source), "-o", str(output), "--task", "logicvista", "--judge", "tiny",
               "--judge-base-url", vllm_server, "--judge-concurrency", "2",
               "--judge-max-tokens", "8"]
    result = CliRunner().invoke(app, command)
    assert result.exit_code == 0, result.output
    graded = [json.loads(line) for line in output.read_text().splitlines()]
    assert graded[1]["judge_method"] == "rules" and graded[1]["judge_correct"] is True
    assert graded[0]["judge_method"] == "judge"
    assert graded[2]["judge_error"].startswith("judge request failed")
    assert graded[2]["judge_correct"] is False
    failed = sum(line["judge_error"] is not None for line in graded)
    assert f"{failed} judge failure(s)" in " ".join(result.output.split())
    cache = (tmp_path / "out.jsonl.judge-cache.jsonl").read_text().splitlines()
    assert cache and all("Which shape completes the row?" in json.loads(c)["prompt"]
                         for c in cache)
    # again: the served replies come from the cache, the failed request is tried again
    result = CliRunner().invoke(app, command)
    assert result.exit_code == 0, result.output
    assert (tmp_path / "out.jsonl.judge-cache.jsonl").read_text().splitlines() == cache

    missing_task = CliRunner().invoke(app, [c for c in command if c not in ("--task",
                                                                            "logicvista")])
    assert missing_task.exit_code != 0


@pytest.mark.slow
def test_kill_9_mid_judging_resumes_without_asking_again(vllm_server, tiny_model, judge_data,
                                                          tmp_path):
    out = tmp_path / "run"
    command = [sys.executable, "-m", "ovr_eval.cli", "eval", "--model", str(tiny_model),
               "--tasks", "logicvista,mathverse", "--split", "mathverse=testmini_text_only",
               "--data-dir", str(judge_data), "--limit", "6", "--max-tokens", "8",
               "--dtype", "float32", "--max-model-len", "2048", "--out", str(out),
               "--judge", "tiny", "--judge-base-url", vllm_server, "--judge-mode", "all",
               "--judge-concurrency", "1", "--judge-max-tokens", "8"]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, start_new_session=True)
    cache_path = out / "judge" / "cache.jsonl"
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and process.poll() is None:
        if cache_path.is_file() and len(cache_path.read_text().splitlines()) >= 3:
            break
        time.sleep(0.05)
    assert process.poll() is None, "the run ended before it could be killed mid-judging"
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    at_kill = {json.loads(line)["key"] for line in cache_path.read_text().splitlines()
               if line.endswith("}")}
    assert not (out / "results.json").is_file()

    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    keys = [json.loads(line)["key"] for line in cache_path.read_text().splitlines()]
    assert len(keys) == len(set(keys)), "a cached question was asked again"
    assert at_kill <= set(keys)
    results = json.loads((out / "results.json").read_text())["tasks"]
    asked = sum(results[t]["judge"]["requests"]["asked"] for t in ("logicvista", "mathverse"))
    assert asked == len(keys) - len(at_kill)
    for name in ("logicvista", "mathverse"):
        assert results[name]["judge"]["scores"]["n"] == results[name]["n"] == 6
