"""Google Benchmark programs of the release build: run them, keep their JSON, summarise it."""

import json
import re
import time
from pathlib import Path

from . import checkers, procs

# The Google Benchmark programs are the executables harness/CMakeLists.txt
# declares as ringside_micro or ringside_*_bench (build/release/harness/<name>).
DECLARED_IN = checkers.ROOT / "harness" / "CMakeLists.txt"
NAME = re.compile(r"add_executable\(\s*(ringside_micro|ringside_\w+_bench)\b")
MIN_TIME = "0.05"  # seconds per benchmark row: the whole set stays well under a minute here


def declared():
    """Names of the benchmark targets, in the order harness/CMakeLists.txt declares them."""
    try:
        return list(dict.fromkeys(NAME.findall(DECLARED_IN.read_text())))
    except OSError:
        return []


def programs():
    found = []
    for name in declared():
        path = checkers.build_dir("release") / "harness" / name
        if path.is_file():
            found.append(path)
    return found


def run(run_dir, quick=True):
    """Runs each program with --benchmark_out into run_dir/microbench/; returns the microbench section."""
    folder = Path(run_dir) / "microbench"
    folder.mkdir(parents=True, exist_ok=True)
    section = {"status": "pass", "files": [], "benchmarks": [], "notes": []}
    exes = programs()
    if not exes:
        section.update(status="not_run", notes=["no Google Benchmark program is built in build/release/harness"])
        return section
    for exe in exes:
        out = folder / f"{exe.name}.json"
        cmd = [exe, f"--benchmark_out={out}", "--benchmark_out_format=json"]
        if quick:
            cmd.append(f"--benchmark_min_time={MIN_TIME}")
        rc, _, ended = procs.run(cmd, log=folder / f"{exe.name}.log", deadline=time.monotonic() + 300)
        if rc != 0:
            section["status"] = "fail" if ended == "exited" else "not_run"
            section["notes"].append(f"{exe.name}: {'exit ' + str(rc) if ended == 'exited' else ended}")
        if out.exists():
            section["files"].append(str(out.relative_to(run_dir)))
            section["benchmarks"] += summarise(out, exe.name)
    return section


def summarise(path, program):
    """One row per benchmark (aggregates included) with times in ns."""
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return []
    scale = {"ns": 1, "us": 1e3, "ms": 1e6, "s": 1e9}
    rows = []
    for b in data.get("benchmarks", []):
        unit = scale.get(b.get("time_unit", "ns"), 1)
        row = {"program": program, "name": b.get("name"), "aggregate": b.get("aggregate_name"),
               "iterations": b.get("iterations"),
               "real_time_ns": b["real_time"] * unit if "real_time" in b else None,
               "cpu_time_ns": b["cpu_time"] * unit if "cpu_time" in b else None}
        for key in ("items_per_second", "bytes_per_second", "error_message"):
            if key in b:
                row[key] = b[key]
        rows.append(row)
    return rows
