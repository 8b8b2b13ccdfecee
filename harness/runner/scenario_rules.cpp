// validate(): which scenarios the runner refuses, and why. Two kinds of
// rule: combinations that do not exist (a peer across processes, a floor
// with a 1 KiB payload), and scheduling that would wedge the machine.
//
// The scheduling rules, for threads at a real-time policy (SCHED_FIFO/RR):
//  - A real-time thread that waits by spinning (busy_spin, spin_pause,
//    yield) never lets a lower or equal priority thread run on its CPU. If
//    the thread it waits for shares that CPU, the reply never comes: a
//    deadlock the kernel's RT throttling only turns into a crawl. Rejected.
//  - Such a spinner must be pinned: unpinned, the scheduler may put it on
//    its peer's CPU (the same deadlock).
//  - Real-time spinners (measured threads and real-time contention
//    threads) must leave at least one allowed CPU free of them, for the
//    rest of the system and the runner's own watchdog.
//  - A real-time contention thread starves any measured thread on its CPU
//    that does not have a strictly higher real-time priority. Rejected.
#include <algorithm>
#include <set>

#include "runner/scenario.hpp"
#include "runner/python_host.hpp"

namespace ringside::runner {
namespace {

std::string cpu_list(const std::vector<int>& cpus) {
    std::string text;
    for (int cpu : cpus) text += (text.empty() ? "" : ",") + std::to_string(cpu);
    return text;
}

std::string describe(const SchedSpec& s) {
    if (is_realtime(s.policy)) return std::string("SCHED_") + (s.policy == Policy::kFifo ? "FIFO" : "RR") + " " +
                                      std::to_string(s.priority);
    return "SCHED_OTHER nice " + std::to_string(s.nice);
}

bool supports_wait(Queue queue, Transport transport, Delivery delivery, Wait wait, std::string& why) {
    switch (queue) {
        case Queue::kRingside:
        case Queue::kRingsideRing:
            if (wait == Wait::kNative) {
                why = "ringside waits with its own strategies; native is for mutex_condvar and floor_futex";
                return false;
            }
            if (wait == Wait::kEventfd && transport == Transport::kProcesses) {
                why = "eventfd across processes needs fd passing, which the runner does not do yet";
                return false;
            }
            (void)delivery;
            return true;
        case Queue::kBoostSpsc:
        case Queue::kMoodycamel:
        case Queue::kFloorCacheline:
            if (wait == Wait::kBusySpin || wait == Wait::kSpinPause || wait == Wait::kYield || wait == Wait::kSleep) {
                return true;
            }
            why = "this queue has no way to park a waiter: busy_spin, spin_pause, yield or sleep only";
            return false;
        case Queue::kMutexCondvar:
        case Queue::kFloorFutex:
            if (wait == Wait::kNative) return true;
            why = "this queue always blocks in the kernel: its wait kind is native";
            return false;
        case Queue::kTracer:
            // The agent never waits (it drops) and the drain thread parks on its own: the kind is ignored.
            if (wait != Wait::kNative) return true;
            why = "native is for mutex_condvar and floor_futex";
            return false;
    }
    return false;
}

struct Thread {
    std::string role;
    SchedSpec sched;
    Wait wait;
    int cpu;
    bool spinner() const { return is_realtime(sched.policy) && never_parks(wait); }
};

}  // namespace

std::vector<std::string> validate(const Scenario& s, const std::vector<int>& cpus) {
    std::vector<std::string> reasons;
    auto reject = [&](std::string reason) { reasons.push_back(std::move(reason)); };
    const char* queue = name(s.queue);

    // --- what exists ---
    if (!is_ringside(s.queue) && s.transport == Transport::kProcesses) {
        reject(std::string(queue) + " is an in-process queue: transport must be threads (cross-process figures are "
                                    "ringside's alone)");
    }
    if (s.queue == Queue::kRingsideRing && s.transport == Transport::kProcesses) {
        reject("ringside_ring is the bare-ring peer driven like the other peers, in one process; use queue ringside "
               "for two processes");
    }
    if (!is_ringside(s.queue) && s.backing != Backing::kShm) {
        reject(std::string("backing file applies to ringside only; ") + queue + " lives in process memory");
    }
    if (s.queue != Queue::kRingside && s.delivery != Delivery::kVtable) {
        reject("delivery applies to queue ringside only");
    }
    if (s.queue == Queue::kRingside && s.transport == Transport::kProcesses && s.delivery != Delivery::kRing) {
        reject("the v-table delivers in one process only: two processes use delivery ring");
    }
    const bool floor = s.queue == Queue::kFloorCacheline || s.queue == Queue::kFloorFutex;
    if (floor && s.payload_bytes != 8) {
        reject(std::string(queue) + " moves one 8-byte word: payload_bytes must be 8");
    }
    if (floor && (s.load.mode != LoadMode::kClosed || s.load.burst != 1)) {
        reject(std::string(queue) + " holds one message per direction: load must be closed with burst 1");
    }
    if (s.queue == Queue::kTracer &&
        (s.transport != Transport::kThreads || s.backing != Backing::kShm || s.load.mode != LoadMode::kThroughput ||
         s.host_kind != "cpp")) {
        reject("tracer is an emit workload in one process over shm: transport threads, backing shm, load.mode "
               "throughput, host_kind cpp");
    }
    if (s.payload_bytes < 8) reject("payload_bytes must be at least 8 (sequence number and checksum)");
    if (s.ring_bytes < 4096 || (s.ring_bytes & (s.ring_bytes - 1)) != 0) {
        reject("ring_bytes must be a power of two, at least 4096");
    } else if (s.payload_bytes + 64 > s.ring_bytes / 2) {
        reject("a " + std::to_string(s.payload_bytes) + "-byte record does not fit a ring of " +
               std::to_string(s.ring_bytes) + " bytes (at most half the ring): raise ring_bytes");
    }
    if (s.host_kind == "python") {
        if (s.queue != Queue::kRingside || s.transport != Transport::kThreads || s.backing != Backing::kShm) {
            reject("host_kind python drives queue ringside in one process over shm (transport threads, backing shm)");
        }
        if (s.load.mode != LoadMode::kClosed) reject("host_kind python runs closed loop only (load.mode closed)");
        if (s.host.wait.kind == Wait::kEventfd || s.sidecar.wait.kind == Wait::kEventfd) {
            reject("host_kind python: eventfd waits are not wired into the Python host");
        }
        if (const std::string why = python_host_unavailable(); !why.empty()) reject("host_kind python: " + why);
    } else if (s.host_kind != "cpp") {
        reject("host_kind '" + s.host_kind + "' is unknown: cpp or python");
    }
    for (const SideSpec* side : {&s.host, &s.sidecar}) {
        const char* role = side == &s.host ? "host" : "sidecar";
        std::string why;
        if (!supports_wait(s.queue, s.transport, s.delivery, side->wait.kind, why)) {
            reject(std::string(role) + ".wait.kind " + name(side->wait.kind) + " with " + queue + ": " + why);
        }
    }
    // --- load and length ---
    if ((s.count > 0) == (s.duration_s > 0)) reject("give exactly one of count and duration_s");
    if (s.count + s.warmup >= (std::uint64_t{1} << 32) - 2) {
        reject("count + warmup must stay below 2^32: sequence numbers travel as 32 bits and 0 is the stop marker");
    }
    if (s.load.mode == LoadMode::kOpen && s.load.rate_per_s <= 0) reject("load.mode open needs load.rate_per_s > 0");
    if (s.load.mode != LoadMode::kOpen && s.load.rate_per_s != 0) {
        reject("load.rate_per_s applies to load.mode open only");
    }
    if (s.duration_s > 0 && s.timeout_s <= s.duration_s + 1) {
        reject("timeout_s must exceed duration_s + 1 s (start-up and drain run inside the watchdog too)");
    }
    if (s.patience_s >= s.timeout_s) reject("patience_s must be below timeout_s");
    // --- scheduling values ---
    for (const SchedSpec* sched : {&s.host.sched, &s.sidecar.sched, &s.contention.sched}) {
        const char* role = sched == &s.host.sched ? "host" : sched == &s.sidecar.sched ? "sidecar" : "contention";
        if (is_realtime(sched->policy) && (sched->priority < 1 || sched->priority > 99)) {
            reject(std::string(role) + ".sched.priority must be 1..99 for " + name(sched->policy));
        }
        if (!is_realtime(sched->policy) && sched->priority != 0) {
            reject(std::string(role) + ".sched.priority applies to fifo and rr only (use nice for other)");
        }
        if (is_realtime(sched->policy) && sched->nice != 0) {
            reject(std::string(role) + ".sched.nice applies to policy other only");
        }
    }
    // --- placement ---
    if (s.placement == Placement::kDifferentCores && cpus.size() < 2) {
        reject("placement different_cores needs two CPUs; this process may use " + std::to_string(cpus.size()));
    }
    for (const SideSpec* side : {&s.host, &s.sidecar}) {
        const char* role = side == &s.host ? "host" : "sidecar";
        if (side->cpu >= 0 && std::find(cpus.begin(), cpus.end(), side->cpu) == cpus.end()) {
            reject(std::string(role) + ".cpu " + std::to_string(side->cpu) + " is not one this process may use (" +
                   cpu_list(cpus) + ")");
        }
        if (s.placement == Placement::kUnpinned && side->cpu >= 0) {
            reject(std::string(role) + ".cpu is set but placement is unpinned");
        }
    }
    if (s.placement == Placement::kDifferentCores && s.host.cpu == s.sidecar.cpu && s.host.cpu >= 0) {
        reject("placement different_cores but host.cpu and sidecar.cpu are both " + std::to_string(s.host.cpu));
    }
    if (s.placement == Placement::kSameCore && s.host.cpu != s.sidecar.cpu) {
        reject("placement same_core but host.cpu " + std::to_string(s.host.cpu) + " differs from sidecar.cpu " +
               std::to_string(s.sidecar.cpu));
    }
    for (int cpu : s.contention.cpus) {
        if (std::find(cpus.begin(), cpus.end(), cpu) == cpus.end()) {
            reject("contention.cpus holds CPU " + std::to_string(cpu) + ", not one this process may use (" +
                   cpu_list(cpus) + ")");
        }
    }
    if (s.contention.threads == 0 && !s.contention.cpus.empty()) reject("contention.cpus given but threads is 0");
    // --- real-time safety (see the file comment) ---
    const Thread host{"host", s.host.sched, s.host.wait.kind, s.host.cpu};
    const Thread sidecar{"sidecar", s.sidecar.sched, s.sidecar.wait.kind, s.sidecar.cpu};
    std::set<int> rt_cpus;
    for (const Thread* t : {&host, &sidecar}) {
        if (!t->spinner()) continue;
        const Thread& peer = t == &host ? sidecar : host;
        if (t->cpu < 0) {
            reject(t->role + " is a " + describe(t->sched) + " " + name(t->wait) +
                   " spinner and unpinned: it could land on the CPU of the " + peer.role +
                   " it waits for and never let it run; pin it (placement different_cores)");
        } else if (t->cpu == peer.cpu) {
            reject(t->role + " is a " + describe(t->sched) + " " + name(t->wait) + " spinner on CPU " +
                   std::to_string(t->cpu) + ", the CPU of the " + peer.role +
                   " it waits for: the " + peer.role + " never runs (deadlock); use a parking wait (futex, hybrid, "
                   "sleep) or different cores");
        } else {
            rt_cpus.insert(t->cpu);
        }
    }
    if (s.contention.threads > 0 && is_realtime(s.contention.sched.policy)) {
        if (s.contention.cpus.empty()) {
            reject("real-time contention threads must be pinned (contention.cpus)");
        }
        for (int cpu : s.contention.cpus) {
            rt_cpus.insert(cpu);
            for (const Thread* t : {&host, &sidecar}) {
                const bool outranks = is_realtime(t->sched.policy) && t->sched.priority > s.contention.sched.priority;
                if ((t->cpu == cpu || t->cpu < 0) && !outranks) {
                    reject("a " + describe(s.contention.sched) + " contention thread on CPU " + std::to_string(cpu) +
                           " starves the " + t->role + " (" + describe(t->sched) +
                           (t->cpu < 0 ? ", unpinned" : "") + "): give the " + t->role +
                           " a higher real-time priority or move the contention");
                }
            }
        }
    }
    bool every_cpu = !cpus.empty();
    for (int cpu : cpus) every_cpu = every_cpu && rt_cpus.count(cpu) != 0;
    if (every_cpu) {
        reject("real-time spinners would occupy every CPU (" + cpu_list(cpus) +
               "): leave one free for the system and the watchdog");
    }
    return reasons;
}

}  // namespace ringside::runner
