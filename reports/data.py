"""What a scenario's histogram files hold, read once: spectra, merged histograms, per-interval maxima."""

from dataclasses import dataclass, field

import numpy as np

from . import hdr


@dataclass
class RepHistograms:
    histogram: hdr.Histogram | None = None        # every interval of the main (corrected) tag
    uncorrected: hdr.Histogram | None = None      # open loop: the "uncorrected" tag
    timeline: list = field(default_factory=list)  # (start_s, max_ns, tag) per interval
    spectrum: tuple | None = None                 # (values_ns, levels) from the histogram or the .hgrm


@dataclass
class ScenarioData:
    reps: list
    merged: hdr.Histogram | None
    merged_uncorrected: hdr.Histogram | None
    problems: list
    uncorrected_hgrm: tuple | None = None   # open loop without .hlog: one repetition's uncorrected .hgrm

    @property
    def merged_spectrum(self):
        if self.merged is not None and self.merged.total:
            return self.merged.spectrum()[:2]
        return None

    @property
    def uncorrected_spectrum(self):
        if self.merged_uncorrected is not None and self.merged_uncorrected.total:
            return self.merged_uncorrected.spectrum()[:2]
        return self.uncorrected_hgrm

    @property
    def has_timeline(self):
        return any(rep.timeline for rep in self.reps)


def _is_uncorrected(tag):
    return "uncorrected" in tag.lower()


def read_rep(hlog_path, hgrm_path, scale_hint=None, open_loop=False):
    """One repetition's histograms; problems are returned, never raised, so one bad file spoils one plot.

    The runner tags the uncorrected histogram 'uncorrected' in every log; in a
    closed loop it holds the same samples, so only open loops keep it.
    """
    rep, problems = RepHistograms(), []
    if hlog_path is not None:
        try:
            intervals = hdr.read_hlog(hlog_path.read_text())
            for interval in intervals:
                uncorrected = _is_uncorrected(interval.tag)
                if uncorrected and not open_loop:
                    continue
                target = "uncorrected" if uncorrected else "histogram"
                if getattr(rep, target) is None:
                    setattr(rep, target, hdr.Histogram(interval.histogram.lowest, interval.histogram.highest,
                                                       interval.histogram.digits))
                getattr(rep, target).add(interval.histogram)
                rep.timeline.append((interval.start_s, interval.histogram.max(),
                                     "uncorrected" if uncorrected else "corrected"))
        except (OSError, hdr.HdrFormatError) as error:
            problems.append(f"{hlog_path.name}: {error}")
            rep.histogram = rep.uncorrected = None
            rep.timeline = []
    if rep.histogram is not None and rep.histogram.total:
        values, levels, _ = rep.histogram.spectrum()
        rep.spectrum = (values, levels)
    elif hgrm_path is not None:
        try:
            values, levels, _ = hdr.read_hgrm(hgrm_path.read_text())
            rep.spectrum = (values * _hgrm_scale(values, scale_hint), levels)
        except (OSError, hdr.HdrFormatError) as error:
            problems.append(f"{hgrm_path.name}: {error}")
    return rep, problems


def _hgrm_scale(values, max_ns):
    """The factor from the .hgrm's unit to ns: the power of 1000 that brings its max nearest the known max."""
    if not max_ns or not len(values) or not values[-1]:
        return 1.0
    ratio = max_ns / values[-1]
    return min((1.0, 1e3, 1e6, 1e9), key=lambda unit: abs(np.log(ratio / unit)))


def load_scenario(scenario):
    """ScenarioData for a results.Scenario, from its .hlog (preferred) or .hgrm files."""
    hlogs, hgrms = scenario.files("hlog"), scenario.files("hgrm")
    reps, problems = [], []
    figures = scenario.repetitions or [scenario.raw]
    for i, (hlog_path, hgrm_path) in enumerate(zip(hlogs, hgrms)):
        max_ns = (figures[i].get("latency_ns") or {}).get("max") if i < len(figures) else None
        rep, found = read_rep(hlog_path, hgrm_path, max_ns, scenario.load_mode == "open")
        reps.append(rep)
        problems += found
    merged = _merge([rep.histogram for rep in reps])
    merged_uncorrected = _merge([rep.uncorrected for rep in reps])
    loaded = ScenarioData(reps, merged, merged_uncorrected, problems)
    if scenario.load_mode == "open" and merged_uncorrected is None:
        spectra = _uncorrected_hgrms(scenario)
        loaded.uncorrected_hgrm = spectra[len(spectra) // 2] if spectra else None
    return loaded


def _uncorrected_hgrms(scenario):
    """The runner's PREFIX.uncorrected.hgrm of each repetition that has one."""
    out = []
    for path in scenario.files("hgrm_uncorrected"):
        try:
            if path is not None:
                values, levels, _ = hdr.read_hgrm(path.read_text())
                out.append((values, levels))
        except (OSError, hdr.HdrFormatError):
            continue
    return out


def _merge(histograms):
    present = [h for h in histograms if h is not None]
    if not present:
        return None
    out = hdr.Histogram(present[0].lowest, present[0].highest, present[0].digits)
    for h in present:
        try:
            out.add(h)
        except hdr.HdrFormatError:
            return None
    return out
