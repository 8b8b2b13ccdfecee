"""The `test` command: per variant, build, ctest by the label x variant table, pytest, smoke scenarios, canaries.

The last line is the contract CI reads: `N passed, N failed` (ctest's counts,
pytest's, one per smoke scenario run and one per canary, summed over variants).
"""

import re
import subprocess
import sys
import time
from pathlib import Path

from . import bootstrap, canaries, execute, faults, matrix, procs, runner, store
from .memcheck import run as run_memcheck
from .checkers import ROOT
from .progress import Progress

# Which test labels run under which build variant (README.md shows this table).
# A test runs in a variant when one of its labels is listed for that variant and
# none of its other labels is a known label missing from that variant's row.
LABELS = ("quick", "stress", "process")
VARIANTS = {
    "release": ("quick", "stress", "process"),
    "asan": ("quick", "process"),
    "tsan": ("quick",),
    "valgrind": ("quick",),  # run under valgrind memcheck (memcheck.py: one valgrind per gtest binary)
}
MEMCHECK_VARIANTS = {"valgrind"}
# pytest (tests/python) runs after these variants' ctest, against
# build/<variant>/src/libringside.so: all of it after release; after asan only
# the tests marked `library` (the Python host's: the others never load the
# library), with the ASan runtime preloaded into the interpreter (leaks off:
# Python's own allocations are not ours; the suite checks
# rs_debug_allocation_count instead).
PYTEST_VARIANTS = ("release", "asan")
PYTEST_PYTHON = bootstrap.SYSTEM_PYTHON if Path(bootstrap.SYSTEM_PYTHON).exists() else sys.executable
SMOKE = ROOT / "scenarios" / "smoke.toml"
FAULTS = ROOT / "scenarios" / "faults.toml"  # its short version runs after release's smoke scenarios
# A guard against hangs, below CI's 90 minutes: the suite takes about 20 minutes on
# this machine with a warm ccache, longer from cold (four variants on 2 cores).
BUDGET_MINUTES = 80
TEST_TIMEOUT_SECONDS = 300  # for any test without its own TIMEOUT


def run(cmd, deadline, capture=False, env=None, log=None):
    """(returncode or None when the deadline killed it, output) for cmd run from the repo root."""
    if time.monotonic() >= deadline:
        procs.echo(cmd, env)
        print("  not started: the time budget is spent", flush=True)
        return None, ""
    rc, output, ended = procs.run(cmd, env=env, cwd=ROOT, deadline=deadline, log=log if capture else None,
                                  tee=capture)
    if ended == "deadline":
        print("\n  killed: the time budget is spent", flush=True)
    return rc, output


# ---- ctest ----------------------------------------------------------------

RESULT_LINE = re.compile(r"^\s*\d+/\d+\s+(?:Test|MemCheck)\s+#\d+:\s+\S.*?\s\.*\s*\**(.+?)\s+[\d.]+ sec\s*$")
START_LINE = re.compile(r"^\s*Start\s+\d+: ", re.MULTILINE)
SUMMARY_LINE = re.compile(r"(\d+)% tests passed, (\d+) tests? failed out of (\d+)")


def count_results(output):
    """(passed, failed, skipped) from ctest's console output."""
    statuses = [m.group(1) for m in map(RESULT_LINE.match, output.splitlines()) if m]
    skipped = sum(1 for s in statuses if s.startswith("Skipped") or "Disabled" in s)
    summary = SUMMARY_LINE.search(output)
    if summary:
        failed, total = int(summary.group(2)), int(summary.group(3))
    else:  # killed before its summary: a test started but never finished failed
        started = len(START_LINE.findall(output))
        failed = sum(1 for s in statuses if s != "Passed" and not s.startswith("Skipped")
                     and "Disabled" not in s) + max(0, started - len(statuses))
        total = max(started, len(statuses))
    return total - failed - skipped, failed, skipped


def ctest_command(variant, args):
    row = VARIANTS[variant]
    include = "^(" + "|".join(row) + ")$"
    exclude = [label for label in LABELS if label not in row]
    cmd = ["ctest", "--test-dir", f"build/{variant}", "--output-on-failure",
           "--timeout", TEST_TIMEOUT_SECONDS, "-j", args.jobs, "--no-tests=ignore",
           "-L", include]
    if variant in MEMCHECK_VARIANTS:
        exclude.append("no_memcheck")
        cmd += ["-T", "memcheck"]
    if exclude:
        cmd += ["-LE", "^(" + "|".join(exclude) + ")$"]
    if args.filter:
        cmd += ["-R", args.filter]
    return cmd


def memcheck_logs(variant):
    return sorted((ROOT / "build" / variant / "Testing" / "Temporary").glob("MemoryChecker.*.log"))


def show_memcheck_logs(variant):
    """ctest -T memcheck keeps valgrind's report in files: print the ones with errors."""
    for log in memcheck_logs(variant):
        text = log.read_text(errors="replace")
        if re.search(r"ERROR SUMMARY: [1-9]", text):
            print(f"---- {log.relative_to(ROOT)} ----")
            print(text.rstrip())


def clear_memcheck_logs(variant):
    for log in memcheck_logs(variant):
        log.unlink()


# ---- pytest (the Python host and run_all's own tests) ------------------------

PYTEST_COUNT = re.compile(r"(\d+) (passed|failed|errors?|skipped)\b")


def pytest_command(variant):
    """(command, environment changes) for tests/python against this variant's shared library."""
    env = {"RINGSIDE_LIBRARY": str(ROOT / "build" / variant / "src" / "libringside.so")}
    if variant == "asan":
        runtime = subprocess.run(["gcc", "-print-file-name=libasan.so"], capture_output=True,
                                 text=True).stdout.strip()
        env["LD_PRELOAD"] = runtime
        # Appended: a later option wins, so leak detection stays off whatever the caller set.
        import os
        env["ASAN_OPTIONS"] = ":".join(filter(None, (os.environ.get("ASAN_OPTIONS"), "detect_leaks=0")))
        env["UBSAN_OPTIONS"] = ":".join(filter(None, (os.environ.get("UBSAN_OPTIONS"),
                                                      "print_stacktrace=1:halt_on_error=1")))
    cmd = [PYTEST_PYTHON, "-m", "pytest", "tests/python", "-q", "-rfE", "-p", "no:cacheprovider"]
    if variant == "asan":
        cmd += ["-m", "library"]
    return cmd, env


def count_pytest(rc, output):
    """(passed, failed, skipped, note) from pytest's last summary line and exit code.

    Exit code 5 (no tests collected) means the wiring is broken: a failure.
    A non-zero exit without a failed test counted (a crash, a collection or
    usage error, the deadline) counts as one failure.
    """
    summary = [line for line in output.splitlines() if PYTEST_COUNT.search(line) and " in " in line]
    counts = {"passed": 0, "failed": 0, "skipped": 0}
    for number, kind in PYTEST_COUNT.findall(summary[-1] if summary else ""):
        counts["failed" if kind.startswith("error") else kind] += int(number)
    note = ""
    if rc == 5:
        note = "pytest collected no tests"
    elif rc is None:
        note = "pytest killed"
    elif rc != 0 and counts["failed"] == 0:
        note = f"pytest exited {rc}"
    if note:
        counts["failed"] += 1
    return counts["passed"], counts["failed"], counts["skipped"], note


# ---- smoke scenarios and canaries -------------------------------------------

def runner_expected():
    """The runner is part of this tree once harness/runner/ has its CMakeLists.txt."""
    return (ROOT / "harness" / "runner" / "CMakeLists.txt").exists()


def smoke(variant, run_dir, deadline):
    """(passed, failed, status, entries, canary records) for smoke.toml and the canaries in one variant."""
    entries, records = [], []
    if runner_expected() and runner.binary(ROOT / "build" / variant) is not None:
        scenarios = matrix.load(SMOKE)
        items = execute.plan(matrix.select(scenarios, None, [variant]))
        print(f"\n---- {variant}: {len(items)} smoke scenario runs ({SMOKE.relative_to(ROOT)}) ----", flush=True)
        progress = Progress(len(items), sum(i.estimate_s for i in items), tty=False)
        entries, _ = execute.execute(items, run_dir, progress, verbose=True, budget=deadline)
        for entry in entries:
            store.aggregate(entry)
    elif runner_expected():
        entries = [{"id": "ringside-runner", "variant": variant, "status": "error", "slug": "ringside-runner",
                    "repetitions": [{"note": "ringside-runner is not built"}]}]
    print(f"\n---- {variant}: canaries ----", flush=True)
    folder = Path(run_dir) / "canaries"
    folder.mkdir(parents=True, exist_ok=True)
    if variant == "release":
        records = canaries.run_native(folder, deadline)
    elif variant in ("asan", "tsan", "valgrind"):
        records = canaries.run_checked(variant, folder, deadline)
    passed = sum(e["status"] == "pass" for e in entries) + sum(bool(r.get("ok")) for r in records)
    failed = len(entries) + len(records) - passed
    for entry in entries:
        if entry["status"] != "pass":
            notes = {r.get("note") for r in entry["repetitions"] if r.get("note")}
            print(f"  smoke {entry['status']}: {entry['slug']} {'; '.join(sorted(n for n in notes if n))}")
    for record in records:
        if not record.get("ok"):
            print(f"  canary {record['name']} ({record['checker'] or 'no checker'}): {record.get('note')}")
    status = "ok" if not failed else "FAILED"
    if not entries and not runner_expected():
        status += " (no runner yet)"
    return passed, failed, status, entries, records


def fault_scenarios(run_dir, deadline):
    """(passed, failed, records) for the short version of faults.toml (one count per faults group)."""
    if not FAULTS.exists():
        return 0, 0, []
    print(f"\n---- release: faults, short version ({FAULTS.relative_to(ROOT)}) ----", flush=True)
    try:
        scenarios = [s for s in matrix.load(FAULTS) if s.kind == "faults"]
    except matrix.ScenarioFileError as error:
        print(f"  faults: {error}")
        return 0, 1, []
    records = faults.run_all(scenarios, run_dir, short=True, deadline=deadline, build_dir=ROOT / "build" / "release")
    bad = len(faults.failed(records))
    return sum(r["status"] == "pass" for r in records), bad, records


# ---- the test command -----------------------------------------------------

def new_result(variant, note=""):
    return {"variant": variant, "labels": ",".join(VARIANTS[variant]), "configure": "-",
            "build": "-", "tests": "-", "pytest": "-", "smoke": "-", "passed": 0, "failed": 0, "skipped": 0,
            "seconds": 0.0, "ok": False, "note": note}


def step_status(rc):
    return "ok" if rc == 0 else ("killed" if rc is None else "FAILED")


def test_variant(variant, args, deadline, run_dir, collected):
    result = new_result(variant)
    start = time.monotonic()
    print(f"\n==== {variant} ====", flush=True)
    steps = (("configure", ["cmake", "--preset", variant]),
             ("build", ["cmake", "--build", "--preset", variant, "-j", args.jobs]))
    for name, cmd in steps:
        rc, _ = run(cmd, deadline)
        result[name] = step_status(rc)
        if rc != 0:
            result["seconds"] = time.monotonic() - start
            return result
    memcheck = variant in MEMCHECK_VARIANTS
    if memcheck:
        clear_memcheck_logs(variant)
    logs = Path(run_dir) / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    if memcheck:  # one valgrind per gtest binary, not per case (memcheck.py)
        rc, counts = run_memcheck(ctest_command(variant, args), args.jobs, deadline, logs, count_results, run)
    else:
        rc, output = run(ctest_command(variant, args), deadline, capture=True, log=logs / f"ctest-{variant}.log")
        counts = count_results(output)
    result["tests"] = step_status(rc)
    result["passed"], result["failed"], result["skipped"] = counts
    if memcheck and rc != 0:
        show_memcheck_logs(variant)
    result["ok"] = rc == 0 and result["failed"] == 0
    if variant in PYTEST_VARIANTS:
        if args.filter:
            result["pytest"] = "skipped (-k)"
        else:
            cmd, env = pytest_command(variant)
            py_rc, py_output = run(cmd, deadline, capture=True, env=env, log=logs / f"pytest-{variant}.log")
            passed, failed, skipped, note = count_pytest(py_rc, py_output)
            result["pytest"] = step_status(py_rc)
            result["passed"] += passed
            result["failed"] += failed
            result["skipped"] += skipped
            result["note"] = note
            result["ok"] = result["ok"] and py_rc == 0
    if args.filter or args.no_smoke:
        result["smoke"] = "skipped"
    else:
        passed, failed, status, entries, records = smoke(variant, run_dir, deadline)
        collected["scenarios"] += entries
        collected["canaries"] += records
        result["smoke"] = status
        result["passed"] += passed
        result["failed"] += failed
        result["ok"] = result["ok"] and failed == 0
        if variant == "release":
            passed, failed, records = fault_scenarios(run_dir, deadline)
            collected.setdefault("faults", []).extend(records)
            result["smoke"] += ", faults " + ("ok" if not failed else "FAILED")
            result["passed"] += passed
            result["failed"] += failed
            result["ok"] = result["ok"] and failed == 0
    result["seconds"] = time.monotonic() - start
    return result


def print_summary(results):
    head = ("variant", "labels", "configure", "build", "tests", "pytest", "smoke", "passed", "failed",
            "skipped", "time", "note")
    rows = [(r["variant"], r["labels"], r["configure"], r["build"], r["tests"], r["pytest"], r["smoke"],
             str(r["passed"]), str(r["failed"]), str(r["skipped"]),
             f"{r['seconds']:.0f}s", r["note"]) for r in results]
    widths = [max(len(row[i]) for row in (head, *rows)) for i in range(len(head))]
    print("\n==== summary ====")
    for row in (head, *rows):
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip())


def save(run_dir, collected, results):
    """The smoke scenarios, checkers and canaries of this test run, as a results.json beside the logs."""
    from .jobs import summarise_checkers
    entries = [e for e in collected["scenarios"] if "params" in e]
    variants = [r["variant"] for r in results]
    env = dict(store.environment(), test_summary=results)
    doc = store.document(env, entries, summarise_checkers(entries, variants), collected["canaries"],
                         {"status": "not_run", "files": [], "benchmarks": [], "notes": ["not part of test"]},
                         partial=procs.stopping(), extra={"faults": collected.get("faults", [])})
    store.write_json(Path(run_dir) / "results.json", doc)


def cmd_test(args):
    variants = [v.strip() for v in args.variants.split(",") if v.strip()]
    unknown = [v for v in variants if v not in VARIANTS]
    if unknown or not variants:
        print(f"unknown variant(s): {', '.join(unknown) or '(none given)'}; "
              f"choose from {', '.join(VARIANTS)}")
        return 2
    procs.install_signal_handlers()
    deadline = time.monotonic() + args.budget_minutes * 60
    commit = store.git("rev-parse", "--short", "HEAD") or "nocommit"
    run_dir = store.new_run_dir(store.RUNS / f"{store.utc_now().strftime('%Y%m%dT%H%M%SZ')}-{commit}-test")
    print(f"logs and smoke results: {run_dir}", flush=True)
    results, collected = [], {"scenarios": [], "canaries": []}
    for variant in variants:
        if procs.stopping():
            results.append(new_result(variant, "not run: interrupted"))
        elif results and not results[-1]["ok"] and not args.keep_going:
            results.append(new_result(variant, "not run: an earlier variant failed"))
        else:
            try:
                results.append(test_variant(variant, args, deadline, run_dir, collected))
            except procs.Interrupted:
                results.append(new_result(variant, "interrupted"))
    save(run_dir, collected, results)
    print_summary(results)
    ok = all(r["ok"] for r in results)
    if not ok:
        print("FAILED: a build or test step failed, or a variant did not run (table above).")
    print(f"{sum(r['passed'] for r in results)} passed, {sum(r['failed'] for r in results)} failed",
          flush=True)
    return 0 if ok else 1
