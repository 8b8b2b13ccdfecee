"""Configures and builds a CMake preset (build/<preset>), echoing each command."""

import time

from . import procs
from .checkers import ROOT

JOBS = 2


def build(variant, jobs=JOBS, deadline=None, targets=()):
    """(ok, {"configure": status, "build": status, "seconds": s}) for one preset."""
    start = time.monotonic()
    result = {"variant": variant, "configure": "-", "build": "-"}
    steps = [("configure", ["cmake", "--preset", variant]),
             ("build", ["cmake", "--build", "--preset", variant, "-j", str(jobs),
                        *(["--target", *targets] if targets else [])])]
    ok = True
    for name, cmd in steps:
        rc, _, ended = procs.run(cmd, cwd=ROOT, deadline=deadline)
        result[name] = "ok" if rc == 0 else ("killed" if ended != "exited" else "FAILED")
        if rc != 0:
            ok = False
            break
    result["seconds"] = round(time.monotonic() - start, 1)
    return ok, result
