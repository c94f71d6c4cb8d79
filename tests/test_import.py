"""``ovr import``: a real lm-eval ``--log_samples`` file (tests/data/lm-eval, made by lm-eval
0.4.13 with its vLLM backend) and VLMEvalKit prediction files (tests/data/vlmevalkit, built in
the format its code writes: see the README there) become run folders that ``ovr compare`` and
``ovr report`` read."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from conftest import REPO
from ovr_eval.cli import app
from ovr_eval.importers import import_run
from ovr_eval.types import UserError

LM_EVAL = REPO / "tests" / "data" / "lm-eval"
VLMEVALKIT = REPO / "tests" / "data" / "vlmevalkit"


def _records(out: Path, task: str) -> list[dict]:
    return [json.loads(line) for line in (out / "samples" / f"{task}.jsonl").open()]


def _lm_eval_samples() -> Path:
    (found,) = sorted(LM_EVAL.glob("**/samples_*.jsonl"))
    return found


def test_lm_eval_samples_become_a_run_that_compare_and_report_read(shared_data, tmp_path):
    source = _lm_eval_samples()
    lines = [json.loads(line) for line in source.read_text().splitlines()]
    out = tmp_path / "run"
    summary = import_run("lm-eval", [source], "math500", out, data_dir=shared_data)
    result = summary.tasks["math500"]
    assert result.imported is not None
    assert result.imported.matched == result.n == len({x["doc_id"] for x in lines})
    assert result.imported.matched_by == {"task id": result.n}
    assert result.imported.unmatched == 0
    records = {r["id"]: r for r in _records(out, "math500")}
    for line in lines:
        record = records[line["doc"]["unique_id"]]
        assert record["responses"] == [r for resp in line["resps"] for r in resp]
        assert record["prompt"] == line["arguments"]["gen_args_0"]["arg_0"]
        assert record["gold"] == line["doc"]["answer"]
    config = json.loads((out / "config.json").read_text())
    assert config["engine"] == "import:lm-eval"
    assert config["engine_options"]["imported_from"] == [str(source)]
    assert config["engine_options"]["lm_eval_version"]
    assert config["model"].endswith("tiny")  # from the results file beside the samples
    assert config["task_versions"] == {"math500": 1}  # provenance: the task and its data
    assert config["data"]["math500"]["id"].startswith("sha256:")

    # the same command again resumes: nothing added, same score
    again = import_run("lm-eval", [source], "math500", out, data_dir=shared_data)
    assert again.tasks["math500"].score == result.score
    assert len(_records(out, "math500")) == len(records)

    compared = CliRunner().invoke(app, ["compare", str(out), "--json"])
    assert compared.exit_code == 0, compared.output
    row = json.loads(compared.output)["reference"][str(out)][0]
    assert row["task"] == "math500" and row["n"] == result.n and row["reported"] is not None
    reported = CliRunner().invoke(app, ["report", str(out), "-o", str(tmp_path / "r.html")])
    assert reported.exit_code == 0, reported.output
    assert f"{result.n} samples" in " ".join(reported.output.split())
    from ovr_eval.report import build_report

    report = build_report([out])
    assert {s.id for s in report.samples} == set(records)
    run_row = next(r for r in report.rows if r.kind == "run")
    assert run_row.cells["math500"].n == result.n


@pytest.mark.parametrize("suffix", ["xlsx", "tsv", "json"])
def test_vlmevalkit_predictions_in_each_format(suffix, shared_data, tmp_path):
    source = VLMEVALKIT / f"tiny_LogicVista.{suffix}"
    out = tmp_path / suffix
    result = CliRunner().invoke(app, ["import", "vlmevalkit", str(source), "--task",
                                      "logicvista", "--out", str(out), "--data-dir",
                                      str(shared_data)])
    assert result.exit_code == 0, result.output
    task = json.loads((out / "results.json").read_text())["tasks"]["logicvista"]
    assert task["n"] == 4 and task["imported"]["matched_by"] == {"question text": 4}
    records = {r["id"]: r for r in _records(out, "logicvista")}
    assert set(records) == {"v1_0", "v1_1", "v1_2", "v1_3"}
    assert records["v1_0"]["correct"] == [True]  # "... so the answer is C." (gold C)
    assert records["v1_3"]["correct"] == [False]  # "Answer: B" (gold D)
    assert records["v1_0"]["responses"][0].startswith("The dot stays in place")
    assert json.loads((out / "config.json").read_text())["model"] == "tiny"


def test_rows_that_match_no_sample_are_counted_never_guessed(shared_data, tmp_path):
    rows = json.loads((VLMEVALKIT / "tiny_LogicVista.json").read_text())
    rows.append({"index": 9999, "question": "A question that is not in LogicVista?",
                 "answer": "A", "prediction": "A"})
    source = tmp_path / "mine_LogicVista.json"
    source.write_text(json.dumps(rows))
    summary = import_run("vlmevalkit", [source], "logicvista", tmp_path / "run",
                         data_dir=shared_data)
    imported = summary.tasks["logicvista"].imported
    assert imported is not None
    assert (imported.rows, imported.matched, imported.unmatched) == (5, 4, 1)
    assert imported.unmatched_rows[0]["position"] == 4
    saved = json.loads((tmp_path / "run" / "results.json").read_text())["tasks"]["logicvista"]
    assert saved["imported"]["unmatched"] == 1  # written with the scores, in one write


def test_import_mistakes_are_one_clear_line(shared_data, tmp_path):
    with pytest.raises(UserError, match="not found"):
        import_run("lm-eval", [tmp_path / "nope.jsonl"], "math500", tmp_path / "r")
    with pytest.raises(UserError, match="unknown format"):
        import_run("helm", [_lm_eval_samples()], "math500", tmp_path / "r")
    with pytest.raises(UserError, match="no row of"):  # lm-eval's MATH500 rows vs LogicVista
        import_run("lm-eval", [_lm_eval_samples()], "logicvista", tmp_path / "r",
                   data_dir=shared_data)
    table = tmp_path / "x_y.json"
    table.write_text(json.dumps([{"index": 1, "question": "q"}]))
    with pytest.raises(UserError, match="no 'prediction' column"):
        import_run("vlmevalkit", [table], "logicvista", tmp_path / "r", data_dir=shared_data)
    with pytest.raises(UserError, match="not an lm-eval samples file"):
        import_run("lm-eval", [VLMEVALKIT / "tiny_LogicVista.json"], "logicvista",
                   tmp_path / "r", data_dir=shared_data)
