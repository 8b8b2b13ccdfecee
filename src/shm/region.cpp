#include "shm/region.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "common/alloc.hpp"
#include "common/error.hpp"
#include "common/log.hpp"
#include "common/process.hpp"
#include "shm/guarded_map.hpp"

namespace ringside {
namespace {

constexpr std::uint64_t kPageBytes = 4096;

const char* backing_name(rs_backing backing) { return backing == RS_BACKING_FILE ? "file" : "shm"; }

std::uint64_t random_epoch() {
    std::uint64_t epoch = 0;
    if (::getrandom(&epoch, sizeof epoch, 0) != static_cast<ssize_t>(sizeof epoch) || epoch == 0) {
        timespec now{};
        ::clock_gettime(CLOCK_REALTIME, &now);
        epoch = (static_cast<std::uint64_t>(now.tv_sec) << 30) ^ static_cast<std::uint64_t>(now.tv_nsec) ^
                (static_cast<std::uint64_t>(::getpid()) << 48) ^ 1;
    }
    return epoch;
}

std::uint64_t unix_ns_now() {
    timespec now{};
    ::clock_gettime(CLOCK_REALTIME, &now);
    return static_cast<std::uint64_t>(now.tv_sec) * 1'000'000'000ull + static_cast<std::uint64_t>(now.tv_nsec);
}

bool is_power_of_two(std::uint64_t value) { return value != 0 && (value & (value - 1)) == 0; }

// Strict UTF-8: no overlongs, no surrogates, nothing above U+10FFFF.
bool is_valid_utf8(const unsigned char* text) {
    while (*text != 0) {
        const unsigned char lead = *text;
        int extra = 0;
        std::uint32_t code = 0;
        if (lead < 0x80) { ++text; continue; }
        if ((lead & 0xE0) == 0xC0) { extra = 1; code = lead & 0x1F; }
        else if ((lead & 0xF0) == 0xE0) { extra = 2; code = lead & 0x0F; }
        else if ((lead & 0xF8) == 0xF0) { extra = 3; code = lead & 0x07; }
        else return false;
        for (int i = 1; i <= extra; ++i) {
            if ((text[i] & 0xC0) != 0x80) return false;
            code = (code << 6) | (text[i] & 0x3F);
        }
        static constexpr std::uint32_t kMinimum[] = {0, 0x80, 0x800, 0x10000};
        if (code < kMinimum[extra] || code > 0x10FFFF || (code >= 0xD800 && code <= 0xDFFF)) return false;
        text += extra + 1;
    }
    return true;
}

int unlink_backing(const char* name, rs_backing backing) {
    return backing == RS_BACKING_SHM ? ::shm_unlink(name) : ::unlink(name);
}

// What to do about a failed open or create, for the error message.
const char* open_hint(int err, bool creating) {
    switch (err) {
        case ENOENT: return creating ? "the folder does not exist: create it first"
                                     : "no such region: create it first, or check the name and the backing";
        case EEXIST: return "a region of that name exists: open it, or unlink it if its creator is dead "
                            "(ringside-inspect --cleanup-stale)";
        case EACCES:
        case EPERM: return "no permission: run as its owner, or have the creator share it (rs_region_options.mode)";
        case ENAMETOOLONG: return "the name is too long for the file system";
        case ENOTDIR: return "a part of the path is not a folder";
        default: return "see the system error";
    }
}

int open_backing(const char* name, rs_backing backing, int flags, mode_t mode) {
    if (backing == RS_BACKING_SHM) return ::shm_open(name, flags, mode);
    return ::open(name, flags | O_NOFOLLOW | O_CLOEXEC, mode);
}

template <typename T>
T load_once(const T& field) {
    return std::atomic_ref<T>(const_cast<T&>(field)).load(std::memory_order_relaxed);
}

}  // namespace

// One relaxed load per field (the magic was acquired by the caller, which
// orders these after the creator's stores): a private copy to validate.
layout::RegionHeader snapshot_header(const layout::RegionHeader& shared) {
    layout::RegionHeader copy{};
    copy.layout_major = load_once(shared.layout_major);
    copy.layout_minor = load_once(shared.layout_minor);
    copy.header_bytes = load_once(shared.header_bytes);
    copy.total_bytes = load_once(shared.total_bytes);
    copy.ring_capacity = load_once(shared.ring_capacity);
    copy.ring_count = load_once(shared.ring_count);
    copy.record_align = load_once(shared.record_align);
    copy.backing_kind = load_once(shared.backing_kind);
    copy.creator_pid = load_once(shared.creator_pid);
    copy.creator_start_ticks = load_once(shared.creator_start_ticks);
    copy.epoch = load_once(shared.epoch);
    copy.created_unix_ns = load_once(shared.created_unix_ns);
    copy.flags = load_once(shared.flags);
    return copy;
}

// Why a header (a private snapshot) cannot describe a mapping of `bytes`
// bytes opened with `backing`, or nullptr when it can.
const char* header_problem(const layout::RegionHeader& h, std::uint64_t bytes, rs_backing backing) {
    const std::uint32_t expected_backing = static_cast<std::uint32_t>(
        backing == RS_BACKING_FILE ? layout::BackingKind::kFile : layout::BackingKind::kNamedShm);
    if (h.header_bytes < sizeof(layout::RegionHeader) || h.header_bytes > layout::kStatusOffset) {
        return "header_bytes out of range";
    }
    if (h.total_bytes != bytes) return "total_bytes differs from the real mapping size";
    if (!is_power_of_two(h.ring_capacity) || h.ring_capacity < layout::kMinCapacity ||
        h.ring_capacity > layout::kMaxCapacity) {
        return "ring_capacity is not a power of two in range";
    }
    if (h.ring_count < 1 || h.ring_count > layout::kMaxRings) return "ring_count out of range";
    if (!is_power_of_two(h.record_align) || h.record_align < 8 || h.record_align > 4096) {
        return "record_align is not a power of two in 8..4096";
    }
    if (std::uint64_t{h.record_align} * 4 > h.ring_capacity) return "record_align exceeds a quarter of ring_capacity";
    if (layout::region_bytes(h.ring_count, h.ring_capacity) != bytes) {
        return "ring_count x ring_capacity does not match the mapping size";
    }
    if (h.backing_kind != expected_backing) return "backing kind differs from the one used to open it";
    return nullptr;
}

rs_result validate_region_name(const char* name, rs_backing backing) {
    if (name == nullptr) return fail(RS_ERR_INVALID_ARGUMENT, "region name is NULL");
    const std::size_t length = ::strnlen(name, 4097);
    if (backing == RS_BACKING_SHM) {
        if (length < 2 || length > 250) {
            return fail(RS_ERR_INVALID_ARGUMENT, "shm name must be 2..250 bytes including the leading '/', got %zu",
                        length);
        }
        if (name[0] != '/') return fail(RS_ERR_INVALID_ARGUMENT, "shm name '%s' must start with '/'", name);
        if (std::strchr(name + 1, '/') != nullptr) {
            return fail(RS_ERR_INVALID_ARGUMENT, "shm name '%s' may hold no '/' after the first", name);
        }
    } else if (backing == RS_BACKING_FILE) {
        if (length == 0 || length >= 4096) {
            return fail(RS_ERR_INVALID_ARGUMENT, "file path must be 1..4095 bytes, got %zu", length);
        }
    } else {
        return fail(RS_ERR_INVALID_ARGUMENT, "unknown backing %d", static_cast<int>(backing));
    }
    if (!is_valid_utf8(reinterpret_cast<const unsigned char*>(name))) {
        return fail(RS_ERR_INVALID_ARGUMENT, "region name is not valid UTF-8");
    }
    return RS_OK;
}

rs_result validate_options(const rs_region_options* options) {
    if (options->struct_size < sizeof(rs_region_options) || options->check != 0x52534F50u) {
        return fail(RS_ERR_INVALID_ARGUMENT,
                    "rs_region_options not initialised (struct_size %u, check 0x%x): call rs_region_options_init",
                    options->struct_size, options->check);
    }
    if (options->backing != RS_BACKING_SHM && options->backing != RS_BACKING_FILE) {
        return fail(RS_ERR_INVALID_ARGUMENT, "unknown backing %d", static_cast<int>(options->backing));
    }
    if (options->ring_count < 1 || options->ring_count > layout::kMaxRings) {
        return fail(RS_ERR_INVALID_ARGUMENT, "ring_count %u outside 1..%u", options->ring_count, layout::kMaxRings);
    }
    if (!is_power_of_two(options->ring_capacity) || options->ring_capacity < layout::kMinCapacity ||
        options->ring_capacity > layout::kMaxCapacity) {
        return fail(RS_ERR_INVALID_ARGUMENT, "ring_capacity %llu must be a power of two in %llu..%llu",
                    static_cast<unsigned long long>(options->ring_capacity),
                    static_cast<unsigned long long>(layout::kMinCapacity),
                    static_cast<unsigned long long>(layout::kMaxCapacity));
    }
    if (!is_power_of_two(options->record_align) || options->record_align < 8 || options->record_align > 4096) {
        return fail(RS_ERR_INVALID_ARGUMENT, "record_align %u must be a power of two in 8..4096",
                    options->record_align);
    }
    if (std::uint64_t{options->record_align} * 4 > options->ring_capacity) {
        return fail(RS_ERR_INVALID_ARGUMENT, "record_align %u must be at most a quarter of ring_capacity %llu",
                    options->record_align, static_cast<unsigned long long>(options->ring_capacity));
    }
    if ((options->mode & ~0777u) != 0) {
        return fail(RS_ERR_INVALID_ARGUMENT, "mode 0%o has bits outside 0777", options->mode);
    }
    if (options->flush_interval_ms != 0 && options->backing != RS_BACKING_FILE) {
        return fail(RS_ERR_INVALID_ARGUMENT, "flush_interval_ms applies to the file backing only");
    }
    return RS_OK;
}

Region::~Region() {
    stop_flusher();
    if (base_ != nullptr) {
        if (grants_.memory_locked) ::munlock(base_, bytes_);
        unmap_guarded(base_, bytes_);
    }
    if (fd_ >= 0) ::close(fd_);
    counted_free(name_);
}

layout::StatusBlock& Region::status() const {
    return *reinterpret_cast<layout::StatusBlock*>(base_ + layout::kStatusOffset);
}

RingView Region::ring_view(std::uint32_t index) const {
    const std::uint64_t capacity = header_.ring_capacity;
    RingView view;
    view.control = reinterpret_cast<layout::RingControl*>(base_ + layout::ring_control_offset(index, capacity));
    view.data = base_ + layout::ring_data_offset(index, capacity);
    view.capacity = capacity;
    view.record_align = header_.record_align;
    return view;
}

rs_result Region::map(int fd, std::uint64_t bytes, const rs_region_options& options, bool fresh) {
    const int flags = MAP_SHARED | (options.prefault != 0 ? MAP_POPULATE : 0);
    void* address = map_guarded(bytes, PROT_READ | PROT_WRITE, flags, fd);
    if (address == MAP_FAILED) {
        return fail_errno(result_from_errno(errno), errno, "mmap of %llu bytes failed",
                          static_cast<unsigned long long>(bytes));
    }
    base_ = static_cast<std::byte*>(address);
    bytes_ = bytes;
    if (options.huge_pages != 0) grants_.huge_pages = ::madvise(address, bytes, MADV_HUGEPAGE) == 0;
    if (options.prefault != 0) {
        // MAP_POPULATE maps the pages; a fresh region also takes the write
        // fault now (zero stores into zero memory), not on the hot path.
        if (fresh) {
            for (std::uint64_t offset = 0; offset < bytes; offset += kPageBytes) {
                reinterpret_cast<volatile std::byte*>(base_)[offset] = std::byte{0};
            }
        }
        grants_.prefaulted = true;
    }
    if (options.lock_memory != 0) {
        if (::mlock(address, bytes) != 0) {
            return fail_errno(RS_ERR_PERMISSION, errno,
                              "mlock of %llu bytes refused (raise RLIMIT_MEMLOCK or clear lock_memory)",
                              static_cast<unsigned long long>(bytes));
        }
        grants_.memory_locked = true;
    }
    return RS_OK;
}

rs_result Region::create(const char* name, const rs_region_options& options, Region** out) {
    if (rs_result r = validate_options(&options); r != RS_OK) return r;
    if (rs_result r = validate_region_name(name, options.backing); r != RS_OK) return r;
    Region* region = counted_new<Region>();
    char* name_copy = counted_strdup(name, std::strlen(name));
    if (region == nullptr || name_copy == nullptr) {
        counted_delete(region);
        counted_free(name_copy);
        return fail(RS_ERR_NO_MEMORY, "out of memory creating region '%s'", name);
    }
    region->name_ = name_copy;
    region->backing_ = options.backing;
    region->keep_on_destroy_ = options.keep_on_destroy != 0;

    const int fd = open_backing(name, options.backing, O_RDWR | O_CREAT | O_EXCL, static_cast<mode_t>(options.mode));
    if (fd < 0) {
        const int err = errno;
        counted_delete(region);
        return fail_errno(result_from_errno(err), err, "cannot create %s region '%s' (%s)",
                          backing_name(options.backing), name, open_hint(err, true));
    }
    region->fd_ = fd;
    region->is_creator_ = true;  // from here on, destroying the half-built region unlinks it
    auto abandon = [&](rs_result code) {
        counted_delete(region);
        unlink_backing(name, options.backing);  // keeps the caller's error message
        return code;
    };
    // The umask must not weaken or widen the requested mode.
    if (::fchmod(fd, static_cast<mode_t>(options.mode)) != 0) {
        return abandon(fail_errno(RS_ERR_PERMISSION, errno, "fchmod of '%s' failed", name));
    }
    const std::uint64_t bytes = layout::region_bytes(options.ring_count, options.ring_capacity);
    if (::ftruncate(fd, static_cast<off_t>(bytes)) != 0) {
        return abandon(fail_errno(result_from_errno(errno), errno, "cannot size '%s' to %llu bytes", name,
                                  static_cast<unsigned long long>(bytes)));
    }
    // Allocate the blocks now: a full disk or tmpfs must fail here, not as a
    // SIGBUS on a store in the hot path.
    if (const int err = ::posix_fallocate(fd, 0, static_cast<off_t>(bytes)); err != 0) {
        return abandon(fail_errno(RS_ERR_NO_MEMORY, err, "cannot allocate %llu bytes for '%s'",
                                  static_cast<unsigned long long>(bytes), name));
    }
    if (rs_result r = region->map(fd, bytes, options, true); r != RS_OK) return abandon(r);

    // Built privately, then copied out: the private copy is what this process
    // uses, whatever another process with access to the file writes meanwhile.
    layout::RegionHeader local{};
    local.layout_major = layout::kLayoutMajor;
    local.layout_minor = layout::kLayoutMinor;
    local.header_bytes = sizeof(layout::RegionHeader);
    local.total_bytes = bytes;
    local.ring_capacity = options.ring_capacity;
    local.ring_count = options.ring_count;
    local.record_align = options.record_align;
    local.backing_kind = static_cast<std::uint32_t>(
        options.backing == RS_BACKING_FILE ? layout::BackingKind::kFile : layout::BackingKind::kNamedShm);
    local.creator_pid = ::getpid();
    local.creator_start_ticks = self_start_ticks();
    local.epoch = random_epoch();
    local.created_unix_ns = unix_ns_now();
    auto* header = reinterpret_cast<layout::RegionHeader*>(region->base_);
    std::memcpy(reinterpret_cast<std::byte*>(header) + sizeof local.magic,
                reinterpret_cast<const std::byte*>(&local) + sizeof local.magic, sizeof local - sizeof local.magic);
    // SYNC: publish-header. release: every field above is visible to an
    // opener that acquires a non-zero magic.
    std::atomic_ref<std::uint64_t>(header->magic).store(layout::kMagic, std::memory_order_release);
    local.magic = layout::kMagic;
    region->header_ = local;

    if (options.flush_interval_ms != 0) {
        if (rs_result r = region->start_flusher(options.flush_interval_ms); r != RS_OK) return abandon(r);
    }
    log(LogLevel::kInfo, "created %s region '%s': %u ring(s) x %llu bytes, epoch %016llx", backing_name(options.backing),
        name, options.ring_count, static_cast<unsigned long long>(options.ring_capacity),
        static_cast<unsigned long long>(local.epoch));
    *out = region;
    return RS_OK;
}

rs_result Region::open(const char* name, const rs_region_options& options, Region** out) {
    if (rs_result r = validate_options(&options); r != RS_OK) return r;
    if (rs_result r = validate_region_name(name, options.backing); r != RS_OK) return r;
    const int fd = open_backing(name, options.backing, O_RDWR, 0);
    if (fd < 0) {
        const int err = errno;
        if (err == ELOOP) {
            return fail(RS_ERR_PERMISSION, "refusing to open '%s': it is a symbolic link (open the file it points to)",
                        name);
        }
        return fail_errno(result_from_errno(err), err, "cannot open %s region '%s' (%s)", backing_name(options.backing),
                          name, open_hint(err, false));
    }
    struct stat info {};
    if (::fstat(fd, &info) != 0) {
        const int err = errno;
        ::close(fd);
        return fail_errno(RS_ERR_INTERNAL, err, "fstat of '%s' failed", name);
    }
    if (!S_ISREG(info.st_mode)) {
        ::close(fd);
        return fail(RS_ERR_INVALID_ARGUMENT, "'%s' is not a regular file", name);
    }
    const auto bytes = static_cast<std::uint64_t>(info.st_size);
    if (bytes == 0) {
        ::close(fd);
        return fail(RS_BUSY, "region '%s' has size 0: its creator has not finished (or died while creating)", name);
    }
    if (bytes < layout::kHeaderPageBytes) {
        ::close(fd);
        return fail(RS_ERR_CORRUPT, "region '%s' is %llu bytes, smaller than its %u-byte header page", name,
                    static_cast<unsigned long long>(bytes), layout::kHeaderPageBytes);
    }
    Region* region = counted_new<Region>();
    char* name_copy = counted_strdup(name, std::strlen(name));
    if (region == nullptr || name_copy == nullptr) {
        ::close(fd);
        counted_delete(region);
        counted_free(name_copy);
        return fail(RS_ERR_NO_MEMORY, "out of memory opening region '%s'", name);
    }
    region->name_ = name_copy;
    region->backing_ = options.backing;
    region->fd_ = fd;
    auto abandon = [&](rs_result code) {
        counted_delete(region);
        return code;
    };
    if (rs_result r = region->map(fd, bytes, options, false); r != RS_OK) return abandon(r);

    auto* header = reinterpret_cast<layout::RegionHeader*>(region->base_);
    // SYNC: publish-header (acquire pairs with the creator's release).
    const std::uint64_t magic = std::atomic_ref<std::uint64_t>(header->magic).load(std::memory_order_acquire);
    // Every field is read once, into a private copy, and validated there:
    // the shared header may change under us (a hostile or corrupt peer).
    const layout::RegionHeader snapshot = snapshot_header(*header);
    const layout::RegionHeader* const h = &snapshot;
    if (magic == 0) return abandon(fail(RS_BUSY, "region '%s' is not ready: its creator has not published it", name));
    if (magic != layout::kMagic) {
        return abandon(fail(RS_ERR_CORRUPT, "'%s' is not a ringside region (magic 0x%016llx)", name,
                            static_cast<unsigned long long>(magic)));
    }
    if (h->layout_major != layout::kLayoutMajor) {
        return abandon(fail(RS_ERR_VERSION_MISMATCH,
                            "region '%s' has layout version %u.%u; this library reads layout %u.x (%u.%u)", name,
                            h->layout_major, h->layout_minor, layout::kLayoutMajor, layout::kLayoutMajor,
                            layout::kLayoutMinor));
    }
    const char* problem = header_problem(snapshot, bytes, options.backing);
    if (problem != nullptr) {
        return abandon(fail(RS_ERR_CORRUPT, "region '%s' header is invalid: %s", name, problem));
    }
    region->header_ = snapshot;
    region->header_.magic = magic;
    if (options.flush_interval_ms != 0) {
        if (rs_result r = region->start_flusher(options.flush_interval_ms); r != RS_OK) return abandon(r);
    }
    log(LogLevel::kInfo, "opened %s region '%s' created by pid %d", backing_name(options.backing), name,
        snapshot.creator_pid);
    *out = region;
    return RS_OK;
}

rs_result Region::unlink(const char* name, rs_backing backing) {
    if (rs_result r = validate_region_name(name, backing); r != RS_OK) return r;
    const int result = unlink_backing(name, backing);
    if (result != 0) {
        return fail_errno(result_from_errno(errno), errno, "cannot unlink %s region '%s'", backing_name(backing),
                          name);
    }
    return RS_OK;
}

rs_result Region::destroy(Region* region) {
    // acquire: a ring destroyed on another thread has finished with the memory.
    const std::uint32_t rings = region->attached_users.load(std::memory_order_acquire);
    if (rings != 0) {
        return fail(RS_BUSY, "region '%s' still has %u ring or sidecar handle(s) using it: destroy them first",
                    region->name_, rings);
    }
    const bool unlink_name = region->is_creator_ && !region->keep_on_destroy_;
    rs_result result = RS_OK;
    if (unlink_name) {
        const int rc = unlink_backing(region->name_, region->backing_);
        // Someone may have unlinked it for us (rs_region_unlink): not an error.
        if (rc != 0 && errno != ENOENT) {
            result = fail_errno(result_from_errno(errno), errno, "region '%s' unmapped but not unlinked",
                                region->name_);
        }
    }
    counted_delete(region);
    return result;
}

rs_result Region::flush() {
    if (backing_ != RS_BACKING_FILE) return RS_OK;
    if (::msync(base_, bytes_, MS_SYNC) != 0) {
        return fail_errno(result_from_errno(errno), errno, "msync of region '%s' failed", name_);
    }
    return RS_OK;
}

rs_result Region::start_flusher(std::uint32_t interval_ms) {
    flush_interval_ms_ = interval_ms;
    flusher_stop_ = false;
    if (const int err = ::pthread_create(&flusher_, nullptr, &Region::flusher_main, this); err != 0) {
        return fail_errno(RS_ERR_NO_MEMORY, err, "cannot start the flush thread");
    }
    ::pthread_setname_np(flusher_, "rs-flush");
    flusher_running_ = true;
    return RS_OK;
}

void Region::stop_flusher() {
    if (!flusher_running_) return;
    ::pthread_mutex_lock(&flusher_mutex_);
    flusher_stop_ = true;
    ::pthread_cond_signal(&flusher_wake_);
    ::pthread_mutex_unlock(&flusher_mutex_);
    ::pthread_join(flusher_, nullptr);
    flusher_running_ = false;
}

void* Region::flusher_main(void* self) {
    auto* region = static_cast<Region*>(self);
    ::pthread_mutex_lock(&region->flusher_mutex_);
    while (!region->flusher_stop_) {
        timespec deadline{};
        ::clock_gettime(CLOCK_REALTIME, &deadline);
        const std::uint64_t ns =
            static_cast<std::uint64_t>(deadline.tv_nsec) + std::uint64_t{region->flush_interval_ms_} * 1'000'000ull;
        deadline.tv_sec += static_cast<time_t>(ns / 1'000'000'000ull);
        deadline.tv_nsec = static_cast<long>(ns % 1'000'000'000ull);
        ::pthread_cond_timedwait(&region->flusher_wake_, &region->flusher_mutex_, &deadline);
        if (region->flusher_stop_) break;
        ::pthread_mutex_unlock(&region->flusher_mutex_);
        ::msync(region->base_, region->bytes_, MS_SYNC);
        ::pthread_mutex_lock(&region->flusher_mutex_);
    }
    ::pthread_mutex_unlock(&region->flusher_mutex_);
    return nullptr;
}

}  // namespace ringside
