#include "tracer/trace_region.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <utility>

#include "common/alloc.hpp"
#include "common/error.hpp"
#include "common/log.hpp"
#include "common/process.hpp"
#include "shm/backing_file.hpp"
#include "shm/region.hpp"
#include "tracer/shared_fields.hpp"
#include "tracer/trace_clock.hpp"

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif

namespace ringside::trace {
namespace {

rs_result cannot_open(const char* name, rs_backing, int err, bool creating) {
    if (creating) return fail_errno(result_from_errno(err), err, "cannot create tracer region '%s'", name);
    if (err == ELOOP) return fail(RS_ERR_PERMISSION, "refusing to open '%s': it is a symbolic link", name);
    return fail_errno(result_from_errno(err), err, "cannot open tracer region '%s'", name);
}

rs_result trace_region_is_empty(const char* name) {
    return fail(RS_BUSY, "tracer region '%s' has size 0: its creator has not finished", name);
}

rs_result trace_region_is_too_small(const char* name, std::uint64_t bytes) {
    return fail(RS_ERR_CORRUPT, "'%s' is %llu bytes, smaller than a tracer header page", name,
                static_cast<unsigned long long>(bytes));
}

constexpr BackingWording kWording{"tracer region", &cannot_open, &trace_region_is_empty, &trace_region_is_too_small};

std::uint64_t random_epoch() {
    std::uint64_t epoch = 0;
    if (::getrandom(&epoch, sizeof epoch, 0) != static_cast<ssize_t>(sizeof epoch) || epoch == 0) {
        epoch = monotonic_ns() ^ (static_cast<std::uint64_t>(::getpid()) << 40) ^ 1;
    }
    return epoch;
}

}  // namespace

// One relaxed load per identity field (the caller acquired the magic): the
// private copy that is validated and adopted, so a peer rewriting the shared
// header afterwards changes nothing here.
TraceHeader snapshot_trace_header(const TraceHeader& shared) {
    TraceHeader copy{};
    snapshot_shared_fields(shared, copy);
    copy.lane_count = load_once(shared.lane_count);
    copy.rings_per_lane = load_once(shared.rings_per_lane);
    copy.clock_kind = load_once(shared.clock_kind);
    return copy;
}

// Why a header (a private snapshot) cannot describe a mapping of `bytes`, or nullptr.
const char* trace_header_problem(const TraceHeader& header, std::uint64_t bytes, rs_backing backing) {
    if (const char* problem = shared_header_problem(header, kTraceHeaderBytes, bytes); problem != nullptr) {
        return problem;
    }
    if (header.lane_count < 1 || header.lane_count > kMaxLanes) return "lane_count out of range";
    if (header.rings_per_lane < kMinRingsPerLane || header.rings_per_lane > kMaxRingsPerLane) {
        return "rings_per_lane out of range";
    }
    if (header.record_align != kRecordAlign) return "record_align is not 8";
    if (header.clock_kind != static_cast<std::uint32_t>(ClockKind::kTsc) &&
        header.clock_kind != static_cast<std::uint32_t>(ClockKind::kMonotonic)) {
        return "unknown clock kind";
    }
    if (trace_region_bytes(header.lane_count, header.rings_per_lane, header.ring_capacity) != bytes) {
        return "lanes x rings x capacity does not match the mapping size";
    }
    if (header.backing_kind != header_backing_kind(backing)) return "backing kind differs from the one used to open it";
    return nullptr;
}

RingView TraceRegion::ring_view(std::uint32_t lane, std::uint32_t ring) const {
    const std::uint64_t offset = ring_control_offset(lanes_, rings_per_lane_, capacity_, lane, ring);
    RingView view;
    view.control = reinterpret_cast<layout::RingControl*>(base() + offset);
    view.data = base() + offset + kRingControlBytes;
    view.capacity = capacity_;
    view.record_align = kRecordAlign;
    return view;
}

RingInfo& TraceRegion::ring_info(std::uint32_t lane, std::uint32_t ring) const {
    const std::uint64_t offset = ring_control_offset(lanes_, rings_per_lane_, capacity_, lane, ring);
    return *reinterpret_cast<RingInfo*>(base() + offset + kRingInfoOffset);
}

void TraceRegion::adopt_geometry(const TraceHeader& h) {
    lanes_ = h.lane_count;
    rings_per_lane_ = h.rings_per_lane;
    capacity_ = h.ring_capacity;
    clock_ = static_cast<ClockKind>(h.clock_kind);
}

rs_result TraceRegion::create(const char* name, rs_backing backing, const TraceGeometry& geometry,
                              std::uint32_t mode, ClockKind clock, bool prefault, TraceRegion** out) {
    if (rs_result r = validate_region_name(name, backing); r != RS_OK) return r;
    const std::uint64_t bytes = trace_region_bytes(geometry.lanes, geometry.rings_per_lane, geometry.ring_capacity);
    auto* region = counted_new<TraceRegion>();
    if (region == nullptr) return fail(RS_ERR_NO_MEMORY, "out of memory creating tracer region '%s'", name);
    // Sized and allocated now: a full disk or tmpfs fails here, not as SIGBUS in emit.
    if (rs_result r = region->file_.create(name, backing, mode, bytes, kWording); r != RS_OK) {
        counted_delete(region);
        return r;
    }
    if (rs_result r = region->file_.map(PROT_READ | PROT_WRITE, prefault); r != RS_OK) {
        counted_delete(region);
        unlink_backing(name, backing);
        return r;
    }

    TraceHeader& header = region->header();
    header.layout_major = kTraceMajor;
    header.layout_minor = kTraceMinor;
    header.header_bytes = sizeof(TraceHeader);
    header.total_bytes = bytes;
    header.ring_capacity = geometry.ring_capacity;
    header.lane_count = geometry.lanes;
    header.rings_per_lane = geometry.rings_per_lane;
    header.record_align = kRecordAlign;
    header.backing_kind = header_backing_kind(backing);
    header.creator_pid = ::getpid();
    header.creator_start_ticks = self_start_ticks();
    header.epoch = random_epoch();
    header.created_unix_ns = unix_ns();
    if (clock == ClockKind::kTsc && !tsc_invariant()) clock = ClockKind::kMonotonic;
    if (clock == ClockKind::kTsc) {
        header.tsc_hz = calibrate_tsc_hz(20'000'000, header.calib_tsc, header.calib_ns);
        if (header.tsc_hz == 0) clock = ClockKind::kMonotonic;
    }
    header.clock_kind = static_cast<std::uint32_t>(clock);
    // From our own values, not read back: another process with access to
    // the file could rewrite the shared header at any time.
    TraceHeader mine{};
    mine.lane_count = geometry.lanes;
    mine.rings_per_lane = geometry.rings_per_lane;
    mine.ring_capacity = geometry.ring_capacity;
    mine.clock_kind = static_cast<std::uint32_t>(clock);
    region->adopt_geometry(mine);
    *out = region;
    return RS_OK;
}

void TraceRegion::publish() {
    // SYNC: publish-header. release: the header and every lane initialised
    // before are visible to an opener that acquires a non-zero magic.
    std::atomic_ref<std::uint64_t>(header().magic).store(kTraceMagic, std::memory_order_release);
    log(LogLevel::kInfo, "created tracer region '%s': %u lane(s) x %u ring(s) x %llu bytes", name(), lanes_,
        rings_per_lane_, static_cast<unsigned long long>(capacity_));
}

rs_result TraceRegion::open(const char* name, rs_backing backing, Access access, TraceRegion** out) {
    if (rs_result r = validate_region_name(name, backing); r != RS_OK) return r;
    const bool read_only = access == Access::kReadOnly;
    BackingFile file;
    const int flags = read_only ? O_RDONLY : O_RDWR;
    if (rs_result r = file.open(name, backing, flags, kTraceHeaderBytes, kWording); r != RS_OK) return r;
    auto* region = counted_new<TraceRegion>();
    if (region == nullptr) return fail(RS_ERR_NO_MEMORY, "out of memory opening tracer region '%s'", name);
    region->file_ = std::move(file);
    auto abandon = [&](rs_result code) {
        counted_delete(region);
        return code;
    };
    const int protection = read_only ? PROT_READ : PROT_READ | PROT_WRITE;
    if (rs_result r = region->file_.map(protection, false); r != RS_OK) return abandon(r);
    const std::uint64_t bytes = region->file_.bytes();
    TraceHeader& header = region->header();
    // SYNC: publish-header (acquire pairs with the creator's release).
    const std::uint64_t magic = std::atomic_ref<std::uint64_t>(header.magic).load(std::memory_order_acquire);
    if (magic == 0) return abandon(fail(RS_BUSY, "tracer region '%s' is not ready: not yet published", name));
    if (magic == layout::kMagic) {
        return abandon(fail(RS_ERR_INVALID_ARGUMENT, "'%s' is a ring region, not a tracer region", name));
    }
    if (magic != kTraceMagic) {
        return abandon(fail(RS_ERR_CORRUPT, "'%s' is not a ringside tracer region (magic 0x%016llx)", name,
                            static_cast<unsigned long long>(magic)));
    }
    const TraceHeader snapshot = snapshot_trace_header(header);
    if (snapshot.layout_major != kTraceMajor) {
        return abandon(fail(RS_ERR_VERSION_MISMATCH,
                            "tracer region '%s' has layout version %u.%u; this library reads %u.x (%u.%u)", name,
                            snapshot.layout_major, snapshot.layout_minor, kTraceMajor, kTraceMajor, kTraceMinor));
    }
    if (const char* problem = trace_header_problem(snapshot, bytes, backing); problem != nullptr) {
        return abandon(fail(RS_ERR_CORRUPT, "tracer region '%s' header is invalid: %s", name, problem));
    }
    region->adopt_geometry(snapshot);
    *out = region;
    return RS_OK;
}

void TraceRegion::destroy(TraceRegion* region, bool unlink_name) {
    if (region == nullptr) return;
    if (unlink_name && unlink_backing(region->name(), region->backing()) != 0 && errno != ENOENT) {
        log(LogLevel::kWarn, "tracer region '%s' unmapped but not unlinked: %s", region->name(), std::strerror(errno));
    }
    counted_delete(region);
}

void TraceRegion::prefault_lane(std::uint32_t lane) const {
    ::madvise(base() + lane_control_offset(lane), kLaneControlBytes, MADV_POPULATE_WRITE);
    const std::uint64_t first = ring_control_offset(lanes_, rings_per_lane_, capacity_, lane, 0);
    // Best effort: older kernels reject MADV_POPULATE_WRITE and fault lazily.
    ::madvise(base() + first, rings_per_lane_ * ring_stride(capacity_), MADV_POPULATE_WRITE);
}

rs_result TraceRegion::sync() const {
    if (backing() != RS_BACKING_FILE) return RS_OK;
    if (::msync(base(), bytes(), MS_SYNC) != 0) {
        return fail_errno(result_from_errno(errno), errno, "msync of tracer region '%s' failed", name());
    }
    return RS_OK;
}

}  // namespace ringside::trace
