"""ringside for Python: the C API of libringside.so through ctypes (stdlib only).

    import ringside
    with ringside.Region.create(ring_count=1) as region:
        with region.producer(0) as tx, region.consumer(0) as rx:
            tx.write(b"hello")
            view = rx.peek()          # zero copy: valid until release()
            assert bytes(view) == b"hello"
            rx.release()              # `view` is released here; using it raises ValueError

Failures raise RingsideError subclasses carrying the library's message;
expected outcomes are returned (write -> False when full, peek -> None when
empty, waits -> False on timeout). src/python/README.md has the rules.
"""

from . import _api
from ._api import (Backing, Delivery, LogLevel, OnRefused, Result, Role, SchedPolicy, SidecarState, StopMode,
                   WaitKind)
from ._lib import LibraryNotFoundError, library_path, load
from .errors import (AlreadyExistsError, BusyError, ClosedError, CorruptError, InternalError, InvalidArgumentError,
                     NotFoundError, OutOfMemoryError, PeerClosedError, PermissionDeniedError, RingsideError,
                     TooLargeError, TooSmallError, VersionMismatchError, ViewInUseError)
from .region import Region, RegionInfo, unique_shm_name
from .ring import ConsumerRing, ProducerRing
from ._callbacks import Callbacks
from .sidecar import Sidecar, SidecarHost, SidecarSched, SidecarStats
from .wait import EventFd, WaitStrategy, fd_receive, fd_send, wait_kind_name


def lib():
    """The loaded ctypes CDLL with every prototype declared (loads it on first use)."""
    from ._lib import lib as _get
    return _get()


def version():
    """The library's version string ('0.1.0')."""
    return lib().rs_version_string().decode()


def layout_version():
    """(major, minor) of the shared layout this library writes and accepts."""
    import ctypes
    major, minor = ctypes.c_uint16(), ctypes.c_uint16()
    lib().rs_layout_version(ctypes.byref(major), ctypes.byref(minor))
    return major.value, minor.value


def allocation_count():
    """rs_debug_allocation_count: the library's live heap allocations in this process."""
    return lib().rs_debug_allocation_count()


def result_name(code):
    """rs_result_name: 'RS_FULL', ... ('RS_UNKNOWN_RESULT' for other values)."""
    return lib().rs_result_name(int(code)).decode()


def sidecar_state_name(state):
    """rs_sidecar_state_name: 'running', ..."""
    return lib().rs_sidecar_state_name(int(state)).decode()


def last_error():
    """(code, message) of this thread's last library failure (Result.OK, '' if none)."""
    library = lib()
    return Result(library.rs_last_error_code()), library.rs_last_error_message().decode("utf-8", "replace")


def clear_error():
    lib().rs_clear_error()


def python_host_round_trip(**kwargs):
    """The harness entry point; see ringside.driver.python_host_round_trip."""
    from .driver import python_host_round_trip as run
    return run(**kwargs)


__all__ = [name for name in dir() if not name.startswith("_")]
