"""HdrHistogram's bucket layout and statistics in Python (the files are in hdr_files.py).

Follows AbstractHistogram.java 2.1.11 as harness/runner/histogram.hpp does, so
figures computed here match the runner's and HdrHistogram's own tools: values
kept to `digits` significant digits, percentiles as getValueAtPercentile(),
the percentile distribution as outputPercentileDistribution() iterates it.
"""

import math
from dataclasses import dataclass, field

import numpy as np


class HdrFormatError(ValueError):
    """A histogram, log or percentile file that does not follow the format."""


@dataclass
class Histogram:
    """Counts in HdrHistogram's layout for (lowest, highest, digits)."""

    lowest: int = 1
    highest: int = 100_000_000_000
    digits: int = 3
    counts: np.ndarray = field(default=None, repr=False)

    def __post_init__(self):
        largest_single = 2 * 10 ** self.digits
        count_magnitude = int(math.ceil(math.log(largest_single) / math.log(2)))
        self.half_magnitude = max(count_magnitude, 1) - 1
        self.unit_magnitude = int(math.floor(math.log(self.lowest) / math.log(2)))
        self.sub_bucket_count = 1 << (self.half_magnitude + 1)
        self.half_count = self.sub_bucket_count // 2
        self.sub_bucket_mask = (self.sub_bucket_count - 1) << self.unit_magnitude
        untrackable, buckets = self.sub_bucket_count << self.unit_magnitude, 1
        while untrackable <= self.highest:
            if untrackable > (1 << 62):
                buckets += 1
                break
            untrackable <<= 1
            buckets += 1
        self.bucket_count = buckets
        length = (buckets + 1) * self.half_count
        if self.counts is None:
            self.counts = np.zeros(length, dtype=np.int64)
        elif len(self.counts) < length:
            self.counts = np.concatenate([self.counts, np.zeros(length - len(self.counts), np.int64)])

    # ---- layout ----
    def index_of(self, value):
        value = int(value)
        bucket = (value | self.sub_bucket_mask).bit_length() - self.unit_magnitude - self.half_magnitude - 1
        sub = value >> (bucket + self.unit_magnitude)
        return ((bucket + 1) << self.half_magnitude) + (sub - self.half_count)

    def _bucket_and_sub(self, index):
        index = np.asarray(index, dtype=np.int64)
        bucket = (index >> self.half_magnitude) - 1
        sub = (index & (self.half_count - 1)) + self.half_count
        low = bucket < 0
        return np.where(low, 0, bucket), np.where(low, sub - self.half_count, sub)

    def value_from_index(self, index):
        bucket, sub = self._bucket_and_sub(index)
        return sub << (bucket + self.unit_magnitude)

    def highest_equivalent_at(self, index):
        bucket, sub = self._bucket_and_sub(index)
        return (sub << (bucket + self.unit_magnitude)) + (np.int64(1) << (bucket + self.unit_magnitude)) - 1

    def median_equivalent_at(self, index):
        bucket, sub = self._bucket_and_sub(index)
        return (sub << (bucket + self.unit_magnitude)) + ((np.int64(1) << (bucket + self.unit_magnitude)) >> 1)

    # ---- recording and statistics ----
    def record(self, values):
        values = np.clip(np.asarray(values, dtype=np.int64), 0, self.highest)
        bucket = _bit_length(values | self.sub_bucket_mask) - self.unit_magnitude - self.half_magnitude - 1
        sub = values >> (bucket + self.unit_magnitude)
        index = ((bucket + 1) << self.half_magnitude) + (sub - self.half_count)
        self.counts += np.bincount(index, minlength=len(self.counts))[: len(self.counts)]

    def add(self, other):
        if (other.lowest, other.highest, other.digits) != (self.lowest, self.highest, self.digits):
            raise HdrFormatError("cannot add histograms of different layouts")
        self.counts += other.counts

    @property
    def total(self):
        return int(self.counts.sum())

    def max(self):
        nonzero = np.flatnonzero(self.counts)
        return int(self.highest_equivalent_at(nonzero[-1])) if len(nonzero) else 0

    def mean(self):
        nonzero = np.flatnonzero(self.counts)
        if not len(nonzero):
            return 0.0
        weights = self.counts[nonzero]
        return float((self.median_equivalent_at(nonzero) * weights).sum() / weights.sum())

    def value_at_percentile(self, percentile):
        """getValueAtPercentile() of 2.1.11 (0 for an empty histogram)."""
        total = self.total
        if total == 0:
            return 0
        requested = min(max(math.nextafter(percentile, -math.inf), 0.0), 100.0)
        wanted = max(math.ceil(requested * total / 100.0), 1)
        index = int(np.searchsorted(np.cumsum(self.counts), wanted))
        if percentile == 0.0:
            return int(self.value_from_index(index))
        return int(self.highest_equivalent_at(index))

    def supported_percentile(self, percentile):
        """The value, or None when the count cannot support it (fewer than 10/(1-q) samples)."""
        total = self.total
        if total == 0:
            return None
        if percentile < 100.0 and total < math.ceil(10.0 / (1.0 - percentile / 100.0) * (1.0 - 1e-9)):
            return None
        return self.value_at_percentile(percentile)

    def spectrum(self, ticks_per_half=5):
        """outputPercentileDistribution()'s rows as arrays (values, levels in [0, 1], total counts).

        The PercentileIterator's steps: ticks_per_half levels per halving of
        the distance to 100 %, each reported at the first bucket reaching it,
        then a final row at 100 % (the max).
        """
        total = self.total
        if total == 0:
            return np.array([]), np.array([]), np.array([], dtype=np.int64)
        nonzero = np.flatnonzero(self.counts)
        cumulative = np.cumsum(self.counts)[nonzero]
        percent = 100.0 * cumulative / total
        highest = self.highest_equivalent_at(nonzero)
        values, levels, counts = [], [], []
        level, at, reached_last = 0.0, 0, False
        while True:
            at = max(at, int(np.searchsorted(percent, level)))
            values.append(int(highest[at]))
            levels.append(level)
            counts.append(int(cumulative[at]))
            if cumulative[at] >= total:
                if reached_last:
                    break
                reached_last, level = True, 100.0
                continue
            halvings = int(math.log(100.0 / (100.0 - level)) / math.log(2)) + 1
            level += 100.0 / (ticks_per_half * 2 ** halvings)
        return np.array(values, dtype=float), np.array(levels) / 100.0, np.array(counts)

    def bins(self):
        """Non-empty buckets as (lowest value, width, count) arrays, for a histogram plot."""
        nonzero = np.flatnonzero(self.counts)
        low = self.value_from_index(nonzero)
        width = self.highest_equivalent_at(nonzero) - low + 1
        return low, width, self.counts[nonzero]


def _bit_length(values):
    """int.bit_length() for a non-negative int64 array."""
    out = np.zeros(values.shape, dtype=np.int64)
    values = values.copy()
    for shift in (32, 16, 8, 4, 2, 1):
        big = values >= (np.int64(1) << shift)
        out += np.where(big, shift, 0)
        values = np.where(big, values >> shift, values)
    return out + (values > 0)




# The file formats, importable from here too (reports.hdr.read_hlog, ...).
from .hdr_files import (Interval, decode_v2, encode_v2_compressed, read_hgrm, read_hlog,  # noqa: E402,F401
                        write_hgrm, write_hlog)
