"""Synthetic run folders (results.json, .hgrm, .hlog, logs) for the reports/ tests, from a seeded RNG.

make_run() writes what run_all.py writes for one run: every scenario with its
repetitions' figures and histogram files, the floors and peers next to them,
checkers, canaries and microbenchmarks. Latencies come from a simple model
(lognormal body, rare stalls); `factor` slows chosen scenarios (a seeded
regression) and `machine` slows everything including the floors (drift).

    /usr/bin/python3 tests/python/reports_fixtures.py OUT [--size default|nightly] [--seed N]
"""

import argparse
import hashlib
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from reports import hdr  # noqa: E402

BASE = {
    "queue": "ringside", "transport": "threads", "backing": "shm", "delivery": "vtable", "payload_bytes": 8,
    "host.wait.kind": "busy_spin", "sidecar.wait.kind": "busy_spin",
    "host.sched.policy": "other", "host.sched.priority": 0, "host.sched.nice": 0,
    "sidecar.sched.policy": "other", "sidecar.sched.priority": 0, "sidecar.sched.nice": 0,
    "placement": "different_cores", "contention.threads": 0, "contention.sched.policy": "other",
    "load.mode": "closed", "load.rate_per_s": 0, "load.burst": 1, "count": 20000,
}
WAIT_NS = {"busy_spin": 0, "spin_pause": 40, "yield": 450, "hybrid": 900, "futex": 4200, "eventfd": 5200}
WAIT_CPU = {"busy_spin": 1.0, "spin_pause": 1.0, "yield": 0.9, "hybrid": 0.35, "futex": 0.12, "eventfd": 0.14}
QUEUE_NS = {"ringside": 190, "ringside_ring": 230, "boost_spsc": 240, "moodycamel_rwq": 260,
            "mutex_condvar": 7800, "floor_cacheline": 150, "floor_futex": 4000}


def scenario_id(params):
    wait = params["host.wait.kind"]
    size = params["payload_bytes"]
    size = f"{size // 1024}K" if size >= 1024 else f"{size}B"
    place = {"different_cores": "2cpu", "same_core": "1cpu"}[params["placement"]]
    parts = [params["queue"], "thr", size, wait, place]
    if params["host.sched.policy"] != "other":
        parts.append(f"host-{params['host.sched.policy']}{params['host.sched.priority']}")
    if params["contention.threads"]:
        parts.append(f"busy{params['contention.threads']}")
    if params["load.mode"] != "closed":
        parts.append("open" if params["load.mode"] == "open" else "tput")
    digest = hashlib.sha1(json.dumps(params, sort_keys=True).encode()).hexdigest()[:10]
    return ".".join(parts) + "-" + digest


def matrix(size="default"):
    """Flat parameter sets: one factor at a time around the baseline, peers and floors beside them."""
    payloads = [8, 64, 512, 4096, 65536] if size == "default" else [8, 16, 32, 64, 128, 256, 512, 1024,
                                                                     4096, 16384, 65536]
    waits = list(WAIT_NS)
    out = []

    def add(**changes):
        params = dict(BASE)
        params.update({k.replace("__", "."): v for k, v in changes.items()})
        if params not in out:
            out.append(params)

    placements = ["different_cores", "same_core"] if size == "default" else ["different_cores", "same_core"]
    for payload in payloads:
        for wait in waits:
            for placement in placements if size != "default" else ["different_cores"]:
                if placement == "same_core" and wait in ("busy_spin", "spin_pause"):
                    continue
                add(payload_bytes=payload, host__wait__kind=wait, sidecar__wait__kind=wait, placement=placement)
        for queue in ("ringside_ring", "boost_spsc", "moodycamel_rwq", "mutex_condvar", "floor_cacheline",
                      "floor_futex"):
            add(queue=queue, payload_bytes=payload)
            if size != "default":
                add(queue=queue, payload_bytes=payload, placement="same_core",
                    host__wait__kind="yield", sidecar__wait__kind="yield")
                add(queue=queue, payload_bytes=payload, load__mode="throughput")
        add(payload_bytes=payload, load__mode="throughput")
    for placement in ("different_cores", "same_core"):
        for threads in (0, 1):
            for policy, priority in (("other", 0), ("fifo", 50)):
                add(placement=placement, contention__threads=threads, host__sched__policy=policy,
                    host__sched__priority=priority, sidecar__sched__policy=policy,
                    sidecar__sched__priority=priority, host__wait__kind="yield", sidecar__wait__kind="yield")
    add(load__mode="open", load__rate_per_s=100000)
    add(load__mode="open", load__rate_per_s=100000, host__wait__kind="futex", sidecar__wait__kind="futex")
    if size != "default":
        for rate in (10000, 50000, 200000):
            for wait in waits:
                add(load__mode="open", load__rate_per_s=rate, host__wait__kind=wait, sidecar__wait__kind=wait)
    return out


def model_ns(params):
    """The typical round trip of a parameter set (ns)."""
    queue = params["queue"]
    wait = params["host.wait.kind"]
    base = QUEUE_NS[queue] + (0 if queue.startswith("floor") or queue == "mutex_condvar" else WAIT_NS[wait])
    if params["placement"] == "same_core":
        base = base * 3 + 1500
    if queue != "floor_cacheline" and queue != "floor_futex":
        base += params["payload_bytes"] * 0.03
    if params["contention.threads"]:
        base *= 1.2 if params["host.sched.policy"] == "fifo" else 4.0
    return base


def samples(rng, typical, n):
    """A latency sample: lognormal body, a sparse heavy tail of stalls."""
    body = rng.lognormal(np.log(typical), 0.12, n)
    stalls = rng.random(n) < 0.002
    body[stalls] *= rng.pareto(1.5, int(stalls.sum())) * 5 + 2
    return np.maximum(body, 1).astype(np.int64)


def figures(histogram, payload, elapsed_s, cpu_per_msg):
    count = histogram.total
    latency = {name: histogram.supported_percentile(q) for name, q in
               (("p50", 50), ("p90", 90), ("p99", 99), ("p999", 99.9), ("p9999", 99.99))}
    latency.update(max=histogram.max(), mean=round(histogram.mean(), 3), count=count)
    msgs = count / elapsed_s
    return {"latency_ns": latency, "throughput": {"msgs_per_s": msgs, "bytes_per_s": msgs * payload},
            "cpu_ns_per_msg": {"host": cpu_per_msg * 0.55, "sidecar": cpu_per_msg * 0.45}}


def grant(params, side, refuse_rt):
    policy = params[f"{side}.sched.policy"]
    got = "other" if refuse_rt and policy == "fifo" else policy
    cpus = [0, 1] if params["placement"] == "different_cores" else [0]
    cpu = cpus[0] if side == "host" or len(cpus) == 1 else cpus[1]
    return {"requested": {"policy": policy, "priority": params[f"{side}.sched.priority"], "nice": 0, "cpu": cpu},
            "tid": 1000, "policy": got, "priority": params[f"{side}.sched.priority"] if got != "other" else 0,
            "nice": 0, "cpus": [cpu], "refused": "EPERM" if got != policy else None,
            "as_requested": got == policy}


def make_scenario(out_dir, params, rng, repetitions, factor, noise, with_files, intervals, refuse_rt):
    sid = scenario_id(params)
    typical = model_ns(params) * factor
    payload = params["payload_bytes"]
    open_loop = params["load.mode"] == "open"
    wait = params["host.wait.kind"]
    queue_cpu = 1.0 if params["queue"] in ("floor_cacheline",) else WAIT_CPU.get(wait, 1.0)
    if params["queue"] in ("mutex_condvar", "floor_futex"):
        queue_cpu = 0.12
    merged = hdr.Histogram()
    reps = []
    for rep in range(repetitions):
        level = typical * max(0.5, rng.normal(1.0, noise))
        files = {}
        total = hdr.Histogram()
        log = []
        per_interval = max(200, params["count"] // intervals)
        for i in range(intervals):
            h = hdr.Histogram()
            warm = 1.6 if i == 0 else 1.0
            values = samples(rng, level * warm, per_interval)
            h.record(values)
            total.add(h)
            log.append(hdr.Interval("", float(i), 1.0, 0.0, h))
            if open_loop:
                raw = hdr.Histogram()
                raw.record(values * 0.8)
                log.append(hdr.Interval("uncorrected", float(i), 1.0, 0.0, raw))
        merged.add(total)
        elapsed = total.total * total.mean() / 1e9 if params["load.mode"] != "open" else total.total / 100000
        if params["load.mode"] == "throughput":
            elapsed /= 8
        record = {"index": rep, "status": "ok", **figures(total, payload, elapsed, level * queue_cpu * 1.6),
                  "validation": {"sent": total.total, "received": total.total, "lost": 0, "duplicated": 0,
                                 "reordered": 0, "corrupted": 0},
                  "granted": {"host": grant(params, "host", refuse_rt), "sidecar": grant(params, "sidecar", refuse_rt)}}
        if with_files:
            stem = f"scenarios/{sid}/rep{rep}"
            (out_dir / stem).parent.mkdir(parents=True, exist_ok=True)
            (out_dir / f"{stem}.hgrm").write_text(hdr.write_hgrm(total))
            (out_dir / f"{stem}.hlog").write_text(hdr.write_hlog(log, 1.7e9))
            files = {"hgrm": f"{stem}.hgrm", "hlog": f"{stem}.hlog"}
            record["files"] = files
        reps.append(record)
    summary = figures(merged, payload, 1.0, 0.0)
    for key in ("throughput", "cpu_ns_per_msg"):
        summary[key] = reps[len(reps) // 2][key]
    return {"id": sid, "params": params, "variant": "release", "kind": "timing", "status": "ok",
            "repetitions": reps, **summary,
            "validation": {"sent": merged.total, "received": merged.total, "lost": 0, "duplicated": 0,
                           "reordered": 0, "corrupted": 0}}


def environment(cpu_model="Intel(R) Xeon(R) Platinum 8259CL CPU @ 2.50GHz", kernel="Linux 6.1.0-28-cloud-amd64",
                commit="d6906bc", variant="release"):
    return {"cpu_model": cpu_model, "cpus_online": 2, "cpus_allowed": [0, 1], "hypervisor": True,
            "kernel": kernel, "machine": "x86_64", "governor": None, "smt_active": None,
            "rt_throttling": {"sched_rt_runtime_us": 950000, "sched_rt_period_us": 1000000},
            "compiler": "GNU 12.2.0", "flags": "-O2 -g -fno-omit-frame-pointer", "build_variant": variant,
            "git_commit": commit, "git_dirty": False, "ringside_version": "0.1.0",
            "steal": {"steal_ms": 12.0, "steal_fraction": 0.004}, "memcpy_bytes_per_s": 9.5e9,
            "clock": {"source": "tsc", "resolution_ns": 10, "timer_cost_ns": 7.5}}


def make_run(out_dir, *, seed=1, size="default", repetitions=5, noise=0.02, factor=None, machine=1.0,
             with_files=True, intervals=4, schema_version=1, env=None, checker_finding=False,
             canary_missed=False, refuse_rt=True, drop_ids=(), failed_ids=()):
    """Writes a run folder and returns its results document.

    factor: {scenario id or queue name: multiplier} applied to typical latency.
    machine: multiplier applied to every scenario, floors included.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    factor = factor or {}
    scenarios = []
    for params in matrix(size):
        sid = scenario_id(params)
        if sid in drop_ids:
            continue
        scale = machine * factor.get(sid, factor.get(params["queue"], 1.0))
        scenario = make_scenario(out_dir, params, rng, repetitions, scale, noise, with_files, intervals, refuse_rt)
        if sid in failed_ids:
            scenario["status"] = "failed"
            scenario["validation"]["lost"] = 3
        scenarios.append(scenario)
    _ratios(scenarios)
    document = {"schema_version": schema_version, "partial": False,
                "environment": env or environment(),
                "scenarios": scenarios, "checkers": _checkers(out_dir, checker_finding),
                "canaries": _canaries(canary_missed), "microbench": _microbench(rng, machine)}
    (out_dir / "results.json").write_text(json.dumps(document, indent=1))
    return document


def _ratios(scenarios):
    def key(s):
        p = s["params"]
        return p["payload_bytes"], p["placement"], p["load.mode"]
    floors = {}
    peers = {}
    for s in scenarios:
        queue = s["params"]["queue"]
        if queue.startswith("floor"):
            floors[(queue,) + key(s)] = s
        elif queue != "ringside":
            best = peers.get(key(s))
            if best is None or s["latency_ns"]["p50"] < best["latency_ns"]["p50"]:
                peers[key(s)] = s
    for s in scenarios:
        if s["params"]["queue"] != "ringside":
            continue
        parks = s["params"]["host.wait.kind"] in ("futex", "eventfd", "hybrid")
        floor = floors.get(("floor_futex" if parks else "floor_cacheline",) + key(s))
        peer = peers.get(key(s))
        p50 = s["latency_ns"]["p50"]
        s["ratios"] = {"vs_floor": p50 / floor["latency_ns"]["p50"] if floor else None,
                       "vs_best_peer": p50 / peer["latency_ns"]["p50"] if peer else None,
                       "floor_id": floor["id"] if floor else None, "best_peer_id": peer["id"] if peer else None}


def _checkers(out_dir, finding):
    logs = out_dir / "logs"
    logs.mkdir(exist_ok=True)
    checkers = []
    for name, variant in (("asan", "asan"), ("ubsan", "asan"), ("lsan", "asan"), ("tsan", "tsan"),
                          ("memcheck", "valgrind")):
        findings = []
        if finding and name == "tsan":
            log = logs / "tsan-smoke.log"
            log.write_text("==================\nWARNING: ThreadSanitizer: data race (pid=4242)\n"
                           "  Write of size 8 at 0x7b0400000010 by thread T2:\n"
                           "    #0 rs_ring_commit src/ring.cpp:141 (libringside.so+0x1234)\n"
                           "    #1 worker harness/runner/driver.hpp:88 (ringside-runner+0x99)\n\n"
                           "  Previous read of size 8 at 0x7b0400000010 by thread T1:\n"
                           "    #0 rs_ring_peek src/ring.cpp:201 (libringside.so+0x2234)\n"
                           "==================\nThreadSanitizer: reported 1 warnings\n")
            findings.append({"tool": "tsan", "kind": "data-race", "message": "WARNING: ThreadSanitizer: data race",
                             "frames": [{"function": "rs_ring_commit", "file": "src/ring.cpp", "line": 141}],
                             "scenario": "ringside.thr.8B.busy_spin.2cpu", "log": "logs/tsan-smoke.log"})
        checkers.append({"name": name, "variant": variant, "status": "fail" if findings else "pass",
                         "runs": 6, "findings": findings})
    return checkers


def _canaries(missed):
    pairs = [("tsan", "data_race"), ("asan", "heap_overflow"), ("asan", "use_after_free"), ("lsan", "leak"),
             ("memcheck", "leak"), ("ubsan", "signed_overflow"), ("ubsan", "misaligned"),
             ("memcheck", "uninitialised_read")]
    return [{"checker": c, "fault": f, "caught": not (missed and i == 0), "expected": f, "found": [] if
             (missed and i == 0) else [f]} for i, (c, f) in enumerate(pairs)]


def _microbench(rng, machine):
    out = []
    for name, ns in (("BM_ReserveCommit/8", 6.1), ("BM_ReserveCommit/4096", 88.0), ("BM_PeekRelease/8", 5.2),
                     ("BM_VtableDispatch", 1.9), ("BM_DirectCall", 0.9), ("BM_CApiCall", 2.4),
                     ("BM_Timestamp", 7.4)):
        t = ns * machine * rng.normal(1, 0.01)
        out.append({"name": name, "real_time": t, "cpu_time": t * 1.01, "time_unit": "ns",
                    "iterations": 100000000})
    return out


def create_parser():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out")
    parser.add_argument("--size", default="default", choices=("default", "nightly"))
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--repetitions", type=int, default=5)
    parser.add_argument("--machine", type=float, default=1.0)
    return parser


if __name__ == "__main__":
    args = create_parser().parse_args()
    doc = make_run(args.out, seed=args.seed, size=args.size, repetitions=args.repetitions, machine=args.machine)
    print(f"{args.out}: {len(doc['scenarios'])} scenarios")
