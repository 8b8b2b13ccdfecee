// A mapped ringside region: one of two backings (named POSIX shm or a regular
// file), the versioned header, and the page-fault options. Creation and
// opening validate everything; after that the mapping is plain memory.
#pragma once

#include <pthread.h>

#include <atomic>
#include <cstdint>

#include "ring/ring_view.hpp"
#include "ringside/ringside.h"
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
    [[nodiscard]] const char* name() const { return name_; }
    [[nodiscard]] rs_backing backing() const { return backing_; }
    [[nodiscard]] bool is_creator() const { return is_creator_; }
    [[nodiscard]] const MappingGrants& grants() const { return grants_; }
    [[nodiscard]] std::byte* base() const { return base_; }

    // Rings (and later sidecars) using this handle; destroy() refuses while non-zero.
    std::atomic<std::uint32_t> attached_users{0};

    Region() = default;
    ~Region();
    Region(const Region&) = delete;
    Region& operator=(const Region&) = delete;

private:
    rs_result map(int fd, std::uint64_t bytes, const rs_region_options& options, bool fresh);
    rs_result start_flusher(std::uint32_t interval_ms);
    void stop_flusher();
    static void* flusher_main(void* self);

    char* name_ = nullptr;  // counted copy
    rs_backing backing_ = RS_BACKING_SHM;
    bool is_creator_ = false;
    bool keep_on_destroy_ = false;
    int fd_ = -1;
    std::byte* base_ = nullptr;
    std::uint64_t bytes_ = 0;
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

// Validation shared by create, open and unlink.
rs_result validate_region_name(const char* name, rs_backing backing);
rs_result validate_options(const rs_region_options* options);

}  // namespace ringside
