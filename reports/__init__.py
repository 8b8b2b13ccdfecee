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


__all__ = ["render_run", "compare", "load_run", "SchemaError"]
