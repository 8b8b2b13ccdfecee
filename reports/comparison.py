"""Base vs candidate, scenario by scenario: changes, verdicts, machine drift, environment differences."""

import math
from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from . import stats
from .results import METRICS

# Environment keys whose difference makes two runs not comparable.
NOT_COMPARABLE = {"cpu_model": "CPU", "kernel": "kernel", "build_variant": "build variant"}
ENV_SKIP = {"hostname", "steal", "clock", "cpus_allowed"}
ORDER = {stats.REGRESSED: 0, stats.IMPROVED: 1, stats.INCONCLUSIVE: 2, stats.UNCHANGED: 3}


@dataclass
class MetricChange:
    metric: str
    label: str
    threshold: float
    raw: stats.Change
    norm: stats.Change | None
    judged_on: str              # "absolute" or "normalised"

    @property
    def judged(self):
        return self.norm if self.judged_on == "normalised" and self.norm is not None else self.raw

    @property
    def verdict(self):
        return self.judged.verdict


@dataclass
class Pair:
    id: str
    base: object
    cand: object
    changes: dict = field(default_factory=dict)
    role: str = "ringside"

    @property
    def verdict(self):
        """regressed or improved if any metric is; else unchanged if any metric is; else inconclusive."""
        verdicts = [c.verdict for c in self.changes.values()] or [stats.INCONCLUSIVE]
        order = dict(ORDER, **{stats.UNCHANGED: 2, stats.INCONCLUSIVE: 3})
        return min(verdicts, key=order.get)

    @property
    def summary(self):
        counts = Counter(c.verdict for c in self.changes.values())
        rest = ", ".join(f"{n} {v}" for v, n in counts.items() if v != self.verdict)
        return self.verdict + (f" ({rest})" if rest else "")


def normalised_values(run, scenario, metric):
    """The metric over the adjacent floor's, repetition by repetition (they were interleaved), or None."""
    floor = run.floor_for(scenario)
    if floor is None or floor is scenario:
        return None
    mine, theirs = scenario.values(metric), floor.values(metric)
    if len(mine) == len(theirs):
        return [m / f if m is not None and f else None for m, f in zip(mine, theirs)]
    median = np.median(stats.clean(theirs)) if len(stats.clean(theirs)) else None
    return [m / median if m is not None and median else None for m in mine] if median else None


def grants_summary(run, ids):
    """The granted scheduling of every read-back in scenarios `ids`, as a set of strings (to spot differences)."""
    out = set()
    for scenario in (s for s in run.scenarios if s.id in ids):
        for where, g in scenario.grants():
            side = where.rsplit(".", 1)[-1]
            out.add(f"{scenario.id} {side}: {g.get('policy')} {g.get('priority')} nice {g.get('nice')}")
    return out


def environment_diff(base, cand):
    """Rows (key, base value, candidate value, differs) over both environments (nested keys dotted)."""
    def flat(env, prefix=""):
        out = {}
        for key, value in env.items():
            if key in ENV_SKIP and not prefix:
                continue
            if isinstance(value, dict):
                out.update(flat(value, f"{prefix}{key}."))
            else:
                out[f"{prefix}{key}"] = value
        return out
    b, c = flat(base.environment), flat(cand.environment)
    return [(key, b.get(key), c.get(key), b.get(key) != c.get(key)) for key in sorted(set(b) | set(c))]


class Comparison:
    def __init__(self, base, cand, thresholds=None, alpha=stats.ALPHA, min_reps=stats.MIN_REPETITIONS):
        self.base, self.cand, self.alpha, self.min_reps = base, cand, alpha, min_reps
        self.thresholds = {m: stats.DEFAULT_THRESHOLD for m in METRICS}
        unknown = set(thresholds or {}) - set(METRICS)
        if unknown:
            raise ValueError(f"unknown metric(s) in thresholds: {', '.join(sorted(unknown))}; "
                             f"known: {', '.join(METRICS)}")
        self.thresholds.update(thresholds or {})
        b, c = base.by_id(), cand.by_id()
        self.added = sorted(set(c) - set(b))
        self.removed = sorted(set(b) - set(c))
        self.failed = sorted(i for i in set(b) & set(c) if not c[i].ok or not b[i].ok)
        common = sorted(i for i in set(b) & set(c) if i not in self.failed)
        self.warnings = self._comparability()
        self.env_diff = environment_diff(base, cand)
        self.floors = [self._pair(b[i], c[i], "absolute") for i in common if c[i].role == "floor"]
        moved = [p for p in self.floors if p.changes["p50"].raw.verdict in (stats.REGRESSED, stats.IMPROVED)]
        self.machine_changed = bool(self.floors) and len(moved) * 2 >= len(self.floors)
        self.normalised = self.machine_changed
        self.machine_note = self._machine_note(moved) if self.machine_changed else ""
        judged_on = "normalised" if self.normalised else "absolute"
        self.pairs = self.floors + [self._pair(b[i], c[i], judged_on) for i in common if c[i].role != "floor"]
        self.pairs.sort(key=lambda p: p.id)

    def _pair(self, base, cand, judged_on):
        pair = Pair(base.id, base, cand, role=cand.role)
        for seed, (metric, (label, _get, higher, _unit)) in enumerate(METRICS.items()):
            threshold = self.thresholds[metric]
            kwargs = dict(higher_is_better=higher, threshold=threshold, alpha=self.alpha, seed=seed,
                          min_repetitions=self.min_reps)
            raw = stats.judge(base.values(metric), cand.values(metric), **kwargs)
            nb, nc = normalised_values(self.base, base, metric), normalised_values(self.cand, cand, metric)
            norm = stats.judge(nb, nc, **kwargs) if nb is not None and nc is not None else None
            if judged_on == "normalised" and norm is None:
                norm = stats.Change(raw.base_median, raw.cand_median, raw.change, None, None, stats.INCONCLUSIVE,
                                    "the machine changed and this scenario has no adjacent floor to normalise by")
            pair.changes[metric] = MetricChange(metric, label, threshold, raw, norm, judged_on)
        return pair

    def _comparability(self):
        warnings = []
        env_b, env_c = self.base.environment, self.cand.environment
        for key, name in NOT_COMPARABLE.items():
            if env_b.get(key) != env_c.get(key):
                warnings.append(f"not comparable: {name} differs ({env_b.get(key)!r} vs {env_c.get(key)!r})")
        variants_b = {s.variant for s in self.base.scenarios}
        variants_c = {s.variant for s in self.cand.scenarios}
        if variants_b != variants_c and env_b.get("build_variant") == env_c.get("build_variant"):
            warnings.append(f"not comparable: build variants differ ({sorted(variants_b)} vs {sorted(variants_c)})")
        common = {s.id for s in self.base.scenarios} & {s.id for s in self.cand.scenarios}
        gb, gc = grants_summary(self.base, common), grants_summary(self.cand, common)
        differing = sorted((gb ^ gc))
        if differing:
            ids = sorted({line.split(" ")[0] for line in differing})
            warnings.append(f"not comparable: granted priorities differ in {len(ids)} scenario(s), e.g. "
                            f"{ids[0]}")
        return warnings

    def _machine_note(self, moved):
        ratios = [1 + p.changes["p50"].raw.change for p in self.floors if p.changes["p50"].raw.change is not None]
        mean = stats.geometric_mean_ratio(ratios)
        return (f"{len(moved)} of {len(self.floors)} floors moved beyond the noise (geometric mean of floor p50: "
                f"{mean - 1:+.1%}); the machine changed between the runs, so scenarios are judged on figures "
                f"normalised by their adjacent floor.")

    # ---- summaries ----
    def judged_pairs(self):
        """Pairs whose verdicts count (floors measure the machine, not ringside)."""
        return [p for p in self.pairs if p.role != "floor"]

    def regressions(self):
        return [(p, c) for p in self.judged_pairs() for c in p.changes.values() if c.verdict == stats.REGRESSED]

    def verdict_counts(self):
        counts = Counter(c.verdict for p in self.judged_pairs() for c in p.changes.values())
        return {k: counts.get(k, 0) for k in (stats.REGRESSED, stats.IMPROVED, stats.UNCHANGED, stats.INCONCLUSIVE)}

    def inconclusive_reasons(self):
        reasons = Counter()
        for p in self.judged_pairs():
            for c in p.changes.values():
                if c.verdict == stats.INCONCLUSIVE:
                    reasons[c.judged.reason.split(":")[0]] += 1
        return reasons

    def geomeans(self):
        """{metric: (raw ratio, normalised ratio)} over ringside pairs' medians."""
        out = {}
        ring = [p for p in self.judged_pairs() if p.role == "ringside"]
        for metric in METRICS:
            raw = [1 + p.changes[metric].raw.change for p in ring if p.changes[metric].raw.change is not None]
            norm = [1 + p.changes[metric].norm.change for p in ring
                    if p.changes[metric].norm is not None and p.changes[metric].norm.change is not None]
            out[metric] = (stats.geometric_mean_ratio(raw), stats.geometric_mean_ratio(norm))
        return out

    @property
    def geomean_line(self):
        parts = []
        for metric, (raw, norm) in self.geomeans().items():
            if raw is None:
                continue
            text = f"{METRICS[metric][0]} {raw - 1:+.1%}"
            if norm is not None:
                text += f" ({norm - 1:+.1%} vs floor)"
            parts.append(text)
        count = len([p for p in self.judged_pairs() if p.role == "ringside"])
        return f"geometric mean over {count} ringside scenarios: " + (", ".join(parts) or "no figures")

    @property
    def verdict_line(self):
        regressions = self.regressions()
        counts = self.verdict_counts()
        tests = sum(counts.values())
        if regressions:
            scenarios = len({p.id for p, _ in regressions})
            head = f"REGRESSED: {len(regressions)} metric(s) in {scenarios} scenario(s)"
        else:
            head = "no regression"
        tail = (f"{counts[stats.IMPROVED]} improved, {counts[stats.UNCHANGED]} unchanged, "
                f"{counts[stats.INCONCLUSIVE]} inconclusive of {tests} metric tests")
        machine = "; machine changed (judged vs floor)" if self.machine_changed else ""
        comparable = "; NOT COMPARABLE environments" if self.warnings else ""
        return f"{head} ({tail}){machine}{comparable}"


def fmt_change(change):
    return "n/a" if change is None or not math.isfinite(change) else f"{change:+.1%}"
