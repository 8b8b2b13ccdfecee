#include "tracer/trace_clock.hpp"

#include <time.h>

#include <cstdio>
#include <cstring>

namespace ringside::trace {

bool tsc_invariant() {
#if defined(__x86_64__) || defined(__i386__)
    std::FILE* file = std::fopen("/proc/cpuinfo", "re");
    if (file == nullptr) return false;
    char line[8192];
    bool constant = false;
    bool nonstop = false;
    while (std::fgets(line, sizeof line, file) != nullptr) {
        if (std::strncmp(line, "flags", 5) != 0) continue;
        constant = std::strstr(line, " constant_tsc") != nullptr;
        nonstop = std::strstr(line, " nonstop_tsc") != nullptr;
        break;
    }
    std::fclose(file);
    return constant && nonstop;
#else
    return false;
#endif
}

std::uint64_t calibrate_tsc_hz(std::uint64_t window_ns, std::uint64_t& anchor_tsc, std::uint64_t& anchor_ns) {
    std::uint64_t start_tsc = 0;
    std::uint64_t start_ns = 0;
    anchor_pair(ClockKind::kTsc, start_tsc, start_ns);
    const timespec nap{static_cast<time_t>(window_ns / 1'000'000'000ull),
                       static_cast<long>(window_ns % 1'000'000'000ull)};
    ::nanosleep(&nap, nullptr);
    anchor_pair(ClockKind::kTsc, anchor_tsc, anchor_ns);
    const std::uint64_t ticks = anchor_tsc - start_tsc;
    const std::uint64_t ns = anchor_ns - start_ns;
    if (ns == 0 || ticks == 0) return 0;
    return static_cast<std::uint64_t>(static_cast<Uint128>(ticks) * 1'000'000'000u / ns);
}

}  // namespace ringside::trace
