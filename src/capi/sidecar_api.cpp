// rs_sidecar_*, rs_host_vtable_check, rs_host_dispatch_events.
#include <cstdio>
#include <cstring>
#include <mutex>

#include "capi/json_writer.hpp"
#include "capi/objects.hpp"
#include "common/error.hpp"
#include "sidecar/sidecar.hpp"
#include "wait/clock.hpp"

using namespace ringside;

namespace {

constexpr std::uint32_t kSidecarCheck = 0x52535343u;  // "RSSC"
constexpr std::uint32_t kMaxEventBytes = 1u << 24;
constexpr std::uint32_t kMaxBatch = 1024;

Sidecar* sidecar_from(const rs_sidecar_t* handle, const char* function) {
    Sidecar* sidecar = sidecar_table().lookup(handle);
    if (sidecar == nullptr) {
        fail(RS_ERR_INVALID_ARGUMENT, "%s: sidecar handle is NULL, invalid or destroyed", function);
    }
    return sidecar;
}

rs_result validate_sidecar_options(const rs_sidecar_options& options) {
    constexpr const char* kFunction = "rs_sidecar_create";
    if (options.struct_size < sizeof(rs_sidecar_options) || options.check != kSidecarCheck) {
        return fail(RS_ERR_INVALID_ARGUMENT,
                    "%s: rs_sidecar_options not initialised (struct_size %u, check 0x%x): call "
                    "rs_sidecar_options_init",
                    kFunction, options.struct_size, options.check);
    }
    if (const int delivery = raw_enum(options.delivery); delivery != RS_DELIVER_VTABLE && delivery != RS_DELIVER_RING) {
        return fail(RS_ERR_INVALID_ARGUMENT, "%s: unknown delivery %d", kFunction, delivery);
    }
    if (options.max_event_bytes == 0 || options.max_event_bytes > kMaxEventBytes) {
        return fail(RS_ERR_INVALID_ARGUMENT, "%s: max_event_bytes %u outside 1..%u", kFunction,
                    options.max_event_bytes, kMaxEventBytes);
    }
    if (options.batch == 0 || options.batch > kMaxBatch) {
        return fail(RS_ERR_INVALID_ARGUMENT, "%s: batch %u outside 1..%u", kFunction, options.batch, kMaxBatch);
    }
    if (options.start_timeout_ms == 0) {
        return fail(RS_ERR_INVALID_ARGUMENT, "%s: start_timeout_ms must be at least 1", kFunction);
    }
    if (options.reserved0 != 0 || options.reserved1 != 0) {
        return fail(RS_ERR_INVALID_ARGUMENT, "%s: reserved fields must be zero", kFunction);
    }
    if (rs_result r = validate_wait_strategy(&options.command_wait, "rs_sidecar_create (command_wait)"); r != RS_OK) {
        return r;
    }
    if (rs_result r = validate_wait_strategy(&options.event_wait, "rs_sidecar_create (event_wait)"); r != RS_OK) {
        return r;
    }
    return validate_sched(options, kFunction);
}

const char* policy_name(rs_sched_policy policy) {
    switch (policy) {
        case RS_SCHED_INHERIT: return "inherit";
        case RS_SCHED_OTHER: return "other";
        case RS_SCHED_FIFO: return "fifo";
        case RS_SCHED_RR: return "rr";
    }
    return "unknown";
}

// "0-3,6" style list of the CPUs in `mask`.
void cpu_list(const std::uint64_t* mask, char* out, std::size_t capacity) {
    std::size_t used = 0;
    out[0] = '\0';
    const int total = RS_CPU_MASK_WORDS * 64;
    for (int cpu = 0; cpu < total && used + 16 < capacity;) {
        if (((mask[cpu / 64] >> (cpu % 64)) & 1u) == 0) {
            ++cpu;
            continue;
        }
        int last = cpu;
        while (last + 1 < total && ((mask[(last + 1) / 64] >> ((last + 1) % 64)) & 1u) != 0) ++last;
        const int n = last == cpu ? std::snprintf(out + used, capacity - used, "%s%d", used ? "," : "", cpu)
                                  : std::snprintf(out + used, capacity - used, "%s%d-%d", used ? "," : "", cpu, last);
        used += static_cast<std::size_t>(n);
        cpu = last + 1;
    }
}

}  // namespace

extern "C" {

void rs_sidecar_options_init(rs_sidecar_options* options) {
    if (options == nullptr) {
        fail(RS_ERR_INVALID_ARGUMENT, "rs_sidecar_options_init: options is NULL");
        return;
    }
    std::memset(options, 0, sizeof *options);
    options->struct_size = sizeof *options;
    options->check = kSidecarCheck;
    options->command_ring = 0;
    options->event_ring = 1;
    options->delivery = RS_DELIVER_VTABLE;
    options->max_event_bytes = 4096;
    options->batch = 32;
    rs_wait_strategy_init(&options->command_wait, RS_WAIT_HYBRID);
    rs_wait_strategy_init(&options->event_wait, RS_WAIT_HYBRID);
    options->policy = RS_SCHED_INHERIT;
    options->on_refused = RS_REFUSED_FAIL;
    std::snprintf(options->thread_name, sizeof options->thread_name, "%s", "rs-sidecar");
    options->start_timeout_ms = 5000;
}

const char* rs_sidecar_state_name(rs_sidecar_state state) {
    switch (state) {
        case RS_SIDECAR_NONE: return "none";
        case RS_SIDECAR_CREATED: return "created";
        case RS_SIDECAR_RUNNING: return "running";
        case RS_SIDECAR_STOPPING: return "stopping";
        case RS_SIDECAR_STOPPED: return "stopped";
        case RS_SIDECAR_FAILED: return "failed";
    }
    return "unknown";
}

rs_result rs_host_vtable_check(const rs_host_vtable* vtable) {
    if (vtable == nullptr) return fail(RS_ERR_INVALID_ARGUMENT, "rs_host_vtable_check: v-table is NULL");
    if (vtable->struct_size != sizeof(rs_host_vtable) || vtable->abi_version != RS_HOST_VTABLE_ABI_VERSION) {
        return fail(RS_ERR_VERSION_MISMATCH,
                    "host v-table has struct_size %u and abi_version %u; this library takes struct_size %zu and "
                    "abi_version %u",
                    vtable->struct_size, vtable->abi_version, sizeof(rs_host_vtable), RS_HOST_VTABLE_ABI_VERSION);
    }
    if (vtable->on_event == nullptr) {
        return fail(RS_ERR_INVALID_ARGUMENT, "host v-table: on_event is mandatory and is NULL");
    }
    return RS_OK;
}

rs_result rs_host_dispatch_events(rs_ring_t* handle, const rs_host_vtable* vtable, uint32_t max_events,
                                  uint64_t timeout_ns, uint32_t* dispatched) {
    if (dispatched != nullptr) *dispatched = 0;
    RingHandle* ring = ring_from(handle, "rs_host_dispatch_events");
    if (ring == nullptr) return RS_ERR_INVALID_ARGUMENT;
    if (ring->role != RS_ROLE_CONSUMER) {
        return fail(RS_ERR_INVALID_ARGUMENT, "rs_host_dispatch_events: the event ring handle must be a consumer");
    }
    if (rs_result r = rs_host_vtable_check(vtable); r != RS_OK) return r;
    if (max_events == 0) return fail(RS_ERR_INVALID_ARGUMENT, "rs_host_dispatch_events: max_events is 0");
    constexpr std::uint32_t kChunk = 64;
    RecordSpan spans[kChunk];
    std::uint32_t count = 0;
    RingStatus status = RingStatus::kEmpty;
    const std::uint32_t want = max_events < kChunk ? max_events : kChunk;
    auto ready = [&] {
        status = ring->consumer.peek_batch(std::span<RecordSpan>(spans, want), count);
        return status != RingStatus::kEmpty;
    };
    const WaitResult waited = wait_for(ring->wait.strategy(), data_words(*ring->consumer.view().control),
                                       timeout_ns, ready);
    if (waited == WaitResult::kTimeout) return RS_TIMEOUT;
    if (status != RingStatus::kOk) return ring_result(status, *ring, "rs_host_dispatch_events");
    for (std::uint32_t i = 0; i < count; ++i) vtable->on_event(spans[i].data, spans[i].length, vtable->user);
    (void)ring->consumer.release();
    notify_peer(*ring);
    if (dispatched != nullptr) *dispatched = count;
    return RS_OK;
}

rs_result rs_sidecar_create(rs_region_t* region_handle, const rs_sidecar_options* options, rs_sidecar_t** out) {
    if (out == nullptr) return fail(RS_ERR_INVALID_ARGUMENT, "rs_sidecar_create: out is NULL");
    *out = nullptr;
    rs_sidecar_options defaults;
    if (options == nullptr) {
        rs_sidecar_options_init(&defaults);
        options = &defaults;
    }
    if (rs_result r = validate_sidecar_options(*options); r != RS_OK) return r;
    std::lock_guard<std::mutex> lifecycle(lifecycle_mutex());
    Region* region = region_from(region_handle, "rs_sidecar_create");
    if (region == nullptr) return RS_ERR_INVALID_ARGUMENT;
    Sidecar* sidecar = nullptr;
    if (rs_result r = Sidecar::create(region, *options, &sidecar); r != RS_OK) return r;
    const std::uintptr_t handle = sidecar_table().insert(sidecar);
    if (handle == 0) {
        (void)Sidecar::destroy(sidecar);
        return fail(RS_ERR_NO_MEMORY, "rs_sidecar_create: more than %u sidecar handles are open", kMaxSidecarHandles);
    }
    // relaxed is enough: rs_region_destroy's acquire pairs with destroy's release.
    region->attached_users.fetch_add(1, std::memory_order_relaxed);
    *out = reinterpret_cast<rs_sidecar_t*>(handle);
    return RS_OK;
}

rs_result rs_sidecar_start(rs_sidecar_t* handle, const rs_host_vtable* vtable) {
    Sidecar* sidecar = sidecar_from(handle, "rs_sidecar_start");
    if (sidecar == nullptr) return RS_ERR_INVALID_ARGUMENT;
    return sidecar->start(vtable);
}

rs_result rs_sidecar_stop(rs_sidecar_t* handle, rs_stop_mode mode, uint64_t timeout_ns) {
    Sidecar* sidecar = sidecar_from(handle, "rs_sidecar_stop");
    if (sidecar == nullptr) return RS_ERR_INVALID_ARGUMENT;
    if (mode != RS_STOP_DRAIN && mode != RS_STOP_DISCARD) {
        return fail(RS_ERR_INVALID_ARGUMENT, "rs_sidecar_stop: unknown stop mode %d", static_cast<int>(mode));
    }
    return sidecar->stop(mode, timeout_ns);
}

rs_result rs_sidecar_destroy(rs_sidecar_t* handle) {
    std::lock_guard<std::mutex> lifecycle(lifecycle_mutex());
    Sidecar* sidecar = sidecar_from(handle, "rs_sidecar_destroy");
    if (sidecar == nullptr) return RS_ERR_INVALID_ARGUMENT;
    Region* region = sidecar->region();
    // Checked before the handle is retired, so RS_BUSY leaves it valid.
    if (sidecar->thread_alive()) {
        return fail(RS_BUSY,
                    "rs_sidecar_destroy: the worker thread has not been joined: call rs_sidecar_stop until it "
                    "returns RS_OK (a stuck callback keeps it alive)");
    }
    sidecar_table().remove(handle);
    if (rs_result r = Sidecar::destroy(sidecar); r != RS_OK) return r;
    // release: we are done with the mapping before the region may unmap it.
    region->attached_users.fetch_sub(1, std::memory_order_release);
    return RS_OK;
}

rs_result rs_sidecar_get_sched(rs_sidecar_t* handle, rs_sidecar_sched* sched) {
    Sidecar* sidecar = sidecar_from(handle, "rs_sidecar_get_sched");
    if (sidecar == nullptr) return RS_ERR_INVALID_ARGUMENT;
    if (sched == nullptr) return fail(RS_ERR_INVALID_ARGUMENT, "rs_sidecar_get_sched: sched is NULL");
    if (sched->struct_size < sizeof(rs_sidecar_sched)) {
        return fail(RS_ERR_INVALID_ARGUMENT, "rs_sidecar_get_sched: struct_size %u, expected %zu", sched->struct_size,
                    sizeof(rs_sidecar_sched));
    }
    sidecar->sched(*sched);
    return RS_OK;
}

rs_result rs_sidecar_get_stats(rs_sidecar_t* handle, rs_sidecar_stats* stats) {
    Sidecar* sidecar = sidecar_from(handle, "rs_sidecar_get_stats");
    if (sidecar == nullptr) return RS_ERR_INVALID_ARGUMENT;
    if (stats == nullptr) return fail(RS_ERR_INVALID_ARGUMENT, "rs_sidecar_get_stats: stats is NULL");
    if (stats->struct_size < sizeof(rs_sidecar_stats)) {
        return fail(RS_ERR_INVALID_ARGUMENT, "rs_sidecar_get_stats: struct_size %u, expected %zu", stats->struct_size,
                    sizeof(rs_sidecar_stats));
    }
    sidecar->stats(*stats);
    stats->struct_size = sizeof(rs_sidecar_stats);
    return RS_OK;
}

rs_result rs_sidecar_last_error_message(rs_sidecar_t* handle, char* buffer, size_t capacity) {
    Sidecar* sidecar = sidecar_from(handle, "rs_sidecar_last_error_message");
    if (sidecar == nullptr) return RS_ERR_INVALID_ARGUMENT;
    if (buffer == nullptr || capacity == 0) {
        return fail(RS_ERR_INVALID_ARGUMENT, "rs_sidecar_last_error_message: buffer is NULL or capacity is 0");
    }
    sidecar->last_error_message(buffer, capacity);
    return RS_OK;
}

rs_result rs_sidecar_stats_json(rs_sidecar_t* handle, char** out_json) {
    if (out_json == nullptr) return fail(RS_ERR_INVALID_ARGUMENT, "rs_sidecar_stats_json: out_json is NULL");
    *out_json = nullptr;
    Sidecar* sidecar = sidecar_from(handle, "rs_sidecar_stats_json");
    if (sidecar == nullptr) return RS_ERR_INVALID_ARGUMENT;
    rs_sidecar_stats stats{};
    sidecar->stats(stats);
    rs_sidecar_sched sched{};
    sidecar->sched(sched);
    char message[256];
    sidecar->last_error_message(message, sizeof message);
    char requested_cpus[256];
    char granted_cpus[256];
    cpu_list(sched.requested_cpu_mask, requested_cpus, sizeof requested_cpus);
    cpu_list(sched.granted_cpu_mask, granted_cpus, sizeof granted_cpus);
    const rs_sidecar_options& options = sidecar->options();
    JsonWriter json;
    json.field("region", sidecar->region()->name())
        .field("state", rs_sidecar_state_name(stats.state))
        .field("commands_processed", stats.commands_processed)
        .field("events_emitted", stats.events_emitted)
        .field("events_dropped", stats.events_dropped)
        .field("commands_discarded", stats.commands_discarded)
        .field("processor_errors", stats.processor_errors)
        .field("parks", stats.parks)
        .field("last_error", rs_result_name(stats.last_error))
        .field("last_error_message", message)
        .field("delivery", options.delivery == RS_DELIVER_RING ? "ring" : "vtable")
        .field("command_ring", std::uint64_t{options.command_ring})
        .field("event_ring", std::uint64_t{options.event_ring})
        .field("command_wait", rs_wait_kind_name(options.command_wait.kind))
        .field("event_wait", rs_wait_kind_name(options.event_wait.kind))
        .field("tid", std::int64_t{sched.tid})
        .field("thread_name", sched.thread_name)
        .field("requested_policy", policy_name(sched.requested_policy))
        .field("requested_priority", std::int64_t{sched.requested_priority})
        .field("requested_nice", std::int64_t{sched.requested_nice})
        .field("requested_cpus", requested_cpus)
        .field("granted_policy", sched.tid != 0 ? os_policy_name(sched.granted_os_policy) : "")
        .field("granted_priority", std::int64_t{sched.granted_priority})
        .field("granted_nice", std::int64_t{sched.granted_nice})
        .field("granted_cpus", granted_cpus)
        .field("downgraded", sched.downgraded != 0)
        .field("refused", sched.refused);
    *out_json = json.finish();
    if (*out_json == nullptr) return fail(RS_ERR_NO_MEMORY, "rs_sidecar_stats_json: out of memory");
    return RS_OK;
}

}  // extern "C"
