"""HdrHistogram in Python: the bucket layout, V2 (compressed) encoding, .hlog 1.3 and .hgrm files.

Follows AbstractHistogram.java 2.1.11 as harness/runner/histogram.hpp and
hdr_io.hpp do, so figures computed here match the runner's and HdrHistogram's
own tools: a V2 buffer is a 40-byte big-endian header (cookie, payload length,
normalizing offset, significant digits, lowest, highest, ratio) followed by
ZigZag LEB128 counts, a run of zero counts written as its negated length; the
compressed form is a cookie, a length and a zlib stream of that buffer.
"""

import base64
import math
import re
import struct
import zlib
from dataclasses import dataclass, field

import numpy as np

V2_COOKIE_BASE = 0x1C849303
V2_COMPRESSED_COOKIE_BASE = 0x1C849304


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


# ---- V2 encoding ----

def _zigzag_varints(data, start, end):
    """Every ZigZag LEB128 long (HdrHistogram's ZigZagEncoding) in data[start:end]."""
    out, at = [], start
    while at < end:
        value = shift = 0
        for i in range(9):
            if at >= end:
                raise HdrFormatError("truncated count in V2 payload")
            byte = data[at]
            at += 1
            if i == 8:
                value |= byte << 56
                break
            value |= (byte & 0x7F) << shift
            shift += 7
            if not byte & 0x80:
                break
        out.append((value >> 1) ^ -(value & 1))
    return out


def decode_v2(data):
    """A Histogram from a V2 buffer, compressed or not."""
    if len(data) < 8:
        raise HdrFormatError("histogram shorter than its header")
    cookie, length = struct.unpack_from(">iI", data, 0)
    cookie &= 0xFFFFFFFF
    if cookie & ~0xF0 == V2_COMPRESSED_COOKIE_BASE:
        if length > len(data) - 8:
            raise HdrFormatError("compressed length beyond the buffer")
        try:
            return decode_v2(zlib.decompress(data[8:8 + length]))
        except zlib.error as error:
            raise HdrFormatError(f"DEFLATE stream does not inflate: {error}") from None
    if cookie & ~0xF0 != V2_COOKIE_BASE or len(data) < 40:
        raise HdrFormatError(f"not a V2 histogram (cookie {cookie:#x})")
    payload, _offset, digits, lowest, highest = struct.unpack_from(">IiiQQ", data, 4)
    if payload > len(data) - 40 or lowest < 1 or highest < 2 * lowest or not 0 <= digits <= 5:
        raise HdrFormatError("V2 header out of range")
    histogram = Histogram(lowest, highest, digits)
    tokens = _zigzag_varints_fast(data, 40, 40 + payload)
    advance = np.where(tokens < 0, -tokens, 1)
    index = np.cumsum(advance) - advance
    kept = tokens >= 0
    if kept.any() and index[kept][-1] >= len(histogram.counts):
        raise HdrFormatError("count beyond the histogram's range")
    histogram.counts[index[kept]] = tokens[kept]
    return histogram


def _zigzag_varints_fast(data, start, end):
    """_zigzag_varints() with numpy, falling back to it for 9-byte (>= 2^56) varints."""
    raw = np.frombuffer(data, dtype=np.uint8, count=end - start, offset=start)
    if not len(raw):
        return np.zeros(0, dtype=np.int64)
    last = np.flatnonzero((raw & 0x80) == 0)
    starts = np.concatenate([[0], last[:-1] + 1]) if len(last) else np.zeros(0, np.int64)
    if not len(last) or last[-1] != len(raw) - 1 or (last - starts).max(initial=0) >= 8:
        return np.array(_zigzag_varints(data, start, end), dtype=np.int64)
    group = np.repeat(np.arange(len(starts)), last - starts + 1)
    position = np.arange(len(raw)) - starts[group]
    parts = (raw & 0x7F).astype(np.uint64) << (7 * position).astype(np.uint64)
    value = np.add.reduceat(parts, starts)
    return ((value >> np.uint64(1)).astype(np.int64)) ^ -((value & np.uint64(1)).astype(np.int64))


def _varint_bytes(tokens):
    """ZigZag LEB128 of every token (values below 2^56: at most 8 bytes each)."""
    value = (tokens.astype(np.uint64) << np.uint64(1)) ^ (tokens >> 63).astype(np.uint64)
    if len(value) and value.max() >= np.uint64(1) << np.uint64(56):
        raise HdrFormatError("count too large for this encoder")
    groups = np.ones(len(value), dtype=np.int64)
    for k in range(1, 8):
        groups += value >= (np.uint64(1) << np.uint64(7 * k))
    owner = np.repeat(np.arange(len(value)), groups)
    position = np.arange(int(groups.sum())) - np.repeat(np.cumsum(groups) - groups, groups)
    byte = (value[owner] >> (7 * position).astype(np.uint64)) & np.uint64(0x7F)
    more = position < groups[owner] - 1
    return (byte | np.where(more, 0x80, 0).astype(np.uint64)).astype(np.uint8).tobytes()


def encode_v2_compressed(histogram):
    """The compressed V2 form, as encodeIntoCompressedByteBuffer writes it."""
    counts = histogram.counts
    nonzero = np.flatnonzero(counts)
    limit = int(nonzero[-1]) + 1 if len(nonzero) else 0
    counts = counts[:limit]
    # A run of >= 2 zero counts is one token, its negated length; a lone zero stays 0.
    edges = np.diff(np.concatenate([[0], (counts == 0).astype(np.int8), [0]]))
    starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    long_run = ends - starts > 1
    starts, ends = starts[long_run], ends[long_run]
    tokens = counts.astype(np.int64).copy()
    tokens[starts] = -(ends - starts)
    inside = np.zeros(limit + 1, dtype=np.int64)
    np.add.at(inside, starts + 1, 1)
    np.add.at(inside, ends, -1)
    keep = np.cumsum(inside)[:limit] == 0
    body = _varint_bytes(tokens[keep])
    header = struct.pack(">IIiiQQd", V2_COOKIE_BASE | 0x10, len(body), 0, histogram.digits,
                         histogram.lowest, histogram.highest, 1.0)
    packed = zlib.compress(header + body)
    return struct.pack(">II", V2_COMPRESSED_COOKIE_BASE | 0x10, len(packed)) + packed


# ---- .hlog (HistogramLogWriter 1.3) ----

@dataclass
class Interval:
    tag: str
    start_s: float
    length_s: float
    max_ms: float
    histogram: Histogram


def read_hlog(text):
    """Every interval of a 1.x log, in file order; HdrFormatError names the bad line."""
    intervals = []
    for number, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line[0] in '#"':
            continue
        tag = ""
        if line.startswith("Tag="):
            tag, _, line = line[4:].partition(",")
        fields = line.split(",")
        if len(fields) != 4:
            raise HdrFormatError(f"line {number}: expected start,length,max,histogram")
        try:
            histogram = decode_v2(base64.b64decode(fields[3], validate=True))
            intervals.append(Interval(tag, float(fields[0]), float(fields[1]), float(fields[2]), histogram))
        except (ValueError, HdrFormatError) as error:
            raise HdrFormatError(f"line {number}: {error}") from None
    return intervals


def write_hlog(intervals, start_epoch_s=0.0):
    """A 1.3 log of `intervals` (for fixtures and tests)."""
    lines = ["#[Histogram log format version 1.3]",
             f"#[StartTime: {start_epoch_s:.3f} (seconds since epoch)]",
             f"#[BaseTime: {start_epoch_s:.3f} (seconds since epoch)]",
             '"StartTimestamp","Interval_Length","Interval_Max","Interval_Compressed_Histogram"']
    for interval in intervals:
        prefix = f"Tag={interval.tag}," if interval.tag else ""
        encoded = base64.b64encode(encode_v2_compressed(interval.histogram)).decode()
        lines.append(f"{prefix}{interval.start_s:.3f},{interval.length_s:.3f},"
                     f"{interval.histogram.max() / 1e6:.3f},{encoded}")
    return "\n".join(lines) + "\n"


# ---- .hgrm (outputPercentileDistribution) ----

_HGRM_ROW = re.compile(r"^\s*([0-9.]+)\s+([0-9.]+)\s+(\d+)(?:\s+([0-9.]+|Infinity))?\s*$")


def read_hgrm(text):
    """(values, percentiles in [0, 1], total counts) of a percentile distribution."""
    values, levels, counts = [], [], []
    for line in text.splitlines():
        match = _HGRM_ROW.match(line)
        if match:
            values.append(float(match.group(1)))
            levels.append(float(match.group(2)))
            counts.append(int(match.group(3)))
    if not values:
        raise HdrFormatError("no percentile rows")
    return np.array(values), np.array(levels), np.array(counts)


def write_hgrm(histogram, unit_ratio=1.0):
    """A percentile distribution table in the .hgrm layout (for fixtures and tests)."""
    values, levels, counts = histogram.spectrum()
    rows = [f"{'Value':>12} {'Percentile':>14} {'TotalCount':>10} {'1/(1-Percentile)':>14}", ""]
    total = histogram.total
    for value, level, count in zip(values, levels, counts):
        tail = f" {1.0 / (1.0 - level):14.2f}" if level < 1.0 else ""
        rows.append(f"{value / unit_ratio:12.{histogram.digits}f} {level:2.12f} {count:10d}{tail}")
    rows.append(f"#[Mean    = {histogram.mean() / unit_ratio:12.{histogram.digits}f}]")
    rows.append(f"#[Max     = {histogram.max() / unit_ratio:12.{histogram.digits}f}, "
                f"Total count    = {total:12d}]")
    return "\n".join(rows) + "\n"
