"""matplotlib figures of one scenario, drawn into PNG data URIs on reused figures (fast for big runs)."""

import base64
import io
import math

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.ticker import FixedLocator, FuncFormatter, LogLocator, NullLocator  # noqa: E402

NINES = [1, 10, 100, 1e3, 1e4, 1e5, 1e6, 1e7]
NINES_LABELS = ["0%", "90%", "99%", "99.9%", "99.99%", "99.999%", "99.9999%", "99.99999%"]
MAX_REPS = 12
REP_COLORS = plt.get_cmap("tab10").colors
SPREAD = [("p50", "p50"), ("p99", "p99"), ("p999", "p99.9"), ("max", "max")]

plt.rcParams.update({"font.size": 9, "axes.titlesize": 10, "axes.grid": True, "grid.alpha": 0.3,
                     "svg.fonttype": "none", "figure.max_open_warning": 0})


def fmt_ns(value, _pos=None):
    """200 ns, 1.5 us, 2 ms, 1.2 s."""
    if value is None or not np.isfinite(value):
        return "n/a"
    for unit, scale in (("s", 1e9), ("ms", 1e6), ("\u00b5s", 1e3)):
        if abs(value) >= scale:
            return f"{value / scale:.3g} {unit}"
    return f"{value:.3g} ns"


NS = FuncFormatter(fmt_ns)


def data_uri(fig, fmt="png"):
    buffer = io.BytesIO()
    fig.savefig(buffer, format=fmt, **({"pil_kwargs": {"compress_level": 3}} if fmt == "png" else {}))
    mime = "image/svg+xml" if fmt == "svg" else "image/png"
    return f"data:{mime};base64,{base64.b64encode(buffer.getvalue()).decode()}"


def nines_x(levels, max_at=None):
    """1/(1-p) for p < 1; the max (p = 1) at max_at, by default one decade beyond the last finite point."""
    levels = np.asarray(levels, dtype=float)
    finite = levels < 1.0
    x = np.empty_like(levels)
    x[finite] = 1.0 / (1.0 - levels[finite])
    if max_at is None:
        max_at = (x[finite].max() if finite.any() else 1.0) * 10.0
    x[~finite] = max_at
    return x


def max_position(spectra):
    """Where every curve of one plot puts its max: a decade beyond the furthest finite point."""
    last = [1.0 / (1.0 - l[l < 1.0].max()) for _, l in spectra if (l < 1.0).any()]
    return max(last, default=1.0) * 10.0


def nines_axis(ax, max_at):
    """A log 1/(1-p) axis labelled in percentiles, with the max at max_at."""
    ax.set_xscale("log")
    ax.set_xlim(0.9, max(max_at * 1.5, 100))
    ticks = [t for t in NINES if t <= max_at / 3]
    labels = {t: NINES_LABELS[NINES.index(t)] for t in ticks}
    labels[max_at] = "max"
    ax.xaxis.set_major_locator(FixedLocator(ticks + [max_at]))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _p: labels.get(v, "")))
    ax.xaxis.set_minor_locator(NullLocator())


class DecadeLocator(LogLocator):
    """Log ticks at 1, 2 and 5 per decade over short ranges, at each decade (or every other) over long ones."""

    def tick_values(self, vmin, vmax):
        if vmin <= 0 or vmax <= 0:
            return super().tick_values(vmin, vmax)
        decades = abs(math.log10(vmax) - math.log10(vmin))
        self._subs = np.array([1.0, 2.0, 5.0]) if decades < 2.5 else np.array([1.0])
        self.numticks = 8
        return super().tick_values(vmin, vmax)


def sparse_log(axis, formatter=NS):
    """A log axis with few labelled ticks and no minor ticks: ticks dominate drawing time."""
    axis.axes.set_xscale("log") if axis is axis.axes.xaxis else axis.axes.set_yscale("log")
    axis.set_major_locator(DecadeLocator(base=10))
    axis.set_minor_locator(NullLocator())
    if formatter is not None:
        axis.set_major_formatter(formatter)


def log_limits(values, pad=1.3):
    values = np.asarray([v for v in values if v is not None and np.isfinite(v) and v > 0], dtype=float)
    if not len(values):
        return 1, 10
    return values.min() / pad, values.max() * pad


class ScenarioFigure:
    """One 2x2 figure per scenario: spectrum, histogram, per-interval maxima, spread across repetitions."""

    def __init__(self):
        self.fig, axes = plt.subplots(2, 2, figsize=(12, 7.5), dpi=80)
        self.fig.subplots_adjust(left=0.07, right=0.98, top=0.90, bottom=0.08, hspace=0.35, wspace=0.18)
        self.spec, self.hist, self.time, self.spread = axes.flat
        # y=1.0 fixes each title's place: matplotlib skips re-laying it out on every draw.
        self.spec.set_title("percentile spectrum (each repetition; all merged)", y=1.0)
        self.hist.set_title("latency histogram (all repetitions)", y=1.0)
        self.time.set_title("maximum per interval (stalls, warm-up)", y=1.0)
        self.spread.set_title("spread across repetitions", y=1.0)
        self.spec_reps = [self.spec.plot([], [], lw=0.8, alpha=0.7, color=REP_COLORS[i % 10])[0]
                          for i in range(MAX_REPS)]
        self.spec_merged = self.spec.plot([], [], lw=2.2, color="black", label="merged")[0]
        self.spec_uncorrected = self.spec.plot([], [], lw=1.6, ls="--", color="tab:red",
                                               label="uncorrected (open loop)")[0]
        self.hist_line = self.hist.plot([], [], drawstyle="steps-post", color="tab:blue", label="corrected")[0]
        self.hist_uncorrected = self.hist.plot([], [], drawstyle="steps-post", color="tab:red", ls="--",
                                               label="uncorrected")[0]
        self.time_lines = [self.time.plot([], [], marker=".", lw=1, color=REP_COLORS[i % 10])[0]
                           for i in range(MAX_REPS)]
        self.time_uncorrected = [self.time.plot([], [], lw=1, ls="--", color=REP_COLORS[i % 10])[0]
                                 for i in range(MAX_REPS)]
        self.spread_points = self.spread.plot([], [], "o", color="tab:blue", alpha=0.7, label="repetition")[0]
        self.spread_medians = self.spread.plot([], [], "_", color="black", ms=28, mew=2, label="median")[0]
        self.spread.set_xticks(range(len(SPREAD)), [label for _, label in SPREAD])
        self.spread.set_xlim(-0.5, len(SPREAD) - 0.5)
        self.notes = {ax: ax.text(0.5, 0.5, "", ha="center", va="center", transform=ax.transAxes, color="gray")
                      for ax in axes.flat}
        for ax in (self.spec, self.time, self.spread):
            sparse_log(ax.yaxis)
        sparse_log(self.hist.xaxis)
        sparse_log(self.hist.yaxis, None)
        self.hist.set_ylabel("count")
        self.time.set_xlabel("seconds into the measurement")

    def draw(self, title, data, scenario):
        self.fig.suptitle(title, fontsize=10)
        self._spectrum(data, scenario)
        self._histogram(data)
        self._timeline(data)
        self._spread(scenario)
        return data_uri(self.fig)

    def _spectrum(self, data, scenario):
        reps = [data.reps[i].spectrum if i < len(data.reps) else None for i in range(MAX_REPS)]
        merged = [data.merged_spectrum, data.uncorrected_spectrum]
        spectra = [s for s in reps + merged if s is not None]
        if not spectra:  # no histogram files: the summary percentiles only
            points = [(q, scenario.latency.get(k)) for q, k in ((0.5, "p50"), (0.9, "p90"), (0.99, "p99"),
                                                                (0.999, "p999"), (0.9999, "p9999"), (1.0, "max"))]
            points = [(q, v) for q, v in points if v is not None]
            merged[0] = (np.array([v for _, v in points]), np.array([q for q, _ in points])) if points else None
            spectra = [merged[0]] if points else []
        at = max_position(spectra)
        ys = []
        for line, spectrum in zip(self.spec_reps + [self.spec_merged, self.spec_uncorrected], reps + merged):
            line.set_visible(spectrum is not None)
            if spectrum is not None:
                line.set_data(nines_x(spectrum[1], at), spectrum[0])
                ys += list(spectrum[0])
        nines_axis(self.spec, at)
        self.spec.set_ylim(*log_limits(ys))
        self.notes[self.spec].set_text("" if ys else "no latency figures")
        handles = [h for h in (self.spec_merged, self.spec_uncorrected) if h.get_visible()]
        self.spec.legend(handles=handles, loc="upper left", fontsize=8) if handles else None

    def _histogram(self, data):
        lines = ((self.hist_line, data.merged), (self.hist_uncorrected, data.merged_uncorrected))
        lows, highs, tops = [], [], []
        for line, histogram in lines:
            line.set_visible(histogram is not None and histogram.total > 0)
            if not line.get_visible():
                continue
            low, width, counts = histogram.bins()
            low = np.maximum(low, 1)
            edges = np.geomspace(low.min(), (low + width).max() * 1.001, 70)
            binned, _ = np.histogram(low, bins=edges, weights=counts)
            line.set_data(edges, np.append(np.maximum(binned, 0.5), 0.5))
            lows.append(edges[0])
            highs.append(edges[-1])
            tops.append(binned.max())
        if lows:
            self.hist.set_xlim(min(lows) / 1.1, max(highs) * 1.1)
            self.hist.set_ylim(0.7, max(tops) * 2)
        else:
            self.hist.set_xlim(1, 10)
            self.hist.set_ylim(1, 10)
        self.notes[self.hist].set_text("" if lows else "no .hlog: no histogram")
        visible = [h for h, _ in lines if h.get_visible()]
        self.hist.legend(handles=visible, fontsize=8, loc="upper right") if len(visible) > 1 else (
            self.hist.get_legend() and self.hist.get_legend().remove())

    def _timeline(self, data):
        ys, xs = [], []
        for i in range(MAX_REPS):
            rows = data.reps[i].timeline if i < len(data.reps) else []
            for line, tag in ((self.time_lines[i], "corrected"), (self.time_uncorrected[i], "uncorrected")):
                points = [(start, peak) for start, peak, t in rows if t == tag]
                line.set_visible(bool(points))
                if points:
                    line.set_data([p[0] for p in points], [p[1] for p in points])
                    xs += [p[0] for p in points]
                    ys += [p[1] for p in points]
        self.time.set_xlim(min(xs) - 0.2, max(xs) + 0.2) if xs else self.time.set_xlim(0, 1)
        self.time.set_ylim(*log_limits(ys))
        self.notes[self.time].set_text("" if ys else "no .hlog: no per-interval maxima")

    def _spread(self, scenario):
        xs, ys, mx, my = [], [], [], []
        for i, (metric, _label) in enumerate(SPREAD):
            values = [v for v in scenario.values(metric) if v is not None]
            jitter = np.linspace(-0.15, 0.15, len(values)) if len(values) > 1 else [0.0]
            xs += [i + j for j in jitter[:len(values)]]
            ys += values
            if values:
                mx.append(i)
                my.append(float(np.median(values)))
        self.spread_points.set_data(xs, ys)
        self.spread_medians.set_data(mx, my)
        self.spread.set_ylim(*log_limits(ys))
        self.notes[self.spread].set_text("" if ys else "no per-repetition figures")


class OverlayFigure:
    """Base vs candidate percentile spectra of one scenario, on a reused figure."""

    def __init__(self):
        self.fig, self.ax = plt.subplots(figsize=(7, 3.6), dpi=72)
        self.fig.subplots_adjust(left=0.12, right=0.97, top=0.88, bottom=0.13)
        self.lines = {}
        for side, color in (("base", "tab:blue"), ("candidate", "tab:orange")):
            self.lines[side] = self.ax.plot([], [], lw=2, color=color, label=side)[0]
        sparse_log(self.ax.yaxis)
        self.ax.legend(loc="upper left", fontsize=8)

    def draw(self, title, base_spectrum, cand_spectrum):
        self.ax.set_title(title, fontsize=9, y=1.0)
        at = max_position([s for s in (base_spectrum, cand_spectrum) if s is not None])
        ys = []
        for side, spectrum in (("base", base_spectrum), ("candidate", cand_spectrum)):
            line = self.lines[side]
            line.set_visible(spectrum is not None)
            if spectrum is not None:
                line.set_data(nines_x(spectrum[1], at), spectrum[0])
                ys += list(spectrum[0])
        nines_axis(self.ax, at)
        self.ax.set_ylim(*log_limits(ys))
        return data_uri(self.fig)
