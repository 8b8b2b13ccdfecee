// ringside-crash-trials (harness/faults) as a test: producers, consumers and
// tracer controllers SIGKILLed at random points, between reserve and commit included, lose no
// committed record and never show a half-written one; the verifier is proven
// able to fail; bad command lines are usage errors; nothing is left in
// /dev/shm or the temp folder (listed before and after).
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <string>

#include "support/test_support.hpp"

namespace {

using nlohmann::json;

std::set<std::string> listing(const std::string& folder, const std::string& part) {
    std::set<std::string> out;
    std::error_code error;
    for (const auto& entry : std::filesystem::directory_iterator(folder, error)) {
        const std::string name = entry.path().filename().string();
        if (name.find(part) != std::string::npos) out.insert(name);
    }
    return out;
}

// Runs the driver with `arguments`; returns its exit code, its stdout+stderr in `output`.
int run_driver(const std::string& arguments, std::string& output) {
    return rstest::run_command(RINGSIDE_CRASH_TRIALS, arguments, output);
}

json read_json(const std::string& path) {
    std::ifstream in(path);
    return json::parse(in, nullptr, false);
}

class CrashTrials : public testing::Test {
protected:
    void SetUp() override {
        shm_before_ = listing("/dev/shm", "");
        tmp_before_ = listing("/tmp", "ringside-crash");
    }
    void TearDown() override {
        // Only names that look like ours: other suites (and other users) share /dev/shm.
        for (const std::string& name : listing("/dev/shm", "")) {
            if (!shm_before_.contains(name) && name.find("crash") != std::string::npos) {
                ADD_FAILURE() << "left behind in /dev/shm: " << name;
            }
        }
        EXPECT_EQ(listing("/tmp", "ringside-crash"), tmp_before_) << "a ringside-crash.* folder was left in /tmp";
        EXPECT_EQ(listing(scratch_.dir(), ""), std::set<std::string>{"summary.json"}) << "left in the temp folder";
        std::filesystem::remove(summary());
    }
    std::string summary() const { return scratch_.dir() + "/summary.json"; }
    std::string common() const { return "--dir " + scratch_.dir() + " --json " + summary(); }

    rstest::Scratch scratch_;
    std::set<std::string> shm_before_;
    std::set<std::string> tmp_before_;
};

TEST_F(CrashTrials, KilledProducersAndConsumersLoseNoCommittedRecordAndShowNoHalfWrittenOne) {
    std::string output;
    const int code = run_driver("--trials 60 --seed 8 --seconds-max 60 " + common(), output);
    ASSERT_EQ(code, 0) << output;
    const json result = read_json(summary());
    ASSERT_TRUE(result.is_object()) << output;
    EXPECT_EQ(result["ok"], true);
    EXPECT_EQ(result["trials"], 60);
    EXPECT_EQ(result["trials_survived"], 60);
    EXPECT_EQ(result["lost"], 0);
    EXPECT_EQ(result["half_written_seen"], 0);
    EXPECT_EQ(result["corrupt"], 0);
    EXPECT_GT(result["faults_injected"].get<int>(), 40);
    EXPECT_GT(result["faults"]["producer_kills"].get<int>(), 0);
    EXPECT_GT(result["faults"]["consumer_kills"].get<int>(), 0);
    // The tracer: a killed controller's successor dumps what remains (every event dumped or dropped by policy).
    EXPECT_GT(result["faults"]["controller_kills"].get<int>(), 0);
    EXPECT_GT(result["tracer"]["events_dumped"].get<std::uint64_t>(), 0u);
    EXPECT_GE(result["tracer"]["events_dumped"].get<std::uint64_t>() +
                  result["tracer"]["events_dropped_by_policy"].get<std::uint64_t>(),
              result["tracer"]["events_attempted"].get<std::uint64_t>());
    // One producer trial in four parks between reserve and commit on purpose.
    EXPECT_GT(result["faults"]["kills_while_parked_mid_record"].get<int>(), 0);
    EXPECT_GT(result["records_committed"].get<std::uint64_t>(), 0u);
    EXPECT_GE(result["records_delivered"].get<std::uint64_t>(), result["records_committed"].get<std::uint64_t>());
}

TEST_F(CrashTrials, AVerifierThatDropsOneRecordIsCaughtAsOneLostRecord) {
    std::string output;
    // Consumer trials: no producer restart whose allowed jump could excuse the gap.
    const int code = run_driver("--trials 20 --seed 8 --kinds consumer --inject-bug skip-record " + common(), output);
    EXPECT_EQ(code, 1) << output;
    const json result = read_json(summary());
    ASSERT_TRUE(result.is_object()) << output;
    EXPECT_EQ(result["ok"], false);
    EXPECT_EQ(result["lost"], 1);
}

TEST_F(CrashTrials, TheRunStopsStartingTrialsAtSecondsMax) {
    std::string output;
    ASSERT_EQ(run_driver("--trials 1000000 --seed 2 --seconds-max 0.5 --kinds producer " + common(), output), 0)
        << output;
    const json result = read_json(summary());
    ASSERT_TRUE(result.is_object()) << output;
    EXPECT_EQ(result["stopped_by_time"], true);
    EXPECT_LT(result["trials"].get<std::uint64_t>(), 1'000'000u);
}

TEST_F(CrashTrials, BadCommandLinesAreUsageErrorsThatNameTheOption) {
    struct Case {
        const char* arguments;
        const char* names;
    };
    const Case cases[] = {
        {"--trials 0", "--trials"},
        {"--trials many", "--trials"},
        {"--seconds-max -1", "--seconds-max"},
        {"--kinds producer,sideways", "sideways"},
        {"--capacity 1024", "--capacity"},
        {"--dir /nonexistent/folder", "--dir"},
        {"--inject-bug everything", "--inject-bug"},
        {"--no-such-option", "no-such-option"},
    };
    for (const Case& c : cases) {
        SCOPED_TRACE(c.arguments);
        std::string output;
        EXPECT_EQ(run_driver(c.arguments, output), 2) << output;
        EXPECT_NE(output.find(c.names), std::string::npos) << output;
    }
    std::ofstream(summary()) << "{}";  // TearDown expects the summary file
}

}  // namespace
