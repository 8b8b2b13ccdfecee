"""The statistics behind every verdict: bootstrap intervals, the rank test, the verdict rule.

A change is the ratio of medians over repetitions (candidate / base - 1). It
is called regressed or improved only when the Mann-Whitney U test says the two
sets of repetitions differ (p < alpha) AND the change is beyond the metric's
noise threshold AND the bootstrap interval excludes zero AND (the change is
beyond NOISE_FACTOR times the larger spread of either side's repetitions, or
p < STRONG_P). With fewer than MIN_REPETITIONS a side nothing is claimed.

Why the spread rule: a nightly comparison runs hundreds of tests, and with 5
repetitions a side complete separation (p = 2/252) happens by chance about
once in 252 tests per direction. The threshold stops chance separations of
steady metrics (they are small); the spread rule stops those of noisy ones.
Simulated with normal scatter of 2-5 % per repetition, one test in about
6000-9000 still calls noise a regression, while a 25 % shift is found 80-100 %
of the time (tests/python/test_reports_stats.py keeps the simulation). No
further correction for multiple comparisons is made; the report says how many
tests were run.
"""

import math
from dataclasses import dataclass

import numpy as np
from scipy import stats as sps

MIN_REPETITIONS = 5    # the fewest with which a two-sided rank test can reach p < 0.01 (5 v 5: 0.0079)
ALPHA = 0.01
DEFAULT_THRESHOLD = 0.05
NOISE_FACTOR = 3.0     # the change must exceed this many times the repetitions' relative half-range ...
STRONG_P = 1e-4        # ... unless the rank test alone is this strong (needs at least 9 repetitions a side)
BOOTSTRAP_RESAMPLES = 2000
CONFIDENCE = 0.95

IMPROVED, REGRESSED, UNCHANGED, INCONCLUSIVE = "improved", "regressed", "unchanged", "inconclusive"


@dataclass
class Change:
    """One metric of one scenario, base against candidate."""

    base_median: float | None
    cand_median: float | None
    change: float | None          # cand/base - 1; positive means the number grew
    ci: tuple | None              # 95 % bootstrap interval of `change`
    p_value: float | None
    verdict: str
    reason: str
    n_base: int = 0
    n_cand: int = 0


def clean(values):
    """Finite floats only (unsupported percentiles are None and drop out)."""
    out = []
    for value in (() if values is None else values):
        if value is None or isinstance(value, bool):
            continue
        value = float(value)
        if math.isfinite(value):
            out.append(value)
    return np.array(out, dtype=float)


def bootstrap_ratio_ci(base, cand, seed=0, resamples=BOOTSTRAP_RESAMPLES, confidence=CONFIDENCE):
    """Percentile bootstrap interval of median(cand)/median(base) - 1, resampling each side."""
    rng = np.random.default_rng(seed)
    b = np.median(rng.choice(base, size=(resamples, len(base)), replace=True), axis=1)
    c = np.median(rng.choice(cand, size=(resamples, len(cand)), replace=True), axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratios = c / b - 1.0
    ratios = ratios[np.isfinite(ratios)]
    if not len(ratios):
        return None
    tail = (1.0 - confidence) / 2.0
    return float(np.quantile(ratios, tail)), float(np.quantile(ratios, 1.0 - tail))


def rank_test(base, cand):
    """Two-sided Mann-Whitney U p-value (1.0 when every value is equal).

    Up to 8 a side the exact distribution of U is used even when values tie
    (HdrHistogram figures are bucketed, so ties are common): scipy's 'auto'
    would switch to the normal approximation, whose p for two fully separated
    sets of 5 is 0.012 instead of the exact 2/252 = 0.0079.
    """
    if np.all(base == base[0]) and np.all(cand == base[0]):
        return 1.0
    method = "exact" if max(len(base), len(cand)) <= 8 else "asymptotic"
    return float(sps.mannwhitneyu(base, cand, alternative="two-sided", method=method).pvalue)


def judge(base_values, cand_values, higher_is_better=False, threshold=DEFAULT_THRESHOLD,
          alpha=ALPHA, seed=0, min_repetitions=MIN_REPETITIONS):
    """The Change of one metric, with its verdict and the reason for it in words."""
    base, cand = clean(base_values), clean(cand_values)
    n_base, n_cand = len(base), len(cand)
    base_median = float(np.median(base)) if n_base else None
    cand_median = float(np.median(cand)) if n_cand else None
    change = None
    if base_median and cand_median is not None:
        change = cand_median / base_median - 1.0
    if n_base < min_repetitions or n_cand < min_repetitions:
        return Change(base_median, cand_median, change, None, None, INCONCLUSIVE,
                      f"too few repetitions: {n_base} base, {n_cand} candidate "
                      f"(at least {min_repetitions} a side)", n_base, n_cand)
    if not base_median:
        return Change(base_median, cand_median, None, None, None, INCONCLUSIVE,
                      "base median is zero: no relative change", n_base, n_cand)
    ci = bootstrap_ratio_ci(base, cand, seed=seed)
    p_value = rank_test(base, cand)
    worse = change < 0 if higher_is_better else change > 0
    significant = p_value < alpha
    excludes_zero = ci is not None and (ci[0] > 0 or ci[1] < 0)
    beyond = abs(change) > threshold
    noise = max(spread(base), spread(cand))
    common = (base_median, cand_median, change, ci, p_value)
    if significant and beyond and excludes_zero and abs(change) <= NOISE_FACTOR * noise and p_value >= STRONG_P:
        return Change(*common, INCONCLUSIVE, f"too noisy: repetitions scatter by up to +-{noise:.0%}, so a "
                      f"{change:+.1%} change (p={p_value:.3g}) may be chance among many tests; it must exceed "
                      f"{NOISE_FACTOR:g}x the scatter", n_base, n_cand)
    if significant and beyond and excludes_zero:
        verdict = REGRESSED if worse else IMPROVED
        return Change(*common, verdict, f"p={p_value:.3g} < {alpha:g} and |{change:+.1%}| > {threshold:.0%}",
                      n_base, n_cand)
    if significant and not beyond:
        return Change(*common, UNCHANGED, f"a real but small shift: |{change:+.1%}| within the "
                      f"{threshold:.0%} noise threshold", n_base, n_cand)
    if ci is not None and max(abs(ci[0]), abs(ci[1])) <= threshold:
        return Change(*common, UNCHANGED, f"95% CI within +-{threshold:.0%}", n_base, n_cand)
    return Change(*common, INCONCLUSIVE, f"too noisy: 95% CI [{_pct(ci, 0)}, {_pct(ci, 1)}] reaches beyond "
                  f"+-{threshold:.0%} (p={p_value:.3g}; spread across repetitions up to {noise:.0%})",
                  n_base, n_cand)


def spread(values):
    """Relative half-range around the median: how far repetitions stray."""
    values = clean(values)
    if len(values) < 2 or not np.median(values):
        return 0.0
    return float((values.max() - values.min()) / 2.0 / abs(np.median(values)))


def _pct(ci, i):
    return "n/a" if ci is None else f"{ci[i]:+.1%}"


def geometric_mean_ratio(ratios):
    """exp(mean(log r)) over the positive finite ratios (None when there are none)."""
    values = [r for r in ratios if r is not None and math.isfinite(r) and r > 0]
    if not values:
        return None
    return float(math.exp(sum(math.log(r) for r in values) / len(values)))
