"""Exceptions: one class per failure code, each carrying the library's last-error message."""

from ._api import Result


class RingsideError(Exception):
    """A failed rs_* call: .code (Result), .message (the library's text), .function."""

    def __init__(self, code, message, function=None):
        self.code = Result(code)
        self.message = message
        self.function = function
        text = message if not function or message.startswith(function) else f"{function}: {message}"
        super().__init__(f"{text} [RS_{self.code.name}]")


class InvalidArgumentError(RingsideError, ValueError):
    pass


class TooLargeError(RingsideError, ValueError):
    pass


class TooSmallError(RingsideError, ValueError):
    """The caller's buffer is too small; .needed is the record's size."""

    def __init__(self, code, message, function=None, needed=None):
        super().__init__(code, message, function)
        self.needed = needed


class NotFoundError(RingsideError, FileNotFoundError):
    pass


class AlreadyExistsError(RingsideError, FileExistsError):
    pass


class VersionMismatchError(RingsideError):
    pass


class CorruptError(RingsideError):
    pass


class PermissionDeniedError(RingsideError, PermissionError):
    pass


class PeerClosedError(RingsideError):
    """RS_ERR_CLOSED: the other side or the object is gone."""


class OutOfMemoryError(RingsideError, MemoryError):
    pass


class InternalError(RingsideError):
    pass


class BusyError(RingsideError):
    """RS_BUSY where it means failure: a role held by a live owner, a region still in use."""


class ClosedError(RingsideError, ValueError):
    """The Python object was closed; the library was not called."""

    def __init__(self, what):
        super().__init__(Result.ERR_INVALID_ARGUMENT, f"{what} is closed")


class ViewInUseError(RingsideError, BufferError):
    """A zero-copy view (or a slice or export of it) is still alive where it must be gone."""

    def __init__(self, message, function=None):
        super().__init__(Result.ERR_INVALID_ARGUMENT, message, function)


_BY_CODE = {
    Result.ERR_INVALID_ARGUMENT: InvalidArgumentError, Result.ERR_TOO_LARGE: TooLargeError,
    Result.ERR_TOO_SMALL: TooSmallError, Result.ERR_NOT_FOUND: NotFoundError,
    Result.ERR_EXISTS: AlreadyExistsError, Result.ERR_VERSION_MISMATCH: VersionMismatchError,
    Result.ERR_CORRUPT: CorruptError, Result.ERR_PERMISSION: PermissionDeniedError,
    Result.ERR_CLOSED: PeerClosedError, Result.ERR_NO_MEMORY: OutOfMemoryError,
    Result.ERR_INTERNAL: InternalError, Result.BUSY: BusyError,
}


def error_for(lib, code, function, **extra):
    """The exception for `code`, with this thread's last-error message if it belongs to this failure.

    Call it right after the failing rs_ call: the message is valid until the next one.
    """
    message = (lib.rs_last_error_message() or b"").decode("utf-8", "replace")
    if not message or lib.rs_last_error_code() != code:
        message = "failed"
    return _BY_CODE.get(code, RingsideError)(code, message, function, **extra)


def check(lib, code, function):
    """Returns code when it is an expected outcome (>= 0); raises for failures."""
    if code < 0:
        raise error_for(lib, code, function)
    return code
