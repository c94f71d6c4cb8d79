"""Report assets (installed as ``ovr_reports``): the papers' reported scores and HTML templates."""
