// A mapped tracer region (trace_layout.h): creation by the controller,
// opening by agents, controllers that recover and inspectors, with every
// header field validated against the real mapping. The two backings are the
// same as a ring region's (named POSIX shm, or a file that survives crashes).
#pragma once

#include <cstdint>

#include "ring/ring_view.hpp"
#include "ringside/ringside.h"
#include "shm/backing_file.hpp"
#include "tracer/trace_layout.h"

namespace ringside::trace {

struct TraceGeometry {
    std::uint32_t lanes = 1;
    std::uint32_t rings_per_lane = 16;
    std::uint64_t ring_capacity = 1u << 20;
};

class TraceRegion {
public:
    enum class Access { kReadWrite, kReadOnly };

    // Creates, sizes (posix_fallocate) and maps a zeroed region and writes
    // its header, but not the magic: call publish() once the lanes are
    // initialised. On failure nothing is left behind.
    static rs_result create(const char* name, rs_backing backing, const TraceGeometry& geometry, std::uint32_t mode,
                            ClockKind clock, bool prefault, TraceRegion** out);
    // Opens and validates an existing region. RS_BUSY if not yet published.
    static rs_result open(const char* name, rs_backing backing, Access access, TraceRegion** out);
    // Unmaps; with `unlink_name`, also removes the name or file.
    static void destroy(TraceRegion* region, bool unlink_name);

    // SYNC: publish-header (release store of the magic).
    void publish();

    [[nodiscard]] TraceHeader& header() const { return *reinterpret_cast<TraceHeader*>(base()); }
    [[nodiscard]] LaneControl& lane(std::uint32_t index) const {
        return *reinterpret_cast<LaneControl*>(base() + lane_control_offset(index));
    }
    [[nodiscard]] RingView ring_view(std::uint32_t lane, std::uint32_t ring) const;
    [[nodiscard]] RingInfo& ring_info(std::uint32_t lane, std::uint32_t ring) const;
    [[nodiscard]] std::uint32_t lanes() const { return lanes_; }
    [[nodiscard]] std::uint32_t rings_per_lane() const { return rings_per_lane_; }
    [[nodiscard]] std::uint64_t ring_capacity() const { return capacity_; }
    [[nodiscard]] ClockKind clock() const { return clock_; }
    [[nodiscard]] const char* name() const { return file_.name(); }
    [[nodiscard]] rs_backing backing() const { return file_.backing(); }
    [[nodiscard]] std::uint64_t bytes() const { return file_.bytes(); }

    // Maps the pages of one lane (its control page and rings) writable now,
    // so the first events do not take page faults. Best effort.
    void prefault_lane(std::uint32_t lane) const;
    // msync of the whole mapping (file backing); RS_OK for shm.
    rs_result sync() const;

    TraceRegion() = default;
    ~TraceRegion() = default;
    TraceRegion(const TraceRegion&) = delete;
    TraceRegion& operator=(const TraceRegion&) = delete;

private:
    [[nodiscard]] std::byte* base() const { return file_.base(); }
    void adopt_geometry(const TraceHeader& validated);

    BackingFile file_;  // name, descriptor, mapping
    std::uint32_t lanes_ = 0;
    std::uint32_t rings_per_lane_ = 0;
    std::uint64_t capacity_ = 0;
    ClockKind clock_ = ClockKind::kMonotonic;
};

// Opening: a private copy of the shared header's geometry fields, each read
// once (relaxed; the caller acquired the magic), and why that copy cannot
// describe a mapping of `bytes` bytes with `backing` (nullptr when it can).
TraceHeader snapshot_trace_header(const TraceHeader& shared);
const char* trace_header_problem(const TraceHeader& header, std::uint64_t bytes, rs_backing backing);

}  // namespace ringside::trace
