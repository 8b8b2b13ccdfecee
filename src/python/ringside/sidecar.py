"""Sidecar (rs_sidecar_t) with a v-table of Python callbacks, and SidecarHost, the seeds' managed host.

Callback lifetime (the seeds' rule for v-table delegates): every CFUNCTYPE
object the library may call lives in a Callbacks object that the Sidecar holds
from creation until rs_sidecar_destroy has returned; only then is it dropped.
Dropping your own reference to a callback function is therefore harmless. If a
stop times out (a callback never returns), the Callbacks are kept for the rest
of the process rather than freed under a running thread.

Exceptions never cross into C: each trampoline catches everything, counts it
(Sidecar.callback_exceptions) and reports it through on_error(code, message)
with code Result.ERR_INTERNAL, or through sys.unraisablehook when there is no
on_error. A Python processor that raises fails that command: the library then
reports the failure to on_error, with the Python exception appended.

Threads: with delivery 'vtable' on_event, on_error and on_log run on the
sidecar thread (they take the GIL for each call); with delivery 'ring' on_event
runs on the thread calling dispatch(). Never stop or close a sidecar from its
own callbacks.
"""

import ctypes
import dataclasses
import json
import threading

from ._api import (Delivery, OnRefused, Result, SchedPolicy, SidecarState, StopMode, rs_process_fn, rs_sidecar_options,
                   rs_sidecar_sched, rs_sidecar_stats)
from ._callbacks import Callbacks
from ._handle import Owned, timeout_ns
from .errors import RingsideError, check, error_for
from .region import Region, library_json
from .wait import WaitStrategy

DEFAULT_STOP_TIMEOUT = 5.0
_ABANDONED = []  # Callbacks of sidecars whose thread could not be joined: never freed


def _enum(cls, value):
    return cls[value.upper()] if isinstance(value, str) else cls(value)


@dataclasses.dataclass(frozen=True)
class SidecarStats:
    """rs_sidecar_stats as Python values."""
    state: SidecarState
    commands_processed: int
    events_emitted: int
    events_dropped: int
    commands_discarded: int
    processor_errors: int
    parks: int
    last_error: Result


def _cpus(mask):
    return [word * 64 + bit for word in range(len(mask)) for bit in range(64) if (mask[word] >> bit) & 1]


@dataclasses.dataclass(frozen=True)
class SidecarSched:
    """rs_sidecar_sched as Python values (CPU masks as lists of CPU numbers)."""
    tid: int
    requested_policy: SchedPolicy
    requested_priority: int
    requested_nice: int
    granted_policy: SchedPolicy
    granted_os_policy: int
    granted_priority: int
    granted_nice: int
    downgraded: bool
    refused_errno: int
    granted_cpu_count: int
    requested_cpus: list
    granted_cpus: list
    thread_name: str
    refused: str


def sidecar_options(lib, callbacks, *, processor=None, delivery=Delivery.VTABLE, command_ring=0, event_ring=1,
                    max_event_bytes=4096, batch=32, command_wait=None, event_wait=None, policy=SchedPolicy.INHERIT,
                    priority=0, nice=0, on_refused=OnRefused.FAIL, cpus=None, thread_name=None,
                    start_timeout=5.0):
    """An rs_sidecar_options from rs_sidecar_options_init with these fields (and the processor) set."""
    options = rs_sidecar_options()
    lib.rs_sidecar_options_init(ctypes.byref(options))
    options.command_ring = command_ring
    options.event_ring = event_ring
    options.delivery = _enum(Delivery, delivery)
    options.max_event_bytes = max_event_bytes
    options.batch = batch
    if callbacks.c_process is not None:
        if processor is not None:
            raise TypeError("ringside.Sidecar: pass either process (a Python function) or processor, not both")
        options.processor = callbacks.c_process
    elif processor in ("timestamp", "echo"):
        options.processor = ctypes.cast(getattr(lib, f"rs_processor_{processor}"), rs_process_fn)
    elif processor is not None:
        raise ValueError(f"ringside.Sidecar: processor must be 'echo' or 'timestamp', not {processor!r}")
    if command_wait is not None:
        options.command_wait = WaitStrategy.of(command_wait).to_c(lib)
    if event_wait is not None:
        options.event_wait = WaitStrategy.of(event_wait).to_c(lib)
    options.policy = _enum(SchedPolicy, policy)
    options.priority = priority
    options.nice = nice
    options.on_refused = _enum(OnRefused, on_refused)
    for cpu in cpus or ():
        options.cpu_mask[cpu // 64] |= 1 << (cpu % 64)
    if thread_name is not None:
        options.thread_name = thread_name.encode()[:15]
    options.start_timeout_ms = max(0, int(start_timeout * 1000))
    return options


class Sidecar(Owned):
    """The sidecar worker over a region, calling Python back through a v-table.

    on_event(data) gets each event as bytes (zero_copy=True: a read-only
    memoryview valid only during the call). process(command) -> bytes or None
    runs on the sidecar thread for each command (None: no event); without it
    the built-in `processor` ('echo' by default, or 'timestamp') runs in C.
    The other keywords are rs_sidecar_options fields (wait strategies take a
    WaitStrategy or a kind name; cpus is an iterable of CPU numbers).
    Control methods (start, stop, stats, close): any thread, never a callback.
    """

    _kind = "Sidecar"

    def __init__(self, region, on_event=None, *, on_error=None, on_log=None, process=None, zero_copy=False,
                 stop_timeout=DEFAULT_STOP_TIMEOUT, pin_thread_state=True, **options):
        lib = region._lib
        delivery = _enum(Delivery, options.get("delivery", Delivery.VTABLE))
        if on_event is None and delivery == Delivery.VTABLE:
            raise TypeError("ringside.Sidecar: on_event is required with delivery 'vtable'")
        callbacks = Callbacks(on_event or _ignore, on_error, on_log, process, zero_copy,
                              pin_thread_state=pin_thread_state)
        opts = sidecar_options(lib, callbacks, **options)
        handle = ctypes.c_void_p()
        result = lib.rs_sidecar_create(region.handle, ctypes.byref(opts), ctypes.byref(handle))
        if result != Result.OK:
            callbacks.dispose()
            raise error_for(lib, result, "rs_sidecar_create")
        super().__init__(lib, handle.value, "rs_sidecar_destroy", finalizer_args=(callbacks,))
        self.region = region  # keeps the region's Python object alive while the sidecar is
        self.delivery = delivery
        self.stop_timeout = stop_timeout
        self._callbacks = callbacks
        self._control = threading.Lock()  # guards _starts against a start between a join and its cleanup
        self._starts = 0

    @staticmethod
    def _finalize(lib, handle, callbacks):
        # Collected or at exit without close(). Whatever thread this is, the
        # callbacks stay alive unless the worker is provably joined.
        stopped = lib.rs_sidecar_stop(handle, StopMode.DISCARD, timeout_ns(DEFAULT_STOP_TIMEOUT))
        if stopped != Result.OK or lib.rs_sidecar_destroy(handle) != Result.OK:
            _ABANDONED.append(callbacks)
            return
        callbacks.dispose()

    def _before_destroy(self):
        # A stop that times out (or runs on the sidecar's own thread) makes
        # destroy return RS_BUSY: close() then raises and keeps everything.
        self._lib.rs_sidecar_stop(self._handle, StopMode.DISCARD, timeout_ns(self.stop_timeout))

    def _after_destroy(self):
        callbacks, self._callbacks = self._callbacks, None
        callbacks.dispose()

    def start(self):
        """Starts the worker thread with the v-table (BusyError if already running)."""
        handle = self.handle
        with self._control:
            self._starts += 1  # before the thread exists: a concurrent stop must not clean up after it
        result = self._lib.rs_sidecar_start(handle, ctypes.byref(self._callbacks.vtable))
        if result != Result.OK:
            raise error_for(self._lib, result, "rs_sidecar_start")

    def stop(self, mode=StopMode.DRAIN, timeout=DEFAULT_STOP_TIMEOUT):
        """Stops and joins the worker: True when no callback will run again, False on timeout
        (a callback has not returned; call stop again). Never from the sidecar's own callbacks
        (InvalidArgumentError)."""
        handle = self.handle
        starts = self._starts
        result = self._lib.rs_sidecar_stop(handle, _enum(StopMode, mode), timeout_ns(timeout))
        if check(self._lib, result, "rs_sidecar_stop") != Result.OK:
            return False
        # No Python lock is held across the join (a callback calling stop would
        # wait for it); a start since we began means a new thread: clean later.
        with self._control:
            if self._starts == starts and self._callbacks is not None:
                self._callbacks.threads_joined()
        return True

    def stats(self):
        stats = rs_sidecar_stats()
        stats.struct_size = ctypes.sizeof(stats)
        check(self._lib, self._lib.rs_sidecar_get_stats(self.handle, ctypes.byref(stats)), "rs_sidecar_get_stats")
        return SidecarStats(SidecarState(stats.state), stats.commands_processed, stats.events_emitted,
                            stats.events_dropped, stats.commands_discarded, stats.processor_errors, stats.parks,
                            Result(stats.last_error))

    def sched(self):
        sched = rs_sidecar_sched()
        sched.struct_size = ctypes.sizeof(sched)
        check(self._lib, self._lib.rs_sidecar_get_sched(self.handle, ctypes.byref(sched)), "rs_sidecar_get_sched")
        return SidecarSched(
            sched.tid, SchedPolicy(sched.requested_policy), sched.requested_priority, sched.requested_nice,
            SchedPolicy(sched.granted_policy), sched.granted_os_policy, sched.granted_priority, sched.granted_nice,
            bool(sched.downgraded), sched.refused_errno, sched.granted_cpu_count, _cpus(sched.requested_cpu_mask),
            _cpus(sched.granted_cpu_mask), sched.thread_name.decode(errors="replace"),
            sched.refused.decode(errors="replace"))

    def last_error_message(self, capacity=512):
        buffer = ctypes.create_string_buffer(capacity)
        check(self._lib, self._lib.rs_sidecar_last_error_message(self.handle, buffer, capacity),
              "rs_sidecar_last_error_message")
        return buffer.value.decode("utf-8", "replace")

    def stats_json(self):
        handle = self.handle
        return library_json(self._lib, lambda out: self._lib.rs_sidecar_stats_json(handle, out),
                            "rs_sidecar_stats_json")

    def stats_dict(self):
        return json.loads(self.stats_json())

    def dispatch(self, events, max_events=64, timeout=0):
        """Delivery 'ring', host side: runs on_event on this thread for up to max_events events
        from `events` (the event ring's ConsumerRing), waiting at most `timeout` seconds for the
        first; how many (0 on timeout). Exceptions go to on_error, as on the sidecar thread."""
        callbacks = self._callbacks
        if callbacks is None:
            self.handle  # raises ClosedError
        dispatched = ctypes.c_uint32()
        result = self._lib.rs_host_dispatch_events(events.handle, ctypes.byref(callbacks.vtable), max_events,
                                                   timeout_ns(timeout), ctypes.byref(dispatched))
        if result == Result.TIMEOUT:
            return 0
        check(self._lib, result, "rs_host_dispatch_events")
        return dispatched.value

    @property
    def callback_exceptions(self):
        """Exceptions caught at the C boundary so far (callbacks, processor, on_error itself)."""
        callbacks = self._callbacks
        return callbacks.exceptions if callbacks is not None else self._final_exceptions

    @property
    def last_callback_exception(self):
        callbacks = self._callbacks
        return callbacks.last_exception if callbacks is not None else None

    _final_exceptions = 0

    def close(self):
        callbacks = self._callbacks
        if callbacks is not None:
            self._final_exceptions = callbacks.exceptions
        super().close()


def _ignore(data):
    pass


class SidecarHost:
    """The seeds' managed host: a region with a command ring and an event ring, a sidecar with
    Python callbacks, start/send/stop, and close() tearing down sidecar, rings, region in order.

        with SidecarHost(on_event=handle) as host:
            host.start()
            host.send(b"hello", timeout=1.0)
            host.stop()

    host_wait: the WaitStrategy of the host's own rings (the command producer
    waiting for room, the event consumer in dispatch()). The other keywords go
    to Sidecar (on_error, on_log, process, processor, delivery, command_wait,
    event_wait, batch, max_event_bytes, zero_copy, ...).
    """

    def __init__(self, on_event=None, *, name=None, ring_capacity=1 << 20, region_options=None, host_wait=None,
                 **sidecar_options):
        command_ring = sidecar_options.get("command_ring", 0)
        event_ring = sidecar_options.get("event_ring", 1)
        delivery = _enum(Delivery, sidecar_options.get("delivery", Delivery.VTABLE))
        self.region = Region.create(name, ring_count=max(command_ring, event_ring) + 1, ring_capacity=ring_capacity,
                                    **(region_options or {}))
        self.commands = self.events = self.sidecar = None
        try:
            self.commands = self.region.producer(command_ring)
            if host_wait is not None:
                self.commands.set_wait_strategy(WaitStrategy.of(host_wait))
            self.sidecar = Sidecar(self.region, on_event, **sidecar_options)
            if delivery == Delivery.RING:
                self.events = self.region.consumer(event_ring)
                if host_wait is not None:
                    self.events.set_wait_strategy(WaitStrategy.of(host_wait))
        except BaseException:
            self.close()
            raise

    @property
    def name(self):
        return self.region.name

    def start(self):
        self.sidecar.start()
        return self

    def stop(self, mode=StopMode.DRAIN, timeout=DEFAULT_STOP_TIMEOUT):
        return self.sidecar.stop(mode, timeout)

    def send(self, command, timeout=None):
        """Copies `command` into the command ring, waiting for room; False on timeout."""
        return self.commands.write_wait(command, timeout)

    def try_send(self, command):
        return self.commands.write(command)

    def dispatch(self, max_events=64, timeout=0):
        """Delivery 'ring': on_event on this thread for waiting events; how many."""
        if self.events is None:
            raise RingsideError(Result.ERR_INVALID_ARGUMENT, "dispatch needs delivery='ring'", "SidecarHost")
        return self.sidecar.dispatch(self.events, max_events, timeout)

    def close(self):
        """Stops (discarding what is queued) and destroys sidecar, rings, region, in that order."""
        for part in (self.sidecar, self.events, self.commands, self.region):
            if part is not None:
                part.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
