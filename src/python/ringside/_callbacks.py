"""Callbacks: the CFUNCTYPE trampolines of one rs_host_vtable (and processor), which never raise into C.

Each trampoline catches BaseException, counts it and reports it (on_error, or
sys.unraisablehook). _ThreadStatePins keeps the sidecar thread's Python thread
state alive between callbacks (see its docstring for why and how it is freed).
"""

import ctypes
import sys
import threading
import types

from ._api import (RS_HOST_VTABLE_ABI_VERSION, RS_PROCESS_EMIT, RS_PROCESS_SKIP, LogLevel, Result, rs_host_vtable,
                   rs_on_error_fn, rs_on_event_fn, rs_on_log_fn, rs_process_fn)
from ._views import make_view
from .errors import RingsideError, ViewInUseError


def _report_unraisable(exc, where, obj):
    sys.unraisablehook(types.SimpleNamespace(
        exc_type=type(exc), exc_value=exc, exc_traceback=exc.__traceback__,
        err_msg=f"Exception ignored in ringside {where} callback", object=obj))


class _ThreadStatePins:
    """Keeps the sidecar thread's Python thread state between callbacks, and deletes it after join.

    A ctypes callback on a thread Python did not create makes a new thread
    state for each call and deletes it afterwards (PyGILState_Ensure/Release):
    about 11 us a call on the reference machine, twenty times the call itself.
    On its first callback on such a thread the binding calls PyGILState_Ensure
    once more, so the state outlives each call; once rs_sidecar_stop has
    joined the thread, clear() deletes those states from the host thread.
    """

    _api = None

    def __init__(self):
        self.seen = set()  # thread idents already looked at (read in the trampolines)
        self._states = []

    @classmethod
    def _python_api(cls):
        if cls._api is None:
            api = ctypes.PyDLL(None)  # a private handle: pythonapi's prototypes stay untouched
            api.PyGILState_Ensure.restype = ctypes.c_int
            api.PyGILState_Ensure.argtypes = []
            api.PyThreadState_Get.restype = ctypes.c_void_p
            api.PyThreadState_Get.argtypes = []
            api.PyThreadState_Clear.argtypes = [ctypes.c_void_p]
            api.PyThreadState_Clear.restype = None
            api.PyThreadState_Delete.argtypes = [ctypes.c_void_p]
            api.PyThreadState_Delete.restype = None
            cls._api = api
        return cls._api

    def pin(self):
        """Called from a trampoline (GIL held) on a thread not seen before."""
        ident = threading.get_ident()
        self.seen.add(ident)
        if ident in getattr(threading, "_active", {ident: None}):
            return  # a Python thread (e.g. the host in dispatch): its state is permanent already
        api = self._python_api()
        api.PyGILState_Ensure()
        self._states.append(api.PyThreadState_Get())

    def clear(self):
        """After the thread(s) were joined: deletes the states pinned on them."""
        api = self._api
        for state in self._states:
            api.PyThreadState_Clear(state)
            api.PyThreadState_Delete(state)
        self._states.clear()
        self.seen.clear()

    def __len__(self):
        return len(self._states)


class Callbacks:
    """The Python side of one rs_host_vtable (and processor): trampolines that never raise into C.

    collect=True (dispatch on the caller's thread): exceptions are kept for
    raise_collected() instead of being reported.
    """

    def __init__(self, on_event=None, on_error=None, on_log=None, process=None, zero_copy=False, collect=False,
                 pin_thread_state=True):
        self.pins = _ThreadStatePins() if pin_thread_state else None
        self.user_on_event = on_event
        self.user_on_error = on_error
        self.user_on_log = on_log
        self.user_process = process
        self.exceptions = 0
        self.last_exception = None
        self._collected = [] if collect else None
        self._pending_processor_error = None
        self.c_on_event = rs_on_event_fn(self._event_trampoline(on_event, zero_copy)) if on_event else rs_on_event_fn()
        self.c_on_error = rs_on_error_fn(self._on_error)
        self.c_on_log = rs_on_log_fn(self._on_log) if on_log else rs_on_log_fn()
        self.c_process = rs_process_fn(self._process_trampoline(process, zero_copy)) if process else None
        self.vtable = rs_host_vtable(ctypes.sizeof(rs_host_vtable), RS_HOST_VTABLE_ABI_VERSION, None,
                                     self.c_on_event, self.c_on_error, self.c_on_log)

    def threads_joined(self):
        """The library joined the sidecar thread: delete the thread states pinned on it."""
        if self.pins is not None:
            self.pins.clear()

    def dispose(self):
        """Drops the C function objects and the user's callables (after destroy: nothing calls them)."""
        self.threads_joined()
        self.c_on_event = self.c_on_error = self.c_on_log = self.c_process = self.vtable = None
        self.user_on_event = self.user_on_error = self.user_on_log = self.user_process = None

    # -- reporting --------------------------------------------------------

    def caught(self, where, exc):
        self.exceptions += 1
        self.last_exception = exc
        if self._collected is not None:
            self._collected.append(exc)
            return
        self.report(Result.ERR_INTERNAL, f"{where} raised {type(exc).__name__}: {exc}", exc, where)

    def report(self, code, message, exc=None, where="on_error"):
        on_error = self.user_on_error
        if on_error is None:
            _report_unraisable(exc or RingsideError(code, message), where, self.user_on_event)
            return
        try:
            on_error(code, message)
        except BaseException as inner:  # on_error itself raised: count it, never propagate
            self.exceptions += 1
            self.last_exception = inner
            _report_unraisable(inner, "on_error", on_error)

    def raise_collected(self):
        collected, self._collected = self._collected, []
        if collected:
            raise collected[0]

    # -- trampolines: each catches everything ----------------------------

    def _pin_hooks(self):
        """(seen, pin): the trampolines call pin() on a thread whose ident is not in seen."""
        pins = self.pins
        return (pins.seen, pins.pin) if pins is not None else (None, None)

    def _event_trampoline(self, fn, zero_copy):
        string_at = ctypes.string_at
        caught = self.caught
        get_ident = threading.get_ident
        seen, pin = self._pin_hooks()
        if not zero_copy:
            def on_event(data, length, user):
                try:
                    if seen is not None and get_ident() not in seen:
                        pin()
                    fn(string_at(data, length) if length else b"")
                except BaseException as exc:
                    caught("on_event", exc)
            return on_event

        getrefcount = sys.getrefcount

        def on_event_view(data, length, user):
            try:
                if seen is not None and get_ident() not in seen:
                    pin()
                view, array = make_view(data or 0, length, True)
                try:
                    fn(view)
                finally:
                    view.release()
                if getrefcount(array) > 2:
                    raise ViewInUseError("on_event kept a slice or export of its event view beyond the call "
                                         "(the memory is reused after it returns): copy with bytes()")
            except BaseException as exc:
                caught("on_event", exc)
        return on_event_view

    def _process_trampoline(self, fn, zero_copy):
        string_at = ctypes.string_at
        memmove = ctypes.memmove
        get_ident = threading.get_ident
        seen, pin = self._pin_hooks()

        def process(command, command_length, event, capacity, out_length, user):
            try:
                if seen is not None and get_ident() not in seen:
                    pin()
                if zero_copy:
                    view, _array = make_view(command or 0, command_length, True)
                    try:
                        result = fn(view)
                    finally:
                        view.release()
                else:
                    result = fn(string_at(command, command_length) if command_length else b"")
                if result is None:
                    return RS_PROCESS_SKIP
                if not isinstance(result, bytes):
                    result = bytes(result)
                length = len(result)
                if length > capacity:
                    raise ValueError(f"process returned {length} bytes; the event buffer holds {capacity} "
                                     f"(max_event_bytes)")
                if length:
                    memmove(event, result, length)
                out_length[0] = length
                return RS_PROCESS_EMIT
            except BaseException as exc:
                self.exceptions += 1
                self.last_exception = exc
                if self.user_on_error is None:
                    _report_unraisable(exc, "process", fn)
                else:  # the library reports the failed command to on_error next, on this thread
                    self._pending_processor_error = exc
                return Result.ERR_INTERNAL
        return process

    def _check_pin(self):
        pins = self.pins
        if pins is not None and threading.get_ident() not in pins.seen:
            pins.pin()

    def _on_error(self, code, message, user):
        try:
            self._check_pin()
            text = message.decode("utf-8", "replace") if message else ""
            pending, self._pending_processor_error = self._pending_processor_error, None
            if pending is not None:
                text += f" (Python: {type(pending).__name__}: {pending})"
            try:
                code = Result(code)
            except ValueError:
                pass
            if self.user_on_error is not None:
                self.report(code, text)
        except BaseException as exc:
            self.exceptions += 1
            self.last_exception = exc

    def _on_log(self, level, message, user):
        try:
            self._check_pin()
            self.user_on_log(LogLevel(level), message.decode("utf-8", "replace") if message else "")
        except BaseException as exc:
            self.caught("on_log", exc)
