"""A regular (non-editable) install works outside the checkout: plugins, prompts, demo data."""

from __future__ import annotations

import subprocess
import sys
import sysconfig
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

CHECK = """
import ovr_eval, ovr_tasks
from importlib.metadata import entry_points
from ovr_eval.task_registry import discover
from ovr_eval.report import build_report
from ovr_eval.prompting import available_prompts
from ovr_eval.tiny import EMBEDDED, TOKENIZER_SOURCE
assert "site-packages" in ovr_eval.__file__ or "target" in ovr_eval.__file__, ovr_eval.__file__
assert {"math500", "mathvision", "mathverse"} <= set(discover()), discover()
assert {"plain", "reasoning"} <= set(available_prompts())
assert (TOKENIZER_SOURCE / "qwen.tiktoken").is_file()
assert len(list((EMBEDDED / "data" / "mathvision" / "images").glob("*.jpg"))) == 8
assert [e.value for e in entry_points(group="ovr_eval.commands")] == ["ovr_trainer.cli:train_app"]
print("ok")
"""


def test_wheel_installs_and_works_outside_the_checkout(tmp_path):
    wheel_dir, target = tmp_path / "wheels", tmp_path / "target"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                    "-q", "-w", str(wheel_dir), str(REPO)], check=True, cwd=tmp_path)
    (wheel,) = wheel_dir.glob("ovr_eval-*.whl")
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target",
                    str(target), str(wheel)], check=True, cwd=tmp_path)
    assert (target / "bin" / "ovr").is_file()  # the console script
    # every code package of the checkout is in the wheel (pyproject lists them one by one)
    for package in sorted((REPO / "ovr_eval").rglob("__init__.py")):
        installed = target / package.relative_to(REPO)
        assert installed.is_file(), f"{package.parent.relative_to(REPO)} is not in the wheel"
    # -S: no site hooks, so the checkout's editable install cannot shadow the wheel
    purelib = sysconfig.get_paths()["purelib"]
    prelude = f"import sys; sys.path[:0] = [{str(target)!r}, {purelib!r}]"
    result = subprocess.run([sys.executable, "-S", "-c", f"{prelude}\n{CHECK}"],
                            capture_output=True, text=True, cwd=tmp_path)
    assert result.stdout.strip() == "ok", result.stderr[-2000:]
