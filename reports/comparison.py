"""Base vs candidate, scenario by scenario: changes, verdicts, machine drift, environment differences."""

import math
from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from . import stats
from .results import METRICS

# Environment keys whose difference makes two runs not comparable.
NOT_COMPARABLE = {"cpu_model": "CPU", "kernel": "kernel"}
ENV_SKIP = {"steal", "clock", "command", "started_utc", "finished_utc", "builds", "shard", "pattern",
            "scenario_files", "merged_from", "shard_environments", "test_summary", "per_cpu", "tid"}
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
    for scenario in (s for s in run.scenarios if s.key in ids):
        for where, g in scenario.grants():
            side = where.rsplit(".", 1)[-1]
            side = side.split("[")[0]
            out.add(f"{scenario.key} {side}: {g.get('policy')} {g.get('priority')} nice {g.get('nice')}")
    return out


def environment_diff(base, cand):
    """Rows (key, base value, candidate value, differs) over both environments (nested keys dotted)."""
    def flat(env, prefix=""):
        out = {}
        for key, value in env.items():
            if key in ENV_SKIP:
                continue
            if isinstance(value, dict):
                out.update(flat(value, f"{prefix}{key}."))
            else:
                out[f"{prefix}{key}"] = value
        return out
    b, c = flat(base.full_environment()), flat(cand.full_environment())
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
        b, c = base.by_key(), cand.by_key()
        self.added = sorted(set(c) - set(b))
        self.removed = sorted(set(b) - set(c))
        self.failed = sorted(i for i in set(b) & set(c) if not c[i].ok or not b[i].ok)
        common = sorted(i for i in set(b) & set(c) if i not in self.failed and b[i].timing and c[i].timing)
        self.warnings = self._comparability() + self._renamed(b, c)
        self.env_diff = environment_diff(base, cand)
        self.floors = [self._pair(b[i], c[i], "absolute") for i in common if c[i].role == "floor"]
        moved = [p for p in self.floors if p.changes["p50"].raw.verdict in (stats.REGRESSED, stats.IMPROVED)]
        self.machine_changed = bool(self.floors) and (len(moved) * 2 >= len(self.floors) or self._floors_drift())
        self.normalised = self.machine_changed
        self.machine_note = self._machine_note(moved) if self.machine_changed else ""
        judged_on = "normalised" if self.normalised else "absolute"
        self.pairs = self.floors + [self._pair(b[i], c[i], judged_on) for i in common if c[i].role != "floor"]
        self.pairs.sort(key=lambda p: p.id)

    def _pair(self, base, cand, judged_on):
        pair = Pair(base.key, base, cand, role=cand.role)
        for seed, (metric, (label, _get, higher, _unit)) in enumerate(METRICS.items()):
            # An open loop's throughput is its offered rate: falling short of it is news, whatever the floor did.
            on = "absolute" if metric == "throughput" and cand.load_mode == "open" else judged_on
            threshold = self.thresholds[metric]
            kwargs = dict(higher_is_better=higher, threshold=threshold, alpha=self.alpha, seed=seed,
                          min_repetitions=self.min_reps)
            raw = stats.judge(base.values(metric), cand.values(metric), **kwargs)
            nb, nc = normalised_values(self.base, base, metric), normalised_values(self.cand, cand, metric)
            norm = stats.judge(nb, nc, **kwargs) if nb is not None and nc is not None else None
            if on == "normalised" and norm is None:
                norm = stats.Change(raw.base_median, raw.cand_median, raw.change, None, None, stats.INCONCLUSIVE,
                                    "the machine changed and this scenario has no adjacent floor to normalise by")
            pair.changes[metric] = MetricChange(metric, label, threshold, raw, norm, on)
        self._corroborate_max(pair)
        return pair

    def _corroborate_max(self, pair):
        """max is one sample per repetition: a verdict on it needs p99.9 to move the same way."""
        peak, tail = pair.changes["max"], pair.changes["p999"]
        if peak.verdict not in (stats.REGRESSED, stats.IMPROVED):
            return
        j, t = peak.judged, tail.judged
        same_way = t.change is not None and t.p_value is not None and t.p_value < self.alpha and (
            (t.change > 0) == (j.change > 0))
        if not same_way:
            demoted = stats.Change(j.base_median, j.cand_median, j.change, j.ci, j.p_value, stats.INCONCLUSIVE,
                                   f"too noisy: max moved alone ({j.change:+.1%}, p={j.p_value:.3g}) and p99.9 did not "
                                   f"follow; one sample per repetition cannot tell a changed tail from chance "
                                   f"among many tests", j.n_base, j.n_cand)
            if peak.judged_on == "normalised" and peak.norm is not None:
                peak.norm = demoted
            else:
                peak.raw = demoted

    def _comparability(self):
        warnings = []
        for key, name in NOT_COMPARABLE.items():
            b, c = self.base.setting(key), self.cand.setting(key)
            if b != c:
                warnings.append(f"not comparable: {name} differs ({b!r} vs {c!r})")
        b, c = self._timing_variant(self.base), self._timing_variant(self.cand)
        if b != c:
            warnings.append(f"not comparable: the timing build variant differs ({b!r} vs {c!r})")
        common = {s.key for s in self.base.scenarios} & {s.key for s in self.cand.scenarios}
        gb, gc = grants_summary(self.base, common), grants_summary(self.cand, common)
        differing = sorted((gb ^ gc))
        if differing:
            ids = sorted({line.split(" ")[0] for line in differing})
            warnings.append(f"not comparable: granted priorities differ in {len(ids)} scenario(s), e.g. "
                            f"{ids[0]}")
        return warnings

    def _renamed(self, b, c):
        """A warning when removed and added scenarios share slugs: their ids changed with their parameters."""
        def slug(s):
            return s.raw.get("slug") or s.id.rsplit("-", 1)[0]
        added = {(slug(c[k]), c[k].variant): c[k] for k in self.added}
        renamed = [(b[k], added[(slug(b[k]), b[k].variant)]) for k in self.removed
                   if (slug(b[k]), b[k].variant) in added]
        if not renamed:
            return []
        old, new = renamed[0]
        bookkeeping = {"timeout_s", "patience_s", "interval_s", "file_dir"}  # not in the id (harness/runall)
        differ = sorted(k for k in set(old.params) | set(new.params)
                        if old.params.get(k) != new.params.get(k) and k not in bookkeeping)
        example = ", ".join(f"{k} {old.params.get(k)!r} -> {new.params.get(k)!r}" for k in differ[:4])
        return [f"not comparable: {len(renamed)} scenario(s) were removed and added again under a new id: their "
                f"parameters changed (e.g. {slug(old)}: {example}). Ids derive "
                f"from every measured parameter, so these are not compared; compare runs of the same scenario file"]

    def _floors_drift(self):
        """Noisy floors that still agree: their geometric mean moved beyond the p50 threshold, and at least
        three in four moved that way (each alone too noisy to call)."""
        changes = [p.changes["p50"].raw.change for p in self.floors if p.changes["p50"].raw.change is not None]
        mean = stats.geometric_mean_ratio([1 + c for c in changes])
        if mean is None or abs(mean - 1) <= self.thresholds["p50"]:
            return False
        return sum(1 for c in changes if (c > 0) == (mean > 1)) * 4 >= 3 * len(changes)

    @staticmethod
    def _timing_variant(run):
        """The variant (and build type) the timing figures came from."""
        variants = sorted({s.variant for s in run.timed})
        return f"{','.join(variants)} {run.setting('build_type') or ''}".strip()

    def _machine_note(self, moved):
        ratios = [1 + p.changes["p50"].raw.change for p in self.floors if p.changes["p50"].raw.change is not None]
        mean = stats.geometric_mean_ratio(ratios)
        return (f"{len(moved)} of {len(self.floors)} floors moved beyond the noise on their own, and their p50 moved "
                f"{mean - 1:+.1%} in geometric mean; the machine changed between the runs, so scenarios are judged "
                f"on figures normalised by their adjacent floor.")

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
        if not self.pairs:
            head = "NOTHING COMPARED: no scenario ran in both runs"
        machine = "; machine changed (judged vs floor)" if self.machine_changed else ""
        comparable = "; NOT COMPARABLE environments" if self.warnings else ""
        return f"{head} ({tail}){machine}{comparable}"


def fmt_change(change):
    return "n/a" if change is None or not math.isfinite(change) else f"{change:+.1%}"
