#!/usr/bin/env python3
"""Writes the small seed corpora in fuzz/corpus/<target>/ (deterministic; rerun after a layout change)."""

import random
import struct
from pathlib import Path

HERE = Path(__file__).resolve().parent
MAGIC = 0x31454449_53474E52          # "RNGSIDE1"
TRACE_MAGIC = 0x31454341_52545352    # "RSTRACE1"
FILE_MAGIC = 0x46454341_52545352     # "RSTRACEF"
INDEX_MAGIC = 0x58454341_52545352    # "RSTRACEX"
BLOCK_MAGIC = 0x314B4C42
PAD = 0x8000_0000


def record(payload, align=8):
    total = (8 + len(payload) + align - 1) & ~(align - 1)
    return struct.pack("<II", total, len(payload)) + payload + b"\0" * (total - 8 - len(payload))


def ring_data(capacity, records, start=0):
    data = bytearray(capacity)
    pos = start
    for payload in records:
        rec = record(payload)
        off = pos % capacity
        if off + len(rec) > capacity:
            pad = capacity - off
            data[off:off + 8] = struct.pack("<II", PAD | pad, 0)
            pos += pad
            off = 0
        data[off:off + len(rec)] = rec
        pos += len(rec)
    return bytes(data)


def region_header(capacity, rings, align=8):
    total = 4096 + rings * (4096 + capacity)
    head = struct.pack("<QHHIQQIIIiQQQII", MAGIC, 1, 0, 256, total, capacity, rings, align, 1, 1, 1, 7, 0, 0, 0)
    return head + b"\0" * (4096 - len(head)), total


def region_file(capacity, rings, read=0):
    header, total = region_header(capacity, rings)
    out = bytearray(header)
    for i in range(rings):
        control = bytearray(4096)
        control[128:136] = struct.pack("<Q", read)
        out += control + ring_data(capacity, [bytes([i + 1]) * n for n in (1, 7, 24, 100)], read)
    assert len(out) == total
    return bytes(out)


def trace_region(capacity=4096, lanes=1, rings=2):
    total = 4096 + lanes * 4096 + lanes * rings * (4096 + capacity)
    head = struct.pack("<QHHIQQIIIIIiQQQQQQ", TRACE_MAGIC, 1, 0, 640, total, capacity, lanes, rings, 8, 1, 2, 1,
                       1, 9, 0, 0, 0, 0)
    out = bytearray(head + b"\0" * (4096 - len(head)))
    out += b"\0" * (lanes * 4096)
    for _ in range(lanes * rings):
        out += b"\0" * 4096 + ring_data(capacity, [struct.pack("<QII", 5, 1, 0xFFFFFFFF)] * 3)
    assert len(out) == total
    return bytes(out)


def fnv1a(data):
    h = 2166136261
    for b in data:
        h = ((h ^ b) * 16777619) & 0xFFFFFFFF
    return h


def block(kind, data, session=1, window=0, records=0, first_seq=0, last_seq=0, flags=0):
    fields = [BLOCK_MAGIC, 128, kind, flags, len(data), session, 0, window, records, first_seq, last_seq,
              100, 200, 100, 1000, 0, 0, 0, 0, 0]
    fmt = "<IIIIQIIQQQQQQQQQQIIQ"
    raw = struct.pack(fmt, *fields)
    fields[18] = fnv1a(raw)
    return struct.pack(fmt, *fields) + data


def lane_file():
    header = struct.pack("<QHHIIIQQQQQIIQ", FILE_MAGIC, 1, 0, 128, 0, 2, 7, 0, 0, 0, 4096, 8, 0, 0)
    header += b"\0" * (128 - len(header))
    start = struct.pack("<iiQIIQQQ", 1, 1, 1, 1, 1, 0, 0, 0) + b"\0" * 16
    events = [struct.pack("<QII", 1000 + i, 3, 0xFFFFFFFF if i != 1 else 0) for i in range(4)]
    gap = struct.pack("<QIIQQ", 999, 1, 1, 4, 2)
    index = b"".join(record(e) for e in events) + record(gap)
    detail = record(struct.pack("<Q", 1) + b"payload!")
    window_ctx = record(struct.pack("<QIIQQ", 999, 3, 0, 0, 1))
    end = struct.pack("<IIQ", 1, 1, 6) + b"\0" * (128 - 16)
    blocks = (block(3, start) + block(2, detail, window=1, records=1, first_seq=1, last_seq=1)
              + block(1, window_ctx + index, window=1, records=6, first_seq=0, last_seq=5) + block(4, end))
    return header + blocks


def index_file():
    head = struct.pack("<QHHIIIQ", INDEX_MAGIC, 1, 0, 64, 0, 64, 7) + b"\0" * 32
    entry = struct.pack("<QIIIIQQQQQ", 128 + 128 + 64, 1, 0, 1, 0, 1, 0, 5, 100, 200)
    return head + entry


def write(target, name, data):
    folder = HERE / "corpus" / target
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_bytes(data)


def main():
    rng = random.Random(8)
    for cap_sel, start in ((6, 0), (6, 4000), (0, 40), (3, 0)):
        capacity = 64 << cap_sel
        payloads = [bytes([n]) * (n % (capacity // 4)) for n in (3, 17, 40, 9, 200, 1)]
        data = ring_data(capacity, payloads, start)
        write("fuzz_record", f"ring-{capacity}-{start}", bytes([cap_sel, 0]) + struct.pack("<Q", start) + b"\x40" + data)
    write("fuzz_region_open", "ring-1x4096", b"\0" + region_file(4096, 1))
    write("fuzz_region_open", "ring-2x4096-read-80", b"\0" + region_file(4096, 2, read=80))
    write("fuzz_region_open", "tracer-1x2x4096", b"\1" + trace_region())
    lane, idx = lane_file(), index_file()
    for flags in (0, 1, 3):
        write("fuzz_trace_reader", f"lane-flags{flags}",
              bytes([flags]) + struct.pack("<QQH", 0, 1 << 62, len(idx)) + idx + lane)
    # Regression: two records claiming seq 2^39 made the reader's verifier ask for 64 GiB.
    header = lane[:128]
    events = b"".join(record(struct.pack("<QII", 1000 + i, 3, 0xFFFFFFFF)) for i in range(2))
    big = header + block(1, events, window=1, records=2, first_seq=1 << 39, last_seq=(1 << 39) + 1)
    write("fuzz_trace_reader", "regression-seq-2e39", bytes([0]) + struct.pack("<QQH", 0, 0, 0) + big)
    # Tracer drain programs: (op, ring, operands...). op 0: a real window (events, action); 9: poll.
    write("fuzz_tracer_drain", "windows", bytes([0, 0, 40, 0, 9, 0, 0, 0, 200, 0, 9, 0, 1, 0, 3, 1, 9, 0]))
    write("fuzz_tracer_drain", "bad-entries", bytes([2, 0, 7, 0, 0, 0x50, 9, 0, 3, 0]) + struct.pack("<Q", 1 << 40)
          + bytes([9, 0, 0, 1, 30, 0, 6, 1]) + struct.pack("<Q", 3) + bytes([9, 0]))
    write("fuzz_tracer_drain", "dead-agent", bytes([0, 0, 90, 0, 8, 0, 0x31]) + struct.pack("<Q", 5) + bytes([9, 0]))
    for i in range(4):
        write("fuzz_capi", f"program-{i}", bytes(rng.randrange(256) for _ in range(256 << i)))


if __name__ == "__main__":
    main()
