"""WaitStrategy, EventFd, descriptor passing, module-level functions and the error classes."""

import ctypes
import os
import socket

import pytest

import ringside
from ringside import Result, WaitKind, WaitStrategy
from ringside.errors import error_for

pytestmark = pytest.mark.library


def test_wait_strategy_accepts_kinds_by_name_and_fills_the_c_struct_from_the_library(lib):
    strategy = WaitStrategy("busy_spin", spin_limit=10, peer_may_park=False)
    assert strategy.kind == WaitKind.BUSY_SPIN and strategy.name == "busy_spin"
    c = strategy.to_c()
    assert c.struct_size == ctypes.sizeof(c) and c.check != 0 and c.kind == WaitKind.BUSY_SPIN
    assert (c.spin_limit, c.peer_may_park, c.eventfd, c.peer_eventfd) == (10, 0, -1, -1)
    assert WaitStrategy.of(None).kind == WaitKind.HYBRID and WaitStrategy.of("futex").kind == WaitKind.FUTEX
    assert WaitStrategy.of(strategy) is strategy


def test_wait_strategy_rejects_an_unknown_kind_name():
    with pytest.raises(KeyError):
        WaitStrategy("nap")


def test_wait_kind_name_names_every_kind_and_unknown_values():
    assert [ringside.wait_kind_name(k) for k in WaitKind][:2] == ["busy_spin", "spin_pause"]
    assert ringside.wait_kind_name(0) == "unknown"


def test_eventfd_is_a_readable_counter_closed_exactly_once():
    efd = ringside.EventFd()
    fd = efd.fileno()
    os.write(fd, (3).to_bytes(8, "little"))
    assert int.from_bytes(os.read(fd, 8), "little") == 3
    with efd:
        pass
    efd.close()
    assert efd.closed
    with pytest.raises(ringside.ClosedError):
        efd.fileno()
    with pytest.raises(OSError):
        os.fstat(fd)


def test_fd_send_and_receive_pass_a_descriptor_over_a_unix_socket():
    left, right = socket.socketpair()
    with left, right, ringside.EventFd() as efd:
        assert ringside.fd_receive(right, 0) is None  # nothing sent yet: timeout
        ringside.fd_send(left, efd)
        received = ringside.fd_receive(right, 1.0)
        try:
            os.write(received, (1).to_bytes(8, "little"))
            assert int.from_bytes(os.read(efd.fileno(), 8), "little") == 1
        finally:
            os.close(received)


def test_fd_send_and_receive_fail_with_the_library_message():
    with pytest.raises(ringside.InvalidArgumentError, match="negative"):
        ringside.fd_send(-1, 0)
    left, right = socket.socketpair()
    left.close()
    with right, pytest.raises(ringside.PeerClosedError, match="closed"):
        ringside.fd_receive(right, 1.0)


def test_version_layout_and_names_come_from_the_library():
    assert ringside.version().count(".") == 2
    assert ringside.layout_version()[0] == 1
    assert ringside.result_name(Result.TIMEOUT) == "RS_TIMEOUT" and ringside.result_name(77) == "RS_UNKNOWN_RESULT"
    assert ringside.sidecar_state_name(ringside.SidecarState.STOPPED) == "stopped"


def test_last_error_reports_and_clear_error_forgets_this_threads_failure(shm_name):
    with pytest.raises(ringside.NotFoundError):
        ringside.Region.open(shm_name)
    code, message = ringside.last_error()
    assert code == Result.ERR_NOT_FOUND and message
    ringside.clear_error()
    assert ringside.last_error() == (Result.OK, "")


@pytest.mark.parametrize("code", [r for r in Result if r < 0] + [Result.BUSY])
def test_every_failure_code_maps_to_its_own_exception_class_carrying_code_and_message(lib, code):
    lib.rs_clear_error()
    error = error_for(lib, code, "rs_example")
    assert isinstance(error, ringside.RingsideError) and type(error) is not ringside.RingsideError
    assert error.code == code and error.message == "failed" and error.function == "rs_example"
    assert f"[RS_{code.name}]" in str(error)


def test_error_classes_also_derive_from_the_matching_builtin_exceptions():
    assert issubclass(ringside.NotFoundError, FileNotFoundError)
    assert issubclass(ringside.AlreadyExistsError, FileExistsError)
    assert issubclass(ringside.InvalidArgumentError, ValueError)
    assert issubclass(ringside.ClosedError, ValueError)
    assert issubclass(ringside.ViewInUseError, BufferError)
    assert issubclass(ringside.PermissionDeniedError, PermissionError)
