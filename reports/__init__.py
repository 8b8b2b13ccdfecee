"""ringside's HTML run reports and baseline-vs-candidate comparisons (run_all.py `report` and `compare`)."""

from .results import SchemaError, load_run  # noqa: F401
from .run_report import render_run  # noqa: F401


def compare(base_dir, cand_dir, out_dir, fail_on_regression=False, thresholds=None):
    """Compares two run folders into out_dir (compare.html, compare.md); returns the exit code.

    0, or 3 when fail_on_regression and a metric regressed. thresholds:
    {metric: fraction} overriding the 5 % noise threshold (metrics: p50, p99,
    p999, max, throughput, cpu).
    """
    from .compare_report import compare as _compare
    return _compare(base_dir, cand_dir, out_dir, fail_on_regression, thresholds)


def history(run_dirs, out_dir):
    """The nightly history of run folders (oldest first): history.html and history.md into out_dir.

    Returns the nightly_history.History (its regressions() fail a nightly job).
    """
    from pathlib import Path

    from .nightly_history import analyse
    from .history_page import markdown, render_history
    result = analyse(run_dirs)
    Path(out_dir).mkdir(parents=True, exist_ok=True)
    render_history(result, Path(out_dir) / "history.html")
    (Path(out_dir) / "history.md").write_text(markdown(result))
    return result


__all__ = ["render_run", "compare", "history", "load_run", "SchemaError"]
