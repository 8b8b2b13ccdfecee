// ringside-bad-inputs (harness/faults) as a test: every bad input through the
// C API fails cleanly with its code and message, and the tool itself counts a
// call that crashes or hangs as a failure instead of dying or waiting forever.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "support/test_support.hpp"

namespace {

int run_tool(const std::string& arguments, std::string& output) {
    return rstest::run_command(RINGSIDE_BAD_INPUTS, arguments, output);
}

nlohmann::json summary_of(const std::string& path) {
    std::ifstream in(path);
    return nlohmann::json::parse(in, nullptr, false);
}

TEST(BadInputsTool, EveryBadInputFailsCleanlyWithItsCodeAndAMessage) {
    rstest::Scratch scratch;
    const std::string out = scratch.dir() + "/bad.json";
    std::string output;
    ASSERT_EQ(run_tool("--dir " + scratch.dir() + " --json " + out, output), 0) << output;
    const nlohmann::json summary = summary_of(out);
    ASSERT_TRUE(summary.is_object()) << output;
    EXPECT_GE(summary["tried"].get<int>(), 28);
    EXPECT_EQ(summary["failed"], 0);
    for (const auto& c : summary["cases"]) EXPECT_EQ(c["ok"], true) << c.dump();
    std::filesystem::remove(out);
}

TEST(BadInputsTool, ACallThatCrashesOrHangsIsCountedAsFailedAndTheRunGoesOn) {
    rstest::Scratch scratch;
    const std::string out = scratch.dir() + "/bad.json";
    std::string output;
    EXPECT_EQ(run_tool("--self-test --timeout-ms 2000 --dir " + scratch.dir() + " --json " + out, output), 1) << output;
    const nlohmann::json summary = summary_of(out);
    ASSERT_TRUE(summary.is_object()) << output;
    EXPECT_EQ(summary["failed"], 2);
    const auto& cases = summary["cases"];
    ASSERT_GE(cases.size(), 2u);
    // A signal natively; under ASan its SEGV handler turns the crash into exit 1.
    const std::string crashed = cases[cases.size() - 2]["note"].get<std::string>();
    EXPECT_TRUE(crashed.find("crashed") != std::string::npos || crashed.find("exited") != std::string::npos)
        << crashed;
    EXPECT_NE(cases[cases.size() - 1]["note"].get<std::string>().find("hung"), std::string::npos);
    std::filesystem::remove(out);
}

}  // namespace
