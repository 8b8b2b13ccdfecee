// Background contention as separate processes (contention.processes): the
// runner forks busy processes on the chosen CPU, reports what the OS granted
// each, and leaves none behind.
#include <gtest/gtest.h>
#include <signal.h>

#include <cerrno>

#include "run_binary.hpp"

namespace {

using nlohmann::json;

TEST(ContentionProcesses, RunBesideTheScenarioAndAreGoneAfterIt) {
    rstest::ScratchDir dir;
    const std::string prefix = dir.prefix("contention");
    const rstest::Run run = rstest::run_runner({"--wait", "futex", "--count", "2000", "--contention-threads", "2",
                                                "--contention-processes", "true", "--contention-cpus", "1", "-o",
                                                prefix});
    ASSERT_EQ(run.exit_code, 0) << run.err;
    const json doc = rstest::read_strict_json(prefix + ".json");
    EXPECT_EQ(doc["scenario"]["contention"]["processes"], true);
    ASSERT_EQ(doc["granted"]["contention"].size(), 2u) << doc["granted"].dump();
    for (const json& busy : doc["granted"]["contention"]) {
        EXPECT_TRUE(busy["process"].get<bool>());
        EXPECT_EQ(busy["cpus"], json::array({1})) << busy.dump();
        EXPECT_TRUE(busy["as_requested"].get<bool>()) << busy.dump();
        const int pid = busy["tid"].get<int>();
        EXPECT_NE(pid, run.pid) << "a process of its own";
        errno = 0;
        EXPECT_EQ(::kill(pid, 0), -1) << "process " << pid << " outlived the run";
        EXPECT_EQ(errno, ESRCH);
    }
}

}  // namespace
