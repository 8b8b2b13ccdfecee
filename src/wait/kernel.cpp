#include "wait/kernel.hpp"

#include <linux/futex.h>
#include <poll.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <climits>

#include "wait/clock.hpp"

namespace ringside {
namespace {

// relaxed is enough: statistics read by tests after the threads joined.
std::atomic<std::uint64_t> g_futex_waits{0};
std::atomic<std::uint64_t> g_futex_wakes{0};
std::atomic<std::uint64_t> g_eventfd_waits{0};
std::atomic<std::uint64_t> g_eventfd_signals{0};

}  // namespace

void futex_wait(std::uint32_t* word, std::uint32_t expected, std::uint64_t deadline_ns) {
    g_futex_waits.fetch_add(1, std::memory_order_relaxed);
    // FUTEX_WAIT_BITSET takes an absolute CLOCK_MONOTONIC deadline, so a
    // retried wait never stretches the caller's timeout. Not _PRIVATE: the
    // word may be shared with another process.
    timespec deadline = to_timespec(deadline_ns);
    ::syscall(SYS_futex, word, FUTEX_WAIT_BITSET, expected, deadline_ns == kNoDeadline ? nullptr : &deadline,
              nullptr, FUTEX_BITSET_MATCH_ANY);
}

void futex_wake_all(std::uint32_t* word) {
    g_futex_wakes.fetch_add(1, std::memory_order_relaxed);
    ::syscall(SYS_futex, word, FUTEX_WAKE, INT_MAX, nullptr, nullptr, 0);
}

void eventfd_wait(int fd, std::uint64_t deadline_ns) {
    g_eventfd_waits.fetch_add(1, std::memory_order_relaxed);
    pollfd entry{fd, POLLIN, 0};
    timespec timeout{};
    if (deadline_ns != kNoDeadline) {
        const std::uint64_t now = monotonic_ns();
        timeout = to_timespec(deadline_ns > now ? deadline_ns - now : 0);
    }
    const int ready = ::ppoll(&entry, 1, deadline_ns == kNoDeadline ? nullptr : &timeout, nullptr);
    if (ready == 1 && (entry.revents & POLLIN) != 0) {
        std::uint64_t count = 0;
        // Drains the counter; readable was just reported, so this does not block.
        [[maybe_unused]] const ssize_t n = ::read(fd, &count, sizeof count);
    }
}

void eventfd_signal(int fd) {
    g_eventfd_signals.fetch_add(1, std::memory_order_relaxed);
    const std::uint64_t one = 1;
    // EAGAIN (counter at its maximum) still leaves the fd readable: ignore.
    [[maybe_unused]] const ssize_t n = ::write(fd, &one, sizeof one);
}

KernelCallCounts kernel_call_counts() {
    return {g_futex_waits.load(std::memory_order_relaxed), g_futex_wakes.load(std::memory_order_relaxed),
            g_eventfd_waits.load(std::memory_order_relaxed), g_eventfd_signals.load(std::memory_order_relaxed)};
}

}  // namespace ringside
