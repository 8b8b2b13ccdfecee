"""results.json read into a Run: schema check, upgrades of older versions, uniform accessors."""

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

from .schema import CURRENT_SCHEMA, UPGRADES, SchemaError, schema_number, upgrade  # noqa: F401  (re-exported)

FLOORS = ("floor_cacheline", "floor_futex")
PEERS = ("ringside_ring", "boost_spsc", "moodycamel_rwq", "mutex_condvar")
PARKING_WAITS = ("futex", "eventfd", "sleep", "native")  # the rest compare with the cache-line floor (store.py SPIN_WAITS)
VALIDATION_FAULTS = ("lost", "duplicated", "reordered", "corrupted")


def flatten(tree, prefix=""):
    """Nested parameters as dotted names; lists stay leaves."""
    out = {}
    for key, value in (tree or {}).items():
        if isinstance(value, dict):
            out.update(flatten(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def number(value):
    """A finite float, or None (null, NaN, strings and booleans are not numbers)."""
    if value is None or isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if math.isfinite(value) else None


def cpu_per_msg(value):
    """CPU ns per message: the number itself, or a per-side object summed ('total' wins)."""
    if isinstance(value, dict):
        if number(value.get("total")) is not None:
            return number(value["total"])
        sides = [number(v.get("cpu_ns_per_message") if isinstance(v, dict) else v) for v in value.values()]
        sides = [v for v in sides if v is not None]
        return sum(sides) if sides else None
    return number(value)


METRICS = {
    # name: (label, getter over a figures dict, higher is better, unit)
    "p50": ("p50", lambda f: number((f.get("latency_ns") or {}).get("p50")), False, "ns"),
    "p99": ("p99", lambda f: number((f.get("latency_ns") or {}).get("p99")), False, "ns"),
    "p999": ("p99.9", lambda f: number((f.get("latency_ns") or {}).get("p999")), False, "ns"),
    "max": ("max", lambda f: number((f.get("latency_ns") or {}).get("max")), False, "ns"),
    "throughput": ("throughput", lambda f: number((f.get("throughput") or {}).get("msgs_per_s")), True, "msg/s"),
    "cpu": ("CPU/msg", lambda f: cpu_per_msg(f.get("cpu_ns_per_msg")), False, "ns"),
}


@dataclass
class Scenario:
    raw: dict
    run_dir: Path
    suffix: str = ""

    @property
    def id(self):
        return str(self.raw.get("id"))

    @property
    def key(self):
        """Unique within a run: results.json has one entry per (id, variant); release keeps the bare id."""
        return (self.id if self.variant == "release" else f"{self.id}@{self.variant}") + self.suffix

    @property
    def timing(self):
        """True for results that carry timing figures (release builds only)."""
        return bool(self.raw.get("timing", self.variant == "release"))

    @property
    def params(self):
        return flatten(self.raw.get("params") or {})

    def param(self, name, default=None):
        return self.params.get(name, default)

    @property
    def variant(self):
        return self.raw.get("variant") or "release"

    @property
    def status(self):
        return str(self.raw.get("status") or "unknown")

    @property
    def ok(self):
        return self.status in ("pass", "ok")

    @property
    def repetitions(self):
        return [r for r in self.raw.get("repetitions") or [] if isinstance(r, dict)]

    @property
    def latency(self):
        return self.raw.get("latency_ns") or {}

    def value(self, metric):
        return METRICS[metric][1](self.raw)

    def values(self, metric):
        """The metric of every repetition (None where a repetition has none)."""
        return [METRICS[metric][1](rep) for rep in self.repetitions]

    @property
    def queue(self):
        return self.param("queue", "ringside")

    @property
    def role(self):
        queue = self.queue
        return "floor" if queue in FLOORS or str(queue).startswith("floor") else (
            "peer" if queue in PEERS else "ringside")

    @property
    def payload(self):
        return number(self.param("payload_bytes"))

    @property
    def wait(self):
        host, sidecar = self.param("host.wait.kind"), self.param("sidecar.wait.kind")
        if host is None and sidecar is None:
            return str(self.param("wait", "?"))
        return str(sidecar or host) if host in (None, sidecar) or sidecar is None else f"{host}/{sidecar}"

    @property
    def parks(self):
        return any(self.param(f"{side}.wait.kind") in PARKING_WAITS for side in ("host", "sidecar"))

    @property
    def load_mode(self):
        return self.param("load.mode", "closed")

    @property
    def ratios(self):
        return self.raw.get("ratios") or {}

    def validation_failures(self):
        """Non-zero lost, duplicated, reordered or corrupted counts (summed over repetitions), and sent != received."""
        counts = self.raw.get("validation") or {}
        bad = {k: v for k, v in counts.items() if k in VALIDATION_FAULTS and number(v)}
        sent, received = number(counts.get("sent")), number(counts.get("received"))
        if sent is not None and received is not None and sent != received:
            bad["missing"] = sent - received
        return bad

    @property
    def floor_id(self):
        return self.ratios.get("floor") or self.ratios.get("floor_id") or self.raw.get("floor_id")

    @property
    def best_peer_id(self):
        return self.ratios.get("best_peer") or self.ratios.get("best_peer_id")

    def files(self, kind):
        """Existing paths of `kind` ('hgrm', 'hlog', 'hgrm_uncorrected', 'log') per repetition (None where absent)."""
        out = []
        for rep in self.repetitions or [self.raw]:
            name = (rep.get("files") or {}).get(kind)
            path = self.run_dir / name if name else None
            out.append(path if path is not None and path.is_file() else None)
        return out

    def grants(self):
        """Every scheduling read-back ({requested, policy, priority, nice, cpus, as_requested}), labelled."""
        found = []

        def walk(node, where, depth):
            if not isinstance(node, dict) or depth > 4:
                return
            if "as_requested" in node and "requested" in node:
                found.append((where, node))
                return
            for key, value in node.items():
                if key not in ("params", "latency_ns", "throughput", "validation", "files"):
                    walk(value, f"{where}.{key}" if where else key, depth + 1)
                    if isinstance(value, list):
                        for i, item in enumerate(value[:64]):
                            walk(item, f"{where}.{key}[{i}]" if where else f"{key}[{i}]", depth + 1)

        walk(self.raw, "", 0)
        return found


@dataclass
class Run:
    path: Path
    document: dict
    scenarios: list = field(default_factory=list)

    @property
    def environment(self):
        return self.document.get("environment") or {}

    @property
    def checkers(self):
        checkers = self.document.get("checkers") or []
        if isinstance(checkers, dict):
            return [dict(value, name=value.get("name", name)) if isinstance(value, dict)
                    else {"name": name, "status": value} for name, value in checkers.items()]
        return [c for c in checkers if isinstance(c, dict)]

    @property
    def canaries(self):
        return [c for c in self.document.get("canaries") or [] if isinstance(c, dict)]

    @property
    def faults(self):
        """Fault scenarios (crash trials, bad inputs, fuzzing: harness/runall/faults.py), each with its `summary`."""
        return [f for f in self.document.get("faults") or [] if isinstance(f, dict)]

    @property
    def microbench(self):
        """Google Benchmark rows: name, real_time_ns, cpu_time_ns, iterations (older real_time/time_unit read too)."""
        micro = self.document.get("microbench") or []
        if isinstance(micro, dict):
            micro = micro.get("benchmarks") or []
        rows = []
        for m in (m for m in micro if isinstance(m, dict)):
            scale = {"ns": 1, "us": 1e3, "ms": 1e6, "s": 1e9}.get(m.get("time_unit", "ns"), 1)
            row = dict(m)
            for key in ("real_time", "cpu_time"):
                if number(row.get(f"{key}_ns")) is None and number(row.get(key)) is not None:
                    row[f"{key}_ns"] = row[key] * scale
            rows.append(row)
        return rows

    @property
    def microbench_status(self):
        micro = self.document.get("microbench")
        return micro.get("status") if isinstance(micro, dict) else None

    def setting(self, name):
        """An environment value: results.json's own, else the runner's block, else the first repetition's."""
        env = self.environment
        if env.get(name) is not None:
            return env[name]
        runner = env.get("runner") or {}
        if runner.get(name) is not None:
            return runner[name]
        for scenario in self.scenarios[:50]:
            for rep in scenario.repetitions:
                value = (rep.get("runner_environment") or {}).get(name)
                if value is not None:
                    return value
        return None

    def full_environment(self):
        """The environment with the runner's block (from the first repetition when results.json has none)."""
        env = dict(self.environment)
        if "runner" not in env:
            for scenario in self.scenarios[:50]:
                block = next((r.get("runner_environment") for r in scenario.repetitions
                              if r.get("runner_environment")), None)
                if block:
                    env["runner"] = block
                    break
        return env

    def memcpy_bytes_per_s(self):
        """The machine's memcpy bandwidth: from the environment, else a 'memcpy' microbenchmark, else None."""
        for key in ("memcpy_bytes_per_s", "memcpy_bandwidth_bytes_per_s"):
            if number(self.setting(key)) is not None:
                return number(self.setting(key))
        rates = [number(m.get("bytes_per_second")) for m in self.microbench if "memcpy" in str(m.get("name")).lower()]
        rates = [r for r in rates if r is not None]
        return max(rates) if rates else None

    def memcpy_by_payload(self):
        """{payload bytes: memcpy bytes/s} from ringside_memcpy_bench's memcpy/<payload> rows (medians), else {}."""
        rates = {}
        for m in self.microbench:
            head, _, size = str(m.get("name") or "").partition("/")
            size = size.split("_")[0]
            rate = number(m.get("bytes_per_second"))
            if head == "memcpy" and size.isdigit() and rate is not None and m.get("aggregate") in (None, "median"):
                rates.setdefault(int(size), []).append(rate)
        return {size: sorted(values)[len(values) // 2] for size, values in sorted(rates.items())}

    def by_key(self):
        return {s.key: s for s in self.scenarios}

    @property
    def timed(self):
        """Release timing results (the only ones that carry figures)."""
        return [s for s in self.scenarios if s.timing]

    def floor_for(self, scenario):
        """The floor measured next to `scenario` (results.json's ratios.floor, else the closest match), or None."""
        if scenario.role == "floor":
            return scenario
        explicit = scenario.floor_id
        if explicit and explicit in self.by_key():
            return self.by_key()[explicit]
        wanted = "floor_futex" if scenario.parks else "floor_cacheline"
        best, best_score = None, -1
        for other in self.timed:
            if other.role != "floor":
                continue
            same_group = bool(set(other.raw.get("groups") or []) & set(scenario.raw.get("groups") or []))
            score = (8 * same_group + 4 * (other.queue == wanted) + 4 * (other.load_mode == scenario.load_mode) + 2 * (other.payload == scenario.payload)
                     + 2 * (other.param("placement") == scenario.param("placement"))
                     + (other.param("transport") == scenario.param("transport")))
            if score > best_score:
                best, best_score = other, score
        return best


def load_run(run_dir):
    """The Run in `run_dir` (a folder holding results.json, or the file itself)."""
    path = Path(run_dir)
    file = path / "results.json" if path.is_dir() else path
    if not file.is_file():
        raise FileNotFoundError(f"{file}: no results.json here")
    try:
        document = json.loads(file.read_text())
    except json.JSONDecodeError as error:
        raise SchemaError(f"{file}: not valid JSON ({error})") from None
    document = upgrade(document, file)
    scenarios = [Scenario(s, file.parent) for s in document.get("scenarios") or [] if isinstance(s, dict)]
    seen = {}
    for scenario in scenarios:  # one entry per (id, variant) by the schema; a repeat is kept, renamed
        seen[scenario.key] = seen.get(scenario.key, 0) + 1
        if seen[scenario.key] > 1:
            scenario.suffix = f"#{seen[scenario.key]}"
    return Run(file.parent, document, scenarios)
