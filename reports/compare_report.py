"""compare(): base vs candidate run folders into compare.html and compare.md; the exit code."""

import os
import sys
from pathlib import Path

from . import data, markdown, render, stats
from .comparison import Comparison
from .plots import OverlayFigure
from .results import METRICS, load_run

EXIT_REGRESSION = 3
MAX_OVERLAYS = 300  # about 30 kB each: keeps compare.html far below 10 MB


def _spectrum(scenario):
    loaded = data.load_scenario(scenario)
    if loaded.merged is not None and loaded.merged.total:
        values, levels, _ = loaded.merged.spectrum()
        return values, levels
    spectra = [rep.spectrum for rep in loaded.reps if rep.spectrum is not None]
    return spectra[len(spectra) // 2] if spectra else None


def overlays(result):
    """(pair, image) for every scenario with a metric regressed or improved (floors included)."""
    changed = [p for p in result.pairs if any(c.verdict in (stats.REGRESSED, stats.IMPROVED)
                                              for c in p.changes.values())]
    changed.sort(key=lambda p: (p.role == "floor", p.verdict != stats.REGRESSED, p.id))
    figure = OverlayFigure() if changed else None
    out = []
    for pair in changed[:MAX_OVERLAYS]:
        out.append((pair, figure.draw(pair.id, _spectrum(pair.base), _spectrum(pair.cand))))
    return out, max(0, len(changed) - MAX_OVERLAYS)


def rows(result):
    """One row per pair: the judged change of every metric, with its verdict and a tooltip of the numbers."""
    out = []
    for pair in result.pairs:
        cells = []
        for metric in METRICS:
            c = pair.changes[metric]
            j = c.judged
            tip = (f"{c.label}: base {_fmt(metric, c.raw.base_median)}, candidate {_fmt(metric, c.raw.cand_median)}; "
                   f"absolute {render.fmt_pct(c.raw.change)}, vs floor "
                   f"{render.fmt_pct(c.norm.change if c.norm else None)}; judged on {c.judged_on}: "
                   f"CI {markdown._ci(j.ci)}, p {markdown._p(j.p_value)}; {j.verdict}: {j.reason}")
            verdict = j.verdict
            if pair.role == "floor" and verdict in (stats.REGRESSED, stats.IMPROVED):
                verdict = "machine"  # a floor measures the machine: its moves are never ringside's
            cells.append({"verdict": verdict, "change": j.change, "tip": tip})
        summary = pair.summary
        if pair.role == "floor":
            moved = pair.changes["p50"].raw
            summary = ("machine " + ("slower" if (moved.change or 0) > 0 else "faster")
                       if moved.verdict in (stats.REGRESSED, stats.IMPROVED) else f"steady ({moved.verdict})")
        out.append({"pair": pair, "cells": cells, "summary": summary,
                    "state": "machine" if summary.startswith("machine") else pair.verdict})
    return out


def _fmt(metric, value):
    if value is None:
        return "n/a"
    return render.fmt_rate(value, "") if metric == "throughput" else render.fmt_ns_cell(value)


def compare(base_dir, cand_dir, out_dir, fail_on_regression=False, thresholds=None):
    """Writes compare.html and compare.md into out_dir; returns 0, or 3 on regression with fail_on_regression.

    out_dir None: <cand_dir>/compare. Raises results.SchemaError (a ValueError)
    for a results file of an unknown schema version.
    """
    base, cand = load_run(base_dir), load_run(cand_dir)
    result = Comparison(base, cand, thresholds)
    out = Path(out_dir) if out_dir else cand.path / "compare"
    out.mkdir(parents=True, exist_ok=True)
    images, omitted = overlays(result)
    env = render.environment()
    render.write(out / "compare.html", env, "compare.html", title="ringside comparison", r=result,
                 rows=rows(result), metrics=[(m, v[0]) for m, v in METRICS.items()], overlays=images,
                 omitted=omitted, drawn={pair.id for pair, _ in images}, reasons=result.inconclusive_reasons(), fmt=_fmt,
                 base_link=_link(out, base.path), cand_link=_link(out, cand.path))
    (out / "compare.md").write_text(markdown.comparison_summary(result))
    print(f"compare: {result.verdict_line}", file=sys.stderr)
    print(f"compare: report {out / 'compare.html'}", file=sys.stderr)
    return EXIT_REGRESSION if fail_on_regression and result.regressions() else 0


def _link(out, run_path):
    """A relative link from the comparison to a run's index.html, when it exists."""
    index = run_path / "index.html"
    return os.path.relpath(index.resolve(), out.resolve()) if index.is_file() else None
