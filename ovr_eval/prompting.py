"""Render a Sample into chat messages with a jinja2 prompt template."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import jinja2

from ovr_eval.types import Request, Sample, UserError


@cache
def _environment(extra_dir: str | None) -> jinja2.Environment:
    from ovr_prompts import TEMPLATE_DIR

    search = [extra_dir] if extra_dir else []
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader([*search, str(TEMPLATE_DIR)]),
        undefined=jinja2.StrictUndefined, keep_trailing_newline=False, autoescape=False,
    )


def available_prompts() -> list[str]:
    """Names of the built-in templates."""
    from ovr_prompts import TEMPLATE_DIR

    return sorted(p.stem for p in Path(TEMPLATE_DIR).glob("*.j2"))


def load_template(name: str) -> jinja2.Template:
    """A template by name ("reasoning", "plain") or by path to a .j2 file."""
    path = Path(name)
    if path.suffix == ".j2":
        if not path.is_file():
            raise UserError(f"prompt template {path} does not exist")
        return _environment(str(path.parent.resolve())).get_template(path.name)
    try:
        return _environment(None).get_template(f"{name}.j2")
    except jinja2.TemplateNotFound:
        raise UserError(
            f"unknown prompt {name!r}; built-in prompts: {', '.join(available_prompts())} "
            "(or give a path to a .j2 file)"
        ) from None


def render_prompt(template: jinja2.Template, sample: Sample) -> str:
    """The user-message text for one sample."""
    return template.render(
        question=sample.question, choices=sample.choices, answer_type=sample.answer_type,
        task=sample.task, metadata=sample.metadata,
    ).strip()


def build_request(template: jinja2.Template, sample: Sample, seed: int) -> Request:
    """Chat messages for one sample: its images first, then the rendered prompt text."""
    text = render_prompt(template, sample)
    content: list[dict] = [{"type": "image"} for _ in sample.images]
    content.append({"type": "text", "text": text})
    return Request(
        sample_id=sample.id, messages=[{"role": "user", "content": content}],
        images=list(sample.images), seed=request_seed(seed, sample.id),
    )


def request_seed(seed: int, sample_id: str) -> int:
    """A per-sample seed derived from the run seed, stable across processes and batching."""
    import hashlib

    digest = hashlib.sha256(f"{seed}:{sample_id}".encode()).digest()
    return int.from_bytes(digest[:4], "little") & 0x7FFFFFFF
