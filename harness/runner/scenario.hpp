// One concrete scenario: every parameter a structured field (README.md,
// "Scenario spec", documents each one). Parsed strictly from JSON: an unknown
// key, a wrong type or a value out of range is an error naming the key.
// validate() then rejects combinations that cannot be run or would hang the
// machine, each with a sentence saying why.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace ringside::runner {

inline constexpr const char* kScenarioSchema = "ringside-scenario/1";

enum class Queue { kRingside, kRingsideRing, kBoostSpsc, kMoodycamel, kMutexCondvar, kFloorCacheline, kFloorFutex, kTracer };
enum class Transport { kThreads, kProcesses };
enum class Backing { kShm, kFile };
enum class Delivery { kVtable, kRing };
enum class Wait { kBusySpin, kSpinPause, kYield, kSleep, kFutex, kEventfd, kHybrid, kNative };
enum class Policy { kOther, kFifo, kRr };
enum class Placement { kDifferentCores, kSameCore, kUnpinned };
enum class LoadMode { kClosed, kOpen, kThroughput };

struct WaitSpec {
    Wait kind = Wait::kBusySpin;
    std::uint32_t spin_limit = 4096;  // hybrid: pause-spins before parking
    std::uint64_t sleep_ns = 1'000'000;  // sleep: each nap
};

struct SchedSpec {
    Policy policy = Policy::kOther;
    int priority = 0;  // fifo/rr: 1..99
    int nice = 0;      // other: -20..19
};

struct SideSpec {
    WaitSpec wait;
    SchedSpec sched;
    int cpu = -1;  // -1: chosen by placement
};

struct Contention {
    int threads = 0;
    bool processes = false;  // forked busy processes instead of threads of the runner
    SchedSpec sched;
    std::vector<int> cpus;  // empty: unpinned (SCHED_OTHER only)
};

struct Load {
    LoadMode mode = LoadMode::kClosed;
    double rate_per_s = 0;   // open: messages per second
    std::uint32_t burst = 1; // messages sent back to back per send time (closed: per round)
};

struct Scenario {
    std::string id;  // free text, echoed in the result (run_all.py's stable id)
    Queue queue = Queue::kRingside;
    Transport transport = Transport::kThreads;
    Backing backing = Backing::kShm;
    Delivery delivery = Delivery::kVtable;
    std::uint64_t payload_bytes = 8;
    std::uint64_t ring_bytes = 0;  // 0: the smallest power of two >= 64 KiB holding 4 records
    SideSpec host;
    SideSpec sidecar;  // the echoing side: ringside's sidecar, or the peer's echo thread
    Placement placement = Placement::kDifferentCores;
    Contention contention;
    Load load;
    std::uint64_t count = 0;  // measured messages; 0 with duration_s 0 means 100000
    double duration_s = 0;    // or: measure for this long
    std::uint64_t warmup = 1000;  // messages before measuring, excluded from every figure
    std::string host_kind = "cpp";
    double timeout_s = 60;    // the watchdog: the whole run, start-up included
    double patience_s = 5;    // the longest wait for any single reply
    double interval_s = 1;    // .hlog interval length
    bool downgrade = false;   // accept less scheduling than requested (recorded) instead of failing
    std::string file_dir = "/tmp";  // where file-backed regions are created
};

// Parses a scenario: `spec` is the JSON object (absent keys keep defaults).
// False with `error` = "<key path>: <what is wrong>".
bool scenario_from_json(const nlohmann::json& spec, Scenario& out, std::string& error);
// The complete, effective scenario (every field, defaults filled in).
nlohmann::ordered_json scenario_to_json(const Scenario& scenario);

// Fills what depends on other fields and on the machine (default cpus, ring
// size, count) from the CPUs this process may use. Call before validate().
void resolve(Scenario& scenario, const std::vector<int>& allowed_cpus);

// Every reason this scenario cannot run; empty when it can.
std::vector<std::string> validate(const Scenario& scenario, const std::vector<int>& allowed_cpus);

// Names as they appear in the JSON.
const char* name(Queue value);
const char* name(Transport value);
const char* name(Backing value);
const char* name(Delivery value);
const char* name(Wait value);
const char* name(Policy value);
const char* name(Placement value);
const char* name(LoadMode value);

bool is_ringside(Queue queue);
// A side that never gives its CPU away while waiting (spins or yields).
bool never_parks(Wait wait);
bool is_realtime(Policy policy);

}  // namespace ringside::runner
