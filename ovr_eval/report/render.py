"""The page: :func:`build_report` reads everything into a :class:`Report`,
:func:`render_html` renders it with the jinja2 templates of ``reports/templates/`` and the
embedded assets (``assets.py``), and :func:`write_report` writes the self-contained file."""


from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path

from ovr_eval.compare import provenance_warnings
from ovr_eval.reference import Reference, load_reference
from ovr_eval.report.assets import ImageStore, csp_hash, inline_code, load_katex, script_json
from ovr_eval.report.budget import budget_charts
from ovr_eval.report.curves import read_curves
from ovr_eval.report.leaderboard import (
    add_judged_columns,
    build_columns,
    build_rows,
    check_sample_sets,
    load_runs,
    read_records,
    reference_keys,
    run_labels,
    run_settings,
)
from ovr_eval.report.model import SCHEMA, Report, RunInfo, gap_sections
from ovr_eval.report.samples import pick_records, sample_view
from ovr_eval.types import PathLike, UserError

# ---------------------------------------------------------------- the report


def build_report(paths: list[Path], reference_models: list[str] | None = None,
                 max_samples: int = 200, reference: Reference | None = None) -> Report:
    """Everything the page shows, read from run folders and reported.yaml."""
    if max_samples < 0:
        raise UserError("--max-samples must be 0 or more")
    runs, warnings = load_runs(paths)
    labels = run_labels(runs)
    warnings += [f"{label} is unfinished (partial): {'; '.join(run.partial)}; its scores "
                 "cover the saved samples" for run, label in zip(runs, labels, strict=True)
                 if run.partial]
    reference = reference if reference is not None else load_reference()
    columns = build_columns(runs, reference)
    model_keys = reference_keys(reference, reference_models, [c.key for c in columns])
    rows = build_rows(runs, labels, columns, reference, model_keys)
    records = [{t: read_records(run, label, t, warnings) for t in run.tasks}
               for run, label in zip(runs, labels, strict=True)]
    warnings += check_sample_sets(records, labels, rows)
    warnings += [f"{task}: {labels[0]} vs {label}: {warning}"
                 for run, label in zip(runs[1:], labels[1:], strict=True)
                 for task in sorted(set(runs[0].tasks) & set(run.tasks))
                 for warning in provenance_warnings(runs[0].config, run.config, task)]
    images, samples, left_out = ImageStore(), [], []
    for task in dict.fromkeys(c.task or c.key for c in columns):
        for index, picked in enumerate(pick_records(records, task, max_samples)):
            total = len(records[index].get(task) or [])
            if len(picked) < total:
                left_out.append({"run": index, "task": task, "shown": len(picked),
                                 "total": total})
            samples += [sample_view(r, index, runs[index], task, images) for r in picked]
    curves = read_curves(runs, labels, warnings)
    budgets = budget_charts(runs, labels, warnings)
    columns = add_judged_columns(columns, rows, runs, labels, reference)
    infos = [RunInfo(label=label, path=str(run.path), model=run.model,
                     settings=run_settings(run.config), partial=run.partial,
                     splits={t: str(v.split or "") for t, v in run.tasks.items()})
             for run, label in zip(runs, labels, strict=True)]
    return Report(created=datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
                  runs=infos, columns=columns, rows=rows, curves=curves, samples=samples,
                  images=images.urls, left_out=left_out, max_samples=max_samples,
                  warnings=warnings, gaps=gap_sections(runs, labels, reference, model_keys),
                  budgets=budgets)


# ---------------------------------------------------------------- rendering


def render_html(report: Report, katex: tuple[str, str] | None, katex_note: str) -> str:
    """The page. Only the page's own scripts may run (CSP hashes); it loads nothing."""
    from jinja2 import Environment, FileSystemLoader, StrictUndefined
    from markupsafe import Markup

    from ovr_reports import REPORTS_DIR

    templates = REPORTS_DIR / "templates"
    env = Environment(loader=FileSystemLoader(templates), autoescape=True,
                      undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True,
                      extensions=["jinja2.ext.do"])
    css = inline_code((templates / "report.css").read_text("utf-8"), "style")
    js = inline_code((templates / "report.js").read_text("utf-8"), "script")
    scripts = [js, *([katex[1]] if katex else [])]
    data = {"schema": SCHEMA, **asdict(report), "katex": katex is not None}
    return env.get_template("report.html.j2").render(
        report=report, data=Markup(script_json(data)), css=Markup(css), js=Markup(js),
        katex_css=Markup(katex[0]) if katex else None,
        katex_js=Markup(katex[1]) if katex else None, katex_note=katex_note,
        script_hashes=Markup(" ".join(csp_hash(s) for s in scripts)))


@dataclass
class Written:
    path: Path
    bytes: int
    samples: int
    left_out: int
    katex: bool
    warnings: list[str]


def write_report(paths: list[Path], output: PathLike, reference_models: list[str] | None = None,
                 max_samples: int = 200) -> Written:
    """Build the report and write it to ``output`` (atomically)."""
    output = Path(output)
    if output.is_dir():
        raise UserError(f"-o {output} is a directory; give a file name such as report.html")
    report = build_report(paths, reference_models, max_samples)
    katex, note = load_katex()
    html = render_html(report, katex, note)
    try:
        output.parent.mkdir(parents=True, exist_ok=True)
        tmp = output.with_name(output.name + ".tmp")
        tmp.write_text(html, "utf-8")
        os.replace(tmp, output)
    except OSError as error:
        raise UserError(f"cannot write {output}: {error.strerror}") from None
    return Written(path=output, bytes=len(html.encode()), samples=len(report.samples),
                   left_out=sum(x["total"] - x["shown"] for x in report.left_out),
                   katex=katex is not None, warnings=report.warnings)
