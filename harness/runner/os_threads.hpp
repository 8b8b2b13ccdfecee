// Threads and the OS: applying a scheduling request to the calling thread
// and reading back what was granted; per-thread cost counters; busy
// contention threads.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <cstdint>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "runner/scenario.hpp"

namespace ringside::runner {

// The CPUs this process may run on (sched_getaffinity), ascending.
std::vector<int> allowed_cpus();

// What the OS reports for one thread.
struct Granted {
    int tid = 0;
    std::string policy;  // "other", "fifo", "rr", "batch", "idle"
    int priority = 0;
    int nice = 0;
    std::vector<int> cpus;
    std::string refused;  // what the OS refused ("" if nothing)
    int refused_errno = 0;
};
// The name of an OS scheduling policy (SCHED_OTHER: "other", ...; "unknown").
const char* os_policy_name(int policy);
nlohmann::ordered_json granted_json(const Granted& granted, const SchedSpec& requested, int requested_cpu);

// Reads policy, priority, nice and affinity of thread `tid` (this process or another).
Granted read_granted(int tid);

// Applies `sched` and affinity (cpu >= 0: that CPU; -1: every allowed CPU)
// to the calling thread, then reads back. What the OS refuses is recorded in
// Granted::refused; apply_sched itself never throws.
Granted apply_sched(const SchedSpec& sched, int cpu, const std::vector<int>& allowed);
// The same for thread or process `tid` (a spinner child, the tracer's drain thread).
Granted apply_sched_to(int tid, const SchedSpec& sched, int cpu, const std::vector<int>& allowed);

// Linux's CPU-time clock of thread `tid` of this process (no pthread_t needed).
clockid_t thread_cpu_clock(int tid);

// Counters of one thread, at one moment.
struct ThreadCost {
    std::uint64_t cpu_ns = 0;
    std::uint64_t minor_faults = 0;
    std::uint64_t major_faults = 0;
    std::uint64_t voluntary_switches = 0;
    std::uint64_t involuntary_switches = 0;
    bool valid = false;
};
// The calling thread (getrusage(RUSAGE_THREAD), CLOCK_THREAD_CPUTIME_ID).
ThreadCost cost_of_this_thread();
// Thread `tid` of this process (/proc/self/task/<tid>, its CPU clock).
ThreadCost cost_of_thread(int tid);
ThreadCost operator-(const ThreadCost& end, const ThreadCost& start);
nlohmann::ordered_json cost_json(const ThreadCost& cost, std::uint64_t messages);
nlohmann::ordered_json cost_to_json(const ThreadCost& cost);
ThreadCost cost_from_json(const nlohmann::json& json);

// N threads (or, with Contention::processes, forked processes) spinning on
// chosen CPUs at a chosen policy until stop(), or until their own deadline:
// they never outlive the run (processes also die with the runner:
// PR_SET_PDEATHSIG, and the watchdog kills them as tracked children).
class ContentionThreads {
public:
    ContentionThreads() = default;
    ~ContentionThreads() { stop(); }
    ContentionThreads(const ContentionThreads&) = delete;
    ContentionThreads& operator=(const ContentionThreads&) = delete;

    // Starts the threads and waits until each has applied its scheduling.
    void start(const runner::Contention& spec, const std::vector<int>& allowed, double max_seconds);
    void stop();
    [[nodiscard]] const std::vector<Granted>& granted() const { return granted_; }
    // The CPU thread i was pinned to (-1: unpinned).
    [[nodiscard]] int cpu_of(std::size_t i) const { return cpus_[i]; }

private:
    std::atomic<bool> stop_{false};
    std::atomic<int> started_{0};
    std::vector<std::thread> threads_;
    std::vector<pid_t> pids_;
    std::vector<Granted> granted_;
    std::vector<int> cpus_;
};

}  // namespace ringside::runner
