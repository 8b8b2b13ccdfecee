"""Lasting changes in one metric's nightly series: steps (robust moving-window test) and slow drifts (Mann-Kendall).

Every night gives one value (the median over its repetitions); the analysis
works on log values, so a change is a ratio whatever the metric's unit.

Noise: sigma of a single night, estimated from the median absolute deviation
of night-to-night differences (a step or a drift moves few differences, so
the estimate stays the noise's), never below NOISE_FLOOR.

Steps (a moving-sum test with medians, MOSUM): at every night k, the median
of up to WINDOW nights from k on minus the median of up to WINDOW nights
before k, in units of its standard error (sigma * 1.2533 * sqrt(1/nl + 1/nr),
the median's efficiency under normal noise). Each side needs at least
MIN_SEGMENT nights, so one or two odd nights never make a step: the medians
ignore them. Where the statistic exceeds STEP_Z and the level moved by at
least MIN_STEP, the step is placed at the night that minimises the absolute
deviations from the two medians nearby (exact for a step well above the
noise), and kept only when a step explains those nights better than a
straight line or a flat-then-linear ramp (a ramp is left to the drift test).

Drifts: after the last step, the trailing DRIFT_WINDOWS nights each get a
Mann-Kendall trend test (Bonferroni over the windows); a drift is reported
when one is significant at DRIFT_ALPHA and its Theil-Sen slope is at least
MIN_DRIFT a night. Its first night is the hinge of the best flat-then-linear
fit. With 2 % night-to-night noise a drift of 1 % a night is found within
DRIFT_FOUND_WITHIN nights of its start (tests/python/test_reports_history.py).
"""

import math
from dataclasses import dataclass

import numpy as np
from scipy import stats as sps

MIN_SEGMENT = 3
WINDOW = 8
STEP_Z = 5.0
MIN_STEP = 0.03
NOISE_FLOOR = 0.005
DRIFT_WINDOWS = (8, 12, 16)
DRIFT_ALPHA = 1e-3
MIN_DRIFT = 0.004
DRIFT_FOUND_WITHIN = 14  # simulated: 100 of 100 seeds by then, half within 9
MEDIAN_SE = math.sqrt(math.pi / 2)  # standard error of a median / that of a mean, normal noise


@dataclass(frozen=True)
class Change:
    kind: str            # "step" or "drift"
    start: int           # index (into the values given) of the first night of the change
    change: float        # relative: the level after / before - 1 (a drift: over its nights so far)
    score: float         # step: robust z; drift: Mann-Kendall p-value
    per_night: float = 0.0   # drift: relative change a night (Theil-Sen)


def noise(y):
    """Robust sigma of one night's log value."""
    if len(y) < 3:
        return NOISE_FLOOR
    d = np.diff(y)
    mad = np.median(np.abs(d - np.median(d)))
    return max(1.4826 * mad / math.sqrt(2.0), NOISE_FLOOR)


def _scan(y, sigma):
    """(k, z, shift) for every night k with both windows at least MIN_SEGMENT long."""
    out = []
    for k in range(MIN_SEGMENT, len(y) - MIN_SEGMENT + 1):
        left, right = y[max(0, k - WINDOW):k], y[k:k + WINDOW]
        shift = float(np.median(right) - np.median(left))
        se = sigma * MEDIAN_SE * math.sqrt(1.0 / len(left) + 1.0 / len(right))
        out.append((k, abs(shift) / se, shift))
    return out


def _step_cost(y, k, lo, hi):
    left, right = y[lo:k], y[k:hi]
    return float(np.abs(left - np.median(left)).sum() + np.abs(right - np.median(right)).sum())


def _ramp_cost(y, lo, hi):
    """Least absolute deviation of the better of a straight line and a flat-then-linear fit."""
    t = np.arange(lo, hi, dtype=float)
    slope, intercept, _, _ = sps.theilslopes(y[lo:hi], t)
    best = float(np.abs(y[lo:hi] - (intercept + slope * t)).sum())
    for s in range(lo + 1, hi - 2):
        x = np.maximum(0.0, t - s)
        design = np.column_stack([np.ones_like(x), x])
        coef, *_ = np.linalg.lstsq(design, y[lo:hi], rcond=None)
        best = min(best, float(np.abs(design @ coef - y[lo:hi]).sum()))
    return best


def _place(y, run):
    """The best night for a step among a run of significant nights: least absolute deviation from the
    medians on either side, over the nights those windows cover."""
    first, last = run[0][0], run[-1][0]
    lo, hi = max(0, first - WINDOW), min(len(y), last + WINDOW)
    nights = range(max(lo + MIN_SEGMENT, first - MIN_SEGMENT + 1), min(hi - MIN_SEGMENT, last + MIN_SEGMENT - 1) + 1)
    peak = max(run, key=lambda item: item[1])[0]
    best = min(nights, key=lambda j: (_step_cost(y, j, lo, hi), abs(j - peak)))
    return best, lo, hi


def steps(y, sigma):
    """Changes of kind step, in order."""
    scan = _scan(y, sigma)
    hot = [(k, z, s) for k, z, s in scan if z > STEP_Z and abs(math.expm1(s)) >= MIN_STEP]
    runs, found = [], []
    for item in hot:
        if runs and item[0] - runs[-1][-1][0] <= MIN_SEGMENT:
            runs[-1].append(item)
        else:
            runs.append([item])
    for run in runs:
        z = max(item[1] for item in run)
        k, lo, hi = _place(y, run)
        if _ramp_cost(y, lo, hi) < _step_cost(y, k, lo, hi):
            continue  # a ramp: the drift test's business
        if found and k - found[-1].start < MIN_SEGMENT:
            continue
        left, right = y[max(0, k - WINDOW):k], y[k:k + WINDOW]
        found.append(Change("step", k, math.expm1(float(np.median(right) - np.median(left))), z))
    return found


def mann_kendall(y):
    """Two-sided p-value of Mann-Kendall's trend test (normal approximation, continuity corrected)."""
    n = len(y)
    s = sum(np.sign(y[j] - y[i]) for i in range(n - 1) for j in range(i + 1, n))
    var = n * (n - 1) * (2 * n + 5) / 18.0
    if s == 0:
        return 1.0
    z = (abs(s) - 1) / math.sqrt(var)
    return float(2 * sps.norm.sf(z))


def _hinge_start(y, lo):
    """First night of the best flat-then-linear fit over y[lo:] (least squares)."""
    t = np.arange(len(y), dtype=float)
    best, best_cost = lo, math.inf
    for s in range(lo, len(y) - 2):
        x = np.maximum(0.0, t[lo:] - s)
        design = np.column_stack([np.ones_like(x), x])
        coef, *_ = np.linalg.lstsq(design, y[lo:], rcond=None)
        cost = float(((design @ coef - y[lo:]) ** 2).sum())
        if cost < best_cost - 1e-15:
            best, best_cost = s, cost
    return best + 1


def drift(y, since=0):
    """A Change of kind drift over the trailing nights after `since`, or None."""
    windows = [w for w in DRIFT_WINDOWS if len(y) - since >= w]
    for w in windows:
        tail = y[len(y) - w:]
        p = mann_kendall(tail)
        if p * len(DRIFT_WINDOWS) >= DRIFT_ALPHA:
            continue
        slope = float(sps.theilslopes(tail, np.arange(w, dtype=float))[0])
        if abs(slope) < MIN_DRIFT:
            continue
        start = _hinge_start(y, max(since, len(y) - max(DRIFT_WINDOWS) * 2))
        return Change("drift", start, math.expm1(slope * (len(y) - start)), p, math.expm1(slope))
    return None


def analyse(values):
    """Steps and a trailing drift in a series of positive values (None: a night without a figure).

    Starts index `values`, Nones included.
    """
    index = [i for i, v in enumerate(values) if v is not None and v > 0 and math.isfinite(v)]
    y = np.log(np.array([values[i] for i in index], dtype=float))
    if len(y) < 2 * MIN_SEGMENT:
        return []
    sigma = noise(y)
    found = steps(y, sigma)
    trend = drift(y, found[-1].start if found else 0)
    if trend is not None:
        found.append(trend)
    return [Change(c.kind, index[c.start], c.change, c.score, c.per_night) for c in found]


def new_since_yesterday(values):
    """The changes that analysing one night fewer did not find (what tonight's run newly confirms)."""
    today, yesterday = analyse(values), analyse(values[:-1])
    old_steps = {c.start for c in yesterday if c.kind == "step"}
    old_drift = any(c.kind == "drift" for c in yesterday)
    return [c for c in today if (c.kind == "drift" and not old_drift) or
            (c.kind == "step" and not ({c.start - 1, c.start, c.start + 1} & old_steps))]
