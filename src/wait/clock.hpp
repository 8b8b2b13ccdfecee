// Monotonic time and deadlines for every bounded wait. A deadline is an
// absolute CLOCK_MONOTONIC time in nanoseconds; kNoDeadline never expires.
#pragma once

#include <time.h>

#include <cstdint>

namespace ringside {

inline constexpr std::uint64_t kNoDeadline = UINT64_MAX;

inline std::uint64_t monotonic_ns() {
    timespec now{};
    ::clock_gettime(CLOCK_MONOTONIC, &now);
    return static_cast<std::uint64_t>(now.tv_sec) * 1'000'000'000ull + static_cast<std::uint64_t>(now.tv_nsec);
}

// now + timeout, saturating: a huge timeout is no deadline, never a wrap.
inline std::uint64_t deadline_after(std::uint64_t timeout_ns) {
    if (timeout_ns == kNoDeadline) return kNoDeadline;
    const std::uint64_t now = monotonic_ns();
    return timeout_ns > kNoDeadline - now ? kNoDeadline : now + timeout_ns;
}

inline timespec to_timespec(std::uint64_t ns) {
    return timespec{static_cast<time_t>(ns / 1'000'000'000ull), static_cast<long>(ns % 1'000'000'000ull)};
}

}  // namespace ringside
