// The C API fuzzer's programs (fuzz/capi_program.hpp) as a plain randomized
// test: random sequences of rs_* calls with random, also invalid, arguments
// and handles. Seeded, so a failure names the program that caused it; run in
// every variant (ASan + UBSan in asan), for a bounded number of programs.
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <random>
#include <vector>

#include "capi_program.hpp"
#include "ringside/ringside.h"
#include "support/test_support.hpp"

namespace {

TEST(CapiRandomCalls, NeverCrashOrLeakWhateverTheArgumentsAndHandles) {
    rstest::Scratch scratch;
    const auto start = std::chrono::steady_clock::now();
    std::uint64_t calls = 0;
    std::uint64_t failures = 0;
    int programs = 0;
    // At most 300 programs, and no new one after 2 s (valgrind is slow): a
    // budget, not an assertion.
    for (std::uint64_t seed = 1; seed <= 300; ++seed) {
        if (programs >= 10 && std::chrono::steady_clock::now() - start > std::chrono::seconds(2)) break;
        std::mt19937_64 random(seed);
        std::vector<std::uint8_t> program(512 + random() % 3584);
        for (auto& byte : program) byte = static_cast<std::uint8_t>(random());
        SCOPED_TRACE("program seed " + std::to_string(seed));
        const std::int64_t before = rs_debug_allocation_count();
        const rsfuzz::CapiRun run = rsfuzz::run_capi_program(program.data(), program.size(), scratch.dir().c_str());
        ASSERT_EQ(rs_debug_allocation_count(), before) << "allocations left after every handle was destroyed";
        calls += run.calls;
        failures += run.failures;
        ++programs;
    }
    EXPECT_GT(calls, 0u);
    EXPECT_GT(failures, 0u) << "no invalid call was ever refused: the generator makes only valid ones";
    RecordProperty("programs", programs);
    RecordProperty("calls", static_cast<int>(calls));
}

}  // namespace
