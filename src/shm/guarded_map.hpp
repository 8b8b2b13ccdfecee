// Every shared mapping of the library sits between two PROT_NONE guard
// pages: a stray access just before or just past a region faults at once,
// instead of reading or corrupting whatever the kernel placed next to it.
// ASan does not guard mmap'ed memory, so this is also what makes the
// hostile-peer tests and the fuzzers see an out-of-bounds access in every
// build. Costs two pages of address space per mapping, no memory.
#pragma once

#include <cstddef>
#include <cstdint>

namespace ringside {

inline constexpr std::uint64_t kGuardBytes = 4096;

// mmap(2) of `bytes` of `fd` at offset 0 with `prot` and `flags` (MAP_SHARED
// and friends; MAP_FIXED is added), placed between a guard page before and
// one after the last page. MAP_FAILED with errno set on failure.
void* map_guarded(std::uint64_t bytes, int prot, int flags, int fd);

// Unmaps what map_guarded returned, guard pages included.
void unmap_guarded(void* base, std::uint64_t bytes);

// Zeroed private memory between guard pages, for rings over plain memory in
// tests and fuzzers. base() is nullptr if the mapping failed.
class GuardedMemory {
public:
    explicit GuardedMemory(std::uint64_t bytes);
    ~GuardedMemory() { unmap_guarded(base_, bytes_); }
    GuardedMemory(const GuardedMemory&) = delete;
    GuardedMemory& operator=(const GuardedMemory&) = delete;

    [[nodiscard]] std::byte* base() const { return base_; }
    [[nodiscard]] std::uint64_t size() const { return bytes_; }

private:
    std::byte* base_ = nullptr;
    std::uint64_t bytes_ = 0;
};

}  // namespace ringside
