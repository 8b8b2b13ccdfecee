"""Owned native handles: destroyed exactly once, by close(), `with`, or the garbage collector."""

import threading
import weakref

from ._api import Result
from .errors import ClosedError, error_for



def timeout_ns(timeout):
    """Seconds (float) to the C API's nanoseconds: None waits forever, <= 0 tries once."""
    if timeout is None:
        return 2**64 - 1
    return 0 if timeout <= 0 else min(int(timeout * 1e9), 2**64 - 2)


class Owned:
    """Base of Region, rings, Sidecar: one native handle, a context manager.

    Subclasses set _kind (for messages) and pass their destroy function. The
    finalizer destroys a handle nobody closed when the object is collected or
    at interpreter exit (newest first, so rings go before their region).
    """

    _kind = "object"

    def __init__(self, lib, handle, destroy_name, finalizer_args=()):
        self._lib = lib
        self._handle = handle
        self._destroy = getattr(lib, destroy_name)
        self._destroy_name = destroy_name
        self._close_lock = threading.Lock()
        self._finalizer = weakref.finalize(self, self._finalize, lib, handle, *finalizer_args)

    @staticmethod
    def _finalize(lib, handle, *args):
        """Destroys a handle that was never closed; never raises. Overridden by Sidecar."""
        raise NotImplementedError

    @property
    def closed(self):
        return self._handle is None

    @property
    def handle(self):
        """The raw C handle (int), for calling the C API directly; ClosedError after close."""
        handle = self._handle
        if handle is None:
            raise ClosedError(self._kind)
        return handle

    def __enter__(self):
        if self._handle is None:
            raise ClosedError(self._kind)
        return self

    def __exit__(self, *exc):
        self.close()

    def _before_destroy(self):
        """Hook: runs under the close lock before the destroy call."""

    def _after_destroy(self):
        """Hook: runs once the handle is gone (drop what the native side used)."""

    def close(self):
        """Destroys the native object. A second close does nothing.

        BusyError if the library refuses (a region still used by rings or a
        sidecar, a sidecar whose thread was not joined): the object stays open.
        """
        with self._close_lock:
            handle = self._handle
            if handle is None:
                return
            self._before_destroy()
            result = self._destroy(handle)
            if result == Result.BUSY:
                raise error_for(self._lib, result, self._destroy_name)
            self._handle = None
            self._finalizer.detach()
            self._after_destroy()
            if result != Result.OK:
                raise error_for(self._lib, result, self._destroy_name)

    def __repr__(self):
        state = "closed" if self._handle is None else f"handle=0x{self._handle:x}"
        return f"<ringside.{type(self).__name__} {state}>"
