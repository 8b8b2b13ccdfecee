#!/usr/bin/python3
"""A stand-in for ringside-runner in tests: same command line, a made-up result (FAKE_RUNNER_MODE picks how)."""

import argparse
import json
import os
import struct
import sys
import time


def create_parser():
    parser = argparse.ArgumentParser()
    parser.add_argument("--spec", required=True)
    parser.add_argument("--output", required=True)
    return parser


def leave_region():
    """A /dev/shm region with a ringside header naming this process as creator, never unlinked."""
    path = f"/dev/shm/ringside-fake-{os.getpid()}"
    header = bytearray(256)
    struct.pack_into("<Q", header, 0, 0x31454449_53474E52)
    struct.pack_into("<i", header, 44, os.getpid())
    with open(path, "wb") as f:
        f.write(header)
    return path


def main():
    args = create_parser().parse_args()
    spec = json.load(open(args.spec))
    mode = os.environ.get("FAKE_RUNNER_MODE", "pass")
    if mode == "sleep":
        leave_region()
        time.sleep(60)
    payload = spec["payload_bytes"]
    base = 400 + payload // 10 + (0 if spec["queue"].startswith("floor") else 100)
    if spec["queue"] == "boost_spsc":
        base += 80
    lost = 1 if mode == "fail" else 0
    counts = {"sent": 1000, "received": 1000 - lost, "lost": lost, "duplicated": 0, "reordered": 0, "corrupted": 0}
    result = {
        "schema": "ringside-result/1", "status": "fail" if lost else "pass",
        "failures": ["validation (forward): lost 1"] if lost else [], "scenario": spec,
        "latency_ns": {"count": 1000, "mean_ns": base * 1.1, "max_ns": base * 10, "p50_ns": base, "p90_ns": base * 1.2,
                       "p99_ns": base * 2, "p99_9_ns": base * 3, "p99_99_ns": None, "unsupported": ["p99_99"]},
        "latency_uncorrected_ns": None,
        "throughput": {"round_trips_per_s": 1e9 / base, "payload_bytes_per_s": 1e9 / base * payload},
        "validation": {"ok": not lost, "forward": counts, "return": counts, "total": counts},
        "cost": {"messages": 1000, "host": {"cpu_ns_per_message": base / 2}, "sidecar": {"cpu_ns_per_message": base / 2}},
        "environment": {"clock": "fake"},
    }
    with open(args.output + ".json", "w") as f:
        json.dump(result, f)
    open(args.output + ".hgrm", "w").write("fake\n")
    open(args.output + ".hlog", "w").write("#[Histogram log format version 1.3]\n")
    if mode == "asan":
        print("==1==ERROR: AddressSanitizer: heap-use-after-free on address 0x1 at pc 0x2", file=sys.stderr)
        print("    #0 0x55 in main /src/x.cpp:3", file=sys.stderr)
        return 1
    return 1 if lost else 0


if __name__ == "__main__":
    sys.exit(main())
