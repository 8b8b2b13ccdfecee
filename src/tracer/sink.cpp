#include "tracer/sink.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "common/error.hpp"
#include "common/log.hpp"

namespace ringside::trace {
namespace {

using namespace sink;

bool write_all(int fd, iovec* vectors, int count) {
    while (count > 0) {
        const ssize_t wrote = ::writev(fd, vectors, count);
        if (wrote < 0) {
            if (errno == EINTR) continue;
            return false;
        }
        auto left = static_cast<std::size_t>(wrote);
        while (count > 0 && left >= vectors->iov_len) {
            left -= vectors->iov_len;
            ++vectors;
            --count;
        }
        if (count > 0) {
            vectors->iov_base = static_cast<char*>(vectors->iov_base) + left;
            vectors->iov_len -= left;
        }
    }
    return true;
}

bool read_at(int fd, void* buffer, std::size_t bytes, std::uint64_t offset) {
    return ::pread(fd, buffer, bytes, static_cast<off_t>(offset)) == static_cast<ssize_t>(bytes);
}

// The end of the last complete block of an existing data file: a controller
// that crashed mid-write leaves a torn block, which appending must replace.
std::uint64_t complete_end(int fd, std::uint64_t size) {
    std::uint64_t offset = sizeof(FileHeader);
    while (offset + sizeof(BlockHeader) <= size) {
        BlockHeader block{};
        if (!read_at(fd, &block, sizeof block, offset) || block.magic != kBlockMagic ||
            block.checksum != block_checksum(block) || block.header_bytes < sizeof(BlockHeader) ||
            block.data_bytes > size - offset - block.header_bytes) {
            break;
        }
        offset += block.header_bytes + block.data_bytes;
    }
    return offset;
}

int open_file(const char* dir, std::uint32_t lane, const char* suffix) {
    char path[4096];
    const int length = std::snprintf(path, sizeof path, "%s/lane-%04u.%s", dir, lane, suffix);
    if (length < 0 || static_cast<std::size_t>(length) >= sizeof path) {
        errno = ENAMETOOLONG;
        return -1;
    }
    return ::open(path, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0644);
}

}  // namespace

rs_result LaneSink::open(const char* dir, const FileHeader& prototype) {
    close();
    data_fd_ = open_file(dir, prototype.lane, "rstrace");
    index_fd_ = data_fd_ >= 0 ? open_file(dir, prototype.lane, "rstidx") : -1;
    if (index_fd_ < 0) {
        const int err = errno;
        close();
        return fail_errno(result_from_errno(err), err, "cannot open the sink files of lane %u in '%s'",
                          prototype.lane, dir);
    }
    struct stat info {};
    if (::fstat(data_fd_, &info) != 0) {
        const int err = errno;
        close();
        return fail_errno(RS_ERR_INTERNAL, err, "fstat of a sink file failed");
    }
    const auto size = static_cast<std::uint64_t>(info.st_size);
    if (size == 0) {
        FileHeader header = prototype;
        header.magic = kFileMagic;
        header.format_major = kFormatMajor;
        header.format_minor = kFormatMinor;
        header.header_bytes = sizeof header;
        IndexFileHeader index{};
        index.magic = kIndexFileMagic;
        index.format_major = kFormatMajor;
        index.format_minor = kFormatMinor;
        index.header_bytes = sizeof index;
        index.lane = prototype.lane;
        index.entry_bytes = sizeof(TimeIndexEntry);
        index.region_epoch = prototype.region_epoch;
        iovec data_vector{&header, sizeof header};
        iovec index_vector{&index, sizeof index};
        if (::ftruncate(index_fd_, 0) != 0 || !write_all(data_fd_, &data_vector, 1) ||
            !write_all(index_fd_, &index_vector, 1)) {
            const int err = errno;
            close();
            return fail_errno(result_from_errno(err), err, "cannot write the sink file headers of lane %u",
                              prototype.lane);
        }
        data_size_ = sizeof header;
        return RS_OK;
    }
    FileHeader existing{};
    if (size < sizeof existing || !read_at(data_fd_, &existing, sizeof existing, 0) || existing.magic != kFileMagic) {
        close();
        return fail(RS_ERR_CORRUPT, "'%s/lane-%04u.rstrace' is not a ringside trace file", dir, prototype.lane);
    }
    if (existing.format_major != kFormatMajor) {
        close();
        return fail(RS_ERR_VERSION_MISMATCH, "'%s/lane-%04u.rstrace' has format %u.%u; this library writes %u.%u",
                    dir, prototype.lane, existing.format_major, existing.format_minor, kFormatMajor, kFormatMinor);
    }
    if (existing.region_epoch != prototype.region_epoch || existing.lane != prototype.lane) {
        close();
        return fail(RS_ERR_EXISTS, "'%s' already holds the trace of another tracer region (epoch %016llx): use "
                    "another sink directory", dir, static_cast<unsigned long long>(existing.region_epoch));
    }
    data_size_ = complete_end(data_fd_, size);
    if (data_size_ != size) {
        log(LogLevel::kWarn, "sink lane %u: dropping a torn block (%llu bytes) left by a crash", prototype.lane,
            static_cast<unsigned long long>(size - data_size_));
        if (::ftruncate(data_fd_, static_cast<off_t>(data_size_)) != 0) {
            close();
            return fail_errno(RS_ERR_INTERNAL, errno, "cannot truncate a torn sink file");
        }
    }
    // Keep only the time index entries of complete blocks.
    if (::fstat(index_fd_, &info) == 0 && static_cast<std::uint64_t>(info.st_size) > sizeof(IndexFileHeader)) {
        std::uint64_t keep = sizeof(IndexFileHeader);
        TimeIndexEntry entry{};
        while (read_at(index_fd_, &entry, sizeof entry, keep) && entry.block_offset < data_size_) keep += sizeof entry;
        if (::ftruncate(index_fd_, static_cast<off_t>(keep)) != 0) log(LogLevel::kWarn, "cannot trim a time index");
    }
    return RS_OK;
}

rs_result LaneSink::append(BlockHeader& header, const iovec* data, int count, std::uint64_t first_ns,
                           std::uint64_t last_ns) {
    if (!is_open()) return fail(RS_ERR_CLOSED, "sink is not open");
    std::uint64_t data_bytes = 0;
    iovec vectors[3];
    vectors[0] = iovec{&header, sizeof header};
    for (int i = 0; i < count && i < 2; ++i) {
        vectors[i + 1] = data[i];
        data_bytes += data[i].iov_len;
    }
    header.magic = kBlockMagic;
    header.header_bytes = sizeof header;
    header.data_bytes = data_bytes;
    header.checksum = block_checksum(header);
    const std::uint64_t offset = data_size_;
    if (!write_all(data_fd_, vectors, 1 + (count < 2 ? count : 2))) {
        const int err = errno;
        // Leave no torn block behind for the next append.
        if (::ftruncate(data_fd_, static_cast<off_t>(offset)) != 0) log(LogLevel::kError, "cannot trim a sink file");
        return fail_errno(result_from_errno(err), err, "cannot write a %llu-byte block to a sink file",
                          static_cast<unsigned long long>(data_bytes));
    }
    data_size_ = offset + sizeof header + data_bytes;
    if (header.kind == static_cast<std::uint32_t>(BlockKind::kIndexWindow) ||
        header.kind == static_cast<std::uint32_t>(BlockKind::kDetailWindow)) {
        TimeIndexEntry entry{offset, header.kind, header.flags, header.session, 0, header.window, header.first_seq,
                             header.last_seq, first_ns, last_ns};
        iovec vector{&entry, sizeof entry};
        if (!write_all(index_fd_, &vector, 1)) {
            return fail_errno(result_from_errno(errno), errno, "cannot append to a time index");
        }
    }
    return RS_OK;
}

rs_result LaneSink::sync() {
    if (!is_open()) return RS_OK;
    if (::fdatasync(data_fd_) != 0 || ::fdatasync(index_fd_) != 0) {
        return fail_errno(result_from_errno(errno), errno, "fdatasync of a sink file failed");
    }
    return RS_OK;
}

void LaneSink::close() {
    if (data_fd_ >= 0) ::close(data_fd_);
    if (index_fd_ >= 0) ::close(index_fd_);
    data_fd_ = -1;
    index_fd_ = -1;
    data_size_ = 0;
}

}  // namespace ringside::trace
