"""HdrHistogram's files in Python: V2 (compressed) encoding, .hlog 1.3 and .hgrm, as hdr_io.hpp writes them.

A V2 buffer is a 40-byte big-endian header (cookie, payload length,
normalizing offset, significant digits, lowest, highest, ratio) followed by
ZigZag LEB128 counts, a run of zero counts written as its negated length; the
compressed form is a cookie, a length and a zlib stream of that buffer. A
.hlog line is "[Tag=t,]start,length,max_ms,<base64 of the compressed form>".
"""

import base64
import re
import struct
import zlib
from dataclasses import dataclass

import numpy as np

from .hdr import HdrFormatError, Histogram

V2_COOKIE_BASE = 0x1C849303
V2_COMPRESSED_COOKIE_BASE = 0x1C849304


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
