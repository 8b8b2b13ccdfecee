#include "shm/guarded_map.hpp"

#include <sys/mman.h>

#include <cerrno>

namespace ringside {
namespace {

std::uint64_t page_round_up(std::uint64_t bytes) { return (bytes + kGuardBytes - 1) & ~(kGuardBytes - 1); }

}  // namespace

void* map_guarded(std::uint64_t bytes, int prot, int flags, int fd) {
    const std::uint64_t span = page_round_up(bytes) + 2 * kGuardBytes;
    // Reserve the address range, inaccessible; then map the backing over its
    // middle. Both guard pages stay PROT_NONE and own no memory.
    void* reserved = ::mmap(nullptr, span, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (reserved == MAP_FAILED) return MAP_FAILED;
    auto* inner = static_cast<char*>(reserved) + kGuardBytes;
    void* mapped = ::mmap(inner, bytes, prot, flags | MAP_FIXED, fd, 0);
    if (mapped == MAP_FAILED) {
        const int err = errno;
        ::munmap(reserved, span);
        errno = err;
        return MAP_FAILED;
    }
    return mapped;
}

void unmap_guarded(void* base, std::uint64_t bytes) {
    if (base == nullptr) return;
    ::munmap(static_cast<char*>(base) - kGuardBytes, page_round_up(bytes) + 2 * kGuardBytes);
}

GuardedMemory::GuardedMemory(std::uint64_t bytes) {
    void* address = map_guarded(bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1);
    if (address == MAP_FAILED) return;
    base_ = static_cast<std::byte*>(address);
    bytes_ = bytes;
}

}  // namespace ringside
