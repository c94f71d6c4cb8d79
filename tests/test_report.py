"""``ovr report``: the self-contained leaderboard page, without a browser and in chromium."""

from __future__ import annotations

import base64
import io
import json
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
import typer
from PIL import Image
from typer.testing import CliRunner

from conftest import REPO
from ovr_eval.cli.report import report_command
from ovr_eval.metrics import task_scores
from ovr_eval.records import Record
from ovr_eval.report import find_katex, script_json, write_report
from ovr_eval.types import UserError

SCRIPT_PAYLOAD = "<script>window.__pwned = 1; alert(1)</script>"
IMG_PAYLOAD = '<img src=x onerror="window.__pwned = 2; alert(2)">'
HOSTILE = f"Answer: {SCRIPT_PAYLOAD} and {IMG_PAYLOAD} </script><!-- & done"
KATEX_DIR = find_katex()  # ~/.cache/ovr-eval/katex from scripts/setup-browser.sh, if run


# ---------------------------------------------------------------- run folders by hand


def record(task: str, i: int, correct: bool, response: str | None = None, **extra) -> dict:
    """A sample record with the fields `ovr eval` writes (see evaluate.make_record)."""
    return {
        "id": f"{task}-{i}", "task": task, "split": "test",
        "question": f"Compute $\\frac{{{i}}}{{2}}$ please.", "images": [],
        "gold": "\\frac{1}{2}", "choices": None, "answer_type": "free_form",
        "metadata": {"level": 1 + i % 2}, "prompt": "...",
        "responses": [response or f"I think it is \\boxed{{{1 if correct else 2}}}."],
        "extracted": ["1" if correct else "2"], "correct": [correct], "methods": ["exact"],
        "errors": [None], "prompt_tokens": 12, "completion_tokens": [7],
        "finish_reasons": ["stop"], **extra,
    }


def make_run(root: Path, model: str, tasks: dict[str, list[dict]]) -> Path:
    """config.json, samples/<task>.jsonl and results.json as `ovr eval` leaves them."""
    (root / "samples").mkdir(parents=True)
    (root / "config.json").write_text(json.dumps({"model": model, "tasks": sorted(tasks)}))
    results = {}
    for task, records in tasks.items():
        with (root / "samples" / f"{task}.jsonl").open("w") as handle:
            for r in records:
                handle.write(json.dumps(r) + "\n")
        scores = task_scores([Record.from_json(r) for r in records], ["level"])
        results[task] = {"split": "test", **scores, "skipped": {"count": 0, "rows": []}}
    (root / "results.json").write_text(json.dumps({"model": model, "tasks": results}))
    return root


def records(task: str, correct: int, total: int) -> list[dict]:
    return [record(task, i, i < correct) for i in range(total)]


class Page(HTMLParser):
    """A generated page: every tag, the leaderboard cells, style text and the JSON blob."""

    def __init__(self, html: str):
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.cells: dict[str, dict[str, tuple[str, str]]] = {}
        self.styles: list[str] = []
        self.blob: dict = {}
        self._row: str | None = None
        self._cell: tuple[str, str] | None = None
        self._capture: str | None = None
        self._text: list[str] = []
        self._table = False
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.tags.append((tag, a))
        if tag == "table":
            self._table = a.get("id") == "leaderboard-table"
        elif self._table and tag == "th" and a.get("scope") == "row":
            self._row = str(a["data-sort"])
            self.cells[self._row] = {}
        elif self._table and tag == "td" and self._row:
            self._cell, self._capture, self._text = (str(a["data-key"]), a.get("class") or ""), \
                "td", []
        elif tag == "style" or (tag == "script" and a.get("type") == "application/json"):
            self._capture, self._text = tag, []

    def handle_endtag(self, tag):
        if tag == "table":
            self._table = False
        if tag != self._capture:
            return
        text = "".join(self._text)
        if tag == "td" and self._row and self._cell:
            self.cells[self._row][self._cell[0]] = (self._cell[1], " ".join(text.split()))
        elif tag == "style":
            self.styles.append(text)
        elif tag == "script":
            self.blob = json.loads(text)
        self._capture = None

    def handle_data(self, data):
        if self._capture:
            self._text.append(data)


@pytest.fixture
def no_katex(monkeypatch, tmp_path):
    monkeypatch.setenv("OVR_KATEX_DIR", str(tmp_path / "no-katex-here"))


@pytest.fixture
def two_runs(tmp_path) -> list[Path]:
    """Run A: MATH500 and MathVision (one hostile response); run B: MATH500 only."""
    math_a = records("math500", 3, 4)
    math_a[0] = record("math500", 0, True, response=HOSTILE)
    a = make_run(tmp_path / "run-a", "org/model-a", {
        "math500": math_a, "mathvision": records("mathvision", 0, 3)})
    b = make_run(tmp_path / "run-b", "org/model-b", {"math500": records("math500", 1, 4)})
    return [a, b]


# ---------------------------------------------------------------- the page, no browser


@pytest.mark.parametrize("katex", ["inlined", "absent"])
def test_page_is_self_contained(two_runs, tmp_path, monkeypatch, katex):
    if katex == "inlined" and KATEX_DIR is None:
        pytest.skip("KaTeX is not cached: run scripts/setup-browser.sh")
    monkeypatch.setenv("OVR_KATEX_DIR", str(KATEX_DIR if katex == "inlined" else tmp_path / "x"))
    out = tmp_path / "report.html"
    written = write_report(two_runs, out)
    html = out.read_text("utf-8")
    page = Page(html)
    assert written.katex is (katex == "inlined")
    assert not [t for t, _ in page.tags if t in ("link", "iframe", "object", "embed", "base")]
    for tag, attrs in page.tags:
        for name in ("src", "href", "srcset", "action", "poster", "data", "xlink:href"):
            if name not in attrs:
                continue
            value = (attrs[name] or "").strip()
            assert not re.match(r"(https?:)?//", value), f"<{tag} {name}={value!r}> loads a URL"
            if name == "src":
                assert value.startswith("data:"), f"<{tag} src={value!r}>"
    styles = "\n".join(page.styles)
    assert "@import" not in styles and not re.search(r"url\((?!data:)", styles)
    csp = next(a["content"] for t, a in page.tags if a.get("http-equiv") ==
               "Content-Security-Policy")
    assert "default-src 'none'" in csp and "'unsafe-inline'" not in csp.split("script-src")[1]
    if katex == "inlined":
        assert "data:font/woff2;base64," in styles and "fonts/KaTeX" not in html
        assert "LaTeX rendered offline with KaTeX" in html
    else:
        assert "KaTeX was not available" in html and "LaTeX is shown as source" in html


def test_hostile_text_is_escaped_everywhere(tmp_path, no_katex):
    model = '<script>alert("model")</script>'
    bad = record("math500", 0, False, response=HOSTILE, question=IMG_PAYLOAD, gold=SCRIPT_PAYLOAD,
                 extracted=[IMG_PAYLOAD], metadata={"level": SCRIPT_PAYLOAD})
    run = make_run(tmp_path / "<b>run</b>", model, {"math500": [bad]})
    out = tmp_path / "report.html"
    write_report([run], out)
    html = out.read_text("utf-8")
    assert "<script>alert" not in html and "<script>window" not in html
    assert "<img src=x" not in html and "<b>run" not in html
    assert "&lt;script&gt;alert(&#34;model&#34;)&lt;/script&gt;" in html  # the model name, as text
    assert len(re.findall(r"<script\b", html, re.IGNORECASE)) == 2  # the data blob and report.js
    sample = Page(html).blob["samples"][0]  # the blob holds the text exactly
    assert sample["responses"][0]["text"] == HOSTILE and sample["question"] == IMG_PAYLOAD
    assert sample["responses"][0]["extracted"] == IMG_PAYLOAD and sample["gold"] == SCRIPT_PAYLOAD


def test_script_json_cannot_close_its_tag():
    text = script_json({"s": "</script><!-- <script> & \u2028"})
    assert "<" not in text and ">" not in text and "&" not in text
    assert json.loads(text) == {"s": "</script><!-- <script> & \u2028"}


def test_missing_cells_are_marked_never_zero(tmp_path, no_katex):
    a = make_run(tmp_path / "a", "m-a", {"math500": records("math500", 0, 3),
                                         "mathvision": records("mathvision", 1, 2),
                                         "my_bench": records("my_bench", 1, 2)})
    b = make_run(tmp_path / "b", "m-b", {"math500": records("math500", 2, 3)})
    out = tmp_path / "report.html"
    write_report([a, b], out, reference_models=["OVR-7B-RL", "Qwen2.5-7B"])
    html = out.read_text("utf-8")
    cells = Page(html).cells
    assert set(cells) == {"a", "b", "OVR-7B-RL", "Qwen2.5-7B"}
    assert cells["a"]["math500"][0].startswith("score") and cells["a"]["math500"][1].startswith(
        "0.0")  # a real zero is a score
    assert cells["b"]["mathvision"] == ("missing", "not run")
    assert cells["b"]["average"][0] == "missing" and "incomplete" in cells["b"]["average"][1]
    assert cells["Qwen2.5-7B"]["mathvision"] == ("missing", "not reported")
    assert cells["OVR-7B-RL"]["my_bench"] == ("missing", "not in paper")  # unknown benchmark
    assert cells["OVR-7B-RL"]["math500"][1].startswith("95.3")
    assert "warn" in cells["a"]["my_bench"][0]
    assert "the reported table has no such benchmark" in html
    assert "not in the paper's table" in html
    # the average covers the paper's benchmarks only, so that rows stay comparable
    assert cells["a"]["average"][1] == "25.0"
    # the bar chart lists unscored rows as missing instead of drawing a zero-length bar
    assert re.search(r"No score \(missing, not 0\): [^<]*\bb\b", html)


def test_every_paper_column_a_run_fills_is_shown(tmp_path, no_katex):
    """WeMath fills the paper's strict and loose columns; a text-only MathVerse run cannot
    fill the vision-only column and says why instead of showing another version's score."""
    from ovr_eval.metrics import summarize

    run = make_run(tmp_path / "a", "m-a", {"wemath": records("wemath", 1, 2),
                                           "mathverse": records("mathverse", 1, 2)})
    results = json.loads((run / "results.json").read_text())
    strict, loose = summarize({"p1": [1.0], "p2": [0.5]}), summarize({"p1": [1.0], "p2": [1.0]})
    results["tasks"]["wemath"].update({**strict, "split": "testmini", "score_strict": strict,
                                       "score_loose": loose})
    results["tasks"]["mathverse"]["split"] = "testmini_text_only"
    (run / "results.json").write_text(json.dumps(results))
    out = tmp_path / "report.html"
    write_report([run], out, reference_models=["OVR-7B-RL"])
    cells = Page(out.read_text("utf-8")).cells
    assert cells["a"]["wemath"][1].startswith("75.0")
    assert cells["a"]["wemath_loose"][1].startswith("100.0")
    assert cells["OVR-7B-RL"]["wemath_loose"][1].startswith("64.8")
    assert cells["a"]["mathverse"][0] == "missing" and "Vision Only" in cells["a"]["mathverse"][1]


def test_runs_marked_and_reported_models_chosen(two_runs, tmp_path, no_katex):
    out = tmp_path / "r.html"
    write_report(two_runs, out, reference_models=["none"])
    assert set(Page(out.read_text()).cells) == {"run-a", "run-b"}
    assert out.read_text().count('<span class="badge run">your run</span> <span') == 2
    write_report(two_runs, out)  # default: every model with a score on a shown benchmark
    assert {"OVR-7B-RL", "Qwen2.5-7B", "LLaVA-OneVision-7B"} <= set(Page(out.read_text()).cells)
    with pytest.raises(UserError, match="no reported scores for model 'GPT-17'"):
        write_report(two_runs, out, reference_models=["GPT-17"])


def test_bad_run_folders_are_clear_errors(tmp_path, no_katex):
    out = tmp_path / "r.html"
    with pytest.raises(UserError, match="does not exist"):
        write_report([tmp_path / "nowhere"], out)
    (tmp_path / "empty").mkdir()
    with pytest.raises(UserError, match=r"results.json not found: is .* a finished `ovr eval`"):
        write_report([tmp_path / "empty"], out)
    old = make_run(tmp_path / "old", "m", {"math500": records("math500", 1, 2)})
    (old / "results.json").write_text(json.dumps({"math500": {"accuracy": 0.5}}))
    with pytest.raises(UserError, match="older format"):
        write_report([old], out)
    (old / "results.json").write_text("{not json")
    with pytest.raises(UserError, match="not valid JSON"):
        write_report([old], out)
    with pytest.raises(UserError, match="is a directory"):
        write_report([old], tmp_path)
    with pytest.raises(UserError, match="at least one run"):
        write_report([], out)
    assert not out.exists()


def test_damaged_or_old_records_are_shown_not_fatal(tmp_path, no_katex):
    old_style = {"id": "m-9", "question": "old record", "gold": 3}  # no responses, no verdicts
    run = make_run(tmp_path / "run", "m", {"math500": records("math500", 1, 2),
                                           "mathvision": records("mathvision", 1, 2)})
    with (run / "samples" / "math500.jsonl").open("a") as handle:
        handle.write(json.dumps(old_style) + "\n" + '{"id": "torn", "quest')
    torn = (run / "samples" / "math500.jsonl").read_bytes()
    (run / "samples" / "mathvision.jsonl").unlink()
    out = tmp_path / "r.html"
    written = write_report([run], out)
    assert (run / "samples" / "math500.jsonl").read_bytes() == torn  # read-only: no repair
    assert any("no sample records for mathvision" in w for w in written.warnings)
    assert any("1 unreadable line(s)" in w for w in written.warnings)
    html = out.read_text()
    assert "no sample records for mathvision" in html
    samples = {s["id"]: s for s in Page(html).blob["samples"]}
    assert samples["m-9"]["verdict"] == "unknown" and samples["m-9"]["responses"] == []
    assert samples["m-9"]["gold"] == "3"


def test_different_sample_sets_are_flagged(tmp_path, no_katex):
    a = make_run(tmp_path / "a", "m", {"math500": records("math500", 1, 4)})
    b = make_run(tmp_path / "b", "m", {"math500": records("math500", 1, 2)})
    out = tmp_path / "r.html"
    written = write_report([a, b], out, reference_models=["none"])
    (warning,) = written.warnings
    assert "math500: the runs scored different samples (a: 4, b: 2; 2 shared)" in warning
    cells = Page(out.read_text()).cells
    assert "warn" in cells["a"]["math500"][0] and "warn" in cells["b"]["math500"][0]
    assert "sample set differs from the other runs&#39; (2 of 2 shared)" in out.read_text()


def test_images_are_embedded_small_and_missing_ones_said(tmp_path, no_katex):
    Image.new("RGB", (1600, 900), "navy").save(tmp_path / "big.png")
    with_image = record("mathvision", 0, True, images=[str(tmp_path / "big.png"),
                                                       str(tmp_path / "gone.png")])
    run = make_run(tmp_path / "run", "m", {"mathvision": [with_image]})
    out = tmp_path / "r.html"
    write_report([run], out)
    blob = Page(out.read_text()).blob
    (sample,) = blob["samples"]
    assert sample["missing_images"] == [str(tmp_path / "gone.png")]
    (key,) = sample["images"]
    header, data = blob["images"][key].split(",", 1)
    assert header in ("data:image/png;base64", "data:image/jpeg;base64")
    assert max(Image.open(io.BytesIO(base64.b64decode(data))).size) == 512


def test_samples_capped_per_task_and_said(tmp_path, no_katex):
    long_text = "start " + "x" * 50_000 + " the end \\boxed{1}"
    many = records("math500", 5, 10)
    many[0] = record("math500", 0, True, response=long_text)
    run = make_run(tmp_path / "run", "m", {"math500": many})
    out = tmp_path / "r.html"
    written = write_report([run], out, max_samples=3)
    assert written.samples == 3 and written.left_out == 7
    html = out.read_text()
    assert "Left out to keep the file small:" in html and "math500: 7 of 10" in html
    text = Page(html).blob["samples"][0]["responses"][0]["text"]
    assert text.startswith("start ") and text.endswith("the end \\boxed{1}")
    assert "characters left out" in text and len(text) < 13_000


def test_training_curves_from_metrics_jsonl(tmp_path, no_katex):
    run = make_run(tmp_path / "run", "m", {"math500": records("math500", 1, 2)})
    (run / "train").mkdir()
    lines = [json.dumps({"step": s, "reward": s / 10, "accuracy": 0.2 + s / 100,
                         "response_length": 300.0 + 20 * s, "lr": 1e-6}) for s in range(10)]
    (run / "train" / "metrics.jsonl").write_text("\n".join([*lines, "{bad", '{"reward": 1}']))
    out = tmp_path / "r.html"
    written = write_report([run], out)
    assert any("2 unusable line(s)" in w for w in written.warnings)
    html = out.read_text()
    metrics = re.findall(r'<figure class="chart curve" data-metric="(\w+)"', html)
    assert metrics == ["reward", "accuracy", "lr", "response_length"]  # by group
    points = re.search(r'data-metric="reward".*?<polyline class="line" points="([^"]+)"', html,
                       re.DOTALL)
    assert points and len(points.group(1).split()) == 10
    assert [c["metric"] for c in Page(html).blob["curves"]][:3] == ["reward", "accuracy", "lr"]
    write_report([make_run(tmp_path / "plain", "m", {"math500": records("math500", 1, 2)})], out)
    assert 'id="training"' not in out.read_text()


def test_budget_curves_are_charted_per_task_and_stale_ones_said(tmp_path, no_katex):
    import os

    from ovr_eval.runs import RunDir

    run = make_run(tmp_path / "run", "m", {"math500": records("math500", 1, 2)})
    points = [{"budget": b, "score": s, "ci95": [max(s - 0.2, 0.0), s + 0.2], "n": 2,
               "truncated_fraction": t, "finished": {"score": 1.0, "responses": 1},
               "truncated": {"score": None, "responses": 0}}
              for b, s, t in ((256, 0.0, 1.0), (512, 0.25, 0.5), (1024, 0.5, 0.0))]
    RunDir(run).write_budget({"tasks": {"math500": {"max_tokens": 1024, "points": points}}})
    out = tmp_path / "r.html"
    written = write_report([run], out)
    html = out.read_text()
    assert re.findall(r'<figure class="chart budget" data-task="(\w+)"', html) == ["math500"]
    line = re.search(r'class="chart budget".*?<polyline class="line" points="([^"]+)"', html,
                     re.DOTALL)
    xs = [float(p.split(",")[0]) for p in line.group(1).split()]
    assert xs[1] - xs[0] == pytest.approx(xs[2] - xs[1])  # budgets on a log2 axis
    assert "at 512 tokens: 25.0 [5.0, 45.0]; 50% truncated; finished 100.0, truncated -" in html
    assert not any("budget.json" in w for w in written.warnings)
    later = (run / "budget.json").stat().st_mtime_ns + 10**9  # records grew after the curve
    os.utime(run / "samples" / "math500.jsonl", ns=(later, later))
    written = write_report([run], out)
    assert 'class="chart budget"' not in out.read_text()
    assert any("budget.json is older than the records of math500" in w
               for w in written.warnings)


def test_training_curves_are_grouped_with_whole_steps_and_stages(tmp_path, no_katex):
    run = make_run(tmp_path / "run", "m", {"math500": records("math500", 1, 2)})
    (run / "train").mkdir()
    sft = [{"step": s, "stage": "sft", "loss": 2.0 - s / 10, "lr": 1e-5, "tokens_per_s": 900.0}
           for s in range(1, 4)]
    rl = [{"step": s, "stage": "rl", "reward": s / 10, "accuracy": s / 20, "policy_loss": 0.1,
           "loss": 0.5, "kl": 0.01 * s, "entropy": 1.0, "response_length": 200.0 + s,
           "tokens_per_s": 500.0 + s, "step_s": 3.0} for s in range(4, 10)]
    evals = [{"step": 9, "stage": "eval", "eval_math500": 0.4}]
    (run / "train" / "metrics.jsonl").write_text("\n".join(json.dumps(r)
                                                            for r in [*sft, *rl, *evals]))
    out = tmp_path / "r.html"
    write_report([run], out)
    html = out.read_text()
    section = html[html.index('id="training"'):html.index('id="samples"')]
    groups = re.findall(r'<h3 class="curve-group">([^<]+)</h3>', section)
    assert groups == ["reward and accuracy", "losses", "KL and entropy", "length", "throughput"]
    figures = dict(re.findall(r'data-metric="(\w+)" data-group="([^"]+)"', section))
    assert figures == {"reward": "reward and accuracy", "accuracy": "reward and accuracy",
                       "eval_math500": "reward and accuracy", "loss": "losses", "lr": "losses",
                       "policy_loss": "losses", "entropy": "KL and entropy",
                       "kl": "KL and entropy", "response_length": "length",
                       "step_s": "throughput", "tokens_per_s": "throughput"}
    ticks = re.findall(r'class="tick x-tick">([^<]*)<', section)
    assert ticks and all(t.isdigit() for t in ticks)  # whole steps, never 2.5
    loss = section[section.index('data-metric="loss"'):section.index('data-metric="lr"')]
    stages = re.findall(r'data-stage="(SFT|RL)" data-start="(\d+)" data-end="(\d+)"', loss)
    assert stages == [("SFT", "1", "3"), ("RL", "4", "9")]
    assert len(re.findall(r'<polyline class="line"', loss)) == 2  # SFT and RL not joined
    assert loss.count('<span class="swatch') == 1  # one legend entry per run
    reward = section[section.index('data-metric="reward"'):section.index('data-metric="accuracy"')]
    assert 'data-stage="RL"' in reward and 'data-stage="SFT"' not in reward


def test_subset_tags_and_letter_options_are_shown_plainly(tmp_path, no_katex):
    rows = [record("logicvista", i, i == 0, choices=["A", "B", "C", "D"],
                   answer_type="multiple_choice", metadata={"skill": ["inductive"]})
            for i in range(2)]
    rows[0]["gold"] = "B"
    run = make_run(tmp_path / "run", "m", {"logicvista": rows})
    results = json.loads((run / "results.json").read_text())
    results["tasks"]["logicvista"]["subsets"] = {"skill": {"inductive": {"score": 0.5, "n": 2}}}
    (run / "results.json").write_text(json.dumps(results))
    out = tmp_path / "r.html"
    write_report([run], out, reference_models=["none"])
    samples = Page(out.read_text()).blob["samples"]
    assert [s["subsets"] for s in samples] == [["skill=inductive"]] * 2
    assert all(s["letter_choices"] for s in samples)
    js = (REPO / "reports" / "templates" / "report.js").read_text()
    assert "s.letter_choices" in js and '"choices", list' in js


def test_the_warning_legend_lists_every_marked_cell(tmp_path, no_katex):
    plain = make_run(tmp_path / "plain", "m", {"math500": records("math500", 1, 2)})
    out = tmp_path / "r.html"
    write_report([plain], out, reference_models=["none"])
    board = out.read_text().split('id="leaderboard"')[1].split('id="charts"')[0]
    assert "⚠" not in board  # nothing marked: no legend promising a list
    dyna = [record("dynamath", i, True, metadata={"seed": i, "variant": 1}) for i in range(2)]
    partial = make_run(tmp_path / "partial", "m", {"dynamath": dyna, "arithmetic":
                                                    records("arithmetic", 1, 2)})
    results = json.loads((partial / "results.json").read_text())
    results["tasks"]["dynamath"].update(complete=False, variants_expected=10, variants=1)
    (partial / "results.json").write_text(json.dumps(results))
    write_report([partial], out, reference_models=["none"])
    board = out.read_text().split('id="leaderboard"')[1].split('id="charts"')[0]
    marks = board.count('<span class="warn-mark"')
    listed = re.findall(r"<li>⚠ <b>partial</b> · ([^:<]+): ([^<]+)</li>", board)
    assert marks >= 2 and marks == len(listed)
    assert "every one is listed" in board and 'id="cell-notes"' in board


def test_report_command(two_runs, tmp_path, no_katex):
    app = typer.Typer()
    app.command()(report_command)
    out = tmp_path / "sub" / "board.html"
    result = CliRunner().invoke(app, [*map(str, two_runs), "-o", str(out), "--reference",
                                      "OVR-7B", "--max-samples", "2"])
    assert result.exit_code == 0, result.output
    said = " ".join(result.output.split())
    assert f"wrote {out}" in said and "6 samples, 5 left out (--max-samples)" in said
    assert "no KaTeX (run scripts/setup-browser.sh)" in said
    assert set(Page(out.read_text()).cells) == {"run-a", "run-b", "OVR-7B-RL"}


# ---------------------------------------------------------------- in a real browser

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


@pytest.fixture(scope="module")
def browser():
    sync_api = pytest.importorskip(
        "playwright.sync_api", reason="playwright is not installed: run scripts/setup-browser.sh")
    if not CHROMIUM.is_file():
        pytest.skip(f"{CHROMIUM} not found: run scripts/setup-browser.sh")
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


def open_report(browser, path: Path, csp: bool = True):
    """The page, with what it tried: dialogs, errors and requests.

    ``csp=False`` ignores the page's Content-Security-Policy, so that a payload that runs
    nothing does so because it was escaped, not because the policy blocked it.
    """
    page = browser.new_page(viewport={"width": 1280, "height": 900}, bypass_csp=not csp)
    seen: dict[str, list[str]] = {"dialogs": [], "errors": [], "requests": []}
    page.on("dialog", lambda d: (seen["dialogs"].append(d.message), d.dismiss()))
    page.on("pageerror", lambda e: seen["errors"].append(str(e)))
    page.on("request", lambda r: seen["requests"].append(r.url))
    page.goto(path.as_uri())
    return page, seen


def column_values(page, key: str) -> list[str]:
    return page.eval_on_selector_all(
        f'#leaderboard-table tbody td[data-key="{key}"]', "cells => cells.map(c => c.dataset.sort)")


def test_browser_sorts_filters_and_runs_no_payload(browser, tmp_path, monkeypatch):
    from playwright.sync_api import expect

    monkeypatch.setenv("OVR_KATEX_DIR", str(KATEX_DIR or tmp_path / "none"))
    math = records("math500", 3, 6)
    math[1] = record("math500", 1, True, response=f"needle {HOSTILE} $\\frac{{a}}{{b}}$ "
                     "$\\href{javascript:alert(3)}{click}$")
    a = make_run(tmp_path / "run-a", "org/model-a",
                 {"math500": math, "mathvision": records("mathvision", 1, 3)})
    b = make_run(tmp_path / "run-b", "org/model-b", {"math500": records("math500", 1, 6)})
    out = tmp_path / "report.html"
    write_report([a, b], out, reference_models=["OVR-7B-RL", "Qwen2.5-7B", "LLaVA-OneVision-7B"])
    page, seen = open_report(browser, out)  # under the page's own Content-Security-Policy

    # sorting: best first, then ascending; missing cells stay last both ways
    page.click('#leaderboard-table thead th[data-key="math500"] button')
    values = column_values(page, "math500")
    scores = [float(v) for v in values if v]
    assert values[-1] == "" and scores == sorted(scores, reverse=True)
    assert page.get_attribute('th[data-key="math500"]', "aria-sort") == "descending"
    assert page.eval_on_selector("#leaderboard-table tbody tr", "r => r.dataset.kind") == \
        "reported"  # OVR-7B-RL's 95.3 leads
    page.click('#leaderboard-table thead th[data-key="math500"] button')
    values = column_values(page, "math500")
    scores = [float(v) for v in values if v]
    assert values[-1] == "" and scores == sorted(scores)
    assert page.locator("#leaderboard-table tbody tr.run").count() == 2

    # filtering
    assert page.text_content("#match-count") == "15 of 15 samples match"
    page.select_option("#f-task", "mathvision")
    assert page.text_content("#match-count") == "3 of 15 samples match"
    page.select_option("#f-task", "")
    page.select_option("#f-run", "1")
    page.select_option("#f-verdict", "correct")
    assert page.text_content("#match-count") == "1 of 15 samples match"
    assert page.eval_on_selector_all("#sample-list article", "a => a.map(x => x.dataset.run)") \
        == ["1"]
    page.select_option("#f-run", "")
    page.select_option("#f-verdict", "")
    page.select_option("#f-subset", "level=2")
    assert page.text_content("#match-count") == "7 of 15 samples match"
    page.select_option("#f-subset", "")
    question = page.locator("#sample-list .question").first
    if KATEX_DIR:  # math typeset offline from the text nodes
        assert question.locator(".katex").count() == 1
    else:
        assert "$\\frac{" in question.text_content()
    assert seen["errors"] == [] and seen["dialogs"] == []
    assert all(url.startswith(("file:", "data:")) for url in seen["requests"]), seen["requests"]
    artifacts = REPO / "test-artifacts"
    artifacts.mkdir(exist_ok=True)
    page.screenshot(path=str(artifacts / "report.png"), full_page=True)
    page.close()

    # the payloads are text: shown verbatim, no element made from them, nothing ran, even with
    # the page's Content-Security-Policy switched off
    page, seen = open_report(browser, out, csp=False)
    page.fill("#f-search", "NEEDLE")
    expect(page.locator("#match-count")).to_have_text("1 of 15 samples match")
    response = page.locator("#sample-list .response-text").first
    assert SCRIPT_PAYLOAD in response.text_content() and IMG_PAYLOAD in response.text_content()
    assert page.locator("#sample-list script, #sample-list img").count() == 0
    assert page.locator('#sample-list a[href^="javascript"]').count() == 0
    page.wait_for_timeout(200)
    assert page.evaluate("window.__pwned") is None
    assert seen["dialogs"] == [] and seen["errors"] == []
    page.close()


def test_browser_shows_demo_like_run_with_images(browser, tmp_path, no_katex):
    Image.new("RGB", (300, 200), "teal").save(tmp_path / "figure.png")
    run = make_run(tmp_path / "run", "m", {"mathvision": [
        record("mathvision", 0, False, images=[str(tmp_path / "figure.png")])]})
    out = tmp_path / "r.html"
    write_report([run], out)
    page, seen = open_report(browser, out)
    image = page.locator("#sample-list img")
    assert image.count() == 1 and image.get_attribute("src").startswith("data:image/")
    assert page.evaluate("document.querySelector('#sample-list img').naturalWidth") == 300
    assert "KaTeX was not available" in page.text_content("#katex-note")
    assert "$\\frac{0}{2}$" in page.text_content("#sample-list .question")  # source, as text
    assert seen["errors"] == [] and seen["dialogs"] == []
    page.close()



def test_dynamath_with_fewer_variants_is_flagged_not_comparable(tmp_path, no_katex):
    from test_compare import dynamath_run

    run = dynamath_run(tmp_path / "dm", variants=1)
    out = tmp_path / "report.html"
    write_report([run], out, reference_models=["OVR-7B-RL"])
    html = out.read_text("utf-8")
    cells = Page(html).cells
    assert "warn" in cells["dm"]["dynamath"][0]  # marked ⚠, its reason listed below
    assert "not comparable: 1 of 10 variants" in html
    full = dynamath_run(tmp_path / "full", variants=10)
    write_report([full], out, reference_models=["OVR-7B-RL"])
    assert "not comparable" not in out.read_text("utf-8")
