/*
 * sidecar.h - wait strategies, the sidecar worker and the host v-table:
 * the part of ringside's C API that waits and calls back.
 *
 *   host thread --rs_ring_write--> [command ring] --> sidecar thread --processor-->
 *        ^                                                                 |
 *        +--- v-table on_event (in process) / [event ring] (any process) --+
 *
 * Every rule at the top of ringside.h holds here too (results, per-thread
 * last error, ownership, generation-checked handles). In addition:
 *  - Timeouts are relative, in nanoseconds. 0 tries once without waiting;
 *    RS_WAIT_FOREVER waits without a deadline (avoid it in tests). A wait
 *    that runs out returns RS_TIMEOUT, never a failure.
 *  - Callbacks (processor, v-table) receive their user context pointer LAST.
 *    Data passed to a callback is valid only during the call.
 *  - File descriptors passed in (eventfds) are duplicated by the library,
 *    which closes its copies when the owning handle is destroyed or
 *    reconfigured; the caller keeps and closes its own.
 *
 * The park/wake protocol (src/wait/park.hpp has the full text): a waiter
 * announces itself in the ring's waiter count, re-checks the ring, and only
 * then sleeps on the ring's sequence word (futex) or on an eventfd. A side
 * that publishes (commit, release) wakes the other side only if its waiter
 * count is non-zero, so a producer never enters the kernel unless a consumer
 * is parked. No wake-up is lost.
 */
#ifndef RINGSIDE_SIDECAR_H
#define RINGSIDE_SIDECAR_H

#include <stddef.h>
#include <stdint.h>

#include "ringside/ringside.h"

#ifdef __cplusplus
extern "C" {
#endif

#define RS_WAIT_FOREVER UINT64_MAX

/* ------------------------------------------------------------------------ */
/* Wait strategies                                                           */

typedef enum rs_wait_kind RS_ENUM_INT {
    RS_WAIT_BUSY_SPIN = 1,  /* re-check in a tight loop: lowest latency, burns a core */
    RS_WAIT_SPIN_PAUSE = 2, /* re-check with the CPU's pause hint between tries */
    RS_WAIT_YIELD = 3,      /* sched_yield() between tries */
    RS_WAIT_SLEEP = 4,      /* nanosleep(sleep_ns) between tries */
    RS_WAIT_FUTEX = 5,      /* park on the ring's futex word (shared: works across processes) */
    RS_WAIT_EVENTFD = 6,    /* park on an eventfd (in process, inherited or passed with rs_fd_send) */
    RS_WAIT_HYBRID = 7      /* spin with pause spin_limit times, then park on the futex */
} rs_wait_kind;

/* How one side of a ring waits, and how it wakes the other side.
 * Cross-process rule: each side must be told its peer's strategy class:
 * peer_may_park = 0 only when the peer uses BUSY_SPIN, SPIN_PAUSE, YIELD or
 * SLEEP (it never parks, so publishing skips the fence and the waiter check);
 * peer_eventfd >= 0 when the peer parks on that eventfd. A wrong
 * peer_may_park = 0 makes a parked peer sleep until its own deadline. */
typedef struct rs_wait_strategy {
    uint32_t struct_size;    /* stamped by rs_wait_strategy_init */
    uint32_t check;          /* stamped by rs_wait_strategy_init */
    rs_wait_kind kind;       /* default RS_WAIT_HYBRID */
    uint32_t spin_limit;     /* HYBRID: pause-spins before parking; default 4096 */
    uint64_t sleep_ns;       /* SLEEP: each nap; default 1000000 (1 ms); 1..1e9 */
    int32_t peer_may_park;   /* 1 (default): after publishing, wake a parked peer */
    int32_t eventfd;         /* EVENTFD: the eventfd this side parks on; default -1 */
    int32_t peer_eventfd;    /* eventfd the peer parks on (written to wake it); -1 (default): the peer parks on the futex */
    int32_t reserved;        /* zero */
} rs_wait_strategy;

/* Fills defaults for `kind` (peer_may_park 1, no eventfds) and stamps size
 * and check value. The caller owns `strategy`. Any thread. */
RS_API void rs_wait_strategy_init(rs_wait_strategy *strategy, rs_wait_kind kind);

/* The kind's name as a static string ("futex"); never NULL. Any thread. */
RS_API const char *rs_wait_kind_name(rs_wait_kind kind);

/* Sets how this ring handle waits (rs_ring_wait_readable, rs_ring_write_wait,
 * rs_ring_reserve_wait) and how its commits/releases wake the peer. NULL
 * restores the default (HYBRID, peer_may_park 1). The library copies
 * `strategy` and duplicates its eventfds (closing the copies it held
 * before). Ring-owning thread only. */
RS_API rs_result rs_ring_set_wait_strategy(rs_ring_t *ring, const rs_wait_strategy *strategy);

/* Consumer: waits until a record can be peeked, using the handle's wait
 * strategy. RS_OK (a record is ready; peek it), RS_TIMEOUT. Borrows nothing.
 * Ring-owning thread only. */
RS_API rs_result rs_ring_wait_readable(rs_ring_t *ring, uint64_t timeout_ns);

/* Producer: rs_ring_write that waits for room instead of returning RS_FULL.
 * RS_OK, RS_TIMEOUT, or rs_ring_write's failures. The caller owns `data`.
 * Ring-owning thread only. */
RS_API rs_result rs_ring_write_wait(rs_ring_t *ring, const void *data, size_t length, uint64_t timeout_ns);

/* Producer: rs_ring_reserve that waits for room. *out_data as in
 * rs_ring_reserve (library-owned, valid until the next commit).
 * Ring-owning thread only. */
RS_API rs_result rs_ring_reserve_wait(rs_ring_t *ring, size_t length, void **out_data, uint64_t timeout_ns);

/* For hosts that wait in their own epoll loop on an eventfd (the handle's
 * strategy must be RS_WAIT_EVENTFD, so the peer writes that fd). Arming
 * announces this side as parked, then re-checks: RS_OK if the ring is
 * already ready (a record to read / room for `length` bytes; nothing stays
 * armed), RS_EMPTY (consumer) or RS_FULL (producer) if armed: now wait for
 * the eventfd to become readable, read it, and call rs_ring_wait_disarm
 * before retrying. `length` is ignored for a consumer. Ring-owning thread. */
RS_API rs_result rs_ring_wait_arm(rs_ring_t *ring, size_t length);
/* Withdraws an announcement made by rs_ring_wait_arm (RS_ERR_INVALID_ARGUMENT
 * if none is armed). Ring-owning thread only. */
RS_API rs_result rs_ring_wait_disarm(rs_ring_t *ring);

/* Creates an eventfd (non-blocking, close-on-exec, counter 0) for
 * RS_WAIT_EVENTFD. *out_fd is owned by the caller, who closes it with
 * close(). Any thread. */
RS_API rs_result rs_eventfd_create(int *out_fd);

/* Sends `fd` over the connected Unix-domain socket `unix_socket`
 * (SCM_RIGHTS), e.g. to hand an eventfd to another process. Both stay owned
 * by the caller. Any thread. */
RS_API rs_result rs_fd_send(int unix_socket, int fd);

/* Receives one fd sent with rs_fd_send, waiting at most timeout_ns.
 * RS_TIMEOUT if none came; RS_ERR_CLOSED if the peer hung up. *out_fd is a
 * new close-on-exec descriptor owned by the caller (close() it). Any thread. */
RS_API rs_result rs_fd_receive(int unix_socket, int *out_fd, uint64_t timeout_ns);

/* ------------------------------------------------------------------------ */
/* The host v-table: native -> host callbacks                                */

#define RS_HOST_VTABLE_ABI_VERSION 1u

/* An event from the sidecar. Sidecar thread (v-table delivery) or the thread
 * calling rs_host_dispatch_events (ring delivery). `data` is valid only
 * during the call. Must not call rs_sidecar_stop/destroy on its own sidecar. */
typedef void (*rs_on_event_fn)(const void *data, size_t length, void *user);
/* A failure inside the sidecar (processor error, dropped event, corrupt
 * ring). Sidecar thread. `message` is valid only during the call. */
typedef void (*rs_on_error_fn)(rs_result code, const char *message, void *user);

typedef enum rs_log_level RS_ENUM_INT { RS_LOG_DEBUG = 0, RS_LOG_INFO = 1, RS_LOG_WARN = 2, RS_LOG_ERROR = 3 } rs_log_level;
/* A log line (start, granted scheduling, downgrades, stop). Sidecar thread.
 * `message` is valid only during the call. */
typedef void (*rs_on_log_fn)(rs_log_level level, const char *message, void *user);

/* Passed host -> native; the library copies it at rs_sidecar_start. The host
 * keeps the functions (and what `user` points to) valid until
 * rs_sidecar_stop returns RS_OK. Initialise it as
 *   rs_host_vtable vt = {sizeof vt, RS_HOST_VTABLE_ABI_VERSION, ctx, on_event, NULL, NULL};
 * A table whose struct_size or abi_version differs is rejected
 * (RS_ERR_VERSION_MISMATCH); on_event is mandatory, the others may be NULL. */
typedef struct rs_host_vtable {
    uint32_t struct_size; /* sizeof(rs_host_vtable) */
    uint32_t abi_version; /* RS_HOST_VTABLE_ABI_VERSION */
    void *user;           /* passed last to every callback */
    rs_on_event_fn on_event;
    rs_on_error_fn on_error;
    rs_on_log_fn on_log;
} rs_host_vtable;

/* Checks a v-table without using it: RS_OK, RS_ERR_VERSION_MISMATCH (size or
 * version), RS_ERR_INVALID_ARGUMENT (NULL table or NULL on_event). Any thread. */
RS_API rs_result rs_host_vtable_check(const rs_host_vtable *vtable);

/* Host side of ring delivery: waits (with the handle's wait strategy) at
 * most timeout_ns for events on `event_ring` (a consumer handle), then calls
 * vtable->on_event for up to `max_events` of them on the calling thread and
 * releases them. RS_OK with *dispatched >= 1, or RS_TIMEOUT with 0.
 * `dispatched` may be NULL. The caller owns `vtable`. Ring-owning thread. */
RS_API rs_result rs_host_dispatch_events(rs_ring_t *event_ring, const rs_host_vtable *vtable, uint32_t max_events,
                                         uint64_t timeout_ns, uint32_t *dispatched);

/* ------------------------------------------------------------------------ */
/* Processors: what the sidecar does with a command                          */

#define RS_PROCESS_EMIT 0 /* emit *event_length bytes of `event` (0 allowed) */
#define RS_PROCESS_SKIP 1 /* no event for this command */
/* Any negative value: the command failed; on_error gets it as the code. */

/* Sidecar thread. `command` is valid only during the call; write the event
 * into `event` (a library-owned buffer of event_capacity bytes, valid only
 * during the call) and set *event_length. Must return: a processor that
 * never returns makes rs_sidecar_stop report RS_TIMEOUT. */
typedef int32_t (*rs_process_fn)(const void *command, size_t command_length, void *event, size_t event_capacity,
                                 size_t *event_length, void *user);

/* Built-in processors for harnesses; pass as rs_sidecar_options.processor.
 * Echo: the event is the command. Timestamp: the event is the sidecar's
 * CLOCK_MONOTONIC time in ns (uint64_t, native byte order) followed by the
 * command. Both return RS_PROCESS_EMIT, or RS_ERR_TOO_LARGE when the event
 * would not fit event_capacity. `user` is ignored. Sidecar thread. */
RS_API int32_t rs_processor_echo(const void *command, size_t command_length, void *event, size_t event_capacity,
                                 size_t *event_length, void *user);
RS_API int32_t rs_processor_timestamp(const void *command, size_t command_length, void *event, size_t event_capacity,
                                      size_t *event_length, void *user);

/* ------------------------------------------------------------------------ */
/* The sidecar worker                                                        */

typedef struct rs_sidecar rs_sidecar_t;

/* A sidecar mirrors its state (rs_sidecar_state), pid, commands_processed,
 * events_emitted and last_error (rs_result) into the region's status block
 * (layout.h, StatusBlock at offset 256) with relaxed stores, so an inspector
 * in another process can watch it. */

typedef enum rs_sidecar_state RS_ENUM_INT {
    RS_SIDECAR_NONE = 0,     /* (status block only) no sidecar has served the region */
    RS_SIDECAR_CREATED = 1,  /* created, never started */
    RS_SIDECAR_RUNNING = 2,
    RS_SIDECAR_STOPPING = 3, /* stop requested; also after a stop that timed out */
    RS_SIDECAR_STOPPED = 4,  /* joined; may be started again */
    RS_SIDECAR_FAILED = 5    /* the worker ended on an error (see last_error); stop joins it */
} rs_sidecar_state;

/* The state's name as a static string ("running"); never NULL. Any thread. */
RS_API const char *rs_sidecar_state_name(rs_sidecar_state state);

typedef enum rs_event_delivery RS_ENUM_INT {
    RS_DELIVER_VTABLE = 1, /* call the v-table's on_event on the sidecar thread (in process) */
    RS_DELIVER_RING = 2    /* write events into event_ring; the host calls rs_host_dispatch_events */
} rs_event_delivery;

typedef enum rs_sched_policy RS_ENUM_INT {
    RS_SCHED_INHERIT = 0, /* leave the thread's policy, priority and nice as created */
    RS_SCHED_OTHER = 1,   /* SCHED_OTHER with `nice` */
    RS_SCHED_FIFO = 2,    /* SCHED_FIFO with `priority` (needs CAP_SYS_NICE or RLIMIT_RTPRIO) */
    RS_SCHED_RR = 3       /* SCHED_RR with `priority` */
} rs_sched_policy;

typedef enum rs_on_refused RS_ENUM_INT {
    RS_REFUSED_FAIL = 1,     /* rs_sidecar_start fails naming what was refused: RS_ERR_PERMISSION
                                (EPERM), RS_ERR_INVALID_ARGUMENT (e.g. a CPU that does not exist) */
    RS_REFUSED_DOWNGRADE = 2 /* continue with what the OS granted and record the downgrade */
} rs_on_refused;

#define RS_CPU_MASK_WORDS 16 /* 1024 CPUs */

typedef struct rs_sidecar_options {
    uint32_t struct_size;          /* stamped by rs_sidecar_options_init */
    uint32_t check;                /* stamped by rs_sidecar_options_init */
    uint32_t command_ring;         /* ring index the sidecar consumes; default 0 */
    uint32_t event_ring;           /* ring index it produces events into (RING delivery); default 1 */
    rs_event_delivery delivery;    /* default RS_DELIVER_VTABLE */
    uint32_t max_event_bytes;      /* event buffer size; default 4096; RING: <= the ring's max payload */
    uint32_t batch;                /* commands taken per loop turn, 1..1024; default 32 */
    uint32_t reserved0;
    rs_process_fn processor;       /* NULL = rs_processor_echo */
    void *processor_user;          /* passed last to `processor` */
    /* How the sidecar waits for commands; its peer is the host's producer on
     * command_ring (that handle's strategy names the sidecar's class: with
     * RS_WAIT_EVENTFD here, pass the same eventfd as its peer_eventfd). */
    rs_wait_strategy command_wait;
    /* How it waits for room in the event ring; its peer is the host's consumer. */
    rs_wait_strategy event_wait;
    rs_sched_policy policy;        /* default RS_SCHED_INHERIT */
    int32_t priority;              /* FIFO/RR: 1..99 */
    int32_t nice;                  /* OTHER: -20..19 */
    rs_on_refused on_refused;      /* default RS_REFUSED_FAIL */
    uint64_t cpu_mask[RS_CPU_MASK_WORDS]; /* bit n = CPU n; all zero (default) = leave affinity alone */
    char thread_name[16];          /* NUL-terminated, <= 15 bytes; default "rs-sidecar" */
    uint32_t start_timeout_ms;     /* how long start waits for the thread to report; default 5000 */
    uint32_t reserved1;
} rs_sidecar_options;

/* Fills defaults and stamps size and check value. Any thread. */
RS_API void rs_sidecar_options_init(rs_sidecar_options *options);

/* Creates a sidecar over `region` (Init): attaches the consumer side of
 * command_ring and, for RS_DELIVER_RING, the producer side of event_ring
 * (RS_BUSY if another live handle holds them), allocates its buffers and
 * publishes state CREATED in the region's status block. No thread yet.
 * `options` may be NULL for defaults; the library copies it. *out is freed
 * with rs_sidecar_destroy; the region stays alive (rs_region_destroy returns
 * RS_BUSY) until then. Any thread. */
RS_API rs_result rs_sidecar_create(rs_region_t *region, const rs_sidecar_options *options, rs_sidecar_t **out);

/* Starts the worker thread: copies `vtable` (required for RS_DELIVER_VTABLE,
 * may be NULL for RS_DELIVER_RING), applies the scheduling options inside the
 * new thread and waits until it reports what the OS granted. If the OS
 * refused and on_refused is RS_REFUSED_FAIL: RS_ERR_PERMISSION or
 * RS_ERR_INVALID_ARGUMENT, state FAILED, no thread left running. RS_BUSY if
 * already running or stopping. RS_TIMEOUT if the thread did not report
 * within start_timeout_ms (state STOPPING: call rs_sidecar_stop). A stopped
 * or failed sidecar may be started again. Any thread, not concurrently with
 * destroy. */
RS_API rs_result rs_sidecar_start(rs_sidecar_t *sidecar, const rs_host_vtable *vtable);

typedef enum rs_stop_mode RS_ENUM_INT {
    RS_STOP_DRAIN = 1,  /* process every command already in the ring, then stop */
    RS_STOP_DISCARD = 2 /* stop after the current command; release the rest unprocessed */
} rs_stop_mode;

/* Stops and joins the worker, waiting at most timeout_ns. RS_OK: the thread
 * has ended and no callback will run again. RS_TIMEOUT: a processor or
 * callback has not returned in time; the state stays STOPPING, the thread
 * still runs that call, and it will start no further callback after it
 * returns; call stop again to retry the join. Idempotent: RS_OK on a
 * sidecar that is created, stopped or already joined. Any thread (never from
 * inside a callback of this sidecar: RS_ERR_INVALID_ARGUMENT). */
RS_API rs_result rs_sidecar_stop(rs_sidecar_t *sidecar, rs_stop_mode mode, uint64_t timeout_ns);

/* Dispose: detaches its rings, frees everything and invalidates the handle.
 * RS_BUSY (nothing changes) while the thread has not been joined, i.e. after
 * a start without a successful stop, or a stop that returned RS_TIMEOUT:
 * freeing what a stuck thread still uses would crash the host. A second
 * destroy gives RS_ERR_INVALID_ARGUMENT. Any thread. */
RS_API rs_result rs_sidecar_destroy(rs_sidecar_t *sidecar);

typedef struct rs_sidecar_sched {
    uint32_t struct_size;        /* set by the caller to sizeof(rs_sidecar_sched) */
    int32_t tid;                 /* the worker's thread id (0 before the first start) */
    rs_sched_policy requested_policy;
    int32_t requested_priority;
    int32_t requested_nice;
    /* Read back from the OS in the worker (sched_getscheduler,
     * sched_getparam, getpriority on its tid, sched_getaffinity): */
    rs_sched_policy granted_policy; /* RS_SCHED_OTHER for SCHED_OTHER/BATCH/IDLE */
    int32_t granted_os_policy;   /* the raw SCHED_* value */
    int32_t granted_priority;
    int32_t granted_nice;
    int32_t downgraded;          /* 1: the OS refused part of the request and the sidecar continued */
    int32_t refused_errno;       /* errno of the first refusal, 0 if none */
    uint32_t granted_cpu_count;
    uint64_t requested_cpu_mask[RS_CPU_MASK_WORDS];
    uint64_t granted_cpu_mask[RS_CPU_MASK_WORDS];
    char thread_name[16];        /* read back with pthread_getname_np */
    char refused[96];            /* what was refused, "" if nothing */
} rs_sidecar_sched;

/* What the worker was granted at its last start, read back from the OS.
 * The caller sets sched->struct_size first and owns *sched. Any thread. */
RS_API rs_result rs_sidecar_get_sched(rs_sidecar_t *sidecar, rs_sidecar_sched *sched);

typedef struct rs_sidecar_stats {
    uint32_t struct_size;        /* set by the caller to sizeof(rs_sidecar_stats) */
    rs_sidecar_state state;
    uint64_t commands_processed; /* since create */
    uint64_t events_emitted;
    uint64_t events_dropped;     /* event ring full while stopping, or no room */
    uint64_t commands_discarded; /* released unprocessed by RS_STOP_DISCARD */
    uint64_t processor_errors;
    uint64_t parks;              /* times the worker parked (futex/eventfd) */
    rs_result last_error;        /* RS_OK if none */
    int32_t reserved;
} rs_sidecar_stats;

/* State and counters (relaxed snapshots: the worker keeps running). The
 * caller sets stats->struct_size first and owns *stats. Any thread. */
RS_API rs_result rs_sidecar_get_stats(rs_sidecar_t *sidecar, rs_sidecar_stats *stats);

/* The worker's last error message ("" if none), copied into the caller's
 * buffer (truncated, always NUL-terminated). Any thread. */
RS_API rs_result rs_sidecar_last_error_message(rs_sidecar_t *sidecar, char *buffer, size_t capacity);

/* State, counters, options and granted scheduling as JSON; *out_json is
 * allocated by the library and freed with rs_string_free. Any thread. */
RS_API rs_result rs_sidecar_stats_json(rs_sidecar_t *sidecar, char **out_json);

#ifdef __cplusplus
}
#endif

#endif /* RINGSIDE_SIDECAR_H */
