#!/usr/bin/env python3
"""ringside's single entry point: `test` builds every variant and runs its tests."""

import argparse
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent

# Which test labels run under which build variant (README.md shows this table).
# A test runs in a variant when one of its labels is listed for that variant and
# none of its other labels is a known label missing from that variant's row.
LABELS = ("quick", "stress", "process")
VARIANTS = {
    "release": ("quick", "stress", "process"),
    "asan": ("quick", "process"),
    "tsan": ("quick",),
    "valgrind": ("quick",),  # run under valgrind memcheck (ctest -T memcheck)
}
MEMCHECK_VARIANTS = {"valgrind"}

# Debian packages the test command needs.
PACKAGES = (
    "cmake", "make", "g++", "clang", "libclang-rt-14-dev",  # clang's TSan runtime
    "binutils", "valgrind", "libgtest-dev", "libbenchmark-dev", "libboost-dev",
    "nlohmann-json3-dev", "libcli11-dev", "libcap2-bin", "util-linux",
    "python3-pytest",  # tests/python, run with /usr/bin/python3 (the interpreter apt's pytest is for)
)
# The Python host's pytest suite (tests/python) runs after these variants' ctest,
# against build/<variant>/src/libringside.so; under asan with the ASan runtime
# preloaded into the interpreter (leaks off: Python's own allocations are not
# ours; the suite checks rs_debug_allocation_count instead).
PYTEST_VARIANTS = ("release", "asan")
PYTEST_PYTHON = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else sys.executable
BUDGET_MINUTES = 20  # whole test command, on 2 cores
TEST_TIMEOUT_SECONDS = 300  # for any test without its own TIMEOUT


def create_parser():
    parser = argparse.ArgumentParser(
        prog="run_all.py",
        description="ringside: build, test and (later) measure. Without a command: run.")
    sub = parser.add_subparsers(dest="command")
    sub.add_parser("run", help="run the benchmark scenarios (not built yet)")
    sub.add_parser("nightly", help="the nightly job (not built yet)")
    test = sub.add_parser("test", help="build each variant and run its tests")
    test.add_argument("--variants", default=",".join(VARIANTS),
                      help="comma-separated subset of: %(default)s")
    test.add_argument("--jobs", type=int, default=2, help="parallel build and test jobs")
    test.add_argument("-k", "--filter", metavar="REGEX", help="only tests matching (ctest -R)")
    test.add_argument("--keep-going", action="store_true",
                      help="go on with the next variant after a failure")
    test.add_argument("--budget-minutes", type=float, default=BUDGET_MINUTES,
                      help="stop everything after this long (default %(default)s)")
    return parser


def not_built(name):
    print(f"run_all.py {name}: not built yet; it arrives with its own issue.")
    print("What works today: ./run_all.py test")
    return 2


# ---- packages -------------------------------------------------------------

def missing_packages():
    if not shutil.which("dpkg-query"):
        print("warning: no dpkg-query; cannot check packages, going on", flush=True)
        return []
    out = subprocess.run(["dpkg-query", "-W", "-f=${Package} ${db:Status-Abbrev}\n", *PACKAGES],
                         capture_output=True, text=True).stdout
    installed = {line.split()[0] for line in out.splitlines()
                 if len(line.split()) >= 2 and line.split()[1].startswith("ii")}
    return [p for p in PACKAGES if p not in installed]


def ensure_packages():
    missing = missing_packages()
    if not missing:
        return True
    install = ["apt-get", "install", "-y", *missing]
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        print(f"Missing packages: {' '.join(missing)}. Install them with:")
        print(f"  sudo apt-get update && sudo DEBIAN_FRONTEND=noninteractive {shlex.join(install)}")
        return False
    print(f"Missing packages; installing: {' '.join(missing)}", flush=True)
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    for cmd in (["apt-get", "update"], install):
        echo(cmd, "DEBIAN_FRONTEND=noninteractive " if cmd is install else "")
        if subprocess.run(cmd, env=env).returncode != 0:
            print("package installation failed")
            return False
    return True


# ---- running commands -----------------------------------------------------

def echo(cmd, prefix=""):
    print(f"+ {prefix}{shlex.join(str(c) for c in cmd)}", flush=True)


def run(cmd, deadline, capture=False, env=None):
    """Run cmd from the repo root until deadline; returns (returncode, output).

    returncode is None when the deadline killed it (or came before it started).
    With capture, output is shown as it comes and also returned for parsing.
    env: variables to set for cmd (echoed before it).
    """
    echo(cmd, "".join(f"{k}={shlex.quote(v)} " for k, v in (env or {}).items()))
    if time.monotonic() >= deadline:
        print("  not started: the time budget is spent", flush=True)
        return None, ""
    proc = subprocess.Popen([str(c) for c in cmd], cwd=ROOT, start_new_session=True,
                            env=dict(os.environ, **env) if env else None,
                            stdout=subprocess.PIPE if capture else None,
                            stderr=subprocess.STDOUT if capture else None,
                            text=True, errors="replace")
    lines = []
    reader = None
    if capture:
        reader = threading.Thread(target=tee, args=(proc.stdout, lines), daemon=True)
        reader.start()
    try:
        rc = proc.wait(timeout=max(0.0, deadline - time.monotonic()))
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        rc = None
    if reader:
        reader.join()
    if rc is None:
        print("\n  killed: the time budget is spent", flush=True)
    return rc, "".join(lines)


def tee(stream, lines):
    for line in stream:
        sys.stdout.write(line)
        sys.stdout.flush()
        lines.append(line)


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


def show_memcheck_logs(variant):
    """ctest -T memcheck keeps valgrind's report in files: print the ones with errors."""
    for log in sorted((ROOT / "build" / variant / "Testing" / "Temporary").glob("MemoryChecker.*.log")):
        text = log.read_text(errors="replace")
        if re.search(r"ERROR SUMMARY: [1-9]", text):
            print(f"---- {log.relative_to(ROOT)} ----")
            print(text.rstrip())


# ---- pytest (the Python host) -------------------------------------------

PYTEST_COUNT = re.compile(r"(\d+) (passed|failed|errors?|skipped)\b")


def pytest_command(variant):
    """(command, environment changes) for tests/python against this variant's shared library."""
    env = {"RINGSIDE_LIBRARY": str(ROOT / "build" / variant / "src" / "libringside.so")}
    if variant == "asan":
        runtime = subprocess.run(["gcc", "-print-file-name=libasan.so"], capture_output=True,
                                 text=True).stdout.strip()
        env["LD_PRELOAD"] = runtime
        # Appended: a later option wins, so leak detection stays off whatever the caller set.
        env["ASAN_OPTIONS"] = ":".join(filter(None, (os.environ.get("ASAN_OPTIONS"), "detect_leaks=0")))
        env["UBSAN_OPTIONS"] = ":".join(filter(None, (os.environ.get("UBSAN_OPTIONS"),
                                                      "print_stacktrace=1:halt_on_error=1")))
    cmd = [PYTEST_PYTHON, "-m", "pytest", "tests/python", "-q", "-rfE", "-p", "no:cacheprovider"]
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


def clear_memcheck_logs(variant):
    for log in (ROOT / "build" / variant / "Testing" / "Temporary").glob("MemoryChecker.*.log"):
        log.unlink()


# ---- the test command -----------------------------------------------------

def new_result(variant, note=""):
    return {"variant": variant, "labels": ",".join(VARIANTS[variant]), "configure": "-",
            "build": "-", "tests": "-", "pytest": "-", "passed": 0, "failed": 0, "skipped": 0,
            "seconds": 0.0, "ok": False, "note": note}


def step_status(rc):
    return "ok" if rc == 0 else ("killed" if rc is None else "FAILED")


def test_variant(variant, args, deadline):
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
    rc, output = run(ctest_command(variant, args), deadline, capture=True)
    result["tests"] = step_status(rc)
    result["passed"], result["failed"], result["skipped"] = count_results(output)
    if memcheck and rc != 0:
        show_memcheck_logs(variant)
    result["ok"] = rc == 0 and result["failed"] == 0
    if variant in PYTEST_VARIANTS:
        if args.filter:
            result["pytest"] = "skipped (-k)"
        else:
            cmd, env = pytest_command(variant)
            py_rc, py_output = run(cmd, deadline, capture=True, env=env)
            passed, failed, skipped, note = count_pytest(py_rc, py_output)
            result["pytest"] = step_status(py_rc)
            result["passed"] += passed
            result["failed"] += failed
            result["skipped"] += skipped
            result["note"] = note
            result["ok"] = result["ok"] and py_rc == 0
    result["seconds"] = time.monotonic() - start
    return result


def print_summary(results):
    head = ("variant", "labels", "configure", "build", "tests", "pytest", "passed", "failed",
            "skipped", "time", "note")
    rows = [(r["variant"], r["labels"], r["configure"], r["build"], r["tests"], r["pytest"],
             str(r["passed"]), str(r["failed"]), str(r["skipped"]),
             f"{r['seconds']:.0f}s", r["note"]) for r in results]
    widths = [max(len(row[i]) for row in (head, *rows)) for i in range(len(head))]
    print("\n==== summary ====")
    for row in (head, *rows):
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip())


def cmd_test(args):
    variants = [v.strip() for v in args.variants.split(",") if v.strip()]
    unknown = [v for v in variants if v not in VARIANTS]
    if unknown or not variants:
        print(f"unknown variant(s): {', '.join(unknown) or '(none given)'}; "
              f"choose from {', '.join(VARIANTS)}")
        return 2
    if not ensure_packages():
        return 2
    deadline = time.monotonic() + args.budget_minutes * 60
    results = []
    for variant in variants:
        if results and not results[-1]["ok"] and not args.keep_going:
            results.append(new_result(variant, "not run: an earlier variant failed"))
        else:
            results.append(test_variant(variant, args, deadline))
    print_summary(results)
    ok = all(r["ok"] for r in results)
    if not ok:
        print("FAILED: a build or test step failed, or a variant did not run (table above).")
    print(f"{sum(r['passed'] for r in results)} passed, {sum(r['failed'] for r in results)} failed",
          flush=True)
    return 0 if ok else 1


def main(argv=None):
    args = create_parser().parse_args(argv)
    if args.command in (None, "run", "nightly"):
        return not_built(args.command or "run")
    return cmd_test(args)


if __name__ == "__main__":
    sys.exit(main())
