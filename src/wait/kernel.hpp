// The few system calls the wait strategies park and wake with: futex on a
// shared 32-bit word (the non-private operations, so a waiter and a waker in
// different processes meet on the same physical page), and eventfd.
// Every call is counted, so tests can prove that a producer never enters the
// kernel while no consumer is parked.
#pragma once

#include <atomic>
#include <cstdint>

namespace ringside {

// Parks while *word == expected, until woken or `deadline_ns` (absolute
// CLOCK_MONOTONIC, kNoDeadline for none). Returns on wake, on a changed
// word, on a signal or at the deadline: callers re-check their condition.
void futex_wait(std::uint32_t* word, std::uint32_t expected, std::uint64_t deadline_ns);
// Wakes every thread parked on `word` (in any process).
void futex_wake_all(std::uint32_t* word);

// Waits until `fd` (an eventfd) is readable or the deadline passes, then
// drains its counter. Spurious returns are allowed.
void eventfd_wait(int fd, std::uint64_t deadline_ns);
// Adds 1 to the eventfd's counter, waking a waiter.
void eventfd_signal(int fd);

// Calls made so far in this process (relaxed counters, test hooks).
struct KernelCallCounts {
    std::uint64_t futex_waits;
    std::uint64_t futex_wakes;
    std::uint64_t eventfd_waits;
    std::uint64_t eventfd_signals;
};
KernelCallCounts kernel_call_counts();

}  // namespace ringside
