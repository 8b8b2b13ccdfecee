/* Compiled as C11: the sizes and offsets a C host sees, compared with the
 * C++ view in sidecar_abi_test.cpp. */
#include <stddef.h>

#include "ringside/ringside.h"

#define RS_ENTRY(type, field) offsetof(type, field)

size_t rs_abi_c_layout(size_t *out, size_t capacity);

size_t rs_abi_c_layout(size_t *out, size_t capacity) {
    const size_t values[] = {
        sizeof(rs_wait_strategy),  _Alignof(rs_wait_strategy),  RS_ENTRY(rs_wait_strategy, kind),
        RS_ENTRY(rs_wait_strategy, sleep_ns), RS_ENTRY(rs_wait_strategy, peer_eventfd),
        sizeof(rs_host_vtable),    _Alignof(rs_host_vtable),    RS_ENTRY(rs_host_vtable, user),
        RS_ENTRY(rs_host_vtable, on_event), RS_ENTRY(rs_host_vtable, on_log),
        sizeof(rs_sidecar_options), _Alignof(rs_sidecar_options), RS_ENTRY(rs_sidecar_options, processor),
        RS_ENTRY(rs_sidecar_options, command_wait), RS_ENTRY(rs_sidecar_options, cpu_mask),
        RS_ENTRY(rs_sidecar_options, thread_name), RS_ENTRY(rs_sidecar_options, start_timeout_ms),
        sizeof(rs_sidecar_sched),  _Alignof(rs_sidecar_sched),  RS_ENTRY(rs_sidecar_sched, requested_cpu_mask),
        RS_ENTRY(rs_sidecar_sched, thread_name), RS_ENTRY(rs_sidecar_sched, refused),
        sizeof(rs_sidecar_stats),  _Alignof(rs_sidecar_stats),  RS_ENTRY(rs_sidecar_stats, last_error),
    };
    const size_t count = sizeof values / sizeof values[0];
    for (size_t i = 0; i < count && i < capacity; ++i) out[i] = values[i];
    return count;
}
