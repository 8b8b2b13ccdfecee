/*
 * tracer.h - the tracer: agents inside a traced process write events at full
 * speed into per-thread lanes of a shared-memory region; a controller (a
 * separate process, ringside-tracer-controller, or a thread of any process)
 * stores them in per-lane files that ringside-trace-read decodes.
 *
 *   agent thread --emit--> [lane: active index ring + active detail ring]
 *        |                        | full: submit_q             ^ free_q
 *        |                        v                            |
 *        +--- mark/flush     controller drain thread --> lane-NNNN.rstrace / .rstidx
 *
 * Every rule at the top of ringside.h holds here too (results, per-thread
 * last error, ownership, generation-checked handles). In addition:
 *  - Lanes: one per producing thread. An agent handle is one lane and is
 *    used by one thread at a time (its single writer). rs_tracer_close may
 *    run on another thread once that thread no longer emits.
 *  - Each event gets a per-lane sequence number, a timestamp (TSC ticks, or
 *    CLOCK_MONOTONIC ns when the TSC is not invariant; readers convert to
 *    ns), a 24-byte record in the lane's index ring and, if it has a
 *    payload, a record in the detail ring. Index rings are always dumped;
 *    a detail ring is dumped only if rs_tracer_mark was called while it was
 *    active (flight recorder): an unmarked full detail ring is reused at once.
 *  - Hot path (emit, reserve/commit): no lock, no allocation, no system
 *    call. A ring switch may wake the controller (one futex call per ring at
 *    most) and, with RS_TRACER_WAIT, may wait for a spare ring.
 *  - Drops are expected outcomes, not failures: emit and reserve return
 *    RS_FULL, set no last error, count the drop by cause in the lane's
 *    metrics and leave a gap record in the trace, so readers can explain
 *    every hole in the sequence.
 *  - Signals: a handler that interrupts emit/reserve/commit/mark on a lane
 *    and emits on the same lane gets RS_FULL (a "reentrant" drop, counted,
 *    no sequence number) instead of corrupting the lane; that path makes no
 *    system call and takes no lock, so emit is async-signal-safe. Failure
 *    paths (invalid arguments) format an error message and are not.
 *  - Timeouts are relative, in nanoseconds (RS_WAIT_FOREVER from sidecar.h
 *    waits without a deadline).
 */
#ifndef RINGSIDE_TRACER_H
#define RINGSIDE_TRACER_H

#include <stddef.h>
#include <stdint.h>

#include "ringside/ringside.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct rs_tracer_agent rs_tracer_agent_t;
typedef struct rs_tracer_controller rs_tracer_controller_t;

/* Event ids above this are reserved for the tracer's own records (gaps, marks). */
#define RS_TRACER_MAX_EVENT_ID 0xFFFFFEFFu

typedef enum rs_tracer_policy {
    RS_TRACER_DROP_NEWEST = 1,      /* no spare ring: drop the new event (never blocks; default) */
    RS_TRACER_OVERWRITE_OLDEST = 2, /* no spare ring: reuse the full, not yet submitted ring (its events are lost) */
    RS_TRACER_WAIT = 3              /* no spare ring: wait up to wait_timeout_ns, then drop */
} rs_tracer_policy;

typedef enum rs_tracer_clock {
    RS_TRACER_CLOCK_TSC = 1,      /* rdtsc, calibrated by the controller (default where invariant) */
    RS_TRACER_CLOCK_MONOTONIC = 2 /* clock_gettime(CLOCK_MONOTONIC) through the vDSO */
} rs_tracer_clock;

/* ------------------------------------------------------------------------ */
/* Controller                                                                */

typedef struct rs_tracer_options {
    uint32_t struct_size;          /* stamped by rs_tracer_options_init */
    uint32_t check;                /* stamped by rs_tracer_options_init */
    rs_backing backing;            /* default RS_BACKING_SHM; RS_BACKING_FILE survives crashes of both sides */
    uint32_t lane_count;           /* 1..256; default 4 (create only) */
    uint32_t rings_per_lane;       /* 2..256; default 16 (create only) */
    uint32_t mode;                 /* permission bits; default 0600 (create only) */
    uint64_t ring_capacity;        /* bytes per ring, power of two, 4 KiB..1 GiB; default 1 MiB (create only) */
    const char *sink_dir;          /* required: where lane files go (created if missing); copied */
    rs_tracer_clock clock;         /* default RS_TRACER_CLOCK_TSC (create only) */
    uint32_t liveness_interval_ms; /* how often agents are checked for death; default 50, 1..60000 */
    int32_t open_existing;         /* 1: open an existing region and recover it (after a crash) instead of creating one */
    int32_t keep_on_destroy;       /* 1: a creating controller leaves the name on destroy; default 0 */
    int32_t prefault;              /* touch every page at creation; default 1 */
    int32_t sync_on_flush;         /* fdatasync the lane files on flush and stop; default 1 */
} rs_tracer_options;

/* Fills defaults and stamps size and check value. sink_dir stays NULL. */
RS_API void rs_tracer_options_init(rs_tracer_options *options);

/* Creates the tracer region `name` (a POSIX shm name or a file path, rules
 * as rs_region_create) and its lanes, or with open_existing opens one left
 * by a crashed controller or agent and takes over its rings. At most one
 * controller serves a region: RS_BUSY while another live one holds it.
 * RS_ERR_EXISTS if the region exists (create) or sink_dir holds another
 * region's trace (reported when the first block is written, in stats).
 * *out is freed with rs_tracer_controller_destroy. */
RS_API rs_result rs_tracer_controller_create(const char *name, const rs_tracer_options *options,
                                             rs_tracer_controller_t **out);

/* Runs the controller: starts its drain thread ("rs-tracer"), which sleeps
 * on a futex word in the region until an agent submits a ring. RS_BUSY if
 * running. Any thread. */
RS_API rs_result rs_tracer_controller_start(rs_tracer_controller_t *controller);

/* Stops the drain thread (if running), then flushes as
 * rs_tracer_controller_flush does (idle agents included), recovers the rings
 * of dead agents, and syncs and closes the lane files. RS_TIMEOUT as for
 * flush (the lane's events stay in the region for the next controller).
 * Any thread. */
RS_API rs_result rs_tracer_controller_stop(rs_tracer_controller_t *controller, uint64_t timeout_ns);

/* Flush on demand: drains now, asks every live agent to submit its partial
 * rings (an agent acts on it at its next emit, reserve, flush or close),
 * waits at most 2 ms (or timeout_ns if smaller) for them, then dumps itself
 * the committed part of the active index window, and of the active detail
 * window if it is marked, of every agent that did not answer (an idle one),
 * then syncs the lane files (sync_on_flush). On RS_OK every index record
 * committed before the call is in the lane files, with the payloads of
 * marked detail windows and every window submitted before the call
 * (docs/tracer.md, "Flush on demand and on stop"). RS_TIMEOUT if a lane
 * could not be read that way within timeout_ns (an agent that holds its
 * lane's reuse lock and never releases it: a stuck or hostile one). Any
 * thread. */
RS_API rs_result rs_tracer_controller_flush(rs_tracer_controller_t *controller, uint64_t timeout_ns);

/* One drain pass and liveness check on the calling thread, for a controller
 * that was not started (embedding, tests). *work (may be NULL) receives the
 * rings taken back. RS_BUSY while the drain thread runs. */
RS_API rs_result rs_tracer_controller_poll(rs_tracer_controller_t *controller, uint32_t *work);

/* Frees the controller; a creating one also unlinks the region unless
 * keep_on_destroy. RS_BUSY (nothing changes) while it runs. */
RS_API rs_result rs_tracer_controller_destroy(rs_tracer_controller_t *controller);

/* Region, per-lane metrics (events, bytes, rings submitted, detail windows
 * kept and recycled, drops by cause, free_q empty, wake-ups, dump bytes and
 * latency, violations by kind) and the controller's counters as JSON;
 * *out_json is freed with rs_string_free. Any thread. */
RS_API rs_result rs_tracer_controller_stats_json(rs_tracer_controller_t *controller, char **out_json);

/* The same metrics read from a region by name, without claiming anything
 * (the inspector's view; maps the region read-only). Freed with rs_string_free. */
RS_API rs_result rs_tracer_inspect_json(const char *name, rs_backing backing, char **out_json);

/* ------------------------------------------------------------------------ */
/* Agent                                                                     */

typedef struct rs_tracer_agent_options {
    uint32_t struct_size;    /* stamped by rs_tracer_agent_options_init */
    uint32_t check;          /* stamped by rs_tracer_agent_options_init */
    rs_backing backing;      /* default RS_BACKING_SHM */
    rs_tracer_policy policy; /* default RS_TRACER_DROP_NEWEST */
    uint64_t wait_timeout_ns; /* RS_TRACER_WAIT: longest wait for a spare ring; default 1000000 (1 ms) */
    int32_t lane;            /* -1 (default): the first free lane; otherwise that lane */
    int32_t prefault;        /* map the lane's pages at open; default 1 */
} rs_tracer_agent_options;

RS_API void rs_tracer_agent_options_init(rs_tracer_agent_options *options);

/* Opens the tracer region `name` and claims a lane for the calling thread.
 * RS_ERR_NOT_FOUND if no controller created it; RS_BUSY if every lane (or
 * the requested one) is in use. `options` may be NULL. *out is freed with
 * rs_tracer_close. */
RS_API rs_result rs_tracer_open(const char *name, const rs_tracer_agent_options *options,
                                rs_tracer_agent_t **out);

/* Hands every ring back (partial index rings and marked detail rings to be
 * dumped), marks the lane closed for the controller and frees the handle.
 * Not while a reservation is pending. */
RS_API rs_result rs_tracer_close(rs_tracer_agent_t *agent);

/* Records one event: copies `length` bytes of `data` (caller-owned) as its
 * payload. RS_OK, or RS_FULL when it was dropped (counted, see the policy);
 * RS_ERR_TOO_LARGE if `length` exceeds rs_tracer_max_payload;
 * RS_ERR_INVALID_ARGUMENT for an event id above RS_TRACER_MAX_EVENT_ID. */
RS_API rs_result rs_tracer_emit(rs_tracer_agent_t *agent, uint32_t event_id, const void *data, size_t length);

/* Zero copy: reserves an event and returns in *out_data where to write its
 * `length` payload bytes, inside shared memory, valid until rs_tracer_commit.
 * RS_FULL when the event was dropped (*out_data NULL, no commit needed). */
RS_API rs_result rs_tracer_reserve(rs_tracer_agent_t *agent, uint32_t event_id, size_t length, void **out_data);
/* Publishes the reserved event. RS_ERR_INVALID_ARGUMENT without a reservation. */
RS_API rs_result rs_tracer_commit(rs_tracer_agent_t *agent);

/* Something interesting happened: keep the current detail window (it is
 * dumped when full instead of being reused), and record a mark in the trace. */
RS_API rs_result rs_tracer_mark(rs_tracer_agent_t *agent);

/* Submits the partially filled index ring (and a marked detail ring) now. */
RS_API rs_result rs_tracer_flush(rs_tracer_agent_t *agent);

/* The largest payload an event may carry (half a ring, less 16 bytes). */
RS_API rs_result rs_tracer_max_payload(rs_tracer_agent_t *agent, size_t *out_bytes);
/* The lane this agent writes. */
RS_API rs_result rs_tracer_agent_lane(rs_tracer_agent_t *agent, uint32_t *out_lane);

/* This agent's lane metrics as JSON (same fields as one entry of the
 * controller's "lanes"); freed with rs_string_free. The lane's thread. */
RS_API rs_result rs_tracer_agent_stats_json(rs_tracer_agent_t *agent, char **out_json);

#ifdef __cplusplus
}
#endif

#endif /* RINGSIDE_TRACER_H */
