"""Where each answer was read, counted per task in results.json (``answer_sources``): answers
read from no marker (a last line, the closing statement) are counted apart, never silently; the
same summaries (check failures too) on every path that scores saved records."""

from __future__ import annotations

from ovr_eval.evaluate import make_record
from ovr_eval.metrics import answer_sources, unmarked, verdict_summaries
from ovr_eval.records import RunResults, TaskResult
from ovr_eval.types import Completion, Sample

RESPONSES = ["So the answer is $\\boxed{12}$.", "The answer is 12.", "We add them.\n\n12",
             "In all there are 12 marbles.", "I could not finish the"]


def _record():
    sample = Sample(id="q1", task="mine", question="How many?", answer="12")
    return make_record(sample, "test", Completion("q", RESPONSES), 2.0, second_opinion=False)


def test_answers_are_counted_by_where_they_were_read_and_unmarked_ones_apart():
    record = _record()
    sources = answer_sources([record])
    assert sources == {"answer_phrase": 1, "boxed": 1, "last_line": 1, "last_sentence": 1,
                       "none": 1}
    assert unmarked(sources) == 2
    assert record.correct == [True, True, True, True, False]


def test_results_json_keeps_answer_sources_and_check_failures_on_a_round_trip():
    record = _record()
    record.errors[0] = "timeout"  # a check that did not finish
    summaries = verdict_summaries([record])
    assert summaries["check_failures"] == {"timeout": 1}
    result = TaskResult.from_scores("test", {"score": 0.8, "stderr": 0.0, "ci95": [0.5, 1.0],
                                             "n": 1}, **summaries)
    again = RunResults.from_json(RunResults(model="m", tasks={"mine": result}).to_json())
    assert again.tasks["mine"].answer_sources == summaries["answer_sources"]
    assert again.tasks["mine"].check_failures == {"timeout": 1}


def test_an_older_results_json_without_answer_sources_still_loads():
    data = {"score": 1.0, "stderr": 0.0, "ci95": [0.2, 1.0], "n": 1}
    assert TaskResult.from_json(data).answer_sources == {}
    assert "answer_sources" not in TaskResult.from_json(data).to_json()
