// ringside-runner with transport processes: the runner re-executes itself as
// the sidecar process, which opens the region by name; events come back
// through the event ring. Both backings pass; the child's grants and costs
// reach the result; killing the runner takes its sidecar process with it
// and leaves no region behind.
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "run_binary.hpp"

namespace {

using nlohmann::json;

class RunnerProcesses : public testing::TestWithParam<const char*> {};

TEST_P(RunnerProcesses, PassWithTheSidecarInItsOwnProcess) {
    rstest::ScratchDir dir;
    const std::string prefix = dir.prefix("processes");
    const rstest::Run run = rstest::run_runner({"--transport", "processes", "--backing", GetParam(), "--file-dir",
                                                dir.path(), "--count", "5000", "--warmup", "200", "-o", prefix});
    ASSERT_EQ(run.exit_code, 0) << run.err;
    const json doc = rstest::read_strict_json(prefix + ".json");
    EXPECT_EQ(doc.value("status", ""), "pass") << doc["failures"].dump();
    EXPECT_EQ(doc["scenario"]["delivery"], "ring") << "two processes deliver through the event ring";
    EXPECT_EQ(doc["validation"]["forward"]["received"], 5200);
    EXPECT_EQ(doc["validation"]["return"]["received"], 5200);
    EXPECT_EQ(doc["sidecar_stats"]["events_emitted"], 5200);
    EXPECT_NE(doc["granted"]["sidecar"]["tid"], doc["granted"]["host"]["tid"]);
    EXPECT_TRUE(doc["granted"]["sidecar"]["as_requested"].get<bool>()) << doc["granted"].dump();
    EXPECT_TRUE(doc["cost"]["sidecar"]["cpu_ns_per_message"].is_number()) << doc["cost"].dump();
    // The name was unlinked as soon as both sides had it mapped.
    for (const auto& entry : std::filesystem::directory_iterator(dir.path())) {
        EXPECT_EQ(entry.path().string().find(".region"), std::string::npos) << "left behind: " << entry.path();
    }
}

INSTANTIATE_TEST_SUITE_P(EachBacking, RunnerProcesses, testing::Values("shm", "file"));

TEST(RunnerProcessesSafety, KillingTheRunnerKillsItsSidecarProcess) {
    rstest::ScratchDir dir;
    const pid_t pid = rstest::start_runner({"--transport", "processes", "--count", "4000000000", "--warmup", "0",
                                            "--timeout", "60", "-o", dir.prefix("killed")});
    ASSERT_GT(pid, 0);
    // Find the child: a process whose parent is the runner.
    pid_t child = 0;
    for (int i = 0; i < 500 && child == 0; ++i) {
        usleep(10'000);
        for (const auto& entry : std::filesystem::directory_iterator("/proc")) {
            const std::string name = entry.path().filename().string();
            if (name.find_first_not_of("0123456789") != std::string::npos) continue;
            std::ifstream stat(entry.path() / "stat");
            std::string text((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
            const std::size_t close = text.rfind(')');
            if (close == std::string::npos) continue;
            int ppid = 0;
            char state = 0;
            if (std::sscanf(text.c_str() + close + 2, "%c %d", &state, &ppid) == 2 && ppid == pid) child = std::stoi(name);
        }
    }
    ASSERT_NE(child, 0) << "the runner never started its sidecar process";
    usleep(200'000);  // let the run get going
    kill(pid, SIGKILL);
    EXPECT_EQ(rstest::wait_child(pid, 20), 128 + SIGKILL);
    // Gone, or a zombie waiting for whoever adopted it.
    auto dead = [child] {
        std::ifstream stat("/proc/" + std::to_string(child) + "/stat");
        std::string text((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
        const std::size_t close = text.rfind(')');
        return text.empty() || (close != std::string::npos && text[close + 2] == 'Z');
    };
    bool gone = false;
    for (int i = 0; i < 500 && !gone; ++i) {
        gone = dead();
        if (!gone) usleep(10'000);
    }
    EXPECT_TRUE(gone) << "sidecar process " << child << " outlived its runner";
    EXPECT_TRUE(rstest::shm_entries("ringside-runner." + std::to_string(pid) + ".").empty());
}

}  // namespace
