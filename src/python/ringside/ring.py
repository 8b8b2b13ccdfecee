"""ProducerRing and ConsumerRing: the two sides of one SPSC ring (rs_ring_t).

Zero copy: reserve() returns a writable memoryview inside shared memory that is
valid until commit() (or write(), which commits too); peek() returns a
read-only one valid until release(). The binding releases those views at that
point, so using one later raises ValueError; a slice or export of a view that
is still alive then makes commit()/release() raise ViewInUseError instead of
handing the memory back (see _views.py). Copy with bytes(view) to keep data.

Every method: the ring-owning thread only (one thread at a time).
"""

import ctypes
import json

from ._api import Result, Role, rs_record, rs_wait_strategy
from ._callbacks import Callbacks
from ._handle import Owned, timeout_ns
from ._views import ViewTracker
from .errors import ClosedError, check, error_for
from .region import library_json

_OK = Result.OK


def _buffer_address(data):
    """(c_void_p-compatible address, length, keepalive) of a bytes-like object, without copying bytes.

    bytes are passed as they are (ctypes hands C the internal pointer); other
    buffers are addressed through a ctypes array over them.
    """
    if isinstance(data, bytes):
        return data, len(data), None
    view = memoryview(data)
    if not view.contiguous:
        raise ValueError("ringside: the data must be a contiguous buffer")
    if view.readonly:
        copy = view.tobytes()  # ctypes cannot address a read-only buffer other than bytes
        return copy, len(copy), None
    view = view.cast("B")
    array = (ctypes.c_char * len(view)).from_buffer(view)
    return ctypes.addressof(array), len(view), (array, view)


class _Ring(Owned):
    _role = None

    def __init__(self, region, index):
        lib = region._lib
        handle = ctypes.c_void_p()
        result = lib.rs_ring_create(region.handle, index, self._role, ctypes.byref(handle))
        if result != _OK:
            raise error_for(lib, result, "rs_ring_create")
        super().__init__(lib, handle.value, "rs_ring_destroy")
        self.region = region  # keeps the region's Python object alive while this ring is
        self.index = index
        self._views = ViewTracker()

    @staticmethod
    def _finalize(lib, handle):
        lib.rs_ring_destroy(handle)

    def _before_destroy(self):
        # Destroying discards reservations / keeps unreleased records: views end here.
        self._views.revoke_all("rs_ring_destroy", strict=False)

    def set_wait_strategy(self, strategy=None):
        """How this side's waiting calls wait and how it wakes its peer (None: the default, HYBRID)."""
        lib = self._lib
        if strategy is None:
            result = lib.rs_ring_set_wait_strategy(self.handle, None)
        else:
            c_strategy = strategy.to_c(lib) if not isinstance(strategy, rs_wait_strategy) else strategy
            result = lib.rs_ring_set_wait_strategy(self.handle, ctypes.byref(c_strategy))
        check(lib, result, "rs_ring_set_wait_strategy")

    def wait_arm(self, length=0):
        """For hosts that wait on an eventfd in their own loop: True if ready now (nothing armed),
        False if armed (wait for the eventfd, read it, then wait_disarm())."""
        result = check(self._lib, self._lib.rs_ring_wait_arm(self.handle, length), "rs_ring_wait_arm")
        return result == _OK

    def wait_disarm(self):
        check(self._lib, self._lib.rs_ring_wait_disarm(self.handle), "rs_ring_wait_disarm")

    def stats_json(self):
        handle = self.handle
        return library_json(self._lib, lambda out: self._lib.rs_ring_stats_json(handle, out), "rs_ring_stats_json")

    def stats(self):
        return json.loads(self.stats_json())


class ProducerRing(_Ring):
    """The producer side. Made by Region.producer(index)."""

    _kind = "ProducerRing"
    _role = Role.PRODUCER

    def __init__(self, region, index=0):
        super().__init__(region, index)
        self._out = ctypes.c_void_p()
        lib = self._lib
        self._write = lib.rs_ring_write
        self._write_wait = lib.rs_ring_write_wait
        self._reserve = lib.rs_ring_reserve

    def write(self, data):
        """Copies `data` (bytes-like) into one record and commits it with any reservations.

        False if the ring is full now. TooLargeError if it can never fit.
        """
        handle = self._handle
        if handle is None:
            raise ClosedError(self._kind)
        if self._views:
            self._views.revoke_all("rs_ring_write")
        address, length, _keep = _buffer_address(data)
        result = self._write(handle, address, length)
        if result == _OK:
            return True
        if result == Result.FULL:
            return False
        raise error_for(self._lib, result, "rs_ring_write")

    def write_wait(self, data, timeout):
        """write() that waits for room (seconds; None = forever). False on timeout."""
        handle = self._handle
        if handle is None:
            raise ClosedError(self._kind)
        if self._views:
            self._views.revoke_all("rs_ring_write_wait")
        address, length, _keep = _buffer_address(data)
        result = self._write_wait(handle, address, length, timeout_ns(timeout))
        if result == _OK:
            return True
        if result == Result.TIMEOUT:
            return False
        raise error_for(self._lib, result, "rs_ring_write_wait")

    def reserve(self, length):
        """A writable memoryview of `length` bytes inside shared memory, valid until commit().

        None if the ring is full now. Several reservations may precede one commit.
        """
        handle = self._handle
        if handle is None:
            raise ClosedError(self._kind)
        out = self._out
        result = self._reserve(handle, length, ctypes.byref(out))
        if result == _OK:
            return self._views.add(out.value, length, readonly=False)
        if result == Result.FULL:
            return None
        raise error_for(self._lib, result, "rs_ring_reserve")

    def reserve_wait(self, length, timeout):
        """reserve() that waits for room (seconds; None = forever). None on timeout."""
        out = ctypes.c_void_p()
        result = self._lib.rs_ring_reserve_wait(self.handle, length, ctypes.byref(out), timeout_ns(timeout))
        if result == _OK:
            return self._views.add(out.value, length, readonly=False)
        if result == Result.TIMEOUT:
            return None
        raise error_for(self._lib, result, "rs_ring_reserve_wait")

    def commit(self):
        """Publishes every reservation since the last commit; their views end here.

        InvalidArgumentError if nothing is reserved; ViewInUseError (nothing
        published) while a slice or export of a reserved view is alive.
        """
        handle = self.handle
        if self._views:
            self._views.revoke_all("rs_ring_commit")
        check(self._lib, self._lib.rs_ring_commit(handle), "rs_ring_commit")


class ConsumerRing(_Ring):
    """The consumer side. Made by Region.consumer(index)."""

    _kind = "ConsumerRing"
    _role = Role.CONSUMER

    def __init__(self, region, index=0):
        super().__init__(region, index)
        self._record = rs_record()
        self._batch = None
        self._count = ctypes.c_size_t()
        self._peek = self._lib.rs_ring_peek
        self._dispatch_cache = None

    def peek(self):
        """The oldest unreleased record as a read-only memoryview into shared memory, or None.

        Valid until release() (or close()); the same record until then.
        """
        handle = self._handle
        if handle is None:
            raise ClosedError(self._kind)
        record = self._record
        result = self._peek(handle, ctypes.byref(record))
        if result == _OK:
            return self._views.add(record.data or 0, record.length, readonly=True)
        if result == Result.EMPTY:
            return None
        raise error_for(self._lib, result, "rs_ring_peek")

    def peek_batch(self, max_records=64):
        """Up to max_records oldest records as read-only memoryviews (an empty list if none).

        All valid until release().
        """
        handle = self.handle
        if self._batch is None or len(self._batch) < max_records:
            self._batch = (rs_record * max(max_records, 1))()
        result = self._lib.rs_ring_peek_batch(handle, self._batch, max_records, ctypes.byref(self._count))
        if result == Result.EMPTY:
            return []
        check(self._lib, result, "rs_ring_peek_batch")
        add = self._views.add
        return [add(r.data or 0, r.length, True) for r in self._batch[:self._count.value]]

    def release(self):
        """Hands back everything the last peek returned; those views end here.

        InvalidArgumentError if nothing was peeked; ViewInUseError (nothing
        released) while a slice or export of a peeked view is alive.
        """
        handle = self.handle
        if self._views:
            self._views.revoke_all("rs_ring_release")
        check(self._lib, self._lib.rs_ring_release(handle), "rs_ring_release")

    def read(self):
        """The oldest record copied into a new bytes object and released, or None if empty.

        Uses rs_ring_read_alloc and frees the library's buffer with rs_buffer_free.
        """
        handle = self.handle
        if self._views:
            self._views.revoke_all("rs_ring_read_alloc")
        buffer = ctypes.c_void_p()
        length = ctypes.c_size_t()
        result = self._lib.rs_ring_read_alloc(handle, ctypes.byref(buffer), ctypes.byref(length))
        try:
            if result == Result.EMPTY:
                return None
            check(self._lib, result, "rs_ring_read_alloc")
            return ctypes.string_at(buffer.value, length.value) if length.value else b""
        finally:
            self._lib.rs_buffer_free(buffer)

    def read_into(self, buffer):
        """Copies the oldest record into `buffer` (writable bytes-like) and releases it.

        Returns its length, or None if empty. TooSmallError (record kept;
        .needed is its size) if it does not fit; buffer None only asks the size.
        """
        handle = self.handle
        if self._views:
            self._views.revoke_all("rs_ring_read")
        length = ctypes.c_size_t()
        if buffer is None:
            address, capacity = None, 0
        else:
            view = memoryview(buffer).cast("B")
            capacity = len(view)
            address = ctypes.addressof((ctypes.c_char * capacity).from_buffer(view)) if capacity else None
        result = self._lib.rs_ring_read(handle, address, capacity, ctypes.byref(length))
        if result == _OK:
            return length.value
        if result == Result.EMPTY:
            return None
        if result == Result.ERR_TOO_SMALL:
            raise error_for(self._lib, result, "rs_ring_read", needed=length.value)
        raise error_for(self._lib, result, "rs_ring_read")

    def wait_readable(self, timeout):
        """Waits (seconds; None = forever) with the ring's wait strategy until a record can be
        peeked: True, or False on timeout."""
        result = check(self._lib, self._lib.rs_ring_wait_readable(self.handle, timeout_ns(timeout)),
                       "rs_ring_wait_readable")
        return result == _OK

    def dispatch(self, on_event, max_events=64, timeout=0):
        """Calls on_event(bytes) on this thread for up to max_events records (waiting at most
        `timeout` seconds for the first), releasing them; returns how many (0 on timeout).

        rs_host_dispatch_events with a v-table made from on_event. If on_event
        raises, the rest of the batch is still delivered and released, then the
        first exception is raised here.
        """
        handle = self.handle
        if self._views:
            self._views.revoke_all("rs_host_dispatch_events")
        cache = self._dispatch_cache
        if cache is None or cache.user_on_event is not on_event:
            cache = self._dispatch_cache = Callbacks(on_event, collect=True)
        dispatched = ctypes.c_uint32()
        result = self._lib.rs_host_dispatch_events(handle, ctypes.byref(cache.vtable), max_events,
                                                   timeout_ns(timeout), ctypes.byref(dispatched))
        cache.raise_collected()
        if result == Result.TIMEOUT:
            return 0
        check(self._lib, result, "rs_host_dispatch_events")
        return dispatched.value

    def _after_destroy(self):
        self._dispatch_cache = None
