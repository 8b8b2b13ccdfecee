"""The results store: run folders, results.json (schema in SCHEMA.md), reports/latest, merging shards."""

import datetime
import json
import os
import platform
import statistics
import subprocess
import sys
from pathlib import Path

from . import SCHEMA_VERSION

ROOT = Path(__file__).resolve().parents[2]
REPORTS = ROOT / "reports"
RUNS = REPORTS / "runs"
LATEST = REPORTS / "latest"
PEERS_FOR_RATIO = ("boost_spsc", "moodycamel_rwq", "mutex_condvar")
SPIN_WAITS = ("busy_spin", "spin_pause", "yield", "hybrid")  # compared with the cache-line floor
TOP_KEYS = ("schema_version", "environment", "scenarios", "checkers", "canaries", "microbench")


def git(*args):
    try:
        return subprocess.run(["git", "-C", str(ROOT), *args], capture_output=True, text=True,
                              timeout=20).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        return ""


def utc_now():
    return datetime.datetime.now(datetime.timezone.utc)


def new_run_dir(out=None):
    """reports/runs/<UTC time>-<short commit>/ (or `out`), created."""
    if out:
        path = Path(out)
    else:
        commit = git("rev-parse", "--short", "HEAD") or "nocommit"
        path = RUNS / f"{utc_now().strftime('%Y%m%dT%H%M%SZ')}-{commit}"
    path.mkdir(parents=True, exist_ok=True)
    return path


def point_latest(run_dir):
    """reports/latest -> the newest run folder (relative when it is under reports/)."""
    run_dir = Path(run_dir).resolve()
    try:
        target = os.path.relpath(run_dir, REPORTS)
    except ValueError:
        target = str(run_dir)
    tmp = REPORTS / ".latest.tmp"
    REPORTS.mkdir(exist_ok=True)
    if tmp.is_symlink() or tmp.exists():
        tmp.unlink()
    tmp.symlink_to(target)
    os.replace(tmp, LATEST)


def _read(path):
    try:
        return Path(path).read_text().strip()
    except OSError:
        return None


def environment():
    """What the run ran on: machine, kernel, CPU, governor, git state, interpreter."""
    cpu_model = None
    for line in (_read("/proc/cpuinfo") or "").splitlines():
        if line.startswith("model name"):
            cpu_model = line.split(":", 1)[1].strip()
            break
    status = git("status", "--porcelain", "--untracked-files=no")
    return {
        "git_commit": git("rev-parse", "HEAD") or None,
        "git_dirty": bool(status),
        "hostname": platform.node(),
        "kernel": platform.release(),
        "cpu_model": cpu_model,
        "cpus_online": os.cpu_count(),
        "cpus_allowed": sorted(os.sched_getaffinity(0)),
        "governor": _read("/sys/devices/system/cpu/cpu0/cpufreq/scaling_governor"),
        "smt": _read("/sys/devices/system/cpu/smt/active"),
        "sched_rt_runtime_us": _read("/proc/sys/kernel/sched_rt_runtime_us"),
        "python": sys.version.split()[0],
        "command": " ".join(sys.argv),
    }


def write_json(path, data):
    """Strict JSON (no NaN), written whole or not at all."""
    path = Path(path)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(data, indent=1, allow_nan=False) + "\n")
    os.replace(tmp, path)


def load_results(path):
    """results.json of a run folder (or the file itself); refuses unknown schema versions."""
    path = Path(path)
    if path.is_dir():
        path = path / "results.json"
    data = json.loads(path.read_text())
    version = data.get("schema_version")
    if version != SCHEMA_VERSION:
        raise ValueError(f"{path}: schema_version {version!r}; this run_all.py reads {SCHEMA_VERSION}")
    return data


# ---- one scenario from its repetitions --------------------------------------

def _median(values):
    values = [v for v in values if isinstance(v, (int, float))]
    return statistics.median(values) if values else None


def aggregate(entry):
    """Fills a scenario entry's status and figures from its repetitions (each kept as it was)."""
    reps = entry["repetitions"]
    statuses = [r["status"] for r in reps]
    if not reps or all(s == "not_run" for s in statuses):
        entry["status"] = "not_run"
    elif any(s in ("fail", "findings") for s in statuses):
        entry["status"] = "fail"
    elif any(s == "error" for s in statuses):
        entry["status"] = "error"
    elif any(s == "not_run" for s in statuses):
        entry["status"] = "partial"
    else:
        entry["status"] = "pass"
    good = [r for r in reps if r["status"] == "pass"]
    timing = entry["timing"]
    lat = [r.get("latency_ns") or {} for r in good] if timing else []
    entry["latency_ns"] = {k: _median([l.get(k) for l in lat]) for k in ("p50", "p90", "p99", "p999", "p9999")}
    maxes = [l.get("max") for l in lat if isinstance(l.get("max"), (int, float))]
    counts = [l.get("count") or 0 for l in lat]
    means = [(l.get("mean"), l.get("count") or 0) for l in lat if isinstance(l.get("mean"), (int, float))]
    entry["latency_ns"]["max"] = max(maxes) if maxes else None
    weight = sum(c for _, c in means)
    entry["latency_ns"]["mean"] = sum(m * c for m, c in means) / weight if weight else None
    entry["latency_ns"]["count"] = sum(counts) if lat else None
    tput = [r.get("throughput") or {} for r in good] if timing else []
    entry["throughput"] = {k: _median([t.get(k) for t in tput]) for k in ("msgs_per_s", "bytes_per_s")}
    entry["cpu_ns_per_msg"] = _median([r.get("cpu_ns_per_msg") for r in good]) if timing else None
    validation = {}
    for r in reps:
        for k, v in (r.get("validation") or {}).items():
            if isinstance(v, int):
                validation[k] = validation.get(k, 0) + v
    entry["validation"] = validation
    entry["findings"] = sum(len(r.get("findings") or []) for r in reps)
    return entry


def _key(e):
    p = e["params"]
    return (p["placement"], p["payload_bytes"], p["load.mode"])


def add_ratios(scenarios):
    """ratios.vs_floor and ratios.vs_best_peer of every ringside release timing result.

    Reference: same placement, payload and load mode, same group when there is
    one (adjacent in time), else anywhere in the run. Latency loads compare p50
    (ratio < 1 beats the reference); throughput loads compare msgs_per_s (> 1 beats).
    A Python host's result also gets ratios.vs_cpp_host: against the C++ host
    of the same scenario (every other parameter equal) in this run.
    """
    timed = [e for e in scenarios if e["variant"] == "release" and e["timing"] and e["status"] == "pass"]
    for e in scenarios:
        e["ratios"] = {"vs_floor": None, "vs_best_peer": None, "metric": None, "floor": None, "best_peer": None,
                       "vs_cpp_host": None, "cpp_host": None}
        if e not in timed or e["params"]["queue"] != "ringside":
            continue
        throughput = e["params"]["load.mode"] == "throughput"
        metric = "msgs_per_s" if throughput else "p50"
        value = (lambda x: x["throughput"]["msgs_per_s"]) if throughput else (lambda x: x["latency_ns"]["p50"])
        mine = value(e)
        if not mine:
            continue
        e["ratios"]["metric"] = metric
        spin = e["params"]["host.wait.kind"] in SPIN_WAITS
        floor_queue = "floor_cacheline" if spin else "floor_futex"
        same = [x for x in timed if _key(x) == _key(e) and value(x)]
        floors = _nearest(e, [x for x in same if x["params"]["queue"] == floor_queue])
        peers = _nearest(e, [x for x in same if x["params"]["queue"] in PEERS_FOR_RATIO
                             and x["params"]["transport"] == "threads"])
        if floors and not throughput:
            ref = min(floors, key=value)
            e["ratios"].update(vs_floor=mine / value(ref), floor=ref["id"])
        if peers:
            ref = max(peers, key=value) if throughput else min(peers, key=value)
            e["ratios"].update(vs_best_peer=mine / value(ref), best_peer=ref["id"])
        if e["params"].get("host_kind") == "python":
            twin = dict(e["params"], host_kind="cpp")
            cpp = [x for x in timed if x["params"] == twin and value(x)]
            if cpp:
                e["ratios"].update(vs_cpp_host=mine / value(cpp[0]), cpp_host=cpp[0]["id"])
    return scenarios


def _nearest(e, candidates):
    same_group = [x for x in candidates if set(x.get("groups", [])) & set(e.get("groups", []))]
    return same_group or candidates


# ---- the document ------------------------------------------------------------

def document(environment_info, scenarios, checkers, canaries, microbench, partial, extra=None):
    doc = {"schema_version": SCHEMA_VERSION, "partial": partial, "environment": environment_info,
           "scenarios": add_ratios(scenarios), "checkers": checkers, "canaries": canaries,
           "microbench": microbench}
    doc.update(extra or {})
    return doc


def rebase_files(doc, source, out):
    """Makes every repetition's file paths relative to `out` (they were relative to `source`)."""
    for s in doc["scenarios"]:
        for r in s["repetitions"]:
            r["files"] = {k: os.path.relpath(Path(source) / v, out) for k, v in (r.get("files") or {}).items()}
    for section in (doc["microbench"],):
        section["files"] = [os.path.relpath(Path(source) / f, out) for f in section.get("files", [])]
    return doc


def merge(docs, sources):
    """One document from shard documents: every scenario once, partial unless every shard is there.

    File paths stay relative to each source folder: call rebase_files first.
    """
    shards = [d["environment"].get("shard") for d in docs]
    totals = {s["count"] for s in shards if s}
    seen_shards = {s["index"] for s in shards if s}
    complete = len(totals) == 1 and seen_shards == set(range(1, next(iter(totals)) + 1))
    scenarios, index = [], {}
    for d in docs:
        for s in d["scenarios"]:
            key = (s["id"], s["variant"])
            if key not in index:
                index[key] = s
                scenarios.append(s)
            else:  # the same scenario in two shards: keep every repetition
                index[key]["repetitions"] += s["repetitions"]
                aggregate(index[key])
    canaries = {(c["name"], c["checker"]): c for d in docs for c in d["canaries"]}
    microbench = next((d["microbench"] for d in docs if d["microbench"].get("benchmarks")), docs[0]["microbench"])
    env = dict(docs[0]["environment"], shard=None, merged_from=[str(s) for s in sources],
               shard_environments=[d["environment"] for d in docs])
    partial = any(d.get("partial") for d in docs) or not complete
    extra = {"merge_complete": complete}
    if any("faults" in d for d in docs):  # fault scenarios run on one shard only: keep its records
        extra["faults"] = [f for d in docs for f in d.get("faults") or []]
    return document(env, scenarios, [c for d in docs for c in d["checkers"]], list(canaries.values()),
                    microbench, partial, extra)
