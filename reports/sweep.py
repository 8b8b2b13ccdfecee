"""Slices of a sweep for the cross-scenario plots: which scenarios differ only in the factors plotted."""

from collections import Counter, defaultdict

import numpy as np

# Parameters that are bookkeeping, not factors.
IGNORED = {"count", "duration_s", "warmup", "timeout_s", "patience_s", "interval_s", "file_dir", "ring_bytes",
           "downgrade"}


def rest_key(scenario, varying):
    """Every parameter except `varying` and bookkeeping ones, as a hashable key."""
    params = scenario.params
    return tuple(sorted((k, repr(v)) for k, v in params.items() if k not in varying and k not in IGNORED))


def best_slice(scenarios, varying, coordinates):
    """The scenarios that share the other parameters and cover the most distinct `coordinates`.

    varying: parameter names allowed to differ; coordinates(scenario) -> hashable.
    Returns (scenarios in the slice, the fixed parameters as a dict).
    """
    groups = defaultdict(list)
    for scenario in scenarios:
        groups[rest_key(scenario, varying)].append(scenario)
    if not groups:
        return [], {}
    key = max(groups, key=lambda k: (len({coordinates(s) for s in groups[k]}), len(groups[k])))
    return groups[key], dict(key)


def median_by(scenarios, coordinates, metric):
    """{coordinate: median of the scenarios' metric} (None metrics dropped)."""
    values = defaultdict(list)
    for scenario in scenarios:
        value = scenario.value(metric)
        if value is not None:
            values[coordinates(scenario)].append(value)
    return {k: float(np.median(v)) for k, v in values.items()}


def fixed_text(fixed, limit=6):
    """A short 'other parameters' caption for a plot."""
    interesting = [(k, v) for k, v in fixed.items() if not k.endswith((".nice", ".spin_limit", ".sleep_ns"))]
    counts = Counter(k.split(".")[0] for k, _ in interesting)
    parts = [f"{k}={v.strip(chr(39))}" for k, v in interesting if counts[k.split('.')[0]] <= 3][:limit]
    return ", ".join(parts)


def timing(scenarios):
    """Timing results that finished (status ok) and carry a p50."""
    return [s for s in scenarios if s.ok and s.value("p50") is not None]


def sched_label(scenario):
    """Which thread was boosted and how: 'none', 'host fifo 10', 'sidecar nice -10', 'both fifo 50'."""
    def side(name):
        policy = scenario.param(f"{name}.sched.policy", "other")
        if policy != "other":
            return f"{policy} {scenario.param(f'{name}.sched.priority', '')}"
        nice = scenario.param(f"{name}.sched.nice", 0)
        return f"nice {nice}" if nice else None
    host, sidecar = side("host"), side("sidecar")
    if host is None and sidecar is None:
        return "none"
    if host == sidecar:
        return f"both {host}"
    return ", ".join(f"{name} {value}" for name, value in (("host", host), ("sidecar", sidecar)) if value)
