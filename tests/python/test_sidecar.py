"""Sidecar and SidecarHost: callbacks from the sidecar thread, their lifetime, exceptions at the boundary."""

import gc
import struct
import sys
import threading
import time
import weakref

import pytest

import ringside
from ringside import LogLevel, Result, Sidecar, SidecarHost, SidecarState, StopMode

pytestmark = pytest.mark.library


def wait_for(predicate, timeout=5.0):
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.001)
    return True


class Recorder:
    """on_event/on_error/on_log that remember what they got (called on the sidecar thread)."""

    def __init__(self):
        self.events, self.errors, self.logs = [], [], []

    def on_event(self, data):
        self.events.append(data)

    def on_error(self, code, message):
        self.errors.append((code, message))

    def on_log(self, level, message):
        self.logs.append((level, message))


def test_commands_come_back_as_events_in_order_through_the_v_table():
    rec = Recorder()
    with SidecarHost(rec.on_event, on_error=rec.on_error) as host:
        host.start()
        for i in range(100):
            assert host.send(struct.pack("<Q", i), timeout=1.0)
        assert host.stop() is True
        assert [struct.unpack("<Q", e)[0] for e in rec.events] == list(range(100))
        stats = host.sidecar.stats()
        assert (stats.state, stats.commands_processed, stats.events_emitted) == (SidecarState.STOPPED, 100, 100)
    assert rec.errors == []


def test_the_timestamp_processor_prefixes_each_event_with_the_sidecars_clock():
    rec = Recorder()
    with SidecarHost(rec.on_event, processor="timestamp") as host:
        host.start()
        before = time.monotonic_ns()
        host.send(b"cmd", 1.0)
        host.stop()
    (event,) = rec.events
    assert event[8:] == b"cmd" and struct.unpack("<Q", event[:8])[0] >= before


def test_a_python_processor_transforms_commands_and_none_skips_the_event():
    rec = Recorder()

    def process(command):
        return None if command == b"skip" else command.upper()
    with SidecarHost(rec.on_event, process=process) as host:
        host.start()
        for command in (b"abc", b"skip", b"xyz"):
            host.send(command, 1.0)
        host.stop()
        assert host.sidecar.stats().events_emitted == 2
    assert rec.events == [b"ABC", b"XYZ"]


def test_a_processor_that_raises_fails_that_command_and_on_error_names_the_exception():
    rec = Recorder()

    def process(command):
        if command == b"bad":
            raise ValueError("cannot process bad")
        return command
    with SidecarHost(rec.on_event, on_error=rec.on_error, process=process) as host:
        host.start()
        for command in (b"ok1", b"bad", b"ok2"):
            host.send(command, 1.0)
        host.stop()
        assert host.sidecar.stats().processor_errors == 1
        assert host.sidecar.callback_exceptions == 1
        assert isinstance(host.sidecar.last_callback_exception, ValueError)
        assert "processor failed" in host.sidecar.last_error_message()
    assert rec.events == [b"ok1", b"ok2"]
    ((code, message),) = rec.errors
    assert code == Result.ERR_INTERNAL
    assert "processor failed" in message and "Python: ValueError: cannot process bad" in message


def test_a_processor_returning_more_than_the_event_buffer_is_a_failed_command():
    rec = Recorder()
    with SidecarHost(rec.on_event, on_error=rec.on_error, process=lambda c: b"x" * 100, max_event_bytes=64) as host:
        host.start()
        host.send(b"c", 1.0)
        host.stop()
    assert rec.events == [] and "event buffer holds 64" in rec.errors[0][1]


def test_an_exception_in_on_event_is_caught_counted_and_reported_and_the_sidecar_goes_on():
    rec = Recorder()

    def on_event(data):
        if data == b"boom":
            raise KeyError("boom")
        rec.events.append(data)
    with SidecarHost(on_event, on_error=rec.on_error) as host:
        host.start()
        for command in (b"a", b"boom", b"b"):
            host.send(command, 1.0)
        host.stop()
        assert host.sidecar.callback_exceptions == 1
        assert host.sidecar.stats().state == SidecarState.STOPPED
    assert rec.events == [b"a", b"b"]
    assert rec.errors == [(Result.ERR_INTERNAL, "on_event raised KeyError: 'boom'")]


def test_without_on_error_a_callback_exception_goes_to_sys_unraisablehook(monkeypatch):
    seen = []
    monkeypatch.setattr(sys, "unraisablehook", seen.append)

    def on_event(data):
        raise RuntimeError("nobody listens")
    with SidecarHost(on_event) as host:
        host.start()
        host.send(b"x", 1.0)
        host.stop()
        assert host.sidecar.callback_exceptions == 1
    (hook,) = seen
    assert isinstance(hook.exc_value, RuntimeError) and "ringside on_event" in hook.err_msg


def test_an_on_error_that_raises_is_counted_and_never_reaches_c(monkeypatch):
    seen = []
    monkeypatch.setattr(sys, "unraisablehook", seen.append)

    def on_error(code, message):
        raise ZeroDivisionError("in on_error")
    with SidecarHost(lambda d: 1 / 0, on_error=on_error) as host:
        host.start()
        host.send(b"x", 1.0)
        host.stop()
        assert host.sidecar.callback_exceptions == 2  # on_event's, then on_error's own
    assert [type(h.exc_value) for h in seen] == [ZeroDivisionError]


def test_on_log_receives_the_sidecars_start_and_stop_lines():
    rec = Recorder()
    with SidecarHost(rec.on_event, on_log=rec.on_log) as host:
        host.start()
        host.stop()
    assert any(level == LogLevel.INFO and message.startswith("sidecar started") for level, message in rec.logs)
    assert any(message.startswith("sidecar stopping") for _level, message in rec.logs)


def test_zero_copy_events_are_views_released_when_the_callback_returns():
    kept = []
    with SidecarHost(kept.append, zero_copy=True) as host:
        host.start()
        host.send(b"view me", 1.0)
        host.stop()
    (view,) = kept
    assert isinstance(view, memoryview)
    with pytest.raises(ValueError, match="released"):
        bytes(view)


def test_a_zero_copy_event_whose_slice_outlives_the_callback_is_reported():
    rec = Recorder()
    slices = []
    with SidecarHost(lambda view: slices.append(view[0:2]), on_error=rec.on_error, zero_copy=True) as host:
        host.start()
        host.send(b"abcd", 1.0)
        host.stop()
    assert len(rec.errors) == 1 and "kept a slice" in rec.errors[0][1]


def test_a_zero_copy_processor_reads_the_command_in_place():
    got = []
    with SidecarHost(lambda view: got.append(bytes(view)), process=lambda view: bytes(view[::-1]),
                     zero_copy=True) as host:
        host.start()
        host.send(b"abc", 1.0)
        host.stop()
    assert got == [b"cba"]


def test_dropping_the_users_own_reference_to_a_callback_is_harmless():
    got = []

    def make_callbacks():
        def on_event(data):
            got.append(data)

        def process(command):
            return command + b"!"
        return on_event, process, weakref.ref(on_event), weakref.ref(process)
    on_event, process, on_event_ref, process_ref = make_callbacks()
    with SidecarHost(on_event, process=process) as host:
        del on_event, process
        gc.collect()
        assert on_event_ref() is not None and process_ref() is not None  # the Sidecar keeps them
        host.start()
        host.send(b"hi", 1.0)
        host.stop()
        assert got == [b"hi!"]


def test_callbacks_are_released_once_the_sidecar_is_destroyed(region):
    def on_event(data):
        pass

    def on_error(code, message):
        pass
    sidecar = Sidecar(region, on_event, on_error=on_error, on_log=print, process=lambda c: c)
    refs = [weakref.ref(on_event), weakref.ref(on_error), weakref.ref(sidecar._callbacks)]
    del on_event, on_error
    sidecar.start()
    assert sidecar.stop()
    gc.collect()
    assert all(ref() is not None for ref in refs), "released while the sidecar still exists"
    sidecar.close()
    gc.collect()
    assert [ref() for ref in refs] == [None, None, None]
    assert sidecar.closed and sidecar._callbacks is None


def test_a_sidecar_dropped_while_running_is_stopped_and_destroyed_by_the_collector(shm_name):
    before = ringside.allocation_count()
    region = ringside.Region.create(shm_name, ring_count=2)
    sidecar = Sidecar(region, lambda data: None)
    sidecar.start()
    callbacks = weakref.ref(sidecar._callbacks)
    del sidecar
    gc.collect()
    assert callbacks() is None
    region.close()  # not busy: the sidecar is gone
    assert ringside.allocation_count() == before


def test_start_twice_is_busy_and_a_stopped_sidecar_can_start_again(region):
    rec = Recorder()
    with Sidecar(region, rec.on_event) as sidecar, region.producer(0) as commands:
        assert sidecar.stats().state == SidecarState.CREATED
        sidecar.start()
        with pytest.raises(ringside.BusyError, match="stop it first"):
            sidecar.start()
        assert sidecar.stop() and sidecar.stop()  # stop is idempotent
        sidecar.start()
        commands.write(b"second run")
        assert wait_for(lambda: rec.events == [b"second run"])
        assert sidecar.stop(StopMode.DISCARD)


def test_stop_times_out_while_a_callback_blocks_and_close_then_refuses(region):
    release = threading.Event()
    entered = threading.Event()

    def on_event(data):
        entered.set()
        release.wait(10)
    sidecar = Sidecar(region, on_event)
    commands = region.producer(0)
    sidecar.start()
    commands.write(b"block")
    assert entered.wait(5)
    assert sidecar.stop(timeout=0.05) is False
    sidecar.stop_timeout = 0.05
    with pytest.raises(ringside.BusyError, match="not been joined"):
        sidecar.close()
    assert not sidecar.closed and sidecar._callbacks is not None  # still referenced: the thread may call them
    release.set()
    assert sidecar.stop(timeout=5.0) is True
    sidecar.close()
    commands.close()


def test_stopping_a_sidecar_from_its_own_callback_is_refused():
    outcome = []
    holder = {}

    def on_event(data):
        try:
            holder["sidecar"].stop(timeout=0)
        except ringside.InvalidArgumentError as error:
            outcome.append(str(error))
    with SidecarHost(on_event) as host:
        holder["sidecar"] = host.sidecar
        host.start()
        host.send(b"x", 1.0)
        host.stop()
    assert outcome and "own thread" in outcome[0]


def test_sched_reports_the_worker_thread_and_what_it_was_granted(region):
    with Sidecar(region, print, thread_name="rs-pytest", cpus=[0]) as sidecar:
        assert sidecar.sched().tid == 0  # not started yet
        sidecar.start()
        sched = sidecar.sched()
        assert sched.tid > 0 and sched.thread_name == "rs-pytest"
        assert sched.requested_cpus == [0] and sched.granted_cpus == [0] and not sched.downgraded
        sidecar.stop()


def test_a_refused_cpu_fails_start_or_is_downgraded_as_asked(region):
    with Sidecar(region, print, cpus=[1000]) as sidecar:
        with pytest.raises(ringside.InvalidArgumentError):
            sidecar.start()
        assert sidecar.stats().state == SidecarState.FAILED
    with Sidecar(region, print, cpus=[1000], on_refused="downgrade") as sidecar:
        sidecar.start()
        assert sidecar.sched().downgraded
        sidecar.stop()


def test_stats_json_and_last_error_message_come_from_the_library(region):
    with Sidecar(region, print, command_wait="futex") as sidecar:
        stats = sidecar.stats_dict()
        assert stats["state"] == "created" and stats["command_wait"] == "futex"
        assert sidecar.last_error_message() == ""


@pytest.mark.parametrize("options, error", [
    ({"nice": 40, "policy": "other"}, ringside.InvalidArgumentError),
    ({"batch": 0}, ringside.InvalidArgumentError),
    ({"max_event_bytes": 0}, ringside.InvalidArgumentError),
    ({"command_ring": 9}, ringside.InvalidArgumentError),
    ({"processor": "upper"}, ValueError),
    ({"process": bytes, "processor": "echo"}, TypeError),
])
def test_impossible_options_raise_before_any_thread_exists(region, options, error):
    before = ringside.allocation_count()
    with pytest.raises(error):
        Sidecar(region, print, **options)
    assert ringside.allocation_count() == before


def test_vtable_delivery_needs_on_event(region):
    with pytest.raises(TypeError, match="on_event is required"):
        Sidecar(region)


def test_a_sidecar_cannot_take_a_command_ring_whose_consumer_is_held(region):
    with region.consumer(0):
        with pytest.raises(ringside.BusyError):
            Sidecar(region, print)


def test_every_call_after_close_raises_closed_error(region):
    sidecar = Sidecar(region, print)
    sidecar.close()
    sidecar.close()
    for call in (sidecar.start, sidecar.stop, sidecar.stats, sidecar.sched, sidecar.stats_json,
                 sidecar.last_error_message):
        with pytest.raises(ringside.ClosedError, match="Sidecar is closed"):
            call()
    with region.consumer(1) as events, pytest.raises(ringside.ClosedError):
        sidecar.dispatch(events)
    assert sidecar.callback_exceptions == 0 and sidecar.last_callback_exception is None


def test_ring_delivery_runs_on_event_on_the_host_thread_in_dispatch():
    threads = []
    rec = Recorder()

    def on_event(data):
        threads.append(threading.get_ident())
        if data == b"raise":
            raise LookupError("in dispatch")
        rec.events.append(data)
    with SidecarHost(on_event, on_error=rec.on_error, delivery="ring", host_wait="futex") as host:
        host.start()
        for command in (b"1", b"raise", b"2"):
            host.send(command, 1.0)
        got = 0
        while got < 3:
            got += host.dispatch(max_events=8, timeout=5.0)
        assert host.dispatch(timeout=0) == 0
        host.stop()
    assert rec.events == [b"1", b"2"] and set(threads) == {threading.get_ident()}
    assert rec.errors == [(Result.ERR_INTERNAL, "on_event raised LookupError: in dispatch")]


def test_dispatch_needs_ring_delivery():
    with SidecarHost(print) as host, pytest.raises(ringside.RingsideError, match="delivery='ring'"):
        host.dispatch()


def test_the_sidecar_threads_python_state_is_kept_between_callbacks_and_deleted_after_join():
    with SidecarHost(lambda data: None) as host:
        pins = host.sidecar._callbacks.pins
        host.start()
        host.send(b"x", 1.0)
        assert wait_for(lambda: len(pins) == 1)
        host.send(b"y", 1.0)
        host.stop()
        assert len(pins) == 0
        host.start()  # a new thread, pinned again on its first callback
        host.send(b"z", 1.0)
        assert wait_for(lambda: len(pins) == 1)
    assert host.sidecar.closed


def test_without_pinning_no_thread_state_is_kept():
    got = []
    with SidecarHost(got.append, pin_thread_state=False) as host:
        assert host.sidecar._callbacks.pins is None
        host.start()
        for i in range(10):
            host.send(bytes([i]), 1.0)
        host.stop()
    assert len(got) == 10


def test_sidecar_host_closes_sidecar_rings_and_region_and_a_second_close_does_nothing():
    host = SidecarHost(print, delivery="ring")
    name = host.name
    host.start()
    assert host.try_send(b"queued")
    host.close()
    host.close()
    assert all(part.closed for part in (host.sidecar, host.events, host.commands, host.region))
    assert ringside.Region.unlink(name) is False


def test_sidecar_host_cleans_up_what_it_made_when_construction_fails():
    before = ringside.allocation_count()
    with pytest.raises(ringside.InvalidArgumentError):
        SidecarHost(print, batch=5000)
    gc.collect()
    assert ringside.allocation_count() == before


def test_a_running_sidecar_left_open_at_interpreter_exit_is_stopped_and_its_name_removed(shm_name):
    import os
    import subprocess
    import textwrap

    from ringside_testing import ROOT
    script = textwrap.dedent(f"""
        import sys, threading
        sys.path.insert(0, {str(ROOT / "src" / "python")!r})
        import ringside
        seen = threading.Event()
        host = ringside.SidecarHost(lambda data: seen.set(), name={shm_name!r})
        host.start()
        host.send(b"x", 1.0)
        assert seen.wait(5)
        for i in range(1000):
            host.try_send(b"still queued")   # events keep arriving while the interpreter exits
        print("exiting", flush=True)
        """)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60,
                          env=dict(os.environ, RINGSIDE_LIBRARY=ringside.library_path()))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "exiting" and "Traceback" not in proc.stderr
    assert not os.path.exists("/dev/shm" + shm_name)
