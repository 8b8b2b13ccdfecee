// The live hostile-peer fuzzer: while one side of the protocol runs through
// the C API in this process (a ring's consumer, a ring's producer, or the
// tracer controller's drain), a forked peer process writes the same shared
// memory through its inherited mapping: sometimes as a correct peer, mostly
// mutating the region header, the indices, record headers, queue counters
// and slots, ring infos and lane state with random and boundary values.
//
// What must hold (anything else is recorded in Summary::failures, or kills
// the process, which is also a failure): the victim never touches memory
// outside the mapping (every mapping sits between PROT_NONE guard pages, and
// every span it returns is checked against its ring's data area), every call
// returns within kCallLimitS (a watchdog thread ends the process otherwise),
// a ring side reports RS_ERR_CORRUPT and stops cleanly (its handles destroy
// with RS_OK), and the controller counts violations and keeps serving.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace rshostile {

enum class Mode : int { kConsumer = 0, kProducer = 1, kController = 2 };
inline constexpr int kModes = 3;
const char* mode_name(Mode mode);

struct Options {
    double seconds = 2.0;     // whole session; rounds cycle through the modes
    std::uint64_t seed = 1;
    double round_ms = 120.0;  // one victim + one peer process per round
    int only_mode = -1;       // -1: all modes; else one Mode
    bool verbose = false;
};

struct ModeSummary {
    std::uint64_t rounds = 0;
    std::uint64_t operations = 0;        // victim calls
    std::uint64_t corrupt_reported = 0;  // rings: RS_ERR_CORRUPT seen; controller: violations counted
};

struct Summary {
    std::uint64_t rounds = 0;
    std::uint64_t operations = 0;
    std::uint64_t corrupt_reported = 0;
    double seconds = 0;
    ModeSummary modes[kModes];
    std::vector<std::string> failures;
};

// Seconds a single victim call may take before the watchdog ends the process.
inline constexpr double kCallLimitS = 10.0;

Summary run(const Options& options);
std::string to_json(const Summary& summary, const Options& options);

}  // namespace rshostile
