"""Helpers shared by task plugins."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

LETTERS = "ABCDEFGHIJ"
_IMAGE_TAG = re.compile(r"<image\d*>")
IMAGE_ONLY_QUESTION = "Answer the question shown in the image."


def read_json_rows(path: Path) -> Iterator[dict[str, Any]]:
    """Rows of a .jsonl file (one object per line) or a .json file (an array of objects)."""
    if path.suffix == ".jsonl":
        with path.open(encoding="utf-8") as handle:
            for line in handle:
                if line.strip():
                    yield json.loads(line)
    else:
        yield from json.loads(path.read_text(encoding="utf-8"))


def strip_image_tags(text: str) -> str:
    """Drop inline image placeholders such as <image1> (images go first in the message)."""
    return _IMAGE_TAG.sub("", text).strip()


def format_choices(choices: list[str]) -> str:
    """'Choices:' block, one lettered option per line."""
    lines = [f"({LETTERS[i]}) {c}" for i, c in enumerate(choices)]
    return "Choices:\n" + "\n".join(lines)
