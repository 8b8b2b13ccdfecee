// The scenario spec: parsed strictly (unknown keys, wrong types and values
// out of range are named), echoed complete, and refused with a sentence
// when it cannot run or would wedge the machine.
#include <gtest/gtest.h>

#include "runner/scenario.hpp"

namespace {

using json = nlohmann::json;
using namespace ringside::runner;

const std::vector<int> kTwoCpus = {0, 1};

std::string parse_error(const json& spec) {
    Scenario s;
    std::string error;
    EXPECT_FALSE(scenario_from_json(spec, s, error)) << spec.dump();
    return error;
}

// The reasons a spec is refused on a two-CPU machine ("" joined when none).
std::string refusal(const json& spec) {
    Scenario s;
    std::string error;
    if (!scenario_from_json(spec, s, error)) return "parse: " + error;
    resolve(s, kTwoCpus);
    std::string joined;
    for (const std::string& reason : validate(s, kTwoCpus)) joined += reason + "\n";
    return joined;
}

TEST(RunnerScenario, DefaultsDescribeAnEightByteInProcessPingPong) {
    Scenario s;
    std::string error;
    ASSERT_TRUE(scenario_from_json(json::object(), s, error)) << error;
    resolve(s, kTwoCpus);
    EXPECT_EQ(s.queue, Queue::kRingside);
    EXPECT_EQ(s.payload_bytes, 8u);
    EXPECT_EQ(s.count, 100'000u);
    EXPECT_EQ(s.host.cpu, 0);
    EXPECT_EQ(s.sidecar.cpu, 1);
    EXPECT_EQ(refusal(json::object()), "");
}

TEST(RunnerScenario, EchoesEveryFieldAndParsesItsOwnEcho) {
    Scenario s;
    std::string error;
    const json spec = {{"queue", "boost_spsc"}, {"payload_bytes", 256}, {"load", {{"mode", "open"}, {"rate_per_s", 1000}}},
                       {"host", {{"wait", {{"kind", "spin_pause"}}}, {"cpu", 1}}}, {"duration_s", 2}};
    ASSERT_TRUE(scenario_from_json(spec, s, error)) << error;
    resolve(s, kTwoCpus);
    const nlohmann::ordered_json echoed = scenario_to_json(s);
    Scenario again;
    ASSERT_TRUE(scenario_from_json(json::parse(echoed.dump()), again, error)) << error;
    EXPECT_EQ(scenario_to_json(again).dump(), echoed.dump());
    EXPECT_EQ(echoed["schema"], kScenarioSchema);
    EXPECT_EQ(echoed["host"]["wait"]["kind"], "spin_pause");
    EXPECT_EQ(echoed["sidecar"]["cpu"], 0) << "different_cores picks the CPU the host left";
}

TEST(RunnerScenario, NamesAnUnknownKeyWithItsPath) {
    EXPECT_EQ(parse_error({{"host", {{"wait", {{"knd", "futex"}}}}}}), "host.wait.knd: unknown key");
    EXPECT_EQ(parse_error({{"payload", 8}}), "payload: unknown key");
}

TEST(RunnerScenario, NamesAWrongTypeOrValue) {
    EXPECT_EQ(parse_error({{"payload_bytes", "eight"}}), "payload_bytes: must be a number");
    EXPECT_EQ(parse_error({{"payload_bytes", 8.5}}), "payload_bytes: must be an integer");
    EXPECT_NE(parse_error({{"payload_bytes", 4}}).find("payload_bytes: must be between 8"), std::string::npos);
    EXPECT_NE(parse_error({{"queue", "zeromq"}}).find("queue: must be one of ringside, ringside_ring"), std::string::npos);
    EXPECT_EQ(parse_error({{"sidecar", {{"sched", {{"policy", "fifo"}, {"priority", 120}}}}}}),
              "sidecar.sched.priority: must be between 0 and 99, not 120");
    EXPECT_EQ(parse_error({{"schema", "ringside-scenario/2"}}),
              "schema: this runner reads ringside-scenario/1, not 'ringside-scenario/2'");
    EXPECT_EQ(parse_error(json::array()), "the scenario: must be a JSON object");
}

TEST(RunnerScenario, RefusesARealTimeSpinnerOnTheCoreOfThePeerItWaitsFor) {
    const std::string why = refusal({{"placement", "same_core"},
                                     {"host", {{"sched", {{"policy", "fifo"}, {"priority", 50}}}}}});
    EXPECT_NE(why.find("host is a SCHED_FIFO 50 busy_spin spinner on CPU 0, the CPU of the sidecar it waits for"),
              std::string::npos) << why;
    EXPECT_NE(why.find("deadlock"), std::string::npos);
    // Parking instead of spinning is fine on one core.
    EXPECT_EQ(refusal({{"placement", "same_core"},
                       {"host", {{"wait", {{"kind", "futex"}}}, {"sched", {{"policy", "fifo"}, {"priority", 50}}}}},
                       {"sidecar", {{"wait", {{"kind", "futex"}}}}}}),
              "");
}

TEST(RunnerScenario, RefusesRealTimeSpinnersOnEveryCore) {
    const json fifo = {{"policy", "fifo"}, {"priority", 10}};
    const std::string why = refusal({{"host", {{"sched", fifo}}}, {"sidecar", {{"sched", fifo}}}});
    EXPECT_NE(why.find("real-time spinners would occupy every CPU (0,1)"), std::string::npos) << why;
    EXPECT_EQ(refusal({{"host", {{"sched", fifo}}}}), "") << "one real-time spinner leaves a CPU free";
}

TEST(RunnerScenario, RefusesAnUnpinnedRealTimeSpinner) {
    const std::string why = refusal({{"placement", "unpinned"}, {"sidecar", {{"sched", {{"policy", "rr"}, {"priority", 5}}}}}});
    EXPECT_NE(why.find("sidecar is a SCHED_RR 5 busy_spin spinner and unpinned"), std::string::npos) << why;
}

TEST(RunnerScenario, RefusesRealTimeContentionThatStarvesAMeasuredThread) {
    const std::string why = refusal({{"contention", {{"threads", 1}, {"cpus", {1}}, {"sched", {{"policy", "fifo"}, {"priority", 20}}}}}});
    EXPECT_NE(why.find("a SCHED_FIFO 20 contention thread on CPU 1 starves the sidecar (SCHED_OTHER nice 0)"),
              std::string::npos) << why;
    EXPECT_EQ(refusal({{"contention", {{"threads", 2}, {"cpus", {1}}}}}), "") << "SCHED_OTHER contention only competes";
    EXPECT_EQ(refusal({{"sidecar", {{"wait", {{"kind", "futex"}}}, {"sched", {{"policy", "fifo"}, {"priority", 30}}}}},
                       {"contention", {{"threads", 1}, {"cpus", {1}}, {"sched", {{"policy", "fifo"}, {"priority", 20}}}}}}),
              "") << "a sidecar that outranks the contention runs";
}

TEST(RunnerScenario, RefusesCombinationsThatDoNotExist) {
    EXPECT_NE(refusal({{"queue", "boost_spsc"}, {"transport", "processes"}}).find("in-process queue"), std::string::npos);
    EXPECT_NE(refusal({{"queue", "floor_cacheline"}, {"payload_bytes", 64}}).find("payload_bytes must be 8"), std::string::npos);
    EXPECT_NE(refusal({{"queue", "floor_futex"}, {"load", {{"mode", "throughput"}}}}).find("load must be closed"), std::string::npos);
    EXPECT_NE(refusal({{"load", {{"mode", "open"}}}}).find("needs load.rate_per_s"), std::string::npos);
    EXPECT_NE(refusal({{"count", 10}, {"duration_s", 1}}).find("exactly one of count and duration_s"), std::string::npos);
    EXPECT_NE(refusal({{"transport", "processes"}, {"host", {{"wait", {{"kind", "eventfd"}}}}}}).find("fd passing"),
              std::string::npos);
    EXPECT_NE(refusal({{"queue", "boost_spsc"}, {"host", {{"wait", {{"kind", "futex"}}}}}}).find("no way to park"),
              std::string::npos);
    EXPECT_NE(refusal({{"payload_bytes", 65536}, {"ring_bytes", 65536}}).find("does not fit"), std::string::npos);
    EXPECT_NE(refusal({{"host_kind", "java"}}).find("unknown: cpp or python"), std::string::npos);
    EXPECT_NE(refusal({{"host_kind", "python"}, {"transport", "processes"}, {"delivery", "ring"}})
                  .find("host_kind python drives queue ringside in one process"),
              std::string::npos);
    EXPECT_NE(refusal({{"host_kind", "python"}, {"load", {{"mode", "throughput"}}}}).find("closed loop only"),
              std::string::npos);
    EXPECT_NE(refusal({{"queue", "tracer"}}).find("tracer is an emit workload"), std::string::npos);
    EXPECT_NE(refusal({{"duration_s", 5}, {"timeout_s", 5}}).find("timeout_s must exceed"), std::string::npos);
    EXPECT_NE(refusal({{"host", {{"cpu", 7}}}}).find("host.cpu 7 is not one this process may use (0,1)"), std::string::npos);
}

TEST(RunnerScenario, ChoosesARingLargeEnoughForThePayload) {
    Scenario s;
    std::string error;
    ASSERT_TRUE(scenario_from_json({{"payload_bytes", 65536}}, s, error));
    resolve(s, kTwoCpus);
    EXPECT_GE(s.ring_bytes, 4 * 65536u);
    EXPECT_TRUE(validate(s, kTwoCpus).empty());
}

}  // namespace
