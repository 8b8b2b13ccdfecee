"""Shards: deterministic, disjoint, complete, balanced by estimated duration."""

import random

import pytest

from runall_testing import ROOT  # first: puts harness/ on sys.path

from runall import execute, matrix, shard


def units_of(name):
    scenarios = matrix.load(ROOT / "scenarios" / f"{name}.toml", cpus=[0, 1])
    items = execute.plan(matrix.select(scenarios))
    units = {}
    for item in items:
        key = f"{item.variant}/{item.scenario.id}"
        units[key] = units.get(key, 0.0) + item.estimate_s
    return items, sorted(units.items())


@pytest.mark.parametrize("name", ["default", "nightly", "sanitize"])
@pytest.mark.parametrize("count", [2, 3, 4])
def test_slowest_shard_is_within_1_2_of_the_mean(name, count):
    _, units = units_of(name)
    loads = shard.loads(units, shard.balance(units, count))
    assert max(loads) <= 1.2 * (sum(loads) / count)


@pytest.mark.parametrize("count", [2, 3, 4])
def test_work_fixed_to_a_shard_is_balanced_around(count):  # (while no fixed load alone exceeds 1.2x the mean)
    _, units = units_of("nightly")
    fixed = {1: 300.0, count: 240.0}
    shards = shard.balance(units, count, fixed)
    loads = [load + fixed.get(i + 1, 0.0) for i, load in enumerate(shard.loads(units, shards))]
    assert max(loads) <= 1.2 * (sum(loads) / count)
    assert shard.loads(units, shards)[0] < shard.loads(units, shard.balance(units, count))[0]


def test_balance_is_deterministic_whatever_the_input_order():
    _, units = units_of("default")
    shuffled = list(units)
    random.Random(7).shuffle(shuffled)
    assert shard.balance(units, 3) == shard.balance(shuffled, 3)


def test_shards_are_disjoint_and_cover_every_run():
    items, _ = units_of("default")
    parts = [shard.select(items, k, 3) for k in (1, 2, 3)]
    ids = [id(i) for part in parts for i in part]
    assert len(ids) == len(set(ids)) == len(items)
    for part in parts:  # every repetition of a scenario stays in one shard
        keys = {(i.variant, i.scenario.id) for i in part}
        assert all((i.variant, i.scenario.id) in keys for i in part)


@pytest.mark.parametrize("text", ["0/3", "4/3", "x", "1/0", ""])
def test_bad_shard_specs_are_usage_errors(text):
    with pytest.raises(ValueError):
        shard.parse(text)


def test_good_shard_spec():
    assert shard.parse(" 2/5 ") == (2, 5)
