"""The package layout a contributor relies on: imports only go from the trainer to the evaluation
harness, never back, and ``ovr train`` still reaches users through the ``ovr`` command."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def imported_modules(path: Path) -> set[str]:
    """Every module a Python file imports, at any depth (lazy imports inside functions too)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_the_evaluation_harness_never_imports_the_trainer():
    offenders = {str(path.relative_to(REPO)): sorted(m for m in imported_modules(path)
                                                     if m.split(".")[0] == "ovr_trainer")
                 for path in sorted((REPO / "ovr_eval").rglob("*.py"))}
    assert {path: found for path, found in offenders.items() if found} == {}


def test_the_trainers_pure_math_imports_only_torch():
    # trainer/algos.py (advantages, losses, KL) is read and reused alone: no harness under it
    project = {"ovr_eval", "ovr_trainer", "ovr_tasks", "ovr_prompts", "ovr_reports"}
    found = {m for m in imported_modules(REPO / "trainer" / "algos.py")
             if m.split(".")[0] in project or m.split(".")[0] not in (
                 "torch", "__future__", *sys.stdlib_module_names)}
    assert found == set()


@pytest.mark.slow
def test_ovr_train_is_mounted_on_the_ovr_command_line():
    result = subprocess.run([sys.executable, "-m", "ovr_eval.cli", "train", "--help"],
                            capture_output=True, text=True, cwd=REPO, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "--config" in result.stdout and "export-verl" in result.stdout
    listing = subprocess.run([sys.executable, "-m", "ovr_eval.cli", "--help"],
                             capture_output=True, text=True, cwd=REPO, timeout=120)
    assert "train" in listing.stdout and not listing.stderr.strip()


def test_every_recipe_field_is_documented_where_it_is_declared():
    """Each recipe section's docstring has an entry for each of its fields (TRL's style)."""
    import dataclasses

    from ovr_trainer import config

    for section in (config.Recipe, config.ModelConfig, config.SFTConfig, config.RLConfig,
                    config.EvalStage, config.CheckpointConfig):
        hidden = getattr(section, "SET_BY_THE_RUN", ())
        names = [f.name for f in dataclasses.fields(section) if f.name not in hidden]
        missing = [n for n in names if f"\n        {n} (`" not in section.__doc__]
        assert missing == [], f"{section.__name__} leaves {missing} undocumented"


def _long_strings(value, out: set[str], minimum: int = 120) -> None:
    """Every string of at least ``minimum`` characters inside a parsed JSON value."""
    if isinstance(value, str):
        if len(value) >= minimum:
            out.add(value)
    elif isinstance(value, dict):
        for item in value.values():
            _long_strings(item, out, minimum)
    elif isinstance(value, list):
        for item in value:
            _long_strings(item, out, minimum)


def _json_strings(path: Path) -> set[str]:
    import json

    found: set[str] = set()
    text = path.read_text(encoding="utf-8", errors="replace")
    try:
        _long_strings(json.loads(text), found)
        return found
    except ValueError:
        pass
    for line in text.splitlines():
        try:
            _long_strings(json.loads(line), found)
        except ValueError:
            continue
    return found


def test_the_repository_holds_no_copy_of_the_shared_benchmark_data(shared_data):
    """Benchmark data never goes into the repository (CONTRIBUTING.md): no tracked JSON file
    repeats the long texts (questions, responses) of the files in ../shared/data, whole or
    graded. The demo's slices in ovr_eval/embedded/data are the one documented exception;
    a few quoted examples (benchmarks/results/*.json keep some misses) are not a copy."""
    tracked = subprocess.run(["git", "ls-files", "*.json", "*.jsonl"], capture_output=True,
                             text=True, cwd=REPO, check=True).stdout.split()
    shared: set[str] = set()
    for path in sorted(shared_data.rglob("*.json*")):
        if path.suffix in (".json", ".jsonl"):
            shared |= _json_strings(path)
    copies = {}
    for name in tracked:
        if name.startswith("ovr_eval/embedded/"):
            continue
        common = len(_json_strings(REPO / name) & shared)
        if common > 20:
            copies[name] = common
    assert copies == {}, f"tracked files repeating ../shared/data (texts in common): {copies}"
    ignored = subprocess.run(["git", "check-ignore", "-q",
                              "benchmarks/results/.published-graded/x.jsonl"], cwd=REPO)
    assert ignored.returncode == 0, "benchmarks/results/.published-graded/ is not git-ignored"


def module_name(path: Path) -> str:
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def test_ovr_eval_has_no_import_circle():
    # lazy imports count: a circle hidden inside a function still couples the two modules
    files = {module_name(p): p for p in sorted((REPO / "ovr_eval").rglob("*.py"))}
    graph = {name: {m for m in imported_modules(path) if m in files and m != name}
             for name, path in files.items()}
    circles = []

    def walk(name: str, path: list[str]) -> None:
        for dep in sorted(graph[name]):
            if dep in path:
                circles.append(" → ".join([*path[path.index(dep):], dep]))
            elif dep not in done:
                walk(dep, [*path, dep])
        done.add(name)

    done: set[str] = set()
    for name in graph:
        if name not in done:
            walk(name, [name])
    assert circles == []


# a command of ovr_eval/cli/ is thin: its options come in groups (ovr_eval/cli/groups.py)
COMMAND_LINES = 50


def test_modules_and_functions_stay_small():
    big_modules = [f"{p.relative_to(REPO)}: {n} lines"
                   for p in sorted((REPO / "ovr_eval").rglob("*.py"))
                   if (n := len(p.read_text(encoding="utf-8").splitlines())) > 500]
    long_functions = []
    for folder in ("ovr_eval", "tasks", "trainer"):
        for path in sorted((REPO / folder).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    key = f"{path.relative_to(REPO)}:{node.name}"
                    length = (node.end_lineno or node.lineno) - node.lineno + 1
                    thin = path.parent == REPO / "ovr_eval" / "cli" and node.name.endswith(
                        "_command")
                    if length > (COMMAND_LINES if thin else 60):
                        long_functions.append(f"{key}: {length} lines")
    assert big_modules == [] and long_functions == []
