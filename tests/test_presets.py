"""``ovr eval --preset ovr``: the paper's sampling per benchmark, recorded in config.json."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from rich.console import Console

from ovr_eval.evaluate import EvalOptions, Evaluation
from ovr_eval.runs import RunDir
from ovr_eval.types import SamplingConfig, UserError


def evaluation(out: Path, preset: str | None = "ovr", **overrides) -> Evaluation:
    options = EvalOptions(model="org/m", tasks=["ovr-all"], out=out, engine="vllm",
                          sampling=SamplingConfig(max_tokens=100, seed=3), preset=preset,
                          sampling_overrides=overrides)
    return Evaluation(options, Console(file=io.StringIO()))


def sampling(run: Evaluation, task: str) -> SamplingConfig:
    return run.sampling_of(next(t for t in run.tasks if t.name == task))


def test_ovr_preset_is_orz_avg16_where_known(tmp_path):
    run = evaluation(tmp_path / "r")
    for task in ("aime2024", "aime2025", "math500", "gpqa_diamond"):
        assert sampling(run, task) == SamplingConfig(n=16, temperature=1.0, top_p=1.0,
                                                     max_tokens=100, seed=3)
    for task in ("mathvista", "mmlu", "dynamath", "mmmu"):
        assert sampling(run, task) == SamplingConfig(n=1, temperature=1.0, top_p=1.0,
                                                     max_tokens=100, seed=3)
    config = run.config().to_json()
    assert config["preset"] == "ovr" and config["sampling"]["temperature"] == 1.0
    assert config["sampling_by_task"]["aime2024"]["n"] == 16
    assert config["sampling_by_task"]["mathverse"]["n"] == 1
    assert set(config["sampling_by_task"]) == set(config["tasks"])


def test_explicit_options_override_the_preset_everywhere(tmp_path):
    run = evaluation(tmp_path / "r", n=4, temperature=0.6)
    assert sampling(run, "aime2024") == SamplingConfig(n=4, temperature=0.6, top_p=1.0,
                                                       max_tokens=100, seed=3)
    assert sampling(run, "mathvista").n == 4


def test_without_a_preset_every_task_shares_the_run_sampling(tmp_path):
    run = evaluation(tmp_path / "r", preset=None)
    assert sampling(run, "aime2024") == SamplingConfig(max_tokens=100, seed=3)
    config = run.config().to_json()
    assert "preset" not in config and "sampling_by_task" not in config


def test_unknown_preset_and_changed_preset_are_clear_errors(tmp_path):
    with pytest.raises(UserError, match="unknown --preset 'orz'; presets: ovr"):
        evaluation(tmp_path / "r", preset="orz")
    (tmp_path / "r" / "samples").mkdir(parents=True)
    RunDir(tmp_path / "r").write_config(evaluation(tmp_path / "r").config())
    (tmp_path / "r" / "samples" / "aime2024.jsonl").write_text('{"id": "1"}\n')  # a record
    with pytest.raises(UserError, match=r"other settings \(sampling.n: 1 → 2; .*"
                                        r"sampling\[aime2024\].n: 16 → 2"):
        RunDir(tmp_path / "r").start(evaluation(tmp_path / "r", n=2).config())
    assert RunDir(tmp_path / "r").start(evaluation(tmp_path / "r").config()).resuming  # same
