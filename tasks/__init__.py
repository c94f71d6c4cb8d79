"""Built-in task plugins (installed as the ``ovr_tasks`` package): one module per benchmark."""
