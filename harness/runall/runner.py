"""ADAPTER: the one place that knows how to invoke ringside-runner and read what it writes.

Interface (harness/runner/README.md):
  ringside-runner --spec SPEC.json --output PREFIX
  writes PREFIX.json (strict JSON, "schema": "ringside-result/1"), PREFIX.hgrm,
  PREFIX.hlog (and PREFIX.uncorrected.hgrm for open loop); exit 0 pass, 1 fail
  (validation), 2 rejected or usage, 3 error (watchdog included), 128+N
  killed by signal N. --validate-only checks a spec (0 valid, 2 rejected).
  RINGSIDE_RUNNER=/path overrides the binary (tests use a fake runner).
Everything else in run_all.py goes through command(), outputs() and read_result().
"""

import json
import os
from pathlib import Path

RESULT_SCHEMAS = ("ringside-result/1",)
EXIT_STATUS = {0: "pass", 1: "fail", 2: "rejected", 3: "error"}
PERCENTILES = ("p50", "p90", "p99", "p999", "p9999", "max", "mean", "count")
VALIDATION = ("sent", "received", "lost", "duplicated", "reordered", "corrupted")
CANDIDATES = ("harness/runner/ringside-runner", "harness/ringside-runner", "bin/ringside-runner")
TARGET = "ringside-runner"
CMAKE_TARGET = "ringside_runner"


def binary(build_dir):
    """The runner of a build tree, or None when it is not built (yet)."""
    if override := os.environ.get("RINGSIDE_RUNNER"):
        return Path(override)
    for rel in CANDIDATES:
        path = Path(build_dir) / rel
        if path.is_file() and os.access(path, os.X_OK):
            return path
    return None


INJECT = "RINGSIDE_RUNALL_INJECT"  # test mode: passed to every run as --inject (e.g. slow:20000)


def command(runner, spec_path, out_prefix):
    inject = os.environ.get(INJECT)
    return [str(runner), "--spec", str(spec_path), "--output", str(out_prefix), *(["--inject", inject] if inject else [])]


def validate_command(runner, spec_path):
    return [str(runner), "--spec", str(spec_path), "--validate-only"]


def outputs(out_prefix):
    prefix = str(out_prefix)
    return {"result": Path(prefix + ".json"), "hgrm": Path(prefix + ".hgrm"), "hlog": Path(prefix + ".hlog"),
            "hgrm_uncorrected": Path(prefix + ".uncorrected.hgrm")}


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


# results.json name -> the runner's name inside latency_ns
LATENCY_FIELDS = {"p50": "p50_ns", "p90": "p90_ns", "p99": "p99_ns", "p999": "p99_9_ns", "p9999": "p99_99_ns",
                  "max": "max_ns", "mean": "mean_ns", "count": "count"}


def latency(block):
    """The runner's latency block in results.json's names (null stays null)."""
    if not isinstance(block, dict):
        return {k: None for k in LATENCY_FIELDS}
    return {k: block.get(v) for k, v in LATENCY_FIELDS.items()}


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
    throughput = doc.get("throughput") or {}
    total = _get(doc, "validation.total", default={}) or {}
    sides = [_get(doc, f"cost.{side}.cpu_ns_per_message") for side in ("host", "sidecar")]
    sides = [v for v in sides if isinstance(v, (int, float))]
    return {
        "status": doc.get("status"),
        "error": "; ".join([*(doc.get("failures") or []), *([doc["error"]] if doc.get("error") else [])]) or None,
        "latency_ns": latency(doc.get("latency_ns")),
        "latency_uncorrected_ns": latency(doc["latency_uncorrected_ns"]) if doc.get("latency_uncorrected_ns") else None,
        "throughput": {"msgs_per_s": throughput.get("round_trips_per_s"),
                       "bytes_per_s": throughput.get("payload_bytes_per_s")},
        "cpu_ns_per_msg": sum(sides) if sides else None,
        "validation": {k: total.get(k) for k in VALIDATION},
        "validation_ok": _get(doc, "validation.ok"),
        "measured": doc.get("measured"),
        "granted": doc.get("granted"),
        "clock": doc.get("clock"),
        "disturbance": doc.get("disturbance"),
        "environment": doc.get("environment") or {},
    }


def validation_failed(result):
    v = result.get("validation") or {}
    sent, received = v.get("sent"), v.get("received")
    bad = result.get("validation_ok") is False or any(v.get(k) for k in ("lost", "duplicated", "reordered",
                                                                          "corrupted"))
    return bad or (sent is not None and received is not None and sent != received)
