"""`ovr compare` explains a gap to the paper: measured terms that sum to it, named differences
the run cannot measure (ovr_eval/gap.py)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from ovr_eval.cli import app
from ovr_eval.compare import compare_to_reference
from ovr_eval.gap import JUDGE, MODEL, NO_ANSWER, TRUNCATION, Gap, GapTerm
from ovr_eval.judge_views import with_judged_rows
from ovr_eval.metrics import task_scores
from ovr_eval.records import Record
from ovr_eval.runs import load_run

# one response per problem: (correct, finish reason, extracted answer)
Response = tuple[bool, str, str | None]


def response_record(i: int, responses: list[Response], **extra: Any) -> dict[str, Any]:
    return {"id": f"q{i}", "correct": [c for c, _, _ in responses],
            "finish_reasons": [f for _, f, _ in responses],
            "extracted": [x for _, _, x in responses],
            "methods": ["boxed" if x else "none" for _, _, x in responses], **extra}


def write_run(root: Path, task: str, records: list[dict[str, Any]], split: str = "test",
              config: dict[str, Any] | None = None, judge: dict[str, Any] | None = None) -> Path:
    """A run folder as `ovr eval` writes it, one task, full records."""
    (root / "samples").mkdir(parents=True)
    (root / "config.json").write_text(json.dumps({"model": "m", "tasks": [task],
                                                  **(config or {})}))
    with (root / "samples" / f"{task}.jsonl").open("w") as handle:
        for record in records:
            handle.write(json.dumps(record) + "\n")
    scores = task_scores([Record.from_json(r) for r in records])
    entry = {"split": split, **scores, "skipped": {"count": 0, "rows": []}}
    if judge is not None:
        entry["judge"] = judge
    (root / "results.json").write_text(json.dumps({"model": "m", "tasks": {task: entry}}))
    return root


def mixed(n_right: int = 6, n_wrong: int = 2, n_cut: int = 4, n_none: int = 2) -> list[Response]:
    return ([(True, "stop", "1")] * n_right + [(False, "stop", "2")] * n_wrong
            + [(False, "length", None)] * n_cut + [(False, "stop", None)] * n_none)


def the_gap(root: Path, reference: str = "OVR-7B-RL") -> Gap:
    run = load_run(root)
    rows = with_judged_rows(run, compare_to_reference(run, reference), reference)
    assert rows[0].gap is not None
    return rows[0].gap


def term(gap: Gap, name: str) -> GapTerm:
    return next(t for t in gap.terms if t.name == name)


def test_terms_sum_to_the_gap_and_truncation_gets_its_points(tmp_path):
    records = [response_record(i, [r]) for i, r in enumerate(mixed())]
    gap = the_gap(write_run(tmp_path / "run", "math500", records))
    # 6 of 14 right; the 8 answered are right 75% of the time
    assert gap.gap == pytest.approx(100 * 6 / 14 - 95.3)
    assert sum(t.points for t in gap.measured) == pytest.approx(gap.gap, abs=1e-9)
    assert term(gap, TRUNCATION).points == pytest.approx(100 * 4 / 14 * (0 - 0.75))
    assert term(gap, TRUNCATION).responses == 4
    assert term(gap, NO_ANSWER).points == pytest.approx(100 * 2 / 14 * (0 - 0.75))
    assert term(gap, MODEL).points == pytest.approx(75.0 - 95.3)
    for name in (TRUNCATION, NO_ANSWER, MODEL):
        low, high = term(gap, name).ci95
        assert low <= term(gap, name).points <= high and low < high


def test_several_responses_a_problem_weigh_as_in_the_score(tmp_path):
    responses = mixed()
    records = [response_record(i, [responses[i], responses[-1 - i]]) for i in range(7)]
    gap = the_gap(write_run(tmp_path / "run", "math500", records))
    assert sum(t.points for t in gap.measured) == pytest.approx(gap.gap, abs=1e-9)
    assert term(gap, TRUNCATION).points < 0 and term(gap, TRUNCATION).responses == 4


def test_a_run_without_truncation_attributes_nothing_to_it(tmp_path):
    records = [response_record(i, [r]) for i, r in enumerate(mixed(n_cut=0))]
    gap = the_gap(write_run(tmp_path / "run", "math500", records))
    assert term(gap, TRUNCATION).points == 0.0 and term(gap, TRUNCATION).ci95 == [0.0, 0.0]


def test_an_unmeasurable_split_difference_is_named(tmp_path):
    records = [response_record(i, [r]) for i, r in enumerate(mixed())]
    gap = the_gap(write_run(tmp_path / "run", "mathvision", records, split="testmini",
                            config={"limit": 14}))
    split = term(gap, "split")
    assert split.points is None and "'testmini'" in split.detail and "'test'" in split.detail
    assert term(gap, "subset").points is None and "--limit" in term(gap, "subset").detail
    assert "split" in term(gap, MODEL).detail  # the remainder says it holds it
    assert sum(t.points for t in gap.measured) == pytest.approx(gap.gap, abs=1e-9)


def test_a_sampling_protocol_other_than_the_papers_is_named(tmp_path):
    records = [response_record(i, [r]) for i, r in enumerate(mixed())]
    greedy = {"sampling": {"n": 1, "temperature": 0.0, "top_p": 1.0}}
    gap = the_gap(write_run(tmp_path / "run", "math500", records, config=greedy))
    sampling = term(gap, "sampling")
    assert sampling.points is None
    assert "greedy" in sampling.detail and "avg@16" in sampling.detail
    as_paper = {"sampling": {"n": 1, "temperature": 1.0, "top_p": 1.0}}
    gap = the_gap(write_run(tmp_path / "paper", "mathvision", records, config=as_paper))
    assert all(t.name != "sampling" for t in gap.terms)


def test_rules_vs_the_official_judge_is_measured_when_judged(tmp_path):
    records = []
    for i, (c, f, x) in enumerate(mixed()):
        judged_right = c or (f == "stop" and x is None)  # the judge reads the unmarked ones
        judge = {"model": "j", "mode": "fallback", "protocol": "mathvista",
                 "extracted": [x or "1"], "correct": [judged_right], "methods": ["judge"],
                 "errors": [None]}
        records.append(response_record(i, [(c, f, x)], judge=judge))
    judged_scores = task_scores([Record.from_json({**r, "correct": r["judge"]["correct"],
                                                   "extracted": r["judge"]["extracted"]})
                                 for r in records])
    root = write_run(tmp_path / "run", "mathvista", records, split="testmini",
                     judge={"model": "j", "mode": "fallback", "protocol": "mathvista",
                            "scores": judged_scores})
    run = load_run(root)
    rules_row, judged_row = with_judged_rows(run, compare_to_reference(run, "OVR-7B-RL"),
                                             "OVR-7B-RL")
    assert rules_row.gap is not None and judged_row.gap is not None
    judge = term(rules_row.gap, JUDGE)
    assert judge.points == pytest.approx(100 * (6 - 8) / 14) and judge.responses == 2
    for row in (rules_row, judged_row):
        assert row.gap is not None
        assert sum(t.points for t in row.gap.measured) == pytest.approx(row.gap.gap, abs=1e-9)
    assert all(t.name != JUDGE for t in judged_row.gap.terms)  # the official row itself
    # both rows rest on the judged verdicts once the judge's term is taken out
    assert term(rules_row.gap, MODEL).points == pytest.approx(term(judged_row.gap, MODEL).points)


def test_an_unjudged_run_of_a_judged_benchmark_names_the_judge(tmp_path):
    records = [response_record(i, [r]) for i, r in enumerate(mixed())]
    gap = the_gap(write_run(tmp_path / "run", "mathvista", records, split="testmini"))
    assert term(gap, JUDGE).points is None and "--judge" in term(gap, JUDGE).detail


def test_a_metric_that_is_no_mean_over_responses_is_not_converted(tmp_path):
    records = [response_record(i, [r]) for i, r in enumerate(mixed())]
    root = write_run(tmp_path / "run", "math500", records)
    results = json.loads((root / "results.json").read_text())
    results["tasks"]["math500"]["score"] = 0.5  # as a worst case or composite would be
    (root / "results.json").write_text(json.dumps(results))
    gap = the_gap(root)
    assert term(gap, TRUNCATION).points is None and "4 of 14" in term(gap, TRUNCATION).detail
    assert term(gap, MODEL).points == pytest.approx(gap.gap)


def test_compare_prints_the_gap_table_and_its_json(tmp_path):
    records = [response_record(i, [r]) for i, r in enumerate(mixed())]
    root = write_run(tmp_path / "run", "math500", records)
    shown = CliRunner().invoke(app, ["compare", str(root)], env={"COLUMNS": "250"})
    assert shown.exit_code == 0, shown.output
    assert "where the gap to OVR-7B-RL comes from" in shown.output
    assert "truncation" in shown.output and "-21.4" in shown.output
    data = json.loads(CliRunner().invoke(app, ["compare", str(root), "--json"]).output)
    row = data["reference"][str(root)][0]
    measured = [t["points"] for t in row["gap"]["terms"] if t["points"] is not None]
    assert sum(measured) == pytest.approx(row["difference"])
    assert {t["name"] for t in row["gap"]["terms"] if t["points"] is None} == {"sampling"}
    assert {t["name"] for t in row["gap"]["terms"]} >= {TRUNCATION, NO_ANSWER, MODEL}


def test_the_report_shows_where_each_gap_comes_from(tmp_path):
    records = [response_record(i, [r]) for i, r in enumerate(mixed())]
    root = write_run(tmp_path / "run", "mathvision", records, split="testmini")
    out = tmp_path / "report.html"
    done = CliRunner().invoke(app, ["report", str(root), "-o", str(out)])
    assert done.exit_code == 0, done.output
    html = out.read_text()
    section = html[html.index('<section id="gaps">'):]
    section = section[:section.index("</section>")]
    assert "run vs OVR-7B-RL" in section and "truncation -21.4" in section
    assert "<b>split</b>: the run used split &#39;testmini&#39;" in section


def test_another_version_or_too_few_variants_are_named(tmp_path):
    from test_compare import dynamath_run

    text_only = {"metadata": {"problem_version": "Text Only"}}
    records = [response_record(i, [r], **text_only) for i, r in enumerate(mixed())]
    gap = the_gap(write_run(tmp_path / "mv", "mathverse", records, split="testmini"))
    assert "Vision Only" in term(gap, "version").detail and term(gap, "version").points is None
    gap = the_gap(dynamath_run(tmp_path / "dm", variants=1))
    assert "1 of 10 variants" in term(gap, "incomplete").detail
    assert sum(t.points for t in gap.measured) == pytest.approx(gap.gap, abs=1e-9)


def test_when_every_verdict_is_alike_the_interval_comes_from_the_answered_rate(tmp_path):
    records = [response_record(i, [r]) for i, r in
               enumerate(mixed(n_right=0, n_wrong=3, n_cut=5, n_none=0))]
    gap = the_gap(write_run(tmp_path / "run", "math500", records))
    truncation = term(gap, TRUNCATION)
    assert truncation.points == 0.0  # answered ones are never right: nothing to recover
    low, high = truncation.ci95
    assert high == 0.0 and low == pytest.approx(-5 / 8 * term_ceiling(gap))


def term_ceiling(gap: Gap) -> float:
    """The upper end of the answered responses' accuracy, in points, from the remainder."""
    return term(gap, MODEL).ci95[1] + 95.3


def test_the_judge_term_is_measured_even_when_nothing_else_is(tmp_path):
    cut = (False, "length", None)
    judge = {"model": "j", "mode": "all", "protocol": "mathvista", "extracted": ["1"],
             "correct": [False], "methods": ["judge"], "errors": [None]}
    records = [response_record(i, [cut], judge=judge) for i in range(4)]
    judged = task_scores([Record.from_json({**r, "correct": [False]}) for r in records])
    root = write_run(tmp_path / "run", "mathvista", records, split="testmini",
                     judge={"model": "j", "mode": "all", "protocol": "mathvista",
                            "scores": judged})
    run = load_run(root)
    rules_row, _ = with_judged_rows(run, compare_to_reference(run, "OVR-7B-RL"), "OVR-7B-RL")
    assert rules_row.task == "mathvista (rules)" and rules_row.gap is not None
    assert term(rules_row.gap, JUDGE).points == 0.0  # they agree on every response
    assert term(rules_row.gap, TRUNCATION).points is None  # nothing answered to compare with

