// host_kind python end to end: the runner starts the Python host
// (src/python/ringside/runner_host.py), which drives the product path
// through the ctypes binding, and writes the same result, .hgrm and .hlog as
// for a C++ host; the Python host's own checks catch injected faults. A TSan
// runner refuses the Python host (exit 2), and these tests say so and skip.
#include <gtest/gtest.h>

#include "run_binary.hpp"
#include "runner/hdr_io.hpp"

namespace {

using nlohmann::json;

// Runs the runner with a Python host; false (and a skip) when this build refuses it.
bool run_python(std::vector<std::string> args, const std::string& prefix, rstest::Run& run) {
    for (const char* arg : {"--host-kind", "python", "--timeout", "60", "-o"}) args.push_back(arg);
    args.push_back(prefix);
    run = rstest::run_runner(args, 120);
    return !(run.exit_code == 2 && run.err.find("host_kind python:") != std::string::npos);
}

class PythonHost : public testing::TestWithParam<const char*> {};

TEST_P(PythonHost, WritesAPassingResultWithTheSameHistogramFilesAsACppHost) {
    rstest::ScratchDir dir;
    const std::string prefix = dir.prefix("python");
    rstest::Run run;
    if (!run_python({"--delivery", GetParam(), "--wait", "futex", "--payload", "256", "--count", "2000", "--warmup",
                     "100"},
                    prefix, run)) {
        GTEST_SKIP() << run.err;
    }
    ASSERT_EQ(run.exit_code, 0) << run.err;
    const json doc = rstest::read_strict_json(prefix + ".json");
    EXPECT_EQ(doc.value("status", ""), "pass") << doc["failures"].dump();
    EXPECT_EQ(doc["scenario"]["host_kind"], "python");
    EXPECT_EQ(doc["latency_ns"]["count"], 2000);
    EXPECT_TRUE(doc["latency_ns"]["p99_ns"].is_number());
    EXPECT_EQ(doc["validation"]["total"]["sent"], 2100);
    EXPECT_EQ(doc["validation"]["return"]["received"], 2100);
    EXPECT_TRUE(doc["validation"]["ok"].get<bool>()) << doc["validation"].dump();
    EXPECT_NE(doc["clock"]["source"].get<std::string>().find("perf_counter_ns"), std::string::npos);
    EXPECT_GT(doc["clock"]["timer_cost_ns"].get<double>(), 0.0);
    EXPECT_TRUE(doc["environment"]["python"].is_string());
    EXPECT_GT(doc["granted"]["host"]["tid"].get<int>(), 0) << doc["granted"].dump();
    EXPECT_GT(doc["granted"]["sidecar"]["tid"].get<int>(), 0) << doc["granted"].dump();
    EXPECT_TRUE(doc["cost"]["host"]["cpu_ns_per_message"].is_number()) << doc["cost"].dump();
    EXPECT_TRUE(doc["cost"]["sidecar"]["cpu_ns_per_message"].is_number()) << doc["cost"].dump();
    EXPECT_GT(doc["throughput"]["payload_bytes_per_s"].get<double>(), 0.0);
    std::string error;
    const auto intervals = ringside::runner::read_hlog(rstest::read_text(prefix + ".hlog"), error);
    ASSERT_TRUE(intervals) << error;
    std::int64_t untagged = 0;
    for (const auto& interval : *intervals) {
        if (interval.tag.empty()) untagged += interval.histogram.count();
    }
    EXPECT_EQ(untagged, 2000) << "the .hlog holds the samples of latency_ns";
    EXPECT_NE(rstest::read_text(prefix + ".hgrm").find("#[Max     = "), std::string::npos);
}

INSTANTIATE_TEST_SUITE_P(BothDeliveries, PythonHost, testing::Values("vtable", "ring"));

struct FaultCase {
    const char* fault;
    const char* leg;
    const char* counter;
};
void PrintTo(const FaultCase& c, std::ostream* os) { *os << c.fault; }

class PythonHostFault : public testing::TestWithParam<FaultCase> {};

TEST_P(PythonHostFault, FailsTheRunAndCountsIt) {
    rstest::ScratchDir dir;
    const std::string prefix = dir.prefix("fault");
    rstest::Run run;
    if (!run_python({"--wait", "futex", "--count", "500", "--warmup", "10", "--patience", "1", "--inject",
                     GetParam().fault},
                    prefix, run)) {
        GTEST_SKIP() << run.err;
    }
    EXPECT_EQ(run.exit_code, 1) << run.err;
    const json doc = rstest::read_strict_json(prefix + ".json");
    EXPECT_EQ(doc.value("status", ""), "fail");
    EXPECT_FALSE(doc["validation"]["ok"].get<bool>());
    EXPECT_GE(doc["validation"][GetParam().leg][GetParam().counter].get<int>(), 1) << doc["validation"].dump();
}

INSTANTIATE_TEST_SUITE_P(
    EveryKind, PythonHostFault,
    testing::Values(FaultCase{"loss:200", "forward", "lost"}, FaultCase{"dup:200", "return", "duplicated"},
                    FaultCase{"reorder:200", "return", "reordered"}, FaultCase{"corrupt:200", "return", "corrupted"}),
    [](const auto& info) {
        const std::string fault = info.param.fault;
        return fault.substr(0, fault.find(':'));
    });

}  // namespace
