"""WaitStrategy (rs_wait_strategy as a value), EventFd, and passing descriptors between processes."""

import ctypes
import dataclasses
import os

from . import _lib
from ._api import Result, WaitKind, rs_wait_strategy
from ._handle import timeout_ns
from .errors import ClosedError, check, error_for


def wait_kind(kind):
    """A WaitKind from a WaitKind, its int, or its name ('futex', 'busy_spin', ...)."""
    if isinstance(kind, str):
        return WaitKind[kind.upper()]
    return WaitKind(kind)


@dataclasses.dataclass
class WaitStrategy:
    """How one side of a ring waits and wakes its peer (sidecar.h explains each field).

    A plain value: it owns no descriptor. eventfd / peer_eventfd are borrowed
    (the library duplicates them when the strategy is applied); an EventFd
    object can own one.
    """
    kind: WaitKind = WaitKind.HYBRID
    spin_limit: int = 4096
    sleep_ns: int = 1_000_000
    peer_may_park: bool = True
    eventfd: int = -1
    peer_eventfd: int = -1

    def __post_init__(self):
        self.kind = wait_kind(self.kind)

    @classmethod
    def of(cls, value):
        """A WaitStrategy from a WaitStrategy, a kind, or a kind name; None gives the default."""
        if value is None:
            return cls()
        if isinstance(value, cls):
            return value
        return cls(wait_kind(value))

    def to_c(self, lib=None):
        """An rs_wait_strategy stamped by rs_wait_strategy_init, with these fields."""
        lib = lib or _lib.lib()
        strategy = rs_wait_strategy()
        lib.rs_wait_strategy_init(ctypes.byref(strategy), self.kind)
        strategy.spin_limit = self.spin_limit
        strategy.sleep_ns = self.sleep_ns
        strategy.peer_may_park = int(bool(self.peer_may_park))
        strategy.eventfd = self.eventfd
        strategy.peer_eventfd = self.peer_eventfd
        return strategy

    @property
    def name(self):
        return wait_kind_name(self.kind)


def wait_kind_name(kind):
    """rs_wait_kind_name: 'futex', 'busy_spin', ... ('unknown' for other values)."""
    return _lib.lib().rs_wait_kind_name(int(kind)).decode()


class EventFd:
    """An eventfd from rs_eventfd_create (non-blocking, close-on-exec), closed exactly once.

    Owned by Python (the library only duplicates it), so it is closed with os.close.
    """

    def __init__(self):
        lib = _lib.lib()
        fd = ctypes.c_int(-1)
        check(lib, lib.rs_eventfd_create(ctypes.byref(fd)), "rs_eventfd_create")
        self._fd = fd.value

    @property
    def closed(self):
        return self._fd is None

    def fileno(self):
        if self._fd is None:
            raise ClosedError("EventFd")
        return self._fd

    def close(self):
        fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)

    def __enter__(self):
        self.fileno()
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        self.close()


def fd_send(unix_socket, fd):
    """Sends descriptor `fd` over a connected Unix socket (SCM_RIGHTS). Both stay yours."""
    lib = _lib.lib()
    sock = unix_socket if isinstance(unix_socket, int) else unix_socket.fileno()
    fd = fd if isinstance(fd, int) else fd.fileno()
    check(lib, lib.rs_fd_send(sock, fd), "rs_fd_send")


def fd_receive(unix_socket, timeout):
    """Receives a descriptor sent with fd_send, waiting at most `timeout` seconds.

    Returns the new descriptor (yours to os.close), or None on timeout.
    PeerClosedError if the peer hung up.
    """
    lib = _lib.lib()
    sock = unix_socket if isinstance(unix_socket, int) else unix_socket.fileno()
    fd = ctypes.c_int(-1)
    result = lib.rs_fd_receive(sock, ctypes.byref(fd), timeout_ns(timeout))
    if result == Result.TIMEOUT:
        return None
    if result != Result.OK:
        raise error_for(lib, result, "rs_fd_receive")
    return fd.value
