// Access to the tracer's shared fields outside the hot path: every field of
// the region is reached through std::atomic_ref, never a plain access, since
// another process (maybe a hostile one) writes it concurrently.
#pragma once

#include <time.h>

#include <atomic>
#include <cstdint>

#include "tracer/trace_layout.h"
#include "wait/park.hpp"

namespace ringside::trace {

// relaxed is enough for these: each field either has one writer (ours) and
// readers that want a recent value (metrics), or was published by an
// acquire the caller already did (a queue pop, the lane state). Orderings
// that matter are spelled out where they happen.
template <typename T>
T get(T& field) {
    return std::atomic_ref<T>(field).load(std::memory_order_relaxed);
}

template <typename T>
void put(T& field, T value) {
    std::atomic_ref<T>(field).store(value, std::memory_order_relaxed);
}

// For a counter with a single writer (no read-modify-write needed).
inline void add(std::uint64_t& field, std::uint64_t n) { put(field, get(field) + n); }

// The drain thread's park words (agents wake it) and a lane's free_q words
// (the controller wakes a bounded-wait agent).
inline NotifyWords submit_words(TraceHeader& header) { return {&header.submit_sequence, &header.controller_waiters}; }
inline NotifyWords free_words(LaneControl& lane) { return {&lane.free_sequence, &lane.agent_waiters}; }

inline std::uint64_t unix_ns() {
    timespec now{};
    ::clock_gettime(CLOCK_REALTIME, &now);
    return static_cast<std::uint64_t>(now.tv_sec) * 1'000'000'000ull + static_cast<std::uint64_t>(now.tv_nsec);
}

}  // namespace ringside::trace
