"""The typed files of a run folder: records and results.json carry a schema version, old files
without one still load, a newer layout is refused in one line, unknown fields survive a rewrite."""

from __future__ import annotations

import json

import pytest

from ovr_eval.evaluate import make_record
from ovr_eval.records import SCHEMA_VERSION, Record, RunResults, TaskResult
from ovr_eval.runs import RunDir, load_run
from ovr_eval.types import Completion, Sample, UserError


def saved(tmp_path, records: list[dict], results: dict | None = None) -> RunDir:
    run = RunDir(tmp_path / "run")
    run.samples_dir.mkdir(parents=True)
    run.samples_path("math500").write_text("".join(json.dumps(r) + "\n" for r in records))
    if results is not None:
        run.results_path.write_text(json.dumps(results))
    return run


def test_a_record_is_written_with_its_schema_version_and_read_back_whole(tmp_path):
    sample = Sample(id="7", task="math500", question="1+1?", answer="2", metadata={"level": 1})
    record = make_record(sample, "test", Completion("7", ["\\boxed{2}", "3"], prompt="p",
                                                    completion_tokens=[4, 1],
                                                    finish_reasons=["stop", "length"],
                                                    token_ids=[[5, 6, 7, 2], [9]]), 2.0)
    run = RunDir(tmp_path / "run")
    run.samples_dir.mkdir(parents=True)
    writer = run.writer("math500")
    writer.write(record)
    writer.close()
    line = json.loads(run.samples_path("math500").read_text())
    assert line["schema_version"] == SCHEMA_VERSION and line["correct"] == [True, False]
    assert line["token_ids"] == [[5, 6, 7, 2], [9]]  # what `ovr budget` cuts responses with
    assert run.records("math500") == [record]


def test_records_without_a_version_load_with_defaults(tmp_path):
    run = saved(tmp_path, [{"id": 3, "correct": [True], "gold": 12, "responses": [None]}])
    (record,) = run.records("math500")
    assert (record.id, record.gold, record.responses, record.correct) == ("3", "12", [""], [True])
    assert record.metadata == {} and record.choices is None and record.judge is None
    assert record.token_ids is None  # saved before token ids were: not an empty list


def test_a_newer_record_or_results_layout_is_one_clear_error(tmp_path):
    run = saved(tmp_path, [{"id": "1", "correct": [True], "schema_version": SCHEMA_VERSION + 1}])
    with pytest.raises(UserError, match="written by a newer ovr-eval"):
        run.records("math500")
    scores = {"score": 1.0, "stderr": None, "ci95": [0.2, 1.0], "n": 1}
    newer = {"schema_version": SCHEMA_VERSION + 1, "model": "m", "tasks": {"math500": scores}}
    run = saved(tmp_path / "b", [{"id": "1", "correct": [True]}], newer)
    with pytest.raises(UserError, match=r"results\.json: .*newer ovr-eval"):
        load_run(run.path)


def test_fields_a_version_does_not_know_survive_a_rewrite(tmp_path):
    run = saved(tmp_path, [{"id": "1", "correct": [True], "future_field": {"x": 1}}])
    run.rewrite_records("math500", run.records("math500"))
    assert json.loads(run.samples_path("math500").read_text())["future_field"] == {"x": 1}


def test_results_round_trip_keeps_every_part_of_a_task_result(tmp_path):
    entry = {"split": "test", "metric": "wemath strict", "score": 0.5, "stderr": 0.1,
             "ci95": [0.3, 0.7], "n": 4, "stderr_rerun": None, "ci95_rerun": None,
             "stderr_rerun_k1": None, "samples_per_item": 1, "subsets": {},
             "tokens": {"mean_completion_tokens": 3.0, "truncated_fraction": 0.0},
             "loose": {"score": 0.75, "n": 4}, "skipped": {"count": 0, "rows": []},
             "check_failures": {}}
    results = RunResults.from_json({"model": "m", "tasks": {"wemath": entry}})
    task = results.tasks["wemath"]
    assert task.part("loose") == {"score": 0.75, "n": 4} and task.score == 0.5
    assert results.to_json() == {"schema_version": SCHEMA_VERSION, "model": "m",
                                 "tasks": {"wemath": entry}}
    assert TaskResult.from_json(task.to_json()) == task


def test_a_record_without_verdicts_cannot_be_scored(tmp_path):
    run = saved(tmp_path, [{"id": "0", "question": "no responses were kept"}],
                {"model": "m", "tasks": {"math500": {"score": 1.0, "stderr": None,
                                                     "ci95": [0.2, 1.0], "n": 1}}})
    with pytest.raises(UserError, match="malformed record: record '0' holds no verdicts"):
        load_run(run.path).units("math500")
    assert Record.from_json({"id": "0"}).correct == []  # shown as unknown by ovr report
