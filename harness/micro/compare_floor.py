#!/usr/bin/env python3
"""Runs ringside_micro with all rows interleaved and checks ringside against its floor and boost."""

import argparse
import bisect
import json
import os
import random
import shlex
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_BINARY = ROOT / "build" / "release" / "harness" / "ringside_micro"
KNOWN_SCHEMA_VERSIONS = {None, 1}  # benchmark 1.7 writes none; 1.8+ writes 1

ROUND_TRIP_ROWS = ("floor_two_lines", "floor_one_line", "ringside_cpp", "ringside_capi",
                   "boost_spsc", "mutex_condvar")
THROUGHPUT_ROWS = ("ringside_cpp", "ringside_cpp_batch32", "ringside_capi", "ringside_capi_parkable",
                   "boost_spsc", "boost_spsc_bulk32")
LATENCY_TARGET = 1.25     # ringside round trip / floor round trip, at most
THROUGHPUT_TARGET = 1.2   # ringside records/s / boost records/s, at least


def create_parser():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--binary", type=Path, default=DEFAULT_BINARY,
                        help="the ringside_micro executable (default: %(default)s)")
    parser.add_argument("--repetitions", type=int, default=15,
                        help="repetitions of every row, randomly interleaved (default %(default)s)")
    parser.add_argument("--filter", default=".", help="--benchmark_filter for the run (default: all)")
    parser.add_argument("--input", type=Path, help="read this JSON result instead of running")
    parser.add_argument("--save", type=Path, help="also write the raw JSON result here")
    parser.add_argument("--floor", default="floor_two_lines", choices=("floor_two_lines", "floor_one_line"),
                        help="the round-trip row the latency target is measured against")
    parser.add_argument("--bootstrap", type=int, default=4000, help="bootstrap resamples for the CIs")
    parser.add_argument("--seed", type=int, default=1, help="bootstrap seed (the run itself is not seeded)")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    parser.add_argument("--fifo", action="store_true",
                        help="run the benchmark under SCHED_FIFO priority 1 (needs root or CAP_SYS_NICE): "
                             "other work on both CPUs mostly waits for the run (seconds), so builds "
                             "next door stop preempting the spinning sides")
    return parser


def busy_cpus(seconds=1.0):
    """CPUs' worth of time spent outside idle during `seconds` (from /proc/stat), or None."""
    def sample():
        with open("/proc/stat") as stat:
            fields = [int(x) for x in stat.readline().split()[1:]]
        return sum(fields), fields[3] + fields[4]  # total, idle + iowait
    try:
        total0, idle0 = sample()
        time.sleep(seconds)
        total1, idle1 = sample()
    except OSError:
        return None
    total = total1 - total0
    return (os.cpu_count() or 1) * (total - (idle1 - idle0)) / total if total else None


def run_benchmark(args):
    command = [str(args.binary.resolve()), "--benchmark_format=json",
               f"--benchmark_repetitions={args.repetitions}",
               "--benchmark_enable_random_interleaving=true",
               f"--benchmark_filter={args.filter}"]
    busy = busy_cpus()
    if busy is not None:
        note = ""
        if busy > 0.2:
            note = "  (--fifo: it will mostly wait)" if args.fifo else "  WARNING: something else is running; expect noise"
        print(f"before the run, other processes kept {busy:.2f} CPUs busy{note}")
    prefix = "chrt -f 1 " if args.fifo else ""
    print(f"$ {prefix}{shlex.join(command)}", flush=True)

    def realtime():
        os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(1))

    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=1800, check=False,
                              preexec_fn=realtime if args.fifo else None)
    except subprocess.SubprocessError as error:
        sys.exit(f"compare_floor.py: could not run the benchmark: {error}")
    if done.returncode != 0:
        sys.exit(f"compare_floor.py: the benchmark exited {done.returncode}\n{done.stderr}")
    if done.stderr.strip():
        print(done.stderr.strip(), file=sys.stderr)
    return done.stdout


def load_result(text, origin):
    result = json.loads(text)
    if not isinstance(result, dict) or "context" not in result or "benchmarks" not in result:
        sys.exit(f"compare_floor.py: {origin} is not a Google Benchmark JSON result")
    version = result["context"].get("json_schema_version")
    if version not in KNOWN_SCHEMA_VERSIONS:
        sys.exit(f"compare_floor.py: {origin} has json_schema_version {version}; "
                 f"this script knows {sorted(v for v in KNOWN_SCHEMA_VERSIONS if v)} (and none)")
    return result


def collect(result):
    """{'RoundTrip/ringside_cpp': [(start_s, value, whole_run_value)]} per repetition; errors apart.

    value is the repetition's median batch (counters rt_median_ns, median_Mrec_per_s): a
    preempted batch does not move it. whole_run_value is Google Benchmark's own figure
    (real time / items_per_second over the whole repetition), shown for comparison.
    """
    samples, errors = {}, {}
    for run in result["benchmarks"]:
        if run.get("run_type") != "iteration":
            continue
        row = run["run_name"].split("/iterations:")[0]
        if run.get("error_occurred"):
            errors.setdefault(row, []).append(run.get("error_message", "?"))
            continue
        if row.startswith("Throughput/"):
            whole = run["items_per_second"] / 1e6
            value = run.get("median_Mrec_per_s", whole)
        else:
            whole = run["real_time"] * {"ns": 1.0, "us": 1e3, "ms": 1e6, "s": 1e9}[run["time_unit"]]
            value = run.get("rt_median_ns", whole)
        samples.setdefault(row, []).append((run.get("t_start_s"), value, whole))
    for runs in samples.values():
        runs.sort(key=lambda run: -1 if run[0] is None else run[0])
    return samples, errors


def values(samples, row, whole=False):
    return [run[2] if whole else run[1] for run in samples.get(row, [])]


def paired_ratios(samples, numerator, denominator):
    """numerator / denominator, each run paired with the denominator's run nearest in time.

    The host's speed drifts over seconds; runs of both rows are interleaved at
    random, so the nearest run saw nearly the same machine. Without start times
    (old results) every numerator run is paired with the denominator's median.
    """
    num, den = samples.get(numerator, []), samples.get(denominator, [])
    if not num or not den:
        return []
    if any(run[0] is None for run in num + den):
        middle = statistics.median(run[1] for run in den)
        return [run[1] / middle for run in num]
    times = [run[0] for run in den]
    ratios = []
    for t, v, _ in num:
        i = bisect.bisect_left(times, t)
        nearest = min((j for j in (i - 1, i) if 0 <= j < len(den)), key=lambda j: abs(times[j] - t))
        ratios.append(v / den[nearest][1])
    return ratios


def median_ci(data, resamples, rng):
    """95% percentile-bootstrap interval of the median of `data`."""
    medians = sorted(statistics.median(rng.choices(data, k=len(data))) for _ in range(resamples))
    return medians[int(0.025 * resamples)], medians[int(0.975 * resamples) - 1]


def machine_lines(context):
    model, hypervisor = "?", ""
    if shutil.which("lscpu"):
        text = subprocess.run(["lscpu"], capture_output=True, text=True, check=False).stdout
        for line in text.splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "Model name":
                model = value.strip()
            elif key.strip() == "Hypervisor vendor":
                hypervisor = f", hypervisor {value.strip()}"
    allowed = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else "?"
    return [f"machine : {model}, nproc {os.cpu_count()} (allowed {allowed}){hypervisor}",
            f"run     : {context.get('date', '?')} on {context.get('host_name', '?')}, "
            f"pinned CPUs {context.get('ringside_micro_cpus', '?')}, "
            f"benchmark library built as {context.get('library_build_type', '?')}"]


def print_table(title, unit, rows, samples, reference, higher_is_better):
    ref_name = reference.split("/")[1]
    print(f"\n{title}")
    print(f"  {'row':<22} {'n':>3} {'median':>10} {'p25':>10} {'p75':>10}   vs {ref_name} (paired)"
          f"   whole-run median")
    for row in rows:
        data = values(samples, row)
        if not data:
            print(f"  {row.split('/')[1]:<22}   -  (no result)")
            continue
        low, high = (data[0], data[0]) if len(data) < 2 else \
            statistics.quantiles(data, n=4, method="inclusive")[::2]
        ratios = paired_ratios(samples, row, reference)
        versus = f"{statistics.median(ratios):7.3f}x" if ratios else "      -"
        whole = statistics.median(values(samples, row, whole=True))
        print(f"  {row.split('/')[1]:<22} {len(data):>3} {statistics.median(data):>10.1f} "
              f"{low:>10.1f} {high:>10.1f}   {versus:>{len(ref_name) + 12}}   {whole:>10.1f}")
    print(f"  ({unit}; {'higher' if higher_is_better else 'lower'} is better; per repetition the median "
          f"batch, whole-run = Google Benchmark's figure for the whole repetition)")


def report_ratio(name, numerator, denominator, samples, args, rng, target=None, at_most=True):
    """Prints the paired ratio with its CI; with a target, PASS/FAIL. Returns pass (or None)."""
    ratios = paired_ratios(samples, numerator, denominator)
    if not ratios:
        print(f"  {name:<52} NO DATA")
        return False if target is not None else None
    ratio = statistics.median(ratios)
    low, high = median_ci(ratios, args.bootstrap, rng)
    few = "; too few for a CI" if len(ratios) < 6 else ""
    line = f"  {name:<52} {ratio:6.3f}  (95% CI {low:.3f}..{high:.3f}, {len(ratios)} pairs{few})"
    if target is None:
        print(line)
        return None
    passed = ratio <= target if at_most else ratio >= target
    conclusive = (high <= target or low > target) if at_most else (low >= target or high < target)
    print(f"{line}  target {'<=' if at_most else '>='} {target}  {'PASS' if passed else 'FAIL'}"
          f"{'' if conclusive else '  (CI straddles the target: not conclusive)'}")
    return passed


def main():
    args = create_parser().parse_args()
    if args.input:
        origin, text = str(args.input), args.input.read_text()
    else:
        origin, text = "the benchmark output", run_benchmark(args)
    result = load_result(text, origin)
    if args.save:
        args.save.write_text(text)
    samples, errors = collect(result)
    rng = random.Random(args.seed)

    print("\n".join(machine_lines(result["context"])))
    print("all rows' repetitions interleaved at random in one process; ratios pair each run with "
          "the compared row's run nearest in time")
    floor = f"RoundTrip/{args.floor}"
    print_table("Round trip, 8-byte records, A -> B -> A", "ns per round trip",
                [f"RoundTrip/{r}" for r in ROUND_TRIP_ROWS], samples, floor, False)
    print_table("One-way throughput, 8-byte records", "million records per second",
                [f"Throughput/{r}" for r in THROUGHPUT_ROWS], samples, "Throughput/boost_spsc", True)
    for row, messages in sorted(errors.items()):
        print(f"  ERRORS in {row}: {len(messages)} repetition(s), first: {messages[0]}")

    print("\nTargets (issue 2): median of paired ratios")
    results = [
        report_ratio(f"round trip ringside_cpp / {args.floor}", "RoundTrip/ringside_cpp", floor,
                     samples, args, rng, LATENCY_TARGET, at_most=True),
        report_ratio("throughput ringside_cpp / boost_spsc", "Throughput/ringside_cpp",
                     "Throughput/boost_spsc", samples, args, rng, THROUGHPUT_TARGET, at_most=False),
    ]
    print("For information (no target)")
    for name, a, b in (("round trip ringside_capi / ringside_cpp", "RoundTrip/ringside_capi", "RoundTrip/ringside_cpp"),
                       ("round trip ringside_cpp / boost_spsc", "RoundTrip/ringside_cpp", "RoundTrip/boost_spsc"),
                       ("throughput ringside_capi / ringside_cpp", "Throughput/ringside_capi", "Throughput/ringside_cpp"),
                       ("throughput ringside_capi / boost_spsc", "Throughput/ringside_capi", "Throughput/boost_spsc"),
                       ("throughput ringside_capi_parkable / ringside_capi",
                        "Throughput/ringside_capi_parkable", "Throughput/ringside_capi"),
                       ("throughput ringside_cpp_batch32 / boost_spsc_bulk32",
                        "Throughput/ringside_cpp_batch32", "Throughput/boost_spsc_bulk32")):
        report_ratio(name, a, b, samples, args, rng)
    if args.strict and not all(results):
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
