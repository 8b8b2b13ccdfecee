"""A night's verdict: the run's own checks, the comparison with the baseline, the history; Markdown and exit code.

Exit codes: 1 when the run is broken (a failed build, validation failure,
checker finding, broken canary, failed fault scenario, failed microbenchmarks,
or a partial run);
else 3 when fail_on_regression and the comparison or the history found a
regression confirmed tonight; else 0. 2 when the reports package is missing.
"""

from pathlib import Path

from . import faults, jobs, nightstore, store

HISTORY_NIGHTS = 30


def run_problems(doc):
    """Why the run itself is broken, in words (empty when it is not)."""
    problems = []
    for b in doc["environment"].get("builds") or []:
        if b.get("configure") != "ok" or b.get("build") != "ok":
            problems.append(f"build {b.get('variant')} failed (configure {b.get('configure')}, build {b.get('build')})")
    bad = [s for s in doc["scenarios"] if s["status"] not in ("pass", "not_run", "partial")]
    if bad:
        problems.append(f"{len(bad)} scenario run(s) failed validation or errored")
    found = [f for c in doc["checkers"] for f in c["findings"]]
    if found:
        problems.append(f"{len(found)} checker finding(s)")
    broken = [c for c in doc["canaries"] if not c.get("ok")]
    if broken:
        problems.append(f"{len(broken)} broken canary(ies): " + ", ".join(f"{c['name']}/{c['checker'] or 'native'}"
                                                                        for c in broken))
    failed_faults = faults.failed(doc.get("faults") or [])
    if failed_faults:
        problems.append(f"{len(failed_faults)} fault scenario(s) failed: " + ", ".join(str(r.get("id") or r.get("name"))
                                                                            for r in failed_faults[:5]))
    if doc["microbench"].get("status") == "fail":
        problems.append("microbenchmarks failed")
    if doc.get("partial"):
        problems.append("partial run (interrupted, or a shard is missing)")
    return problems


def _section(path, title):
    """A Markdown file's body under a second-level title (its own first heading becomes the title's line)."""
    try:
        lines = Path(path).read_text().splitlines()
    except OSError:
        return []
    if lines and lines[0].startswith("# "):
        lines = [f"## {title}: {lines[0][2:]}"] + lines[1:]
    return [line if not line.startswith("## ") or line.startswith(f"## {title}") else "#" + line for line in lines]


def decide(cand, baseline=None, store_dir=None, nights=HISTORY_NIGHTS, fail_on_regression=True):
    """Writes verdict.md and verdict.json into the candidate run folder; returns (exit code, Markdown)."""
    reports = jobs.import_reports()
    if reports is None or isinstance(reports, ImportError) or not hasattr(reports, "history"):
        print(f"verdict: the reports package is not usable ({reports}); no verdict")
        return jobs.EXIT_USAGE, ""
    cand = Path(cand)
    doc = store.load_results(cand)
    problems = run_problems(doc)
    lines, regressed = [], []
    if baseline:
        compare_code = reports.compare(str(baseline), str(cand), str(cand / "compare"), True)
        if compare_code == jobs.EXIT_REGRESSION:
            regressed.append(f"regression against `{Path(baseline).name}`")
        lines += _section(cand / "compare" / "compare.md", "Comparison") + [""]
    else:
        lines += ["## Comparison", "", "No baseline: no earlier complete, passing night in the store"
                  if store_dir else "No baseline given: nothing compared.", ""]
    if store_dir:
        history = reports.history(nightstore.history(store_dir, cand, nights), cand)
        if history.regressions():
            regressed.append(f"{len(history.regressions())} lasting change(s) confirmed tonight")
        lines += (cand / "history.md").read_text().splitlines() + [""]
    run = reports.load_run(cand)
    checks = [f"- {v.name}: **{v.state.upper()}**: {v.detail}" for v in reports.verdicts.strip(run)]
    code = (jobs.EXIT_FAILED if problems else
            jobs.EXIT_REGRESSION if regressed and fail_on_regression else jobs.EXIT_OK)
    head = ("FAIL: " + "; ".join(problems) if problems else
            "REGRESSED: " + "; ".join(regressed) if regressed else "PASS")
    env = doc["environment"]
    top = [f"# ringside nightly `{cand.name}`: {head}", "",
           f"- commit `{env.get('git_commit') or '?'}`{' (dirty tree)' if env.get('git_dirty') else ''}, "
           f"host {env.get('hostname')}, started {env.get('started_utc')}",
           f"- baseline: `{Path(baseline).name}`" if baseline else "- baseline: none"]
    if env.get("inject"):
        top.append(f"- **Test mode:** every runner ran with `--inject {env['inject']}` (RINGSIDE_RUNALL_INJECT)")
    top += ["", "## Checks", "", *checks, ""]
    links = [f"- report: `{cand / 'index.html'}`"]
    if baseline:
        links.append(f"- comparison: `{cand / 'compare' / 'compare.html'}`")
    if store_dir:
        links.append(f"- history: `{cand / 'history.html'}`")
    text = "\n".join(top + lines + ["## Files", "", *links, ""])
    (cand / "verdict.md").write_text(text)
    nightstore.record_verdict(cand, code, problems=problems, regressions=regressed,
                              baseline=str(baseline) if baseline else None)
    print(f"verdict: {head}")
    print(f"verdict: {cand / 'verdict.md'}")
    return code, text


def write_summary(text, path):
    if path:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Path(path).write_text(text)
