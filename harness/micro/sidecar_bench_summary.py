#!/usr/bin/env python3
"""Summarises a ringside_sidecar_bench JSON file: rows, ratios, targets."""

import argparse
import json
import statistics
import sys
from collections import defaultdict

# (row, floor, target ratio): issue 3's performance targets.
RATIOS = (
    ("RoundTrip/sidecar_spin", "RoundTrip/cacheline_floor", 1.25),
    ("RoundTrip/sidecar_spin_ring", "RoundTrip/cacheline_floor", None),
    ("RoundTrip/sidecar_futex", "RoundTrip/futex_floor", 1.20),
)
DISPATCH_BUDGET_NS = 2.0


def create_parser():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("json", help="file written with --benchmark_out=FILE --benchmark_out_format=json")
    return parser


def load_rows(path):
    with open(path, encoding="utf-8") as handle:
        data = json.load(handle)
    if "benchmarks" not in data or "context" not in data:
        sys.exit(f"{path}: not a Google Benchmark JSON file (no 'benchmarks'/'context')")
    means, medians = defaultdict(list), defaultdict(list)
    for row in data["benchmarks"]:
        if row.get("run_type") != "iteration":
            continue
        name = row["run_name"].split("/iterations")[0]
        means[name].append(row["real_time"])
        if "rt_median_ns" in row:
            medians[name].append(row["rt_median_ns"])
    return means, medians


def main():
    args = create_parser().parse_args()
    means, medians = load_rows(args.json)
    for name in sorted(means):
        line = f"{name:30s} reps={len(means[name]):3d} mean/iter median={statistics.median(means[name]):10.2f} ns"
        if medians[name]:
            line += f"   per-round-trip (median batch) median={statistics.median(medians[name]):10.2f} ns"
        print(line)
    direct = statistics.median(means["Dispatch/direct"])
    vtable = statistics.median(means["Dispatch/vtable"])
    print(f"v-table dispatch - direct call: {vtable - direct:+.2f} ns (budget {DISPATCH_BUDGET_NS} ns)")
    for row, floor, target in RATIOS:
        if not medians[row] or not medians[floor]:
            continue
        ratio = statistics.median(medians[row]) / statistics.median(medians[floor])
        verdict = "" if target is None else (" within" if ratio <= target else " OVER") + f" target {target}x"
        print(f"{row} / {floor}: {ratio:.3f}x{verdict}")


if __name__ == "__main__":
    main()
