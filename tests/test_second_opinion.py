"""Math-Verify's second opinion on every response: its verdict per response in the records,
disagreements with the rules counted in results.json, the summary table, ``ovr grade`` and the
report's sample browser; a Math-Verify timeout is no opinion, never a disagreement."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from ovr_eval.evaluate import make_record
from ovr_eval.grading import grade_file
from ovr_eval.metrics import disagreements, second_opinion_summary
from ovr_eval.records import Record, RunResults, TaskResult
from ovr_eval.report import build_report
from ovr_eval.runs import RunDir, load_run
from ovr_eval.types import Completion, Sample
from ovr_eval.verify.second_opinion import plan, second_opinions

OVR = [sys.executable, "-m", "ovr_eval.cli"]
CHOICES = ["1", "2", "3", "4"]
BOTH = "Subtracting 5 from both sides, the answer is $\\boxed{\\frac{3}{4}}$."
# documented rule forms Math-Verify does not read: an inequality for an interval gold, and a
# letter in parentheses (its letter extraction reads a bare letter only)
INTERVAL = ("So $x - 5 \\ge 0$ and the answer is $\\boxed{x \\ge 5}$.", "[5, \\infty)")
LETTER = ("Only the third option fits, so the answer is (C).", "C")


def free(gold: str) -> Sample:
    return Sample(id=f"q-{gold}", task="mine", question="Solve it.", answer=gold)


def choice(gold: str) -> Sample:
    return Sample(id=f"c-{gold}", task="mine", question="Which one? (A) 1 (B) 2 (C) 3 (D) 4",
                  answer=gold, choices=CHOICES, answer_type="multiple_choice")


def test_a_response_both_graders_credit_is_no_disagreement():
    record = make_record(free("\\frac{3}{4}"), "test", Completion("q", [BOTH, "It is 7."]), 2.0)
    assert record.correct == [True, False]
    assert record.math_verify == [True, False]
    assert disagreements(record) == []
    summary = second_opinion_summary([record])
    assert summary == {"responses": 2, "agree": 2, "disagree": 0, "rules_only": 0,
                       "math_verify_only": 0, "no_opinion": 0, "score": 0.5}


def test_a_format_the_graders_read_differently_is_counted_in_the_record():
    interval = make_record(free(INTERVAL[1]), "test", Completion("q", [INTERVAL[0]]), 2.0)
    letter = make_record(choice(LETTER[1]), "test",
                         Completion("c", ["C", LETTER[0], "The answer is B."]), 2.0)
    assert (interval.correct, interval.math_verify) == ([True], [False])
    assert letter.correct == [True, True, False]
    assert letter.math_verify == [True, False, False]
    assert disagreements(interval) == [0] and disagreements(letter) == [1]
    summary = second_opinion_summary([interval, letter])
    assert summary is not None
    assert (summary["responses"], summary["agree"], summary["disagree"]) == (4, 2, 2)
    assert (summary["rules_only"], summary["math_verify_only"]) == (2, 0)
    assert summary["score"] == 0.25
    # saved and read back: the verdicts stay per response
    assert Record.from_json(json.loads(json.dumps(letter.to_json()))).math_verify == \
        [True, False, False]


def test_turned_off_records_hold_no_verdicts_and_results_no_entry():
    record = make_record(free("2"), "test", Completion("q", ["\\boxed{2}"]), 2.0,
                         second_opinion=False)
    assert record.math_verify is None and "math_verify" not in record.to_json()
    assert second_opinion_summary([record]) is None


def test_math_verify_reads_what_the_rules_read():
    # after the thinking, as the rules read it
    response = "<think>maybe it is \\boxed{9}</think>So it is $\\boxed{4}$."
    assert plan(response, "4") == ("So it is $\\boxed{4}$.", "4", None)
    assert second_opinions([(response, "4"), (response, "9")]) == [True, False]
    # an option letter gold, read among the question's option letters
    assert plan("Answer: E", "(E)", ["a", "b", "c", "d", "e"]) == \
        ("Answer: E", "E", ("A", "B", "C", "D", "E"))
    # no opinion to give: an empty gold, a gold of several letters
    assert plan("\\boxed{2}", "") is None and plan("B and D", "B, D") is None
    assert second_opinions([("\\boxed{2}", ""), ("B and D", "B, D", CHOICES)]) == [None, None]


def test_a_math_verify_timeout_is_no_opinion_never_a_disagreement():
    long_sum = "+".join(f"x_{{{i}}}^{{{i}}}" for i in range(300))
    items = [(f"So the answer is $\\boxed{{{long_sum}}}$.", long_sum)]
    assert second_opinions(items, timeout_s=0.001) == [None]  # out of CPU time, twice
    record = Record(id="1", correct=[True], math_verify=[None])
    assert disagreements(record) == []
    summary = second_opinion_summary([record])
    assert summary is not None
    assert (summary["no_opinion"], summary["disagree"], summary["score"]) == (1, 0, 0.0)


def test_results_json_round_trip_with_and_without_the_entry():
    scores = {"score": 0.5, "stderr": 0.1, "ci95": [0.2, 0.8], "n": 2}
    entry = {"responses": 2, "agree": 1, "disagree": 1, "rules_only": 0,
             "math_verify_only": 1, "no_opinion": 0, "score": 1.0}
    new = {"model": "m", "tasks": {"t": {**scores, "math_verify": entry}}}
    read = RunResults.from_json(new)
    assert read.tasks["t"].math_verify == entry and "math_verify" not in read.tasks["t"].parts
    assert read.to_json()["tasks"]["t"]["math_verify"] == entry
    old = RunResults.from_json({"model": "m", "tasks": {"t": scores}})  # before the entry
    assert old.tasks["t"].math_verify is None
    assert "math_verify" not in old.to_json()["tasks"]["t"]
    assert TaskResult.from_json(old.to_json()["tasks"]["t"]) == old.tasks["t"]
    old_record = Record.from_json({"id": "1", "correct": [True], "responses": ["x"]})
    assert old_record.math_verify is None and "math_verify" not in old_record.to_json()


# ---------------------------------------------------------------- ovr grade


def test_grade_lines_carry_math_verify_and_the_table_counts_disagreements(tmp_path):
    lines = [{"response": BOTH, "answer": "\\frac{3}{4}"},
             {"response": INTERVAL[0], "answer": INTERVAL[1]},
             {"response": LETTER[0], "answer": LETTER[1], "choices": CHOICES}]
    source = tmp_path / "in.jsonl"
    source.write_text("".join(json.dumps(line) + "\n" for line in lines))
    graded = grade_file(source, tmp_path / "out.jsonl")
    out = [json.loads(x) for x in (tmp_path / "out.jsonl").read_text().splitlines()]
    assert [x["correct"] for x in out] == [True, True, True]
    assert [x["math_verify"] for x in out] == [True, False, False]
    assert (graded.disagree, graded.math_verify_only) == (2, 0)
    result = subprocess.run([*OVR, "grade", str(source), "-o", str(tmp_path / "cli.jsonl")],
                            capture_output=True, text=True, timeout=300,
                            env={**os.environ, "COLUMNS": "200"})
    assert result.returncode == 0, result.stderr
    assert "rules vs MV" in result.stdout
    grade_file(source, tmp_path / "off.jsonl", second_opinion=False)
    assert all("math_verify" not in json.loads(x)
               for x in (tmp_path / "off.jsonl").read_text().splitlines())


# ---------------------------------------------------------------- the report


def _run_folder(root: Path, records: list[Record]) -> Path:
    run = RunDir(root)
    run.samples_dir.mkdir(parents=True)
    run.config_path.write_text(json.dumps({"model": "m", "tasks": ["mine"]}))
    run.rewrite_records("mine", records)
    return root


def _selected(page: str, verdict: str) -> list[str]:
    """The ids of the samples the page's own filter code (report.js ``matches``) keeps for a
    "result" choice, run with node (skipped without it)."""
    if shutil.which("node") is None:
        pytest.skip("node is not installed")
    blob = re.search(r'<script type="application/json" id="report-data">(.*?)</script>', page,
                     re.S)
    code = re.search(r"  function haystack.*?\n  function refreshSubsets", page, re.S)
    assert blob and code
    functions = code.group(0).rsplit("\n", 1)[0]
    program = (f"var samples = JSON.parse({json.dumps(blob.group(1))}).samples;\n{functions}\n"
               f"var f = {{run: '', task: '', subset: '', verdict: {json.dumps(verdict)}, "
               "search: ''};\nconsole.log(JSON.stringify(samples.filter(function (s) { "
               "return matches(s, f); }).map(function (s) { return s.id; })));")
    result = subprocess.run(["node", "-e", program], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_the_report_filters_the_samples_where_rules_and_math_verify_disagree(tmp_path):
    agree = make_record(free("\\frac{3}{4}"), "test", Completion("q", [BOTH]), 2.0)
    differ = make_record(choice(LETTER[1]), "test", Completion("c", ["C", LETTER[0]]), 2.0)
    unsure = Record(id="u", task="mine", gold="2", responses=["\\boxed{2}"], correct=[True],
                    math_verify=[None])
    report = build_report([_run_folder(tmp_path / "run", [agree, differ, unsure])])
    by_id = {s.id: s for s in report.samples}
    assert {i for i, s in by_id.items() if s.mv_disagree} == {differ.id}
    assert [r.math_verify for r in by_id[differ.id].responses] == ["correct", "incorrect"]
    assert by_id["u"].responses[0].math_verify == "unknown"  # no opinion, no disagreement

    from ovr_eval.report import load_katex, render_html

    page = render_html(report, *load_katex())
    assert '<option value="mv-disagree">rules and Math-Verify disagree</option>' in page
    assert _selected(page, "mv-disagree") == [differ.id]  # the browser's own filter code
    assert len(_selected(page, "")) == 3

    old = Record(id="o", task="mine", gold="2", responses=["\\boxed{2}"], correct=[True])
    old_report = build_report([_run_folder(tmp_path / "old", [old])])
    assert old_report.samples[0].responses[0].math_verify is None
    assert 'value="mv-disagree"' not in render_html(old_report, *load_katex())


# ---------------------------------------------------------------- ovr eval, end to end

PLUGIN = '''
from ovr_eval.tasks import Task
from ovr_eval.types import Sample

ROWS = [{"id": "interval", "question": "For which x is x - 5 at least 0?",
         "answer": "[5, \\\\infty)"},
        {"id": "choice", "question": "Which one is 3? (A) 1 (B) 2 (C) 3 (D) 4", "answer": "C",
         "choices": ["1", "2", "3", "4"]}]


class Mine(Task):
    def hub_rows(self, split):
        return ROWS

    def local_rows(self, data_dir, split):
        return ROWS

    def data_fingerprint(self, split, data_dir):
        return {"kind": "generated", "id": "generated:mine"}

    def row_to_sample(self, row, index, base_dir):
        choices = row.get("choices")
        return Sample(id=row["id"], task=self.name, question=row["question"],
                      answer=row["answer"], choices=choices,
                      answer_type="multiple_choice" if choices else "free_form")


TASK = Mine(name="mine", description="two items written for this test", hub_id="",
            revision=None,  # generated here: no hub data
            default_split="test", splits=("test",), default_prompt="plain")
'''


@pytest.mark.slow
def test_eval_records_second_opinions_and_a_resumed_run_counts_them(tmp_path, tiny_model):
    plugins = tmp_path / "plugins"
    plugins.mkdir()
    (plugins / "mine.py").write_text(PLUGIN)
    out = tmp_path / "run"
    args = [*OVR, "eval", "--model", str(tiny_model), "--tasks", "mine", "--task-dir",
            str(plugins), "--engine", "hf", "--dtype", "float32", "--max-tokens", "6",
            "--samples", "2", "--temperature", "1", "--out", str(out)]
    env = {**os.environ, "COLUMNS": "200"}
    first = subprocess.run(args, capture_output=True, text=True, timeout=600, env=env)
    assert first.returncode == 0, first.stderr[-3000:]
    run = RunDir(out)
    records = run.records("mine")
    assert all(r.math_verify is not None and len(r.math_verify) == 2 for r in records)
    entry = run.read_results().tasks["mine"].math_verify  # type: ignore[union-attr]
    assert entry is not None and entry["responses"] == 4
    assert "rules vs MV" in first.stdout

    # the model's answers, as if it had written these: both graders credit the first response
    # of each sample, only the rules the second
    answers = {"interval": ["So the answer is $\\boxed{[5, \\infty)}$.", INTERVAL[0]],
               "choice": ["C", LETTER[0]]}
    samples = {r.id: Sample(id=r.id, task=r.task, question=r.question, answer=r.gold,
                            choices=r.choices, answer_type=r.answer_type)  # type: ignore[arg-type]
               for r in records}
    run.rewrite_records("mine", [make_record(samples[i], "test", Completion(i, a), 2.0)
                                 for i, a in answers.items()])
    partial = load_run(out).tasks["mine"]  # re-scored from the records, not yet in results
    assert partial.partial and partial.math_verify is not None
    assert (partial.math_verify["disagree"], partial.math_verify["rules_only"]) == (2, 2)

    resumed = subprocess.run(args, capture_output=True, text=True, timeout=600, env=env)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "resuming" in resumed.stdout
    saved = json.loads((out / "results.json").read_text())["tasks"]["mine"]
    assert saved["math_verify"] == {"responses": 4, "agree": 2, "disagree": 2, "rules_only": 2,
                                    "math_verify_only": 0, "no_opinion": 0, "score": 0.5}
    row = next(line for line in resumed.stdout.splitlines() if line.lstrip("│ ").startswith(
        "mine"))
    header = next(line for line in resumed.stdout.splitlines() if "rules vs MV" in line)
    cells = [c.strip() for c in re.split("[│┃]", row)]
    assert cells[[c.strip() for c in re.split("[│┃]", header)].index("rules vs MV")] == "2"
