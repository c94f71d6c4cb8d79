"""Helpers shared by task plugins."""

from __future__ import annotations

import re

from ovr_eval.tasks import read_json_rows  # noqa: F401  (re-exported for plugins)

LETTERS = "ABCDEFGHIJ"
_IMAGE_TAG = re.compile(r"<image\d*>")
IMAGE_ONLY_QUESTION = "Answer the question shown in the image."


def strip_image_tags(text: str) -> str:
    """Drop inline image placeholders such as <image1> (images go first in the message)."""
    return _IMAGE_TAG.sub("", text).strip()


def format_choices(choices: list[str]) -> str:
    """'Choices:' block, one lettered option per line."""
    lines = [f"({LETTERS[i]}) {c}" for i, c in enumerate(choices)]
    return "Choices:\n" + "\n".join(lines)
