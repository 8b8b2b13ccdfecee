"""How long a scenario run takes: from earlier runs when known, else from a cost model."""

import json
import statistics
from pathlib import Path

# Round trip of one message on this kind of machine (2 shared vCPUs), release build.
ROUND_TRIP_NS = {  # (wait kind, same core?) -> ns
    "busy_spin": (600, 4_000_000), "spin_pause": (700, 4_000_000), "yield": (2_000, 4_000),
    "sleep": (None, None), "futex": (15_000, 8_000), "eventfd": (18_000, 10_000),
    "hybrid": (4_000, 8_000), "native": (15_000, 8_000),
}
VARIANT_FACTOR = {"release": 1.0, "asan": 3.0, "tsan": 8.0, "valgrind": 60.0}
START_S = {"release": 0.6, "asan": 1.0, "tsan": 1.5, "valgrind": 4.0}  # measured: 0.27 s median, 0.7 s mean at load 10
BYTES_NS = 0.5  # copy + checksum, per payload byte, each direction


def message_ns(p):
    same = p["placement"] == "same_core"
    costs = []
    for side in ("host", "sidecar"):
        wait = p[f"{side}.wait.kind"]
        if wait == "sleep":
            costs.append(p[f"{side}.wait.sleep_ns"] + 60_000)
        else:
            costs.append(ROUND_TRIP_NS.get(wait, (20_000, 20_000))[1 if same else 0])
    ns = max(costs) + 2 * BYTES_NS * p["payload_bytes"]
    if p["transport"] == "processes":
        ns *= 1.1
    if p["contention.threads"]:
        ns *= 2
    if p["load.mode"] == "throughput":
        ns /= 4
    return ns


def model_seconds(p, variant="release"):
    """Wall time of one run of resolved parameters p in a variant."""
    factor = VARIANT_FACTOR.get(variant, 1.0)
    start = START_S.get(variant, 0.5) + (0.3 if p["transport"] == "processes" else 0)
    per = message_ns(p) * factor / 1e9
    warm = p["warmup"] * per
    if p["load.mode"] == "open" and p["load.rate_per_s"] > 0:
        per = max(per, 1 / p["load.rate_per_s"])
    if p["duration_s"]:
        return start + warm + p["duration_s"]
    return start + warm + (p["count"] or 100_000) * per


class History:
    """Wall seconds of earlier runs, per (scenario id, variant), from results.json files."""

    def __init__(self, results_files=()):
        self.seconds = {}
        for path in results_files:
            try:
                data = json.loads(Path(path).read_text())
            except (OSError, ValueError):
                continue
            for s in data.get("scenarios", []):
                walls = [r.get("wall_s") for r in s.get("repetitions", []) if r.get("wall_s")]
                if walls:
                    self.seconds.setdefault((s["id"], s["variant"]), []).extend(walls)

    def get(self, scenario_id, variant):
        walls = self.seconds.get((scenario_id, variant))
        return statistics.median(walls) if walls else None


def run_seconds(scenario, variant, params, history=None):
    """One repetition; params are the parameters the variant will really run (scaled)."""
    known = history.get(scenario.id, variant) if history else None
    return known if known is not None else model_seconds(params, variant)
