"""Prompt templates (jinja2): each renders the user message for one sample.

Variables: ``question`` (full text, options included), ``choices`` (list or None),
``answer_type`` ("free_form" / "multiple_choice"), ``task`` (task name), ``metadata``.
The chat template itself comes from the model's tokenizer / processor.
"""

from pathlib import Path

TEMPLATE_DIR = Path(__file__).parent
