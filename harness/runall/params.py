"""The runner's scenario parameters: names, types, ranges and defaults (ringside-scenario/1).

This mirrors harness/runner/scenario.hpp (the runner's README documents each
field). It is the one place run_all.py knows the runner's parameter set.
"""

from dataclasses import dataclass

SCENARIO_SCHEMA = "ringside-scenario/1"

QUEUES = ("ringside", "ringside_ring", "boost_spsc", "moodycamel_rwq", "mutex_condvar",
          "floor_cacheline", "floor_futex", "tracer")
PEERS = ("ringside_ring", "boost_spsc", "moodycamel_rwq", "mutex_condvar")
FLOORS = ("floor_cacheline", "floor_futex")
WAITS = ("busy_spin", "spin_pause", "yield", "sleep", "futex", "eventfd", "hybrid", "native")
POLICIES = ("other", "fifo", "rr")


@dataclass(frozen=True)
class Param:
    kind: str            # "enum", "int", "float", "bool", "str", "cpus"
    default: object
    low: float = 0
    high: float = 0
    choices: tuple = ()

    def check(self, value):
        """None when value is acceptable, else what is wrong with it."""
        if self.kind == "enum":
            return None if value in self.choices else f"must be one of {', '.join(self.choices)}, not {value!r}"
        if self.kind == "bool":
            return None if isinstance(value, bool) else f"must be true or false, not {value!r}"
        if self.kind == "str":
            return None if isinstance(value, str) else f"must be a string, not {value!r}"
        if self.kind == "cpus":
            ok = isinstance(value, list) and all(isinstance(c, int) and not isinstance(c, bool)
                                                 and 0 <= c <= 1023 for c in value)
            return None if ok else f"must be a list of CPU numbers 0..1023, not {value!r}"
        numeric = isinstance(value, (int, float)) and not isinstance(value, bool)
        if self.kind == "int" and not (numeric and float(value).is_integer()):
            return f"must be an integer, not {value!r}"
        if not numeric:
            return f"must be a number, not {value!r}"
        if not self.low <= value <= self.high:
            return f"must be between {_num(self.low)} and {_num(self.high)}, not {value!r}"
        return None


def _num(x):
    return str(int(x)) if float(x).is_integer() else str(x)


def _side(prefix):
    return {
        f"{prefix}.wait.kind": Param("enum", "busy_spin", choices=WAITS),
        f"{prefix}.wait.spin_limit": Param("int", 4096, 0, 1e9),
        f"{prefix}.wait.sleep_ns": Param("int", 1_000_000, 1, 1e9),
        f"{prefix}.sched.policy": Param("enum", "other", choices=POLICIES),
        f"{prefix}.sched.priority": Param("int", 0, 0, 99),
        f"{prefix}.sched.nice": Param("int", 0, -20, 19),
        f"{prefix}.cpu": Param("int", -1, -1, 1023),
    }


# Flat, dotted names; the JSON spec nests them ("host.wait.kind" -> host: {wait: {kind}}).
PARAMS = {
    "queue": Param("enum", "ringside", choices=QUEUES),
    "transport": Param("enum", "threads", choices=("threads", "processes")),
    "backing": Param("enum", "shm", choices=("shm", "file")),
    "delivery": Param("enum", "vtable", choices=("vtable", "ring")),
    "payload_bytes": Param("int", 8, 8, 16 << 20),
    "ring_bytes": Param("int", 0, 0, 1 << 30),
    **_side("host"),
    **_side("sidecar"),
    "placement": Param("enum", "different_cores", choices=("different_cores", "same_core", "unpinned")),
    "contention.threads": Param("int", 0, 0, 64),
    "contention.processes": Param("bool", False),
    "contention.sched.policy": Param("enum", "other", choices=POLICIES),
    "contention.sched.priority": Param("int", 0, 0, 99),
    "contention.sched.nice": Param("int", 0, -20, 19),
    "contention.cpus": Param("cpus", []),
    "load.mode": Param("enum", "closed", choices=("closed", "open", "throughput")),
    "load.rate_per_s": Param("float", 0, 0, 1e9),
    "load.burst": Param("int", 1, 1, 4096),
    "count": Param("int", 0, 0, 4e9),
    "duration_s": Param("float", 0, 0, 3600),
    "warmup": Param("int", 1000, 0, 1e8),
    "host_kind": Param("enum", "cpp", choices=("cpp", "python")),
    "timeout_s": Param("float", 60, 0.001, 86400),
    "patience_s": Param("float", 5, 0.001, 3600),
    "interval_s": Param("float", 1, 0.001, 3600),
    "downgrade": Param("bool", False),
    "file_dir": Param("str", "/tmp"),
}

# Watchdog and bookkeeping fields: they do not change what is measured, so they
# stay out of the stable id (a longer timeout must not break comparisons).
NOT_IN_ID = frozenset({"timeout_s", "patience_s", "interval_s", "file_dir"})
# Parameters added after ids were in use: left out of the id at their default,
# so every scenario written before them keeps its id.
IN_ID_UNLESS_DEFAULT = frozenset({"contention.processes"})


def defaults():
    return {name: (list(p.default) if isinstance(p.default, list) else p.default) for name, p in PARAMS.items()}


def normalise(name, value):
    """TOML gives 1 for 1.0; the runner wants integers as integers and floats as numbers."""
    kind = PARAMS[name].kind
    if kind == "int":
        return int(value)
    if kind == "float":
        return float(value)
    return value


def nest(flat):
    """{"host.wait.kind": "futex"} -> {"host": {"wait": {"kind": "futex"}}}."""
    out = {}
    for name, value in flat.items():
        node = out
        *parents, leaf = name.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    return out


def flatten(tree, prefix=""):
    """The inverse of nest(); stops at known parameter names (contention.cpus is a leaf list)."""
    out = {}
    for key, value in tree.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and name not in PARAMS:
            out.update(flatten(value, name + "."))
        else:
            out[name] = value
    return out
