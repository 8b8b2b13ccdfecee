"""ringside_trace's reader on windows spread over several blocks (format 1.2, src/tracer/sink_format.h).

A flush snapshot dumps the committed prefix of a window the agent still holds (kFlagFlushed), and the rest
later (kFlagContinued), for detail windows too from format 1.2: each block covers [window_offset,
window_offset + data_bytes) of its window, and an index record's detail reference (window, offset from the
window's start) resolves to the block whose range holds it. The lane files here are built by hand, byte by
byte, with correct block checksums, so every case is exact.
"""

import json
import struct

import ringside_testing  # noqa: F401  (puts src/python on sys.path)

from ringside_trace import reader  # noqa: E402

CAPACITY = 4096
CLOCK_MONOTONIC = 2
FLAG_MARKED, FLAG_PARTIAL = 1, 8  # sink_format.h BlockFlags
FLAG_FLUSHED, FLAG_CONTINUED = 16, 32  # sink_format.h BlockFlags
SESSION = 1


def record(payload):
    """One record as it lies in a ring: commit word (its size), length, payload, padding to 8."""
    total = reader.record_bytes(len(payload))
    return struct.pack("<II", total, len(payload)) + payload + b"\0" * (total - 8 - len(payload))


def detail_record(seq, payload):
    return record(struct.pack("<Q", seq) + payload)


def event(ts, event_id, offset=reader.NO_DETAIL):
    return record(reader.INDEX_EVENT.pack(ts, event_id, offset))


def detail_window_record(ts, first, window):
    return record(reader.INDEX_CONTROL.pack(ts, reader.CONTROL_DETAIL_WINDOW, 0, first, window))


def payload_of(seq):
    """A payload that names its event: 8 bytes of seq, then seq % 13 bytes of its low byte."""
    return struct.pack("<Q", seq) + bytes([seq & 0xFF]) * (seq % 13)


def block(kind, data, window=0, flags=0, first_seq=0, records=0, window_offset=0, session=SESSION):
    """A BlockHeader (checksummed) and its data."""
    fields = [reader.BLOCK_MAGIC, reader.BLOCK_HEADER.size, kind, flags, len(data), session, 0, window, records,
              first_seq, first_seq, 1000, 1000, 0, 0, 0, 0, 0, 0, window_offset]
    header = bytearray(reader.BLOCK_HEADER.pack(*fields))
    fields[18] = reader.fnv1a(header)  # computed with the checksum field zero
    return reader.BLOCK_HEADER.pack(*fields) + data


def session_start():
    return block(reader.BLOCK_SESSION_START, bytes(64))


def session_end(seq_next):
    return block(reader.BLOCK_SESSION_END, reader.SESSION_END.pack(SESSION, 1, seq_next, *[0] * 10, 0, 0, 0, 0))


def lane_file(tmp_path, blocks, minor=2, name="lane-0000.rstrace"):
    header = reader.FILE_HEADER.pack(reader.FILE_MAGIC, reader.FORMAT_MAJOR, minor, reader.FILE_HEADER.size, 0,
                                     CLOCK_MONOTONIC, 7, 0, 0, 0, CAPACITY, 8, 0, 0)
    path = tmp_path / name
    path.write_bytes(header + b"".join(blocks))
    return path


class DetailWindow:
    """Detail records laid out from the window's start: where each event's payload is."""

    def __init__(self):
        self.data = b""
        self.offsets = {}

    def add(self, seq):
        self.offsets[seq] = len(self.data)
        self.data += detail_record(seq, payload_of(seq))

    def cut(self, *points):
        """The window's bytes split at these offsets (each must be a record boundary)."""
        bounds = [0, *points, len(self.data)]
        assert all(b in self.offsets.values() or b == len(self.data) for b in bounds)
        return [(start, self.data[start:end]) for start, end in zip(bounds, bounds[1:])]


def index_data(window, seqs, detail_offsets, ts=1000):
    """An index window's records: its context (the detail window), then one event per seq."""
    data = detail_window_record(ts, seqs[0], window)
    for seq in seqs:
        data += event(ts + seq, seq % 7, detail_offsets.get(seq, reader.NO_DETAIL))
    return data


def read(path):
    rows = []
    sessions, errors = reader.read_lane_file(str(path), rows.append)
    return rows, sessions, errors


def events(rows):
    return {row["seq"]: row for row in rows if row["type"] == "event"}


def two_part_trace(tmp_path, count=12, cut_at=5, minor=2):
    """One detail window of `count` payloads dumped as a flushed prefix (events before `cut_at`) and the rest."""
    detail = DetailWindow()
    for seq in range(count):
        detail.add(seq)
    (start0, part0), (start1, part1) = detail.cut(detail.offsets[cut_at])
    blocks = [
        session_start(),
        block(reader.BLOCK_DETAIL, part0, window=1, flags=FLAG_MARKED | FLAG_FLUSHED | FLAG_PARTIAL,
              first_seq=0, records=cut_at, window_offset=start0),
        block(reader.BLOCK_INDEX, index_data(1, list(range(count)), detail.offsets), window=1, records=count + 1),
        block(reader.BLOCK_DETAIL, part1, window=1, flags=FLAG_MARKED | FLAG_CONTINUED, first_seq=cut_at,
              records=count - cut_at, window_offset=start1),
        session_end(count),
    ]
    return lane_file(tmp_path, blocks, minor=minor), detail


def test_a_detail_window_in_two_blocks_resolves_a_reference_into_each_part(tmp_path):
    path, detail = two_part_trace(tmp_path)
    assert detail.offsets[5] > 0  # the second part starts inside the window
    rows, sessions, errors = read(path)
    assert errors == []
    got = events(rows)
    assert sorted(got) == list(range(12))
    for seq, row in got.items():
        assert row["detail"] == "kept", row
        assert row["payload"] == payload_of(seq)
        assert row["length"] == len(payload_of(seq))
        assert (row["detail_window"], row["detail_offset"]) == (1, detail.offsets[seq])
    (session,) = sessions
    assert session["details_kept"] == 12 and session["details_not_kept"] == 0 and session["details_bad"] == 0
    assert session["ok"]


def test_the_last_record_of_the_first_part_and_the_first_of_the_second_are_both_found(tmp_path):
    # References on either side of the cut, and to the very first and last records of the window.
    path, detail = two_part_trace(tmp_path, count=3, cut_at=1)
    got = events(read(path)[0])
    assert [got[seq]["detail"] for seq in range(3)] == ["kept"] * 3
    assert [got[seq]["payload"] for seq in range(3)] == [payload_of(seq) for seq in range(3)]


def test_a_reference_into_a_gap_between_the_parts_is_bad(tmp_path):
    # The window's middle (the records of events 4 and 5) is in no block, yet its end was dumped: the
    # controller never writes that (a continued block starts where the flushed one ended), so the references
    # into the hole are bad; those into the parts before and after are kept.
    detail = DetailWindow()
    for seq in range(9):
        detail.add(seq)
    (start0, part0), (_, _), (start2, part2) = detail.cut(detail.offsets[4], detail.offsets[6])
    blocks = [
        session_start(),
        block(reader.BLOCK_INDEX, index_data(1, list(range(9)), detail.offsets), window=1, records=10),
        block(reader.BLOCK_DETAIL, part0, window=1, flags=FLAG_MARKED | FLAG_FLUSHED | FLAG_PARTIAL,
              records=4, window_offset=start0),
        block(reader.BLOCK_DETAIL, part2, window=1, flags=FLAG_MARKED | FLAG_CONTINUED, first_seq=6,
              records=3, window_offset=start2),
        session_end(9),
    ]
    rows, sessions, errors = read(lane_file(tmp_path, blocks))
    assert errors == []
    got = events(rows)
    assert {seq: row["detail"] for seq, row in got.items()} == {
        0: "kept", 1: "kept", 2: "kept", 3: "kept", 4: "bad", 5: "bad", 6: "kept", 7: "kept", 8: "kept"}
    assert got[4]["length"] is None and got[4]["payload"] is None
    assert got[7]["payload"] == payload_of(7)
    (session,) = sessions
    assert (session["details_kept"], session["details_not_kept"], session["details_bad"]) == (7, 0, 2)
    assert not session["ok"]


def test_a_reference_past_the_last_part_is_not_kept(tmp_path):
    # Only the flushed prefix reached the file (the rest never did): the later payloads are not kept.
    detail = DetailWindow()
    for seq in range(6):
        detail.add(seq)
    (start0, part0), _ = detail.cut(detail.offsets[3])
    blocks = [
        session_start(),
        block(reader.BLOCK_INDEX, index_data(1, list(range(6)), detail.offsets), window=1, records=7),
        block(reader.BLOCK_DETAIL, part0, window=1, flags=FLAG_MARKED | FLAG_FLUSHED | FLAG_PARTIAL,
              records=3, window_offset=start0),
        session_end(6),
    ]
    rows, sessions, _ = read(lane_file(tmp_path, blocks))
    assert [row["detail"] for row in rows if row["type"] == "event"] == ["kept"] * 3 + ["not_kept"] * 3


def test_a_reference_inside_a_part_that_lands_on_no_record_is_bad(tmp_path):
    # Event 7's reference points 8 bytes into its record: inside the second part's range, not on a record.
    detail = DetailWindow()
    for seq in range(12):
        detail.add(seq)
    offsets = dict(detail.offsets)
    offsets[7] += 8
    (start0, part0), (start1, part1) = detail.cut(detail.offsets[5])
    blocks = [
        session_start(),
        block(reader.BLOCK_DETAIL, part0, window=1, flags=FLAG_MARKED | FLAG_FLUSHED | FLAG_PARTIAL,
              records=5, window_offset=start0),
        block(reader.BLOCK_INDEX, index_data(1, list(range(12)), offsets), window=1, records=13),
        block(reader.BLOCK_DETAIL, part1, window=1, flags=FLAG_MARKED | FLAG_CONTINUED, first_seq=5,
              records=7, window_offset=start1),
        session_end(12),
    ]
    rows, sessions, _ = read(lane_file(tmp_path, blocks))
    got = events(rows)
    assert got[7]["detail"] == "bad"
    assert all(got[seq]["detail"] == "kept" for seq in range(12) if seq != 7)
    (session,) = sessions
    assert session["details_bad"] == 1 and not session["ok"]


def test_a_reference_into_the_second_part_is_read_at_its_offset_less_the_parts_window_offset(tmp_path):
    # Event 5's record is the second part's first: at window offset > 0, at data offset 0. A reader that
    # ignored window_offset would read past the second part's end, or event 0's record in the first part.
    path, detail = two_part_trace(tmp_path)
    got = events(read(path)[0])
    assert detail.offsets[5] != 0 and got[5]["detail"] == "kept" and got[5]["payload"] == payload_of(5)


def test_the_continued_rest_of_an_index_window_references_the_continued_rest_of_its_detail_window(tmp_path):
    # Both windows cut by the same flush: the rest of the index window names no detail window (its context
    # is in the flushed prefix) and its payloads are in the rest of the detail window.
    detail = DetailWindow()
    for seq in range(8):
        detail.add(seq)
    (start0, part0), (start1, part1) = detail.cut(detail.offsets[5])
    prefix = index_data(3, list(range(5)), detail.offsets)
    rest = b"".join(event(1000 + seq, seq % 7, detail.offsets[seq]) for seq in range(5, 8))
    blocks = [
        session_start(),
        block(reader.BLOCK_INDEX, prefix, window=1, flags=FLAG_FLUSHED | FLAG_PARTIAL, records=6),
        block(reader.BLOCK_DETAIL, part0, window=3, flags=FLAG_MARKED | FLAG_FLUSHED | FLAG_PARTIAL,
              records=5, window_offset=start0),
        block(reader.BLOCK_INDEX, rest, window=1, flags=FLAG_CONTINUED, first_seq=5, records=3,
              window_offset=len(prefix)),
        block(reader.BLOCK_DETAIL, part1, window=3, flags=FLAG_MARKED | FLAG_CONTINUED, first_seq=5,
              records=3, window_offset=start1),
        session_end(8),
    ]
    rows, sessions, errors = read(lane_file(tmp_path, blocks))
    assert errors == []
    got = events(rows)
    assert [(got[seq]["detail_window"], got[seq]["detail"]) for seq in range(8)] == [(3, "kept")] * 8
    assert [got[seq]["payload"] for seq in range(8)] == [payload_of(seq) for seq in range(8)]
    (session,) = sessions
    assert session["ok"] and session["events"] == 8 and session["duplicates"] == 0


def test_a_window_dumped_twice_is_read_from_its_last_block(tmp_path):
    # A controller that crashed while dumping a window dumps it again: the last block wins, as before 1.2.
    first, second = DetailWindow(), DetailWindow()
    for seq in range(3):
        first.add(seq)
        second.add(seq)
    stale = bytearray(first.data)
    stale[first.offsets[1] + 16] ^= 0xFF  # event 1's payload differs in the earlier copy
    blocks = [
        session_start(),
        block(reader.BLOCK_INDEX, index_data(1, [0, 1, 2], second.offsets), window=1, records=4),
        block(reader.BLOCK_DETAIL, bytes(stale), window=1, flags=FLAG_MARKED, records=3),
        block(reader.BLOCK_DETAIL, second.data, window=1, flags=FLAG_MARKED, records=3),
        session_end(3),
    ]
    got = events(read(lane_file(tmp_path, blocks))[0])
    assert got[1]["payload"] == payload_of(1)


def test_files_of_format_1_0_and_1_1_read_as_before(tmp_path):
    # Before 1.2 a detail window is one block and window_offset (then `reserved`) is 0.
    for minor in (0, 1):
        folder = tmp_path / f"1.{minor}"
        folder.mkdir()
        detail = DetailWindow()
        for seq in range(4):
            detail.add(seq)
        blocks = [
            session_start(),
            block(reader.BLOCK_INDEX, index_data(1, list(range(4)), detail.offsets), window=1, records=5),
            block(reader.BLOCK_DETAIL, detail.data, window=1, flags=FLAG_MARKED, records=4),
            block(reader.BLOCK_INDEX, index_data(2, [4, 5], {4: 0, 5: 32}), window=2, first_seq=4, records=3),
            session_end(6),
        ]
        rows, sessions, errors = read(lane_file(folder, blocks, minor=minor))
        assert errors == []
        assert [row["detail"] for row in rows if row["type"] == "event"] == ["kept"] * 4 + ["not_kept"] * 2
        assert sessions[0]["ok"] and sessions[0]["details_kept"] == 4


def test_another_major_version_is_refused(tmp_path):
    path, _ = two_part_trace(tmp_path)
    raw = bytearray(path.read_bytes())
    struct.pack_into("<H", raw, 8, reader.FORMAT_MAJOR + 1)
    path.write_bytes(bytes(raw))
    rows, sessions, errors = read(path)
    assert rows == [] and sessions == []
    assert "format 2.2; this reader reads 1.x" in errors[0]


def test_the_command_line_prints_payloads_from_both_parts(tmp_path, capsys):
    path, _ = two_part_trace(tmp_path)
    assert reader.main(["--payload", "--verify", str(path)]) == 0
    lines = capsys.readouterr().out.splitlines()
    report = json.loads(lines[-1])
    assert report["ok"] and report["sessions"][0]["details_kept"] == 12
    rows = [json.loads(line) for line in lines[:-1]]
    assert [bytes.fromhex(row["payload"]) for row in rows if row["type"] == "event"] == \
        [payload_of(seq) for seq in range(12)]
    assert reader.main(["--format", "csv", "--payload", str(path)]) == 0
    csv_lines = capsys.readouterr().out.splitlines()
    assert csv_lines[0] == "type,lane,session,seq,ts,ts_ns,event_id,length,detail,count,cause,payload"
    assert csv_lines[1 + 5] == f"event,0,1,5,1005,1005,5,{len(payload_of(5))},kept,0,,{payload_of(5).hex()}"
