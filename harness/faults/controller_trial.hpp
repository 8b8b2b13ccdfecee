// One crash trial of the tracer: a controller process serving an agent
// process is killed with SIGKILL at a random moment, the agent later too,
// and a new controller (open_existing) dumps what remains of the file-backed
// trace region. The lane files must hold every attempted event or explain
// its loss (dropped by the agent's policy while nobody drained); a window
// dumped twice across the crash counts as duplicated (at-least-once).
#pragma once

#include <cstdint>
#include <random>
#include <string>

namespace ringside::faults {

struct ControllerTrial {
    bool killed = false;                  // the controller died of our SIGKILL
    std::uint64_t attempted = 0;          // events the agent attempted
    std::uint64_t delivered = 0;          // events in the lane files
    std::uint64_t duplicated = 0;
    std::uint64_t dropped_by_policy = 0;  // explained: the agent counted them as dropped
    std::uint64_t lost = 0;               // unexplained
    std::uint64_t out_of_order = 0;
    std::uint64_t half_written = 0;       // payloads that do not match their sequence
    std::string failure;                  // empty when the trial kept every promise
};

// Runs in `folder` (a private scratch folder; emptied again before return).
ControllerTrial controller_trial(const std::string& folder, std::mt19937_64& rng);

}  // namespace ringside::faults
