"""Each benchmark's official scoring rules, on records built by hand where the official rule
and the verifier's differ, scored both ways. Each test states what the official script does
(read from its code: DynaMath evaluation/opensource_json_eval.py and VLMEvalKit
vlmeval/dataset/dynamath.py; MathVista evaluation/calculate_score.py; We-Math
evaluation/accuracy.py; LogicVista eval/extract_accuracy.py; MMLU-Pro evaluate_from_local.py;
MMMU eval_utils.py and mmmu-pro/evaluate.py; GPQA baselines' parse_sampled_answer)."""

from __future__ import annotations

import math
import random

import pytest

from ovr_eval.evaluate import make_record
from ovr_eval.metrics import task_scores
from ovr_eval.records import Record
from ovr_eval.task_registry import resolve
from ovr_eval.types import Completion, Sample
from ovr_tasks._official import numeric_value, plain_number

TEN = [f"option text {i}" for i in range(10)]


def graded(task: str, items: list[tuple[str, str, list[str], dict]], **sample) -> list[Record]:
    """Records as `ovr eval` saves them, graded by the real verifier: one per (id, gold,
    responses, metadata)."""
    records = []
    for item_id, gold, responses, metadata in items:
        s = Sample(id=item_id, task=task, question="q", answer=gold, metadata=metadata, **sample)
        completion = Completion(sample_id=item_id, responses=responses)
        records.append(make_record(s, "test", completion, timeout_s=2.0))
    return records


def rec(fields: dict) -> Record:
    """A record with only the fields a test sets (the rest at their defaults)."""
    return Record.from_json(fields)


def task_named(name: str):
    (task,) = resolve(name)
    return task


def methods_of(task, records) -> list[list[str]]:
    return [r.official_method for r in task.official(records)]


# ---------------------------------------------------------------- DynaMath


def test_dynamath_float_tolerance_reads_the_normalised_answer():
    """Official: the short answer's number (DynaMath: the text before the first space, pi as a
    factor; VLMEvalKit has GPT reformat what does not parse) within 0.001 of the answer. Answer
    2.0944: all five forms of 2.094 are right; the verifier alone (relative 1e-6) takes none,
    and the former rule (a bare number in the raw extraction) took one."""
    forms = ["2.094 \\text{ cm}", "2.094^\\circ", "2.094 units", "2.094", "\\frac{2\\pi}{3}"]
    items = [(f"1/v{v}", "2.0944", [f"So it is \\boxed{{{form}}}."],
              {"seed": "1", "variant": v, "answer_type": "float"})
             for v, form in enumerate(forms, start=1)]
    records = graded("dynamath", items)
    assert [r.extracted[0] for r in records] == forms
    assert not any(r.correct[0] for r in records)
    assert sum(plain_number(r.extracted[0]) is not None for r in records) == 1  # former rule
    scores = task_named("dynamath").score(records)
    assert scores["average"]["score"] == 1.0 and scores["score"] == 1.0  # worst case: the seed
    assert scores["verifier"]["average"]["score"] == 0.0
    assert scores["official_methods"] == {"float within 0.001": 5}
    assert numeric_value("2.0954") is not None
    far = graded("dynamath", [("2/v1", "2.0944", ["\\boxed{2.0955}"],
                               {"seed": "2", "variant": 1, "answer_type": "float"})])
    assert task_named("dynamath").score(far)["score"] == 0.0  # 0.0011 off


def test_dynamath_text_answers_by_substring():
    """Official: a text answer is right when the gold is a substring of it (case-sensitive):
    "Sep" in "September" counts, "White" vs "white" and "(2, 4)" vs "(2,4)" do not; the
    verifier decides the opposite in all three, and is the documented second number."""
    cases = [("Sep", "\\text{September}"), ("White", "white"), ("(2, 4)", "(2,4)")]
    items = [(f"{i}/v1", gold, [f"\\boxed{{{answer}}}"],
              {"seed": str(i), "variant": 1, "answer_type": "text"})
             for i, (gold, answer) in enumerate(cases)]
    records = graded("dynamath", items)
    assert [r.correct[0] for r in records] == [False, True, True]  # the verifier
    official = task_named("dynamath").official(records)
    assert [r.correct[0] for r in official] == [True, False, False]
    scores = task_named("dynamath").score(records)
    assert math.isclose(scores["average"]["score"], 1 / 3)
    assert math.isclose(scores["verifier"]["average"]["score"], 2 / 3)


def test_dynamath_worst_case_and_average_are_clustered_by_seed():
    """A seed's ten variants are one problem drawn ten ways: here every variant of a seed is
    answered alike, so the average's error over seeds is about sqrt(10) times the error that
    treats 200 variants as independent problems."""
    rng = random.Random(3)
    records = []
    for seed in range(20):
        right = rng.random() < 0.5
        records += [rec({"id": f"{seed}/v{v}", "gold": "A", "extracted": ["A" if right else "B"],
                         "correct": [right], "metadata": {"seed": str(seed), "variant": v,
                                                          "answer_type": "multiple choice"}})
                    for v in range(1, 11)]
    scores = task_named("dynamath").score(records)
    naive = task_scores(records)["stderr"]
    assert scores["average"]["n"] == 20 and scores["complete"] is True
    assert scores["average"]["stderr"] > 2.5 * naive
    assert scores["average"]["score"] == scores["worst_case"]["score"]  # alike variants


# ---------------------------------------------------------------- MathVista


def test_mathvista_numbers_follow_calculate_score():
    """Official: floats are compared as str(round(x, precision)), integers as str(int(float(x)))
    -- truncation, so 3.7 counts for 3 -- on the number the extractor returns (units dropped).
    The verifier alone rejects all four of these; 12 cm for 12 both accept."""
    def item(pid, gold, answer, kind, precision=None):
        meta = {"answer_type": kind, "precision": precision, "source": f"src-{pid}"}
        return (pid, gold, [f"\\boxed{{{answer}}}"], meta)

    records = graded("mathvista", [
        item("1", "1.2", "1.19 \\text{ m}", "float", 1.0),
        item("2", "0.33", "\\frac{1}{3}", "float", 2),
        item("3", "3", "3.7", "integer"),
        item("4", "-4.3", "-4.25", "float", 1),  # round(-4.25, 1) prints -4.2: wrong
        item("5", "12", "12 cm", "integer"),
    ])
    assert [r.correct[0] for r in records] == [False, False, False, False, True]
    official = task_named("mathvista").official(records)
    assert [r.correct[0] for r in official] == [True, True, True, False, True]
    scores = task_named("mathvista").score(records)
    assert scores["score"] == 0.8 and scores["verifier"]["score"] == 0.2
    assert set(scores["subsets"]["source"]) == {f"src-{i}" for i in "12345"}


# ---------------------------------------------------------------- MathVerse


def test_mathverse_headline_is_the_vision_only_column():
    versions = ["Vision Only", "Vision Only", "Text Dominant", "Text Lite", "Vision Dominant"]
    records = [rec({"id": str(i), "correct": [v != "Vision Only"],
                    "metadata": {"problem_version": v}}) for i, v in enumerate(versions)]
    task = task_named("mathverse")
    scores = task.score(records)
    assert scores["score"] == 0.0 and scores["n"] == 2 and scores["paper_column"] is True
    assert scores["all_versions"]["score"] == 0.6 and scores["all_versions"]["n"] == 5
    assert task.units(records) == {"0": [0.0], "1": [0.0]}
    text_only = [rec({"id": "t", "correct": [True], "metadata": {"problem_version": "Text Only"}})]
    scores = task.score(text_only)
    assert scores["paper_column"] is False and scores["score"] == 1.0
    assert "not the paper's column" in scores["metric"]


# ---------------------------------------------------------------- WeMath


def test_wemath_one_two_three_step_accuracies():
    """Official accuracy.py: One-step = every sub-problem, Two-step / Three-step = the composite
    question of two- / three-step problems."""
    parts = {("2steps_1", "1"): True, ("2steps_1", "2"): False, ("2steps_1", "multi"): True,
             ("3steps_1", "1"): True, ("3steps_1", "2"): True, ("3steps_1", "3"): True,
             ("3steps_1", "multi"): False}
    records = [rec({"id": f"{p}/{part}", "correct": [ok],
                    "metadata": {"problem": p, "part": part, "steps": int(p[0])}})
               for (p, part), ok in parts.items()]
    scores = task_named("wemath").score(records)
    steps = scores["step_accuracy"]
    assert steps["one_step"]["score"] == 0.8 and steps["one_step"]["n"] == 5
    assert steps["two_step"]["score"] == 1.0 and steps["three_step"]["score"] == 0.0
    # 2steps_1: rote memorisation (strict 0, loose complete mastery 1); 3steps_1: IG (0.5)
    assert scores["score_strict"]["score"] == 0.25 and scores["score_loose"]["score"] == 0.75
    assert task_named("wemath").units(records) == {"2steps_1": [0.0], "3steps_1": [0.5]}


# ---------------------------------------------------------------- LogicVista


def test_logicvista_empty_item_counts_wrong():
    """Official extract_accuracy.py scores all 448 ids; v1_382 (no question, no answer) can
    never match, so it is wrong in every published result. The verifier cannot ask it."""
    asked = [rec({"id": f"v1_{i}", "correct": [True], "metadata": {"skill": ["inductive"]}})
             for i in (380, 381, 383)]
    scores = task_named("logicvista").score(asked)
    assert scores["score"] == 0.75 and scores["n"] == 4
    assert scores["counted_wrong_unasked"] == ["v1_382"]
    assert scores["items_asked"]["score"] == 1.0
    assert task_named("logicvista").score(asked[:2])["score"] == 1.0  # not reached yet


# ---------------------------------------------------------------- multiple-choice fallbacks


def test_mmlu_pro_official_chain_and_guess():
    """Official: "answer is (X)" (first), then "Answer: X", then the last standalone A-J, then
    random.seed(12345) and randint(0, options - 1) -- index 6 (G) for ten options. Here the
    chain runs only where the verifier names no option, on the text after the thinking."""
    responses = ["\\boxed{C}",
                 "I cannot decide between the options, but C seems most plausible.",
                 "No idea.",
                 "<think>the answer is (A)</think> No idea.",
                 "I do not know."]  # officially the standalone letter "I"
    records = graded("mmlu_pro", [(str(i), "C", [r], {"category": "x"})
                                  for i, r in enumerate(responses)],
                     choices=TEN, answer_type="multiple_choice")
    assert [r.correct[0] for r in records] == [True, False, False, False, False]
    task = task_named("mmlu_pro")
    assert methods_of(task, records) == [["verifier"], ["official extraction"], ["guess"],
                                         ["guess"], ["official extraction"]]
    assert random.Random(12345).randint(0, 9) == 6
    scores = task.score(records)
    assert scores["score"] == 0.4 and scores["verifier"]["score"] == 0.2
    assert scores["guesses"] == 2
    lucky = graded("mmlu_pro", [("g", "G", ["No idea."], {})], choices=TEN,
                   answer_type="multiple_choice")
    assert task.score(lucky)["score"] == 1.0  # the official guess is always G for ten options


def test_mmmu_guesses_are_seeded_and_counted():
    """Official: random.choice of the options when nothing parses. Here: one option per
    (item, response slot), the same on every run; right once in four on average."""
    records = [rec({"id": f"q{i}", "gold": "A", "choices": ["w", "x", "y", "z"],
                    "extracted": ["no idea", "A"], "correct": [False, True], "metadata": {}})
               for i in range(400)]
    task = task_named("mmmu")
    first, again = task.score(records), task.score(records)
    assert first["score"] == again["score"] and first["guesses"] == 400
    assert first["verifier"]["score"] == 0.5
    assert 0.5 + 0.25 / 2 - 0.05 < first["score"] < 0.5 + 0.25 / 2 + 0.05
    open_question = [rec({"id": "o", "gold": "7", "choices": None, "extracted": [None],
                          "correct": [False], "metadata": {}})]
    assert task.score(open_question)["guesses"] == 0  # open questions are never guessed


def test_gpqa_reads_the_first_answer_phrase():
    """Official parse_sampled_answer: the first "answer is (X)" wins over anything later; with
    no such phrase (our prompt asks for \\boxed{}), the verifier's letter stands."""
    records = graded("gpqa_diamond", [
        ("1", "B", ["The answer is (A). Let me double-check.\nSo the final answer is \\boxed{B}"],
         {}),
        ("2", "B", ["\\boxed{B}"], {})], choices=["w", "x", "y", "z"],
        answer_type="multiple_choice")
    assert [r.correct[0] for r in records] == [True, True]
    task = task_named("gpqa_diamond")
    assert methods_of(task, records) == [["answer is (X)"], ["verifier"]]
    scores = task.score(records)
    assert scores["score"] == 0.5 and scores["verifier"]["score"] == 1.0


def test_mmmu_pro_overall_error_is_paired_by_question():
    """Both settings ask the same questions: when a question goes the same way in both, the
    overall error equals one setting's; treating the settings as independent gives 1/sqrt(2)
    of it."""
    records = []
    for i in range(20):
        right = i % 3 == 0
        for setting in ("standard10", "vision"):
            records.append(rec({"id": f"{setting}/q{i}", "gold": "C", "choices": TEN,
                                "extracted": ["C" if right else "B"], "correct": [right],
                                "metadata": {"setting": setting}}))
    scores = task_named("mmmu_pro").score(records)
    setting = scores["subsets"]["setting"]["standard10"]
    assert scores["n"] == 20 and scores["score"] == pytest.approx(setting["score"])
    assert scores["stderr"] == pytest.approx(setting["stderr"])
    independent = math.hypot(setting["stderr"], scores["subsets"]["setting"]["vision"]["stderr"])
    assert scores["stderr"] == pytest.approx(independent / 2 * math.sqrt(2))
    assert scores["mean_of_settings"] == pytest.approx(scores["score"]) and scores["guesses"] == 0
