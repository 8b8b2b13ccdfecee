"""The nightly history: each headline metric of every night in a results store, and its lasting changes.

Headline metrics of a release timing scenario: p50 and p99 for closed and
open loops, msg/s for throughput. Floors are kept as the machine's series: a
ringside change that coincides (within a night) with a floor moving the same
way (worse or better) is the machine's, never a regression.
"""

import math
from dataclasses import dataclass, field
from pathlib import Path

from . import history_detect
from .results import METRICS, SchemaError, load_run

LATENCY_HEADLINES = ("p50", "p99")
THROUGHPUT_HEADLINES = ("throughput",)


@dataclass
class Night:
    path: Path
    run: object

    @property
    def name(self):
        return self.path.name

    @property
    def commit(self):
        return str(self.run.setting("git_commit") or "?")

    @property
    def label(self):
        return f"{self.name[:8]} {self.commit[:8]}"


@dataclass
class Series:
    scenario: str
    metric: str
    role: str
    values: list
    changes: list = field(default_factory=list)
    new: list = field(default_factory=list)

    @property
    def label(self):
        return f"{self.scenario} {METRICS[self.metric][0]}"

    def worse(self, change):
        higher_is_better = METRICS[self.metric][2]
        return change.change < 0 if higher_is_better else change.change > 0


@dataclass
class Finding:
    series: Series
    change: object          # history_detect.Change
    night: Night
    new: bool
    machine: bool

    @property
    def worse(self):
        return self.series.worse(self.change)

    @property
    def counts(self):
        """A regression of ringside confirmed tonight: fails the nightly job."""
        return self.new and self.worse and not self.machine and self.series.role != "floor"

    def describe(self):
        c = self.change
        what = (f"step of {c.change:+.1%}" if c.kind == "step" else
                f"drift of {c.per_night:+.2%} a night ({c.change:+.1%} so far)")
        return f"{self.series.label}: {what} from night {self.night.name} (commit {self.night.commit[:12]})"


@dataclass
class History:
    nights: list
    series: list
    findings: list
    skipped: list            # (path, reason) of store folders that could not be read

    def regressions(self):
        return [f for f in self.findings if f.counts]


def load_nights(run_dirs):
    """(nights, skipped) from run folders in order; unreadable ones are skipped with the reason."""
    nights, skipped = [], []
    for path in run_dirs:
        try:
            nights.append(Night(Path(path), load_run(path)))
        except (OSError, SchemaError, ValueError) as error:
            skipped.append((str(path), str(error)))
    return nights, skipped


def headline_series(nights):
    """One Series per (scenario, headline metric) seen in any night, in first-seen order."""
    table = {}
    for i, night in enumerate(nights):
        for scenario in night.run.timed:
            if scenario.role == "peer":
                continue
            metrics = THROUGHPUT_HEADLINES if scenario.load_mode == "throughput" else LATENCY_HEADLINES
            for metric in metrics:
                key = (scenario.key, metric)
                if key not in table:
                    table[key] = Series(scenario.key, metric, scenario.role, [None] * len(nights))
                value = scenario.value(metric) if scenario.ok else None
                table[key].values[i] = value if value is not None and math.isfinite(value) and value > 0 else None
    return list(table.values())


def _machine(finding, floor_findings):
    """A floor got worse (or better) within a night of it: the machine changed, not ringside."""
    return any(abs(f.change.start - finding.change.start) <= 1 and f.worse == finding.worse for f in floor_findings)


def analyse(run_dirs):
    """The History of these run folders (oldest first)."""
    nights, skipped = load_nights(run_dirs)
    series = headline_series(nights)
    findings = []
    for s in series:
        s.changes = history_detect.analyse(s.values)
        s.new = history_detect.new_since_yesterday(s.values) if s.changes else []
        for change in s.changes:
            findings.append(Finding(s, change, nights[change.start], change in s.new, False))
    floors = [f for f in findings if f.series.role == "floor"]
    for f in findings:
        if f.series.role != "floor":
            f.machine = _machine(f, floors)
    findings.sort(key=lambda f: (not f.counts, not f.worse, f.change.start, f.series.label))
    return History(nights, series, findings, skipped)
