#include "shm/region.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include "common/alloc.hpp"
#include "common/error.hpp"
#include "common/log.hpp"
#include "common/process.hpp"
#include "shm/backing_file.hpp"

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

rs_result cannot_open(const char* name, rs_backing backing, int err, bool creating) {
    if (!creating && err == ELOOP) {
        return fail(RS_ERR_PERMISSION, "refusing to open '%s': it is a symbolic link (open the file it points to)",
                    name);
    }
    return fail_errno(result_from_errno(err), err, "cannot %s %s region '%s' (%s)", creating ? "create" : "open",
                      backing_name(backing), name, open_hint(err, creating));
}

rs_result region_is_empty(const char* name) {
    return fail(RS_BUSY, "region '%s' has size 0: its creator has not finished (or died while creating)", name);
}

rs_result region_is_too_small(const char* name, std::uint64_t bytes) {
    return fail(RS_ERR_CORRUPT, "region '%s' is %llu bytes, smaller than its %u-byte header page", name,
                static_cast<unsigned long long>(bytes), layout::kHeaderPageBytes);
}

constexpr BackingWording kWording{"region", &cannot_open, &region_is_empty, &region_is_too_small};

}  // namespace

// One relaxed load per field (the magic was acquired by the caller, which
// orders these after the creator's stores): a private copy to validate.
layout::RegionHeader snapshot_header(const layout::RegionHeader& shared) {
    layout::RegionHeader copy{};
    snapshot_shared_fields(shared, copy);
    copy.ring_count = load_once(shared.ring_count);
    copy.flags = load_once(shared.flags);
    return copy;
}

// Why a header (a private snapshot) cannot describe a mapping of `bytes`
// bytes opened with `backing`, or nullptr when it can.
const char* header_problem(const layout::RegionHeader& h, std::uint64_t bytes, rs_backing backing) {
    if (const char* problem = shared_header_problem(h, layout::kStatusOffset, bytes); problem != nullptr) {
        return problem;
    }
    if (h.ring_count < 1 || h.ring_count > layout::kMaxRings) return "ring_count out of range";
    if (!is_power_of_two(h.record_align) || h.record_align < 8 || h.record_align > 4096) {
        return "record_align is not a power of two in 8..4096";
    }
    if (std::uint64_t{h.record_align} * 4 > h.ring_capacity) return "record_align exceeds a quarter of ring_capacity";
    if (layout::region_bytes(h.ring_count, h.ring_capacity) != bytes) {
        return "ring_count x ring_capacity does not match the mapping size";
    }
    if (h.backing_kind != header_backing_kind(backing)) return "backing kind differs from the one used to open it";
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
    // file_ unmaps and closes after this.
    if (grants_.memory_locked) ::munlock(file_.base(), file_.bytes());
}

layout::StatusBlock& Region::status() const {
    return *reinterpret_cast<layout::StatusBlock*>(file_.base() + layout::kStatusOffset);
}

RingView Region::ring_view(std::uint32_t index) const {
    const std::uint64_t capacity = header_.ring_capacity;
    RingView view;
    view.control = reinterpret_cast<layout::RingControl*>(file_.base() + layout::ring_control_offset(index, capacity));
    view.data = file_.base() + layout::ring_data_offset(index, capacity);
    view.capacity = capacity;
    view.record_align = header_.record_align;
    return view;
}

rs_result Region::map(const rs_region_options& options, bool fresh) {
    if (rs_result r = file_.map(PROT_READ | PROT_WRITE, options.prefault != 0); r != RS_OK) return r;
    std::byte* const address = file_.base();
    const std::uint64_t bytes = file_.bytes();
    if (options.huge_pages != 0) grants_.huge_pages = ::madvise(address, bytes, MADV_HUGEPAGE) == 0;
    if (options.prefault != 0) {
        // MAP_POPULATE maps the pages; a fresh region also takes the write
        // fault now (zero stores into zero memory), not on the hot path.
        if (fresh) {
            for (std::uint64_t offset = 0; offset < bytes; offset += kPageBytes) {
                reinterpret_cast<volatile std::byte*>(address)[offset] = std::byte{0};
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
    if (region == nullptr) return fail(RS_ERR_NO_MEMORY, "out of memory creating region '%s'", name);
    region->keep_on_destroy_ = options.keep_on_destroy != 0;
    const std::uint64_t bytes = layout::region_bytes(options.ring_count, options.ring_capacity);
    if (rs_result r = region->file_.create(name, options.backing, options.mode, bytes, kWording); r != RS_OK) {
        counted_delete(region);  // the name is not ours, or was unlinked
        return r;
    }
    region->is_creator_ = true;  // from here on, destroying the half-built region unlinks it
    auto abandon = [&](rs_result code) {
        counted_delete(region);
        unlink_backing(name, options.backing);  // keeps the caller's error message
        return code;
    };
    if (rs_result r = region->map(options, true); r != RS_OK) return abandon(r);

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
    local.backing_kind = header_backing_kind(options.backing);
    local.creator_pid = ::getpid();
    local.creator_start_ticks = self_start_ticks();
    local.epoch = random_epoch();
    local.created_unix_ns = unix_ns_now();
    auto* header = reinterpret_cast<layout::RegionHeader*>(region->file_.base());
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
    BackingFile file;
    const std::uint64_t min_bytes = layout::kHeaderPageBytes;
    if (rs_result r = file.open(name, options.backing, O_RDWR, min_bytes, kWording); r != RS_OK) return r;
    Region* region = counted_new<Region>();
    if (region == nullptr) return fail(RS_ERR_NO_MEMORY, "out of memory opening region '%s'", name);
    region->file_ = std::move(file);
    auto abandon = [&](rs_result code) {
        counted_delete(region);
        return code;
    };
    if (rs_result r = region->map(options, false); r != RS_OK) return abandon(r);
    const std::uint64_t bytes = region->file_.bytes();

    auto* header = reinterpret_cast<layout::RegionHeader*>(region->file_.base());
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
                    region->name(), rings);
    }
    const bool unlink_name = region->is_creator_ && !region->keep_on_destroy_;
    rs_result result = RS_OK;
    if (unlink_name) {
        const int rc = unlink_backing(region->name(), region->backing());
        // Someone may have unlinked it for us (rs_region_unlink): not an error.
        if (rc != 0 && errno != ENOENT) {
            result = fail_errno(result_from_errno(errno), errno, "region '%s' unmapped but not unlinked",
                                region->name());
        }
    }
    counted_delete(region);
    return result;
}

rs_result Region::flush() {
    if (file_.backing() != RS_BACKING_FILE) return RS_OK;
    if (::msync(file_.base(), file_.bytes(), MS_SYNC) != 0) {
        return fail_errno(result_from_errno(errno), errno, "msync of region '%s' failed", file_.name());
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
        ::msync(region->file_.base(), region->file_.bytes(), MS_SYNC);
        ::pthread_mutex_lock(&region->flusher_mutex_);
    }
    ::pthread_mutex_unlock(&region->flusher_mutex_);
    return nullptr;
}

}  // namespace ringside
