// queue = tracer end to end: the emit workload writes a passing result whose
// counts agree with the tracer's own lane counters, and refuses what it
// cannot run.
#include <gtest/gtest.h>

#include "run_binary.hpp"

namespace {

using nlohmann::json;

// Runs `count` measured 64-byte emits after `warmup` ones; the result document.
json run_emit_workload(const rstest::ScratchDir& dir, const char* tag, const char* count, const char* warmup) {
    const std::string prefix = dir.prefix(tag);
    const rstest::Run run = rstest::run_runner({"--queue", "tracer", "--load", "throughput", "--payload", "64",
                                                "--count", count, "--warmup", warmup, "--file-dir", dir.path(), "-o",
                                                prefix});
    EXPECT_EQ(run.exit_code, 0) << run.err;
    return run.exit_code == 0 ? rstest::read_strict_json(prefix + ".json") : json::object();
}

TEST(TracerWorkload, EmitsEveryEventAndAccountsForEachOne) {
    rstest::ScratchDir dir;
    const json doc = run_emit_workload(dir, "tracer", "20000", "1000");
    ASSERT_FALSE(doc.empty());
    EXPECT_EQ(doc.value("status", ""), "pass") << doc["failures"].dump();
    EXPECT_EQ(doc["latency_ns"]["count"], 20000) << "one emit-cost sample per measured event";
    EXPECT_EQ(doc["validation"]["forward"]["sent"], 21000);
    EXPECT_EQ(doc["validation"]["forward"]["received"], 21000) << "the lane counted every attempt";
    // No return leg: end to end is the forward leg (run_all.py fails a run whose total sent != received).
    EXPECT_EQ(doc["validation"]["total"]["received"], 21000);
    EXPECT_EQ(doc["validation"]["total"]["ok"], true);
    const json& tracer = doc["tracer"];
    EXPECT_EQ(tracer["emitted"], 21000);
    EXPECT_EQ(tracer["accepted"].get<std::uint64_t>() + tracer["dropped"].get<std::uint64_t>(), 21000u);
    EXPECT_TRUE(tracer["accepted_per_s"].is_number());
    EXPECT_EQ(doc["sidecar_stats"]["lanes"][0]["events_written"], tracer["accepted"]);
    EXPECT_GT(doc["granted"]["sidecar"]["tid"].get<int>(), 0) << "the drain thread was found";
}

// The drain thread plays the sidecar's part: it gets the sidecar's CPU and
// scheduling, and the result says what was granted (read while it ran).
TEST(TracerWorkload, TheDrainThreadGetsTheSidecarsSchedulingAndReportsIt) {
    rstest::ScratchDir dir;
    const json doc = run_emit_workload(dir, "tracer-sched", "2000", "100");
    ASSERT_FALSE(doc.empty());
    const json& granted = doc["granted"]["sidecar"];
    if (!granted["refused"].is_null()) GTEST_SKIP() << "this machine refused: " << granted["refused"];
    EXPECT_EQ(granted["policy"], granted["requested"]["policy"]) << granted.dump();
    const int cpu = granted["requested"]["cpu"].get<int>();
    if (cpu >= 0) {
        EXPECT_EQ(granted["cpus"], json::array({cpu})) << granted.dump();
    }
    EXPECT_EQ(granted["as_requested"], true) << granted.dump();
}

TEST(TracerWorkload, RefusesAClosedLoop) {
    const rstest::Run run = rstest::run_runner({"--queue", "tracer", "--validate-only"});
    EXPECT_EQ(run.exit_code, 2);
    EXPECT_NE(run.err.find("tracer is an emit workload"), std::string::npos) << run.err;
}

}  // namespace
