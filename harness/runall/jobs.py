"""A job: build the variants it needs, run microbenchmarks, canaries and scenarios, store the results."""

import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

from . import build, canaries, checkers, estimate, execute, faults, matrix, microbench, procs, runner, shard, store
from .progress import Progress

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_REGRESSION, EXIT_INTERRUPTED = 0, 1, 2, 3, 130


@dataclass
class Job:
    """What one invocation runs: (scenario file, variants or None for the file's own) pairs and extras."""
    parts: list                      # [(path, variants or None)]
    repetitions: int = None
    pattern: str = None
    shard: tuple = None              # (K, N)
    out: str = None
    microbench: bool = True
    microbench_quick: bool = True
    canaries: bool = True
    verbose: bool = False
    build: bool = True
    report: bool = True
    notes: list = field(default_factory=list)
    faults: list = field(default_factory=list)  # more scenario files whose faults groups run (nightly: faults.toml)
    shard_fixed: dict = None         # {shard: seconds} of work on one shard whatever the split (shard.balance)


def expand(job):
    """The plan of a job: (items, scenario files read). Raises matrix.ScenarioFileError."""
    pairs = []
    for path, variants in job.parts:
        scenarios = matrix.load(path)
        pairs += matrix.select(scenarios, job.pattern, variants)
    history = estimate.History(_history_files())
    items = execute.plan(pairs, job.repetitions, history)
    if job.shard:
        items = shard.select(items, *job.shard, fixed=job.shard_fixed)
    return items


def fault_scenarios(job):
    """The kind = "faults" scenarios of the job's files (and job.faults), -k applied; never sharded but on shard 1."""
    if job.shard and job.shard[0] != 1:
        return []
    out = []
    for path in [p for p, _ in job.parts] + list(job.faults):
        out += [s for s, _ in matrix.select(matrix.load(path), job.pattern, ["release"]) if s.kind == "faults"]
    return list({s.id: s for s in out}.values())


def _history_files():
    latest = store.LATEST / "results.json"
    return [latest] if latest.exists() else []


def variants_of(items):
    return [v for v in matrix.VARIANTS if any(i.variant == v for i in items)]


def run(job):
    """Runs a job to the end (or Ctrl-C); returns (exit code, run folder)."""
    try:
        items = expand(job)
        fault_list = fault_scenarios(job)
    except matrix.ScenarioFileError as error:
        print(f"error: {error}")
        return EXIT_USAGE, None
    if not items and not fault_list:
        print("error: no scenario matches (check -k, --variants and --shard)")
        return EXIT_USAGE, None
    run_dir = store.new_run_dir(job.out)
    procs.install_signal_handlers()
    print(f"run folder: {run_dir}")
    print(f"commands:   {run_dir / 'commands.log'}", flush=True)
    env = store.environment()
    env.update(scenario_files=[str(p) for p, _ in job.parts], pattern=job.pattern,
               repetitions=job.repetitions, shard={"index": job.shard[0], "count": job.shard[1]} if job.shard else None,
               started_utc=store.utc_now().isoformat(), inject=os.environ.get(runner.INJECT) or None)
    variants = variants_of(items)
    builds, usable = [], set()
    needed = sorted(set(variants) | ({"release"} if job.microbench or job.canaries or fault_list else set()),
                    key=matrix.VARIANTS.index)
    for variant in needed:
        if procs.stopping():
            break
        if job.build:
            ok, result = build.build(variant, targets=build_targets(variant, bool(fault_list)))
            builds.append(result)
        else:
            ok = checkers.build_dir(variant).exists()
        if ok:
            usable.add(variant)
    micro = {"status": "not_run", "files": [], "benchmarks": [], "notes": []}
    if job.microbench and "release" in usable and not procs.stopping():
        micro = microbench.run(run_dir, quick=job.microbench_quick)
    canary_records = []
    if job.canaries and not procs.stopping():
        canary_records = run_canaries(run_dir, [v for v in variants if v in checkers.CHECKED], usable)
    items = [i for i in items if i.variant in usable] + [i for i in items if i.variant not in usable]
    progress = Progress(len(items), sum(i.estimate_s for i in items))
    entries, partial = execute.execute(items, run_dir, progress, job.verbose)
    progress.close()
    partial |= procs.stopping()
    for entry in entries:
        store.aggregate(entry)
    fault_records = []
    if fault_list and "release" in usable and not procs.stopping():
        print(f"\n---- faults: {len(fault_list)} scenario(s) ----", flush=True)
        fault_records = faults.run_all(fault_list, run_dir)
    checker_records = summarise_checkers(entries, variants)
    env["finished_utc"] = store.utc_now().isoformat()
    env["runner"] = next((r.pop("runner_environment") for e in entries for r in e["repetitions"]
                          if r.get("runner_environment")), None)
    for e in entries:
        for r in e["repetitions"]:
            r.pop("runner_environment", None)
    env["builds"] = builds
    doc = store.document(env, entries, checker_records, canary_records, micro, partial,
                         extra={"faults": fault_records} if fault_list else None)
    store.write_json(run_dir / "results.json", doc)
    if not job.out or Path(job.out).resolve().is_relative_to(store.REPORTS.resolve()):
        store.point_latest(run_dir)
    code = outcome(doc, builds)
    print_summary(doc, run_dir)
    if job.report:
        render_report(run_dir)
    return code, run_dir


def build_targets(variant, with_faults=False):
    """What a measuring run needs from a build tree (not the test suites): runner, benchmarks, canaries, fault tools."""
    targets = [f"canary_{c.name}" for c in canaries.CANARIES]
    if with_faults and variant == "release":
        targets += faults.CMAKE_TARGETS
    if (store.ROOT / "harness" / "runner" / "CMakeLists.txt").exists():
        targets.append(runner.CMAKE_TARGET)
    if variant == "release":
        targets += microbench.declared()
    return sorted(set(targets))


def run_canaries(run_dir, checked_variants, usable):
    folder = Path(run_dir) / "canaries"
    folder.mkdir(parents=True, exist_ok=True)
    records = []
    if "release" in usable:
        records += canaries.run_native(folder)
    for variant in checked_variants:
        if variant in usable and not procs.stopping():
            records += canaries.run_checked(variant, folder)
    return records


def summarise_checkers(entries, variants):
    out = []
    for variant in variants:
        if variant not in checkers.CHECKED:
            continue
        mine = [e for e in entries if e["variant"] == variant]
        found = [f for e in mine for r in e["repetitions"] for f in r.get("findings") or []]
        ran = [e for e in mine if e["status"] != "not_run"]
        out.append({"variant": variant, "tool": checkers.TOOL[variant], "scenarios_run": len(ran),
                    "status": "fail" if found else ("pass" if ran else "not_run"), "findings": found})
    return out


def outcome(doc, builds=()):
    if any(b.get("build") != "ok" or b.get("configure") != "ok" for b in builds):
        return EXIT_FAILED
    bad = [s for s in doc["scenarios"] if s["status"] not in ("pass", "not_run", "partial")]
    broken = [c for c in doc["canaries"] if not c.get("ok")]
    found = [f for c in doc["checkers"] for f in c["findings"]]
    if faults.failed(doc.get("faults") or []):
        return EXIT_FAILED
    if bad or broken or found or doc["microbench"].get("status") == "fail":
        return EXIT_FAILED
    if doc["partial"]:
        return EXIT_INTERRUPTED
    return EXIT_OK


def print_summary(doc, run_dir):
    scenarios = doc["scenarios"]
    counts = {}
    for s in scenarios:
        counts[s["status"]] = counts.get(s["status"], 0) + 1
    print("\n==== results ====")
    print("scenarios: " + ", ".join(f"{n} {k}" for k, n in sorted(counts.items())))
    for f in doc.get("faults") or []:
        print(f"faults {f['group']}: {f['status']}, {faults.describe(f['summary'])}")
    for s in scenarios:
        if s["status"] not in ("pass", "not_run", "partial"):
            notes = {r.get("note") for r in s["repetitions"] if r.get("note")}
            print(f"  {s['status']:8} {s['variant']:8} {s['slug']}  {'; '.join(sorted(notes))[:160]}")
    from .findings import summary_line
    for c in doc["checkers"]:
        print(f"checker {c['tool']} ({c['variant']}): {c['status']}, {len(c['findings'])} findings")
        for f in c["findings"][:10]:
            print(f"  {summary_line(f)}  [{f['scenario']}] {f['log']}")
    for c in doc["canaries"]:
        state = "ok" if c.get("ok") else "BROKEN"
        print(f"canary {c['name']:16} {c['checker'] or 'none':9} {state:6} {c.get('note') or ''}".rstrip())
    mb = doc["microbench"]
    print(f"microbench: {mb['status']}, {len(mb['benchmarks'])} rows {' '.join(mb.get('notes', []))}".rstrip())
    if doc["partial"]:
        print("PARTIAL: interrupted or incomplete; what ran is kept")
    print(f"results: {Path(run_dir) / 'results.json'}", flush=True)


def render_report(run_dir):
    """The HTML report through reports.render_run, when the reports package provides it."""
    reports = import_reports()
    if isinstance(reports, ImportError):
        print(f"report: not written: the reports package cannot import {reports.name or reports}")
        return None
    if reports is None or not hasattr(reports, "render_run"):
        print("report: not written (the reports package is not built yet)")
        return None
    try:
        path = reports.render_run(run_dir)
    except Exception as error:  # a report failure must not lose the results
        print(f"report: failed: {type(error).__name__}: {error}")
        return None
    print(f"report: {path or Path(run_dir) / 'index.html'}")
    return path


def import_reports():
    """The top-level reports package; None when it does not exist, the ImportError when a dependency is missing."""
    root = str(store.ROOT)
    if root not in sys.path:
        sys.path.insert(0, root)
    try:
        import reports
    except ImportError as error:
        return None if error.name == "reports" else error
    return reports


def estimate_phases(items, job):
    """{phase: seconds} for `list`: builds, microbenchmarks, canaries, scenarios per variant."""
    phases = {}
    needed = set(variants_of(items)) | ({"release"} if job.microbench or job.canaries else set())
    for variant in sorted(needed, key=matrix.VARIANTS.index):
        fresh = not (checkers.build_dir(variant) / "CMakeCache.txt").exists()
        phases[f"build {variant}"] = BUILD_S[variant] if fresh else 20.0
    if job.microbench:
        phases["microbench"] = 60.0 if job.microbench_quick else 240.0
    if job.canaries:
        checked = [v for v in needed if v in checkers.CHECKED]
        phases["canaries"] = 2.0 + sum(CANARY_S[v] for v in checked)
    for variant in variants_of(items):
        phases[f"scenarios {variant}"] = sum(i.estimate_s for i in items if i.variant == variant)
    if fault_list := fault_scenarios(job):
        phases["faults"] = sum(faults.estimate_seconds(s.params) for s in fault_list)
    return phases


BUILD_S = {"release": 240.0, "asan": 300.0, "tsan": 300.0, "valgrind": 240.0}  # fresh, 2 cores
CANARY_S = {"asan": 5.0, "tsan": 3.0, "valgrind": 8.0}
