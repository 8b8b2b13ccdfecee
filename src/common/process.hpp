// Telling a live process from a dead one whose pid may have been reused.
#pragma once

#include <cstdint>
#include <sys/types.h>

namespace ringside {

// Start time of `pid` in clock ticks since boot (/proc/<pid>/stat field 22);
// 0 if the process does not exist or /proc is unreadable.
std::uint64_t process_start_ticks(pid_t pid);

// True if `pid` has ended but is not yet reaped (a zombie).
bool process_exited(pid_t pid);

// True if `pid` exists, is not a zombie, and, when `start_ticks` is non-zero, started then.
bool process_alive(pid_t pid, std::uint64_t start_ticks);

// Start ticks of the calling process.
std::uint64_t self_start_ticks();

}  // namespace ringside
