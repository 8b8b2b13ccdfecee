"""Decodes ringside tracer lane files (lane-NNNN.rstrace) and verifies sequence continuity.

Standard library only. Mirrors src/tracer/trace_reader.cpp and the format in
src/tracer/sink_format.h: refuses another major format version, validates
every block checksum and record header, and never follows a bad one.

    PYTHONPATH=src/python python3 -m ringside_trace SINK_DIR --verify --format none
"""

import argparse
import csv
import json
import os
import struct
import sys

FORMAT_MAJOR = 1
FORMAT_MINOR = 2  # 1.2: BlockHeader.window_offset, detail windows cut too; 1.0 and 1.1 files have 0 there
FILE_MAGIC = 0x4645434152545352  # "RSTRACEF"
BLOCK_MAGIC = 0x314B4C42  # "BLK1"
PAD_FLAG = 0x80000000
NO_DETAIL = 0xFFFFFFFF
CONTROL_GAP, CONTROL_MARK, CONTROL_DETAIL_WINDOW = 1, 2, 3
CLOCK_TSC = 1

BLOCK_INDEX, BLOCK_DETAIL, BLOCK_SESSION_START, BLOCK_SESSION_END = 1, 2, 3, 4
FLAG_RECOVERED = 2
FLAG_FLUSHED = 16  # the committed prefix of a window the agent still held (a flush snapshot)
FLAG_CONTINUED = 32  # the rest of a window a flush snapshot cut: continues the previous block's context
CAUSES = {1: "no_ring", 2: "overwritten", 3: "wait_timeout", 4: "reentrant"}
END_REASONS = {1: "closed", 2: "died"}

FILE_HEADER = struct.Struct("<QHHIIIQQQQQIIQ48x")
BLOCK_HEADER = struct.Struct("<IIIIQIIQQQQQQQQQQIIQ")
SESSION_END = struct.Struct("<IIQ5Q5QQQQQ")
INDEX_EVENT = struct.Struct("<QII")  # timestamp, event id, detail offset
INDEX_CONTROL = struct.Struct("<QIIQQ")  # timestamp, kind, cause, first, value
RECORD_HEADER = struct.Struct("<II")


class FormatError(Exception):
    """A file this reader cannot or must not decode."""


def fnv1a(data):
    """FNV-1a 32 of bytes, the block header checksum."""
    value = 2166136261
    for byte in data:
        value = ((value ^ byte) * 16777619) & 0xFFFFFFFF
    return value


def record_bytes(payload):
    """Bytes a record of `payload` bytes takes in a ring (header included, aligned to 8)."""
    return (8 + payload + 7) & ~7


def to_ns(header, block, ts):
    """Converts a trace-clock timestamp with the block's anchor pair."""
    if header["clock"] != CLOCK_TSC or header["tsc_hz"] == 0:
        return ts
    delta = ts - block["open_tsc"]
    shift = abs(delta) * 1_000_000_000 // header["tsc_hz"]  # truncated toward zero, as the C++ reader does
    return max(0, block["open_ns"] + (shift if delta >= 0 else -shift))


def records(data, capacity):
    """Yields (offset, payload) for each record of a window block; raises FormatError at a bad one."""
    position = 0
    while position + 8 <= len(data):
        commit, length = RECORD_HEADER.unpack_from(data, position)
        total = commit & ~PAD_FLAG
        if total < 8 or total % 8 or position + total > len(data) or total > capacity:
            raise FormatError(f"record at offset {position} has an impossible size")
        if not commit & PAD_FLAG:
            if record_bytes(length) != total:
                raise FormatError(f"record at offset {position} has a length inconsistent with its size")
            yield position, data[position + 8:position + 8 + length]
        position += total
    if position != len(data):
        raise FormatError("trailing bytes after the last record")


def read_blocks(raw, path, errors):
    """Splits a lane file into (file header, [block dicts]), stopping at the first bad block."""
    if len(raw) < FILE_HEADER.size:
        raise FormatError(f"{path}: not a ringside trace file")
    fields = FILE_HEADER.unpack_from(raw, 0)
    if fields[0] != FILE_MAGIC:
        raise FormatError(f"{path}: not a ringside trace file")
    if fields[1] != FORMAT_MAJOR:
        raise FormatError(f"{path}: format {fields[1]}.{fields[2]}; this reader reads {FORMAT_MAJOR}.x")
    header = {"header_bytes": fields[3], "lane": fields[4], "clock": fields[5], "tsc_hz": fields[7],
              "ring_capacity": fields[10]}
    blocks = []
    offset = header["header_bytes"]
    while offset < len(raw):
        if offset + BLOCK_HEADER.size > len(raw):
            errors.append(f"{path}: torn block header at offset {offset}")
            break
        h = BLOCK_HEADER.unpack_from(raw, offset)
        zeroed = bytearray(raw[offset:offset + BLOCK_HEADER.size])
        zeroed[116:120] = b"\0\0\0\0"
        if h[0] != BLOCK_MAGIC or h[1] < BLOCK_HEADER.size or fnv1a(zeroed) != h[18]:
            errors.append(f"{path}: bad block header at offset {offset}")
            break
        if h[4] > len(raw) - offset - h[1]:
            errors.append(f"{path}: block at offset {offset} runs past the end")
            break
        start = offset + h[1]
        blocks.append({"offset": offset, "kind": h[2], "flags": h[3], "session": h[5], "window": h[7],
                       "first_seq": h[9], "open_tsc": h[13], "open_ns": h[14], "window_offset": h[19],
                       "data": raw[start:start + h[4]]})
        offset = start + h[4]
    return header, blocks


class Session:
    """Sequence continuity of one agent session of one lane."""

    def __init__(self, lane, session, verifying=True):
        self.lane, self.session, self.verifying = lane, session, verifying
        self.expected = 0
        self.seen = set()
        self.report = {"lane": lane, "session": session, "events": 0, "duplicates": 0, "out_of_order": 0,
                       "marks": 0, "lost_explained": 0, "lost_unexplained": 0, "details_kept": 0,
                       "details_not_kept": 0, "details_bad": 0, "recovered_blocks": 0, "ended": False,
                       "end_reason": "open", "end_seq_next": 0, "gaps": []}

    def _gap(self, first, count, cause):
        self.report["gaps"].append({"first": first, "count": count, "cause": cause})
        self.report["lost_unexplained" if cause == "unexplained" else "lost_explained"] += count

    def event(self, seq):
        self.report["events"] += 1
        if not self.verifying:
            return
        if seq == self.expected:
            self.expected += 1
        elif seq > self.expected:
            self._gap(self.expected, seq - self.expected, "unexplained")
            self.expected = seq + 1
        elif seq in self.seen:
            self.report["duplicates"] += 1
            return
        else:
            self.report["out_of_order"] += 1
        self.seen.add(seq)

    def gap(self, first, count, cause):
        if not self.verifying:
            return
        if first > self.expected:
            self._gap(self.expected, first - self.expected, "unexplained")
            self.expected = first
        if first + count <= self.expected:
            return
        start = max(first, self.expected)
        self._gap(start, first + count - start, CAUSES.get(cause, "unknown"))
        self.expected = first + count

    def end(self, data):
        fields = SESSION_END.unpack_from(data, 0)
        seq_next, drops = fields[2], fields[3:8]
        self.report.update(ended=True, end_reason=END_REASONS.get(fields[1], "open"), end_seq_next=seq_next)
        if self.verifying and seq_next > self.expected:
            budget = max(0, sum(drops[1:4]) - self.report["lost_explained"])
            tail = seq_next - self.expected
            self._gap(self.expected, tail, "dropped_at_end" if budget >= tail else "unexplained")
            self.expected = seq_next

    def finish(self):
        rep = self.report
        rep["next_seq"] = self.expected
        rep["ok"] = not (rep["duplicates"] or rep["out_of_order"] or rep["lost_unexplained"] or rep["details_bad"])
        return rep


def detail_block(details, session, row):
    """The detail block holding an event's reference, or None.

    A detail window may lie in several blocks (format 1.2: a flush snapshot's prefix, then the rest), each
    covering [window_offset, window_offset + data_bytes) of the window: the one whose range holds the offset,
    the last dumped when a window was dumped twice (a controller that crashed while dumping it).
    """
    at = row["detail_offset"]
    for block in reversed(details.get((session, row["detail_window"]), []) if row["detail_window"] else []):
        if block["window_offset"] <= at < block["window_offset"] + len(block["data"]):
            return block
    return None


def detail_status(details, session, row):
    """kept / not_kept / bad for an event's payload; sets row["length"] and returns the payload when kept."""
    block = detail_block(details, session, row)
    if block is None:
        # Outside every part: not kept when only flush snapshots of the window reached the file (its rest never
        # did: reused in place, or not dumped yet); bad once the window's end was dumped (the reference points nowhere).
        parts = details.get((session, row["detail_window"]), []) if row["detail_window"] else []
        return ("bad" if any(not part["flags"] & FLAG_FLUSHED for part in parts) else "not_kept"), None
    data, at = block["data"], row["detail_offset"] - block["window_offset"]
    if at + 8 > len(data):
        return "bad", None
    commit, length = RECORD_HEADER.unpack_from(data, at)
    total = record_bytes(length)
    if commit & PAD_FLAG or commit != total or length < 8 or at + total > len(data):
        return "bad", None
    if struct.unpack_from("<Q", data, at + 8)[0] != row["seq"]:
        return "bad", None
    row["length"] = length - 8
    return "kept", bytes(data[at + 16:at + 8 + length])


def read_lane_file(path, on_row=None):
    """Decodes one lane file: calls on_row(dict) per index record; returns (session reports, errors)."""
    errors, sessions = [], []
    with open(path, "rb") as handle:
        raw = memoryview(handle.read())
    try:
        header, blocks = read_blocks(raw, path, errors)
    except FormatError as error:
        return sessions, [str(error)]
    details = {}  # (session, detail window) -> its blocks, in file order
    for block in blocks:
        if block["kind"] == BLOCK_DETAIL:
            details.setdefault((block["session"], block["window"] & 0xFFFFFFFF), []).append(block)
    current = None
    context = (None, None, 0)  # (session, window, detail window) at the end of the last index block
    for block in blocks:
        if block["kind"] == BLOCK_SESSION_START and current and current.session == block["session"]:
            continue  # a controller that took over announces the session again
        if current is None or current.session != block["session"] or block["kind"] == BLOCK_SESSION_START:
            if current:
                sessions.append(current.finish())
            current = Session(header["lane"], block["session"])
            if block["kind"] == BLOCK_SESSION_START:
                continue
        if block["kind"] == BLOCK_SESSION_END:
            current.end(block["data"])
            sessions.append(current.finish())
            current = None
            continue
        if block["kind"] != BLOCK_INDEX:
            continue
        if block["flags"] & FLAG_RECOVERED:
            current.report["recovered_blocks"] += 1
        seq, window = block["first_seq"], 0  # implicit numbering; each window opens with its context
        if block["flags"] & FLAG_CONTINUED and context[:2] == (block["session"], block["window"]):
            window = context[2]
        try:
            for _, payload in records(block["data"], header["ring_capacity"]):
                row = {"lane": header["lane"], "session": block["session"]}
                if len(payload) == INDEX_CONTROL.size:
                    ts, kind, cause, first, value = INDEX_CONTROL.unpack(payload)
                    row.update(seq=first, ts=ts, ts_ns=to_ns(header, block, ts))
                    if kind == CONTROL_DETAIL_WINDOW:
                        window = value
                        continue
                    if kind == CONTROL_GAP:
                        row.update(type="gap", count=value, cause=CAUSES.get(cause, "unknown"))
                        current.gap(first, value, cause)
                        if first >= seq:
                            seq = first + value
                    elif kind == CONTROL_MARK:
                        row.update(type="mark", detail_window=value)
                        current.report["marks"] += 1
                    else:
                        errors.append(f"{path}: unknown control record {kind}")
                        continue
                elif len(payload) == INDEX_EVENT.size:
                    ts, event_id, detail = INDEX_EVENT.unpack(payload)
                    row.update(type="event", seq=seq, ts=ts, ts_ns=to_ns(header, block, ts), event_id=event_id,
                               length=0, detail="none")
                    current.event(seq)
                    seq += 1
                    if detail != NO_DETAIL:
                        row.update(length=None, detail_window=window, detail_offset=detail)
                        row["detail"], row["payload"] = detail_status(details, block["session"], row)
                        current.report["details_" + row["detail"]] += 1
                else:
                    errors.append(f"{path}: index record of {len(payload)} bytes")
                    continue
                if on_row:
                    on_row(row)
        except FormatError as error:
            errors.append(f"{path}: block at offset {block['offset']}: {error}")
        context = (block["session"], block["window"], window)
    if current:
        sessions.append(current.finish())
    return sessions, errors


def lane_files(directory):
    """Every lane-*.rstrace in a directory, in lane order."""
    names = sorted(n for n in os.listdir(directory) if n.startswith("lane-") and n.endswith(".rstrace"))
    return [os.path.join(directory, n) for n in names]


def read_trace(inputs, on_row=None):
    """Decodes directories and lane files; returns the report dict."""
    report = {"sessions": [], "errors": []}
    for item in inputs:
        for path in lane_files(item) if os.path.isdir(item) else [item]:
            sessions, errors = read_lane_file(path, on_row)
            report["sessions"] += sessions
            report["errors"] += errors
    report["ok"] = not report["errors"] and all(s["ok"] for s in report["sessions"])
    return report


CSV_COLUMNS = ["type", "lane", "session", "seq", "ts", "ts_ns", "event_id", "length", "detail", "count", "cause"]


def create_parser():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("inputs", nargs="+", help="sink directories or lane-NNNN.rstrace files")
    parser.add_argument("--format", choices=["jsonl", "csv", "none"], default="jsonl")
    parser.add_argument("--verify", action="store_true", help="print the continuity report last; exit 1 if it fails")
    parser.add_argument("--payload", action="store_true", help="include kept payloads as hex")
    return parser


def main(argv=None):
    args = create_parser().parse_args(argv)
    writer = csv.DictWriter(sys.stdout, CSV_COLUMNS + (["payload"] if args.payload else []),
                            extrasaction="ignore", lineterminator="\n") if args.format == "csv" else None
    if writer:
        writer.writeheader()

    def emit(row):
        payload = row.pop("payload", None)
        if args.payload and payload is not None:
            row["payload"] = payload.hex()
        if args.format == "jsonl":
            print(json.dumps(row))
        elif writer:
            # As ringside-trace-read prints them: event_id and count on every row (0 where they do not apply).
            writer.writerow({"event_id": 0, "count": 0, **row})

    report = read_trace(args.inputs, emit if args.format != "none" else None)
    for error in report["errors"]:
        print(f"ringside_trace.reader: {error}", file=sys.stderr)
    if args.verify:
        print(json.dumps(report))
        return 0 if report["ok"] else 1
    return 0 if not report["errors"] else 1


if __name__ == "__main__":
    sys.exit(main())
