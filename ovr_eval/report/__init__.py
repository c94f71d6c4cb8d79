"""``ovr report``: one self-contained HTML page of runs beside the paper's reported scores.

:func:`build_report` reads run folders into plain dataclasses (:class:`Report`, ``model.py``):
the leaderboard (``leaderboard.py``), the sample browser (``samples.py``), training curves
(``curves.py``), gap sections and score-by-budget charts (``budget.py``). :func:`render_html`
(``render.py``) turns a report into a page with the jinja2 templates in ``reports/templates/``
(package ``ovr_reports``) and the assets it embeds (``assets.py``). The page loads nothing from
anywhere: CSS, JS, images (data URLs) and KaTeX (when ``scripts/setup-browser.sh`` has cached
it) are inline, and all data for the sample browser sits in one ``<script
type="application/json">`` blob.
"""

from ovr_eval.report.assets import find_katex, load_katex, script_json
from ovr_eval.report.model import Report
from ovr_eval.report.render import build_report, render_html, write_report

__all__ = ["Report", "build_report", "find_katex", "load_katex", "render_html", "script_json",
           "write_report"]
