// The object behind a shared mapping, for ring regions (region.hpp) and
// tracer regions (tracer/trace_region.hpp) alike: a named POSIX shm object
// or a regular file, created or opened by name, sized when new, and mapped
// shared between guard pages (guarded_map.hpp). It knows nothing of the
// layout inside; which bytes mean what is its owner's business. Failures set
// the thread's last error; the few that only the owner can word well go
// through its BackingWording.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>

#include "ringside/ringside.h"

namespace ringside {

// shm_open(3), or open(2) with O_NOFOLLOW | O_CLOEXEC added: a symbolic
// link fails with ELOOP. -1 with errno set on failure.
int open_backing(const char* name, rs_backing backing, int flags, mode_t mode);

// shm_unlink(3) or unlink(2). -1 with errno set on failure.
int unlink_backing(const char* name, rs_backing backing);

// How one kind of region words the failures that depend on what it is (a
// ring region's messages carry hints for C API users). Each sets the
// thread's last error and returns its code.
struct BackingWording {
    // "region" or "tracer region", as in "out of memory opening region '/r'".
    const char* kind;
    // open(2) or shm_open(3) failed with `err`; `creating` for O_CREAT | O_EXCL.
    rs_result (*cannot_open)(const char* name, rs_backing backing, int err, bool creating);
    // The backing has size 0: its creator has not sized it yet (RS_BUSY).
    rs_result (*empty)(const char* name);
    // The backing is smaller than the kind's header page (RS_ERR_CORRUPT).
    rs_result (*too_small)(const char* name, std::uint64_t bytes);
};

// One region's backing, owned: a counted copy of its name, the descriptor,
// and the mapping once map() made it. Destruction unmaps and closes but
// never unlinks: when to remove the name is the owner's rule.
class BackingFile {
public:
    // Creates `name`, which must not exist, with exactly `mode` (the umask
    // neither weakens nor widens it), sizes it to `bytes` and allocates the
    // blocks now, so that a full disk or tmpfs fails here, not as a SIGBUS on
    // a store in the hot path. Once the name exists, a failure unlinks it.
    rs_result create(const char* name, rs_backing backing, std::uint32_t mode, std::uint64_t bytes,
                     const BackingWording& words);
    // Opens the existing `name` with `flags` (O_RDWR or O_RDONLY): it must be
    // a regular file (a shm object is one) of at least `min_bytes`. Allocates
    // (the name's copy) only once that is known, so a failed open allocates
    // nothing: open into a local BackingFile, then move it into its owner.
    rs_result open(const char* name, rs_backing backing, int flags, std::uint64_t min_bytes,
                   const BackingWording& words);
    // Maps the whole backing, MAP_SHARED with `prot` (and MAP_POPULATE with
    // `populate`), between guard pages.
    rs_result map(int prot, bool populate);

    [[nodiscard]] const char* name() const { return name_; }
    [[nodiscard]] rs_backing backing() const { return backing_; }
    [[nodiscard]] std::byte* base() const { return base_; }
    [[nodiscard]] std::uint64_t bytes() const { return bytes_; }

    BackingFile() = default;
    ~BackingFile();
    BackingFile(BackingFile&& other) noexcept;
    BackingFile& operator=(BackingFile&& other) noexcept;  // swaps: `other` releases what this held

private:
    rs_result keep_name(const char* name, rs_backing backing, const char* doing, const BackingWording& words);

    char* name_ = nullptr;  // counted copy
    rs_backing backing_ = RS_BACKING_SHM;
    int fd_ = -1;
    std::byte* base_ = nullptr;  // nullptr until map()
    std::uint64_t bytes_ = 0;
};

}  // namespace ringside
