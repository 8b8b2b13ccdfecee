"""How each build variant runs a program: sanitizer options, the Valgrind command line, scaled-down params.

Timing comes only from release. asan (ASan + UBSan + LeakSanitizer), tsan and
valgrind (memcheck) run validation only, with options that make every finding
fail the run; their scenarios are shortened (CAPS) and never make timing claims.
"""

import os
import shutil
from pathlib import Path

from . import findings

ROOT = Path(__file__).resolve().parents[2]
SUPPRESSIONS = ROOT / "harness" / "runall" / "suppressions"
CHECKED = ("asan", "tsan", "valgrind")
TOOL = {"release": None, "asan": "asan", "tsan": "tsan", "valgrind": "memcheck"}
# Most messages an instrumented run sends (after warm-up): enough to cross
# every wrap of the ring, few enough for a 2-core machine.
CAPS = {"asan": 20_000, "tsan": 5_000, "valgrind": 1_000}
WARMUP_CAP = 100
TIMEOUT_FACTOR = {"release": 1, "asan": 3, "tsan": 6, "valgrind": 40}
SPINNING = ("busy_spin", "spin_pause")

VALGRIND = ("valgrind", "--tool=memcheck", "--leak-check=full", "--show-leak-kinds=definite,possible",
            "--errors-for-leak-kinds=definite,possible", "--error-exitcode=99", "--fair-sched=yes",
            "--trace-children=yes", "--child-silent-after-fork=no", "--num-callers=30")
VALGRIND_EXIT = 99


def environment(variant):
    """Environment for a program of this variant: findings are fatal and printed to stderr."""
    env = {}
    if variant == "asan":
        env["ASAN_OPTIONS"] = "detect_leaks=1:halt_on_error=1:abort_on_error=0:detect_stack_use_after_return=1"
        env["UBSAN_OPTIONS"] = "print_stacktrace=1:halt_on_error=1"
        env["LSAN_OPTIONS"] = _suppress("lsan")
    elif variant == "tsan":
        env["TSAN_OPTIONS"] = "halt_on_error=1:second_deadlock_stack=1:exitcode=66" + _suppress("tsan", ":")
    return {k: v for k, v in env.items() if v}


def _suppress(tool, sep=""):
    path = SUPPRESSIONS / f"{tool}.supp"
    return f"{sep}suppressions={path}" if path.exists() and path.read_text().strip() else ""


def wrapper(variant, log_dir, stem):
    """Command prefix (Valgrind) for this variant; its logs go to log_dir/<stem>.memcheck.<pid>.log."""
    if variant != "valgrind":
        return []
    supp = SUPPRESSIONS / "memcheck.supp"
    extra = [f"--suppressions={supp}"] if supp.exists() and supp.read_text().strip() else []
    return [*VALGRIND, *extra, f"--log-file={log_dir}/{stem}.memcheck.%p.log"]


def available(variant):
    return variant != "valgrind" or shutil.which("valgrind") is not None


def scale(params, variant):
    """The parameters an instrumented variant really runs: shorter, and no unbounded spinning under Valgrind."""
    if variant not in CAPS:
        return dict(params)
    p = dict(params)
    cap = CAPS[variant]
    if p["duration_s"]:
        p["duration_s"], p["count"] = 0, cap
    p["count"] = min(p["count"] or cap, cap)
    p["warmup"] = min(p["warmup"], WARMUP_CAP)
    p["timeout_s"] = p["timeout_s"] * TIMEOUT_FACTOR[variant]
    p["patience_s"] = min(p["patience_s"] * TIMEOUT_FACTOR[variant], p["timeout_s"] / 2)
    if p["load.mode"] == "open":  # every message still checked; the rate cannot hold there
        p["load.rate_per_s"] = min(p["load.rate_per_s"], 2_000)
    if variant == "valgrind":
        # Valgrind runs one thread at a time: a spinner burns its whole slice.
        for side in ("host", "sidecar"):
            if p[f"{side}.wait.kind"] in SPINNING:
                p[f"{side}.wait.kind"] = "yield"
    return p


def collect(variant, log_text, log_dir, stem, scenario=None, log_path=None):
    """Findings of one program run: its stderr (sanitizers) or its memcheck logs."""
    tool = TOOL.get(variant)
    if tool is None:
        # A release run has no checker, but a sanitizer report would still be a finding.
        return findings.parse("sanitizer", log_text, scenario, log_path)
    if tool == "memcheck":
        out = []
        for path in sorted(Path(log_dir).glob(f"{stem}.memcheck.*.log")):
            out += findings.parse("memcheck", path.read_text(errors="replace"), scenario, path)
        return out
    return findings.parse(tool, log_text, scenario, log_path)


def build_dir(variant):
    return ROOT / "build" / variant


def lib_path_env(variant):
    return {"LD_LIBRARY_PATH": os.pathsep.join(filter(None, (str(build_dir(variant) / "src"),
                                                              os.environ.get("LD_LIBRARY_PATH"))))}
