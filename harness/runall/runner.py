"""ADAPTER: the one place that knows how to invoke ringside-runner and read what it writes.

PROVISIONAL until harness/runner/README.md documents the runner's interface:
the command line and result fields below are read from harness/runner/run.hpp
and scenario.hpp as they were being written. Everything else in run_all.py
goes through command(), outputs() and read_result().

Runner contract assumed here:
  ringside-runner --spec SPEC.json --out PREFIX
  writes PREFIX.json (strict JSON, "schema": "ringside-result/1"), PREFIX.hgrm
  and PREFIX.hlog; exit 0 pass, 1 fail (validation), 3 error (watchdog
  included), 128+N killed by signal N.
  RINGSIDE_RUNNER=/path overrides the binary (tests use a fake runner).
"""

import json
import os
from pathlib import Path

RESULT_SCHEMAS = ("ringside-result/1",)
EXIT_STATUS = {0: "pass", 1: "fail", 3: "error"}
PERCENTILES = ("p50", "p90", "p99", "p999", "p9999", "max", "mean", "count")
VALIDATION = ("sent", "received", "lost", "duplicated", "reordered", "corrupted")
CANDIDATES = ("harness/runner/ringside-runner", "harness/ringside-runner", "bin/ringside-runner")
TARGET = "ringside-runner"


def binary(build_dir):
    """The runner of a build tree, or None when it is not built (yet)."""
    if override := os.environ.get("RINGSIDE_RUNNER"):
        return Path(override)
    for rel in CANDIDATES:
        path = Path(build_dir) / rel
        if path.is_file() and os.access(path, os.X_OK):
            return path
    return None


def command(runner, spec_path, out_prefix):
    return [str(runner), "--spec", str(spec_path), "--out", str(out_prefix)]


def outputs(out_prefix):
    prefix = str(out_prefix)
    return {"result": Path(prefix + ".json"), "hgrm": Path(prefix + ".hgrm"), "hlog": Path(prefix + ".hlog")}


def _get(doc, *paths, default=None):
    """The first of several dotted paths present in doc (the runner's field names may still move)."""
    for path in paths:
        node = doc
        for part in path.split("."):
            if not isinstance(node, dict) or part not in node:
                break
            node = node[part]
        else:
            return node
    return default


def read_result(path):
    """The runner's result, reduced to the figures results.json keeps; None when missing or unreadable.

    Raises ValueError on a result of a schema this adapter does not know.
    """
    try:
        doc = json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return None
    schema = doc.get("schema")
    if schema not in RESULT_SCHEMAS:
        raise ValueError(f"{path}: result schema {schema!r}, expected one of {', '.join(RESULT_SCHEMAS)}")
    latency = _get(doc, "latency_ns", "latency", default={}) or {}
    validation = _get(doc, "validation", default={}) or {}
    throughput = _get(doc, "throughput", default={}) or {}
    cpu = _get(doc, "cpu_ns_per_msg", "cost.cpu_ns_per_msg", default=None)
    if isinstance(cpu, dict):  # per side: the sum is the cost of a message
        cpu = sum(v for v in cpu.values() if isinstance(v, (int, float))) or None
    return {
        "status": doc.get("status"),
        "error": _get(doc, "error", "message"),
        "latency_ns": {k: latency.get(k) for k in PERCENTILES},
        "throughput": {"msgs_per_s": throughput.get("msgs_per_s"), "bytes_per_s": throughput.get("bytes_per_s")},
        "cpu_ns_per_msg": cpu,
        "validation": {k: validation.get(k) for k in VALIDATION},
        "environment": _get(doc, "environment", default={}),
        "granted": _get(doc, "granted", "environment.granted", default=None),
    }


def validation_failed(result):
    v = result.get("validation") or {}
    sent, received = v.get("sent"), v.get("received")
    bad = any(v.get(k) for k in ("lost", "duplicated", "reordered", "corrupted"))
    return bad or (sent is not None and received is not None and sent != received)
