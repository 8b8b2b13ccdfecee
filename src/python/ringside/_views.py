"""Zero-copy memoryviews over library memory that the binding can revoke, and detect escapes from.

A view is made over a ctypes array placed at the library's address (no copy).
Revoking it calls memoryview.release(), so later use raises ValueError. A slice
or memoryview() of a view shares the array but is not the view: it cannot be
revoked. It keeps the array alive, though, so after revoking the binding sees
the array's reference count and knows something derived from the view
survived: ViewTracker.revoke_all() then raises ViewInUseError, and the caller
(release, commit) does not hand the memory back until that reference is gone.
"""

import ctypes
import sys

from .errors import ViewInUseError


class _Span(ctypes.c_ubyte * (1 << 40)):
    """Placed with from_address: a length only, never read past the view's end."""


_getrefcount = sys.getrefcount
# getrefcount(array) with only the tracker's list entry and the argument holding it.
_ALONE = 2


def make_view(address, length, readonly):
    """(view, array): a 'B' memoryview of `length` bytes at `address`, and the array it holds."""
    array = _Span.from_address(address)
    whole = memoryview(array)
    view = whole[:length].cast("B")
    whole.release()
    if readonly:
        writable, view = view, view.toreadonly()
        writable.release()
    return view, array


class ViewTracker:
    """The views a ring handed out that are valid until its next release/commit."""

    __slots__ = ("_views", "_arrays")

    def __init__(self):
        self._views = []
        self._arrays = []

    def __bool__(self):
        return bool(self._views) or bool(self._arrays)

    def add(self, address, length, readonly):
        view, array = make_view(address, length, readonly)
        self._views.append(view)
        self._arrays.append(array)
        return view

    def revoke_all(self, function, strict=True):
        """Releases every view; raises ViewInUseError (strict) if one survives in an export or slice.

        Views already released stay released; the arrays of escaped ones stay
        tracked, so a retry after the caller dropped them succeeds. With
        strict=False (closing) nothing is raised and tracking ends.
        """
        exported = []
        for view in self._views:
            try:
                view.release()
            except BufferError:  # an export (e.g. numpy.frombuffer) holds it
                exported.append(view)
        # Three references when nothing else holds it: the list, `array`, getrefcount's argument.
        escaped = [array for array in self._arrays if _getrefcount(array) > _ALONE + 1]
        if not strict or not escaped:
            self._views.clear()
            self._arrays.clear()
            return
        self._views = exported
        self._arrays = escaped
        raise ViewInUseError(
            f"{len(escaped)} zero-copy view(s) handed out by this ring are still in use (an export such as "
            f"numpy.frombuffer, or a slice or memoryview() of a view): drop them, or copy with bytes(), "
            f"before the memory is handed back", function)
