"""render_run(): a run folder's index.html, one detail page per scenario, and summary.md."""

import os
import time
from multiprocessing import get_context
from pathlib import Path

from . import data, markdown, render, sweep, sweep_plots, verdicts
from .results import METRICS, load_run

LATENCY_COLUMNS = [("p50", "p50"), ("p99", "p99"), ("p999", "p99.9"), ("max", "max")]


def summary_row(scenario):
    """What the summary table shows of one scenario (numbers stay numbers for sorting)."""
    latency = scenario.latency
    return {
        "id": scenario.key, "page": render.page_name(scenario.key), "queue": scenario.queue, "role": scenario.role,
        "payload": scenario.payload, "wait": scenario.wait, "placement": scenario.param("placement", ""),
        "sched": sweep.sched_label(scenario), "contention": scenario.param("contention.threads", 0) or 0,
        "load": scenario.load_mode, "status": scenario.status, "ok": scenario.ok,
        "latency": {key: latency.get(key) for key, _ in LATENCY_COLUMNS},
        "count": latency.get("count"), "measured": bool(latency.get("count")),
        "state": "bad" if scenario.validation_failures() or (not scenario.ok and scenario.status not in
                                                               verdicts.NOT_RUN) else
                 ("skipped" if not scenario.ok else ""),
        "throughput": scenario.value("throughput"),
        "bytes_per_s": (scenario.raw.get("throughput") or {}).get("bytes_per_s"),
        "cpu": scenario.value("cpu"), "vs_floor": scenario.ratios.get("vs_floor"),
        "vs_best_peer": scenario.ratios.get("vs_best_peer"), "ratio_metric": scenario.ratios.get("metric"),
        "reps": len(scenario.repetitions), "variant": scenario.variant,
        "findings": scenario.raw.get("findings") or 0, "validation": scenario.raw.get("validation") or {},
        "bad": scenario.validation_failures(),
    }


def rep_rows(scenario):
    rows = []
    for i, rep in enumerate(scenario.repetitions):
        rows.append({"index": rep.get("rep", i + 1), "status": rep.get("status", scenario.status),
                     "note": rep.get("note") or "", "latency": rep.get("latency_ns") or {},
                     "uncorrected": rep.get("latency_uncorrected_ns") or {},
                     "throughput": METRICS["throughput"][1](rep), "cpu": METRICS["cpu"][1](rep),
                     "validation": rep.get("validation") or {}, "files": rep.get("files") or {},
                     "steal": ((rep.get("disturbance") or {}).get("steal") or {}).get("steal_fraction")})
    return rows


def _render_details(run_dir, keys):
    """Detail pages for `keys` (a worker's share): one reused figure, one page each."""
    from .plots import ScenarioFigure
    run = load_run(run_dir)
    by_key = run.by_key()
    env = render.environment()
    figure = ScenarioFigure()
    for key in keys:
        scenario = by_key[key]
        loaded = data.load_scenario(scenario)
        image = figure.draw(f"{key}  [{scenario.load_mode} loop]", loaded, scenario)
        floor = run.floor_for(scenario)
        notes = verdicts.rep_notes(scenario)
        render.write(run.path / render.page_name(key), env, "scenario.html", title=f"ringside: {key}",
                     s=scenario, row=summary_row(scenario), reps=rep_rows(scenario), image=image,
                     params=sorted(scenario.params.items()), problems=loaded.problems,
                     grants=scenario.grants(), floor=floor if floor is not scenario else None,
                     peer_id=scenario.best_peer_id, known=set(by_key),
                     open_loop=scenario.load_mode == "open", notes=notes,
                     present=lambda path: link(run.path, path) is not None,
                     link=lambda path: link(run.path, path))
    return len(keys)


def link(run_dir, path):
    """A relative href to `path` (relative to the run folder, or absolute) when the file exists, else None."""
    if not path:
        return None
    target = Path(run_dir) / str(path)
    if not target.is_file():
        return None
    return os.path.relpath(target.resolve(), Path(run_dir).resolve())


def _jobs(requested, count):
    if requested:
        return max(1, requested)
    return max(1, min(os.cpu_count() or 1, 4, count // 40 or 1))


def render_run(run_dir, jobs=None):
    """Writes index.html, scenario-*.html and summary.md into run_dir; returns index.html's path.

    jobs: processes drawing detail pages (default: up to 4, one per 40 scenarios, at most the CPUs).
    """
    started = time.monotonic()
    run = load_run(run_dir)
    keys = [s.key for s in run.timed]
    workers = _jobs(jobs, len(keys))
    if workers == 1 or len(keys) < 2:
        _render_details(run.path, keys)
    else:
        shares = [keys[i::workers] for i in range(workers)]
        with get_context("fork").Pool(workers) as pool:
            pool.starmap(_render_details, [(run.path, share) for share in shares])
    env = render.environment()
    strip = verdicts.strip(run)
    rows = [summary_row(s) for s in run.timed]
    checks = [summary_row(s) for s in run.scenarios if not s.timing]
    plots = sweep_plots.all_plots(run.timed, run.memcpy_bytes_per_s(), run.memcpy_by_payload())
    grants = verdicts.grant_mismatches(run)
    findings = [(c, f, verdicts.log_excerpt(run, f)) for c in run.checkers for f in c.get("findings") or []]
    context = dict(title=f"ringside run {run.path.name}", run=run, strip=strip, rows=rows, checks=checks, plots=plots,
                   provenance=verdicts.provenance(run), grants=grants, findings=findings,
                   failed=verdicts.failed_scenarios(run), unfinished=verdicts.unfinished_scenarios(run),
                   rep_notes=verdicts.rep_notes,
                   canary_ok=verdicts.canary_ok, checker_name=verdicts.checker_name,
                   present=lambda path: link(run.path, path) is not None, link=lambda path: link(run.path, path),
                   partial=bool(run.document.get("partial")), elapsed=time.monotonic() - started)
    index = render.write(run.path / "index.html", env, "index.html", **context)
    (run.path / "summary.md").write_text(markdown.run_summary(run, strip, rows, context["provenance"], grants))
    return Path(index)
