// What every result records about the machine and the build, and the
// disturbance counters read around the measured window.
#pragma once

#include <cstdint>
#include <vector>

#include <nlohmann/json.hpp>

#include "runner/clock.hpp"

namespace ringside::runner {

// CPU model, cores, kernel, governor, SMT, hypervisor, real-time
// throttling, compiler and flags, build variant, git commit and dirty flag,
// library and layout versions.
nlohmann::ordered_json environment_json(const std::vector<int>& allowed_cpus);

nlohmann::ordered_json clock_json(const ClockInfo& info, double record_cost_ns);

// The "cpu" lines of /proc/stat, in USER_HZ ticks.
struct CpuTimes {
    std::uint64_t total = 0;  // every field, summed
    std::uint64_t steal = 0;
    bool valid = false;
};
struct StealSnapshot {
    CpuTimes all;
    std::vector<CpuTimes> per_cpu;  // indexed by CPU number
};
StealSnapshot read_steal();
nlohmann::ordered_json steal_json(const StealSnapshot& start, const StealSnapshot& end, const std::vector<int>& cpus);

// /proc/sys/kernel/sched_rt_runtime_us and sched_rt_period_us (null if unreadable).
nlohmann::ordered_json rt_throttling_json();

}  // namespace ringside::runner
