"""Start-up on a fresh machine: Debian packages, and an interpreter that can import what a command needs.

As root with apt-get, missing packages are installed (after saying which);
otherwise the exact command is printed and run_all.py exits 2. The `python3`
on PATH may be a pyenv build that cannot see Debian's python3-* packages: then
run_all.py re-executes itself under /usr/bin/python3 (and says so).
"""

import importlib.util
import os
import shlex
import shutil
import subprocess
import sys

from . import procs

SYSTEM_PYTHON = "/usr/bin/python3"
REEXEC_MARK = "RINGSIDE_RUN_ALL_REEXEC"

# The C++ toolchain and libraries of every build variant, the runner and the harness.
BUILD = ("cmake", "make", "g++", "clang", "libclang-rt-14-dev",  # clang's TSan runtime
         "binutils", "valgrind", "libgtest-dev", "libbenchmark-dev", "libboost-dev",
         "nlohmann-json3-dev", "libcli11-dev", "libcap2-bin", "util-linux",
         "libreaderwriterqueue-dev",                       # the moodycamel peer
         "default-jre-headless", "libhdrhistogram-java",   # the runner's .hlog check
         "zlib1g-dev", "ccache")                            # .hlog compression; cached rebuilds of 4 variants
PYTEST = ("python3-pytest", "python3-yaml")  # tests/python, run with /usr/bin/python3 (yaml: ci/nightly.yml)
REPORT = ("python3-matplotlib", "python3-numpy", "python3-scipy", "python3-jinja2")
# Python modules a command imports in this interpreter, and the Debian package of each.
MODULES = {"matplotlib": "python3-matplotlib", "numpy": "python3-numpy", "scipy": "python3-scipy",
           "jinja2": "python3-jinja2"}

NEEDS = {  # command -> (Debian packages, modules this interpreter must import)
    "run": (BUILD + REPORT, tuple(MODULES)),
    "nightly": (BUILD + PYTEST + REPORT, tuple(MODULES)),
    # the report tests (tests/python/test_reports_*) render pages and open them in headless Chromium
    "test": (BUILD + PYTEST + REPORT + ("chromium",), ()),
    "report": (REPORT, tuple(MODULES)),
    "compare": (REPORT, tuple(MODULES)),
    "merge": (REPORT, tuple(MODULES)),
    "verdict": (REPORT, tuple(MODULES)),
    "history": (REPORT, tuple(MODULES)),
}


def missing_packages(packages):
    if not shutil.which("dpkg-query"):
        print("warning: no dpkg-query; cannot check packages, going on", flush=True)
        return []
    out = subprocess.run(["dpkg-query", "-W", "-f=${Package} ${db:Status-Abbrev}\n", *packages],
                         capture_output=True, text=True).stdout
    installed = {line.split()[0] for line in out.splitlines()
                 if len(line.split()) >= 2 and line.split()[1].startswith("ii")}
    return [p for p in packages if p not in installed]


def ensure_packages(packages):
    """True when every package is there (installing them as root); False after printing the command."""
    missing = missing_packages(packages)
    if not missing:
        return True
    install = ["apt-get", "install", "-y", "--no-install-recommends", *missing]
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        print(f"Missing Debian packages: {' '.join(missing)}. Install them with:")
        print(f"  sudo apt-get update && sudo DEBIAN_FRONTEND=noninteractive {shlex.join(install)}")
        return False
    print(f"Missing Debian packages; installing: {' '.join(missing)}", flush=True)
    env = {"DEBIAN_FRONTEND": "noninteractive"}
    for cmd in (["apt-get", "update"], install):
        rc, _, _ = procs.run(cmd, env=env)
        if rc != 0:
            print(f"package installation failed: {shlex.join(cmd)} exited {rc}")
            return False
    return True


def missing_modules(modules):
    return [m for m in modules if importlib.util.find_spec(m) is None]


def reexec_if_needed(modules, argv):
    """Re-executes under /usr/bin/python3 when this interpreter lacks modules it has; returns a problem or None."""
    missing = missing_modules(modules)
    if not missing:
        return None
    here = os.path.realpath(sys.executable)
    if os.environ.get(REEXEC_MARK) or not os.path.exists(SYSTEM_PYTHON) or here == os.path.realpath(SYSTEM_PYTHON):
        packages = sorted({MODULES[m] for m in missing})
        return (f"{sys.executable} cannot import {', '.join(missing)}; install them with:\n"
                f"  sudo apt-get install -y {' '.join(packages)}")
    probe = subprocess.run([SYSTEM_PYTHON, "-c", "import " + ", ".join(modules)], capture_output=True)
    if probe.returncode != 0:
        return (f"neither {sys.executable} nor {SYSTEM_PYTHON} can import {', '.join(missing)}; install them with:\n"
                f"  sudo apt-get install -y {' '.join(sorted({MODULES[m] for m in missing}))}")
    print(f"{sys.executable} cannot import {', '.join(missing)} (Debian's python3-* packages are for "
          f"{SYSTEM_PYTHON}): re-executing under {SYSTEM_PYTHON}", flush=True)
    os.environ[REEXEC_MARK] = "1"
    os.execv(SYSTEM_PYTHON, [SYSTEM_PYTHON, *argv])
    return None  # not reached


def prepare(command, argv):
    """Packages and interpreter for `command`; returns an exit code to stop with, or None to go on."""
    packages, modules = NEEDS.get(command, ((), ()))
    if packages and not ensure_packages(packages):
        return 2
    if modules and (problem := reexec_if_needed(modules, argv)):
        print(problem)
        return 2
    return None
