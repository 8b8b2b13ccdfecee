// host_kind = python: the host side of a ringside scenario runs in a Python
// process (src/python/ringside/runner_host.py) through the ctypes binding,
// so a result shows what a managed host pays against the C++ host of the
// same scenario. The runner starts that process (fork_exec: it dies with
// the runner and is killed by the watchdog), reads what the OS granted both
// its threads while they run, and turns the raw samples it hands back
// (sequence number, send time, reply time; CLOCK_MONOTONIC nanoseconds)
// into the same Recorder, result, .hgrm and .hlog as every other run.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "runner/clock.hpp"
#include "runner/driver.hpp"
#include "runner/message.hpp"
#include "runner/os_threads.hpp"
#include "runner/recorder.hpp"
#include "runner/scenario.hpp"

namespace ringside::runner {

struct PythonHostRun {
    HostOutcome host;           // error, last_seq, transmissions, replies, measured window (ticks = ns)
    LegCounts forward;          // commands the sidecar processed against the messages sent
    LegCounts back;             // the Python host's checks of every event (sequence, header, every byte)
    Granted host_granted;
    Granted sidecar_granted;
    bool have_granted = false;
    ThreadCost host_cost[2];
    ThreadCost sidecar_cost[2];
    double measure_epoch_s = 0;
    double timer_cost_ns = 0;   // time.perf_counter_ns(), from Python
    double record_cost_ns = 0;  // a clock read and appending one sample, from Python
    std::string python;         // "CPython 3.11.2"
    nlohmann::ordered_json sidecar_stats = nullptr;
};

// Runs the scenario's host in Python; `clock` must be the monotonic clock
// (ticks are nanoseconds). Fills `recorder` with the measured samples.
PythonHostRun run_python_host(const Scenario& s, const Fault& fault, const Clock& clock, Recorder& recorder);

// Why this build cannot run a Python host ("" if it can).
std::string python_host_unavailable();

}  // namespace ringside::runner
