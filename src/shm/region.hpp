// A mapped ringside region: one of two backings (named POSIX shm or a regular
// file), the versioned header, and the page-fault options. Creation and
// opening validate everything; after that the mapping is plain memory.
#pragma once

#include <pthread.h>

#include <atomic>
#include <cstdint>

#include "ring/ring_view.hpp"
#include "ringside/ringside.h"
#include "shm/backing_file.hpp"
#include "shm/layout.h"

namespace ringside {

// What was actually granted, read back rather than echoed from the request.
struct MappingGrants {
    bool prefaulted = false;
    bool memory_locked = false;
    bool huge_pages = false;
};

class Region {
public:
    // Both return RS_OK and a heap object (counted_delete it via destroy()),
    // or a failure with the thread's last error set.
    static rs_result create(const char* name, const rs_region_options& options, Region** out);
    static rs_result open(const char* name, const rs_region_options& options, Region** out);
    static rs_result unlink(const char* name, rs_backing backing);

    // RS_BUSY while rings are attached; otherwise unmaps, unlinks if creator.
    static rs_result destroy(Region* region);

    rs_result flush();

    // The header as validated at create/open: a private copy, never re-read
    // from shared memory, so a peer that rewrites the shared header later
    // cannot change the geometry this process uses (no double fetch).
    [[nodiscard]] const layout::RegionHeader& header() const { return header_; }
    [[nodiscard]] layout::StatusBlock& status() const;
    [[nodiscard]] RingView ring_view(std::uint32_t index) const;
    [[nodiscard]] const char* name() const { return file_.name(); }
    [[nodiscard]] rs_backing backing() const { return file_.backing(); }
    [[nodiscard]] bool is_creator() const { return is_creator_; }
    [[nodiscard]] const MappingGrants& grants() const { return grants_; }
    [[nodiscard]] std::byte* base() const { return file_.base(); }

    // Rings (and later sidecars) using this handle; destroy() refuses while non-zero.
    std::atomic<std::uint32_t> attached_users{0};

    Region() = default;
    ~Region();
    Region(const Region&) = delete;
    Region& operator=(const Region&) = delete;

private:
    rs_result map(const rs_region_options& options, bool fresh);
    rs_result start_flusher(std::uint32_t interval_ms);
    void stop_flusher();
    static void* flusher_main(void* self);

    BackingFile file_;  // name, descriptor, mapping
    bool is_creator_ = false;
    bool keep_on_destroy_ = false;
    layout::RegionHeader header_{};  // validated private copy (see header())
    MappingGrants grants_;

    // Periodic msync for file backings (a plain pthread: no heap allocation).
    bool flusher_running_ = false;
    pthread_t flusher_{};
    pthread_mutex_t flusher_mutex_ = PTHREAD_MUTEX_INITIALIZER;
    pthread_cond_t flusher_wake_ = PTHREAD_COND_INITIALIZER;
    bool flusher_stop_ = false;
    std::uint32_t flush_interval_ms_ = 0;
};

// Opening: a private copy of the shared header, each field read once
// (relaxed; the caller acquired the magic), and why that copy cannot describe
// a mapping of `bytes` bytes with `backing` (nullptr when it can).
layout::RegionHeader snapshot_header(const layout::RegionHeader& shared);
const char* header_problem(const layout::RegionHeader& header, std::uint64_t bytes, rs_backing backing);

// One relaxed load of a field of a shared header (the caller acquired the
// magic, which orders it after the creator's stores).
template <typename T>
T load_once(const T& field) {
    return std::atomic_ref<T>(const_cast<T&>(field)).load(std::memory_order_relaxed);
}

// Copies, each read once, the identity fields a ring region's header and a
// tracer region's (trace_layout.h) have in common.
template <typename Header>
void snapshot_shared_fields(const Header& shared, Header& copy) {
    copy.layout_major = load_once(shared.layout_major);
    copy.layout_minor = load_once(shared.layout_minor);
    copy.header_bytes = load_once(shared.header_bytes);
    copy.total_bytes = load_once(shared.total_bytes);
    copy.ring_capacity = load_once(shared.ring_capacity);
    copy.record_align = load_once(shared.record_align);
    copy.backing_kind = load_once(shared.backing_kind);
    copy.creator_pid = load_once(shared.creator_pid);
    copy.creator_start_ticks = load_once(shared.creator_start_ticks);
    copy.epoch = load_once(shared.epoch);
    copy.created_unix_ns = load_once(shared.created_unix_ns);
}

// The checks a ring region's header and a tracer region's (trace_layout.h)
// have in common, run first by both in this order: header_bytes within
// sizeof(Header)..max_header_bytes, total_bytes equal to the real mapping
// size, ring_capacity a power of two in layout range. nullptr when they pass.
template <typename Header>
const char* shared_header_problem(const Header& h, std::uint64_t max_header_bytes, std::uint64_t bytes) {
    if (h.header_bytes < sizeof(Header) || h.header_bytes > max_header_bytes) return "header_bytes out of range";
    if (h.total_bytes != bytes) return "total_bytes differs from the real mapping size";
    if ((h.ring_capacity & (h.ring_capacity - 1)) != 0 || h.ring_capacity < layout::kMinCapacity ||
        h.ring_capacity > layout::kMaxCapacity) {
        return "ring_capacity is not a power of two in range";
    }
    return nullptr;
}

// The header's backing_kind for a region opened or created with `backing`.
inline std::uint32_t header_backing_kind(rs_backing backing) {
    return static_cast<std::uint32_t>(backing == RS_BACKING_FILE ? layout::BackingKind::kFile
                                                                 : layout::BackingKind::kNamedShm);
}

// Validation shared by create, open and unlink.
rs_result validate_region_name(const char* name, rs_backing backing);
rs_result validate_options(const rs_region_options* options);

}  // namespace ringside
