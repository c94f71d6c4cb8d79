"""The package layout a contributor relies on: imports only go from the trainer to the evaluation
harness, never back, and ``ovr train`` still reaches users through the ``ovr`` command."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

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
