"""Run tasks through an engine, grade every response, keep every record, score the run."""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import suppress
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    TextColumn,
    TimeElapsedColumn,
)
from rich.progress import Task as ProgressTask
from rich.text import Text

from ovr_eval.behaviours import behaviours_for_run
from ovr_eval.engines import (
    Engine,
    EngineOptions,
    check_dtype,
    check_engine,
    check_model,
    create_engine,
    default_engine,
    options_for,
)
from ovr_eval.fingerprint import weights_fingerprint
from ovr_eval.hub import NotCached, not_cached_message
from ovr_eval.presets import get_preset
from ovr_eval.prompting import build_request, load_template
from ovr_eval.quiet import engine_output
from ovr_eval.recording import RecordSink
from ovr_eval.records import Record, RunResults, TaskResult
from ovr_eval.run_config import RunConfig, git_sha, package_versions
from ovr_eval.run_files import write_json_atomic
from ovr_eval.runs import RunDir, score_saved
from ovr_eval.task_registry import registry, resolve
from ovr_eval.tasks import DEFAULT_TASKS, Task
from ovr_eval.types import BadRow, Completion, Interrupted, Sample, SamplingConfig, UserError
from ovr_eval.verify import DEFAULT_TIMEOUT_S, grade_many
from ovr_eval.verify.second_opinion import second_opinions

MAX_SKIPS_SHOWN = 5


@dataclass
class EvalOptions:
    """Everything one ``ovr eval`` needs; the defaults are ``ovr eval``'s.

    The command line fills it; a training recipe's ``eval:`` section is one too
    (``ovr_trainer.config.EvalStage``), whose ``model`` and ``out`` ``ovr train`` sets to each
    checkpoint it evaluates and that checkpoint's run folder.
    """

    model: str = ""  # hub id or local checkpoint folder
    tasks: list[str] = field(default_factory=lambda: list(DEFAULT_TASKS))  # tasks or suites
    out: Path | None = None  # the run folder; None: runs/<model name>
    engine: str = field(default_factory=default_engine)  # vllm when installed, else hf
    revision: str | None = None  # the model's hub commit, branch or tag (None: main)
    sampling: SamplingConfig = field(default_factory=SamplingConfig)
    prompt: str | None = None  # None: each task's own default prompt
    splits: dict[str, str] = field(default_factory=dict)  # task -> split (default: its own)
    data_dir: Path | None = None  # local benchmark files (<dir>/<task>/...); None: the hub
    limit: int | None = None  # the first N samples of each task
    engine_options: EngineOptions | None = None  # the engine's settings (None: its defaults)
    task_dirs: list[Path] = field(default_factory=list)  # extra task plugin folders
    shard: tuple[int, int] | None = None  # (index, count): a data-parallel worker's share
    preset: str | None = None  # per-task sampling of a paper (ovr_eval.presets)
    sampling_overrides: dict[str, Any] = field(default_factory=dict)  # given with a preset
    judge: Any = None  # ovr_eval.judge.JudgeOptions: judged scores beside the rule scores
    second_opinion: bool = True  # Math-Verify grades every response too (ovr_eval.verify)
    verbose: bool = False  # engine warnings and loading output on the console

    def __post_init__(self) -> None:
        if self.out is None and self.model:
            self.out = Path("runs") / Path(self.model.rstrip("/")).name


def validate(options: EvalOptions, builds_engine: bool = True) -> None:
    """Every cheap check, before anything is read or written: a mistake costs milliseconds
    and leaves no trace in the run folder. ``builds_engine``: also the engine and model."""
    if not options.model or options.out is None:
        raise UserError("no model to evaluate: give --model (a hub id or checkpoint folder)")
    if not any(str(t).strip() for t in options.tasks):
        raise UserError("--tasks names no task: give task or suite names, e.g. --tasks "
                        "math500 (`ovr tasks` lists them)")
    s = options.sampling
    if s.n < 1:
        raise UserError(f"--samples must be 1 or more (got {s.n})")
    if s.temperature < 0:
        raise UserError(f"--temperature must be 0 or more (got {s.temperature})")
    if not 0 < s.top_p <= 1:
        raise UserError(f"--top-p must be in (0, 1] (got {s.top_p})")
    if s.max_tokens < 1:
        raise UserError(f"--max-tokens must be 1 or more (got {s.max_tokens})")
    if options.limit is not None and options.limit < 1:
        raise UserError(f"--limit must be 1 or more (got {options.limit}); leave it out to "
                        "evaluate every sample")
    if not builds_engine:
        return
    if options.preset is None:  # with a preset, each task's sampling is checked once known
        check_distinct_samples(s)
    check_engine(options.engine)
    check_dtype(options.engine_options)
    if options.engine != "openai":
        check_model(options.model)


def check_distinct_samples(sampling: SamplingConfig, where: str = "",
                           n: str = "--samples", temperature: str = "--temperature") -> None:
    """Several responses a prompt need sampling: at temperature 0 they are one greedy response
    repeated (vLLM and transformers refuse such a request), so it is refused before any engine
    starts. ``where`` prefixes the message; ``n`` and ``temperature`` name the settings."""
    if sampling.n > 1 and sampling.temperature == 0:
        raise UserError(f"{where}{n} {sampling.n} at temperature 0 gives {sampling.n} "
                        f"identical greedy responses: set {temperature} above 0 (e.g. "
                        f"{temperature} 1), or use {n} 1")


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


def make_record(sample: Sample, split: str, completion: Completion, timeout_s: float,
                second_opinion: bool = True) -> Record:
    """One line of samples/<task>.jsonl: the prompt, every response, its token ids (when the
    engine gives them) and its verdict, and with
    ``second_opinion`` Math-Verify's verdict on each (``verify.second_opinion``, one pool call)."""
    multiple_choice = sample.answer_type == "multiple_choice"
    items = [(r, sample.answer, sample.choices, multiple_choice) for r in completion.responses]
    verdicts = grade_many(items, timeout_s=timeout_s)
    return Record(
        id=sample.id, task=sample.task, split=split, question=sample.question,
        images=[str(i) for i in sample.images if isinstance(i, (str, Path))],
        gold=sample.answer, choices=sample.choices, answer_type=sample.answer_type,
        metadata=sample.metadata, prompt=completion.prompt, responses=completion.responses,
        extracted=[v.extracted for v in verdicts], correct=[v.correct for v in verdicts],
        methods=[v.method for v in verdicts], errors=[v.error for v in verdicts],
        prompt_tokens=completion.prompt_tokens,
        completion_tokens=completion.completion_tokens,
        finish_reasons=completion.finish_reasons,
        token_ids=completion.token_ids or None,
        math_verify=second_opinions(items) if second_opinion else None)


class EngineColumn(ProgressColumn):
    """Live engine activity: requests running, tokens generated so far and their rate."""

    def __init__(self, evaluation: Evaluation):
        super().__init__()
        self.evaluation = evaluation

    def render(self, task: ProgressTask) -> Text:
        engine = self.evaluation.engine
        if engine is None or task.finished:
            return Text("")
        activity, elapsed = engine.activity, max(task.elapsed or 0.0, 1e-9)
        return Text(f"{activity.running} running  {activity.tokens:,} tokens  "
                    f"{activity.tokens / elapsed:,.0f} tok/s", style="cyan")


def _progress(console: Console, evaluation: Evaluation) -> Progress:
    return Progress(
        TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
        TextColumn("{task.fields[speed]}"), EngineColumn(evaluation), TimeElapsedColumn(),
        console=console,
    )


class Evaluation:
    """One ``ovr eval`` invocation; the engine is built only when there is work to do.

    Order: every cheap check (options, tasks, splits, prompts, model), then the data (read
    only), then the run folder is locked and config.json written, then the engine is built."""

    def __init__(self, options: EvalOptions, console: Console | None = None,
                 engine: Engine | None = None):
        """``engine``: an already built engine to use (the caller keeps ownership)."""
        self.options = options
        self.console = console or Console()
        self.engine: Engine | None = engine
        self.owns_engine = engine is None
        self.engine_ready = False  # built or prepared (and recorded in config.json)
        validate(options, builds_engine=engine is None)
        self.tasks = resolve(options.tasks, options.task_dirs)
        names = {t.name for t in self.tasks}
        for name in options.splits:
            if name not in names:
                raise UserError(f"--split names task {name!r}, which is not in --tasks")
        for task in self.tasks:
            if self.split_of(task) not in task.splits:
                raise UserError(f"task {task.name} has no split {self.split_of(task)!r}; "
                                f"choose one of: {', '.join(task.splits)}")
        self.templates = {t.name: load_template(self.prompt_of(t)) for t in self.tasks}
        self.task_sampling: dict[str, SamplingConfig] = {}
        if options.preset is not None:
            preset = get_preset(options.preset)
            overrides = options.sampling_overrides
            options.sampling = preset.sampling_for(None, options.sampling, overrides)
            self.task_sampling = {t.name: preset.sampling_for(t, options.sampling,
                                                              overrides) for t in self.tasks}
            if self.owns_engine:
                for name, sampling in self.task_sampling.items():
                    check_distinct_samples(sampling, f"task {name}: ")
        assert options.out is not None  # validate() said so
        self.run_dir = RunDir(options.out)
        self.max_images = 1  # most images in one loaded sample (sizes the vLLM engine)
        self.weights: dict[str, Any] | None = None
        self.data: dict[str, dict[str, Any] | None] = {}  # task -> its data's fingerprint
        self.run_config: RunConfig | None = None  # the settings to save (RunDir.start's)
        self.config_saved = False

    def prompt_of(self, task: Task) -> str:
        return self.options.prompt or task.default_prompt

    def sampling_of(self, task: Task) -> SamplingConfig:
        """The task's sampling: its preset's when ``--preset`` is given, else the run's."""
        return self.task_sampling.get(task.name, self.options.sampling)

    def split_of(self, task: Task) -> str:
        return self.options.splits.get(task.name, task.default_split)

    def config(self) -> RunConfig:
        """This invocation's settings, as config.json records them."""
        o = self.options
        return RunConfig(
            model=o.model, revision=o.revision, engine=o.engine, weights=self.weights,
            engine_options=self.engine_options().as_config(), sampling=asdict(o.sampling),
            preset=o.preset,
            sampling_by_task={t: asdict(v) for t, v in self.task_sampling.items()},
            prompt={t.name: self.prompt_of(t) for t in self.tasks},
            splits={t.name: self.split_of(t) for t in self.tasks},
            data_dir=str(o.data_dir) if o.data_dir else None, limit=o.limit,
            tasks=[t.name for t in self.tasks],
            task_dirs=[str(Path(d).expanduser().resolve()) for d in o.task_dirs],
            task_versions={t.name: t.version for t in self.tasks}, data=self.data,
            versions=package_versions(), git_sha=git_sha(),
            started=datetime.now(timezone.utc).isoformat(),
            judge=o.judge.describe() if o.judge else None)

    def engine_options(self) -> EngineOptions:
        """The engine's settings as given, or its defaults."""
        if self.options.engine_options is not None:
            return self.options.engine_options
        return options_for(self.options.engine)

    def _log_path(self) -> Path | None:
        """Where the engines' own output goes (None: to the console, with --verbose)."""
        return None if self.options.verbose else self.run_dir.path / "logs" / "engine.log"

    def _engine(self) -> Engine:
        """The engine, built (or, when given, prepared) at first use; config.json then records
        it as ``engine_info``."""
        if self.engine is None or not self.engine_ready:
            o = self.options
            with self.console.status(f"loading {o.model} with engine {o.engine}"), \
                    engine_output(self._log_path(), self.console):
                if self.engine is None:
                    self.engine = create_engine(
                        o.engine, o.model, self.engine_options(), revision=o.revision,
                        seed=o.sampling.seed, max_images_per_prompt=max(1, self.max_images))
                else:
                    self.engine.prepare(max(1, self.max_images))
            self.engine_ready = True
            if o.shard is None:
                self._save_config(self.engine.describe())
            else:  # a data-parallel worker: config.json is its coordinator's; this goes to its log
                self.console.print(f"engine: {self.engine.describe()}", highlight=False)
        return self.engine

    def load(self) -> dict[str, tuple[list[Sample], list[dict[str, str]]]]:
        """Every task's samples and skipped rows (read only); a task with none is an error,
        and every such task is named in one message."""
        o = self.options
        loaded: dict[str, tuple[list[Sample], list[dict[str, str]]]] = {}
        failed: list[tuple[str, str]] = []
        not_cached: list[tuple[str, NotCached]] = []
        for task in self.tasks:
            try:
                samples, skipped = load_samples(task, self.split_of(task), o.data_dir, o.limit)
            except NotCached as exc:  # offline: said once for every such task
                not_cached.append((task.name, exc))
                continue
            except UserError as exc:
                failed.append((task.name, str(exc)))
                continue
            if not samples:
                why = f"; {len(skipped)} unusable row(s), e.g. {skipped[0]['id']}: " \
                      f"{skipped[0]['reason']}" if skipped else ""
                failed.append((task.name, f"task {task.name} split {self.split_of(task)} has "
                                          f"no usable samples{why}"))
                continue
            loaded[task.name] = samples, skipped
        if len(not_cached) > 1:
            failed.append((", ".join(name for name, _ in not_cached),
                           not_cached_message(not_cached)))
        else:
            failed += [(name, str(exc)) for name, exc in not_cached]
        if len(failed) == 1:
            raise UserError(failed[0][1])
        if failed:
            raise UserError(f"{len(self.tasks) - len(loaded)} of {len(self.tasks)} tasks cannot "
                            "be read "
                            f"({', '.join(name for name, _ in failed)}): "
                            + "; ".join(f"({i}) {why}" for i, (_, why) in enumerate(failed, 1)))
        self.max_images = max((len(s.images) for samples, _ in loaded.values()
                               for s in samples), default=1)
        return loaded

    def run(self, replicas: Callable[[], None] | None = None,
            annotate: Callable[[dict[str, TaskResult]], None] | None = None) -> RunResults:
        """Evaluate every task (resuming what is saved) and write results.json, once.

        ``replicas``: runs data-parallel workers over the locked folder before the rest;
        ``annotate``: adds the caller's entries to this command's task results (``ovr import``
        says what it matched) before they are written."""
        o = self.options
        loaded = self.load()
        if o.shard is not None:  # a data-parallel worker: its coordinator holds the lock
            self._run_tasks(loaded)
            return RunResults(model=o.model)
        self.weights = weights_fingerprint(o.model, o.revision, o.engine)
        with self.console.status("fingerprinting the data"):
            self.data = {t.name: t.data_fingerprint(self.split_of(t), o.data_dir)
                         for t in self.tasks}
        with self.run_dir.lock():
            start = self.run_dir.start(self.config())
            if start.resuming:
                self.console.print(f"resuming the run in {self.run_dir.path}")
            self.run_config = start.config
            results = self._run_tasks(loaded, replicas)
            self._save_config(None)  # nothing generated: the settings, grown, all the same
            if o.judge is not None:  # after the engine is closed: a local judge needs the memory
                from ovr_eval.judge import judge_run

                judge_run(self.run_dir, self.tasks, results, o.judge, self.console)
            if annotate is not None:
                annotate(results)
            summary = RunResults(model=o.model, tasks={**self._other_tasks(results), **results})
            self.run_dir.write_results(summary)
            write_json_atomic(self.run_dir.path / "behaviours.json",
                              behaviours_for_run(self.run_dir.path))
        return summary

    def _save_config(self, engine_info: dict[str, Any] | None) -> None:
        """Write config.json, once per command: before the first record (with the engine as
        built), or at the end of a command that generated nothing."""
        if self.run_config is None or self.config_saved:
            return
        if engine_info is not None:
            self.run_config = replace(self.run_config, engine_info=engine_info)
        self.run_dir.write_config(self.run_config)
        self.config_saved = True

    def _other_tasks(self, results: dict[str, TaskResult]) -> dict[str, TaskResult]:
        """Scores of the run's tasks that this command did not name: kept from results.json
        when up to date, else re-made from their records (a run interrupted in them)."""
        previous: RunResults | None = None
        with suppress(UserError):  # unreadable: every task re-made below
            previous = self.run_dir.read_results()
        others = {}
        for name, current in self.run_dir.current_scores(previous).items():
            if name in results:
                continue
            if current is not None:
                others[name] = current
                continue
            assert self.run_config is not None  # RunDir.start's, under the lock
            old = previous.tasks.get(name) if previous is not None else None
            scored = score_saved(self.run_dir, name, self.run_config, old, partial=False)
            if scored is not None:
                others[name] = scored
        return others

    def _run_tasks(self, loaded: dict[str, tuple[list[Sample], list[dict[str, str]]]],
                   replicas: Callable[[], None] | None = None) -> dict[str, TaskResult]:
        try:
            if replicas is not None:
                self._save_config(None)  # before the workers' first record
                replicas()
            return {t.name: self._run_task(t, *loaded[t.name]) for t in self.tasks}
        except KeyboardInterrupt:
            raise Interrupted(self.saved_message(loaded)) from None
        finally:
            if self.engine is not None and self.owns_engine:
                self.engine.close()
                self.engine = None
                self.engine_ready = False

    def saved_message(self, loaded: dict[str, tuple[list[Sample], list[dict[str, str]]]]
                      ) -> str:
        """What an interrupted run has saved, and how to resume it."""
        def saved(name: str, samples: list[Sample]) -> int:
            ids = {s.id for s in samples}
            return sum(1 for r in self.run_dir.records(name) if r.id in ids)

        counts = ", ".join(f"{name} {saved(name, samples)}/{len(samples)}"
                           for name, (samples, _) in loaded.items())
        return (f"interrupted: samples saved in {self.run_dir.samples_dir}: {counts} "
                "(results.json not updated); re-run the same command to resume")

    def _run_task(self, task: Task, samples: list[Sample], skipped: list[dict[str, str]]
                  ) -> TaskResult:
        o = self.options
        split = self.split_of(task)
        if skipped:
            self.console.print(f"[yellow]{task.name}: skipped {len(skipped)} unusable row(s), "
                               f"e.g. {skipped[0]['id']}: {skipped[0]['reason']}")
        records = self.run_dir.records(task.name)
        done = {r.id for r in records}
        index, count = o.shard or (0, 1)
        todo = [s for i, s in enumerate(samples) if i % count == index and s.id not in done]
        if todo:
            skipped = skipped + self._generate(task, split, todo, len(samples) - len(todo),
                                               len(samples))
            records = self.run_dir.records(task.name)
        wanted = {s.id for s in samples}
        extra = sum(1 for r in records if r.id not in wanted)
        if extra and o.shard is None:
            self.console.print(f"{task.name}: results cover all {len(records)} saved samples, "
                               f"{extra} more than this command selects (the run folder grows)")
        return registry(o.task_dirs).result(
            task.name, records, split, skipped={"count": len(skipped), "rows": skipped[:200]})

    def _generate(self, task: Task, split: str, todo: list[Sample], done: int, total: int
                  ) -> list[dict[str, str]]:
        """Generate, grade and save ``todo``; the samples the engine could not use."""
        engine = self._engine()
        if any(s.images for s in todo) and not engine.supports_images:
            raise UserError(f"model {self.options.model} is text-only but task {task.name} "
                            "has images; use a vision-language model or a text-only task")
        by_id = {s.id: s for s in todo}
        sampling = self.sampling_of(task)
        seed, timeout = sampling.seed, DEFAULT_TIMEOUT_S
        requests = [build_request(self.templates[task.name], s, seed) for s in todo]
        sink = RecordSink(self.run_dir.writer(task.name), make_record)
        finished, start = 0, time.monotonic()
        unusable: list[dict[str, str]] = []
        try:
            with _progress(self.console, self) as bar, \
                    engine_output(self._log_path(), self.console):
                bar_id = bar.add_task(task.name, total=total, completed=done, speed="")
                for completion in engine.generate(requests, sampling):
                    finished += 1
                    if completion.error is not None:
                        unusable.append({"id": completion.sample_id, "reason": completion.error})
                        if len(unusable) <= MAX_SKIPS_SHOWN:
                            bar.console.print(f"[yellow]{task.name}: skipped {completion.sample_id}"
                                              f": {completion.error}", highlight=False)
                        bar.update(bar_id, total=total - len(unusable))
                        continue
                    sink.put(by_id[completion.sample_id], split, completion, timeout,
                             self.options.second_opinion)
                    elapsed = max(time.monotonic() - start, 1e-9)
                    bar.update(bar_id, advance=1, speed=f"{finished / elapsed:.2f} samples/s")
        finally:
            sink.close()  # everything generated is graded and saved, even on an error
        if len(unusable) > MAX_SKIPS_SHOWN:
            self.console.print(f"[yellow]{task.name}: {len(unusable)} samples skipped in all "
                               "(listed in results.json)")
        return unusable
