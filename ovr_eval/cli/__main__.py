"""``python -m ovr_eval.cli``: the ``ovr`` command (data-parallel workers start this way)."""

from ovr_eval.cli import main

if __name__ == "__main__":
    main()
