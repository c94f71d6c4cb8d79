"""``ovr eval --deterministic``: the same records whatever the batch size, and a run killed and
resumed equals one that ran straight through, on the hf and vllm engines."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

OVR = [sys.executable, "-m", "ovr_eval.cli"]
# hf: the reproduction (4 of 40 greedy responses moved with --batch-size); vllm runs
# one sequence at a time on the CPU, so fewer prompts
PROMPTS = {"hf": 40, "vllm": 20}


def ovr(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([*OVR, *args], capture_output=True, text=True, timeout=600,
                          env={**os.environ, "COLUMNS": "160"})


def responses(run: Path) -> dict[str, list[str]]:
    lines = (run / "samples" / "math500.jsonl").read_text().splitlines()
    return {r["id"]: r["responses"] for r in map(json.loads, lines)}


def kill_after(run: Path, records: int) -> None:
    """What kill -9 leaves: the first ``records`` records and a torn line, no scores."""
    path = run / "samples" / "math500.jsonl"
    kept = path.read_text().splitlines()[:records]
    path.write_text("\n".join(kept) + '\n{"id": "torn', encoding="utf-8")
    (run / "results.json").unlink()


@pytest.mark.slow
@pytest.mark.parametrize("engine", [
    "hf", pytest.param("vllm", marks=pytest.mark.vllm)])
def test_deterministic_records_do_not_depend_on_batch_size_or_resume(
        engine, tmp_path, tiny_model, shared_data):
    def run(out: Path, batch_size: int, *extra: str) -> subprocess.CompletedProcess:
        return ovr("eval", "--model", str(tiny_model), "--engine", engine, "--tasks", "math500",
                   "--data-dir", str(shared_data), "--limit", str(PROMPTS[engine]),
                   "--max-tokens", "48", "--batch-size", str(batch_size), "--out", str(out),
                   *extra)

    straight, resumed = tmp_path / "straight", tmp_path / "resumed"
    first = run(straight, 4, "--deterministic")
    assert first.returncode == 0, first.stderr[-3000:]
    second = run(resumed, 8, "--deterministic")
    assert second.returncode == 0, second.stderr[-3000:]
    kill_after(resumed, PROMPTS[engine] // 3)
    again = run(resumed, 8, "--deterministic")
    assert again.returncode == 0, again.stderr[-3000:]
    assert len(responses(resumed)) == PROMPTS[engine]
    assert responses(resumed) == responses(straight)
    config = json.loads((straight / "config.json").read_text())
    assert config["engine_options"]["deterministic"] is True
    assert config["engine_info"]["deterministic"]  # how: "one prompt at a time", ...
    # resuming without the flag would mix records made both ways: refused in one line
    mixed = run(resumed, 8)
    assert mixed.returncode == 2 and "deterministic: True → False" in mixed.stderr
    assert "Traceback" not in mixed.stderr


def test_deterministic_with_a_server_is_refused_in_one_line(tmp_path):
    result = ovr("eval", "--model", "org/model", "--engine", "openai", "--tasks", "math500",
                 "--deterministic", "--out", str(tmp_path / "run"))
    assert result.returncode == 2
    assert "--deterministic is for the vllm and hf engines" in result.stderr
    assert "Traceback" not in result.stderr and not (tmp_path / "run").exists()
