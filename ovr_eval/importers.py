"""``ovr import``: responses written by other harnesses, regraded as an ovr run folder.

Supported files:
- lm-evaluation-harness ``--log_samples`` output (``samples_<task>_<date>.jsonl``: one JSON
  object per request with ``doc_id``, ``doc`` (the dataset row), ``arguments`` (the prompt),
  ``resps`` (raw responses, one list per request), ``filter``; a ``results_<date>.json``
  beside it names the model and the generation settings).
- VLMEvalKit prediction files (``<model>_<dataset>.xlsx``, ``.tsv`` or ``.json``, as its
  ``PRED_FORMAT`` chooses): the dataset's columns without ``image``, plus ``prediction``.

Each row is matched to a sample of the task (loaded as ``ovr eval`` loads it, so golds, choices
and subsets are this project's): by an id field the row carries (the task's own id rule run on
the row, then ``unique_id``, ``pid``, ``sample_index``, ``id``, ``index``, ...), else by
identical question text. Rows that match nothing are counted and listed, never guessed. The
matched responses then go through ``ovr eval`` itself (an engine that replays them), so records,
resume, results.json, the task's official scores and an optional ``--judge`` are the same as
for a run made here.
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console

from ovr_eval.engines.base import Engine
from ovr_eval.engines.options import EngineOptions
from ovr_eval.records import RunResults, TaskResult
from ovr_eval.result_entries import ImportSummary
from ovr_eval.run_files import read_jsonl
from ovr_eval.types import Completion, Request, Sample, SamplingConfig, UserError

FORMATS = ("lm-eval", "vlmevalkit")
ID_KEYS = ("unique_id", "pid", "sample_index", "sample_id", "id", "question_id", "ID", "idx",
           "index")
QUESTION_KEYS = ("question", "problem", "query", "Question", "question_for_eval")


@dataclass
class ForeignRow:
    """One item as another harness saved it."""

    fields: dict[str, Any]  # the dataset row (lm-eval ``doc``; VLMEvalKit's columns)
    position: int  # lm-eval ``doc_id`` / the row's position in a VLMEvalKit file
    responses: list[str]
    prompt: str = ""
    source: str = ""  # file it came from


@dataclass
class ForeignFile:
    """Rows read from one or more files of one harness, and what the files say about the run."""

    rows: list[ForeignRow]
    model: str | None = None
    sampling: dict[str, Any] = field(default_factory=dict)
    settings: dict[str, Any] = field(default_factory=dict)


# ---------------------------------------------------------------- lm-evaluation-harness


def _flat_strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [s for v in value for s in _flat_strings(v)]
    return []


def _lm_eval_prompt(arguments: Any) -> str:
    """The prompt text of a request's ``arguments`` (a dict ``gen_args_0 -> {arg_0: ...}`` in
    0.4.x, a list ``[prompt, gen_kwargs]`` in older files)."""
    if isinstance(arguments, dict):
        first = next(iter(arguments.values()), None)
        if isinstance(first, dict):
            return str(first.get("arg_0", ""))
    if isinstance(arguments, list) and arguments:
        return str(arguments[0]) if not isinstance(arguments[0], list) else str(arguments[0][0])
    return ""


def _lm_eval_results(sample_file: Path) -> dict[str, Any]:
    """The newest ``results_*.json`` written beside a samples file, if any."""
    found = sorted(sample_file.parent.glob("results_*.json"))
    if not found:
        return {}
    try:
        data = json.loads(found[-1].read_text("utf-8"))
    except (OSError, json.JSONDecodeError):
        return {}
    return data if isinstance(data, dict) else {}


def read_lm_eval(paths: Sequence[Path]) -> ForeignFile:
    """Rows of lm-eval ``--log_samples`` files; a doc repeated for several filters counts once
    (its raw ``resps`` are the same)."""
    rows: list[ForeignRow] = []
    seen: set[tuple[str, int]] = set()
    results: dict[str, Any] = {}
    for path in paths:
        lines, bad = read_jsonl(path)
        if bad or not lines:
            raise UserError(f"{path}: not an lm-eval samples file ({bad} unreadable line(s), "
                            f"{len(lines)} object(s)); give the samples_<task>_<date>.jsonl "
                            "that --log_samples writes")
        for number, line in enumerate(lines, 1):
            if not isinstance(line.get("doc"), dict) or "resps" not in line:
                raise UserError(f"{path} line {number}: no 'doc' and 'resps': not an lm-eval "
                                "samples file")
            key = (str(path), int(line.get("doc_id", number - 1)))
            if key in seen:
                continue
            seen.add(key)
            rows.append(ForeignRow(fields=line["doc"], position=key[1],
                                   responses=_flat_strings(line["resps"]),
                                   prompt=_lm_eval_prompt(line.get("arguments")),
                                   source=str(path)))
        results = results or _lm_eval_results(path)
    config = results.get("config") or {}
    model = results.get("model_name")
    if not model:
        match = re.search(r"(?:pretrained|model)=([^,]+)", str(config.get("model_args") or ""))
        model = match.group(1) if match else None
    gen: dict[str, Any] = next(
        (c["generation_kwargs"] for c in (results.get("configs") or {}).values()
         if isinstance(c, dict) and isinstance(c.get("generation_kwargs"), dict)), {})
    sampling = {k: gen[k] for k in ("temperature", "top_p") if isinstance(gen.get(k), float | int)}
    if isinstance(gen.get("max_gen_toks"), int):
        sampling["max_tokens"] = gen["max_gen_toks"]
    settings = {"lm_eval_version": results.get("lm_eval_version"),
                "model_args": config.get("model_args"), "generation_kwargs": gen or None,
                "git_hash": results.get("git_hash")}
    return ForeignFile(rows=rows, model=model, sampling=sampling,
                       settings={k: v for k, v in settings.items() if v})


# ---------------------------------------------------------------- VLMEvalKit


def _cell(value: Any) -> Any:
    """A table cell as plain Python: NaN -> None, numpy scalars -> int / float / str."""
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def _vlmevalkit_table(path: Path) -> list[dict[str, Any]]:
    suffix = path.suffix.lower()
    if suffix == ".json":
        data = json.loads(path.read_text("utf-8"))
        if isinstance(data, dict) and all(isinstance(v, list) for v in data.values()):
            data = [dict(zip(data, values, strict=True)) for values in zip(*data.values(),
                                                                              strict=True)]
        if not isinstance(data, list):
            raise UserError(f"{path}: expected a list of rows (VLMEvalKit's JSON predictions)")
        return [r for r in data if isinstance(r, dict)]
    import pandas

    if suffix == ".xlsx":
        frame = pandas.read_excel(path)
    elif suffix in (".tsv", ".csv"):
        frame = pandas.read_csv(path, sep="\t" if suffix == ".tsv" else ",")
    else:
        raise UserError(f"{path}: VLMEvalKit writes .xlsx, .tsv or .json predictions")
    return [{str(k): _cell(v) for k, v in row.items()} for row in frame.to_dict("records")]


def read_vlmevalkit(paths: Sequence[Path]) -> ForeignFile:
    """Rows of VLMEvalKit prediction files (one response each, in ``prediction``)."""
    rows: list[ForeignRow] = []
    for path in paths:
        try:
            table = _vlmevalkit_table(path)
        except (OSError, ValueError) as exc:
            raise UserError(f"cannot read {path}: {exc}") from None
        if table and "prediction" not in table[0]:
            raise UserError(f"{path}: no 'prediction' column: not a VLMEvalKit prediction file")
        for position, row in enumerate(table):
            prediction = row.pop("prediction", None)
            rows.append(ForeignRow(fields=row, position=position,
                                   responses=["" if prediction is None else str(prediction)],
                                   source=str(path)))
    model = Path(paths[0]).stem.split("_")[0] if paths else None
    return ForeignFile(rows=rows, model=model, settings={"files": [str(p) for p in paths]})


READERS = {"lm-eval": read_lm_eval, "vlmevalkit": read_vlmevalkit}


# ---------------------------------------------------------------- matching


def _id_text(value: Any) -> str | None:
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = str(value).strip()
    return text or None


def _question_text(value: Any) -> str:
    return " ".join(str(value).split()).casefold()


@dataclass
class Matching:
    """Which foreign row answers which sample, and what could not be matched."""

    rows: dict[str, ForeignRow]
    unmatched: list[dict[str, Any]]
    matched_by: Counter
    duplicates: int = 0


def match_rows(task: Any, samples: Sequence[Sample], rows: Sequence[ForeignRow]) -> Matching:
    """Match every row to a sample by an id it carries, else by identical question text."""
    by_id = {s.id: s for s in samples}
    questions: dict[str, list[str]] = {}
    for s in samples:
        questions.setdefault(_question_text(s.question), []).append(s.id)
    found: dict[str, ForeignRow] = {}
    unmatched: list[dict[str, Any]] = []
    how: Counter[str] = Counter()
    duplicates = 0
    for row in rows:
        sample_id: str | None = None
        method = ""
        try:  # the task's own id rule on the row; position -1 so an index-based id never fits
            candidate = task.row_to_sample(dict(row.fields), -1, None).id
            if candidate in by_id:
                sample_id, method = candidate, "task id"
        except Exception:  # the row is in another harness's shape: other rules below
            pass
        for key in ID_KEYS if sample_id is None else ():
            candidate = _id_text(row.fields.get(key))
            if candidate in by_id:
                sample_id, method = candidate, f"field {key}"
                break
        for key in QUESTION_KEYS if sample_id is None else ():
            value = row.fields.get(key)
            ids = questions.get(_question_text(value), []) if value else []
            if len(ids) == 1:
                sample_id, method = ids[0], "question text"
                break
        if sample_id is None:
            unmatched.append({"position": row.position, "source": row.source,
                              "reason": "no id or question of the task's samples"})
        elif sample_id in found:
            duplicates += 1
        else:
            found[sample_id] = row
            how[method] += 1
    return Matching(rows=found, unmatched=unmatched, matched_by=how, duplicates=duplicates)


@dataclass
class ImportOptions(EngineOptions):
    """The "engine" of an imported run, as config.json records it: the files replayed and the
    settings the other harness wrote about its run."""

    imported_from: list[str]
    settings: dict[str, Any] = field(default_factory=dict)

    def as_config(self) -> dict[str, Any]:
        return {"imported_from": self.imported_from, **self.settings}


class ReplayEngine(Engine):
    """An engine that answers with responses another harness already wrote."""

    name = "import"
    supports_images = True

    def __init__(self, rows: dict[str, ForeignRow]):
        self.rows = rows

    def generate(self, requests: Sequence[Request], sampling: SamplingConfig
                 ) -> Iterator[Completion]:
        for request in requests:
            row = self.rows.get(request.sample_id)
            if row is not None:
                yield Completion(sample_id=request.sample_id, responses=list(row.responses),
                                 prompt=row.prompt)


def import_run(kind: str, files: Sequence[Path], task_name: str, out: Path,
               split: str | None = None, data_dir: Path | None = None,
               model: str | None = None, judge: Any = None, task_dirs: Sequence[Path] = (),
               console: Console | None = None) -> RunResults:
    """Read another harness's files, match them to the task's samples and write a run folder
    (records graded by the task's rules, results.json, optional judged scores)."""
    from ovr_eval.evaluate import EvalOptions, Evaluation, load_samples
    from ovr_eval.task_registry import resolve

    console = console or Console()
    if kind not in READERS:
        raise UserError(f"unknown format {kind!r}; choose one of: {', '.join(FORMATS)}")
    missing = [str(f) for f in files if not Path(f).is_file()]
    if missing:
        raise UserError(f"file(s) not found: {', '.join(missing)}")
    tasks = resolve([task_name], task_dirs)
    if len(tasks) != 1:
        raise UserError(f"--task {task_name!r} names a suite; import one task at a time")
    task = tasks[0]
    split = split or task.default_split
    foreign = READERS[kind]([Path(f) for f in files])
    samples, _ = load_samples(task, split, data_dir, None)
    matching = match_rows(task, samples, foreign.rows)
    if not matching.rows:
        raise UserError(f"no row of {', '.join(map(str, files))} matched a sample of "
                        f"{task_name} split {split} (by id fields or question text); check "
                        "--task, --split and --data-dir")
    responses = max(len(r.responses) for r in matching.rows.values())
    sampling = SamplingConfig(n=responses, **{k: v for k, v in foreign.sampling.items()
                                              if k in ("temperature", "top_p", "max_tokens")})
    options = EvalOptions(
        model=model or foreign.model or Path(files[0]).stem, tasks=[task.name], out=Path(out),
        engine=f"import:{kind}", sampling=sampling, splits={task.name: split},
        data_dir=data_dir, task_dirs=list(task_dirs), judge=judge,
        engine_options=ImportOptions([str(f) for f in files], foreign.settings))
    imported = ImportSummary(
        format=kind, files=[str(f) for f in files], rows=len(foreign.rows),
        matched=len(matching.rows), matched_by=dict(matching.matched_by),
        duplicates=matching.duplicates, unmatched=len(matching.unmatched),
        unmatched_rows=matching.unmatched[:200],
        samples_without_row=len(samples) - len(matching.rows))

    def annotate(results: dict[str, TaskResult]) -> None:
        results[task.name].imported = imported

    return Evaluation(options, console, engine=ReplayEngine(matching.rows)).run(
        annotate=annotate)
