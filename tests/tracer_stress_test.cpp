// Long concurrent runs (label stress, release only): several lanes written
// at once while the drain thread runs, marks and controller flushes fired
// from another thread, every policy; the reader must account for every
// event of every lane.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <nlohmann/json.hpp>
#include <thread>
#include <vector>

#include "tracer_test_support.hpp"

namespace {

using namespace trtest;
using nlohmann::json;

struct Lane {
    std::uint64_t ok = 0;
    std::uint64_t full = 0;
};

class tracer_Stress : public ::testing::TestWithParam<rs_tracer_policy> {};

TEST_P(tracer_Stress, LanesWrittenConcurrentlyAreEachAccountedForEventByEvent) {
    constexpr std::uint32_t kLanes = 3;
    constexpr std::uint64_t kEvents = 3'000'000;
    TempDir dir;
    const std::string name = shm_name("stress");
    rs_tracer_options options = controller_options(dir.sink(), kLanes, 8, 1u << 18);
    ControllerPtr controller = make_controller(name, options);
    ASSERT_NE(controller, nullptr);
    ASSERT_EQ(rs_tracer_controller_start(controller.get()), RS_OK);
    std::atomic<bool> go{false};
    std::atomic<std::uint32_t> done{0};
    std::vector<Lane> lanes(kLanes);
    std::vector<std::thread> writers;
    for (std::uint32_t i = 0; i < kLanes; ++i) {
        writers.emplace_back([&, i] {
            rs_tracer_agent_options agent_options;
            rs_tracer_agent_options_init(&agent_options);
            agent_options.policy = GetParam();
            agent_options.wait_timeout_ns = 200'000'000;
            rs_tracer_agent_t* agent = nullptr;
            if (rs_tracer_open(name.c_str(), &agent_options, &agent) != RS_OK) return;
            while (!go.load(std::memory_order_acquire)) std::this_thread::yield();
            std::uint8_t payload[48] = {};
            for (std::uint64_t seq = 0; seq < kEvents; ++seq) {
                std::memcpy(payload, &seq, sizeof seq);
                const rs_result result = rs_tracer_emit(agent, i, payload, 8 + seq % 40);
                (result == RS_OK ? lanes[i].ok : lanes[i].full) += 1;
                if (seq % 200'000 == 0) rs_tracer_mark(agent);
                if (seq % 500'000 == 0) rs_tracer_flush(agent);
            }
            rs_tracer_close(agent);
            done.fetch_add(1);
        });
    }
    go.store(true, std::memory_order_release);
    // Flushes on demand while the lanes run (each may time out: a lane that
    // finished cannot acknowledge; that is fine here).
    while (done.load() < kLanes) {
        rs_tracer_controller_flush(controller.get(), 20'000'000);
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    for (std::thread& writer : writers) writer.join();
    ASSERT_EQ(rs_tracer_controller_stop(controller.get(), 1'000'000'000), RS_OK);
    const Trace trace = read_trace(dir.sink(), false);
    ASSERT_TRUE(trace.report.ok()) << report_json(trace.report);
    ASSERT_EQ(trace.report.sessions.size(), kLanes);
    std::uint64_t written = 0;
    std::uint64_t dropped = 0;
    for (const Lane& lane : lanes) {
        EXPECT_EQ(lane.ok + lane.full, kEvents);
        written += lane.ok;
        dropped += lane.full;
    }
    std::uint64_t events = 0;
    std::uint64_t lost = 0;
    for (const auto& session : trace.report.sessions) {
        EXPECT_EQ(session.next_seq, kEvents);
        EXPECT_TRUE(session.ended);
        EXPECT_EQ(session.details_bad, 0u);
        events += session.events;
        lost += session.lost_explained;
    }
    EXPECT_EQ(events + lost, kLanes * kEvents);
    if (GetParam() == RS_TRACER_OVERWRITE_OLDEST) {
        // Overwriting loses older events without refusing new ones, except
        // when the lane holds no window to overwrite (right after a flush
        // submitted it): then it drops as no_ring.
        EXPECT_LE(events, written);
        EXPECT_LE(dropped, lost);
    } else {
        EXPECT_EQ(events, written);
        EXPECT_EQ(lost, dropped);
    }
    char* text = nullptr;
    ASSERT_EQ(rs_tracer_controller_stats_json(controller.get(), &text), RS_OK);
    const json stats = json::parse(text);
    rs_string_free(text);
    std::uint64_t submits = 0;
    for (const json& lane : stats["lanes"]) {
        EXPECT_EQ(lane["violations"]["total"], 0);
        EXPECT_LE(lane["wakes_sent"].get<std::uint64_t>(), lane["submits"].get<std::uint64_t>());
        submits += lane["submits"].get<std::uint64_t>();
    }
    EXPECT_LE(stats["controller_wakeups"].get<std::uint64_t>(), submits);
    std::printf("[ info ] %llu written, %llu lost (explained), %llu submits, %llu controller wake-ups\n",
                static_cast<unsigned long long>(events), static_cast<unsigned long long>(lost),
                static_cast<unsigned long long>(submits),
                static_cast<unsigned long long>(stats["controller_wakeups"].get<std::uint64_t>()));
}

INSTANTIATE_TEST_SUITE_P(Policies, tracer_Stress,
                         ::testing::Values(RS_TRACER_DROP_NEWEST, RS_TRACER_OVERWRITE_OLDEST, RS_TRACER_WAIT),
                         [](const auto& info) {
                             switch (info.param) {
                                 case RS_TRACER_DROP_NEWEST: return std::string("DropNewest");
                                 case RS_TRACER_OVERWRITE_OLDEST: return std::string("OverwriteOldest");
                                 default: return std::string("Wait");
                             }
                         });

}  // namespace
