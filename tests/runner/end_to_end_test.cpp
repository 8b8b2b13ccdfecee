// ringside-runner end to end, in one process per run: every queue produces
// a passing, strict result with its .hgrm and .hlog; HdrHistogram's Java
// tools read the .hlog and agree with the .hgrm; injected faults fail the
// run with the right counter; refused scenarios exit 2 with the reason; the
// watchdog and signals end a run without leaving anything behind.
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <filesystem>

#include "run_binary.hpp"
#include "runner/hdr_io.hpp"

namespace {

using nlohmann::json;
using rstest::read_strict_json;

#if defined(__SANITIZE_THREAD__)
constexpr bool kThreadSanitizer = true;
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
constexpr bool kThreadSanitizer = true;
#else
constexpr bool kThreadSanitizer = false;
#endif
#else
constexpr bool kThreadSanitizer = false;
#endif

// Under ThreadSanitizer two busy-spinning threads starve each other on
// TSan's internal locks (a round trip takes milliseconds): there the
// spinning queues wait with yield, which TSan checks just as well.
rstest::Run run_runner(std::vector<std::string> args, double timeout_s = 120) {
    if (kThreadSanitizer) {
        bool blocking = false;
        for (const std::string& arg : args) blocking = blocking || arg == "mutex_condvar" || arg == "floor_futex";
        for (const std::string& arg : args) blocking = blocking || arg == "--wait";
        if (!blocking) {
            args.push_back("--wait");
            args.push_back("yield");
        }
    }
    return rstest::run_runner(args, timeout_s);
}

struct QueueCase {
    const char* label;
    std::vector<std::string> args;
};

void PrintTo(const QueueCase& c, std::ostream* os) { *os << c.label; }

class RunnerEndToEnd : public testing::TestWithParam<QueueCase> {};

// Checks everything a passing result promises; returns it.
json expect_passing_result(const std::string& prefix, std::uint64_t count) {
    const json doc = read_strict_json(prefix + ".json");
    EXPECT_EQ(doc.value("schema", ""), "ringside-result/1");
    EXPECT_EQ(doc.value("status", ""), "pass") << doc["failures"].dump();
    EXPECT_EQ(doc["latency_ns"]["count"], count);
    EXPECT_TRUE(doc["validation"]["ok"].get<bool>());
    EXPECT_EQ(doc["validation"]["total"]["lost"], 0);
    EXPECT_TRUE(doc["latency_ns"]["p50_ns"].is_number());
    // 10 / (1 - q) samples support quantile q: p99.9 needs 10000, p99.99 100000.
    json unsupported = json::array();
    if (count < 10'000) unsupported.push_back("p99_9");
    if (count < 100'000) unsupported.push_back("p99_99");
    EXPECT_EQ(doc["latency_ns"]["unsupported"], unsupported);
    for (const auto& key : unsupported) EXPECT_TRUE(doc["latency_ns"][key.get<std::string>() + "_ns"].is_null()) << key;
    EXPECT_GT(doc["clock"]["timer_cost_ns"].get<double>(), 0.0);
    EXPECT_GT(doc["clock"]["resolution_ns"].get<double>(), 0.0);
    EXPECT_TRUE(doc["environment"]["git_commit"].is_string());
    EXPECT_TRUE(doc["granted"]["host"]["as_requested"].get<bool>()) << doc["granted"].dump();
    EXPECT_TRUE(doc["granted"]["sidecar"]["as_requested"].get<bool>()) << doc["granted"].dump();
    EXPECT_TRUE(doc["cost"]["host"]["cpu_ns_per_message"].is_number());
    EXPECT_TRUE(doc["cost"]["sidecar"]["cpu_ns_per_message"].is_number());
    // The .hlog holds the same samples as latency_ns.
    std::string error;
    const auto intervals = ringside::runner::read_hlog(rstest::read_text(prefix + ".hlog"), error);
    EXPECT_TRUE(intervals) << error;
    std::int64_t untagged = 0;
    for (const auto& interval : intervals ? *intervals : std::vector<ringside::runner::HlogInterval>{}) {
        if (interval.tag.empty()) untagged += interval.histogram.count();
    }
    EXPECT_EQ(untagged, static_cast<std::int64_t>(count));
    EXPECT_NE(rstest::read_text(prefix + ".hgrm").find("#[Max     = "), std::string::npos);
    return doc;
}

TEST_P(RunnerEndToEnd, ProducesAPassingStrictResultWithItsHistogramFiles) {
    rstest::ScratchDir dir;
    const std::string prefix = dir.prefix(GetParam().label);
    std::vector<std::string> args = GetParam().args;
    for (const char* arg : {"--count", "2000", "--warmup", "100", "--timeout", "50", "-o"}) args.push_back(arg);
    args.push_back(prefix);
    const rstest::Run run = run_runner(args);
    ASSERT_EQ(run.exit_code, 0) << run.err;
    expect_passing_result(prefix, 2000);
}

INSTANTIATE_TEST_SUITE_P(
    EveryInProcessQueue, RunnerEndToEnd,
    testing::Values(QueueCase{"ringside_vtable", {"--queue", "ringside"}},
                    QueueCase{"ringside_ring_delivery", {"--queue", "ringside", "--delivery", "ring"}},
                    QueueCase{"ringside_futex", {"--queue", "ringside", "--wait", "futex"}},
                    QueueCase{"ringside_file_backing", {"--queue", "ringside", "--backing", "file"}},
                    QueueCase{"ringside_ring", {"--queue", "ringside_ring"}},
                    QueueCase{"boost_spsc", {"--queue", "boost_spsc", "--payload", "100"}},
                    QueueCase{"moodycamel_rwq", {"--queue", "moodycamel_rwq", "--payload", "1000"}},
                    QueueCase{"mutex_condvar", {"--queue", "mutex_condvar"}},
                    QueueCase{"floor_cacheline", {"--queue", "floor_cacheline"}},
                    QueueCase{"floor_futex", {"--queue", "floor_futex"}}),
    [](const testing::TestParamInfo<QueueCase>& info) { return std::string(info.param.label); });

TEST(RunnerEndToEndModes, OpenLoopKeepsCorrectedAndUncorrectedLatency) {
    rstest::ScratchDir dir;
    const std::string prefix = dir.prefix("open");
    const rstest::Run run = run_runner({"--load", "open", "--rate", "20000", "--burst", "4", "--count", "2000",
                                        "--warmup", "100", "-o", prefix});
    ASSERT_EQ(run.exit_code, 0) << run.err;
    const json doc = expect_passing_result(prefix, 2000);
    ASSERT_TRUE(doc["latency_uncorrected_ns"].is_object());
    // Measured from the intended send time, the corrected latency is never the smaller one.
    EXPECT_GE(doc["latency_ns"]["max_ns"].get<std::int64_t>(), doc["latency_uncorrected_ns"]["max_ns"].get<std::int64_t>());
    EXPECT_NE(rstest::read_text(prefix + ".hlog").find("\nTag=uncorrected,"), std::string::npos);
    EXPECT_TRUE(std::filesystem::exists(prefix + ".uncorrected.hgrm"));
}

TEST(RunnerEndToEndModes, ThroughputModeAnswersEveryMessage) {
    rstest::ScratchDir dir;
    const std::string prefix = dir.prefix("flood");
    const rstest::Run run = run_runner({"--load", "throughput", "--count", "20000", "--payload", "64", "-o", prefix});
    ASSERT_EQ(run.exit_code, 0) << run.err;
    const json doc = expect_passing_result(prefix, 20000);
    EXPECT_GT(doc["throughput"]["payload_bytes_per_s"].get<double>(), 0.0);
}

// --- validation catches what is injected -------------------------------------

struct FaultCase {
    const char* fault;
    const char* counter;  // the forward leg's counter that must be non-zero
};
void PrintTo(const FaultCase& c, std::ostream* os) { *os << c.fault; }

class RunnerInjectedFault : public testing::TestWithParam<std::tuple<const char*, FaultCase>> {};

TEST_P(RunnerInjectedFault, FailsTheRunAndCountsIt) {
    const auto& [queue, fault] = GetParam();
    rstest::ScratchDir dir;
    const std::string prefix = dir.prefix("fault");
    const rstest::Run run = run_runner({"--queue", queue, "--count", "500", "--warmup", "10", "--inject", fault.fault,
                                        "-o", prefix});
    EXPECT_EQ(run.exit_code, 1) << run.err;
    const json doc = read_strict_json(prefix + ".json");
    EXPECT_EQ(doc.value("status", ""), "fail");
    EXPECT_FALSE(doc["validation"]["ok"].get<bool>());
    EXPECT_GE(doc["validation"]["forward"][fault.counter].get<int>(), 1) << doc["validation"].dump();
    EXPECT_NE(run.err.find("validation (forward)"), std::string::npos) << run.err;
}

INSTANTIATE_TEST_SUITE_P(
    OnRingsideAndAPeer, RunnerInjectedFault,
    testing::Combine(testing::Values("ringside", "boost_spsc"),
                     testing::Values(FaultCase{"loss:200", "lost"}, FaultCase{"dup:200", "duplicated"},
                                     FaultCase{"reorder:200", "reordered"}, FaultCase{"corrupt:200", "corrupted"})),
    [](const auto& info) {
        std::string fault = std::get<1>(info.param).fault;
        return std::string(std::get<0>(info.param)) + "_" + fault.substr(0, fault.find(':'));
    });

// --- a deliberate slowdown (the nightly job's proof that comparisons flag one) --

TEST(RunnerInjectedSlowdown, DelaysEveryRoundTripAndStillPasses) {
    rstest::ScratchDir dir;
    const std::string prefix = dir.prefix("slow");
    const rstest::Run run = run_runner({"--queue", "ringside", "--count", "200", "--warmup", "10", "--inject",
                                        "slow:200000", "-o", prefix});
    ASSERT_EQ(run.exit_code, 0) << run.err;
    const json doc = read_strict_json(prefix + ".json");
    EXPECT_EQ(doc.value("status", ""), "pass");
    // The host spins 200 us after stamping each message: no round trip is shorter (1 % for the
    // histogram's 3 significant digits).
    EXPECT_GE(doc["latency_ns"]["min_ns"].get<double>(), 198000.0) << doc["latency_ns"].dump();
}

TEST(RunnerInjectedSlowdown, RejectsADelayOfZero) {
    const rstest::Run run = run_runner({"--queue", "ringside", "--count", "10", "--inject", "slow:0"});
    EXPECT_EQ(run.exit_code, 2);
    EXPECT_NE(run.err.find("--inject"), std::string::npos) << run.err;
}

// --- refusals and safety -----------------------------------------------------

TEST(RunnerEndToEndSafety, RefusesADeadlockingScenarioWithTheReason) {
    rstest::ScratchDir dir;
    const std::string prefix = dir.prefix("rejected");
    const rstest::Run run = run_runner({"--placement", "same_core", "--wait", "busy_spin", "--host-policy", "fifo",
                                        "--host-priority", "10", "-o", prefix});
    EXPECT_EQ(run.exit_code, 2);
    EXPECT_NE(run.err.find("rejected: host is a SCHED_FIFO 10 busy_spin spinner on CPU"), std::string::npos) << run.err;
    const json doc = read_strict_json(prefix + ".json");
    EXPECT_EQ(doc.value("status", ""), "rejected");
    EXPECT_NE(doc["failures"][0].get<std::string>().find("deadlock"), std::string::npos);
}

TEST(RunnerEndToEndSafety, RefusesAnUnknownValueNamingTheKey) {
    const rstest::Run run = run_runner({"--queue", "zeromq"});
    EXPECT_EQ(run.exit_code, 2);
    EXPECT_NE(run.err.find("invalid scenario: queue: must be one of"), std::string::npos) << run.err;
}

TEST(RunnerEndToEndSafety, ValidateOnlyAcceptsAGoodScenarioWithoutRunningIt) {
    const rstest::Run run = run_runner({"--validate-only", "--queue", "moodycamel_rwq", "--payload", "4096"}, 20);
    EXPECT_EQ(run.exit_code, 0) << run.err;
}

TEST(RunnerEndToEndSafety, TheWatchdogEndsAnOverlongRunAndCleansUp) {
    rstest::ScratchDir dir;
    const std::string prefix = dir.prefix("watchdog");
    // Far more messages than 2 s allow.
    const rstest::Run run = run_runner({"--queue", "ringside", "--count", "4000000000", "--warmup", "0",
                                        "--timeout", "2", "--patience", "1", "-o", prefix}, 30);
    EXPECT_EQ(run.exit_code, 3) << run.err;
    EXPECT_NE(run.err.find("watchdog: the run exceeded timeout_s = 2 s during measuring"), std::string::npos) << run.err;
    const json doc = read_strict_json(prefix + ".json");
    EXPECT_EQ(doc.value("status", ""), "error");
    EXPECT_NE(doc.value("error", "").find("watchdog"), std::string::npos);
    // Only this run's entries: other runner tests may be running in parallel.
    EXPECT_TRUE(rstest::shm_entries("ringside-runner." + std::to_string(run.pid) + ".").empty());
}

TEST(RunnerEndToEndSafety, ASignalEndsTheRunAndCleansUp) {
    rstest::ScratchDir dir;
    const std::string prefix = dir.prefix("signal");
    const pid_t pid = rstest::start_runner({"--queue", "ringside", "--count", "4000000000", "--warmup", "0",
                                            "--timeout", "30", "-o", prefix});
    ASSERT_GT(pid, 0);
    // Wait until its region exists, then interrupt.
    const std::string mine = "ringside-runner." + std::to_string(pid) + ".";
    for (int i = 0; i < 500 && rstest::shm_entries(mine).empty(); ++i) usleep(10'000);
    EXPECT_FALSE(rstest::shm_entries(mine).empty()) << "the run never created its region";
    kill(pid, SIGTERM);
    EXPECT_EQ(rstest::wait_child(pid, 20), 128 + SIGTERM);
    EXPECT_TRUE(rstest::shm_entries(mine).empty()) << "the region outlived the signal";
    const json doc = read_strict_json(prefix + ".json");
    EXPECT_NE(doc.value("error", "").find("interrupted by signal"), std::string::npos) << doc.dump();
}

// --- HdrHistogram's own tools on a real run -------------------------------------

TEST(RunnerEndToEndJava, HistogramLogProcessorReadsARunsLogAndMatchesItsPercentiles) {
    const char* jar = nullptr;
    for (const char* path : {"/usr/share/java/HdrHistogram.jar", "/usr/share/java/hdrhistogram.jar"}) {
        if (std::filesystem::exists(path)) jar = path;
    }
    if (jar == nullptr || !std::filesystem::exists("/usr/bin/java")) {
        GTEST_SKIP() << "needs /usr/bin/java and HdrHistogram's jar (apt-get install libhdrhistogram-java)";
    }
    rstest::ScratchDir dir;
    const std::string prefix = dir.prefix("java");
    // Several intervals whatever the build's speed, so Java merges them as we did.
    const rstest::Run run = run_runner({"--duration", "0.3", "--interval", "0.05", "-o", prefix});
    ASSERT_EQ(run.exit_code, 0) << run.err;
    const rstest::Run java = rstest::run_program("/usr/bin/java", {"-cp", jar, "org.HdrHistogram.HistogramLogProcessor",
                                                                   "-i", prefix + ".hlog", "-o", prefix + ".java",
                                                                   "-outputValueUnitRatio", "1"}, 120);
    ASSERT_EQ(java.exit_code, 0) << java.err;
    // Java prefixes the table with the time range it covered; the table itself is ours, line for line.
    EXPECT_EQ(rstest::without_leading_comments(rstest::read_text(prefix + ".java.hgrm")), rstest::read_text(prefix + ".hgrm"));
}

}  // namespace
