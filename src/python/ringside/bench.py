"""Micro measurement: command -> sidecar -> event -> host round trip, Python host vs the C++ host.

    /usr/bin/python3 src/python/ringside/bench.py            # or: PYTHONPATH=src/python python3 -m ringside.bench
    ... --sizes 8,64,512,4096 --waits busy_spin,futex --count 2000 --repetitions 3 --json out.json

Rows: python/vtable (on_event on the sidecar thread, thread state kept),
python/vtable-nopin (a new Python thread state per callback, ctypes' default),
python/ring (on_event on the host thread in dispatch), and cpp/vtable,
cpp/ring (examples' SidecarHost path, built from _bench_host.cpp with c++).
Each cell: the median over repetitions of the p50 (with the lowest and highest
p50, so the spread is visible) and of the p99 round trip, in us.
One round trip is in flight at a time; see driver.py for what is timed.
"""

import argparse
import itertools
import json
import math
import os
import platform
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

if __package__ in (None, ""):  # run as a script: import the package beside this file
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    __package__ = "ringside"

from ringside import _lib  # noqa: E402
from ringside.driver import python_host_round_trip  # noqa: E402

SCHEMA_VERSION = 1
HERE = Path(__file__).resolve().parent


def create_parser():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="8,64,512,4096", help="payload bytes, comma-separated")
    parser.add_argument("--waits", default="busy_spin,futex", help="sidecar wait kinds, comma-separated")
    parser.add_argument("--hosts", default="python/vtable,python/vtable-nopin,python/ring,cpp/vtable,cpp/ring",
                        help="rows, comma-separated")
    parser.add_argument("--count", type=int, default=2000, help="timed round trips per run")
    parser.add_argument("--warmup", type=int, default=200, help="untimed round trips first")
    parser.add_argument("--repetitions", type=int, default=3, help="runs per cell (median reported)")
    parser.add_argument("--json", metavar="FILE", help="also write every run's numbers here")
    return parser


def echo(cmd):
    print(f"+ {shlex.join(str(c) for c in cmd)}", flush=True)


def build_cpp_host(workdir):
    """Compiles _bench_host.cpp against the loaded library; None (with the reason printed) if it cannot."""
    library = Path(_lib.library_path()).resolve()
    include = _lib.REPO_ROOT / "src" / "include"
    compiler = shutil.which("c++") or shutil.which("g++")
    if compiler is None or not (include / "ringside" / "ringside.hpp").exists():
        print("cpp rows skipped: no C++ compiler or no src/include beside this package")
        return None
    out = Path(workdir) / "bench_host"
    cmd = [compiler, "-std=c++20", "-O2", "-I", include, HERE / "_bench_host.cpp", "-o", out,
           library, f"-Wl,-rpath,{library.parent}", "-pthread"]
    echo(cmd)
    env = {k: v for k, v in os.environ.items() if k != "LD_PRELOAD"}
    if subprocess.run([str(c) for c in cmd], env=env).returncode != 0:
        print("cpp rows skipped: _bench_host.cpp did not build")
        return None
    return out


def run_cpp(binary, delivery, wait, size, count, warmup):
    cmd = [binary, delivery, wait, size, count, warmup]
    proc = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, timeout=300)
    if proc.returncode != 0:
        raise RuntimeError(f"{shlex.join(str(c) for c in cmd)}: {proc.stderr.strip()}")
    return json.loads(proc.stdout)


def measure(host, wait, size, args, cpp_binary):
    language, delivery = host.split("/")
    if language == "cpp":
        return run_cpp(cpp_binary, delivery, wait, size, args.count, args.warmup)
    pin = delivery != "vtable-nopin"
    return python_host_round_trip(payload_size=size, count=args.count, warmup=args.warmup, wait=wait,
                                  delivery="ring" if delivery == "ring" else "vtable", pin_thread_state=pin)


def machine():
    model = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"cpu": model, "cpus": os.cpu_count(), "load_average": os.getloadavg(),
            "python": f"{platform.python_implementation()} {platform.python_version()}",
            "kernel": platform.release(), "library": _lib.library_path()}


def print_table(cells, hosts, waits, sizes):
    print("\nround trip, us: p50 [lowest-highest p50 of the repetitions] / p99 (medians of the repetitions)")
    head = ["host", "wait"] + [f"{size} B" for size in sizes]
    rows = [head]
    for host in hosts:
        for wait in waits:
            row = [host, wait]
            for size in sizes:
                runs = cells.get((host, wait, size))
                if not runs:
                    row.append("-")
                    continue
                p50s = [r["round_trip_ns"]["p50"] / 1000 for r in runs]
                p99 = statistics.median(r["round_trip_ns"]["p99"] for r in runs) / 1000
                row.append(f"{statistics.median(p50s):.1f} [{min(p50s):.1f}-{max(p50s):.1f}] / {p99:.1f}")
            rows.append(row)
    widths = [max(len(r[i]) for r in rows) for i in range(len(head))]
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip())


def mann_whitney_p(a, b):
    """Two-sided p-value of the Mann-Whitney U test (exact by enumeration for small samples).

    Ties count half. Exact for len(a) + len(b) <= 14, normal approximation above.
    """
    def u_of(x, y):
        return sum(1.0 if xi < yi else 0.5 if xi == yi else 0.0 for xi in x for yi in y)
    n, m = len(a), len(b)
    observed = u_of(a, b)
    center = n * m / 2
    if n + m <= 14:
        pooled = list(a) + list(b)
        extreme = total = 0
        for chosen in itertools.combinations(range(n + m), n):
            rest = [pooled[i] for i in range(n + m) if i not in chosen]
            total += 1
            if abs(u_of([pooled[i] for i in chosen], rest) - center) >= abs(observed - center) - 1e-9:
                extreme += 1
        return extreme / total
    sigma = math.sqrt(n * m * (n + m + 1) / 12)
    z = (abs(observed - center) - 0.5) / sigma
    return math.erfc(z / math.sqrt(2))


COMPARISONS = (("python/vtable", "python/vtable-nopin"), ("python/vtable", "python/ring"),
               ("cpp/vtable", "python/vtable"), ("cpp/ring", "python/ring"))


def print_comparisons(cells, hosts, waits, sizes):
    """Each pair of rows per wait and size: medians of the repetitions' p50 and the U test's p."""
    print("\ncomparisons: median p50 (us) A vs B, Mann-Whitney U on the repetitions' p50s, two-sided p")
    for a, b in COMPARISONS + tuple(((h, "busy_spin"), (h, "futex")) for h in hosts):
        for wait in waits:
            for size in sizes:
                (host_a, wait_a), (host_b, wait_b) = ((a, wait), (b, wait)) if isinstance(a, str) else (a, b)
                runs_a, runs_b = cells.get((host_a, wait_a, size)), cells.get((host_b, wait_b, size))
                if not runs_a or not runs_b or len(runs_a) < 3:
                    continue
                pa = [r["round_trip_ns"]["p50"] / 1000 for r in runs_a]
                pb = [r["round_trip_ns"]["p50"] / 1000 for r in runs_b]
                print(f"  {host_a} {wait_a} vs {host_b} {wait_b}, {size} B: {statistics.median(pa):.1f} vs "
                      f"{statistics.median(pb):.1f}, p = {mann_whitney_p(pa, pb):.3f}")
            if not isinstance(a, str):
                break  # the busy_spin/futex pairs name their waits already


def main(argv=None):
    args = create_parser().parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")]
    waits = args.waits.split(",")
    hosts = args.hosts.split(",")
    info = machine()
    print(f"machine: {info['cpu']}, {info['cpus']} CPUs, load {info['load_average']}, {info['python']}, "
          f"{info['library']}")
    cells = {}
    with tempfile.TemporaryDirectory() as workdir:
        cpp_binary = build_cpp_host(workdir) if any(h.startswith("cpp/") for h in hosts) else None
        if cpp_binary is None:
            hosts = [h for h in hosts if not h.startswith("cpp/")]
        for repetition in range(args.repetitions):
            for host in hosts:
                for wait in waits:
                    for size in sizes:
                        result = measure(host, wait, size, args, cpp_binary)
                        cells.setdefault((host, wait, size), []).append(result)
                        print(f"  rep {repetition + 1}: {host:20} {wait:9} {size:5} B  "
                              f"p50 {result['round_trip_ns']['p50'] / 1000:7.1f} us", flush=True)
    print_table(cells, hosts, waits, sizes)
    print_comparisons(cells, hosts, waits, sizes)
    if args.json:
        runs = [dict(r, row=host) for (host, _w, _s), rs in cells.items() for r in rs]
        Path(args.json).write_text(json.dumps({"schema_version": SCHEMA_VERSION, "machine": info, "runs": runs},
                                              indent=1))
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
