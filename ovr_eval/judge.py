"""An answer-extraction judge: a language model reads responses the way a benchmark's official
pipeline does (``ovr_eval.judge_protocols``) and gives a second, judged verdict beside the rules'.

The judge runs through this project's own engines (``openai`` for any OpenAI-compatible server,
``vllm`` for a local model), with bounded concurrency and retries. Every reply is appended to a
cache file in the run folder (JSONL, one write per reply, so a kill -9 loses nothing), keyed by
(judge model, prompt, response, attempt): a resumed run never asks the same question twice. A
question the judge cannot answer (the engine fails, or replies stay unreadable after the
retries) is recorded as a failure on that response and counted; it never stops the run.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from ovr_eval.engines.options import EngineOptions, OpenAIOptions
from ovr_eval.judge_protocols import Protocol, UnreadableReply
from ovr_eval.judged import judged_summary
from ovr_eval.records import Record, RecordJudgement, TaskResult
from ovr_eval.result_entries import JudgeSummary
from ovr_eval.run_files import RecordWriter, cut_torn_tail, read_jsonl
from ovr_eval.runs import RunDir
from ovr_eval.tasks import Task
from ovr_eval.types import Request, SamplingConfig, UserError

MODES = ("fallback", "all")
JUDGE_ENGINES = ("openai", "vllm")
RETRY_TEMPERATURE = 0.5  # attempt i (after an unreadable reply) samples at i * this temperature


@dataclass
class JudgeOptions:
    """How to run the judge. ``mode``: "fallback" asks only where the rules found no answer;
    "all" asks for every response."""

    model: str
    engine: str = "openai"
    base_url: str = OpenAIOptions.base_url
    mode: str = "fallback"
    concurrency: int = 16
    retries: int = 2  # extra attempts after an unreadable reply
    max_tokens: int = 128
    # the judge engine's settings (dtype, max_model_len, ...; see ovr_eval.engines.options)
    engine_options: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise UserError(f"--judge-mode {self.mode!r}: choose one of {', '.join(MODES)}")
        if self.engine not in JUDGE_ENGINES:
            raise UserError(f"--judge-engine {self.engine!r}: choose one of "
                            f"{', '.join(JUDGE_ENGINES)}")
        if self.concurrency < 1 or self.retries < 0 or self.max_tokens < 1:
            raise UserError("--judge-concurrency and --judge-max-tokens must be positive")

    def describe(self) -> dict[str, Any]:
        """The settings written to config.json and results.json."""
        keep = {k: v for k, v in asdict(self).items() if k != "engine_options"}
        if self.engine != "openai":
            keep.pop("base_url")
        return keep

    def check(self) -> None:
        """Fail early, before any generation, when the judge server cannot be reached."""
        if self.engine == "openai":
            from ovr_eval.engines import OpenAIOptions, create_engine

            create_engine("openai", self.model, OpenAIOptions(base_url=self.base_url)).close()
        else:  # a local judge: installed, and a model folder or hub id that can be loaded
            from ovr_eval.engines import check_engine, check_model

            check_engine(self.engine)
            check_model(self.model)

    def engine_settings(self) -> EngineOptions:
        """The judge engine's options: its server and concurrency, a context of 8192 tokens
        for a local model, then the settings given in ``engine_options``."""
        from ovr_eval.engines import options_for

        return options_for(self.engine, **{"base_url": self.base_url,
                                           "concurrency": self.concurrency,
                                           "max_model_len": 8192, **self.engine_options})


# ---------------------------------------------------------------- cache


def cache_key(model: str, prompt: str, response: str, attempt: int) -> str:
    """The cache key of one question: (judge model, prompt, response, attempt)."""
    text = json.dumps([model, prompt, response, attempt], ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


class JudgeCache:
    """Judge replies by key, appended one line each to a JSONL file (the first line wins)."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.replies: dict[str, str] = {}
        if self.path.is_file():
            cut_torn_tail(self.path)
            for row in read_jsonl(self.path)[0]:
                if isinstance(row.get("key"), str) and isinstance(row.get("reply"), str):
                    self.replies.setdefault(row["key"], row["reply"])
        self.writer: RecordWriter | None = None

    def get(self, key: str) -> str | None:
        return self.replies.get(key)

    def put(self, key: str, model: str, attempt: int, prompt: str, reply: str) -> None:
        if self.writer is None:
            self.writer = RecordWriter(self.path)
        self.writer.write({"key": key, "model": model, "attempt": attempt, "prompt": prompt,
                           "reply": reply})
        self.replies.setdefault(key, reply)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None


# ---------------------------------------------------------------- asking


@dataclass
class Question:
    """One thing to ask the judge about one response; ``parse`` reads the reply."""

    prompt: str
    response: str
    parse: Callable[[str], Any]


@dataclass
class Answer:
    """The parsed reply to a question, or why there is none."""

    value: Any = None
    error: str | None = None
    reply: str | None = None


@dataclass
class JudgeStats:
    asked: int = 0  # requests sent to the judge engine in this invocation
    from_cache: int = 0  # questions answered from the cache
    unreadable: int = 0  # replies that did not have the form asked for (then retried)


class Judge:
    """Asks questions through an engine, with the cache, retries and failure isolation."""

    def __init__(self, options: JudgeOptions, cache: JudgeCache, console: Console | None = None):
        self.options, self.cache = options, cache
        self.console = console or Console()
        self.engine: Any = None
        self.engine_error: str | None = None
        self.stats = JudgeStats()

    def _engine(self) -> Any:
        if self.engine is None and self.engine_error is None:
            from ovr_eval.engines import create_engine

            o = self.options
            try:
                with self.console.status(f"loading judge {o.model} ({o.engine})"):
                    self.engine = create_engine(o.engine, o.model, o.engine_settings())
            except (UserError, OSError, RuntimeError, ValueError) as exc:
                self.engine_error = f"judge engine unavailable: {exc}"
                self.console.print(f"[red]{self.engine_error}")
        return self.engine

    def close(self) -> None:
        if self.engine is not None:
            self.engine.close()
            self.engine = None
        self.cache.close()

    def ask(self, questions: Sequence[Question], label: str = "judging") -> list[Answer]:
        """Every question answered (from the cache or the engine) or failed, in order."""
        answers: list[Answer | None] = [None] * len(questions)
        pending = list(range(len(questions)))
        model = self.options.model
        for attempt in range(self.options.retries + 1):
            keys = {i: cache_key(model, questions[i].prompt, questions[i].response, attempt)
                    for i in pending}
            missing = {keys[i]: questions[i].prompt for i in pending
                       if self.cache.get(keys[i]) is None}
            self.stats.from_cache += sum(1 for i in pending if self.cache.get(keys[i]) is not None)
            failures = self._fetch(missing, attempt, label) if missing else {}
            still = []
            for i in pending:
                reply = self.cache.get(keys[i])
                if reply is None:
                    answers[i] = Answer(error=failures.get(keys[i], "judge gave no reply"))
                    continue
                try:
                    answers[i] = Answer(value=questions[i].parse(reply), reply=reply)
                except UnreadableReply as exc:
                    self.stats.unreadable += 1
                    answers[i] = Answer(error=f"unreadable judge reply: {exc}", reply=reply)
                    still.append(i)
            pending = still
            if not pending:
                break
        return [a if a is not None else Answer(error="not asked") for a in answers]

    def _fetch(self, prompts: dict[str, str], attempt: int, label: str) -> dict[str, str]:
        """Ask the engine for every (key -> prompt); replies go to the cache as they arrive.
        Returns the error of each key that got no reply."""
        engine = self._engine()
        if engine is None:
            return dict.fromkeys(prompts, self.engine_error or "judge engine unavailable")
        sampling = SamplingConfig(n=1, temperature=attempt * RETRY_TEMPERATURE, top_p=1.0,
                                  max_tokens=self.options.max_tokens, seed=attempt)
        requests = [Request(key, [{"role": "user", "content": [{"type": "text", "text": p}]}],
                            seed=attempt) for key, p in prompts.items()]
        errors: dict[str, str] = {}
        with _progress(self.console) as bar:
            task = bar.add_task(f"{label} (attempt {attempt + 1})", total=len(requests))

            def run(batch: list[Request]) -> None:
                for completion in engine.generate(batch, sampling):
                    self.stats.asked += 1
                    reply = completion.responses[0] if completion.responses else ""
                    key = completion.sample_id
                    self.cache.put(key, self.options.model, attempt, prompts[key], reply)
                    bar.advance(task)

            try:
                run(requests)
            except Exception:  # one bad request must not lose the others: ask them one by one
                for request in requests:
                    if self.cache.get(request.sample_id) is not None:
                        continue
                    try:
                        run([request])
                    except Exception as exc:
                        errors[request.sample_id] = f"judge request failed: {_first_line(exc)}"
                        bar.advance(task)
        return errors


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return (text.splitlines()[0] if text else type(exc).__name__)[:300]


def _progress(console: Console) -> Progress:
    return Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TimeElapsedColumn(), console=console, transient=True)


# ---------------------------------------------------------------- judging records


def rules_found_no_answer(record: Record, index: int) -> bool:
    """Whether the rule verifier could not read a usable answer from response ``index``."""
    error = record.errors[index] if index < len(record.errors) else None
    return record.extraction(index) is None or error is not None


def judge_records(records: list[Record], protocol: Protocol, judge: Judge,
                  label: str = "judging") -> list[Record]:
    """Copies of the records with a ``judge`` entry: per response the judged extraction,
    verdict, method and error (the rule fields are kept as they are)."""
    mode = judge.options.mode
    slots: dict[tuple[int, int], dict[str, Any]] = {}
    extract_at: list[tuple[int, int]] = []
    extract_q: list[Question] = []
    for r, record in enumerate(records):
        for k, response in enumerate(record.responses):
            if mode == "fallback" and not rules_found_no_answer(record, k):
                slots[r, k] = {"extracted": record.extraction(k),
                               "correct": k < len(record.correct) and record.correct[k],
                               "method": "rules", "error": None}
                continue
            shortcut = protocol.shortcut(record, response)
            if shortcut is not None:
                slots[r, k] = {"extracted": shortcut.answer, "method": shortcut.method,
                               "error": None}
                continue
            extract_at.append((r, k))
            extract_q.append(Question(protocol.extraction_prompt(record, response), response,
                                      protocol.parse_extraction))
    for (r, k), answer in zip(extract_at, judge.ask(extract_q, f"{label}: extract"),
                              strict=True):
        slots[r, k] = {"extracted": answer.value, "method": "judge", "error": answer.error}
    match_at: list[tuple[int, int]] = []
    match_q: list[Question] = []
    for (r, k), slot in slots.items():
        if "correct" in slot:
            continue
        if slot["error"] is not None:
            slot["correct"] = False
            continue
        decided = protocol.verdict(records[r], slot["extracted"])
        if decided is None:
            response = records[r].response(k)
            match_at.append((r, k))
            match_q.append(Question(protocol.match_prompt(records[r], slot["extracted"]),
                                    response, protocol.parse_match))
        else:
            slot["correct"] = decided
    for (r, k), answer in zip(match_at, judge.ask(match_q, f"{label}: match"), strict=True):
        slot = slots[r, k]
        slot["correct"] = bool(answer.value) if answer.error is None else False
        slot["error"] = answer.error
        slot["method"] += "+match"
    out = []
    for r, record in enumerate(records):
        per = [slots[r, k] for k in range(len(record.responses))]
        out.append(replace(record, judge=RecordJudgement(
            model=judge.options.model, mode=mode, protocol=protocol.name,
            extracted=[s["extracted"] for s in per], correct=[s["correct"] for s in per],
            methods=[s["method"] for s in per], errors=[s["error"] for s in per])))
    return out


def judge_task(run_dir: RunDir, task: Task, judge: Judge) -> JudgeSummary | None:
    """Judge a task's saved records by its own protocol (``task.judge``), rewrite its record
    file atomically with the judge entries, and return its ``judge`` entry for results.json:
    settings, the judged scores (same shape as the task's own), agreement with the rules (and
    the count of judge failures) and this invocation's requests; None without records."""
    assert task.judge is not None
    judged = judge_records(run_dir.records(task.name), task.judge, judge, task.name)
    run_dir.rewrite_records(task.name, judged)
    return judged_summary(judged, task.judge, judge.options.describe(), task.score,
                          asdict(judge.stats))


def judge_run(run_dir: RunDir, tasks: Sequence[Task], results: dict[str, TaskResult],
              options: JudgeOptions, console: Console | None = None) -> None:
    """Judge every saved record of each task of a run folder that has an official judge
    protocol (like the rule scores); sets the ``judge`` entry of each such task's result.
    Tasks without one are left as they are."""
    console = console or Console()
    judged_tasks = [t for t in tasks if t.judge is not None and t.name in results]
    skipped = [t.name for t in tasks if t.judge is None]
    if skipped:
        console.print(f"[dim]judge: {', '.join(skipped)} have rule-based official metrics; "
                      "not judged")
    if not judged_tasks:
        return
    judge = Judge(options, JudgeCache(run_dir.path / "judge" / "cache.jsonl"), console)
    try:
        for task in judged_tasks:
            judge.stats = JudgeStats()
            summary = judge_task(run_dir, task, judge)
            results[task.name].judge = summary
            if summary is None:
                continue
            rate = summary.agreement.rate
            console.print(
                f"judge {task.name}: rules {_pct(results[task.name].score)}, judged "
                f"{_pct(summary.score)}; agreement "
                f"{'-' if rate is None else f'{100 * rate:.1f}%'}; "
                f"{summary.failures} judge failure(s)")
    finally:
        judge.close()


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}"
