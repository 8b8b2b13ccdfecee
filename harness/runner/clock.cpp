#include "runner/clock.hpp"

#include <algorithm>
#include <fstream>
#include <sstream>

namespace ringside::runner {
namespace {

struct Pair {
    std::uint64_t tsc;
    std::uint64_t ns;
    std::uint64_t bracket;  // tsc ticks the clock_gettime read took: the pair's uncertainty
};

#if defined(__x86_64__)
// A (tsc, monotonic) pair, the tsc read on both sides of clock_gettime; the
// narrowest of a few tries.
Pair read_pair() {
    Pair best{0, 0, UINT64_MAX};
    for (int i = 0; i < 16; ++i) {
        unsigned aux;
        const std::uint64_t before = __rdtscp(&aux);
        const std::uint64_t ns = Clock::monotonic_ns();
        const std::uint64_t after = __rdtscp(&aux);
        if (after - before < best.bracket) best = {before + (after - before) / 2, ns, after - before};
    }
    return best;
}
#endif

}  // namespace

bool tsc_is_invariant() {
    std::ifstream cpuinfo("/proc/cpuinfo");
    std::string line;
    while (std::getline(cpuinfo, line)) {
        if (line.rfind("flags", 0) != 0) continue;
        std::istringstream words(line);
        bool constant = false;
        bool nonstop = false;
        for (std::string word; words >> word;) {
            constant = constant || word == "constant_tsc";
            nonstop = nonstop || word == "nonstop_tsc";
        }
        return constant && nonstop;  // the first CPU's flags speak for all
    }
    return false;
}

Clock Clock::make(const std::string& force, std::string& error) {
    Clock clock;
    clock.info_.tsc_invariant = tsc_is_invariant();
    bool use_tsc = false;
#if defined(__x86_64__)
    if (force == "tsc") {
        use_tsc = true;
        clock.info_.why = clock.info_.tsc_invariant ? "forced; invariant TSC" : "forced; the TSC is NOT invariant here";
    } else if (force == "monotonic") {
        clock.info_.why = "forced";
    } else if (force.empty()) {
        use_tsc = clock.info_.tsc_invariant;
        clock.info_.why = use_tsc ? "invariant TSC (constant_tsc, nonstop_tsc)"
                                  : "TSC not invariant (constant_tsc or nonstop_tsc missing)";
    } else {
        error = "clock must be tsc or monotonic, not '" + force + "'";
        return clock;
    }
#else
    if (force == "tsc") {
        error = "the TSC clock exists on x86-64 only";
        return clock;
    }
    clock.info_.why = "not x86-64";
#endif
    if (use_tsc) {
#if defined(__x86_64__)
        const Pair first = read_pair();
        const timespec nap{0, 50'000'000};
        ::nanosleep(&nap, nullptr);
        const Pair second = read_pair();
        const double ticks = static_cast<double>(second.tsc - first.tsc);
        const double ns = static_cast<double>(second.ns - first.ns);
        clock.info_.calibration_ms = ns / 1e6;
        if (ticks <= 0 || ns <= 0) {
            error = "TSC calibration failed: the TSC or the monotonic clock did not advance";
            return clock;
        }
        clock.tsc_ = true;
        clock.info_.source = ClockSource::kTsc;
        clock.info_.ticks_per_ns = ticks / ns;
        clock.ns_per_tick_ = ns / ticks;
#endif
    } else {
        clock.info_.source = ClockSource::kMonotonic;
        clock.info_.ticks_per_ns = 1.0;
        clock.ns_per_tick_ = 1.0;
    }
    clock.characterise();
    return clock;
}

void Clock::characterise() {
    // Costs are the median over 200 batches of 1000 back-to-back reads: a
    // preemption spoils one batch, not the figure (the machine is shared).
    info_.timer_cost_ns = median_batch_ns(*this, [this] { return now(); });
    info_.monotonic_cost_ns = median_batch_ns(*this, [] { return monotonic_ns(); });
    // Resolution: the smallest non-zero difference between consecutive reads.
    std::uint64_t smallest = UINT64_MAX;
    std::uint64_t previous = now();
    for (int i = 0; i < 100'000; ++i) {
        const std::uint64_t t = now();
        if (t > previous) smallest = std::min(smallest, t - previous);
        previous = t;
    }
    info_.resolution_ns = smallest == UINT64_MAX ? 0 : static_cast<double>(smallest) * ns_per_tick_;
}

}  // namespace ringside::runner
