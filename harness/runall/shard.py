"""Splits a run into N shards of about equal estimated duration, the same way on every machine."""

import re


def parse(text):
    """"K/N" -> (K, N), 1 <= K <= N; ValueError otherwise."""
    m = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", text or "")
    if not m or not 1 <= int(m.group(1)) <= int(m.group(2)):
        raise ValueError(f"--shard wants K/N with 1 <= K <= N, not {text!r}")
    return int(m.group(1)), int(m.group(2))


def balance(units, count, fixed=None):
    """Assigns (key, seconds) units to `count` shards: longest first, each to the lightest shard.

    fixed: {shard index (1-based): seconds} of work that lands on that shard
    whatever the split (fault scenarios, microbenchmarks). Deterministic: ties
    are broken by key, so every machine computes the same split. Returns a list
    of `count` lists of keys.
    """
    shards = [[] for _ in range(count)]
    loads = [float((fixed or {}).get(i + 1, 0.0)) for i in range(count)]
    for key, seconds in sorted(units, key=lambda u: (-u[1], u[0])):
        lightest = min(range(count), key=lambda i: (loads[i], i))
        shards[lightest].append(key)
        loads[lightest] += seconds
    return shards


def loads(units, shards):
    seconds = dict(units)
    return [sum(seconds[k] for k in shard) for shard in shards]


def select(items, index, count, fixed=None):
    """The plan items of shard `index` (1-based): whole scenarios (every repetition) per shard."""
    units = {}
    for item in items:
        key = f"{item.variant}/{item.scenario.id}"
        units[key] = units.get(key, 0.0) + item.estimate_s
    mine = set(balance(sorted(units.items()), count, fixed)[index - 1])
    return [i for i in items if f"{i.variant}/{i.scenario.id}" in mine]
