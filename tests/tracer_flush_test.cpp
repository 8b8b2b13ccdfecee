// Flush on demand and on stop without the agent's cooperation (issue 4,
// docs/tracer.md "Flush on demand"): the controller dumps the committed
// prefix of a window the agent still holds, and only the rest when the
// window is submitted or recovered later. tracer_FlushRace races flushes
// against a busy agent for a bounded time (it runs under every sanitizer).
#include <gtest/gtest.h>
#include <sys/mman.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <nlohmann/json.hpp>
#include <thread>

#include "tracer_test_support.hpp"

namespace {

using namespace trtest;
using nlohmann::json;
using ringside::trace::reader::DetailStatus;
using ringside::trace::reader::RowKind;

constexpr std::uint64_t kCapacity = 4096;

json lane0(rs_tracer_controller_t* controller) { return json::parse(controller_stats_text(controller))["lanes"].at(0); }

// Emits `count` events numbered from `first` (the number is the payload's first 8 bytes).
void emit_numbered(rs_tracer_agent_t* agent, std::uint64_t first, std::uint64_t count, std::uint32_t payload = 8) {
    std::uint8_t data[64] = {};
    for (std::uint64_t i = first; i < first + count; ++i) {
        std::memcpy(data, &i, sizeof i);
        ASSERT_EQ(rs_tracer_emit(agent, 7, data, payload), RS_OK) << rs_last_error_message();
    }
}

// Every event 0..count-1 exactly once, in order, each payload kept and equal to its number.
void expect_exactly_once_in_order(const Trace& trace, std::uint64_t count) {
    ASSERT_TRUE(trace.report.ok()) << report_json(trace.report);
    ASSERT_EQ(trace.report.sessions.size(), 1u) << report_json(trace.report);
    EXPECT_EQ(trace.report.sessions[0].events, count);
    EXPECT_EQ(trace.report.sessions[0].duplicates, 0u);
    EXPECT_EQ(trace.report.sessions[0].out_of_order, 0u);
    std::uint64_t expected = 0;
    for (const auto& row : trace.rows) {
        if (row.kind != RowKind::kEvent) continue;
        ASSERT_EQ(row.seq, expected);
        ASSERT_EQ(row.detail, DetailStatus::kKept) << "event " << row.seq << " window " << row.detail_window
                                                   << " offset " << row.detail_offset;
        std::uint64_t number = ~0ull;
        ASSERT_GE(row.payload.size(), sizeof number);
        std::memcpy(&number, row.payload.data(), sizeof number);
        ASSERT_EQ(number, expected);
        ++expected;
    }
    EXPECT_EQ(expected, count);
}

class tracer_Flush : public ::testing::Test {
protected:
    void create(std::uint32_t rings = 8, bool keep = false) {
        rs_tracer_options options = controller_options(dir_.sink(), 1, rings, kCapacity);
        options.keep_on_destroy = keep ? 1 : 0;
        controller_ = make_controller(name_, options);
        ASSERT_NE(controller_, nullptr);
    }
    Trace read() { return read_trace(dir_.sink(), true, true); }

    TempDir dir_;
    std::string name_ = shm_name("flush");
    ControllerPtr controller_;
};

TEST_F(tracer_Flush, FlushPutsAnIdleAgentsCommittedEventsOnDisk) {
    create();
    AgentPtr agent = make_agent(name_);
    emit_numbered(agent.get(), 0, 40);
    // The agent emits nothing more: it never sees the request.
    ASSERT_EQ(rs_tracer_controller_flush(controller_.get(), 5'000'000'000ull), RS_OK);
    const Trace trace = read();
    EXPECT_EQ(trace.report.sessions.at(0).events, 40u);
    ASSERT_TRUE(trace.report.ok()) << report_json(trace.report);
    EXPECT_EQ(lane0(controller_.get())["flush_snapshots"], 1);
    EXPECT_EQ(lane0(controller_.get())["flushes"], 0);  // the agent did not take part
}

TEST_F(tracer_Flush, EventsFlushedThenSubmittedWithTheRestOfTheWindowAppearExactlyOnceInOrder) {
    create();
    AgentPtr agent = make_agent(name_);
    ASSERT_EQ(rs_tracer_mark(agent.get()), RS_OK);  // keep the detail windows: payloads prove identity
    emit_numbered(agent.get(), 0, 30);
    ASSERT_EQ(rs_tracer_controller_flush(controller_.get(), 0), RS_OK);
    emit_numbered(agent.get(), 30, 20);
    ASSERT_EQ(rs_tracer_controller_flush(controller_.get(), 0), RS_OK);  // continues the same window
    ASSERT_EQ(rs_tracer_controller_flush(controller_.get(), 0), RS_OK);  // nothing new: dumps nothing
    EXPECT_EQ(lane0(controller_.get())["flush_snapshots"], 2);
    // Fill the window and a few more: it is submitted on full, and only its rest is dumped.
    for (std::uint64_t n = 50; n < 400; n += 50) {
        ASSERT_EQ(rs_tracer_mark(agent.get()), RS_OK);
        emit_numbered(agent.get(), n, 50);
        poll(controller_.get());
    }
    ASSERT_EQ(rs_tracer_mark(agent.get()), RS_OK);
    agent.reset();  // close: submits the last windows
    poll(controller_.get());
    expect_exactly_once_in_order(read(), 400);
}

TEST_F(tracer_Flush, ALaterControllerDumpsOnlyWhatAnEarlierOneDidNotFlush) {
    create(8, true);
    AgentPtr agent = make_agent(name_);
    ASSERT_EQ(rs_tracer_mark(agent.get()), RS_OK);
    emit_numbered(agent.get(), 0, 25);
    ASSERT_EQ(rs_tracer_controller_stop(controller_.get(), 0), RS_OK);
    controller_.reset();  // keeps the region: the agent still holds its window
    emit_numbered(agent.get(), 25, 10);
    rs_tracer_options options = controller_options(dir_.sink(), 1, 8, kCapacity);
    options.open_existing = 1;
    controller_ = make_controller(name_, options);
    ASSERT_NE(controller_, nullptr);
    ASSERT_EQ(rs_tracer_mark(agent.get()), RS_OK);  // its next emit served the stop's request: a new detail window
    agent.reset();
    poll(controller_.get());
    expect_exactly_once_in_order(read(), 35);
    controller_.reset();
    ::shm_unlink(name_.c_str());  // neither controller unlinks it: the first kept it, the second did not create it
}

TEST_F(tracer_Flush, StopWithAnIdleAgentDumpsEveryCommittedEvent) {
    create(4);
    ASSERT_EQ(rs_tracer_controller_start(controller_.get()), RS_OK);
    AgentPtr agent = make_agent(name_);
    ASSERT_EQ(rs_tracer_mark(agent.get()), RS_OK);
    emit_numbered(agent.get(), 0, 250);  // more than one index window: some submitted, the last one held
    ASSERT_EQ(rs_tracer_controller_stop(controller_.get(), 5'000'000'000ull), RS_OK);
    const Trace trace = read();
    EXPECT_EQ(trace.report.sessions.at(0).events, 250u);
    ASSERT_TRUE(trace.report.ok()) << report_json(trace.report);
    EXPECT_GE(lane0(controller_.get())["flush_snapshots"].get<int>(), 1);
}

TEST_F(tracer_Flush, AnOverwriteOldestLaneIsStillFlushedOnlyByItsAgent) {
    create(4);
    AgentPtr agent = make_agent(name_, RS_TRACER_OVERWRITE_OLDEST);
    emit_numbered(agent.get(), 0, 5);
    // It may reuse its window in place at any time: no snapshot, the agent must answer.
    EXPECT_EQ(rs_tracer_controller_flush(controller_.get(), 5'000'000), RS_TIMEOUT);
    std::atomic<int> result{-100};
    std::thread flusher([&] { result = rs_tracer_controller_flush(controller_.get(), 10'000'000'000ull); });
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    emit_numbered(agent.get(), 5, 1);  // serves the request, then records itself
    flusher.join();
    EXPECT_EQ(result.load(), RS_OK);
    EXPECT_GE(read().report.sessions.at(0).events, 5u);
    EXPECT_EQ(lane0(controller_.get())["flush_snapshots"], 0);
}

// A busy agent (window switches, wraps, marks) while another thread flushes
// back to back with no grace, so every flush snapshots a window being
// written. Bounded in time; the reader must find every event once, in order.
class tracer_FlushRace : public ::testing::TestWithParam<rs_tracer_policy> {};

TEST_P(tracer_FlushRace, FlushRacingABusyAgentNeverTearsOrDuplicatesARecord) {
    TempDir dir;
    const std::string name = shm_name("flushrace");
    ControllerPtr controller = make_controller(name, controller_options(dir.sink(), 1, 8, 1u << 16));
    ASSERT_NE(controller, nullptr);
    ASSERT_EQ(rs_tracer_controller_start(controller.get()), RS_OK);
    AgentPtr agent = make_agent(name, GetParam(), 1'000'000'000ull);
    std::atomic<bool> go{false};
    std::atomic<bool> stop{false};
    std::uint64_t written = 0;
    std::uint64_t dropped = 0;
    std::thread writer([&] {
        while (!go.load(std::memory_order_acquire)) std::this_thread::yield();
        std::uint8_t data[64] = {};
        for (std::uint64_t seq = 0; !stop.load(std::memory_order_relaxed); ++seq) {
            std::memcpy(data, &seq, sizeof seq);
            const rs_result result = rs_tracer_emit(agent.get(), 3, data, 8 + seq % 48);
            (result == RS_OK ? written : dropped) += 1;
            if (seq % 64 == 0) rs_tracer_mark(agent.get());
            if (seq % 1024 == 0) std::this_thread::yield();
            // Short idle spells: flushes then snapshot the window the agent resumes writing.
            if (seq % 16384 == 0) std::this_thread::sleep_for(std::chrono::microseconds(100));
        }
    });
    std::uint64_t flushes = 0;
    go.store(true, std::memory_order_release);
    const auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(600);
    while (std::chrono::steady_clock::now() < end) {
        const rs_result result = rs_tracer_controller_flush(controller.get(), 0);
        EXPECT_TRUE(result == RS_OK || result == RS_TIMEOUT) << rs_result_name(result);
        ++flushes;
    }
    stop.store(true, std::memory_order_relaxed);
    writer.join();
    ASSERT_EQ(rs_tracer_mark(agent.get()), RS_OK);  // the last detail window is kept too
    agent.reset();
    ASSERT_EQ(rs_tracer_controller_stop(controller.get(), 1'000'000'000), RS_OK);
    const Trace trace = read_trace(dir.sink(), false);
    ASSERT_TRUE(trace.report.errors.empty()) << trace.report.errors.front();
    ASSERT_EQ(trace.report.sessions.size(), 1u);
    const auto& session = trace.report.sessions[0];
    EXPECT_TRUE(session.ok()) << "duplicates " << session.duplicates << ", out of order " << session.out_of_order
                              << ", unexplained " << session.lost_unexplained << ", details bad " << session.details_bad;
    EXPECT_EQ(session.duplicates, 0u);
    EXPECT_EQ(session.out_of_order, 0u);
    EXPECT_EQ(session.details_bad, 0u);
    EXPECT_EQ(session.next_seq, written + dropped);
    EXPECT_EQ(session.events + session.lost_explained, written + dropped);
    if (GetParam() != RS_TRACER_OVERWRITE_OLDEST) {
        EXPECT_EQ(session.events, written);
        // Every window is marked: every payload is found, also from the rest
        // of a window a snapshot cut (its context is in the block before).
        EXPECT_EQ(session.details_kept, written);
    }
    const json lane = lane0(controller.get());
    EXPECT_EQ(lane["violations"]["total"], 0);
    if (GetParam() != RS_TRACER_OVERWRITE_OLDEST) {
        EXPECT_GT(lane["flush_snapshots"].get<std::uint64_t>(), 0u);
    }
    std::printf("[ info ] %llu events, %llu dropped, %llu flushes, %llu snapshots\n",
                static_cast<unsigned long long>(written), static_cast<unsigned long long>(dropped),
                static_cast<unsigned long long>(flushes),
                static_cast<unsigned long long>(lane["flush_snapshots"].get<std::uint64_t>()));
}

INSTANTIATE_TEST_SUITE_P(Policies, tracer_FlushRace,
                         ::testing::Values(RS_TRACER_DROP_NEWEST, RS_TRACER_OVERWRITE_OLDEST, RS_TRACER_WAIT),
                         [](const auto& info) {
                             switch (info.param) {
                                 case RS_TRACER_DROP_NEWEST: return std::string("DropNewest");
                                 case RS_TRACER_OVERWRITE_OLDEST: return std::string("OverwriteOldest");
                                 default: return std::string("Wait");
                             }
                         });

}  // namespace
