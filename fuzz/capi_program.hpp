// A C API "program" read from bytes: random sequences of rs_* calls with
// random (also invalid) arguments and handles - live, destroyed, of another
// kind, NULL or made up. Used by the libFuzzer target fuzz_capi and by the
// randomized gtest capi_random_calls_test (bytes from a seeded generator).
//
// Promises checked while it runs (a violation traps, naming it): results
// are known rs_result values, failures set a last-error message, spans the
// library returns are writable/readable over their whole length (ASan and
// the guard pages catch it otherwise), and when the program ends every
// handle it destroyed leaves no library allocation behind.
#pragma once

#include <cstddef>
#include <cstdint>

namespace rsfuzz {

struct CapiRun {
    std::uint64_t calls = 0;
    std::uint64_t ok = 0;       // calls that returned RS_OK
    std::uint64_t failures = 0; // calls that returned an error (< 0)
};

// Runs the program and cleans up everything it created (regions unlinked,
// scratch files removed). `scratch_dir` holds file-backed regions and tracer
// sinks; it must exist.
CapiRun run_capi_program(const std::uint8_t* data, std::size_t size, const char* scratch_dir);

}  // namespace rsfuzz
