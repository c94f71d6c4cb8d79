"""``ovr budget``: one run at a large --max-tokens gives the exact score of every smaller budget
(greedy, --deterministic: the curve at b equals a real run at --max-tokens b, record by record),
split into finished and truncated responses; runs that cannot answer say so in one line."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from ovr_eval.budget import cut_records, default_budgets
from ovr_eval.budget_run import load_decoder
from ovr_eval.records import Record
from ovr_eval.run_config import RunConfig

OVR = [sys.executable, "-m", "ovr_eval.cli"]
# a scoring rule whose verdicts the random model's noise reaches: a response counts when the
# verifier read an answer holding a digit (its official metric, so the curve must use it)
PLUGIN = '''
from dataclasses import fields
from ovr_tasks._official import official_records
from ovr_tasks.arithmetic import TASK as BASE, Arithmetic

class Digits(Arithmetic):
    def official(self, records):
        return official_records(records, lambda r, j: (
            any(c.isdigit() for c in r.extraction(j) or ""), "has_digit"))

TASK = Digits(**{**{f.name: getattr(BASE, f.name) for f in fields(BASE) if f.init},
                 "name": "digits"})
'''


def ovr(*args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([*OVR, *args], capture_output=True, text=True, timeout=600,
                          env={**os.environ, "COLUMNS": "200", **env})


@pytest.fixture(scope="module")
def stopping_model(tmp_path_factory) -> Path:
    """A tiny random model over 256 byte tokens whose greedy responses stop on their own at
    8 to 21 tokens for some prompts (seed 2), and run to the limit for the others."""
    from ovr_eval.tiny import build_tiny_qwen2_5_vl

    return build_tiny_qwen2_5_vl(tmp_path_factory.mktemp("models") / "stopping", seed=2,
                                 vocab=256, hidden_size=64, layers=1)


def evaluate(model: Path, task_dir: Path, out: Path, max_tokens: int) -> str:
    result = ovr("eval", "--model", str(model), "--engine", "hf", "--tasks", "digits",
                 "--task-dir", str(task_dir), "--split", "digits=test_text", "--limit", "12",
                 "--max-tokens", str(max_tokens), "--deterministic", "--no-second-opinion",
                 "--out", str(out))
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


def records(run: Path) -> dict[str, dict]:
    lines = (run / "samples" / "digits.jsonl").read_text().splitlines()
    return {r["id"]: r for r in map(json.loads, lines)}


@pytest.mark.slow
def test_the_curve_at_b_is_a_real_run_at_max_tokens_b(tmp_path, stopping_model):
    task_dir = tmp_path / "plugins"
    task_dir.mkdir()
    (task_dir / "digits.py").write_text(PLUGIN)
    full, budgets = tmp_path / "full", (8, 12)
    summary = evaluate(stopping_model, task_dir, full, 24)
    # 8 of 12 responses hit the cap: the summary says what truncation cost, from the records
    assert "67% of responses stopped at --max-tokens 24" in " ".join(summary.split())
    assert "the last doubling (12 → 24 tokens) moved the score" in " ".join(summary.split())
    result = ovr("budget", str(full), "--budgets", ",".join(map(str, budgets)), "--json",
                 "--task-dir", str(task_dir))
    assert result.returncode == 0, result.stderr[-3000:]
    curve = json.loads(result.stdout)["tasks"]["digits"]
    assert curve["approximate_texts"] == 0 and curve["deterministic"]
    assert json.loads((full / "budget.json").read_text())["tasks"]["digits"] == curve
    decode, _ = load_decoder(RunConfig(model=str(stopping_model)))
    saved = records(full)
    finished = [r for r in saved.values() if r["finish_reasons"] == ["stop"]]
    assert finished and len(finished) < len(saved)  # both kinds, so the split is tested
    for point, budget in zip(curve["points"], budgets, strict=True):
        real = tmp_path / f"at-{budget}"
        evaluate(stopping_model, task_dir, real, budget)
        scored = json.loads((real / "results.json").read_text())["tasks"]["digits"]
        assert point["budget"] == budget
        assert (point["score"], point["ci95"], point["n"]) == (
            scored["score"], scored["ci95"], scored["n"])
        assert point["truncated_fraction"] == scored["tokens"]["truncated_fraction"]
        reals = records(real)
        for sample_id, record in reals.items():  # every response as the real run saved it
            whole = Record.from_json(saved[sample_id])
            (cut,) = cut_records([whole], budget, decode)
            assert cut.responses == record["responses"]
            assert (cut.extracted, cut.correct) == (record["extracted"], record["correct"])
            assert cut.token_ids == record["token_ids"]
            assert cut.finish_reasons == record["finish_reasons"]
            assert cut.completion_tokens == record["completion_tokens"]
        reasons = [f for r in reals.values() for f in r["finish_reasons"]]
        assert point["finished"]["responses"] == reasons.count("stop")
        assert point["truncated"]["responses"] == reasons.count("length")
    # the curve moves: the longer budget lets responses finish or change their answer
    assert curve["points"][0]["truncated_fraction"] > curve["points"][1]["truncated_fraction"]


def test_a_cut_response_is_regraded_and_one_that_stopped_within_the_budget_is_kept():
    record = Record(id="1", gold="42", responses=["so \\boxed{42}", "long \\boxed{42}"],
                    extracted=["42", "42"], correct=[True, True], methods=["boxed", "boxed"],
                    errors=[None, None], completion_tokens=[3, 5],
                    finish_reasons=["stop", "stop"], token_ids=[[1, 2, 9], [1, 2, 3, 4, 9]],
                    math_verify=[True, True])
    texts = {(1, 2, 3): "long \\boxed{4"}
    (cut,) = cut_records([record], 3, lambda ids: texts.get(tuple(ids), ""))
    assert cut.responses == ["so \\boxed{42}", "long \\boxed{4"]
    assert cut.correct == [True, False] and cut.finish_reasons == ["stop", "length"]
    assert cut.completion_tokens == [3, 3] and cut.token_ids == [[1, 2, 9], [1, 2, 3]]
    assert cut.math_verify is None  # its verdicts were on the whole responses
    assert record.correct == [True, True]  # the saved record is left as it was


def test_the_default_budgets_double_up_to_the_runs_own():
    assert default_budgets(100) == [16, 32, 64, 100]
    assert default_budgets(64) == [16, 32, 64] and default_budgets(8) == [8]


@pytest.mark.slow
def test_runs_that_cannot_give_a_curve_say_so_in_one_line(tmp_path):
    run = tmp_path / "old"
    (run / "samples").mkdir(parents=True)
    (run / "config.json").write_text(json.dumps({"model": "m", "sampling": {"max_tokens": 64}}))
    old = {"id": "1", "correct": [False], "responses": ["x"], "finish_reasons": ["length"]}
    (run / "samples" / "math500.jsonl").write_text(json.dumps(old) + "\n")
    result = ovr("budget", str(run))
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "1 of 1 records" in result.stderr and "hold no token ids" in result.stderr
    (run / "samples" / "math500.jsonl").write_text(json.dumps({**old, "token_ids": [[5]]}))
    for args, said in ((["--budgets", "128"], "budget 128 is outside 1..64"),
                       (["--budgets", "a,b"], "expected whole numbers"),
                       (["--tasks", "gpqa"], "holds no records of gpqa")):
        result = ovr("budget", str(run), *args)
        assert result.returncode == 2 and said in result.stderr, result.stderr
        assert "Traceback" not in result.stderr
    result = ovr("budget", str(run), HF_HUB_OFFLINE="1")  # model "m": no tokenizer anywhere
    assert result.returncode == 2 and "cannot load the tokenizer of m" in result.stderr
    assert "Traceback" not in result.stderr and "give one with --tokenizer" in result.stderr


def test_the_truncation_warning_says_what_the_last_doubling_bought_and_what_is_left(tmp_path):
    from ovr_eval.budget_run import truncation_note
    from ovr_eval.evaluate import make_record
    from ovr_eval.runs import RunDir
    from ovr_eval.types import Completion, Sample

    run = RunDir(tmp_path / "run")
    run.samples_dir.mkdir(parents=True)
    config = RunConfig(model="m", sampling={"max_tokens": 4})
    # (gold, token ids, finish reason, saved text); the ids' first halves decode as below
    saved = [("7", [1, 2, 3, 4], "length", "\\boxed{7} and on"),  # answered after token 2
             ("3", [5, 9], "stop", "\\boxed{3}"),  # finished within every budget
             ("5", [6, 7, 8, 8], "length", "8 8")]  # truncated, wrong
    halves = {(1, 2): "\\boxed{", (6, 7): "8"}
    writer = run.writer("math500")
    for i, (gold, ids, reason, text) in enumerate(saved):
        sample = Sample(id=str(i), task="math500", question="?", answer=gold)
        writer.write(make_record(sample, "test", Completion(
            str(i), [text], completion_tokens=[len(ids)], finish_reasons=[reason],
            token_ids=[ids]), 2.0, second_opinion=False))
    writer.close()
    note = truncation_note(run, "math500", config, lambda ids: halves.get(tuple(ids), ""))
    assert note.startswith("67% of responses stopped at --max-tokens 4 before finishing "
                           "(finished ones score 100.0% of 1, truncated ones 50.0% of 2)")
    assert "the last doubling (2 → 4 tokens) moved the score +33.3 points;" in note
    assert "2× the budget (8) adds at most +33.3 points" in note  # 1 of 3 responses wrong
    # without a tokenizer the note still splits the score, and leaves the curve out
    plain = truncation_note(run, "math500", config, None)
    assert "last doubling" not in plain and "finished ones score 100.0% of 1" in plain
