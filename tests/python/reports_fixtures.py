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

try:
    import jinja2  # noqa: F401
    import matplotlib  # noqa: F401
    import numpy as np
    import scipy  # noqa: F401
except ImportError as missing:  # a clear failure, not a skip: these tests must run wherever tests/python runs
    raise ImportError(f"the reports tests need Debian's python3-matplotlib python3-numpy python3-scipy "
                      f"python3-jinja2 under /usr/bin/python3 ({missing}); run_all.py test should install them "
                      f"(harness/runall/bootstrap.py NEEDS['test'])") from None

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
    payloads = {"tiny": [8, 4096], "default": [8, 64, 512, 4096, 65536]}.get(
        size, [8, 16, 32, 64, 128, 256, 512, 1024, 4096, 16384, 65536])
    waits = ["busy_spin", "yield", "futex"] if size == "tiny" else list(WAIT_NS)
    out = []

    def add(**changes):
        params = dict(BASE)
        params.update({k.replace("__", "."): v for k, v in changes.items()})
        if params not in out:
            out.append(params)

    for payload in payloads:
        for wait in waits:
            for placement in ["different_cores", "same_core"] if size == "nightly" else ["different_cores"]:
                if placement == "same_core" and wait in ("busy_spin", "spin_pause"):
                    continue
                add(payload_bytes=payload, host__wait__kind=wait, sidecar__wait__kind=wait, placement=placement)
        for queue in ("ringside_ring", "boost_spsc", "moodycamel_rwq", "mutex_condvar", "floor_cacheline",
                      "floor_futex"):
            add(queue=queue, payload_bytes=payload)
            if size == "nightly":
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
    if size == "nightly":
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


LATENCY_KEYS = ("p50", "p90", "p99", "p999", "p9999")


def latency(histogram):
    out = {name: histogram.supported_percentile(q) for name, q in
           zip(LATENCY_KEYS, (50, 90, 99, 99.9, 99.99))}
    out.update(max=histogram.max(), mean=round(histogram.mean(), 3), count=histogram.total)
    return out


def grant(params, side, refuse_rt):
    """The runner's read-back of one thread's scheduling (os_threads.cpp granted_json)."""
    policy = params[f"{side}.sched.policy"]
    got = "other" if refuse_rt and policy == "fifo" else policy
    cpu = (0 if side == "host" else 1) if params["placement"] == "different_cores" else 0
    return {"requested": {"policy": policy, "priority": params[f"{side}.sched.priority"], "nice": 0, "cpu": cpu},
            "tid": 1000, "policy": got, "priority": params[f"{side}.sched.priority"] if got != "other" else 0,
            "nice": 0, "cpus": [cpu], "refused": "sched_setscheduler: EPERM" if got != policy else None,
            "as_requested": got == policy}


def runner_environment(env):
    return env["runner"]


def make_repetition(out_dir, sid, params, rng, rep, typical, noise, with_files, intervals, refuse_rt, env,
                    machine=1.0):
    payload = params["payload_bytes"]
    mode = params["load.mode"]
    wait = params["host.wait.kind"]
    cpu_share = 1.0 if params["queue"] == "floor_cacheline" else WAIT_CPU.get(wait, 1.0)
    if params["queue"] in ("mutex_condvar", "floor_futex"):
        cpu_share = 0.12
    level = typical * max(0.5, rng.normal(1.0, noise))
    total, raw_total, log = hdr.Histogram(), hdr.Histogram(), []
    per_interval = max(200, params["count"] // intervals)
    for i in range(intervals):
        h, raw = hdr.Histogram(), hdr.Histogram()
        values = samples(rng, level * (1.6 if i == 0 else 1.0), per_interval)
        h.record(values)
        raw.record(values * 0.8 if mode == "open" else values)
        total.add(h)
        raw_total.add(raw)
        log += [hdr.Interval("", float(i), 1.0, 0.0, h), hdr.Interval("uncorrected", float(i), 1.0, 0.0, raw)]
    seconds = total.total * total.mean() / 1e9
    if mode == "open":
        seconds = total.total / params["load.rate_per_s"]
    elif mode == "throughput":
        seconds = max(seconds / 8, total.total * payload * machine / env["memcpy"] / 0.6)
    msgs = total.total / seconds
    record = {"rep": rep + 1, "status": "pass", "exit_code": 0, "wall_s": round(seconds + 0.3, 3),
              "files": {}, "latency_ns": latency(total),
              "latency_uncorrected_ns": latency(raw_total) if mode == "open" else None,
              "throughput": {"msgs_per_s": msgs, "bytes_per_s": msgs * payload},
              "cpu_ns_per_msg": level * cpu_share * 1.6,
              "validation": {"sent": total.total, "received": total.total, "lost": 0, "duplicated": 0,
                             "reordered": 0, "corrupted": 0},
              "measured": {"messages": total.total, "seconds": seconds, "warmup_messages": 1000},
              "granted": {"host": grant(params, "host", refuse_rt), "sidecar": grant(params, "sidecar", refuse_rt),
                          "contention": [], "boosted": "none"},
              "clock": env["runner"]["clock"],
              "disturbance": {"steal": {"steal_ms": float(rng.integers(0, 3)) * 10, "steal_fraction":
                                        float(rng.uniform(0, 0.01)), "tick_ms": 10.0, "per_cpu": {}},
                              "rt_throttling": {"sched_rt_runtime_us": 950000, "sched_rt_period_us": 1000000}},
              "findings": [], "runner_environment": runner_environment(env)}
    if with_files:
        stem = f"scenarios/{sid}/release/rep{rep + 1}"
        (out_dir / stem).parent.mkdir(parents=True, exist_ok=True)
        (out_dir / f"{stem}.hgrm").write_text(hdr.write_hgrm(total))
        (out_dir / f"{stem}.hlog").write_text(hdr.write_hlog(log, 1.7e9))
        (out_dir / f"{stem}.log").write_text(f"ringside-runner: pass: {sid}\n")
        record["files"] = {"hgrm": f"{stem}.hgrm", "hlog": f"{stem}.hlog", "log": f"{stem}.log"}
        if mode == "open":
            (out_dir / f"{stem}.uncorrected.hgrm").write_text(hdr.write_hgrm(raw_total))
            record["files"]["hgrm_uncorrected"] = f"{stem}.uncorrected.hgrm"
    return record


def _median(values):
    values = [v for v in values if isinstance(v, (int, float))]
    return float(np.median(values)) if values else None


def aggregate(entry):
    """results.json's scenario figures from its repetitions (as harness/runall/store.py aggregates them)."""
    good = [r for r in entry["repetitions"] if r["status"] == "pass"]
    lat = [r["latency_ns"] for r in good] if entry["timing"] else []
    entry["latency_ns"] = {k: _median([l.get(k) for l in lat]) for k in LATENCY_KEYS}
    entry["latency_ns"]["max"] = max([l["max"] for l in lat], default=None)
    count = sum(l["count"] for l in lat)
    entry["latency_ns"]["mean"] = sum(l["mean"] * l["count"] for l in lat) / count if count else None
    entry["latency_ns"]["count"] = count if lat else None
    entry["throughput"] = {k: _median([r["throughput"][k] for r in good]) if entry["timing"] else None
                           for k in ("msgs_per_s", "bytes_per_s")}
    entry["cpu_ns_per_msg"] = _median([r["cpu_ns_per_msg"] for r in good]) if entry["timing"] else None
    validation = {}
    for r in entry["repetitions"]:
        for k, v in (r.get("validation") or {}).items():
            validation[k] = validation.get(k, 0) + v
    entry["validation"] = validation
    entry["findings"] = 0
    return entry


def make_scenario(out_dir, params, rng, repetitions, factor, noise, with_files, intervals, refuse_rt, env,
                  machine=1.0):
    sid = scenario_id(params)
    typical = model_ns(params) * factor
    reps = [make_repetition(out_dir, sid, params, rng, rep, typical, noise, with_files, intervals, refuse_rt, env,
                            machine) for rep in range(repetitions)]
    group = "peers" if params["queue"] != "ringside" else "sweep"
    entry = {"id": sid, "slug": sid.rsplit("-", 1)[0], "group": group, "groups": [group, "all"],
             "params": params, "variant": "release", "kind": "timing", "timing": True, "status": "pass",
             "repetitions": reps}
    return aggregate(entry)


def validation_entry(params, variant):
    """A validation run in an instrumented build: no timing figures."""
    sid = scenario_id(params)
    reps = [{"rep": 1, "status": "pass", "exit_code": 0, "wall_s": 2.5, "files": {},
             "latency_ns": None, "throughput": None, "cpu_ns_per_msg": None,
             "validation": {"sent": 5000, "received": 5000, "lost": 0, "duplicated": 0, "reordered": 0,
                            "corrupted": 0}, "findings": []}]
    entry = {"id": sid, "slug": sid.rsplit("-", 1)[0], "group": "sanitize", "groups": ["sanitize"],
             "params": params, "variant": variant, "kind": "validation", "timing": False, "status": "pass",
             "repetitions": reps}
    return aggregate(entry)


def environment(cpu_model="Intel(R) Xeon(R) Platinum 8259CL CPU @ 2.50GHz", kernel="6.1.0-28-cloud-amd64",
                commit="d6906bc0c6a1e5f0a6a7f5bd2b8d06a1f0a9e3c1", memcpy=9.5e9):
    """results.json's environment (harness/runall/store.py) with the runner's block."""
    return {"git_commit": commit, "git_dirty": False, "hostname": "bench-1", "kernel": kernel,
            "cpu_model": cpu_model, "cpus_online": 2, "cpus_allowed": [0, 1], "governor": None, "smt": None,
            "sched_rt_runtime_us": "950000", "python": "3.11.2", "command": "run_all.py run",
            "started_utc": "2026-11-22T05:00:00Z", "finished_utc": "2026-11-22T05:05:00Z",
            "memcpy": memcpy,
            "runner": {"cpu_model": cpu_model, "kernel": f"Linux {kernel}", "compiler": "GNU 12.2.0",
                       "compiler_version": "12.2.0", "flags": "-O2 -g -fno-omit-frame-pointer",
                       "build_type": "RelWithDebInfo", "build_variant": "release", "git_commit": commit[:12],
                       "hypervisor": True,
                       "rt_throttling": {"sched_rt_runtime_us": 950000, "sched_rt_period_us": 1000000},
                       "clock": {"source": "tsc", "resolution_ns": 10.0, "timer_cost_ns": 7.5}}}


def make_run(out_dir, *, seed=1, size="default", repetitions=5, noise=0.02, factor=None, machine=1.0,
             with_files=True, intervals=4, schema_version=1, env=None, checker_finding=False,
             canary_missed=False, refuse_rt=True, drop_ids=(), failed_ids=(), validation_runs=True, count=None,
             partial=False):
    """Writes a run folder and returns its results document.

    factor: {scenario id or queue name: multiplier} applied to typical latency.
    machine: multiplier applied to every scenario, floors included.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    factor = factor or {}
    env = env or environment()
    scenarios = []
    for params in matrix(size):
        sid = scenario_id(params)
        if sid in drop_ids:
            continue
        if count:
            params = dict(params, count=count)
        scale = machine * factor.get(sid, factor.get(params["queue"], 1.0))
        scenario = make_scenario(out_dir, params, rng, repetitions, scale, noise, with_files, intervals,
                                 refuse_rt, env, machine)
        if sid in failed_ids:
            scenario["status"] = "fail"
            scenario["repetitions"][0].update(status="fail", note="validation (forward): sent 20000, "
                                              "received 19997, lost 3")
            scenario["validation"]["lost"] = 3
        scenarios.append(scenario)
    if validation_runs:
        for variant in ("asan", "tsan"):
            for params in matrix("default")[:3]:
                scenarios.append(validation_entry(params, variant))
    _ratios(scenarios)
    document = {"schema_version": schema_version, "partial": partial,
                "environment": {k: v for k, v in env.items() if k != "memcpy"},
                "scenarios": scenarios, "checkers": _checkers(out_dir, checker_finding),
                "canaries": _canaries(out_dir, canary_missed), "microbench": _microbench(rng, machine, env["memcpy"])}
    (out_dir / "results.json").write_text(json.dumps(document, indent=1, allow_nan=False))
    return document


def _ratios(scenarios):
    """ratios as harness/runall/store.py add_ratios sets them (same placement, payload and load mode)."""
    timed = [s for s in scenarios if s["timing"] and s["status"] == "pass"]

    def key(s):
        p = s["params"]
        return p["payload_bytes"], p["placement"], p["load.mode"]
    for s in scenarios:
        s["ratios"] = {"vs_floor": None, "vs_best_peer": None, "metric": None, "floor": None, "best_peer": None}
        if s not in timed or s["params"]["queue"] != "ringside":
            continue
        tput = s["params"]["load.mode"] == "throughput"
        value = (lambda x: x["throughput"]["msgs_per_s"]) if tput else (lambda x: x["latency_ns"]["p50"])
        same = [x for x in timed if key(x) == key(s)]
        parks = s["params"]["host.wait.kind"] not in ("busy_spin", "spin_pause", "yield", "hybrid")
        floors = [x for x in same if x["params"]["queue"] == ("floor_futex" if parks else "floor_cacheline")]
        peers = [x for x in same if x["params"]["queue"] in ("boost_spsc", "moodycamel_rwq", "mutex_condvar")]
        s["ratios"]["metric"] = "msgs_per_s" if tput else "p50"
        if floors and not tput:
            ref = min(floors, key=value)
            s["ratios"].update(vs_floor=value(s) / value(ref), floor=ref["id"])
        if peers:
            ref = max(peers, key=value) if tput else min(peers, key=value)
            s["ratios"].update(vs_best_peer=value(s) / value(ref), best_peer=ref["id"])


def _checkers(out_dir, finding):
    logs = out_dir / "logs"
    logs.mkdir(exist_ok=True)
    checkers = []
    for tool, variant in (("asan", "asan"), ("tsan", "tsan"), ("memcheck", "valgrind")):
        findings = []
        if finding and tool == "tsan":
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
        checkers.append({"variant": variant, "tool": tool, "status": "fail" if findings else "pass",
                         "scenarios_run": 6, "findings": findings})
    return checkers


def _canaries(out_dir, missed):
    pairs = [("tsan", "tsan", "data_race", ["tsan:data-race"]),
             ("asan", "asan", "heap_overflow", ["asan:heap-buffer-overflow"]),
             ("asan", "asan", "use_after_free", ["asan:heap-use-after-free"]),
             ("lsan", "asan", "leak", ["lsan:leak"]), ("memcheck", "valgrind", "leak", ["memcheck:leak-definite"]),
             ("ubsan", "asan", "signed_overflow", ["ubsan:signed-integer-overflow"]),
             ("memcheck", "valgrind", "uninitialised_read", ["memcheck:uninitialised-condition"])]
    out = []
    for i, (checker, variant, fault, expected) in enumerate(pairs):
        caught = not (missed and i == 0)
        log = out_dir / "logs" / f"canary_{fault}_{checker}.log"
        log.write_text(f"canary {fault} under {checker}: {'caught ' + expected[0] if caught else 'nothing found'}\n")
        out.append({"name": f"canary_{fault}", "checker": checker, "variant": variant, "fault": fault,
                    "expected": expected, "caught": caught, "ok": caught, "found": expected if caught else [],
                    "exit_code": 66 if caught else 0, "log": f"logs/canary_{fault}_{checker}.log", "note": ""})
    out.append({"name": "canary_data_race", "checker": None, "variant": "release", "fault": "data_race",
                "expected": [], "caught": None, "ok": True, "found": [], "exit_code": 0, "log": None,
                "note": "native run exits 0"})
    return out


def _microbench(rng, machine, memcpy):
    rows = []
    for name, ns in (("BM_ReserveCommit/8", 6.1), ("BM_ReserveCommit/4096", 88.0), ("BM_PeekRelease/8", 5.2),
                     ("BM_VtableDispatch", 1.9), ("BM_DirectCall", 0.9), ("BM_CApiCall", 2.4),
                     ("BM_Timestamp", 7.4)):
        t = ns * machine * rng.normal(1, 0.01)
        rows.append({"program": "ring_bench", "name": name, "aggregate": None, "iterations": 100000000,
                     "real_time_ns": t, "cpu_time_ns": t * 1.01, "items_per_second": 1e9 / t})
    rows.append({"program": "ring_bench", "name": "BM_Memcpy/65536", "aggregate": None, "iterations": 200000,
                 "real_time_ns": 65536 / memcpy * 1e9, "cpu_time_ns": 65536 / memcpy * 1e9,
                 "bytes_per_second": memcpy})
    return {"status": "pass", "files": ["microbench/ring_bench.json"], "benchmarks": rows, "notes": []}


def create_parser():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out")
    parser.add_argument("--size", default="default", choices=("tiny", "default", "nightly"))
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--repetitions", type=int, default=5)
    parser.add_argument("--machine", type=float, default=1.0)
    return parser


if __name__ == "__main__":
    args = create_parser().parse_args()
    doc = make_run(args.out, seed=args.seed, size=args.size, repetitions=args.repetitions, machine=args.machine)
    print(f"{args.out}: {len(doc['scenarios'])} scenarios")


# ---- pytest fixtures (imported by tests/python/test_reports_*.py) ----------

import os  # noqa: E402
import re  # noqa: E402
import shutil  # noqa: E402

import pytest  # noqa: E402


@pytest.fixture(autouse=True)
def no_library_leaks():
    """Overrides tests/python/conftest.py's check: the reports tests never load libringside."""
    yield


@pytest.fixture(scope="session")
def runs(tmp_path_factory):
    """Named run folders, made once per session: base, noise (same code, new seed), regressed, drift."""
    root = tmp_path_factory.mktemp("reports-runs")
    made = {}

    def get(name, **kwargs):
        if name not in made:
            make_run(root / name, **kwargs)
            made[name] = root / name
        return made[name]
    return get


@pytest.fixture(scope="session")
def rendered_base(runs):
    """The base run with its report rendered (once per session): (run folder, index.html)."""
    import reports
    run = runs("base", seed=1)
    return run, reports.render_run(run, jobs=1)


def under_asan_preload():
    """True inside run_all.py's asan pytest pass (the ASan runtime preloaded into the interpreter)."""
    return "libasan" in os.environ.get("LD_PRELOAD", "")


def clean_env():
    """The environment for child processes (chromium): without the ASan preload of the interpreter."""
    env = {k: v for k, v in os.environ.items() if k not in ("LD_PRELOAD", "ASAN_OPTIONS", "UBSAN_OPTIONS")}
    return env


def chromium():
    return shutil.which("chromium") or shutil.which("chromium-browser")


def find_id(pattern, size="default"):
    """The id of the one scenario of matrix(size) whose id matches `pattern` (a regex, from the start)."""
    found = [scenario_id(p) for p in matrix(size) if re.match(pattern, scenario_id(p))]
    assert len(found) == 1, f"{pattern}: {found}"
    return found[0]


TARGET = r"ringside\.thr\.64B\.futex\.2cpu-"   # the scenario a seeded regression slows
