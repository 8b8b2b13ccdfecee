#include "runner/os_threads.hpp"

#include <pthread.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <sched.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <fstream>
#include <sstream>

#include "runner/safety.hpp"

namespace ringside::runner {
namespace {

void note_refusal(Granted& granted, const std::string& what, int err) {
    if (!granted.refused.empty()) granted.refused += "; ";
    granted.refused += what + ": " + std::strerror(err);
    if (granted.refused_errno == 0) granted.refused_errno = err;
}

}  // namespace

const char* os_policy_name(int policy) {
    switch (policy) {
        case SCHED_OTHER: return "other";
        case SCHED_FIFO: return "fifo";
        case SCHED_RR: return "rr";
        case SCHED_BATCH: return "batch";
        case SCHED_IDLE: return "idle";
        default: return "unknown";
    }
}

std::vector<int> allowed_cpus() {
    cpu_set_t set;
    CPU_ZERO(&set);
    std::vector<int> cpus;
    if (sched_getaffinity(0, sizeof set, &set) != 0) return cpus;
    for (int cpu = 0; cpu < CPU_SETSIZE; ++cpu) {
        if (CPU_ISSET(cpu, &set)) cpus.push_back(cpu);
    }
    return cpus;
}

Granted read_granted(int tid) {
    Granted granted;
    granted.tid = tid;
    const int policy = sched_getscheduler(tid);
    granted.policy = policy < 0 ? "unknown" : os_policy_name(policy & ~SCHED_RESET_ON_FORK);
    sched_param param{};
    if (sched_getparam(tid, &param) == 0) granted.priority = param.sched_priority;
    errno = 0;
    const int nice = getpriority(PRIO_PROCESS, static_cast<id_t>(tid));
    if (errno == 0) granted.nice = nice;
    cpu_set_t set;
    CPU_ZERO(&set);
    if (sched_getaffinity(tid, sizeof set, &set) == 0) {
        for (int cpu = 0; cpu < CPU_SETSIZE; ++cpu) {
            if (CPU_ISSET(cpu, &set)) granted.cpus.push_back(cpu);
        }
    }
    return granted;
}

Granted apply_sched_to(int tid, const SchedSpec& sched, int cpu, const std::vector<int>& allowed) {
    Granted granted;
    cpu_set_t set;
    CPU_ZERO(&set);
    if (cpu >= 0) {
        CPU_SET(cpu, &set);
    } else {
        for (int c : allowed) CPU_SET(c, &set);
    }
    if (sched_setaffinity(tid, sizeof set, &set) != 0) note_refusal(granted, "affinity", errno);
    sched_param param{};
    if (is_realtime(sched.policy)) {
        param.sched_priority = sched.priority;
        if (sched_setscheduler(tid, sched.policy == Policy::kFifo ? SCHED_FIFO : SCHED_RR, &param) != 0) {
            note_refusal(granted, name(sched.policy), errno);
        }
    } else {
        if (sched_setscheduler(tid, SCHED_OTHER, &param) != 0) note_refusal(granted, "other", errno);
        if (setpriority(PRIO_PROCESS, static_cast<id_t>(tid), sched.nice) != 0) {
            note_refusal(granted, "nice " + std::to_string(sched.nice), errno);
        }
    }
    Granted read = read_granted(tid);
    read.refused = granted.refused;
    read.refused_errno = granted.refused_errno;
    return read;
}

Granted apply_sched(const SchedSpec& sched, int cpu, const std::vector<int>& allowed) {
    return apply_sched_to(static_cast<int>(::gettid()), sched, cpu, allowed);
}

nlohmann::ordered_json granted_json(const Granted& g, const SchedSpec& requested, int requested_cpu) {
    nlohmann::ordered_json out;
    out["requested"] = {{"policy", name(requested.policy)},
                        {"priority", requested.priority},
                        {"nice", requested.nice},
                        {"cpu", requested_cpu}};
    out["tid"] = g.tid;
    out["policy"] = g.policy;
    out["priority"] = g.priority;
    out["nice"] = g.nice;
    out["cpus"] = g.cpus;
    out["refused"] = g.refused.empty() ? nlohmann::ordered_json(nullptr) : nlohmann::ordered_json(g.refused);
    const bool policy_ok = g.policy == name(requested.policy);
    const bool level_ok = is_realtime(requested.policy) ? g.priority == requested.priority : g.nice == requested.nice;
    const bool cpu_ok = requested_cpu < 0 || (g.cpus.size() == 1 && g.cpus[0] == requested_cpu);
    out["as_requested"] = policy_ok && level_ok && cpu_ok;
    return out;
}

clockid_t thread_cpu_clock(int tid) {
    // MAKE_THREAD_CPUCLOCK(tid, CPUCLOCK_SCHED): (~tid << 3) | PERTHREAD(4) | SCHED(2).
    return static_cast<clockid_t>((~static_cast<unsigned>(tid) << 3) | 6u);
}

ThreadCost cost_of_this_thread() {
    ThreadCost cost;
    rusage usage{};
    timespec cpu{};
    if (getrusage(RUSAGE_THREAD, &usage) != 0 || clock_gettime(CLOCK_THREAD_CPUTIME_ID, &cpu) != 0) return cost;
    cost.cpu_ns = static_cast<std::uint64_t>(cpu.tv_sec) * 1'000'000'000ull + static_cast<std::uint64_t>(cpu.tv_nsec);
    cost.minor_faults = static_cast<std::uint64_t>(usage.ru_minflt);
    cost.major_faults = static_cast<std::uint64_t>(usage.ru_majflt);
    cost.voluntary_switches = static_cast<std::uint64_t>(usage.ru_nvcsw);
    cost.involuntary_switches = static_cast<std::uint64_t>(usage.ru_nivcsw);
    cost.valid = true;
    return cost;
}

ThreadCost cost_of_thread(int tid) {
    ThreadCost cost;
    timespec cpu{};
    if (tid <= 0 || clock_gettime(thread_cpu_clock(tid), &cpu) != 0) return cost;
    cost.cpu_ns = static_cast<std::uint64_t>(cpu.tv_sec) * 1'000'000'000ull + static_cast<std::uint64_t>(cpu.tv_nsec);
    const std::string dir = "/proc/self/task/" + std::to_string(tid);
    // stat: "pid (comm) state ppid ... minflt(10) cminflt majflt(12) ..."; comm may hold spaces.
    std::ifstream stat(dir + "/stat");
    std::string text((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
    const std::size_t close = text.rfind(')');
    if (close == std::string::npos) return cost;
    std::istringstream fields(text.substr(close + 2));
    std::string field;
    for (int index = 3; fields >> field; ++index) {
        if (index == 10) cost.minor_faults = std::stoull(field);
        if (index == 12) {
            cost.major_faults = std::stoull(field);
            break;
        }
    }
    std::ifstream status(dir + "/status");
    for (std::string line; std::getline(status, line);) {
        if (line.rfind("voluntary_ctxt_switches:", 0) == 0) cost.voluntary_switches = std::stoull(line.substr(24));
        if (line.rfind("nonvoluntary_ctxt_switches:", 0) == 0) cost.involuntary_switches = std::stoull(line.substr(27));
    }
    cost.valid = true;
    return cost;
}

ThreadCost operator-(const ThreadCost& end, const ThreadCost& start) {
    ThreadCost d;
    d.valid = end.valid && start.valid;
    d.cpu_ns = end.cpu_ns - start.cpu_ns;
    d.minor_faults = end.minor_faults - start.minor_faults;
    d.major_faults = end.major_faults - start.major_faults;
    d.voluntary_switches = end.voluntary_switches - start.voluntary_switches;
    d.involuntary_switches = end.involuntary_switches - start.involuntary_switches;
    return d;
}

nlohmann::ordered_json cost_to_json(const ThreadCost& c) {
    return {{"valid", c.valid},
            {"cpu_ns", c.cpu_ns},
            {"minor_faults", c.minor_faults},
            {"major_faults", c.major_faults},
            {"voluntary_switches", c.voluntary_switches},
            {"involuntary_switches", c.involuntary_switches}};
}

ThreadCost cost_from_json(const nlohmann::json& j) {
    ThreadCost c;
    c.valid = j.value("valid", false);
    c.cpu_ns = j.value("cpu_ns", std::uint64_t{0});
    c.minor_faults = j.value("minor_faults", std::uint64_t{0});
    c.major_faults = j.value("major_faults", std::uint64_t{0});
    c.voluntary_switches = j.value("voluntary_switches", std::uint64_t{0});
    c.involuntary_switches = j.value("involuntary_switches", std::uint64_t{0});
    return c;
}

nlohmann::ordered_json cost_json(const ThreadCost& c, std::uint64_t messages) {
    if (!c.valid) return nullptr;
    nlohmann::ordered_json out = cost_to_json(c);
    out.erase("valid");
    out["cpu_ns_per_message"] =
        messages == 0 ? nlohmann::ordered_json(nullptr)
                      : nlohmann::ordered_json(static_cast<double>(c.cpu_ns) / static_cast<double>(messages));
    return out;
}

namespace {

// A busy process: forked from a threaded runner, so the child makes only
// async-signal-safe calls until it _exits at `deadline_ns` (monotonic).
pid_t fork_spinner(std::uint64_t deadline_ns) {
    const pid_t parent = ::getpid();
    const pid_t pid = ::fork();
    if (pid != 0) return pid;
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(0);
    std::uint64_t work = 0;
    for (;;) {
        for (int k = 0; k < 65536; ++k) work = work * 6364136223846793005ull + 1;
        timespec now{};
        ::clock_gettime(CLOCK_MONOTONIC, &now);
        if (static_cast<std::uint64_t>(now.tv_sec) * 1'000'000'000ull + static_cast<std::uint64_t>(now.tv_nsec) >=
            deadline_ns) {
            ::_exit(static_cast<int>(work & 1));
        }
    }
}

}  // namespace

void ContentionThreads::start(const runner::Contention& spec, const std::vector<int>& allowed, double max_seconds) {
    granted_.assign(static_cast<std::size_t>(spec.threads), Granted{});
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(max_seconds);
    if (spec.processes) {
        timespec now{};
        ::clock_gettime(CLOCK_MONOTONIC, &now);
        const std::uint64_t deadline_ns = static_cast<std::uint64_t>(now.tv_sec) * 1'000'000'000ull +
                                          static_cast<std::uint64_t>(now.tv_nsec) +
                                          static_cast<std::uint64_t>(max_seconds * 1e9);
        for (int i = 0; i < spec.threads; ++i) {
            const int cpu = spec.cpus.empty() ? -1 : spec.cpus[static_cast<std::size_t>(i) % spec.cpus.size()];
            cpus_.push_back(cpu);
            const pid_t pid = fork_spinner(deadline_ns);
            if (pid < 0) {
                note_refusal(granted_[static_cast<std::size_t>(i)], "fork", errno);
                continue;
            }
            safety::track_child(pid);
            pids_.push_back(pid);
            granted_[static_cast<std::size_t>(i)] = apply_sched_to(pid, spec.sched, cpu, allowed);
        }
        return;
    }
    for (int i = 0; i < spec.threads; ++i) {
        const int cpu = spec.cpus.empty() ? -1 : spec.cpus[static_cast<std::size_t>(i) % spec.cpus.size()];
        cpus_.push_back(cpu);
        threads_.emplace_back([this, spec, allowed, cpu, deadline, i] {
            pthread_setname_np(pthread_self(), "rs-contention");
            granted_[static_cast<std::size_t>(i)] = apply_sched(spec.sched, cpu, allowed);
            // release: the grant written above is visible to start().
            started_.fetch_add(1, std::memory_order_release);
            std::uint64_t work = 0;
            // relaxed is enough: a flag with no data behind it.
            while (!stop_.load(std::memory_order_relaxed)) {
                for (int k = 0; k < 65536; ++k) work = work * 6364136223846793005ull + 1;
                if (std::chrono::steady_clock::now() > deadline) break;
            }
            asm volatile("" : : "r"(work));
        });
    }
    // acquire: pairs with each thread's release; bounded by the threads' own deadline.
    while (started_.load(std::memory_order_acquire) < spec.threads && std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
}

void ContentionThreads::stop() {
    for (const pid_t pid : pids_) {
        ::kill(pid, SIGKILL);
        int status = 0;
        ::waitpid(pid, &status, 0);
        safety::untrack_child(pid);
    }
    pids_.clear();
    stop_.store(true, std::memory_order_relaxed);
    for (std::thread& t : threads_) {
        if (t.joinable()) t.join();
    }
    threads_.clear();
}

}  // namespace ringside::runner
