"""The nightly history: steps found at their first night, drifts within a stated window, noise never, the page."""

import numpy as np
import pytest

from reports_fixtures import environment, make_run, no_library_leaks  # noqa: F401  (the fixture overrides the library check)

from reports import history_detect
from reports import nightly_history as history
from reports.history_page import markdown, render_history

NIGHTS = 40
NOISE = 0.02  # night-to-night scatter of a night's median, lognormal


def series(seed, step=None, drift=None, outliers=(), nights=NIGHTS):
    """Values around 1000 ns: step (night, relative size), drift (first night, relative change a night)."""
    rng = np.random.default_rng(seed)
    y = rng.normal(0.0, NOISE, nights)
    if step:
        y[step[0]:] += np.log1p(step[1])
    if drift:
        y[drift[0]:] += np.log1p(drift[1]) * np.arange(1, nights - drift[0] + 1)
    for night in outliers:
        y[night] += np.log(1.4)
    return list(1000.0 * np.exp(y))


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("night,size", [(8, 0.10), (20, -0.10), (31, 0.15)])
def test_a_step_at_night_k_is_found_at_night_k(seed, night, size):
    changes = history_detect.analyse(series(seed, step=(night, size)))
    assert [(c.kind, c.start) for c in changes] == [("step", night)]
    assert changes[0].change == pytest.approx(size, abs=0.03)


@pytest.mark.parametrize("seed", range(4))
def test_a_step_is_found_once_it_has_lasted_three_nights(seed):
    values = series(seed, step=(30, 0.20), nights=33)
    assert [(c.kind, c.start) for c in history_detect.analyse(values)] == [("step", 30)]
    assert history_detect.analyse(values[:32]) == []  # two nights are not yet a lasting change


@pytest.mark.parametrize("seed", range(8))
def test_a_drift_of_one_percent_a_night_is_found_within_the_stated_window(seed):
    start = 20
    values = series(seed, drift=(start, 0.01), nights=start + history_detect.DRIFT_FOUND_WITHIN)
    found = next(n for n in range(start + 1, len(values) + 1) if history_detect.analyse(values[:n]) or n == len(values))
    changes = history_detect.analyse(values[:found])
    assert changes, f"not found within {history_detect.DRIFT_FOUND_WITHIN} nights"
    assert all(c.change > 0 for c in changes)
    assert abs(changes[-1].start - start) <= 6


def test_a_drift_is_reported_as_a_drift_with_its_rate():
    values = series(3, drift=(10, 0.01), nights=30)
    drifts = [c for c in history_detect.analyse(values) if c.kind == "drift"]
    assert len(drifts) == 1 and drifts[0].per_night == pytest.approx(0.01, abs=0.004)


@pytest.mark.parametrize("seed", range(20))
def test_pure_noise_raises_nothing(seed):
    assert history_detect.analyse(series(100 + seed)) == []


@pytest.mark.parametrize("seed", range(5))
def test_single_and_double_noisy_nights_raise_nothing(seed):
    assert history_detect.analyse(series(200 + seed, outliers=(12, 25, 26))) == []


def test_missing_nights_keep_their_place():
    values = series(1, step=(20, 0.2))
    values[5] = values[22] = None
    assert [(c.kind, c.start) for c in history_detect.analyse(values)] == [("step", 20)]


def test_only_the_night_that_confirms_a_step_calls_it_new():
    values = series(2, step=(30, 0.2), nights=36)
    assert [c.start for c in history_detect.new_since_yesterday(values[:33])] == [30]
    assert history_detect.new_since_yesterday(values[:34]) == []


def make_nights(root, count, slow_from=None, machine_from=None):
    """`count` run folders; ringside 25 % slower from night slow_from, everything 25 % from machine_from."""
    paths = []
    for night in range(count):
        path = root / f"202611{night + 1:02d}T020000Z-c{night:06x}"
        slow = slow_from is not None and night >= slow_from
        machine = 1.25 if machine_from is not None and night >= machine_from else 1.0
        make_run(path, seed=night, size="tiny", with_files=False, validation_runs=False, machine=machine,
                 env=environment(commit=f"{night:06x}" + "0" * 34), factor={"ringside": 1.25} if slow else None)
        paths.append(path)
    return paths


@pytest.fixture(scope="module")
def slowed(tmp_path_factory):
    root = tmp_path_factory.mktemp("history")
    paths = make_nights(root, 12, slow_from=7)
    return paths, history.analyse(paths)


def test_the_history_points_at_the_first_slow_night_and_its_commit(slowed):
    paths, result = slowed
    regressions = [f for f in result.findings if f.series.role == "ringside"]
    assert regressions and {f.night.path for f in regressions} == {paths[7]}
    assert all(f.change.kind == "step" and f.worse and not f.machine for f in regressions)
    assert all(f.night.commit.startswith("000007") for f in regressions)
    assert not [f for f in result.findings if f.series.role == "floor"]


def test_a_step_is_a_new_regression_only_on_the_night_that_confirms_it(slowed):
    paths, result = slowed
    assert result.regressions() == []  # 5 nights after the step: confirmed long ago
    assert history.analyse(paths[:10]).regressions()  # night 9: the third slow night confirms it


def test_when_the_floors_move_too_it_is_the_machine(tmp_path):
    result = history.analyse(make_nights(tmp_path, 10, machine_from=6))
    ringside = [f for f in result.findings if f.series.role == "ringside"]
    assert ringside and all(f.machine and not f.counts for f in ringside)
    assert result.regressions() == []


def test_the_page_is_self_contained_and_names_the_night(slowed, tmp_path):
    paths, result = slowed
    page = render_history(result, tmp_path / "history.html").read_text()
    assert paths[7].name in page and "data:image/png;base64," in page
    assert "<link" not in page and 'src="http' not in page and "<script src" not in page
    assert f"`{paths[7].name}`" in markdown(result)


def test_an_unreadable_night_is_skipped_with_its_reason(tmp_path):
    paths = make_nights(tmp_path, 3)
    (paths[1] / "results.json").write_text("{not json")
    result = history.analyse(paths)
    assert len(result.nights) == 2 and result.skipped and "not valid JSON" in result.skipped[0][1]
