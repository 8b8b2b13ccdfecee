"""python_host_round_trip(): the Python host's command -> sidecar -> event -> Python round trip, timed.

The entry point a scenario runner calls for a `host = python` dimension (the
runner does not exist yet). Returns a plain dict of numbers, JSON-ready.
"""

import _thread
import os
import platform
import statistics
import time

from . import _lib
from .sidecar import SidecarHost

SCHEMA_VERSION = 1


def _percentile(sorted_values, fraction):
    index = min(len(sorted_values) - 1, max(0, round(fraction * (len(sorted_values) - 1))))
    return sorted_values[index]


def summarize(samples_ns):
    """min/p50/p90/p99/max/mean of a list of nanosecond samples."""
    values = sorted(samples_ns)
    return {"min": values[0], "p50": _percentile(values, 0.50), "p90": _percentile(values, 0.90),
            "p99": _percentile(values, 0.99), "max": values[-1], "mean": round(statistics.fmean(values))}


def python_host_round_trip(payload_size=64, count=2000, warmup=200, wait="futex", delivery="vtable",
                           pin_thread_state=True, timeout=5.0):
    """Times `count` round trips of a `payload_size`-byte command through a sidecar (echo processor).

    wait: the sidecar's wait strategy for commands and for room for events
    (a kind name: 'busy_spin', 'futex', 'hybrid', ...); with delivery 'ring'
    also the host's wait for the event (rs_host_dispatch_events).
    delivery 'vtable': on_event runs on the sidecar thread (it takes the GIL)
    and wakes the host through a lock; 'ring': the event goes through the
    event ring and on_event runs on the host thread in dispatch().
    One round trip is in flight at a time. Raises RuntimeError if an event is
    lost, late beyond `timeout` seconds, or of the wrong size.
    """
    payload = bytes(payload_size)
    arrived = _thread.allocate_lock()
    arrived.acquire()
    state = {"events": 0, "bad": 0}

    def on_event(data):
        state["events"] += 1
        if len(data) != payload_size:
            state["bad"] += 1
        if delivery == "vtable":
            arrived.release()

    samples = []
    clock = time.perf_counter_ns
    host = SidecarHost(on_event, ring_capacity=1 << 20, delivery=delivery, command_wait=wait, event_wait=wait,
                       host_wait=wait, max_event_bytes=max(4096, payload_size),
                       pin_thread_state=pin_thread_state, thread_name="rs-py-bench")
    with host:
        host.start()
        for i in range(warmup + count):
            begin = clock()
            if not host.send(payload, timeout):
                raise RuntimeError(f"round trip {i}: the command ring stayed full for {timeout} s")
            if delivery == "vtable":
                if not arrived.acquire(timeout=timeout):
                    raise RuntimeError(f"round trip {i}: no event within {timeout} s")
            elif host.dispatch(1, timeout) != 1:
                raise RuntimeError(f"round trip {i}: no event within {timeout} s")
            end = clock()
            if i >= warmup:
                samples.append(end - begin)
        host.stop()
        exceptions = host.sidecar.callback_exceptions
    if state["events"] != warmup + count or state["bad"] or exceptions:
        raise RuntimeError(f"{state['events']} events for {warmup + count} commands, {state['bad']} of the wrong "
                           f"size, {exceptions} callback exception(s)")
    return {
        "schema_version": SCHEMA_VERSION, "host": "python", "delivery": delivery, "wait": wait,
        "payload_size": payload_size, "count": count, "warmup": warmup, "pin_thread_state": pin_thread_state,
        "round_trip_ns": summarize(samples),
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "library": _lib.library_path(), "cpus": os.cpu_count(),
    }
