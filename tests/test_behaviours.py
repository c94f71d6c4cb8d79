"""Cognitive-behaviour analysis: the rules on the paper's own examples, per task and per
correct / incorrect response of a run, per training step, and the ``behaviours`` command."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from ovr_eval.behaviours import BY_NAME, behaviours_for_run, count_behaviours
from ovr_eval.cli.behaviours import behaviours_command
from ovr_eval.types import UserError

# Examples quoted in the OVR paper: Table 1 (visual), §2 (linguistic, after Gandhi et al.)
# and the backtracking prompt of Fig. 7.
PAPER_EXAMPLES = [
    ("visual_reflection", "Let me see the image again."),
    ("visual_divide_and_conquer", "Let's first look at the numbers on the left."),
    ("visual_verification", "I will now verify this against the image."),
    ("goal_driven_visual_tracing", "To get this answer, I need to find an object that is red."),
    ("backtracking", "This approach won't work because the sum is odd."),
    ("backtracking", "That calculation led to a dead end. Let's try subtracting Y from X instead."),
    ("backtracking", "My previous assumption about the sequence was wrong. Starting over with 2."),
    ("subgoal_setting", "First, we need to find the radius."),
    ("backward_chaining", "To get 75, we need a number divisible by 5."),
    ("verification", "Let me verify: 3 * 25 = 75."),
]


@pytest.mark.parametrize("behaviour,text", PAPER_EXAMPLES)
def test_paper_examples_are_detected(behaviour, text):
    assert count_behaviours(text)[behaviour] >= 1


def test_plain_answers_show_no_behaviour():
    counts = count_behaviours("The area is 12, so the answer is \\boxed{12}.")
    assert not any(counts.values())


def test_instances_are_counted_once_per_sentence():
    text = ("Wait, that's wrong, let me redo it. Wait.\n"
            "The image again? Let me look at the image again.")
    counts = count_behaviours(text)
    assert counts["backtracking"] == 2 and counts["visual_reflection"] == 1


def test_orz_reflection_keywords_are_case_sensitive_as_published():
    assert count_behaviours("wait, recheck this")["orz_reflection"] == 1
    assert count_behaviours("Wait, However, Retry")["orz_reflection"] == 0
    assert BY_NAME["orz_reflection"].kind == "keyword"


def make_run(root: Path, records: dict[str, list[dict]],
             rollouts: list[dict] | None = None) -> Path:
    (root / "samples").mkdir(parents=True)
    for task, items in records.items():
        (root / "samples" / f"{task}.jsonl").write_text(
            "".join(json.dumps(r) + "\n" for r in items))
    if rollouts is not None:
        (root / "train").mkdir()
        lines = [json.dumps(r) for r in rollouts] + ["{not json"]
        (root / "train" / "rollouts.jsonl").write_text("\n".join(lines) + "\n")
    return root


REFLECTING = "Let me look at the figure again. Wait, the angle is 40. \\boxed{40}"
PLAIN = "The angle is 30. \\boxed{30}"


@pytest.fixture
def run(tmp_path) -> Path:
    return make_run(tmp_path / "run", {
        "mathvision": [
            {"id": "1", "responses": [REFLECTING, PLAIN], "correct": [True, False]},
            {"id": "2", "responses": [PLAIN, PLAIN], "correct": [False, False]},
        ],
        "math500": [{"id": "a", "responses": ["First, we need to add. \\boxed{3}"],
                     "correct": [True]}],
    }, rollouts=[
        {"step": 0, "response": PLAIN, "reward": 0.0},
        {"step": 0, "response": PLAIN, "reward": 1.0},
        {"step": 50, "response": REFLECTING, "reward": 1.0},
        {"step": 50, "response": PLAIN, "reward": 0.0},
    ])


def test_behaviours_per_task_and_per_correctness(run):
    report = behaviours_for_run(run)
    vision = report["tasks"]["mathvision"]
    assert vision["responses"] == {"all": 4, "correct": 1, "incorrect": 3}
    assert vision["all"]["visual_reflection"]["frequency"] == 0.25
    assert vision["correct"]["visual_reflection"]["frequency"] == 1.0
    assert vision["incorrect"]["visual_reflection"]["frequency"] == 0.0
    assert math.isclose(vision["all"]["backtracking"]["mean_count"], 0.25)
    assert report["tasks"]["math500"]["all"]["subgoal_setting"]["frequency"] == 1.0
    assert report["overall"]["responses"]["all"] == 5
    assert set(report["behaviours"]) == set(BY_NAME)


def test_behaviours_over_training_steps(run):
    training = behaviours_for_run(run)["training"]
    assert training["malformed_lines"] == 1
    first, last = training["steps"]
    assert (first["step"], last["step"]) == (0, 50)
    assert first["mean_reward"] == 0.5 and first["responses"]["correct"] == 1
    assert first["all"]["visual_reflection"]["frequency"] == 0.0
    assert last["all"]["visual_reflection"]["frequency"] == 0.5
    assert last["correct"]["visual_reflection"]["frequency"] == 1.0


def test_not_a_run_folder_is_a_clear_error(tmp_path):
    with pytest.raises(UserError, match="does not exist"):
        behaviours_for_run(tmp_path / "nope")
    with pytest.raises(UserError, match="no samples"):
        behaviours_for_run(tmp_path)


def cli() -> typer.Typer:
    """The command as `ovr` registers it (``ovr behaviours RUN``)."""
    app = typer.Typer()
    app.command("behaviours")(behaviours_command)

    @app.callback()
    def main() -> None:
        """ovr"""

    return app


def test_behaviours_command_prints_tables_and_writes_the_report(run):
    result = CliRunner().invoke(cli(), ["behaviours", str(run)], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "mathvision: 4 responses (1 correct, 3 incorrect)" in result.output
    assert "visual_reflection" in result.output and "over training steps" in result.output
    saved = json.loads((run / "behaviours.json").read_text())
    assert saved["tasks"]["mathvision"]["responses"]["all"] == 4


def test_behaviours_command_json(run):
    result = CliRunner().invoke(cli(), ["behaviours", str(run), "--json", "--no-save"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["training"]["steps"][1]["step"] == 50
    assert not (run / "behaviours.json").exists()
