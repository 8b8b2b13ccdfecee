#include "shm/backing_file.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include "common/alloc.hpp"
#include "common/error.hpp"
#include "shm/guarded_map.hpp"

namespace ringside {

int open_backing(const char* name, rs_backing backing, int flags, mode_t mode) {
    if (backing == RS_BACKING_SHM) return ::shm_open(name, flags, mode);
    return ::open(name, flags | O_NOFOLLOW | O_CLOEXEC, mode);
}

int unlink_backing(const char* name, rs_backing backing) {
    return backing == RS_BACKING_SHM ? ::shm_unlink(name) : ::unlink(name);
}

BackingFile::BackingFile(BackingFile&& other) noexcept
    : name_(std::exchange(other.name_, nullptr)),
      backing_(other.backing_),
      fd_(std::exchange(other.fd_, -1)),
      base_(std::exchange(other.base_, nullptr)),
      bytes_(std::exchange(other.bytes_, 0)) {}

BackingFile& BackingFile::operator=(BackingFile&& other) noexcept {
    std::swap(name_, other.name_);
    std::swap(backing_, other.backing_);
    std::swap(fd_, other.fd_);
    std::swap(base_, other.base_);
    std::swap(bytes_, other.bytes_);
    return *this;
}

BackingFile::~BackingFile() {
    if (base_ != nullptr) unmap_guarded(base_, bytes_);
    if (fd_ >= 0) ::close(fd_);
    counted_free(name_);
}

rs_result BackingFile::keep_name(const char* name, rs_backing backing, const char* doing,
                                 const BackingWording& words) {
    name_ = counted_strdup(name, std::strlen(name));
    if (name_ == nullptr) return fail(RS_ERR_NO_MEMORY, "out of memory %s %s '%s'", doing, words.kind, name);
    backing_ = backing;
    return RS_OK;
}

rs_result BackingFile::create(const char* name, rs_backing backing, std::uint32_t mode, std::uint64_t bytes,
                              const BackingWording& words) {
    if (rs_result r = keep_name(name, backing, "creating", words); r != RS_OK) return r;
    fd_ = open_backing(name, backing, O_RDWR | O_CREAT | O_EXCL, static_cast<mode_t>(mode));
    if (fd_ < 0) return words.cannot_open(name, backing, errno, true);
    rs_result result = RS_OK;
    if (::fchmod(fd_, static_cast<mode_t>(mode)) != 0) {
        result = fail_errno(RS_ERR_PERMISSION, errno, "fchmod of '%s' failed", name);
    } else if (::ftruncate(fd_, static_cast<off_t>(bytes)) != 0) {
        result = fail_errno(result_from_errno(errno), errno, "cannot size '%s' to %llu bytes", name,
                            static_cast<unsigned long long>(bytes));
    } else if (const int err = ::posix_fallocate(fd_, 0, static_cast<off_t>(bytes)); err != 0) {
        // posix_fallocate returns its error rather than setting errno.
        result = fail_errno(RS_ERR_NO_MEMORY, err, "cannot allocate %llu bytes for '%s'",
                            static_cast<unsigned long long>(bytes), name);
    }
    if (result != RS_OK) {
        unlink_backing(name, backing);  // keeps the message above
        return result;
    }
    bytes_ = bytes;
    return RS_OK;
}

rs_result BackingFile::open(const char* name, rs_backing backing, int flags, std::uint64_t min_bytes,
                            const BackingWording& words) {
    fd_ = open_backing(name, backing, flags, 0);
    if (fd_ < 0) return words.cannot_open(name, backing, errno, false);
    struct stat info {};
    if (::fstat(fd_, &info) != 0) return fail_errno(RS_ERR_INTERNAL, errno, "fstat of '%s' failed", name);
    if (!S_ISREG(info.st_mode)) return fail(RS_ERR_INVALID_ARGUMENT, "'%s' is not a regular file", name);
    const auto bytes = static_cast<std::uint64_t>(info.st_size);
    if (bytes == 0) return words.empty(name);
    if (bytes < min_bytes) return words.too_small(name, bytes);
    bytes_ = bytes;
    // Only now: a failed open allocates nothing (alloc_counter_test).
    return keep_name(name, backing, "opening", words);
}

rs_result BackingFile::map(int prot, bool populate) {
    void* address = map_guarded(bytes_, prot, MAP_SHARED | (populate ? MAP_POPULATE : 0), fd_);
    if (address == MAP_FAILED) {
        return fail_errno(result_from_errno(errno), errno, "mmap of %llu bytes failed",
                          static_cast<unsigned long long>(bytes_));
    }
    base_ = static_cast<std::byte*>(address);
    return RS_OK;
}

}  // namespace ringside
