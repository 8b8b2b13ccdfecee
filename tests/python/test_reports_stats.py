"""reports/stats.py: when a difference may be claimed, and when not."""

import pytest

from reports import stats
from reports_fixtures import no_library_leaks  # noqa: F401

BASE = [100.0, 101.0, 99.0, 100.5, 99.5]


def test_needs_five_repetitions_a_side():
    change = stats.judge(BASE[:4], [150.0, 151.0, 149.0, 150.0, 152.0])
    assert change.verdict == stats.INCONCLUSIVE
    assert "too few repetitions: 4 base, 5 candidate" in change.reason


def test_clear_slowdown_is_a_regression_with_exact_rank_p():
    change = stats.judge(BASE, [120.0, 121.0, 119.0, 120.5, 119.5])
    assert change.verdict == stats.REGRESSED
    assert change.p_value == pytest.approx(2 / 252)
    assert change.ci[0] > 0.15 and change.ci[1] < 0.25


def test_ties_keep_the_exact_rank_test():
    change = stats.judge([100.0, 100.0, 101.0, 101.0, 99.0], [120.0, 120.0, 121.0, 121.0, 119.0])
    assert change.p_value == pytest.approx(2 / 252)
    assert change.verdict == stats.REGRESSED


def test_lower_throughput_is_a_regression():
    change = stats.judge(BASE, [80.0, 81.0, 79.0, 80.5, 79.5], higher_is_better=True)
    assert change.verdict == stats.REGRESSED
    assert stats.judge(BASE, [120.0, 121.0, 119.0, 120.5, 119.5], higher_is_better=True).verdict == stats.IMPROVED


def test_significant_but_small_shift_is_unchanged():
    change = stats.judge(BASE, [102.0, 103.0, 101.5, 102.5, 102.2])
    assert change.p_value < stats.ALPHA
    assert change.verdict == stats.UNCHANGED
    assert "within the 5% noise threshold" in change.reason


def test_threshold_is_configurable():
    slower = [120.0, 121.0, 119.0, 120.5, 119.5]
    assert stats.judge(BASE, slower, threshold=0.25).verdict == stats.UNCHANGED


def test_noisy_repetitions_are_inconclusive_and_say_so():
    change = stats.judge([100.0, 140.0, 80.0, 120.0, 95.0], [110.0, 150.0, 85.0, 125.0, 100.0])
    assert change.verdict == stats.INCONCLUSIVE
    assert change.reason.startswith("too noisy")


def test_unsupported_percentiles_drop_out():
    change = stats.judge([None] * 5, [None] * 5)
    assert change.verdict == stats.INCONCLUSIVE and change.n_base == 0


def test_identical_runs_are_unchanged():
    assert stats.judge(BASE, BASE).verdict == stats.UNCHANGED


def test_geometric_mean():
    assert stats.geometric_mean_ratio([2.0, 0.5, None]) == pytest.approx(1.0)
    assert stats.geometric_mean_ratio([]) is None


def test_heavy_tailed_chance_separation_is_too_noisy():
    """Maxima of 5 repetitions: complete separation by chance, but the scatter is larger than the change."""
    base = [9431.0, 10935.0, 15335.0, 12231.0, 16799.0]
    cand = [63423.0, 28559.0, 25039.0, 22863.0, 64895.0]
    change = stats.judge(base, cand)
    assert change.p_value < stats.ALPHA
    assert change.verdict == stats.INCONCLUSIVE and "scatter" in change.reason


def test_false_alarm_rate_of_the_rule_on_pure_noise():
    """The verdict rule on 2000 simulated pure-noise pairs (5 % scatter): about 0.7 alarms expected."""
    import numpy as np
    rng = np.random.default_rng(2024)
    alarms = 0
    for _ in range(2000):
        base, cand = rng.normal(100, 5, 5), rng.normal(100, 5, 5)
        alarms += stats.judge(base, cand).verdict in (stats.REGRESSED, stats.IMPROVED)
    assert alarms <= 2


def test_a_quarter_slower_is_found_through_five_percent_scatter():
    import numpy as np
    rng = np.random.default_rng(7)
    found = sum(stats.judge(rng.normal(100, 3, 5), rng.normal(125, 3.75, 5)).verdict == stats.REGRESSED
                for _ in range(200))
    assert found >= 190
