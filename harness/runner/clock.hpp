// The runner's clock: the TSC when the kernel says it is invariant
// (constant_tsc and nonstop_tsc in /proc/cpuinfo: same rate on every core,
// in every power state), calibrated against CLOCK_MONOTONIC; otherwise
// clock_gettime(CLOCK_MONOTONIC) itself. Timestamps are ticks; durations
// are converted to nanoseconds once, when recorded.
//
// read() is rdtscp: it waits until every earlier instruction has executed
// (so a load that observed a reply is complete before the stamp), and takes
// ~10-40 ns. The characterisation (cost, resolution) is measured at start-up
// and reported with every result.
#pragma once

#include <time.h>

#include <algorithm>
#include <cstdint>
#include <string>

#if defined(__x86_64__)
#include <x86intrin.h>
#endif

namespace ringside::runner {

enum class ClockSource { kTsc, kMonotonic };

struct ClockInfo {
    ClockSource source = ClockSource::kMonotonic;
    bool tsc_invariant = false;   // constant_tsc and nonstop_tsc present
    std::string why;              // why this source was chosen
    double ticks_per_ns = 1.0;
    double calibration_ms = 0;    // how long the calibration ran
    double timer_cost_ns = 0;     // mean cost of one read, back to back
    double resolution_ns = 0;     // smallest non-zero step between two reads
    double monotonic_cost_ns = 0; // clock_gettime(CLOCK_MONOTONIC), for comparison
};

class Clock {
public:
    // Chooses and calibrates (~50 ms). `force`: "tsc", "monotonic" or "" (automatic).
    static Clock make(const std::string& force, std::string& error);
    Clock() = default;

    [[nodiscard]] std::uint64_t now() const {
#if defined(__x86_64__)
        if (tsc_) {
            unsigned aux;
            return __rdtscp(&aux);
        }
#endif
        return monotonic_ns();
    }
    [[nodiscard]] std::int64_t to_ns(std::int64_t ticks) const {
        return static_cast<std::int64_t>(static_cast<double>(ticks) * ns_per_tick_ + 0.5);
    }
    [[nodiscard]] std::uint64_t from_ns(double ns) const {
        return static_cast<std::uint64_t>(ns * info_.ticks_per_ns + 0.5);
    }
    [[nodiscard]] const ClockInfo& info() const { return info_; }

    static std::uint64_t monotonic_ns() {
        timespec now{};
        ::clock_gettime(CLOCK_MONOTONIC, &now);
        return static_cast<std::uint64_t>(now.tv_sec) * 1'000'000'000ull + static_cast<std::uint64_t>(now.tv_nsec);
    }

    // Measures timer_cost_ns and resolution_ns into info() (~20 ms).
    void characterise();

private:
    bool tsc_ = false;
    double ns_per_tick_ = 1.0;
    ClockInfo info_;
};

// The median over 200 batches of the mean cost of 1000 calls of `op`, in
// nanoseconds, timed with `clock`. For costs of a few nanoseconds on a
// machine that others share.
template <typename Op>
double median_batch_ns(const Clock& clock, Op&& op) {
    constexpr int kBatches = 200;
    constexpr int kCalls = 1000;
    double means[kBatches];
    std::uint64_t sink = 0;
    for (double& mean : means) {
        const std::uint64_t start = clock.now();
        for (int i = 0; i < kCalls; ++i) sink += static_cast<std::uint64_t>(op());
        mean = static_cast<double>(clock.to_ns(static_cast<std::int64_t>(clock.now() - start))) / kCalls;
    }
    asm volatile("" : : "r"(sink));
    std::nth_element(means, means + kBatches / 2, means + kBatches);
    return means[kBatches / 2];
}

// True when /proc/cpuinfo lists both constant_tsc and nonstop_tsc.
bool tsc_is_invariant();

}  // namespace ringside::runner
