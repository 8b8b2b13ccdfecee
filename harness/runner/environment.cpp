#include "runner/environment.hpp"

#include <sys/utsname.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <string>

#include "ringside/ringside.h"
#include "runner_build_info.h"  // generated at every build: git commit, dirty flag, flags, variant

namespace ringside::runner {
namespace {

using ojson = nlohmann::ordered_json;

ojson read_line(const std::string& path) {
    std::ifstream in(path);
    std::string line;
    if (!in || !std::getline(in, line)) return nullptr;
    return line;
}

ojson read_number(const std::string& path) {
    std::ifstream in(path);
    long long value = 0;
    if (!(in >> value)) return nullptr;
    return value;
}

std::string cpuinfo_field(const std::string& key) {
    std::ifstream in("/proc/cpuinfo");
    for (std::string line; std::getline(in, line);) {
        if (line.rfind(key, 0) != 0) continue;
        const std::size_t colon = line.find(':');
        if (colon != std::string::npos) return line.substr(colon + 2);
    }
    return "";
}

bool cpuinfo_flag(const std::string& flag) {
    std::istringstream words(cpuinfo_field("flags"));
    for (std::string word; words >> word;) {
        if (word == flag) return true;
    }
    return false;
}

CpuTimes parse_cpu_line(const std::string& line) {
    CpuTimes t;
    std::istringstream fields(line);
    std::string label;
    fields >> label;
    std::uint64_t value = 0;
    for (int i = 0; fields >> value; ++i) {
        // user nice system idle iowait irq softirq steal guest guest_nice:
        // guest time is already inside user/nice, so it is not added again.
        if (i < 8) t.total += value;
        if (i == 7) t.steal = value;
    }
    t.valid = true;
    return t;
}

}  // namespace

ojson environment_json(const std::vector<int>& allowed) {
    ojson env;
    env["cpu_model"] = cpuinfo_field("model name");
    env["cpus_online"] = sysconf(_SC_NPROCESSORS_ONLN);
    env["cpus_allowed"] = allowed;
    env["hypervisor"] = cpuinfo_flag("hypervisor");
    utsname uts{};
    if (uname(&uts) == 0) {
        env["kernel"] = std::string(uts.sysname) + " " + uts.release + " " + uts.version;
        env["machine"] = uts.machine;
        env["hostname"] = uts.nodename;
    }
    env["governor"] = read_line("/sys/devices/system/cpu/cpu0/cpufreq/scaling_governor");
    const ojson smt = read_number("/sys/devices/system/cpu/smt/active");
    env["smt_active"] = smt.is_null() ? ojson(nullptr) : ojson(smt.get<long long>() != 0);
    env["smt_control"] = read_line("/sys/devices/system/cpu/smt/control");
    env["rt_throttling"] = rt_throttling_json();
    env["compiler"] = RINGSIDE_RUNNER_COMPILER;
    env["compiler_version"] = __VERSION__;
    env["flags"] = RINGSIDE_RUNNER_FLAGS;
    env["build_type"] = RINGSIDE_RUNNER_BUILD_TYPE;
    env["build_variant"] = RINGSIDE_RUNNER_VARIANT;
    env["sanitizer"] = RINGSIDE_RUNNER_SANITIZER;
    env["git_commit"] = RINGSIDE_RUNNER_GIT_COMMIT;
    env["git_dirty"] = RINGSIDE_RUNNER_GIT_DIRTY != 0;
    env["git_stamped_at_build"] = true;
    env["ringside_version"] = rs_version_string();
    std::uint16_t major = 0;
    std::uint16_t minor = 0;
    rs_layout_version(&major, &minor);
    env["layout_version"] = std::to_string(major) + "." + std::to_string(minor);
    return env;
}

ojson clock_json(const ClockInfo& info, double record_cost_ns) {
    ojson c;
    c["source"] = info.source == ClockSource::kTsc ? "tsc" : "clock_gettime(CLOCK_MONOTONIC)";
    c["tsc_invariant"] = info.tsc_invariant;
    c["why"] = info.why;
    c["tsc_ghz"] = info.source == ClockSource::kTsc ? ojson(info.ticks_per_ns) : ojson(nullptr);
    c["calibration_ms"] = info.calibration_ms;
    c["timer_cost_ns"] = info.timer_cost_ns;
    c["resolution_ns"] = info.resolution_ns;
    c["monotonic_cost_ns"] = info.monotonic_cost_ns;
    c["record_cost_ns"] = record_cost_ns;
    return c;
}

StealSnapshot read_steal() {
    StealSnapshot s;
    std::ifstream in("/proc/stat");
    for (std::string line; std::getline(in, line);) {
        if (line.rfind("cpu", 0) != 0) break;
        if (line.rfind("cpu ", 0) == 0) {
            s.all = parse_cpu_line(line);
            continue;
        }
        const int cpu = std::atoi(line.c_str() + 3);
        if (cpu >= 0 && cpu < 4096) {
            if (s.per_cpu.size() <= static_cast<std::size_t>(cpu)) s.per_cpu.resize(static_cast<std::size_t>(cpu) + 1);
            s.per_cpu[static_cast<std::size_t>(cpu)] = parse_cpu_line(line);
        }
    }
    return s;
}

ojson steal_json(const StealSnapshot& start, const StealSnapshot& end, const std::vector<int>& cpus) {
    if (!start.all.valid || !end.all.valid) return nullptr;
    const double hz = static_cast<double>(sysconf(_SC_CLK_TCK));
    auto delta = [&](const CpuTimes& a, const CpuTimes& b) {
        ojson d;
        const std::uint64_t total = b.total - a.total;
        const std::uint64_t steal = b.steal - a.steal;
        d["steal_ms"] = static_cast<double>(steal) * 1000.0 / hz;
        d["steal_fraction"] = total == 0 ? ojson(nullptr) : ojson(static_cast<double>(steal) / static_cast<double>(total));
        return d;
    };
    ojson out = delta(start.all, end.all);
    out["tick_ms"] = 1000.0 / hz;
    ojson per_cpu = ojson::object();
    for (int cpu : cpus) {
        const auto i = static_cast<std::size_t>(cpu);
        if (i < start.per_cpu.size() && i < end.per_cpu.size() && start.per_cpu[i].valid && end.per_cpu[i].valid) {
            per_cpu[std::to_string(cpu)] = delta(start.per_cpu[i], end.per_cpu[i]);
        }
    }
    out["per_cpu"] = per_cpu;
    return out;
}

ojson rt_throttling_json() {
    return {{"sched_rt_runtime_us", read_number("/proc/sys/kernel/sched_rt_runtime_us")},
            {"sched_rt_period_us", read_number("/proc/sys/kernel/sched_rt_period_us")}};
}

}  // namespace ringside::runner
