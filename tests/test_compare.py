"""Reported scores (reports/reported.yaml) and comparisons of runs with them and with each other."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import pytest
from rich.console import Console

from conftest import REPO
from ovr_eval.compare import (
    compare_runs,
    compare_to_reference,
    reference_table,
    rows_to_json,
    runs_table,
    same_problems_interval,
)
from ovr_eval.metrics import Z95, summarize, task_scores, wilson
from ovr_eval.records import Record
from ovr_eval.reference import ReportedScore, Subset, load_reference
from ovr_eval.runs import load_run
from ovr_eval.types import UserError

RESEARCH_NOTES = REPO.parent / "shared" / "research" / "ovr.md"


def make_run(root: Path, model: str, tasks: dict[str, dict[str, list[bool]]],
             splits: dict[str, str] | None = None,
             metadata: dict[str, dict[str, dict]] | None = None) -> Path:
    """A run folder as `ovr eval` writes it: config.json, samples/<task>.jsonl, results.json."""
    (root / "samples").mkdir(parents=True)
    (root / "config.json").write_text(json.dumps({"model": model, "tasks": sorted(tasks)}))
    results = {}
    for task, items in tasks.items():
        records = [{"id": i, "correct": c, "metadata": (metadata or {}).get(task, {}).get(i, {})}
                   for i, c in items.items()]
        with (root / "samples" / f"{task}.jsonl").open("w") as handle:
            for record in records:
                handle.write(json.dumps(record) + "\n")
        subset_keys = ["problem_version"] if task == "mathverse" else []
        scores = task_scores([Record.from_json(r) for r in records], subset_keys)
        results[task] = {"split": (splits or {}).get(task, "test"), **scores,
                         "skipped": {"count": 0, "rows": []}}
    (root / "results.json").write_text(json.dumps({"model": model, "tasks": results}))
    return root


def items(correct: int, total: int, k: int = 1, prefix: str = "") -> dict[str, list[bool]]:
    """`total` samples of which the first `correct` have every response right."""
    return {f"{prefix}{i}": [i < correct] * k for i in range(total)}


# ---------------------------------------------------------------- reported.yaml


@pytest.fixture(scope="module")
def reference():
    return load_reference()


def test_reported_cells_match_the_paper(reference):
    rl = reference.models["OVR-7B-RL"].scores
    assert rl["math500"] == ReportedScore(score=95.3, source="Table 2")
    assert rl["mathvision"] == ReportedScore(score=51.8, source="Table 3")
    assert rl["mathverse"] == ReportedScore(score=54.6, source="Table 3")
    assert rl["aime2024"].score == 63.5 and rl["mmlu_pro"].score == 67.9
    assert rl["mme"].score == 1559.1 and rl["mme"].source == "Table 4"
    base = reference.models["Qwen2.5-VL-7B"].scores
    assert base["math500"].score == 67.4 and "†" in (base["math500"].note or "")
    assert base["mathverse"] == ReportedScore(score=41.1, source="Table 3")  # no dagger: copied
    assert reference.models["GPT-4o mini"].scores["charxiv_descriptive"].score == 74.92
    cold = reference.models["OVR-7B-ColdStart"].scores
    assert cold["math500"].score == 93.2 and cold["math500"].source == "Figure 4"
    assert "figure" in (cold["math500"].note or "")
    assert cold["hallusionbench"] == ReportedScore(score=55.0, source="Table 4")
    benchmarks = reference.benchmarks
    assert benchmarks["mathvision"].split == "test"
    assert benchmarks["mathverse"].subset == Subset("problem_version", "Vision Only")
    assert [b.key for b in reference.columns_of("wemath")] == ["wemath", "wemath_loose"]
    assert benchmarks["wemath_loose"].part == "score_loose"
    assert not any("mmmu" in m.scores for m in reference.models.values())


def test_reported_yaml_is_complete_and_annotated(reference):
    for slug, bench in reference.benchmarks.items():
        assert bench.name != slug and bench.split and bench.metric, slug
    for name, model in reference.models.items():
        for slug, cell in model.scores.items():
            assert isinstance(cell.score, float), (name, slug)
            assert re.fullmatch(r"(Table [234]|Figure [14])", cell.source or ""), (name, slug)
            if (cell.source or "").startswith("Figure"):
                assert cell.note, f"{name} {slug}: figure value without a note"


def test_a_malformed_reported_yaml_is_one_line_naming_the_entry(tmp_path):
    bad = tmp_path / "reported.yaml"
    bad.write_text("benchmarks: {math500: {name: MATH500}}\n"
                   "models: {m: {scores: {math500: {score: high}}}}\n")
    with pytest.raises(UserError, match=r"model 'm' has no number for 'math500'"):
        load_reference(bad)


TABLE_COLUMNS = {
    "1.1": ["aime2024", "aime2025", "math500", "gpqa_diamond", "mmlu", "mmlu_pro"],
    "1.2": ["mathvista", "mathvision", "mathverse", "dynamath", "wemath", "wemath_loose",
            "logicvista", "mmmu_pro", "charxiv_reasoning", "charxiv_descriptive"],
    "1.3": ["mmbench_en", "mmbench_cn", "blink", "mmstar", "hallusionbench", "pope",
            "realworldqa", "phyx", "mme", "mmvet"],
}
TABLE_OF_SECTION = {"1.1": "Table 2", "1.2": "Table 3", "1.3": "Table 4"}
ROW_NAMES = {"Qwen2.5-VL (7B)": "Qwen2.5-VL-7B", "+Cold Start (= OVR-7B-ColdStart)":
             "OVR-7B-ColdStart", "+Multimodal RL (= OVR-7B)": "OVR-7B-RL"}


def parse_notes_tables(text: str) -> dict[tuple[str, str], tuple[float, bool, str]]:
    """(model, benchmark) -> (score, dagger, table) from the notes' transcriptions of Tables 2-4."""
    cells = {}
    for section, columns in TABLE_COLUMNS.items():
        body = text.split(f"### {section} ", 1)[1].split("\n### ", 1)[0]
        lines = [line for line in body.splitlines() if line.startswith("|")][2:]
        for line in lines:
            parts = [p.strip() for p in line.strip("|").split("|")]
            name = parts[0].replace("**", "")
            if name.startswith("*"):  # a group heading such as *Open-source Models*
                continue
            for slug, raw in zip(columns, parts[1:], strict=True):
                value = re.sub(r"\*\*|\(underlined\)|\(ul\)", "", raw).strip()
                if value in ("-", "(blank)", ""):
                    continue
                cells[(ROW_NAMES.get(name, name), slug)] = (
                    float(value.replace("†", "")), "†" in value, TABLE_OF_SECTION[section])
    return cells


@pytest.mark.skipif(not RESEARCH_NOTES.is_file(), reason="research notes not available")
def test_every_table_cell_matches_the_research_notes(reference):
    cells = parse_notes_tables(RESEARCH_NOTES.read_text())
    assert len(cells) > 250
    seen = set()
    for (row, slug), (score, dagger, table) in cells.items():
        model = reference.model(row).key
        cell = reference.models[model].scores.get(slug)
        assert cell is not None, f"{row} {slug} {score} missing"
        assert (cell.score, cell.source) == (score, table), (row, slug)
        assert ("†" in (cell.note or "")) == dagger, (row, slug)
        seen.add((model, slug))
    extra = [(m, s) for m, model in reference.models.items()
             for s, c in model.scores.items()
             if (c.source or "").startswith("Table") and (m, s) not in seen]
    assert not extra, f"table cells in reported.yaml that the notes do not have: {extra}"


# ---------------------------------------------------------------- run vs paper


def test_verdicts_against_the_reported_scores(tmp_path, reference):
    run = load_run(make_run(tmp_path / "r", "Kangheng/OVR-7B-RL", {
        "math500": items(95, 100), "mathvision": items(20, 100)}))
    rows = {r.task: r for r in compare_to_reference(run, "OVR-7B-RL", reference)}
    math500 = rows["math500"]
    # one response per problem: the rerun noise is unknown, so the between-problem error (an
    # upper bound) makes the interval, as a Wilson interval over the 100 problems
    assert math.isclose(math500.run_score, 95.0) and math500.samples_per_item == 1
    assert math500.run_ci95 == pytest.approx([100 * x for x in wilson(0.95, 100)])
    assert math500.error.startswith("between-problem")
    assert math500.reported == 95.3 and math500.source == "Table 2"
    assert math.isclose(math500.difference, -0.3)
    assert math500.verdict == "consistent" and math500.n == 100
    assert rows["mathvision"].verdict == "below" and rows["mathvision"].reported == 51.8
    # against the base model: 95% is well above 67.4; 20% is consistent with 25.5
    above = compare_to_reference(run, "Qwen/Qwen2.5-VL-7B-Instruct", reference)
    assert [r.verdict for r in above] == ["above", "consistent"]


def test_intervals_hold_at_all_right_and_tiny_samples(tmp_path, reference):
    """Issue 13: 5/5 correct must not give [100, 100] and "above" 95.3; n=2 must not give
    "below"; an interval that covers the paper's number but spans more than 20 points says
    "too few samples to tell"."""
    run = load_run(make_run(tmp_path / "r", "m", {"math500": items(5, 5),
                                                  "mathvision": items(0, 2)}))
    rows = {r.task: r for r in compare_to_reference(run, "OVR-7B-RL", reference)}
    five = rows["math500"]
    assert five.run_score == 100.0 and five.run_ci95[1] == 100.0
    assert five.run_ci95[0] == pytest.approx(56.55, abs=0.01)  # Wilson, 5 of 5
    assert five.verdict == "too few samples to tell"
    two = rows["mathvision"]
    assert two.run_ci95[0] == 0.0 and two.run_ci95[1] == pytest.approx(65.76, abs=0.01)
    assert two.verdict == "too few samples to tell"
    assert run.tasks["math500"].ci95 == pytest.approx(wilson(1.0, 5))
    # 0 of 200 is a real "below" 51.8, 200 of 200 a real "above" 95.3
    run = load_run(make_run(tmp_path / "big", "m", {"math500": items(200, 200),
                                                    "mathvision": items(0, 200)}))
    rows = {r.task: r for r in compare_to_reference(run, "OVR-7B-RL", reference)}
    assert rows["math500"].verdict == "above" and rows["mathvision"].verdict == "below"


def aime_like() -> dict[str, list[bool]]:
    """30 problems, 16 responses each: 18 always solved, 6 half the time, 6 never (70%)."""
    pattern = [[True] * 16] * 18 + [[True, False] * 8] * 6 + [[False] * 16] * 6
    return {str(i): responses for i, responses in enumerate(pattern)}


def test_run_vs_paper_uses_the_rerun_noise(tmp_path, reference):
    """Issue 16: on the same 30 problems at k=16, the between-problem interval (another sample
    of problems) covers OVR's 63.5 although reruns of this run would never come near it."""
    run = load_run(make_run(tmp_path / "r", "m", {"aime2024": aime_like()}))
    task = run.tasks["aime2024"]
    assert task.samples_per_item == 16 and math.isclose(task.score, 0.7)
    spread = (18 * 0.3**2 + 6 * 0.2**2 + 6 * 0.7**2) / 29  # of the 30 problem means
    assert math.isclose(task.stderr, math.sqrt(spread / 30))
    within = (16 / 15) * 0.25  # unbiased variance of eight 1s and eight 0s
    assert math.isclose(task.stderr_rerun, math.sqrt(6 * within / 16) / 30)
    assert math.isclose(task.stderr_rerun_k1, math.sqrt(6 * within) / 30)
    assert task.ci95[0] < 0.635 < task.ci95[1]  # another sample of problems: consistent
    [row] = compare_to_reference(run, "OVR-7B-RL", reference)
    assert row.error == "rerun" and row.run_ci95[0] > 63.5 and row.verdict == "above"
    assert row.reported_k is None  # OVR states no samples per problem: its noise is not added


def test_a_reported_k_adds_the_papers_own_noise(tmp_path, reference):
    run = load_run(make_run(tmp_path / "r", "m", {"aime2024": aime_like()}))
    part = run.tasks["aime2024"].headline()
    alone, _ = same_problems_interval(part, None)
    with_paper, error = same_problems_interval(part, 16)
    assert "k=16" in error and with_paper[0] < alone[0] and with_paper[1] > alone[1]
    # equal k on both sides: the variance doubles
    half = (alone[1] - alone[0]) / 2
    assert (with_paper[1] - with_paper[0]) / 2 == pytest.approx(half * math.sqrt(2), rel=0.05)
    [row] = compare_to_reference(run, "Open-Reasoner-Zero-7B", reference)
    assert row.reported_k == 16 and row.reported == 17.9 and "k=16" in row.error


def test_mathverse_is_compared_on_the_vision_only_version(tmp_path, reference):
    versions = {"a": "Vision Only", "b": "Vision Only", "c": "Text Dominant", "d": "Text Lite"}
    metadata = {"mathverse": {i: {"problem_version": v} for i, v in versions.items()}}
    run = load_run(make_run(tmp_path / "r", "m", {"mathverse": {
        "a": [False], "b": [False], "c": [True], "d": [True]}},
        splits={"mathverse": "testmini"}, metadata=metadata))
    [row] = compare_to_reference(run, "OVR-7B-RL", reference)
    assert row.run_score == 0.0 and row.n == 2 and row.warnings == []
    assert row.verdict == "too few samples to tell"  # 0 of 2 says nothing about 54.6

    # the text-only ablation is another version: not comparable, not "below"
    text_only = load_run(make_run(tmp_path / "t", "m", {"mathverse": items(1, 2)},
                                  splits={"mathverse": "testmini_text_only"}))
    [row] = compare_to_reference(text_only, "OVR-7B-RL", reference)
    assert row.verdict == "not comparable" and row.difference is None and row.run_ci95 is None
    assert any("testmini_text_only" in w for w in row.warnings)
    assert any("Vision Only" in w for w in row.warnings)


def test_every_paper_column_a_run_fills_is_compared(tmp_path, reference):
    """WeMath fills two paper columns: strict (its headline) and loose (OVR's 64.8)."""
    strict, loose = summarize({"p1": [1.0], "p2": [0.5]}), summarize({"p1": [1.0], "p2": [1.0]})
    root = make_run(tmp_path / "r", "m", {"wemath": items(1, 2)}, splits={"wemath": "testmini"})
    results = json.loads((root / "results.json").read_text())
    results["tasks"]["wemath"].update({**strict, "score_strict": strict, "score_loose": loose})
    (root / "results.json").write_text(json.dumps(results))
    rows = compare_to_reference(load_run(root), "OVR-7B-RL", reference)
    assert [(r.task, r.column) for r in rows] == [("wemath", "wemath"),
                                                  ("wemath", "wemath_loose")]
    assert [r.reported for r in rows] == [44.6, 64.8]
    assert [r.run_score for r in rows] == [75.0, 100.0]
    console = Console(width=220, record=True)
    console.print(reference_table(rows))
    assert "wemath (wemath_loose)" in console.export_text()
    # a run without the loose score cannot fill that column
    del results["tasks"]["wemath"]["score_loose"]
    (root / "results.json").write_text(json.dumps(results))
    rows = compare_to_reference(load_run(root), "OVR-7B-RL", reference)
    assert rows[1].verdict == "not comparable" and "score_loose" in rows[1].warnings[0]


def test_a_benchmark_the_reference_lacks_is_marked_not_reported(tmp_path, reference):
    run = load_run(make_run(tmp_path / "r", "m", {
        "mmmu": items(1, 2), "my_task": items(1, 2), "mmlu": items(1, 2)}))
    rows = {r.task: r for r in compare_to_reference(run, "OVR-7B-ColdStart", reference)}
    for task in ("mmmu", "my_task", "mmlu"):
        assert rows[task].verdict == "not reported"
        assert rows[task].reported is None and rows[task].difference is None
        assert rows[task].run_score == 50.0
    assert "not reported" in rows["mmmu"].note
    assert "unknown" in rows["my_task"].note
    console = Console(width=200, record=True)
    console.print(reference_table(list(rows.values()), title="vs OVR-7B-ColdStart"))
    assert "NOT REPORTED" in console.export_text()
    assert json.loads(rows_to_json(list(rows.values())))[0]["verdict"] == "not reported"


def test_unknown_reference_model_is_a_clear_error(tmp_path, reference):
    run = load_run(make_run(tmp_path / "r", "m", {"math500": items(1, 2)}))
    with pytest.raises(UserError, match="did you mean OVR-7B-RL"):
        compare_to_reference(run, "OVR-7B-R", reference)
    assert reference.model("ovr-7b").key == "OVR-7B-RL"
    assert reference.model("Kangheng/OVR-7B-ColdStart").key == "OVR-7B-ColdStart"


# ---------------------------------------------------------------- run vs run


def test_paired_comparison_over_the_same_samples(tmp_path):
    a = {"0": [True, True], "1": [False, False], "2": [True, False], "3": [False, False]}
    b = {"0": [True, True], "1": [True, False], "2": [True, True], "3": [True, True]}
    run_a = load_run(make_run(tmp_path / "a", "A", {"math500": a, "only_a": items(1, 2)}))
    run_b = load_run(make_run(tmp_path / "b", "B", {"math500": b}))
    [row] = compare_runs(run_a, run_b)
    diffs = [0.0, 0.5, 0.5, 1.0]
    mean = sum(diffs) / 4
    sd = math.sqrt(sum((d - mean) ** 2 for d in diffs) / 3)
    assert row.task == "math500" and row.method == "paired" and row.same_samples
    assert (row.n_shared, row.only_in_a, row.only_in_b) == (4, 0, 0)
    assert math.isclose(row.difference, 100 * mean)
    # Wilson on (d + 1) / 2 from the paired error, at most 2 n k = 16 trials
    q, se = (mean + 1) / 2, sd / 2 / 2
    low, high = wilson(q, min(q * (1 - q) / se**2, 16))
    assert row.ci95 == pytest.approx([100 * (2 * low - 1), 100 * (2 * high - 1)])
    assert math.isclose(row.score_a, 37.5) and math.isclose(row.score_b, 87.5)
    assert row.verdict == "B higher" and row.warnings == []
    assert row.ci95_rerun is not None and row.ci95_rerun[0] < 100 * mean < row.ci95_rerun[1]
    # pairing removes the between-item spread: narrower than the unpaired interval
    ta, tb = run_a.tasks["math500"], run_b.tasks["math500"]
    assert row.ci95[1] - row.ci95[0] < 200 * Z95 * math.hypot(ta.stderr, tb.stderr)


def test_paired_differences_do_not_collapse(tmp_path):
    """Every paired difference equal (B right, A wrong on both problems): not a certainty."""
    run_a = load_run(make_run(tmp_path / "a", "A", {"math500": items(0, 2)}))
    run_b = load_run(make_run(tmp_path / "b", "B", {"math500": items(2, 2)}))
    [row] = compare_runs(run_a, run_b)
    assert row.difference == 100.0 and row.ci95[1] == 100.0 and row.ci95[0] < 0
    assert row.verdict == "no clear difference"
    # two runs alike on each of 30 problems at k = 16: a narrow interval around 0
    same = load_run(make_run(tmp_path / "c", "C", {"aime2024": aime_like()}))
    [row] = compare_runs(same, same)
    assert row.difference == 0.0 and -10 < row.ci95[0] < 0 < row.ci95[1] < 10


def test_runs_are_compared_on_the_headline_units(tmp_path):
    """MathVerse: the runs differ on Text Dominant only, so the Vision Only headline is the
    same; WeMath is paired by problem, not by question."""
    versions = {"a": "Vision Only", "b": "Vision Only", "c": "Text Dominant", "d": "Text Dominant"}
    metadata = {"mathverse": {i: {"problem_version": v} for i, v in versions.items()}}
    run_a = load_run(make_run(tmp_path / "a", "A", {"mathverse": {
        "a": [True], "b": [False], "c": [False], "d": [False]}}, metadata=metadata))
    run_b = load_run(make_run(tmp_path / "b", "B", {"mathverse": {
        "a": [True], "b": [False], "c": [True], "d": [True]}}, metadata=metadata))
    [row] = compare_runs(run_a, run_b)
    assert row.n_shared == 2 and row.difference == 0.0 and row.score_a == 50.0
    assert run_a.units("mathverse") == {"a": [1.0], "b": [0.0]}
    # different splits: not comparable
    other = load_run(make_run(tmp_path / "c", "C", {"mathverse": {"a": [True], "b": [True]}},
                              splits={"mathverse": "testmini_text_only"}, metadata=metadata))
    [row] = compare_runs(run_a, other)
    assert row.verdict == "not comparable" and "splits differ" in row.warnings[0]


def test_differing_sample_sets_are_reported(tmp_path):
    run_a = load_run(make_run(tmp_path / "a", "A", {"math500": items(3, 6)}))
    run_b = load_run(make_run(tmp_path / "b", "B", {"math500": items(2, 4)}))
    [row] = compare_runs(run_a, run_b)
    assert row.method == "paired" and not row.same_samples
    assert (row.n_a, row.n_b, row.n_shared, row.only_in_a, row.only_in_b) == (6, 4, 4, 2, 0)
    assert any("2 only in A, 0 only in B" in w for w in row.warnings)

    disjoint = load_run(make_run(tmp_path / "c", "C", {"math500": items(1, 4, prefix="x")}))
    [row] = compare_runs(run_a, disjoint)
    assert row.method == "unpaired" and row.n_shared == 0 and row.only_in_b == 4
    assert math.isclose(row.difference, 25.0 - 50.0)
    ta, tc = run_a.tasks["math500"], disjoint.tasks["math500"]
    half = 100 * Z95 * math.hypot(ta.stderr, tc.stderr)
    assert math.isclose(row.ci95[1], -25.0 + half)
    console = Console(width=200, record=True)
    console.print(runs_table([row]))
    assert "unpaired" in console.export_text()


# ---------------------------------------------------------------- loading errors


def test_run_folder_errors_are_clear(tmp_path):
    with pytest.raises(UserError, match="does not exist"):
        load_run(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(UserError, match=r"results\.json not found"):
        load_run(tmp_path / "empty")
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "results.json").write_text("{not json")
    with pytest.raises(UserError, match="not valid JSON"):
        load_run(bad)
    (bad / "results.json").write_text(json.dumps({"math500": {"accuracy": 0.5}}))
    with pytest.raises(UserError, match="older format"):
        load_run(bad)
    (bad / "results.json").write_text(json.dumps({"tasks": {"math500": {"accuracy": 0.5}}}))
    with pytest.raises(UserError, match="'math500' lacks score, stderr, ci95, n"):
        load_run(bad)
    run = make_run(tmp_path / "r", "m", {"math500": items(1, 2)})
    (run / "samples" / "math500.jsonl").write_text('{"id": "0"}\n')
    with pytest.raises(UserError, match="malformed record"):
        compare_runs(load_run(run), load_run(run))


def test_model_comes_from_results_then_config(tmp_path):
    run = load_run(make_run(tmp_path / "r", "Kangheng/OVR-7B-RL", {"math500": items(1, 2)}))
    assert run.model == "Kangheng/OVR-7B-RL" and run.config.tasks == ["math500"]


def dynamath_run(root: Path, variants: int, seeds: int = 30) -> Path:
    """A DynaMath run folder scored by the task itself: every variant of a seed right for the
    first 10 seeds (a worst case of 1/3), ``variants`` variants a seed."""
    from ovr_eval.task_registry import resolve

    records = [{"id": f"{s}/v{v}", "task": "dynamath", "split": "test", "gold": "1",
                "metadata": {"seed": str(s), "variant": v, "answer_type": ""},
                "responses": ["\\boxed{1}" if s <= 10 else "\\boxed{2}"],
                "extracted": ["1" if s <= 10 else "2"], "correct": [s <= 10]}
               for s in range(1, seeds + 1) for v in range(1, variants + 1)]
    (root / "samples").mkdir(parents=True)
    (root / "config.json").write_text(json.dumps({"model": "m", "tasks": ["dynamath"]}))
    with (root / "samples" / "dynamath.jsonl").open("w") as handle:
        for record in records:
            handle.write(json.dumps(record) + "\n")
    scores = resolve("dynamath")[0].score([Record.from_json(r) for r in records])
    (root / "results.json").write_text(json.dumps({"model": "m", "tasks": {"dynamath": {
        "split": "test", **scores, "skipped": {"count": 0, "rows": []}}}}))
    return root


def test_dynamath_with_fewer_variants_is_not_compared_with_the_paper(tmp_path, reference):
    from ovr_eval.eval_summary import incomplete_warnings
    from ovr_eval.records import RunResults

    run = load_run(dynamath_run(tmp_path / "one", variants=1))
    assert run.tasks["dynamath"].parts["complete"] is False
    (row,) = compare_to_reference(run, "OVR-7B-RL", reference)
    assert row.benchmark == "DynaMath (worst)" and row.reported is not None
    assert row.verdict == "not comparable" and row.difference is None
    assert "not comparable: 1 of 10 variants" in row.warnings
    console = Console(width=250, record=True)
    console.print(reference_table([row]))
    table = console.export_text()
    assert "not comparable: 1 of 10 variants" in table
    assert not re.search(r"\b(above|below|consistent)\b", table)
    (line,) = incomplete_warnings(RunResults(model="m", tasks=run.tasks))
    assert line.startswith("dynamath: not comparable: 1 of 10 variants")
    full = load_run(dynamath_run(tmp_path / "all", variants=10))
    (row,) = compare_to_reference(full, "OVR-7B-RL", reference)
    assert row.verdict != "not comparable" and row.difference is not None
    assert incomplete_warnings(RunResults(model="m", tasks=full.tasks)) == []


def test_the_eval_table_lists_the_subsets_a_task_names_for_it():
    # MathVerse's paper columns are its five versions: its summary_subsets puts them under
    # the task in `ovr eval`'s table; other subset keys (subject) stay in results.json
    from rich.console import Console

    from ovr_eval.eval_summary import summary_table
    from ovr_eval.records import RunResults, TaskResult
    from ovr_eval.task_registry import registry

    scores = {"score": 0.5, "stderr": 0.1, "ci95": [0.3, 0.7], "n": 4, "subsets": {
        "problem_version": {"Vision Only": {"n": 2, "score": 0.5},
                            "Text Only": {"n": 2, "score": 0.5}},
        "subject": {"Plane Geometry": {"n": 4, "score": 0.5}}}}
    results = RunResults(model="m", tasks={
        "mathverse": TaskResult.from_scores("testmini", scores)})
    subsets = {name: task.summary_subsets for name, task in registry().tasks.items()}
    console = Console(width=200, record=True)
    console.print(summary_table(results, "run", subsets))
    shown = console.export_text()
    assert "Vision Only" in shown and "Text Only" in shown
    assert "Plane Geometry" not in shown
