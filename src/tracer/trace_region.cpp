#include "tracer/trace_region.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <type_traits>

#include "common/alloc.hpp"
#include "common/error.hpp"
#include "common/log.hpp"
#include "common/process.hpp"
#include "shm/guarded_map.hpp"
#include "shm/region.hpp"
#include "tracer/shared_fields.hpp"
#include "tracer/trace_clock.hpp"

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif

namespace ringside::trace {
namespace {

bool is_power_of_two(std::uint64_t value) { return value != 0 && (value & (value - 1)) == 0; }

int open_backing(const char* name, rs_backing backing, int flags, mode_t mode) {
    if (backing == RS_BACKING_SHM) return ::shm_open(name, flags, mode);
    return ::open(name, flags | O_NOFOLLOW | O_CLOEXEC, mode);
}

int unlink_backing(const char* name, rs_backing backing) {
    return backing == RS_BACKING_SHM ? ::shm_unlink(name) : ::unlink(name);
}

std::uint32_t backing_kind(rs_backing backing) {
    return static_cast<std::uint32_t>(backing == RS_BACKING_FILE ? layout::BackingKind::kFile
                                                                 : layout::BackingKind::kNamedShm);
}

std::uint64_t random_epoch() {
    std::uint64_t epoch = 0;
    if (::getrandom(&epoch, sizeof epoch, 0) != static_cast<ssize_t>(sizeof epoch) || epoch == 0) {
        epoch = monotonic_ns() ^ (static_cast<std::uint64_t>(::getpid()) << 40) ^ 1;
    }
    return epoch;
}

}  // namespace

// One relaxed load per field the opener validates and uses (the caller
// acquired the magic): the private copy that is validated and adopted, so a
// peer rewriting the shared header afterwards changes nothing here.
TraceHeader snapshot_trace_header(const TraceHeader& shared) {
    auto once = [](const auto& field) {
        using T = std::remove_cvref_t<decltype(field)>;
        return std::atomic_ref<T>(const_cast<T&>(field)).load(std::memory_order_relaxed);
    };
    TraceHeader copy{};
    copy.layout_major = once(shared.layout_major);
    copy.layout_minor = once(shared.layout_minor);
    copy.header_bytes = once(shared.header_bytes);
    copy.total_bytes = once(shared.total_bytes);
    copy.ring_capacity = once(shared.ring_capacity);
    copy.lane_count = once(shared.lane_count);
    copy.rings_per_lane = once(shared.rings_per_lane);
    copy.record_align = once(shared.record_align);
    copy.backing_kind = once(shared.backing_kind);
    copy.clock_kind = once(shared.clock_kind);
    return copy;
}

// Why a header (a private snapshot) cannot describe a mapping of `bytes`, or nullptr.
const char* trace_header_problem(const TraceHeader& header, std::uint64_t bytes, rs_backing backing) {
    if (header.header_bytes < sizeof(TraceHeader) || header.header_bytes > kTraceHeaderBytes) {
        return "header_bytes out of range";
    }
    if (header.total_bytes != bytes) return "total_bytes differs from the real mapping size";
    if (!is_power_of_two(header.ring_capacity) || header.ring_capacity < layout::kMinCapacity ||
        header.ring_capacity > layout::kMaxCapacity) {
        return "ring_capacity is not a power of two in range";
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
    if (header.backing_kind != backing_kind(backing)) return "backing kind differs from the one used to open it";
    return nullptr;
}

TraceRegion::~TraceRegion() {
    if (base_ != nullptr) unmap_guarded(base_, bytes_);
    if (fd_ >= 0) ::close(fd_);
    counted_free(name_);
}

RingView TraceRegion::ring_view(std::uint32_t lane, std::uint32_t ring) const {
    const std::uint64_t offset = ring_control_offset(lanes_, rings_per_lane_, capacity_, lane, ring);
    RingView view;
    view.control = reinterpret_cast<layout::RingControl*>(base_ + offset);
    view.data = base_ + offset + kRingControlBytes;
    view.capacity = capacity_;
    view.record_align = kRecordAlign;
    return view;
}

RingInfo& TraceRegion::ring_info(std::uint32_t lane, std::uint32_t ring) const {
    const std::uint64_t offset = ring_control_offset(lanes_, rings_per_lane_, capacity_, lane, ring);
    return *reinterpret_cast<RingInfo*>(base_ + offset + kRingInfoOffset);
}

void TraceRegion::adopt_geometry(const TraceHeader& h) {
    lanes_ = h.lane_count;
    rings_per_lane_ = h.rings_per_lane;
    capacity_ = h.ring_capacity;
    clock_ = static_cast<ClockKind>(h.clock_kind);
}

rs_result TraceRegion::map(int fd, std::uint64_t bytes, Access access, bool populate) {
    const int protection = access == Access::kReadOnly ? PROT_READ : PROT_READ | PROT_WRITE;
    void* address = map_guarded(bytes, protection, MAP_SHARED | (populate ? MAP_POPULATE : 0), fd);
    if (address == MAP_FAILED) {
        return fail_errno(result_from_errno(errno), errno, "mmap of %llu bytes failed",
                          static_cast<unsigned long long>(bytes));
    }
    base_ = static_cast<std::byte*>(address);
    bytes_ = bytes;
    return RS_OK;
}

rs_result TraceRegion::create(const char* name, rs_backing backing, const TraceGeometry& geometry,
                              std::uint32_t mode, ClockKind clock, bool prefault, TraceRegion** out) {
    if (rs_result r = validate_region_name(name, backing); r != RS_OK) return r;
    auto* region = counted_new<TraceRegion>();
    char* copy = counted_strdup(name, std::strlen(name));
    if (region == nullptr || copy == nullptr) {
        counted_delete(region);
        counted_free(copy);
        return fail(RS_ERR_NO_MEMORY, "out of memory creating tracer region '%s'", name);
    }
    region->name_ = copy;
    region->backing_ = backing;
    const int fd = open_backing(name, backing, O_RDWR | O_CREAT | O_EXCL, static_cast<mode_t>(mode));
    if (fd < 0) {
        const int err = errno;
        counted_delete(region);
        return fail_errno(result_from_errno(err), err, "cannot create tracer region '%s'", name);
    }
    region->fd_ = fd;
    auto abandon = [&](rs_result code) {
        counted_delete(region);
        unlink_backing(name, backing);
        return code;
    };
    if (::fchmod(fd, static_cast<mode_t>(mode)) != 0) {
        return abandon(fail_errno(RS_ERR_PERMISSION, errno, "fchmod of '%s' failed", name));
    }
    const std::uint64_t bytes = trace_region_bytes(geometry.lanes, geometry.rings_per_lane, geometry.ring_capacity);
    if (::ftruncate(fd, static_cast<off_t>(bytes)) != 0) {
        return abandon(fail_errno(result_from_errno(errno), errno, "cannot size '%s' to %llu bytes", name,
                                  static_cast<unsigned long long>(bytes)));
    }
    // Blocks allocated now: a full disk or tmpfs fails here, not as SIGBUS in emit.
    if (const int err = ::posix_fallocate(fd, 0, static_cast<off_t>(bytes)); err != 0) {
        return abandon(fail_errno(RS_ERR_NO_MEMORY, err, "cannot allocate %llu bytes for '%s'",
                                  static_cast<unsigned long long>(bytes), name));
    }
    if (rs_result r = region->map(fd, bytes, Access::kReadWrite, prefault); r != RS_OK) return abandon(r);

    TraceHeader& header = region->header();
    header.layout_major = kTraceMajor;
    header.layout_minor = kTraceMinor;
    header.header_bytes = sizeof(TraceHeader);
    header.total_bytes = bytes;
    header.ring_capacity = geometry.ring_capacity;
    header.lane_count = geometry.lanes;
    header.rings_per_lane = geometry.rings_per_lane;
    header.record_align = kRecordAlign;
    header.backing_kind = backing_kind(backing);
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
    log(LogLevel::kInfo, "created tracer region '%s': %u lane(s) x %u ring(s) x %llu bytes", name_, lanes_,
        rings_per_lane_, static_cast<unsigned long long>(capacity_));
}

rs_result TraceRegion::open(const char* name, rs_backing backing, Access access, TraceRegion** out) {
    if (rs_result r = validate_region_name(name, backing); r != RS_OK) return r;
    const int fd = open_backing(name, backing, access == Access::kReadOnly ? O_RDONLY : O_RDWR, 0);
    if (fd < 0) {
        const int err = errno;
        if (err == ELOOP) return fail(RS_ERR_PERMISSION, "refusing to open '%s': it is a symbolic link", name);
        return fail_errno(result_from_errno(err), err, "cannot open tracer region '%s'", name);
    }
    struct stat info {};
    if (::fstat(fd, &info) != 0 || !S_ISREG(info.st_mode)) {
        ::close(fd);
        return fail(RS_ERR_INVALID_ARGUMENT, "'%s' is not a regular file", name);
    }
    const auto bytes = static_cast<std::uint64_t>(info.st_size);
    if (bytes == 0) {
        ::close(fd);
        return fail(RS_BUSY, "tracer region '%s' has size 0: its creator has not finished", name);
    }
    if (bytes < kTraceHeaderBytes) {
        ::close(fd);
        return fail(RS_ERR_CORRUPT, "'%s' is %llu bytes, smaller than a tracer header page", name,
                    static_cast<unsigned long long>(bytes));
    }
    auto* region = counted_new<TraceRegion>();
    char* copy = counted_strdup(name, std::strlen(name));
    if (region == nullptr || copy == nullptr) {
        ::close(fd);
        counted_delete(region);
        counted_free(copy);
        return fail(RS_ERR_NO_MEMORY, "out of memory opening tracer region '%s'", name);
    }
    region->name_ = copy;
    region->backing_ = backing;
    region->fd_ = fd;
    auto abandon = [&](rs_result code) {
        counted_delete(region);
        return code;
    };
    if (rs_result r = region->map(fd, bytes, access, false); r != RS_OK) return abandon(r);
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
    if (unlink_name && unlink_backing(region->name_, region->backing_) != 0 && errno != ENOENT) {
        log(LogLevel::kWarn, "tracer region '%s' unmapped but not unlinked: %s", region->name_, std::strerror(errno));
    }
    counted_delete(region);
}

void TraceRegion::prefault_lane(std::uint32_t lane) const {
    ::madvise(base_ + lane_control_offset(lane), kLaneControlBytes, MADV_POPULATE_WRITE);
    const std::uint64_t first = ring_control_offset(lanes_, rings_per_lane_, capacity_, lane, 0);
    // Best effort: older kernels reject MADV_POPULATE_WRITE and fault lazily.
    ::madvise(base_ + first, rings_per_lane_ * ring_stride(capacity_), MADV_POPULATE_WRITE);
}

rs_result TraceRegion::sync() const {
    if (backing_ != RS_BACKING_FILE) return RS_OK;
    if (::msync(base_, bytes_, MS_SYNC) != 0) {
        return fail_errno(result_from_errno(errno), errno, "msync of tracer region '%s' failed", name_);
    }
    return RS_OK;
}

}  // namespace ringside::trace
