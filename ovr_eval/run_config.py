"""A run's settings across invocations: what a new command changes in a saved config.json
(refused on resume, each change named as "key: old → new") and how a growing run's config is
merged."""

from __future__ import annotations

import json
from typing import Any

# settings that change what a record means: a resumed run must use the same ones (per task for
# the mappings, so that adding a task is growth, not a change)
SAME_KEYS = ("model", "revision", "engine", "data_dir")
PER_TASK_KEYS = ("prompt", "splits", "task_versions")


def _show(value: Any) -> str:
    return "none" if value is None else json.dumps(value, ensure_ascii=False, default=str)


def config_differences(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """What a new invocation changes in a saved run's settings, as "key: old → new" items.

    Growing is not a change: new tasks, a larger or smaller --limit. Weights are compared by
    fingerprint when both are known."""
    changes = [f"{k}: {_show(old.get(k))} → {_show(new.get(k))}"
               for k in SAME_KEYS if old.get(k) != new.get(k)]
    # --deterministic: records made with and without it would not be batch-invariant together
    was, now = (bool((c.get("engine_options") or {}).get("deterministic")) for c in (old, new))
    if was != now:
        changes.append(f"deterministic: {was} → {now}")
    before, after = old.get("sampling") or {}, new.get("sampling") or {}
    changes += [f"sampling.{k}: {_show(before.get(k))} → {_show(after.get(k))}"
                for k in sorted(set(before) | set(after)) if before.get(k) != after.get(k)]
    for key in PER_TASK_KEYS:
        before, after = old.get(key) or {}, new.get(key) or {}
        if not isinstance(before, dict):  # an older config: one value for every task
            before = dict.fromkeys(after, before)
        changes += [f"{key}.{task}: {_show(before[task])} → {_show(after[task])}"
                    for task in sorted(set(before) & set(after)) if before[task] != after[task]]
    changes += [f"data.{task}: {was} → {now}" for task, was, now in data_differences(old, new)]
    # a preset gives tasks their own sampling: compare what each shared task really used
    by_task = set(old.get("sampling_by_task") or {}) | set(new.get("sampling_by_task") or {})
    for task in sorted(by_task & set(old.get("tasks") or []) & set(new.get("tasks") or [])):
        before, after = _task_sampling(old, task), _task_sampling(new, task)
        changes += [f"sampling[{task}].{k}: {_show(before.get(k))} → {_show(after.get(k))}"
                    for k in sorted(set(before) | set(after)) if before.get(k) != after.get(k)]
    return changes


def data_differences(a: dict[str, Any], b: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(task, a's data, b's data) for each task both configs read from data known to differ
    (the content of local files, or the hub commit); unknown data differs from nothing."""
    from ovr_eval.fingerprint import describe

    data_a, data_b = a.get("data") or {}, b.get("data") or {}
    out = []
    for task in sorted(set(data_a) & set(data_b)):
        was, now = data_a[task] or {}, data_b[task] or {}
        if was.get("id") and now.get("id") and was["id"] != now["id"]:
            out.append((task, describe(was, "data"), describe(now, "data")))
    return out


def _task_sampling(config: dict[str, Any], task: str) -> dict[str, Any]:
    return (config.get("sampling_by_task") or {}).get(task) or config.get("sampling") or {}


def merge_configs(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """The config of a run that grows: every task so far, the larger limit, the first start."""
    limits: list[int | None] = [old.get("limit"), new.get("limit")]
    merged = {**new, "tasks": list(dict.fromkeys([*old.get("tasks", []), *new["tasks"]])),
              "limit": None if None in limits else max(n for n in limits if n is not None),
              "started": old.get("started", new.get("started"))}
    for key in (*PER_TASK_KEYS, "sampling_by_task", "data"):
        if isinstance(old.get(key), dict):
            merged[key] = {**old[key], **(new.get(key) or {})}
    for task, known in (old.get("data") or {}).items():  # unknown now: what was known stays
        if (known or {}).get("id") and not (merged["data"].get(task) or {}).get("id"):
            merged["data"][task] = known
    if not (new.get("weights") or {}).get("id") and (old.get("weights") or {}).get("id"):
        merged["weights"] = old["weights"]
    return merged
