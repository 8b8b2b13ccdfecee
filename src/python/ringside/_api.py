"""ctypes mirror of ringside.h and sidecar.h: constants, structs, callback types, prototypes.

Field and function names are the C names, so tests/python/test_binding_drift.py
can compare this module with the headers and the exported symbols. Handles are
c_void_p. Library-allocated strings come back as c_void_p (never c_char_p,
which would copy and lose the pointer that rs_string_free needs).
"""

import enum
from ctypes import (CFUNCTYPE, POINTER, Structure, c_char, c_char_p, c_int, c_int32, c_int64, c_size_t,
                    c_uint16, c_uint32, c_uint64, c_void_p)


class Result(enum.IntEnum):
    OK = 0
    FULL = 1
    EMPTY = 2
    TIMEOUT = 3
    BUSY = 4
    ERR_INVALID_ARGUMENT = -1
    ERR_TOO_LARGE = -2
    ERR_TOO_SMALL = -3
    ERR_NOT_FOUND = -4
    ERR_EXISTS = -5
    ERR_VERSION_MISMATCH = -6
    ERR_CORRUPT = -7
    ERR_PERMISSION = -8
    ERR_CLOSED = -9
    ERR_NO_MEMORY = -10
    ERR_INTERNAL = -11


class Backing(enum.IntEnum):
    SHM = 1
    FILE = 2


class Role(enum.IntEnum):
    PRODUCER = 1
    CONSUMER = 2


class WaitKind(enum.IntEnum):
    BUSY_SPIN = 1
    SPIN_PAUSE = 2
    YIELD = 3
    SLEEP = 4
    FUTEX = 5
    EVENTFD = 6
    HYBRID = 7


class LogLevel(enum.IntEnum):
    DEBUG = 0
    INFO = 1
    WARN = 2
    ERROR = 3


class SidecarState(enum.IntEnum):
    NONE = 0
    CREATED = 1
    RUNNING = 2
    STOPPING = 3
    STOPPED = 4
    FAILED = 5


class Delivery(enum.IntEnum):
    VTABLE = 1
    RING = 2


class SchedPolicy(enum.IntEnum):
    INHERIT = 0
    OTHER = 1
    FIFO = 2
    RR = 3


class OnRefused(enum.IntEnum):
    FAIL = 1
    DOWNGRADE = 2


class StopMode(enum.IntEnum):
    DRAIN = 1
    DISCARD = 2


# C name prefix of each enum's members, for the drift test (RS_ + prefix + member).
ENUM_PREFIXES = {Result: "RS_", Backing: "RS_BACKING_", Role: "RS_ROLE_", WaitKind: "RS_WAIT_",
                 LogLevel: "RS_LOG_", SidecarState: "RS_SIDECAR_", Delivery: "RS_DELIVER_",
                 SchedPolicy: "RS_SCHED_", OnRefused: "RS_REFUSED_", StopMode: "RS_STOP_"}

# The header's #defines.
RS_WAIT_FOREVER = 2**64 - 1
RS_HOST_VTABLE_ABI_VERSION = 1
RS_PROCESS_EMIT = 0
RS_PROCESS_SKIP = 1
RS_CPU_MASK_WORDS = 16
DEFINES = ("RS_WAIT_FOREVER", "RS_HOST_VTABLE_ABI_VERSION", "RS_PROCESS_EMIT", "RS_PROCESS_SKIP",
           "RS_CPU_MASK_WORDS")

c_enum = c_int  # every C enum here fits int (gcc/clang on Linux)


class rs_region_options(Structure):
    _fields_ = [("struct_size", c_uint32), ("check", c_uint32), ("backing", c_enum), ("ring_count", c_uint32),
                ("ring_capacity", c_uint64), ("record_align", c_uint32), ("mode", c_uint32),
                ("keep_on_destroy", c_int32), ("prefault", c_int32), ("lock_memory", c_int32),
                ("huge_pages", c_int32), ("flush_interval_ms", c_uint32)]


class rs_region_info(Structure):
    _fields_ = [("struct_size", c_uint32), ("layout_major", c_uint16), ("layout_minor", c_uint16),
                ("total_bytes", c_uint64), ("ring_capacity", c_uint64), ("max_payload", c_uint64),
                ("ring_count", c_uint32), ("record_align", c_uint32), ("backing", c_enum),
                ("creator_pid", c_int32), ("creator_alive", c_int32), ("is_creator", c_int32), ("epoch", c_uint64),
                ("prefaulted", c_int32), ("memory_locked", c_int32), ("huge_pages", c_int32), ("reserved", c_int32)]


class rs_record(Structure):
    _fields_ = [("data", c_void_p), ("length", c_size_t)]


class rs_wait_strategy(Structure):
    _fields_ = [("struct_size", c_uint32), ("check", c_uint32), ("kind", c_enum), ("spin_limit", c_uint32),
                ("sleep_ns", c_uint64), ("peer_may_park", c_int32), ("eventfd", c_int32),
                ("peer_eventfd", c_int32), ("reserved", c_int32)]


# Callback types. The user pointer comes last; data is valid only during the call.
rs_on_event_fn = CFUNCTYPE(None, c_void_p, c_size_t, c_void_p)
rs_on_error_fn = CFUNCTYPE(None, c_enum, c_char_p, c_void_p)
rs_on_log_fn = CFUNCTYPE(None, c_enum, c_char_p, c_void_p)
rs_process_fn = CFUNCTYPE(c_int32, c_void_p, c_size_t, c_void_p, c_size_t, POINTER(c_size_t), c_void_p)


class rs_host_vtable(Structure):
    _fields_ = [("struct_size", c_uint32), ("abi_version", c_uint32), ("user", c_void_p),
                ("on_event", rs_on_event_fn), ("on_error", rs_on_error_fn), ("on_log", rs_on_log_fn)]


class rs_sidecar_options(Structure):
    _fields_ = [("struct_size", c_uint32), ("check", c_uint32), ("command_ring", c_uint32), ("event_ring", c_uint32),
                ("delivery", c_enum), ("max_event_bytes", c_uint32), ("batch", c_uint32), ("reserved0", c_uint32),
                ("processor", rs_process_fn), ("processor_user", c_void_p), ("command_wait", rs_wait_strategy),
                ("event_wait", rs_wait_strategy), ("policy", c_enum), ("priority", c_int32), ("nice", c_int32),
                ("on_refused", c_enum), ("cpu_mask", c_uint64 * RS_CPU_MASK_WORDS), ("thread_name", c_char * 16),
                ("start_timeout_ms", c_uint32), ("reserved1", c_uint32)]


class rs_sidecar_sched(Structure):
    _fields_ = [("struct_size", c_uint32), ("tid", c_int32), ("requested_policy", c_enum),
                ("requested_priority", c_int32), ("requested_nice", c_int32), ("granted_policy", c_enum),
                ("granted_os_policy", c_int32), ("granted_priority", c_int32), ("granted_nice", c_int32),
                ("downgraded", c_int32), ("refused_errno", c_int32), ("granted_cpu_count", c_uint32),
                ("requested_cpu_mask", c_uint64 * RS_CPU_MASK_WORDS),
                ("granted_cpu_mask", c_uint64 * RS_CPU_MASK_WORDS), ("thread_name", c_char * 16),
                ("refused", c_char * 96)]


class rs_sidecar_stats(Structure):
    _fields_ = [("struct_size", c_uint32), ("state", c_enum), ("commands_processed", c_uint64),
                ("events_emitted", c_uint64), ("events_dropped", c_uint64), ("commands_discarded", c_uint64),
                ("processor_errors", c_uint64), ("parks", c_uint64), ("last_error", c_enum), ("reserved", c_int32)]


STRUCTS = (rs_region_options, rs_region_info, rs_record, rs_wait_strategy, rs_host_vtable, rs_sidecar_options,
           rs_sidecar_sched, rs_sidecar_stats)

_P = POINTER
_OUT_HANDLE = _P(c_void_p)
_OUT_STRING = _P(c_void_p)  # char **: freed with rs_string_free

# name: (restype, argtypes). Every function the headers declare, nothing else.
PROTOTYPES = {
    # results, errors, versions, library-owned memory
    "rs_result_name": (c_char_p, [c_enum]),
    "rs_last_error_message": (c_char_p, []),
    "rs_last_error_code": (c_enum, []),
    "rs_clear_error": (None, []),
    "rs_version_string": (c_char_p, []),
    "rs_layout_version": (None, [_P(c_uint16), _P(c_uint16)]),
    "rs_debug_allocation_count": (c_int64, []),
    "rs_string_free": (None, [c_void_p]),
    "rs_buffer_free": (None, [c_void_p]),
    # regions
    "rs_region_options_init": (None, [_P(rs_region_options)]),
    "rs_region_create": (c_enum, [c_char_p, _P(rs_region_options), _OUT_HANDLE]),
    "rs_region_open": (c_enum, [c_char_p, _P(rs_region_options), _OUT_HANDLE]),
    "rs_region_destroy": (c_enum, [c_void_p]),
    "rs_region_unlink": (c_enum, [c_char_p, c_enum]),
    "rs_region_flush": (c_enum, [c_void_p]),
    "rs_region_stats_json": (c_enum, [c_void_p, _OUT_STRING]),
    "rs_region_ring_stats_json": (c_enum, [c_void_p, c_uint32, _OUT_STRING]),
    "rs_region_get_info": (c_enum, [c_void_p, _P(rs_region_info)]),
    # rings
    "rs_ring_create": (c_enum, [c_void_p, c_uint32, c_enum, _OUT_HANDLE]),
    "rs_ring_destroy": (c_enum, [c_void_p]),
    "rs_ring_reserve": (c_enum, [c_void_p, c_size_t, _P(c_void_p)]),
    "rs_ring_commit": (c_enum, [c_void_p]),
    "rs_ring_write": (c_enum, [c_void_p, c_void_p, c_size_t]),
    "rs_ring_peek": (c_enum, [c_void_p, _P(rs_record)]),
    "rs_ring_peek_batch": (c_enum, [c_void_p, _P(rs_record), c_size_t, _P(c_size_t)]),
    "rs_ring_release": (c_enum, [c_void_p]),
    "rs_ring_read": (c_enum, [c_void_p, c_void_p, c_size_t, _P(c_size_t)]),
    "rs_ring_read_alloc": (c_enum, [c_void_p, _P(c_void_p), _P(c_size_t)]),
    "rs_ring_stats_json": (c_enum, [c_void_p, _OUT_STRING]),
    # waits
    "rs_wait_strategy_init": (None, [_P(rs_wait_strategy), c_enum]),
    "rs_wait_kind_name": (c_char_p, [c_enum]),
    "rs_ring_set_wait_strategy": (c_enum, [c_void_p, _P(rs_wait_strategy)]),
    "rs_ring_wait_readable": (c_enum, [c_void_p, c_uint64]),
    "rs_ring_write_wait": (c_enum, [c_void_p, c_void_p, c_size_t, c_uint64]),
    "rs_ring_reserve_wait": (c_enum, [c_void_p, c_size_t, _P(c_void_p), c_uint64]),
    "rs_ring_wait_arm": (c_enum, [c_void_p, c_size_t]),
    "rs_ring_wait_disarm": (c_enum, [c_void_p]),
    "rs_eventfd_create": (c_enum, [_P(c_int)]),
    "rs_fd_send": (c_enum, [c_int, c_int]),
    "rs_fd_receive": (c_enum, [c_int, _P(c_int), c_uint64]),
    # v-table, processors, sidecar
    "rs_host_vtable_check": (c_enum, [_P(rs_host_vtable)]),
    "rs_host_dispatch_events": (c_enum, [c_void_p, _P(rs_host_vtable), c_uint32, c_uint64, _P(c_uint32)]),
    "rs_processor_echo": (c_int32, [c_void_p, c_size_t, c_void_p, c_size_t, _P(c_size_t), c_void_p]),
    "rs_processor_timestamp": (c_int32, [c_void_p, c_size_t, c_void_p, c_size_t, _P(c_size_t), c_void_p]),
    "rs_sidecar_state_name": (c_char_p, [c_enum]),
    "rs_sidecar_options_init": (None, [_P(rs_sidecar_options)]),
    "rs_sidecar_create": (c_enum, [c_void_p, _P(rs_sidecar_options), _OUT_HANDLE]),
    "rs_sidecar_start": (c_enum, [c_void_p, _P(rs_host_vtable)]),
    "rs_sidecar_stop": (c_enum, [c_void_p, c_enum, c_uint64]),
    "rs_sidecar_destroy": (c_enum, [c_void_p]),
    "rs_sidecar_get_sched": (c_enum, [c_void_p, _P(rs_sidecar_sched)]),
    "rs_sidecar_get_stats": (c_enum, [c_void_p, _P(rs_sidecar_stats)]),
    "rs_sidecar_last_error_message": (c_enum, [c_void_p, c_char_p, c_size_t]),
    "rs_sidecar_stats_json": (c_enum, [c_void_p, _OUT_STRING]),
}


# ---- tracer.h (arrived after this binding): declared and layout-checked only ----
# The group is active when the loaded library exports it (all of it, or it is
# drift); the drift tests also require it to match tracer.h whenever that
# header exists. No Python classes wrap it yet.

class TracerPolicy(enum.IntEnum):
    DROP_NEWEST = 1
    OVERWRITE_OLDEST = 2
    WAIT = 3


class TracerClock(enum.IntEnum):
    TSC = 1
    MONOTONIC = 2


RS_TRACER_MAX_EVENT_ID = 0xFFFFFEFF


class rs_tracer_options(Structure):
    _fields_ = [("struct_size", c_uint32), ("check", c_uint32), ("backing", c_enum), ("lane_count", c_uint32),
                ("rings_per_lane", c_uint32), ("mode", c_uint32), ("ring_capacity", c_uint64),
                ("sink_dir", c_char_p), ("clock", c_enum), ("liveness_interval_ms", c_uint32),
                ("open_existing", c_int32), ("keep_on_destroy", c_int32), ("prefault", c_int32),
                ("sync_on_flush", c_int32)]


class rs_tracer_agent_options(Structure):
    _fields_ = [("struct_size", c_uint32), ("check", c_uint32), ("backing", c_enum), ("policy", c_enum),
                ("wait_timeout_ns", c_uint64), ("lane", c_int32), ("prefault", c_int32)]


_TRACER_PROTOTYPES = {
    "rs_tracer_options_init": (None, [_P(rs_tracer_options)]),
    "rs_tracer_controller_create": (c_enum, [c_char_p, _P(rs_tracer_options), _OUT_HANDLE]),
    "rs_tracer_controller_start": (c_enum, [c_void_p]),
    "rs_tracer_controller_stop": (c_enum, [c_void_p, c_uint64]),
    "rs_tracer_controller_flush": (c_enum, [c_void_p, c_uint64]),
    "rs_tracer_controller_poll": (c_enum, [c_void_p, _P(c_uint32)]),
    "rs_tracer_controller_destroy": (c_enum, [c_void_p]),
    "rs_tracer_controller_stats_json": (c_enum, [c_void_p, _OUT_STRING]),
    "rs_tracer_inspect_json": (c_enum, [c_char_p, c_enum, _OUT_STRING]),
    "rs_tracer_agent_options_init": (None, [_P(rs_tracer_agent_options)]),
    "rs_tracer_open": (c_enum, [c_char_p, _P(rs_tracer_agent_options), _OUT_HANDLE]),
    "rs_tracer_close": (c_enum, [c_void_p]),
    "rs_tracer_emit": (c_enum, [c_void_p, c_uint32, c_void_p, c_size_t]),
    "rs_tracer_reserve": (c_enum, [c_void_p, c_uint32, c_size_t, _P(c_void_p)]),
    "rs_tracer_commit": (c_enum, [c_void_p]),
    "rs_tracer_mark": (c_enum, [c_void_p]),
    "rs_tracer_flush": (c_enum, [c_void_p]),
    "rs_tracer_max_payload": (c_enum, [c_void_p, _P(c_size_t)]),
    "rs_tracer_agent_lane": (c_enum, [c_void_p, _P(c_uint32)]),
    "rs_tracer_agent_stats_json": (c_enum, [c_void_p, _OUT_STRING]),
}

# Optional groups, by header: what the binding mirrors of it.
OPTIONAL_GROUPS = {
    "tracer.h": {"prototypes": _TRACER_PROTOTYPES, "structs": (rs_tracer_options, rs_tracer_agent_options),
                 "enums": {TracerPolicy: "RS_TRACER_", TracerClock: "RS_TRACER_CLOCK_"},
                 "defines": ("RS_TRACER_MAX_EVENT_ID",)},
}
CORE_HEADERS = ("ringside.h", "sidecar.h")


def active_groups(lib):
    """The optional groups the loaded library exports (AttributeError if it exports only part of one)."""
    active = []
    for header, group in OPTIONAL_GROUPS.items():
        present = [name for name in group["prototypes"] if hasattr(lib, name)]
        if present and len(present) != len(group["prototypes"]):
            missing = sorted(set(group["prototypes"]) - set(present))
            raise AttributeError(f"ringside: the library exports part of {header}'s API but not {missing}")
        if present:
            active.append(header)
    return active


def declare(lib):
    """Sets restype/argtypes of every prototype on `lib` (AttributeError names a missing symbol)."""
    prototypes = dict(PROTOTYPES)
    for header in active_groups(lib):
        prototypes.update(OPTIONAL_GROUPS[header]["prototypes"])
    for name, (restype, argtypes) in prototypes.items():
        try:
            function = getattr(lib, name)
        except AttributeError:
            raise AttributeError(f"ringside: the loaded library has no {name}: it is older than this binding") from None
        function.restype = restype
        function.argtypes = argtypes
