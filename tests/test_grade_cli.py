"""`ovr grade`: other harnesses' outputs graded as `ovr eval` grades a task."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from ovr_eval.grading import grade_file
from ovr_eval.task_registry import resolve

OVR = [sys.executable, "-m", "ovr_eval.cli"]


def _write(path: Path, lines: list[dict | bytes | str]) -> Path:
    chunks = [x if isinstance(x, bytes) else (x if isinstance(x, str) else json.dumps(x)).encode()
              for x in lines]
    path.write_bytes(b"\n".join(chunks) + b"\n")
    return path


def _graded(path: Path) -> list[dict]:
    return [json.loads(x) for x in path.read_text().splitlines()]


def test_task_lines_take_choices_from_the_sample_of_the_same_id(tmp_path, shared_data):
    # LogicVista v1_41: "... Select from A, B and C. (A) True (B)False (C)Insufficient
    # Information", gold B. The line carries neither the gold nor the options.
    source = _write(tmp_path / "lv.jsonl", [{"id": "v1_41", "response": "False"},
                                            {"id": "v1_41", "response": "The answer is True."}])
    graded = grade_file(source, tmp_path / "out.jsonl", task=resolve("logicvista")[0],
                        data_dir=shared_data)
    lines = _graded(tmp_path / "out.jsonl")
    assert graded.joined == 2
    assert [line["correct"] for line in lines] == [True, False]
    assert lines[0]["extracted"] == "B" and lines[0]["answer"] == "B"
    assert graded.scores and graded.scores["n"] == 1


def test_task_official_rules_decide_task_correct(tmp_path):
    # MathVista's float rule: rounded to the item's precision (1), 2.36 reads as 2.4
    source = _write(tmp_path / "mv.jsonl", [
        {"id": "7", "response": "So the length is 2.36.", "answer": "2.4",
         "answer_type": "float", "precision": 1, "question_type": "free_form"}])
    graded = grade_file(source, tmp_path / "out.jsonl", task=resolve("mathvista")[0])
    (line,) = _graded(tmp_path / "out.jsonl")
    assert line["correct"] is False and line["task_correct"] is True
    assert graded.scores and graded.scores["score"] == 1.0


def test_predictions_are_graded_as_extracted_answers(tmp_path):
    source = _write(tmp_path / "p.jsonl", [
        {"prediction": "\\begin{bmatrix}1&0\\\\0&1\\end{bmatrix}",
         "answer": "\\begin{pmatrix}1&0\\\\0&1\\end{pmatrix}"},
        {"prediction": "28 percent", "answer": "28\\%"},
        {"prediction": "c", "answer": "C", "choices": ["1", "2", "3"], "multiple_choice": True}])
    graded = grade_file(source, tmp_path / "out.jsonl")
    assert graded.correct == 3 and all(x["method"].startswith("prediction")
                                       for x in _graded(tmp_path / "out.jsonl"))


def test_bad_lines_are_named_and_skipped(tmp_path):
    source = _write(tmp_path / "bad.jsonl", [
        {"response": "\\boxed{4}", "answer": "4"},
        b'{"response": "\xff\xfe", "answer": "4"}',   # not UTF-8
        "{not json",
        {"answer": "4"},                                # no response
        {"response": "\\boxed{4}", "answer": "4", "multiple_choice": "yes"},
        {"response": "\\boxed{4}", "answer": "4", "metadata": "x"},  # metadata: not an object
        {"response": "\\boxed{4}", "answer": ""},       # empty gold: skipped, not wrong
    ])
    result = subprocess.run([*OVR, "grade", str(source), "-o", str(tmp_path / "out.jsonl")],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    said = result.stdout + result.stderr
    for number in (2, 3, 4, 5, 6, 7):
        assert f"line {number}" in said
    assert "not UTF-8" in said and "'metadata' must be a JSON object" in said
    lines = _graded(tmp_path / "out.jsonl")
    assert [x["correct"] for x in lines] == [True]


def test_the_output_may_not_be_an_input(tmp_path):
    source = _write(tmp_path / "in.jsonl", [{"response": "\\boxed{1}", "answer": "1"}] * 8)
    before = source.read_bytes()
    result = subprocess.run([*OVR, "grade", str(source), "-o", str(source)],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode != 0
    assert "is an input file" in result.stderr + result.stdout
    assert "Traceback" not in result.stderr
    assert source.read_bytes() == before


def test_several_files_get_a_score_each(tmp_path):
    a = _write(tmp_path / "a.jsonl", [{"response": "\\boxed{2}", "answer": "2"}] * 3)
    b = _write(tmp_path / "b.jsonl", [{"response": "\\boxed{3}", "answer": "2"}] * 2)
    result = subprocess.run([*OVR, "grade", str(a), str(b), "--task", "math500"],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "a.graded.jsonl").is_file() and (tmp_path / "b.graded.jsonl").is_file()
    assert "100.0" in result.stdout and "0.0" in result.stdout


def test_a_zero_gold_or_prediction_given_as_a_json_number_is_graded(tmp_path):
    source = _write(tmp_path / "zero.jsonl", [
        {"response": "The answer is 0.", "answer": 0},
        {"prediction": 0, "answer": "0"},
        {"response": "The answer is 1.", "answer": 0}])
    result = subprocess.run([*OVR, "grade", str(source), "-o", str(tmp_path / "out.jsonl")],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    lines = _graded(tmp_path / "out.jsonl")
    assert [x["correct"] for x in lines] == [True, True, False]
    assert [x["error"] for x in lines] == [None, None, None]
    assert [x["extracted"] for x in lines] == ["0", "0", "1"]


def test_judge_without_a_judged_task_is_refused_before_the_server_is_asked(tmp_path):
    source = _write(tmp_path / "in.jsonl", [{"response": "\\boxed{1}", "answer": "1"}])
    for task in ([], ["--task", "math500"]):
        result = subprocess.run([*OVR, "grade", str(source), *task, "--judge", "any-model",
                                 "--judge-base-url", "http://127.0.0.1:9/v1"],
                                capture_output=True, text=True, timeout=120)
        said = result.stdout + result.stderr
        assert result.returncode != 0 and "--judge needs --task" in said, said
        assert "Traceback" not in said and not (tmp_path / "in.graded.jsonl").exists()


def test_task_lines_naming_no_sample_are_counted_and_scored_by_accuracy(tmp_path):
    # DynaMath's worst-case metric groups a seed's variants, read from the samples' metadata;
    # lines without a task id have none: graded by the rules, scored by accuracy, said once
    source = _write(tmp_path / "dm.jsonl", [{"response": "The answer is 3.", "answer": "3"},
                                            {"response": "\\boxed{2}", "answer": "5"}])
    result = subprocess.run([*OVR, "grade", str(source), "--task", "dynamath"],
                            capture_output=True, text=True, timeout=120)
    said = result.stdout + result.stderr
    assert result.returncode == 0, said
    assert "Traceback" not in said and "KeyError" not in said
    assert "2 of 2 line(s) match no dynamath sample" in " ".join(said.split())
    lines = _graded(tmp_path / "dm.graded.jsonl")
    assert [x["task_correct"] for x in lines] == [True, False]
    assert "50.0" in result.stdout


def test_task_metric_needs_every_line_to_name_a_sample(tmp_path, shared_data):
    task = resolve("dynamath")[0]
    matched = _write(tmp_path / "one.jsonl", [{"id": "1/v1", "response": "The answer is 7."}])
    graded = grade_file(matched, tmp_path / "one.out.jsonl", task=task, data_dir=shared_data)
    assert graded.joined == 1 and graded.unmatched == 0 and graded.task_metric
    assert graded.scores and graded.scores["metric"] == "worst-case accuracy"
    mixed = _write(tmp_path / "mixed.jsonl", [{"id": "1/v1", "response": "The answer is 7."},
                                              {"id": "no-such", "response": "4", "answer": "4"}])
    graded = grade_file(mixed, tmp_path / "mixed.out.jsonl", task=task, data_dir=shared_data)
    assert graded.joined == 1 and graded.unmatched == 1 and not graded.task_metric
    assert graded.scores and graded.scores["score"] == 0.5
    assert graded.scores["metric"].startswith("accuracy under dynamath's rules")


def test_lines_without_a_gold_are_skipped_and_reported_not_counted_wrong(tmp_path):
    source = _write(tmp_path / "in.jsonl", [
        {"response": "\\boxed{4}"},                       # no answer at all
        {"response": "\\boxed{4}", "answer": None},
        {"response": "\\boxed{4}", "answer": "4"},
        {"id": "nowhere", "response": "\\boxed{5}"}])
    result = subprocess.run([*OVR, "grade", str(source), "--task", "math500"],
                            capture_output=True, text=True, timeout=120,
                            env={**os.environ, "COLUMNS": "250"})
    said = " ".join((result.stdout + result.stderr).split())
    assert result.returncode == 0, said
    for number in (1, 2, 4):
        assert f"skipped line {number}: no gold answer" in said
    lines = _graded(tmp_path / "in.graded.jsonl")
    assert [x["correct"] for x in lines] == [True]
    assert "100.0" in said and "3 no gold" in said


def test_a_file_that_is_not_text_is_refused_in_one_line(tmp_path):
    image = tmp_path / "picture.jsonl"
    image.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 40)
    good = _write(tmp_path / "good.jsonl", [{"response": "\\boxed{1}", "answer": "1"}])
    result = subprocess.run([*OVR, "grade", str(good), str(image)],
                            capture_output=True, text=True, timeout=120)
    said = result.stdout + result.stderr
    assert result.returncode == 2, said
    assert "is not a text file" in said and "Traceback" not in said
    assert "skipped line" not in said and len(said.strip().splitlines()) == 1, said
    assert sorted(p.name for p in tmp_path.iterdir()) == ["good.jsonl", "picture.jsonl"]


def test_a_directory_given_as_input_is_named_as_a_directory(tmp_path):
    folder = tmp_path / "outputs"
    folder.mkdir()
    result = subprocess.run([*OVR, "grade", str(folder)], capture_output=True, text=True,
                            timeout=120)
    said = result.stdout + result.stderr
    assert result.returncode == 2, said
    assert "is a directory, not a file" in said and "does not exist" not in said
    assert "Traceback" not in said and list(folder.iterdir()) == []


@pytest.mark.slow
def test_a_local_judge_folder_means_a_local_judge(tmp_path):
    from ovr_eval.cli.judge_options import default_judge_engine

    folder = tmp_path / "judge-model"
    folder.mkdir()
    assert default_judge_engine(str(folder)) == "vllm"
    assert default_judge_engine("Qwen/Qwen2.5-72B-Instruct") == "openai"
    source = _write(tmp_path / "in.jsonl", [{"id": "1", "response": "3", "answer": "3"}])
    # no --judge-engine: the folder is loaded locally (and found not to be a checkpoint), never
    # sent to a server
    result = subprocess.run([*OVR, "grade", str(source), "--task", "mathvista", "--judge",
                             str(folder)], capture_output=True, text=True, timeout=120)
    said = result.stdout + result.stderr
    assert result.returncode == 2 and "Traceback" not in said, said
    assert "cannot reach the server" not in said
    assert "no config.json" in said or "vllm is not installed" in said, said
    assert not (tmp_path / "in.graded.jsonl").exists()
    # --judge-engine openai still sends a folder's name to a server
    result = subprocess.run([*OVR, "grade", str(source), "--task", "mathvista", "--judge",
                             str(folder), "--judge-engine", "openai", "--judge-base-url",
                             "http://127.0.0.1:9/v1"], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 2 and "cannot reach the server" in result.stderr
