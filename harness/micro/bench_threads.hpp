// Thread plumbing for the two-sided benchmarks: which two CPUs the sides are
// pinned to, a bounded spin loop (nothing may wedge), and the control block
// the two sides share besides the channel under test.
#pragma once

#include <pthread.h>
#include <sched.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "peers/link.hpp"

namespace ringside::micro {

using peers::Io;

// The CPUs this process may run on, in order (sched_getaffinity at start-up).
inline std::vector<int> allowed_cpus() {
    cpu_set_t set;
    CPU_ZERO(&set);
    std::vector<int> cpus;
    if (sched_getaffinity(0, sizeof set, &set) != 0) return cpus;
    for (int cpu = 0; cpu < CPU_SETSIZE; ++cpu) {
        if (CPU_ISSET(cpu, &set)) cpus.push_back(cpu);
    }
    return cpus;
}

inline bool pin_current_thread(int cpu) {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    return pthread_setaffinity_np(pthread_self(), sizeof set, &set) == 0;
}

// Side A (the benchmark's own thread) and side B (the peer thread).
struct CpuPair {
    int a = -1;
    int b = -1;
};
inline CpuPair g_cpus;

// How long one wait may last before the side gives up. Generous: the host
// sometimes slows this guest down ~5x for a while.
inline constexpr std::chrono::seconds kPatience{5};

// Shared by the two sides, each word on its own lines.
struct Control {
    enum : int { kStarting = 0, kReady = 1, kFailed = 2 };
    alignas(peers::kFalseSharingRange) std::atomic<int> b_state{kStarting};
    alignas(peers::kFalseSharingRange) std::atomic<bool> abort{false};
    // Throughput rows: the last record of each batch the consumer took.
    alignas(peers::kFalseSharingRange) std::atomic<std::uint64_t> drained{0};
    // Throughput rows: how often side B found the channel empty (read after join).
    alignas(peers::kFalseSharingRange) std::uint64_t b_empty_polls = 0;
    alignas(peers::kFalseSharingRange) std::string b_error;  // written before b_state = kFailed
};

// Calls `op` until it returns something other than kRetry. The clock and the
// abort flag are read once per 65536 tries, so the fast path is `op` alone.
// Adds the number of kRetry answers to `*retries` if given.
template <typename Op>
inline Io spin(Op&& op, const std::atomic<bool>& abort, std::uint64_t* retries = nullptr) {
    using Clock = std::chrono::steady_clock;
    Clock::time_point first_check{};
    for (std::uint64_t tries = 1;; ++tries) {
        const Io io = op();
        if (io != Io::kRetry) {
            if (retries != nullptr) *retries += tries - 1;
            return io;
        }
        if ((tries & 0xFFFF) == 0) {
            // relaxed is enough: a flag with no data behind it.
            if (abort.load(std::memory_order_relaxed)) return Io::kAborted;
            const Clock::time_point now = Clock::now();
            if (tries == 0x10000) {
                first_check = now;
            } else if (now - first_check > kPatience) {
                return Io::kTimedOut;
            }
        }
    }
}

// Side B's failure, reported by side A.
inline std::string describe(const char* where, Io io) { return std::string(where) + ": " + peers::io_name(io); }

// A sequence value never used for data: tells side B to stop.
inline constexpr std::uint64_t kStop = std::uint64_t{1} << 62;

}  // namespace ringside::micro
