/*
 * ringside.h - the C API of ringside: shared-memory regions and zero-copy
 * SPSC rings behind opaque handles.
 *
 * Rules that hold for every function unless its comment says otherwise:
 *  - Result: functions return rs_result. Values >= 0 are expected outcomes
 *    (RS_OK, RS_FULL, RS_EMPTY, RS_TIMEOUT, RS_BUSY); values < 0 are failures
 *    and set the calling thread's last error (rs_last_error_message()).
 *  - Ownership: the caller owns every input; the library copies every string
 *    and option it is given and never keeps a caller's pointer. Outputs the
 *    library allocates are freed with the free function named in the comment
 *    (rs_string_free, rs_buffer_free); nothing else is ever freed by the
 *    caller.
 *  - Handles are opaque. A NULL, foreign or destroyed handle gives
 *    RS_ERR_INVALID_ARGUMENT, never a crash: handles are generation-checked
 *    slots, so detection of use-after-destroy is reliable until 2^32 handles
 *    of the same kind have been created in the process (best effort beyond).
 *  - Threads: a region handle may be used from any thread; a ring handle by
 *    one thread at a time (it is one side of a single-producer
 *    single-consumer ring). Errors are per thread.
 */
#ifndef RINGSIDE_RINGSIDE_H
#define RINGSIDE_RINGSIDE_H

#include <stddef.h>
#include <stdint.h>

#if defined(RINGSIDE_STATIC_DEFINE)
#define RS_API
#elif defined(__GNUC__)
#define RS_API __attribute__((visibility("default")))
#else
#define RS_API
#endif

/* Enums are int-sized in C, and have int as their fixed underlying type in
 * C++, so any int a C caller stores in one is a valid value for the library
 * too: an out-of-range value is rejected with an error, never undefined
 * behaviour. */
#ifdef __cplusplus
#define RS_ENUM_INT : int
#else
#define RS_ENUM_INT
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------------ */
/* Results and errors                                                        */

typedef enum rs_result RS_ENUM_INT {
    RS_OK = 0,
    RS_FULL = 1,    /* no room now: retry after the consumer releases */
    RS_EMPTY = 2,   /* nothing to read now */
    RS_TIMEOUT = 3, /* a bounded wait ran out */
    RS_BUSY = 4,    /* the object is still in use (e.g. a region with rings attached) */

    RS_ERR_INVALID_ARGUMENT = -1,
    RS_ERR_TOO_LARGE = -2,        /* can never fit (record larger than the ring allows) */
    RS_ERR_TOO_SMALL = -3,        /* caller's buffer too small: the needed size was written */
    RS_ERR_NOT_FOUND = -4,
    RS_ERR_EXISTS = -5,
    RS_ERR_VERSION_MISMATCH = -6,
    RS_ERR_CORRUPT = -7,          /* shared memory holds something impossible */
    RS_ERR_PERMISSION = -8,
    RS_ERR_CLOSED = -9,           /* the other side or the object is gone */
    RS_ERR_NO_MEMORY = -10,
    RS_ERR_INTERNAL = -11
} rs_result;

/* The enum's name as a static string ("RS_FULL"); never NULL. Any thread. */
RS_API const char *rs_result_name(rs_result result);

/* The calling thread's last error message. Borrowed: valid until the next
 * rs_ call on this thread; never free it. "" when there is none. */
RS_API const char *rs_last_error_message(void);
/* The calling thread's last failure code, RS_OK when there is none. */
RS_API rs_result rs_last_error_code(void);
/* Forgets the calling thread's last error. */
RS_API void rs_clear_error(void);

/* The library version ("0.1.0"), static. */
RS_API const char *rs_version_string(void);
/* The shared layout version this build writes and accepts. */
RS_API void rs_layout_version(uint16_t *major, uint16_t *minor);

/* Live heap allocations made by the library in this process (counted at
 * every allocation point of the library). For leak tests. Any thread. */
RS_API int64_t rs_debug_allocation_count(void);

/* Frees a string the library allocated (e.g. *_stats_json). NULL is fine. */
RS_API void rs_string_free(char *text);
/* Frees a buffer the library allocated (rs_ring_read_alloc). NULL is fine. */
RS_API void rs_buffer_free(void *buffer);

/* ------------------------------------------------------------------------ */
/* Regions                                                                   */

typedef struct rs_region rs_region_t;

typedef enum rs_backing RS_ENUM_INT {
    RS_BACKING_SHM = 1, /* named POSIX shared memory (shm_open): RAM only */
    RS_BACKING_FILE = 2 /* a regular file mapped MAP_SHARED: survives crashes */
} rs_backing;

typedef struct rs_region_options {
    uint32_t struct_size; /* stamped by rs_region_options_init */
    uint32_t check;       /* stamped by rs_region_options_init */
    rs_backing backing;   /* default RS_BACKING_SHM */
    uint32_t ring_count;  /* rings in the region, 1..1024; default 1 (create only) */
    uint64_t ring_capacity; /* data bytes per ring, power of two, 4 KiB..1 GiB; default 1 MiB (create only) */
    uint32_t record_align;  /* power of two, 8..4096, at most ring_capacity/4; default 8 (create only) */
    uint32_t mode;          /* permission bits; default 0600 (create only) */
    int32_t keep_on_destroy; /* creator keeps the name on destroy; default 0 (unlinks) */
    int32_t prefault;        /* touch every page at create/open; default 1 */
    int32_t lock_memory;     /* mlock the mapping; default 0 (needs RLIMIT_MEMLOCK) */
    int32_t huge_pages;      /* madvise(MADV_HUGEPAGE), best effort; default 0 */
    uint32_t flush_interval_ms; /* file backing: msync every N ms from a library thread; default 0 = off */
} rs_region_options;

/* Fills defaults and stamps size and check value. */
RS_API void rs_region_options_init(rs_region_options *options);

/* Creates a new region. For RS_BACKING_SHM `name` is a POSIX shm name: one
 * leading '/', no other '/', at most 250 bytes, UTF-8. For RS_BACKING_FILE it
 * is a file path; the file must not exist (O_CREAT|O_EXCL, O_NOFOLLOW).
 * RS_ERR_EXISTS if it does. `options` may be NULL for defaults. The caller
 * owns `name` and `options`; *out is freed with rs_region_destroy. */
RS_API rs_result rs_region_create(const char *name, const rs_region_options *options, rs_region_t **out);

/* Opens an existing region created by another handle or process, validating
 * its header against the real mapping (RS_ERR_CORRUPT) and its layout major
 * version (RS_ERR_VERSION_MISMATCH naming both). Only backing, prefault,
 * lock_memory, huge_pages and flush_interval_ms of `options` are used.
 * RS_ERR_NOT_FOUND if absent; RS_BUSY if the creator has not finished.
 * *out is freed with rs_region_destroy. */
RS_API rs_result rs_region_open(const char *name, const rs_region_options *options, rs_region_t **out);

/* Unmaps the region; the creator also unlinks its name unless
 * keep_on_destroy. RS_BUSY (and nothing changes) while rings created on it
 * are alive. The handle is invalid after RS_OK. */
RS_API rs_result rs_region_destroy(rs_region_t *region);

/* Removes a region's name (shm) or file, e.g. after a crash. Mappings that
 * are open stay valid. RS_ERR_NOT_FOUND if absent. */
RS_API rs_result rs_region_unlink(const char *name, rs_backing backing);

/* File backing: msync(MS_SYNC) the whole mapping, so it survives power loss.
 * A no-op returning RS_OK for shm. */
RS_API rs_result rs_region_flush(rs_region_t *region);

/* Header and live state as JSON text. *out_json is allocated by the library
 * and freed with rs_string_free. */
RS_API rs_result rs_region_stats_json(rs_region_t *region, char **out_json);

typedef struct rs_region_info {
    uint32_t struct_size;   /* set by the caller to sizeof(rs_region_info) */
    uint16_t layout_major;
    uint16_t layout_minor;
    uint64_t total_bytes;
    uint64_t ring_capacity;
    uint64_t max_payload;   /* largest record payload a ring accepts */
    uint32_t ring_count;
    uint32_t record_align;
    rs_backing backing;
    int32_t creator_pid;
    int32_t creator_alive;  /* 1 alive, 0 dead (pid gone or reused) */
    int32_t is_creator;     /* 1 if this handle created the region */
    uint64_t epoch;
    int32_t prefaulted;     /* what was actually granted */
    int32_t memory_locked;
    int32_t huge_pages;
    int32_t reserved;
} rs_region_info;

/* One ring's positions, fill level, counters and role holders as JSON,
 * read without attaching (for inspectors and monitors); freed with
 * rs_string_free. A snapshot: the sides keep running. */
RS_API rs_result rs_region_ring_stats_json(rs_region_t *region, uint32_t index, char **out_json);

/* Fills *info (the caller sets info->struct_size first). */
RS_API rs_result rs_region_get_info(rs_region_t *region, rs_region_info *info);

/* ------------------------------------------------------------------------ */
/* Rings                                                                     */

typedef struct rs_ring rs_ring_t;

typedef enum rs_role RS_ENUM_INT { RS_ROLE_PRODUCER = 1, RS_ROLE_CONSUMER = 2 } rs_role;

/* Attaches one side of ring `index` of `region`. At most one producer and
 * one consumer per ring across all processes: RS_BUSY if the role is held by
 * a live owner (a dead owner's claim is taken over). A producer recovers its
 * position from committed records; a consumer resumes at the persisted read
 * position. *out is freed with rs_ring_destroy; the region stays alive
 * (rs_region_destroy returns RS_BUSY) until then. */
RS_API rs_result rs_ring_create(rs_region_t *region, uint32_t index, rs_role role, rs_ring_t **out);

/* Detaches and frees the handle. Uncommitted reservations are discarded;
 * peeked but unreleased records stay in the ring for the next consumer. */
RS_API rs_result rs_ring_destroy(rs_ring_t *ring);

/* Producer: reserves `length` payload bytes and returns in *out_data a
 * writable pointer inside shared memory, valid until the next commit.
 * RS_FULL if there is no room now; RS_ERR_TOO_LARGE if it can never fit
 * (see rs_region_info.max_payload). Several reservations may precede one
 * commit. Library-owned memory: never freed by the caller. */
RS_API rs_result rs_ring_reserve(rs_ring_t *ring, size_t length, void **out_data);
/* Producer: publishes every reservation since the last commit at once. */
RS_API rs_result rs_ring_commit(rs_ring_t *ring);
/* Producer: copies `length` bytes from `data` (caller-owned) into one record
 * and commits it (with any earlier reservations). */
RS_API rs_result rs_ring_write(rs_ring_t *ring, const void *data, size_t length);

typedef struct rs_record {
    const void *data; /* inside shared memory: valid until rs_ring_release */
    size_t length;
} rs_record;

/* Consumer: the oldest unreleased record in place (the same one until
 * released). RS_EMPTY if none. *out points into library-owned memory. */
RS_API rs_result rs_ring_peek(rs_ring_t *ring, rs_record *out);
/* Consumer: up to `max` oldest records into out[0..*count). */
RS_API rs_result rs_ring_peek_batch(rs_ring_t *ring, rs_record *out, size_t max, size_t *count);
/* Consumer: releases everything the last peek returned, with one store. */
RS_API rs_result rs_ring_release(rs_ring_t *ring);
/* Consumer: copies the oldest record into the caller's buffer and releases
 * it. Size query: with buffer NULL or capacity too small it returns
 * RS_ERR_TOO_SMALL, writes the needed size into *length and keeps the record. */
RS_API rs_result rs_ring_read(rs_ring_t *ring, void *buffer, size_t capacity, size_t *length);
/* Consumer: copies the oldest record into a buffer the library allocates
 * (freed with rs_buffer_free) and releases it. */
RS_API rs_result rs_ring_read_alloc(rs_ring_t *ring, void **out_buffer, size_t *length);

/* Positions, fill level and counters as JSON; freed with rs_string_free.
 * Reads the other side's fields, so values are a snapshot. */
RS_API rs_result rs_ring_stats_json(rs_ring_t *ring, char **out_json);

#ifdef __cplusplus
}
#endif

#endif /* RINGSIDE_RINGSIDE_H */

#include "ringside/sidecar.h" /* wait strategies, the sidecar worker, the host v-table */
#include "ringside/tracer.h"  /* the tracer: agents, lanes, ring pools, the controller */
