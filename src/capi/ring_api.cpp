// rs_ring_*: attach one side of a ring, reserve/commit, peek/release, stats.
#include <unistd.h>

#include <climits>
#include <cstring>
#include <mutex>

#include "capi/json_writer.hpp"
#include "capi/objects.hpp"
#include "common/alloc.hpp"
#include "common/error.hpp"
#include "ring/claim.hpp"

using namespace ringside;

namespace ringside {

rs_result ring_result(RingStatus status, const RingHandle& ring, const char* function) {
    switch (status) {
        case RingStatus::kOk: return RS_OK;
        case RingStatus::kFull: return RS_FULL;
        case RingStatus::kEmpty: return RS_EMPTY;
        case RingStatus::kTooLarge:
            return fail(RS_ERR_TOO_LARGE, "%s: record exceeds ring %u's maximum payload of %llu bytes", function,
                        ring.index, static_cast<unsigned long long>(layout::max_payload(ring.region->header().ring_capacity)));
        case RingStatus::kCorrupt:
            return fail(RS_ERR_CORRUPT, "%s: ring %u of region '%s' holds an impossible record or index", function,
                        ring.index, ring.region->name());
        case RingStatus::kNothingPending:
            return fail(RS_ERR_INVALID_ARGUMENT, "%s: nothing to %s", function,
                        ring.role == RS_ROLE_PRODUCER ? "commit: reserve first" : "release: peek first");
    }
    return fail(RS_ERR_INTERNAL, "%s: unknown ring status %d", function, static_cast<int>(status));
}

}  // namespace ringside

namespace {

RingHandle* side_from(const rs_ring_t* handle, rs_role role, const char* function) {
    RingHandle* ring = ring_from(handle, function);
    if (ring != nullptr && ring->role != role) {
        fail(RS_ERR_INVALID_ARGUMENT, "%s: this handle is the ring's %s", function,
             ring->role == RS_ROLE_PRODUCER ? "producer" : "consumer");
        return nullptr;
    }
    return ring;
}

// The hot calls' refusals, out of line so that their fast paths stay
// small: re-derive what was wrong and record the specific message.
[[gnu::cold, gnu::noinline]] rs_result handle_refused(const rs_ring_t* handle, rs_role role, const char* function) {
    if (side_from(handle, role, function) != nullptr) {
        return fail(RS_ERR_INTERNAL, "%s: refused a live %s handle", function,
                    role == RS_ROLE_PRODUCER ? "producer" : "consumer");
    }
    return RS_ERR_INVALID_ARGUMENT;
}

[[gnu::cold, gnu::noinline]] rs_result write_refused(const rs_ring_t* handle, const void* data, size_t length) {
    RingHandle* ring = side_from(handle, RS_ROLE_PRODUCER, "rs_ring_write");
    if (ring == nullptr) return RS_ERR_INVALID_ARGUMENT;
    if (data == nullptr && length != 0) return fail(RS_ERR_INVALID_ARGUMENT, "rs_ring_write: data is NULL");
    return ring_result(RingStatus::kTooLarge, *ring, "rs_ring_write");
}

// After a successful commit (producer) or release (consumer), wakes the
// peer if it is parked: no syscall unless it is (src/wait/park.hpp).
RingStatus published(RingHandle& ring, RingStatus status) {
    if (status == RingStatus::kOk) notify_peer(ring);
    return status;
}

// Counters and positions of ring `index`, written by the two sides: a
// snapshot read with relaxed loads, never trusted for anything but display.
rs_result ring_stats_json(Region& region, std::uint32_t index, const char* role, char** out_json,
                          const char* function) {
    layout::RingControl& control = *region.ring_view(index).control;
    auto load = [](std::uint64_t& field) {
        return std::atomic_ref<std::uint64_t>(field).load(std::memory_order_relaxed);
    };
    auto load_pid = [](std::uint64_t& claim) {
        return std::int64_t{claim_pid(std::atomic_ref<std::uint64_t>(claim).load(std::memory_order_relaxed))};
    };
    // acquire: see the consumer's position with what it released.
    const std::uint64_t read = std::atomic_ref<std::uint64_t>(control.read_position).load(std::memory_order_acquire);
    const std::uint64_t released = load(control.records_released);
    // The producer keeps no per-record counters in shared memory (they would
    // cost it throughput): what is committed and unread is found by walking
    // the commit words from the read position. Racing a live pair, the walk
    // may meet a record being overwritten; then the producer's last published
    // counters stand in.
    const ScanResult scan = scan_committed(region.ring_view(index), read);
    const bool scanned = scan.status == RingStatus::kOk;
    const std::uint64_t write = scanned ? scan.end : load(control.write_position);
    const std::uint64_t pending = scanned ? scan.records : 0;
    const std::uint64_t committed = scanned ? released + pending : load(control.records_committed);
    JsonWriter json;
    json.field("region", region.name())
        .field("index", std::uint64_t{index})
        .field("role", role)
        .field("capacity", region.header().ring_capacity)
        .field("write_position", write)
        .field("read_position", read)
        .field("fill_bytes", write >= read ? write - read : std::uint64_t{0})
        .field("records_committed", committed)
        .field("records_released", released)
        .field("pending_records", pending)
        .field("pending_payload_bytes", scanned ? scan.payload_bytes : std::uint64_t{0})
        .field("snapshot_exact", scanned)
        .field("producer_pid", load_pid(control.producer_claim))
        .field("consumer_pid", load_pid(control.consumer_claim))
        // relaxed is enough: a display snapshot; a holder's liveness is re-read from /proc.
        .field("producer_alive", claim_holder_alive(load(control.producer_claim)))
        .field("consumer_alive", claim_holder_alive(load(control.consumer_claim)));
    *out_json = json.finish();
    if (*out_json == nullptr) return fail(RS_ERR_NO_MEMORY, "%s: out of memory", function);
    return RS_OK;
}

}  // namespace

extern "C" {

rs_result rs_ring_create(rs_region_t* region_handle, uint32_t index, rs_role role, rs_ring_t** out) {
    if (out == nullptr) return fail(RS_ERR_INVALID_ARGUMENT, "rs_ring_create: out is NULL");
    *out = nullptr;
    std::unique_lock<std::mutex> lifecycle(lifecycle_mutex());
    Region* region = region_from(region_handle, "rs_ring_create");
    if (region == nullptr) return RS_ERR_INVALID_ARGUMENT;
    if (role != RS_ROLE_PRODUCER && role != RS_ROLE_CONSUMER) {
        return fail(RS_ERR_INVALID_ARGUMENT, "rs_ring_create: unknown role %d", static_cast<int>(role));
    }
    if (index >= region->header().ring_count) {
        return fail(RS_ERR_INVALID_ARGUMENT, "rs_ring_create: ring index %u >= ring_count %u", index,
                    region->header().ring_count);
    }
    RingHandle* ring = counted_new<RingHandle>();
    if (ring == nullptr) return fail(RS_ERR_NO_MEMORY, "rs_ring_create: out of memory");
    ring->region = region;
    ring->index = index;
    ring->role = role;
    const RingView view = region->ring_view(index);
    if (rs_result r = claim_role(view, role, region->name(), index); r != RS_OK) {
        counted_delete(ring);
        return r;
    }
    const RingStatus attached = role == RS_ROLE_PRODUCER ? ring->producer.attach(view) : ring->consumer.attach(view);
    if (attached != RingStatus::kOk) {
        release_role(view, role);
        const rs_result r = ring_result(attached, *ring, "rs_ring_create");
        counted_delete(ring);
        return r;
    }
    const std::uintptr_t handle = ring_table().insert(ring);
    if (handle == 0) {
        release_role(view, role);
        counted_delete(ring);
        return fail(RS_ERR_NO_MEMORY, "rs_ring_create: more than %u ring handles are open", kMaxRingHandles);
    }
    // relaxed is enough for the count itself; rs_region_destroy's acquire
    // pairs with the release in rs_ring_destroy.
    region->attached_users.fetch_add(1, std::memory_order_relaxed);
    *out = reinterpret_cast<rs_ring_t*>(handle);
    return RS_OK;
}

rs_result rs_ring_destroy(rs_ring_t* handle) {
    std::lock_guard<std::mutex> lifecycle(lifecycle_mutex());
    RingHandle* ring = ring_table().remove(handle);
    if (ring == nullptr) {
        return fail(RS_ERR_INVALID_ARGUMENT, "rs_ring_destroy: ring handle is NULL, invalid or destroyed");
    }
    if (ring->role == RS_ROLE_PRODUCER) ring->producer.publish_counters();
    release_role(ring->region->ring_view(ring->index), ring->role);
    Region* region = ring->region;
    counted_delete(ring);
    // release: we are done with the mapping before the region may unmap it.
    region->attached_users.fetch_sub(1, std::memory_order_release);
    return RS_OK;
}

rs_result rs_ring_reserve(rs_ring_t* handle, size_t length, void** out_data) {
    RingHandle* ring = side_from(handle, RS_ROLE_PRODUCER, "rs_ring_reserve");
    if (ring == nullptr) return RS_ERR_INVALID_ARGUMENT;
    if (out_data == nullptr) return fail(RS_ERR_INVALID_ARGUMENT, "rs_ring_reserve: out_data is NULL");
    *out_data = nullptr;
    if (length > UINT32_MAX) return ring_result(RingStatus::kTooLarge, *ring, "rs_ring_reserve");
    std::span<std::byte> span;
    const RingStatus status = ring->producer.try_reserve(static_cast<std::uint32_t>(length), span);
    if (status == RingStatus::kOk) {
        *out_data = span.data();
        return RS_OK;
    }
    return ring_result(status, *ring, "rs_ring_reserve");
}

rs_result rs_ring_commit(rs_ring_t* handle) {
    RingHandle* const ring = ring_side(handle, RS_ROLE_PRODUCER);
    if (ring == nullptr) [[unlikely]] return handle_refused(handle, RS_ROLE_PRODUCER, "rs_ring_commit");
    const RingStatus status = ring->producer.commit();
    if (status != RingStatus::kOk) [[unlikely]] return ring_result(status, *ring, "rs_ring_commit");
    notify_peer(*ring);
    return RS_OK;
}

rs_result rs_ring_write(rs_ring_t* handle, const void* data, size_t length) {
    RingHandle* const ring = ring_side(handle, RS_ROLE_PRODUCER);
    if (ring == nullptr || (data == nullptr && length != 0) || length > UINT32_MAX) [[unlikely]] {
        return write_refused(handle, data, length);
    }
    const RingStatus status = ring->producer.try_write(data, static_cast<std::uint32_t>(length));
    if (status != RingStatus::kOk) [[unlikely]] return ring_result(status, *ring, "rs_ring_write");
    notify_peer(*ring);
    return RS_OK;
}

rs_result rs_ring_peek(rs_ring_t* handle, rs_record* out) {
    RingHandle* const ring = ring_side(handle, RS_ROLE_CONSUMER);
    if (ring == nullptr) [[unlikely]] return handle_refused(handle, RS_ROLE_CONSUMER, "rs_ring_peek");
    if (out == nullptr) [[unlikely]] return fail(RS_ERR_INVALID_ARGUMENT, "rs_ring_peek: out is NULL");
    RecordSpan span;
    const RingStatus status = ring->consumer.try_peek(span);
    if (status != RingStatus::kOk) return ring_result(status, *ring, "rs_ring_peek");
    out->data = span.data;
    out->length = span.length;
    return RS_OK;
}

rs_result rs_ring_peek_batch(rs_ring_t* handle, rs_record* out, size_t max, size_t* count) {
    RingHandle* ring = side_from(handle, RS_ROLE_CONSUMER, "rs_ring_peek_batch");
    if (ring == nullptr) return RS_ERR_INVALID_ARGUMENT;
    if (count == nullptr) return fail(RS_ERR_INVALID_ARGUMENT, "rs_ring_peek_batch: count is NULL");
    *count = 0;
    if (out == nullptr || max == 0) return fail(RS_ERR_INVALID_ARGUMENT, "rs_ring_peek_batch: out is NULL or max is 0");
    constexpr std::size_t kChunk = 64;
    RecordSpan spans[kChunk];
    const std::size_t want = max < kChunk ? max : kChunk;
    std::uint32_t got = 0;
    const RingStatus status = ring->consumer.peek_batch(std::span<RecordSpan>(spans, want), got);
    if (status != RingStatus::kOk) return ring_result(status, *ring, "rs_ring_peek_batch");
    for (std::uint32_t i = 0; i < got; ++i) out[i] = rs_record{spans[i].data, spans[i].length};
    *count = got;
    return RS_OK;
}

rs_result rs_ring_release(rs_ring_t* handle) {
    RingHandle* const ring = ring_side(handle, RS_ROLE_CONSUMER);
    if (ring == nullptr) [[unlikely]] return handle_refused(handle, RS_ROLE_CONSUMER, "rs_ring_release");
    const RingStatus status = ring->consumer.release();
    if (status != RingStatus::kOk) [[unlikely]] return ring_result(status, *ring, "rs_ring_release");
    notify_peer(*ring);
    return RS_OK;
}

rs_result rs_ring_read(rs_ring_t* handle, void* buffer, size_t capacity, size_t* length) {
    RingHandle* ring = side_from(handle, RS_ROLE_CONSUMER, "rs_ring_read");
    if (ring == nullptr) return RS_ERR_INVALID_ARGUMENT;
    if (length == nullptr) return fail(RS_ERR_INVALID_ARGUMENT, "rs_ring_read: length is NULL");
    RecordSpan span;
    const RingStatus status = ring->consumer.try_peek(span);
    if (status != RingStatus::kOk) return ring_result(status, *ring, "rs_ring_read");
    *length = span.length;
    if (buffer == nullptr || capacity < span.length) {
        return fail(RS_ERR_TOO_SMALL, "rs_ring_read: the record needs %u bytes, the buffer has %zu", span.length,
                    buffer == nullptr ? std::size_t{0} : capacity);
    }
    if (span.length != 0) std::memcpy(buffer, span.data, span.length);
    return ring_result(published(*ring, ring->consumer.release()), *ring, "rs_ring_read");
}

rs_result rs_ring_read_alloc(rs_ring_t* handle, void** out_buffer, size_t* length) {
    RingHandle* ring = side_from(handle, RS_ROLE_CONSUMER, "rs_ring_read_alloc");
    if (ring == nullptr) return RS_ERR_INVALID_ARGUMENT;
    if (out_buffer == nullptr || length == nullptr) {
        return fail(RS_ERR_INVALID_ARGUMENT, "rs_ring_read_alloc: out_buffer or length is NULL");
    }
    *out_buffer = nullptr;
    *length = 0;
    RecordSpan span;
    const RingStatus status = ring->consumer.try_peek(span);
    if (status != RingStatus::kOk) return ring_result(status, *ring, "rs_ring_read_alloc");
    void* copy = counted_malloc(span.length);
    if (copy == nullptr) return fail(RS_ERR_NO_MEMORY, "rs_ring_read_alloc: cannot allocate %u bytes", span.length);
    if (span.length != 0) std::memcpy(copy, span.data, span.length);
    const rs_result released = ring_result(published(*ring, ring->consumer.release()), *ring, "rs_ring_read_alloc");
    if (released != RS_OK) {
        counted_free(copy);
        return released;
    }
    *out_buffer = copy;
    *length = span.length;
    return RS_OK;
}

rs_result rs_ring_stats_json(rs_ring_t* handle, char** out_json) {
    if (out_json == nullptr) return fail(RS_ERR_INVALID_ARGUMENT, "rs_ring_stats_json: out_json is NULL");
    *out_json = nullptr;
    RingHandle* ring = ring_from(handle, "rs_ring_stats_json");
    if (ring == nullptr) return RS_ERR_INVALID_ARGUMENT;
    return ring_stats_json(*ring->region, ring->index, ring->role == RS_ROLE_PRODUCER ? "producer" : "consumer",
                           out_json, "rs_ring_stats_json");
}

rs_result rs_region_ring_stats_json(rs_region_t* handle, uint32_t index, char** out_json) {
    if (out_json == nullptr) return fail(RS_ERR_INVALID_ARGUMENT, "rs_region_ring_stats_json: out_json is NULL");
    *out_json = nullptr;
    Region* region = region_from(handle, "rs_region_ring_stats_json");
    if (region == nullptr) return RS_ERR_INVALID_ARGUMENT;
    if (index >= region->header().ring_count) {
        return fail(RS_ERR_INVALID_ARGUMENT, "rs_region_ring_stats_json: ring index %u >= ring_count %u", index,
                    region->header().ring_count);
    }
    return ring_stats_json(*region, index, "observer", out_json, "rs_region_ring_stats_json");
}

}  // extern "C"
