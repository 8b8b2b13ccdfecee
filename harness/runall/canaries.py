"""Canaries: deliberately faulty programs that prove each checker can fail (harness/canaries/).

Each canary runs twice: natively from the release build, where it must exit
0, and under its checker, where the parser must find the expected kind of
finding. A checker that stays silent on its canary marks the run broken.
"""

import time
from dataclasses import dataclass
from pathlib import Path

from . import checkers, procs


@dataclass(frozen=True)
class Canary:
    name: str        # harness/canaries/<name>.cpp, target canary_<name>
    fault: str
    variant: str     # the build whose checker must catch it
    tool: str        # the tool expected in the finding
    kinds: tuple     # any of these kinds counts as caught


CANARIES = (
    Canary("race", "data race", "tsan", "tsan", ("data-race",)),
    Canary("heap_overflow", "heap buffer overflow", "asan", "asan", ("heap-buffer-overflow",)),
    Canary("use_after_free", "heap use after free", "asan", "asan", ("heap-use-after-free",)),
    Canary("leak", "memory leak", "asan", "lsan", ("leak",)),
    Canary("leak", "memory leak", "valgrind", "memcheck", ("leak-definite",)),
    Canary("signed_overflow", "signed integer overflow", "asan", "ubsan", ("signed-integer-overflow",)),
    Canary("misaligned", "misaligned access", "asan", "ubsan", ("misaligned-access",)),
    Canary("uninit", "uninitialised read", "valgrind", "memcheck",
           ("uninitialised-condition", "uninitialised-value")),
)


def binary(variant, name):
    return checkers.build_dir(variant) / "harness" / "canaries" / f"canary_{name}"


def for_variant(variant):
    return [c for c in CANARIES if c.variant == variant]


def run_native(log_dir, budget=None):
    """Every canary from the release build, no checker: each must exit 0. Returns records.

    budget: a monotonic deadline after which the rest are recorded as not run (not ok).
    """
    out = []
    for name in sorted({c.name for c in CANARIES}):
        exe = binary("release", name)
        record = {"name": name, "checker": None, "variant": "release", "fault": _fault(name), "expected": "exit 0",
                  "log": None, "found": []}
        if _spent(budget):
            out.append({**record, "caught": None, "ok": False, "note": "not run: the time budget is spent"})
            continue
        if not exe.exists():
            out.append({**record, "caught": None, "ok": False, "note": f"{exe} is not built"})
            continue
        log = Path(log_dir) / f"native_{name}.log"
        rc, _, ended = procs.run([exe], log=log, deadline=_deadline(30))
        ok = rc == 0
        out.append({**record, "caught": None, "ok": ok, "exit_code": rc, "log": str(log),
                    "note": "" if ok else f"exited {rc if ended == 'exited' else ended} without a checker"})
    return out


def run_checked(variant, log_dir, budget=None):
    """The canaries of one instrumented variant under its checker; each must be caught."""
    out = []
    for canary in for_variant(variant):
        exe = binary(variant, canary.name)
        record = {"name": canary.name, "checker": canary.tool, "variant": variant, "fault": canary.fault,
                  "expected": "/".join(canary.kinds)}
        if _spent(budget):
            out.append({**record, "caught": False, "ok": False, "found": [],
                        "note": "not run: the time budget is spent"})
            continue
        if not exe.exists():
            out.append({**record, "caught": False, "ok": False, "note": f"{exe} is not built", "found": []})
            continue
        stem = f"{canary.name}.{canary.tool}"
        log = Path(log_dir) / f"{stem}.log"
        cmd = checkers.wrapper(variant, log_dir, stem) + [str(exe)]
        rc, text, _ = procs.run(cmd, env=checkers.environment(variant), log=log, deadline=_deadline(120))
        found = checkers.collect(variant, text, log_dir, stem, f"canary:{canary.name}", log)
        caught = any(f["tool"] == canary.tool and f["kind"] in canary.kinds for f in found)
        out.append({**record, "caught": caught, "ok": caught and rc not in (0, None), "exit_code": rc,
                    "found": sorted({f"{f['tool']}:{f['kind']}" for f in found}), "log": str(log),
                    "note": "" if caught else "BROKEN: the checker did not report the expected finding"})
    return out


def _fault(name):
    return next(c.fault for c in CANARIES if c.name == name)


def _deadline(seconds):
    return time.monotonic() + seconds


def _spent(budget):
    return budget is not None and time.monotonic() >= budget
