"""The task registry: every task and suite one command can use (built-in ``ovr_tasks``
modules, ``--task-dir`` plugin files, the ``ovr_eval.tasks`` entry points), scanned once per
process, and the one place a task's saved records become a :class:`TaskResult`."""

from __future__ import annotations

import functools
import importlib
import importlib.util
import pkgutil
from collections.abc import Iterable
from dataclasses import dataclass
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

from ovr_eval.judge_protocols import Protocol
from ovr_eval.metrics import TaskScores
from ovr_eval.records import Record, TaskResult
from ovr_eval.tasks import Task
from ovr_eval.types import UserError


def _suites_in_module(module: Any) -> dict[str, list[str]]:
    return dict(getattr(module, "SUITES", None) or {})


def _tasks_in_module(module: Any) -> list[Task]:
    """A module's ``TASK`` and ``TASKS``; one clear line for either that is no Task."""
    single = getattr(module, "TASK", None)
    found = [single] if single is not None else []
    listed = getattr(module, "TASKS", None) or []
    found += list(listed) if isinstance(listed, (list, tuple)) else [listed]
    where = getattr(module, "__file__", None) or module.__name__
    for task in found:
        if not isinstance(task, Task):
            what = f"the class {task.__name__}" if isinstance(task, type) else type(task).__name__
            raise UserError(f"{where}: TASK / TASKS must hold ovr_eval.tasks.Task instances, not "
                            f"{what} (e.g. TASK = MyTask(name=..., ...))")
    return found


def _load_file(path: Path) -> Any:
    spec = importlib.util.spec_from_file_location(f"ovr_user_tasks.{path.stem}", path)
    if spec is None or spec.loader is None:
        raise UserError(f"cannot import task plugin {path}")
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except Exception as exc:  # a broken user plugin: name the file and the error
        raise UserError(f"task plugin {path} failed to import: {type(exc).__name__}: {exc}"
                        ) from None
    return module


def _modules(extra_dirs: Iterable[Path]) -> list[Any]:
    import ovr_tasks

    modules = [importlib.import_module(f"ovr_tasks.{info.name}")
               for info in pkgutil.iter_modules(ovr_tasks.__path__)
               if not info.name.startswith("_")]
    for folder in extra_dirs:
        folder = Path(folder)
        if not folder.is_dir():
            raise UserError(f"--task-dir {folder} is not a directory")
        for path in sorted(folder.glob("*.py")):
            if path.name.startswith("_"):
                continue
            module = _load_file(path)
            if not (hasattr(module, "TASK") or hasattr(module, "TASKS")
                    or hasattr(module, "SUITES")):
                raise UserError(f"task plugin {path} defines no TASK, TASKS or SUITES; define "
                                "one, or start the file's name with '_' if it is a helper")
            modules.append(module)
    return modules


@dataclass(frozen=True)
class TaskRegistry:
    """Every task and suite one command can use: built-in plugins, ``--task-dir`` files and the
    ``ovr_eval.tasks`` entry points, each loaded once (:func:`registry`). Two plugins that
    define one task name are refused, naming both."""

    tasks: dict[str, Task]
    suites: dict[str, list[str]]

    @classmethod
    def scan(cls, extra_dirs: Iterable[Path] = ()) -> TaskRegistry:
        found: dict[str, Task] = {}
        where: dict[str, str] = {}
        groups: dict[str, list[str]] = {}

        def add(task: Task, source: str) -> None:
            if task.name in found and found[task.name] is not task:
                raise UserError(f"task {task.name!r} is defined twice: in {where[task.name]} "
                                f"and in {source}; rename one of them")
            found[task.name], where[task.name] = task, source

        for module in _modules(extra_dirs):
            for task in _tasks_in_module(module):
                add(task, getattr(module, "__file__", None) or module.__name__)
            groups.update(_suites_in_module(module))
        for ep in entry_points(group="ovr_eval.tasks"):
            obj = ep.load()
            for task in obj if isinstance(obj, (list, tuple)) else [obj]:
                if isinstance(task, Task):
                    add(task, f"entry point {ep.name} ({ep.value})")
        return cls(found, groups)

    def get(self, name: str) -> Task | None:
        return self.tasks.get(name)

    def resolve(self, names: str | Iterable[str]) -> list[Task]:
        """Tasks or suites by name ("math500,ovr-visual"); a clear error naming unknown ones."""
        if isinstance(names, str):
            names = [n.strip() for n in names.split(",") if n.strip()]
        names = list(dict.fromkeys(t for n in names for t in self.suites.get(n, [n])))
        unknown = [n for n in names if n not in self.tasks]
        if unknown:
            raise UserError(
                f"unknown task(s): {', '.join(unknown)}; available: "
                f"{', '.join(sorted(self.tasks))}"
                + (f"; suites: {', '.join(sorted(self.suites))}" if self.suites else ""))
        return [self.tasks[n] for n in names]

    def result(self, name: str, records: list[Record], split: str | None, *,
               skipped: dict[str, Any] | None = None, partial: bool = False,
               judge_settings: dict[str, Any] | None = None) -> TaskResult:
        """A task's entry of results.json from its saved records: the task's own metric and
        what every scoring path reports beside it (``metrics.verdict_summaries``). The one
        place scores become a :class:`TaskResult`: ``ovr eval``, a resumed run's other tasks
        and ``load_run`` all come here. ``judge_settings`` (the judge that judged them, on
        the paths that re-score saved records): the ``judge`` entry is re-made from the
        records' judged verdicts too."""
        from ovr_eval.judged import judged_summary
        from ovr_eval.metrics import verdict_summaries

        result = TaskResult.from_scores(
            split, self.score(name, records), skipped=skipped or {"count": 0, "rows": []},
            partial=partial, **verdict_summaries(records))
        task = self.tasks.get(name)
        if judge_settings is not None and task is not None and task.judge is not None:
            result.judge = judged_summary(records, task.judge, judge_settings, task.score)
        return result

    def score(self, name: str, records: list[Record]) -> TaskScores:
        """Scores of saved records with the task's own metric (the default accuracy when no
        plugin provides the task)."""
        task = self.tasks.get(name)
        if task is not None:
            return task.score(records)
        from ovr_eval.metrics import task_scores

        return task_scores(records)


def registry(extra_dirs: Iterable[Path] = ()) -> TaskRegistry:
    """The registry of the built-in plugins plus ``extra_dirs``, scanned once per process."""
    return _registry(tuple(Path(d).expanduser().resolve() for d in extra_dirs))


@functools.cache
def _registry(extra_dirs: tuple[Path, ...]) -> TaskRegistry:
    return TaskRegistry.scan(extra_dirs)


def judge_protocols(extra_dirs: Iterable[Path] = ()) -> dict[str, Protocol]:
    """The official judge protocol of every task that has one, by task name."""
    return {name: task.judge for name, task in registry(extra_dirs).tasks.items()
            if task.judge is not None}


def protocol_for(task: str, extra_dirs: Iterable[Path] = ()) -> Protocol | None:
    """The official judge protocol of a task (its ``Task.judge``), or None when its official
    metric is rule-based or no plugin provides the task."""
    found = registry(extra_dirs).get(task)
    return found.judge if found is not None else None


def suites(extra_dirs: Iterable[Path] = ()) -> dict[str, list[str]]:
    """Named groups of tasks (e.g. ``ovr-visual``) that plugin modules define in ``SUITES``."""
    return registry(extra_dirs).suites


def discover(extra_dirs: Iterable[Path] = ()) -> dict[str, Task]:
    """All task plugins: built-in, from ``extra_dirs``, and from the entry-point group."""
    return registry(extra_dirs).tasks


def score_records(name: str, records: list[Record], extra_dirs: Iterable[Path] = ()
                  ) -> dict[str, Any]:
    """Scores of saved records with the task's own metric (the default accuracy when no
    plugin provides the task)."""
    return registry(extra_dirs).score(name, records)


def resolve(names: str | Iterable[str], extra_dirs: Iterable[Path] = ()) -> list[Task]:
    """Tasks or suites by name ("math500,ovr-visual"); a clear error naming unknown ones."""
    return registry(extra_dirs).resolve(names)
