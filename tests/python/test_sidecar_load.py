"""Callbacks under load: a million events through a sidecar, every one checked for order and content."""

import struct
import sys
import time

import pytest

import ringside
from ringside import SidecarHost

pytestmark = pytest.mark.library

MILLION = 1_000_000


class SequenceCheck:
    """on_event for 8-byte little-endian sequence numbers: counts events, gaps and wrong sizes."""

    def __init__(self):
        self.expected = 0
        self.out_of_order = 0
        self.wrong_size = 0
        self.unpack = struct.Struct("<Q").unpack

    def __call__(self, data):
        if len(data) != 8:
            self.wrong_size += 1
            return
        if self.unpack(data)[0] != self.expected:
            self.out_of_order += 1
        self.expected += 1


def send_sequence(host, count, batch=4096):
    """Sends 0..count-1. Commands are packed a batch at a time (one struct.pack call per batch)."""
    send = host.commands.write_wait
    for start in range(0, count, batch):
        n = min(batch, count - start)
        packed = struct.pack(f"<{n}Q", *range(start, start + n))
        for offset in range(0, 8 * n, 8):
            if not send(packed[offset:offset + 8], 10.0):
                raise AssertionError(f"command {start + offset // 8}: no room for 10 s")


def test_a_million_events_arrive_through_the_v_table_in_order_and_intact():
    check = SequenceCheck()
    errors = []
    begin = time.perf_counter()
    with SidecarHost(check, on_error=lambda code, message: errors.append(message), ring_capacity=1 << 22,
                     batch=256) as host:
        host.start()
        send_sequence(host, MILLION)
        assert host.stop(timeout=60.0)
        stats = host.sidecar.stats()
        exceptions = host.sidecar.callback_exceptions
    seconds = time.perf_counter() - begin
    sys.stderr.write(f"\n  {MILLION} events through the v-table in {seconds:.1f} s "
                     f"({seconds / MILLION * 1e9:.0f} ns/event, {ringside.library_path()})\n")
    assert (check.expected, check.out_of_order, check.wrong_size) == (MILLION, 0, 0)
    assert (stats.commands_processed, stats.events_emitted, stats.events_dropped) == (MILLION, MILLION, 0)
    assert errors == [] and exceptions == 0


def test_two_hundred_thousand_commands_through_a_python_processor_and_back_stay_in_order():
    count = 200_000
    check = SequenceCheck()
    with SidecarHost(check, process=lambda command: command, ring_capacity=1 << 22, batch=256) as host:
        host.start()
        send_sequence(host, count)
        assert host.stop(timeout=60.0)
        assert host.sidecar.callback_exceptions == 0
    assert (check.expected, check.out_of_order, check.wrong_size) == (count, 0, 0)


def test_a_hundred_thousand_events_through_the_event_ring_dispatched_on_the_host_stay_in_order():
    count = 100_000
    check = SequenceCheck()
    with SidecarHost(check, delivery="ring", ring_capacity=1 << 22, batch=256) as host:
        host.start()
        send = host.commands.write
        sent = 0
        while check.expected < count:
            while sent < count and send(struct.pack("<Q", sent)):
                sent += 1
            host.dispatch(max_events=64, timeout=1.0)
        assert host.stop(timeout=10.0)
    assert (check.expected, check.out_of_order, check.wrong_size) == (count, 0, 0)
