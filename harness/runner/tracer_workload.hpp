// queue = tracer: the tracer's emit path as a workload (issue 5). The host
// thread is an agent emitting payload_bytes events through rs_tracer_emit as
// fast as it can (load.mode throughput) into a one-lane tracer region whose
// controller runs its drain thread ("rs-tracer", the "sidecar" of the
// result) and writes the lane files into a scratch directory. One clock read
// per event: each sample is the time from one emit's end to the next one's,
// so latency_ns is the emit cost (loop and clock read included; the clock's
// cost is in `clock`). Drops (RS_FULL: no spare ring) are the tracer's
// expected outcome, reported under `tracer`, not validation failures; the
// controller's lane counters must agree with the host's counts.
#pragma once

#include <functional>

#include <nlohmann/json.hpp>

#include "runner/clock.hpp"
#include "runner/driver.hpp"
#include "runner/message.hpp"
#include "runner/os_threads.hpp"
#include "runner/recorder.hpp"
#include "runner/scenario.hpp"

namespace ringside::runner {

struct TracerRun {
    HostOutcome host;            // last_seq: events attempted; measured_replies: attempts in the window
    LegCounts forward;           // the host's attempts against the lane's counters
    std::uint64_t accepted = 0;  // emits that returned RS_OK (whole run)
    std::uint64_t dropped = 0;   // emits that returned RS_FULL (whole run)
    std::uint64_t measured_accepted = 0;
    int drain_tid = 0;           // the controller's drain thread, 0 if not found
    Granted drain_granted;       // the sidecar's scheduling applied to the drain thread, read back while it runs
    double flush_ns = 0;         // rs_tracer_controller_flush at the end: the dump latency of what was left
    nlohmann::ordered_json stats = nullptr;  // rs_tracer_controller_stats_json at the end
};

// Runs the workload on the calling thread; `snapshot(slot, drain_tid)` is
// called at the measured window's start (0) and end (1).
TracerRun run_tracer(const Scenario& s, const Clock& clock, Recorder& recorder,
                     const std::function<void(int, int)>& snapshot);

}  // namespace ringside::runner
