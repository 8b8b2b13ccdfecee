// The tracer's clock: the TSC where it is invariant, else CLOCK_MONOTONIC.
//
// Measured on this machine (2 vCPU Zen 5 under KVM, clocksource tsc): rdtsc
// costs ~9.5 ns per call in a loop, clock_gettime(CLOCK_MONOTONIC) through the
// vDSO ~40 ns. So events carry raw TSC ticks, converted to nanoseconds off
// the hot path:
//  - calibration: the controller measures tsc_hz once when it creates the
//    region (TSC and CLOCK_MONOTONIC read back to back, 20 ms apart; error
//    a few ppm) and stores it with the anchor pair in the TraceHeader;
//  - anchors: the agent stores a (tsc, CLOCK_MONOTONIC) pair when it claims
//    a lane and when it activates and submits each ring (slow path only), so
//    a reader converts a record with the anchor of its own window:
//      ns = open_ns + (ts - open_tsc) * 1e9 / tsc_hz
//    and frequency error never accumulates beyond one window.
// The TSC is used only when /proc/cpuinfo lists constant_tsc and
// nonstop_tsc (same rate on every core, through idle states); otherwise, or
// off x86, the region is created with ClockKind::kMonotonic and events carry
// nanoseconds directly.
#pragma once

#include <cstdint>

#if defined(__x86_64__) || defined(__i386__)
#include <x86intrin.h>
#endif

#include "tracer/trace_layout.h"
#include "wait/clock.hpp"

namespace ringside::trace {

// 128-bit arithmetic for tick conversions (__extension__: not ISO C++).
__extension__ typedef __int128 Int128;
__extension__ typedef unsigned __int128 Uint128;

inline std::uint64_t read_tsc() {
#if defined(__x86_64__) || defined(__i386__)
    return __rdtsc();
#else
    return monotonic_ns();
#endif
}

inline std::uint64_t trace_now(ClockKind kind) { return kind == ClockKind::kTsc ? read_tsc() : monotonic_ns(); }

// True when the TSC runs at a constant rate on all cores through idle states.
bool tsc_invariant();

// Measures TSC ticks per second over `window_ns` against CLOCK_MONOTONIC and
// returns the last anchor pair taken.
std::uint64_t calibrate_tsc_hz(std::uint64_t window_ns, std::uint64_t& anchor_tsc, std::uint64_t& anchor_ns);

// A (trace clock, CLOCK_MONOTONIC) pair read back to back.
inline void anchor_pair(ClockKind kind, std::uint64_t& ticks, std::uint64_t& ns) {
    ticks = trace_now(kind);
    ns = monotonic_ns();
}

// Converts a trace-clock value to CLOCK_MONOTONIC ns with an anchor pair.
inline std::uint64_t to_monotonic_ns(ClockKind kind, std::uint64_t tsc_hz, std::uint64_t anchor_ticks,
                                     std::uint64_t anchor_ns, std::uint64_t ticks) {
    if (kind != ClockKind::kTsc || tsc_hz == 0) return ticks;
    const Int128 delta = static_cast<Int128>(ticks) - static_cast<Int128>(anchor_ticks);
    const Int128 ns = static_cast<Int128>(anchor_ns) + delta * 1'000'000'000 / static_cast<Int128>(tsc_hz);
    return ns < 0 ? 0 : static_cast<std::uint64_t>(ns);
}

}  // namespace ringside::trace
