// One run of one scenario, from setup to the result document.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "runner/driver.hpp"
#include "runner/scenario.hpp"

namespace ringside::runner {

inline constexpr const char* kResultSchema = "ringside-result/1";

struct RunOptions {
    std::string clock;  // "", "tsc" or "monotonic"
    Fault fault;        // test mode: a deliberate fault
};

struct RunResult {
    nlohmann::ordered_json document;  // the result (status pass, fail or error)
    std::string hgrm;                 // percentile distribution (corrected)
    std::string hgrm_uncorrected;     // open loop only
    std::string hlog;
    int exit_code = 3;                // 0 pass, 1 fail, 3 error
};

// Runs `scenario` (resolved and validated) on this thread as the host.
RunResult run_scenario(const Scenario& scenario, const RunOptions& options);

// Statistics of a histogram in the result's shape (percentiles the count
// cannot support are null and listed under "unsupported").
nlohmann::ordered_json latency_json(const Histogram& histogram);

// Replaces every NaN or infinite number by null, recursively.
void make_strict(nlohmann::ordered_json& document);

}  // namespace ringside::runner
