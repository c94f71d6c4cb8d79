"""Report assets (installed as ``ovr_reports``): the papers' reported scores and HTML templates."""

from pathlib import Path

REPORTS_DIR = Path(__file__).parent
