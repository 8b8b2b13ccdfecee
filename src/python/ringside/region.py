"""Region: a shared-memory region (rs_region_t), created or opened by name."""

import ctypes
import dataclasses
import itertools
import json
import os

from . import _lib
from ._api import Backing, Result, rs_region_info, rs_region_options
from ._handle import Owned
from .errors import check, error_for

_names = itertools.count()


def unique_shm_name(prefix="ringside-py"):
    """'/<prefix>.<pid>.<n>': a shm name no other process or earlier call uses."""
    return f"/{prefix}.{os.getpid()}.{next(_names)}"


def library_json(lib, call, function):
    """Calls call(byref(char*)), copies the library's string out and frees it with rs_string_free."""
    raw = ctypes.c_void_p()
    result = call(ctypes.byref(raw))
    try:
        check(lib, result, function)
        return ctypes.string_at(raw.value).decode("utf-8") if raw.value else ""
    finally:
        lib.rs_string_free(raw)  # NULL is fine


@dataclasses.dataclass(frozen=True)
class RegionInfo:
    """rs_region_info as Python values."""
    layout_major: int
    layout_minor: int
    total_bytes: int
    ring_capacity: int
    max_payload: int
    ring_count: int
    record_align: int
    backing: Backing
    creator_pid: int
    creator_alive: bool
    is_creator: bool
    epoch: int
    prefaulted: bool
    memory_locked: bool
    huge_pages: bool


def region_options(lib, backing=Backing.SHM, ring_count=None, ring_capacity=None, record_align=None, mode=None,
                   keep_on_destroy=None, prefault=None, lock_memory=None, huge_pages=None,
                   flush_interval_ms=None):
    """An rs_region_options from rs_region_options_init with the given fields replaced (None keeps the default)."""
    options = rs_region_options()
    lib.rs_region_options_init(ctypes.byref(options))
    options.backing = Backing(backing) if not isinstance(backing, str) else Backing[backing.upper()]
    for field, value in (("ring_count", ring_count), ("ring_capacity", ring_capacity),
                         ("record_align", record_align), ("mode", mode), ("keep_on_destroy", keep_on_destroy),
                         ("prefault", prefault), ("lock_memory", lock_memory), ("huge_pages", huge_pages),
                         ("flush_interval_ms", flush_interval_ms)):
        if value is not None:
            setattr(options, field, int(value))
    return options


class Region(Owned):
    """A shared-memory region. Any thread may use it.

    Make one with Region.create() or Region.open(). Close its rings and
    sidecars first: closing a region still in use raises BusyError and
    changes nothing (in `with` blocks, nest them so the region closes last).
    """

    _kind = "Region"

    def __init__(self, lib, handle, name):
        super().__init__(lib, handle, "rs_region_destroy")
        self.name = name

    @staticmethod
    def _finalize(lib, handle):
        # RS_BUSY here means rings still use it: then it stays mapped until exit.
        lib.rs_region_destroy(handle)

    @classmethod
    def create(cls, name=None, **options):
        """Creates a new region (AlreadyExistsError if the name is taken).

        name: a shm name ('/x'), or a file path with backing='file'; None makes a unique shm name.
        options: backing, ring_count, ring_capacity, record_align, mode, keep_on_destroy,
        prefault, lock_memory, huge_pages, flush_interval_ms (see rs_region_options).
        """
        lib = _lib.lib()
        name = unique_shm_name() if name is None else name
        opts = region_options(lib, **options)
        handle = ctypes.c_void_p()
        result = lib.rs_region_create(os.fsencode(name), ctypes.byref(opts), ctypes.byref(handle))
        if result != Result.OK:
            raise error_for(lib, result, "rs_region_create")
        return cls(lib, handle.value, name)

    @classmethod
    def open(cls, name, **options):
        """Opens a region another handle or process created.

        NotFoundError if absent; BusyError if its creator has not finished.
        Only backing, prefault, lock_memory, huge_pages and flush_interval_ms are used.
        """
        lib = _lib.lib()
        opts = region_options(lib, **options)
        handle = ctypes.c_void_p()
        result = lib.rs_region_open(os.fsencode(name), ctypes.byref(opts), ctypes.byref(handle))
        if result != Result.OK:
            raise error_for(lib, result, "rs_region_open")
        return cls(lib, handle.value, name)

    @staticmethod
    def unlink(name, backing=Backing.SHM):
        """Removes a region's name or file (e.g. after a crash): False if there was none."""
        lib = _lib.lib()
        backing = Backing[backing.upper()] if isinstance(backing, str) else Backing(backing)
        result = lib.rs_region_unlink(os.fsencode(name), backing)
        if result == Result.ERR_NOT_FOUND:
            return False
        check(lib, result, "rs_region_unlink")
        return True

    def info(self):
        info = rs_region_info()
        info.struct_size = ctypes.sizeof(info)
        check(self._lib, self._lib.rs_region_get_info(self.handle, ctypes.byref(info)), "rs_region_get_info")
        return RegionInfo(
            info.layout_major, info.layout_minor, info.total_bytes, info.ring_capacity, info.max_payload,
            info.ring_count, info.record_align, Backing(info.backing), info.creator_pid, bool(info.creator_alive),
            bool(info.is_creator), info.epoch, bool(info.prefaulted), bool(info.memory_locked),
            bool(info.huge_pages))

    def flush(self):
        """File backing: msync the mapping (survives power loss). A no-op for shm."""
        check(self._lib, self._lib.rs_region_flush(self.handle), "rs_region_flush")

    def stats_json(self):
        handle = self.handle
        return library_json(self._lib, lambda out: self._lib.rs_region_stats_json(handle, out),
                            "rs_region_stats_json")

    def stats(self):
        return json.loads(self.stats_json())

    def ring_stats_json(self, index):
        """Ring `index`'s positions and role holders, read without attaching."""
        handle = self.handle
        return library_json(self._lib, lambda out: self._lib.rs_region_ring_stats_json(handle, index, out),
                            "rs_region_ring_stats_json")

    def ring_stats(self, index):
        return json.loads(self.ring_stats_json(index))

    def producer(self, index=0):
        """Attaches as ring `index`'s producer (BusyError if a live owner holds it)."""
        from .ring import ProducerRing
        return ProducerRing(self, index)

    def consumer(self, index=0):
        """Attaches as ring `index`'s consumer (BusyError if a live owner holds it)."""
        from .ring import ConsumerRing
        return ConsumerRing(self, index)
