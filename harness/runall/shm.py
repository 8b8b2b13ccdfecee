"""Regions a run leaves behind: unlink the /dev/shm and file-backed regions our children created.

Only names that appeared during the child's life, start with "ringside" and
whose header names one of the child's processes as creator are removed, so a
neighbour's regions (other engineers' tests, a second run) are never touched.
The header layout is src/shm/layout.h (pinned by tests/layout_test.cpp).
"""

import os
import struct
from pathlib import Path

MAGIC = 0x31454449_53474E52  # "RNGSIDE1"
CREATOR_PID_OFFSET = 44      # RegionHeader.creator_pid (int32)
CREATOR_TICKS_OFFSET = 48    # RegionHeader.creator_start_ticks (uint64, /proc/<pid>/stat field 22)
PREFIX = "ringside"
PLACES = (Path("/dev/shm"), Path("/tmp"))


def _names(places):
    out = set()
    for place in places:
        try:
            out.update(place / n for n in os.listdir(place) if n.startswith(PREFIX))
        except OSError:
            pass
    return out


def creator_pid(path):
    """The creator pid in a region's header, or None if the file is not a (ready) region."""
    try:
        with open(path, "rb") as f:
            head = f.read(CREATOR_PID_OFFSET + 4)
    except OSError:
        return None
    if len(head) < CREATOR_PID_OFFSET + 4 or struct.unpack_from("<Q", head, 0)[0] != MAGIC:
        return None
    return struct.unpack_from("<i", head, CREATOR_PID_OFFSET)[0]


def creator_alive(path):
    """Whether the region's creator still runs: its pid exists, is not a zombie, and (when the header
    records it) started at the recorded time, so a reused pid does not keep a dead creator's region.
    None when the file is not a (ready) region."""
    try:
        with open(path, "rb") as f:
            head = f.read(CREATOR_TICKS_OFFSET + 8)
    except OSError:
        return None
    if len(head) < CREATOR_TICKS_OFFSET + 8 or struct.unpack_from("<Q", head, 0)[0] != MAGIC:
        return None
    pid = struct.unpack_from("<i", head, CREATOR_PID_OFFSET)[0]
    ticks = struct.unpack_from("<Q", head, CREATOR_TICKS_OFFSET)[0]
    try:
        stat = Path(f"/proc/{pid}/stat").read_text() if pid > 0 else ""
    except OSError:
        return False
    fields = stat[stat.rfind(")") + 2:].split()
    if len(fields) < 20 or fields[0] in ("Z", "X", "x"):
        return False
    return not ticks or int(fields[19]) == ticks


def session_members(sid):
    """Pids of the live processes in session `sid` (our children are session leaders)."""
    out = set()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rfind(")") + 2:].split()
        if len(fields) > 3 and fields[3] == str(sid):
            out.add(int(entry))
    return out


class Watcher:
    """Follows one child's session while it runs, then removes the regions its processes created."""

    def __init__(self, pid, places=PLACES):
        self.places = places
        self.before = _names(places)
        self.pids = {pid}
        self.sid = pid
        self.removed = []

    def poll(self):
        self.pids |= session_members(self.sid)

    def cleanup(self):
        for path in sorted(_names(self.places) - self.before):
            if creator_pid(path) in self.pids:
                try:
                    path.unlink()
                    self.removed.append(str(path))
                except OSError:
                    pass
        return self.removed
