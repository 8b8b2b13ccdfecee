// The tracer's semantics with exact counts: index windows always dumped,
// detail windows only when marked, every drop policy under pool exhaustion,
// flush, close and lane reuse, re-entrant emits, arguments. The controller
// is driven by rs_tracer_controller_poll (no thread) wherever the count
// must not depend on timing.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/time.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <nlohmann/json.hpp>
#include <thread>

#include "tracer_test_support.hpp"
#include "wait/clock.hpp"

namespace {

using namespace trtest;
using nlohmann::json;
using ringside::trace::reader::DetailStatus;
using ringside::trace::reader::RowKind;

constexpr std::uint64_t kCapacity = 4096;

json controller_stats(rs_tracer_controller_t* controller) { return json::parse(controller_stats_text(controller)); }

json lane0(rs_tracer_controller_t* controller) { return controller_stats(controller)["lanes"].at(0); }

std::uint64_t emit_many(rs_tracer_agent_t* agent, std::uint64_t count, std::uint64_t payload, std::uint32_t id = 7,
                        std::uint64_t* dropped = nullptr) {
    std::uint8_t data[256] = {};
    std::uint64_t ok = 0;
    for (std::uint64_t i = 0; i < count; ++i) {
        std::memcpy(data, &i, sizeof i);
        const rs_result result = rs_tracer_emit(agent, id, data, payload);
        EXPECT_TRUE(result == RS_OK || result == RS_FULL) << rs_result_name(result) << " " << rs_last_error_message();
        if (result == RS_OK) ++ok;
        if (result == RS_FULL && dropped != nullptr) ++*dropped;
    }
    return ok;
}

class tracer_Semantics : public ::testing::Test {
protected:
    void create(std::uint32_t rings, std::uint32_t lanes = 1, rs_tracer_clock clock = RS_TRACER_CLOCK_TSC) {
        rs_tracer_options options = controller_options(dir_.sink(), lanes, rings, kCapacity);
        options.clock = clock;
        controller_ = make_controller(name_, options);
        ASSERT_NE(controller_, nullptr);
    }
    Trace finish_and_read() {
        poll(controller_.get());
        return read_trace(dir_.sink());
    }

    TempDir dir_;
    std::string name_ = shm_name("sem");
    ControllerPtr controller_;
};

TEST_F(tracer_Semantics, KeepsMarkedDetailWindowsAndRecyclesUnmarkedOnes) {
    create(8);
    AgentPtr agent = make_agent(name_);
    const std::uint64_t detail = detail_total(32);
    std::uint64_t end1 = 0;
    std::uint64_t end2 = 0;
    const std::uint64_t fit1 = records_that_fit(kCapacity, 0, detail, &end1);
    const std::uint64_t fit2 = records_that_fit(kCapacity, end1, detail, &end2);
    ASSERT_EQ(emit_many(agent.get(), fit1, 32), fit1);  // fills detail window 1, unmarked
    ASSERT_EQ(emit_many(agent.get(), 1, 32), 1u);       // window 1 recycled in place; window 2 starts
    ASSERT_EQ(rs_tracer_mark(agent.get()), RS_OK);
    ASSERT_EQ(emit_many(agent.get(), fit2 - 1, 32), fit2 - 1);  // window 2 full
    ASSERT_EQ(emit_many(agent.get(), 2, 32), 2u);               // window 2 submitted; window 3 unmarked
    const json before = json::parse(lane_stats(agent.get()));
    EXPECT_EQ(before["detail_rings_recycled"], 1);
    EXPECT_EQ(before["detail_rings_kept"], 1);
    EXPECT_EQ(before["marks"], 1);
    agent.reset();
    const Trace trace = finish_and_read();
    ASSERT_TRUE(trace.report.ok()) << report_json(trace.report);
    ASSERT_EQ(trace.report.sessions.size(), 1u);
    const auto& session = trace.report.sessions[0];
    const std::uint64_t events = fit1 + fit2 + 2;
    EXPECT_EQ(session.events, events);
    EXPECT_EQ(session.details_kept, fit2);
    EXPECT_EQ(session.details_not_kept, events - fit2);
    EXPECT_EQ(session.marks, 1u);
    for (const auto& row : trace.rows) {
        if (row.kind != RowKind::kEvent) continue;
        const bool in_marked_window = row.seq >= fit1 && row.seq < fit1 + fit2;
        EXPECT_EQ(row.detail, in_marked_window ? DetailStatus::kKept : DetailStatus::kNotKept) << row.seq;
    }
    const json lane = lane0(controller_.get());
    // events x 24 bytes + the mark and three detail-window records x 40 fit two index windows.
    EXPECT_EQ(lane["index_rings_submitted"], 2);
    EXPECT_EQ(lane["index_rings_dumped"], 2);
    EXPECT_EQ(lane["detail_rings_kept"], 1);
    EXPECT_EQ(lane["detail_rings_dumped"], 1);
    EXPECT_EQ(lane["detail_rings_recycled"], 2);  // + window 3, returned unread at close
    EXPECT_EQ(lane["rings_returned"], 1);
    EXPECT_EQ(lane["violations"]["total"], 0);
    EXPECT_EQ(lane["state"], "free");
}

TEST_F(tracer_Semantics, PoolExhaustionDropsNewestWithExactCounts) {
    create(4);
    AgentPtr agent = make_agent(name_, RS_TRACER_DROP_NEWEST);
    const std::uint64_t per_window = records_that_fit(kCapacity, 0, kIndexTotal);
    const std::uint64_t fits = 4 * per_window;
    std::uint64_t dropped = 0;
    EXPECT_EQ(emit_many(agent.get(), 1000, 0, 7, &dropped), fits);
    EXPECT_EQ(dropped, 1000 - fits);
    json lane = json::parse(lane_stats(agent.get()));
    EXPECT_EQ(lane["drops"]["no_ring"], 1000 - fits);
    EXPECT_EQ(lane["events_written"], fits);
    EXPECT_EQ(lane["index_rings_submitted"], 4);
    EXPECT_EQ(lane["free_q_empty"], 1000 - fits);
    EXPECT_EQ(poll(controller_.get()), 4u);  // the four full rings come back
    EXPECT_EQ(emit_many(agent.get(), 1, 0), 1u);
    agent.reset();
    const Trace trace = finish_and_read();
    ASSERT_TRUE(trace.report.ok()) << report_json(trace.report);
    const auto& session = trace.report.sessions.at(0);
    EXPECT_EQ(session.events, fits + 1);
    ASSERT_EQ(session.gaps.size(), 1u);
    EXPECT_EQ(session.gaps[0].first, fits);
    EXPECT_EQ(session.gaps[0].count, 1000 - fits);
    EXPECT_EQ(session.gaps[0].cause, "no_ring");
    EXPECT_EQ(session.next_seq, 1001u);
}

TEST_F(tracer_Semantics, PoolExhaustionOverwritesTheOldestUnsubmittedWindow) {
    create(4);
    AgentPtr agent = make_agent(name_, RS_TRACER_OVERWRITE_OLDEST);
    constexpr std::uint64_t kEvents = 1000;
    std::uint64_t dropped = 0;
    EXPECT_EQ(emit_many(agent.get(), kEvents, 0, 7, &dropped), kEvents);  // overwriting never refuses
    EXPECT_EQ(dropped, 0u);
    // The model: rings 0..2 are submitted full; ring 3 is reused in place,
    // each reuse starting with one gap record where the last window ended.
    const std::uint64_t per_window = records_that_fit(kCapacity, 0, kIndexTotal);
    const std::uint64_t kept_early = 3 * per_window;
    std::uint64_t start = 0;
    std::uint64_t end = 0;
    std::uint64_t capacity = records_that_fit(kCapacity, start, kIndexTotal, &end);  // window 4: events only
    std::uint64_t left = kEvents - kept_early;
    std::uint64_t lost = 0;
    std::uint64_t in_window = std::min(left, capacity);
    left -= in_window;
    while (left > 0) {
        lost += in_window;
        start = end;
        capacity = records_that_fit(kCapacity, start, kIndexTotal, &end, kControlTotal);  // after the gap record
        in_window = std::min(left, capacity);
        left -= in_window;
    }
    const json lane = json::parse(lane_stats(agent.get()));
    EXPECT_EQ(lane["drops"]["overwritten"], lost);
    EXPECT_EQ(lane["events_written"], kEvents - lost);
    EXPECT_EQ(lane["index_rings_submitted"], 3);
    agent.reset();
    const Trace trace = finish_and_read();
    ASSERT_TRUE(trace.report.ok()) << report_json(trace.report);
    const auto& session = trace.report.sessions.at(0);
    EXPECT_EQ(session.events, kEvents - lost);
    ASSERT_EQ(session.gaps.size(), 1u);
    EXPECT_EQ(session.gaps[0].first, kept_early);
    EXPECT_EQ(session.gaps[0].count, lost);
    EXPECT_EQ(session.gaps[0].cause, "overwritten");
}

TEST_F(tracer_Semantics, PoolExhaustionWaitsOnceThenDropsWithExactCounts) {
    create(4);
    AgentPtr agent = make_agent(name_, RS_TRACER_WAIT, 2'000'000);
    const std::uint64_t fits = 4 * records_that_fit(kCapacity, 0, kIndexTotal);
    const auto started = std::chrono::steady_clock::now();
    std::uint64_t dropped = 0;
    EXPECT_EQ(emit_many(agent.get(), 1000, 0, 7, &dropped), fits);
    const auto elapsed = std::chrono::steady_clock::now() - started;
    EXPECT_EQ(dropped, 1000 - fits);
    // One bounded wait, then drops without waiting until a ring comes back.
    EXPECT_GE(elapsed, std::chrono::milliseconds(2));
    EXPECT_LT(elapsed, std::chrono::milliseconds(500));
    const json lane = json::parse(lane_stats(agent.get()));
    EXPECT_EQ(lane["drops"]["wait_timeout"], 1000 - fits);
    EXPECT_EQ(lane["drops"]["no_ring"], 0);
    poll(controller_.get());
    EXPECT_EQ(emit_many(agent.get(), 1, 0), 1u);
    agent.reset();
    const Trace trace = finish_and_read();
    ASSERT_TRUE(trace.report.ok()) << report_json(trace.report);
    ASSERT_EQ(trace.report.sessions.at(0).gaps.size(), 1u);
    EXPECT_EQ(trace.report.sessions[0].gaps[0].cause, "wait_timeout");
    EXPECT_EQ(trace.report.sessions[0].gaps[0].count, 1000 - fits);
}

TEST_F(tracer_Semantics, BoundedWaitIsServedByARunningControllerWithoutDrops) {
    create(4);
    ASSERT_EQ(rs_tracer_controller_start(controller_.get()), RS_OK);
    AgentPtr agent = make_agent(name_, RS_TRACER_WAIT, 5'000'000'000ull);
    constexpr std::uint64_t kEvents = 20'000;
    EXPECT_EQ(emit_many(agent.get(), kEvents, 24), kEvents);
    ASSERT_EQ(rs_tracer_mark(agent.get()), RS_OK);
    agent.reset();
    ASSERT_EQ(rs_tracer_controller_stop(controller_.get(), 1'000'000'000), RS_OK);
    const Trace trace = read_trace(dir_.sink(), false);
    ASSERT_TRUE(trace.report.ok()) << report_json(trace.report);
    EXPECT_EQ(trace.report.sessions.at(0).events, kEvents);
    EXPECT_TRUE(trace.report.sessions[0].gaps.empty());
    const json stats = controller_stats(controller_.get());
    const json& lane = stats["lanes"].at(0);
    // A wake only ever follows a push on submit_q (a dump or a return).
    const std::uint64_t submits = lane["submits"].get<std::uint64_t>();
    EXPECT_EQ(submits, lane["index_rings_dumped"].get<std::uint64_t>() +
                           lane["detail_rings_dumped"].get<std::uint64_t>() + lane["rings_returned"].get<std::uint64_t>());
    EXPECT_LE(lane["wakes_sent"].get<std::uint64_t>(), submits);
    EXPECT_LE(stats["controller_wakeups"].get<std::uint64_t>(), submits);
}

TEST_F(tracer_Semantics, AgentFlushSubmitsThePartialIndexWindow) {
    create(4);
    AgentPtr agent = make_agent(name_);
    EXPECT_EQ(emit_many(agent.get(), 10, 8), 10u);
    ASSERT_EQ(rs_tracer_flush(agent.get()), RS_OK);
    EXPECT_EQ(poll(controller_.get()), 1u);
    const Trace trace = read_trace(dir_.sink());
    EXPECT_EQ(trace.report.sessions.at(0).events, 10u);
    EXPECT_FALSE(trace.report.sessions[0].ended);
}

// Controller flushes (the agent's answer, and snapshots without it): tests/tracer_flush_test.cpp.

TEST_F(tracer_Semantics, CloseReturnsEveryRingAndTheLaneCanBeClaimedAgain) {
    create(4, 1);
    {
        AgentPtr agent = make_agent(name_);
        EXPECT_EQ(emit_many(agent.get(), 50, 16), 50u);
        rs_tracer_agent_t* second = nullptr;
        EXPECT_EQ(rs_tracer_open(name_.c_str(), nullptr, &second), RS_BUSY);  // one lane, in use
    }
    poll(controller_.get());
    EXPECT_EQ(lane0(controller_.get())["state"], "free");
    AgentPtr again = make_agent(name_);
    ASSERT_NE(again, nullptr);
    EXPECT_EQ(json::parse(lane_stats(again.get()))["session"], 2);
    // The whole pool is back, each ring starting where its last window ended:
    // ring 0 held 50 details of 16 bytes (the detail window opens first),
    // ring 1 a detail-window record and 50 index records.
    const std::uint64_t fits = records_that_fit(kCapacity, 50 * detail_total(16), kIndexTotal) +
                               records_that_fit(kCapacity, kControlTotal + 50 * kIndexTotal, kIndexTotal) +
                               2 * records_that_fit(kCapacity, 0, kIndexTotal);
    EXPECT_EQ(emit_many(again.get(), 1000, 0), fits);
    again.reset();
    const Trace trace = finish_and_read();
    ASSERT_TRUE(trace.report.ok()) << report_json(trace.report);
    ASSERT_EQ(trace.report.sessions.size(), 2u);
    EXPECT_EQ(trace.report.sessions[0].events, 50u);
    EXPECT_TRUE(trace.report.sessions[0].ended);
    EXPECT_EQ(trace.report.sessions[1].events, fits);
}

TEST_F(tracer_Semantics, EmitReenteredOnItsLaneIsDroppedNotCorrupting) {
    create(4);
    AgentPtr agent = make_agent(name_);
    void* slot = nullptr;
    ASSERT_EQ(rs_tracer_reserve(agent.get(), 1, 8, &slot), RS_OK);
    std::memset(slot, 0xAB, 8);
    // What a signal handler that emits on this lane would do now.
    const std::uint8_t data[8] = {};
    EXPECT_EQ(rs_tracer_emit(agent.get(), 2, data, sizeof data), RS_FULL);
    ASSERT_EQ(rs_tracer_commit(agent.get()), RS_OK);
    EXPECT_EQ(json::parse(lane_stats(agent.get()))["drops"]["reentrant"], 1);
    agent.reset();
    const Trace trace = finish_and_read();
    ASSERT_TRUE(trace.report.ok()) << report_json(trace.report);
    EXPECT_EQ(trace.report.sessions.at(0).events, 1u);
}

std::atomic<rs_tracer_agent_t*> g_signal_agent{nullptr};
std::atomic<std::uint64_t> g_handler_ok{0};
std::atomic<std::uint64_t> g_handler_full{0};

void emit_from_handler(int) {
    rs_tracer_agent_t* agent = g_signal_agent.load();
    if (agent == nullptr) return;  // a late signal (valgrind delivers them when it schedules)
    const int saved_errno = errno;
    const std::uint32_t value = 0xFEED;
    const rs_result result = rs_tracer_emit(agent, 99, &value, sizeof value);
    (result == RS_OK ? g_handler_ok : g_handler_full).fetch_add(1);
    errno = saved_errno;
}

TEST_F(tracer_Semantics, SignalHandlersEmittingOnTheSameLaneLoseNothingUnaccounted) {
    create(16);
    // SIGALRM is process-directed: it must land on this thread, the lane's
    // only writer. The drain thread blocks every signal itself; so does the
    // rest of this process while the timer runs (gtest has no other threads).
    ASSERT_EQ(rs_tracer_controller_start(controller_.get()), RS_OK);
    AgentPtr agent = make_agent(name_);
    g_signal_agent = agent.get();
    g_handler_ok = 0;
    g_handler_full = 0;
    struct sigaction action {};
    action.sa_handler = emit_from_handler;
    sigemptyset(&action.sa_mask);
    ASSERT_EQ(::sigaction(SIGALRM, &action, nullptr), 0);
    itimerval timer{{0, 200}, {0, 200}};
    ASSERT_EQ(::setitimer(ITIMER_REAL, &timer, nullptr), 0);
    std::uint64_t dropped = 0;
    const std::uint64_t ok = emit_many(agent.get(), 100'000, 16, 7, &dropped);
    itimerval off{};
    ::setitimer(ITIMER_REAL, &off, nullptr);
    g_signal_agent = nullptr;  // the handler stays installed: a pending SIGALRM is harmless

    const json lane = json::parse(lane_stats(agent.get()));
    agent.reset();
    ASSERT_EQ(rs_tracer_controller_stop(controller_.get(), 1'000'000'000), RS_OK);
    const Trace trace = read_trace(dir_.sink(), false);
    ASSERT_TRUE(trace.report.ok()) << report_json(trace.report);
    // Every call is accounted for: written, dropped with a gap, or a counted re-entry.
    EXPECT_EQ(trace.report.sessions.at(0).events, ok + g_handler_ok.load());
    EXPECT_EQ(trace.report.sessions[0].lost_explained, dropped + g_handler_full.load() -
                                                           lane["drops"]["reentrant"].get<std::uint64_t>());
}

TEST_F(tracer_Semantics, TimestampsConvertToMonotonicNanoseconds) {
    for (const rs_tracer_clock clock : {RS_TRACER_CLOCK_TSC, RS_TRACER_CLOCK_MONOTONIC}) {
        controller_.reset();
        create(4, 1, clock);
        AgentPtr agent = make_agent(name_);
        const std::uint64_t before = ringside::monotonic_ns();
        EXPECT_EQ(emit_many(agent.get(), 50, 0), 50u);
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
        EXPECT_EQ(emit_many(agent.get(), 50, 0), 50u);
        const std::uint64_t after = ringside::monotonic_ns();
        agent.reset();
        const Trace trace = finish_and_read();
        std::uint64_t previous = 0;
        std::uint64_t events = 0;
        for (const auto& row : trace.rows) {
            if (row.kind != RowKind::kEvent || row.session != trace.rows.back().session) continue;
            EXPECT_GE(row.ts_ns + 100'000, before) << "clock " << clock;  // 0.1 ms calibration margin
            EXPECT_LE(row.ts_ns, after + 100'000) << "clock " << clock;
            EXPECT_GE(row.ts, previous);
            previous = row.ts;
            ++events;
        }
        EXPECT_EQ(events, 100u);
        std::filesystem::remove_all(dir_.sink());
    }
}

TEST_F(tracer_Semantics, RejectsInvalidCallsWithoutSideEffects) {
    create(4, 1);
    AgentPtr agent = make_agent(name_);
    std::uint8_t data[16] = {};
    size_t max = 0;
    ASSERT_EQ(rs_tracer_max_payload(agent.get(), &max), RS_OK);
    EXPECT_EQ(max, kCapacity / 2 - 16);
    EXPECT_EQ(rs_tracer_emit(nullptr, 1, data, 1), RS_ERR_INVALID_ARGUMENT);
    EXPECT_EQ(rs_tracer_emit(agent.get(), RS_TRACER_MAX_EVENT_ID + 1, data, 1), RS_ERR_INVALID_ARGUMENT);
    EXPECT_EQ(rs_tracer_emit(agent.get(), 1, nullptr, 1), RS_ERR_INVALID_ARGUMENT);
    std::vector<std::uint8_t> big(max + 1);
    EXPECT_EQ(rs_tracer_emit(agent.get(), 1, big.data(), big.size()), RS_ERR_TOO_LARGE);
    EXPECT_EQ(rs_tracer_emit(agent.get(), 1, big.data(), max), RS_OK);
    EXPECT_EQ(rs_tracer_commit(agent.get()), RS_ERR_INVALID_ARGUMENT);
    void* slot = nullptr;
    ASSERT_EQ(rs_tracer_reserve(agent.get(), 1, 4, &slot), RS_OK);
    EXPECT_EQ(rs_tracer_reserve(agent.get(), 1, 4, &slot), RS_BUSY);
    EXPECT_EQ(rs_tracer_close(agent.get()), RS_BUSY);
    EXPECT_EQ(rs_tracer_commit(agent.get()), RS_OK);
    rs_tracer_agent_t* raw = agent.release();
    EXPECT_EQ(rs_tracer_close(raw), RS_OK);
    EXPECT_EQ(rs_tracer_close(raw), RS_ERR_INVALID_ARGUMENT);
    EXPECT_EQ(rs_tracer_emit(raw, 1, data, 1), RS_ERR_INVALID_ARGUMENT);

    rs_tracer_agent_t* none = nullptr;
    EXPECT_EQ(rs_tracer_open("/rstrace.does-not-exist", nullptr, &none), RS_ERR_NOT_FOUND);
    rs_tracer_agent_options agent_options{};
    EXPECT_EQ(rs_tracer_open(name_.c_str(), &agent_options, &none), RS_ERR_INVALID_ARGUMENT);
    rs_tracer_options options{};
    rs_tracer_controller_t* controller = nullptr;
    EXPECT_EQ(rs_tracer_controller_create(shm_name("x").c_str(), &options, &controller), RS_ERR_INVALID_ARGUMENT);
    rs_tracer_options_init(&options);
    EXPECT_EQ(rs_tracer_controller_create(shm_name("x").c_str(), &options, &controller), RS_ERR_INVALID_ARGUMENT);
    const std::string sink = dir_.sink();
    options.sink_dir = sink.c_str();
    options.ring_capacity = 5000;
    EXPECT_EQ(rs_tracer_controller_create(shm_name("x").c_str(), &options, &controller), RS_ERR_INVALID_ARGUMENT);
    rs_tracer_options_init(&options);
    options.sink_dir = sink.c_str();
    EXPECT_EQ(rs_tracer_controller_create(name_.c_str(), &options, &controller), RS_ERR_EXISTS);
    ASSERT_EQ(rs_tracer_controller_start(controller_.get()), RS_OK);
    EXPECT_EQ(rs_tracer_controller_start(controller_.get()), RS_BUSY);
    EXPECT_EQ(rs_tracer_controller_destroy(controller_.get()), RS_BUSY);
    EXPECT_EQ(rs_tracer_controller_poll(controller_.get(), nullptr), RS_BUSY);
    EXPECT_EQ(rs_tracer_controller_stop(controller_.get(), 0), RS_OK);
}

TEST_F(tracer_Semantics, InspectorReadsLiveMetricsWithoutClaimingAnything) {
    create(4, 2);
    AgentPtr agent = make_agent(name_);
    EXPECT_EQ(emit_many(agent.get(), 123, 8), 123u);
    char* text = nullptr;
    ASSERT_EQ(rs_tracer_inspect_json(name_.c_str(), RS_BACKING_SHM, &text), RS_OK);
    const json report = json::parse(text);
    rs_string_free(text);
    EXPECT_EQ(report["lane_count"], 2);
    ASSERT_EQ(report["lanes"].size(), 1u);
    EXPECT_EQ(report["lanes"][0]["events_written"], 123);
    EXPECT_EQ(report["lanes"][0]["state"], "active");
    EXPECT_EQ(report["lanes"][0]["agent_alive"], true);
    EXPECT_EQ(rs_tracer_inspect_json("/rstrace.does-not-exist", RS_BACKING_SHM, &text), RS_ERR_NOT_FOUND);
}


// Every row of a one-session trace in file order: the events numbered from 0
// with event id == sequence number, each gap record exactly where its first
// lost number is due. Returns the first discrepancy, or "" and sets `next`.
std::string first_misnumbered_row(const Trace& trace, std::uint64_t& next) {
    next = 0;
    for (const auto& row : trace.rows) {
        if (row.kind == RowKind::kEvent) {
            if (row.seq != next || row.event_id != next) {
                return "event id " + std::to_string(row.event_id) + " read as seq " + std::to_string(row.seq) +
                       " where seq " + std::to_string(next) + " was due";
            }
            ++next;
        } else if (row.kind == RowKind::kGap) {
            if (row.seq != next) {
                return "gap [" + std::to_string(row.seq) + ", +" + std::to_string(row.count) + ") where seq " +
                       std::to_string(next) + " was due";
            }
            next += row.count;
        }
    }
    return "";
}

// A drop with an index window open writes its gap record (40 bytes in the
// ring) at once. If the window has room for an event record (24) but not for
// the gap record, the gap must not stay behind while the next event goes in
// the same window: that event would be read with the dropped event's number.
// The drop: a marked detail window overflows with no spare ring (two rings,
// no controller poll). The sweep moves it over every 8-byte position near the
// index window's end: `fill` zero-length events (24 bytes each) and 1 to 3
// marks (40 each) go first.
TEST_F(tracer_Semantics, ADropWhoseGapDoesNotFitKeepsTheNextEventsSequenceNumber) {
    constexpr std::uint64_t kPayload = 16;
    const std::uint64_t in_detail = records_that_fit(kCapacity, 0, detail_total(kPayload));
    const std::uint64_t in_index = records_that_fit(kCapacity, 0, kIndexTotal);
    std::uint64_t cases = 0;  // drops with room for an event but not for a gap record (the model)
    for (std::uint64_t marks = 1; marks <= 3; ++marks) {
        for (std::uint64_t fill = 0; fill + in_detail <= in_index + 1; ++fill) {
            SCOPED_TRACE("marks " + std::to_string(marks) + ", fill " + std::to_string(fill));
            // Index bytes in use when the payload event that overflows the
            // detail window is dropped: the marks, the detail-window record,
            // one record per event.
            const std::uint64_t used = (marks + 1) * kControlTotal + (fill + in_detail) * kIndexTotal;
            if (used + kIndexTotal + 8 <= kCapacity && used + kControlTotal + 8 > kCapacity) ++cases;

            controller_.reset();
            std::filesystem::remove_all(dir_.sink());
            name_ = shm_name("gapfit");
            create(2, 1, RS_TRACER_CLOCK_MONOTONIC);  // the smallest pool; no TSC calibration per region
            AgentPtr agent = make_agent(name_);
            ASSERT_NE(agent, nullptr);
            std::uint64_t seq = 0;  // every emit takes the next sequence number: it is the event id
            auto emit = [&](std::uint64_t length) {
                std::uint8_t data[kPayload] = {};
                std::memcpy(data, &seq, sizeof seq);
                const rs_result result = rs_tracer_emit(agent.get(), static_cast<std::uint32_t>(seq), data, length);
                EXPECT_TRUE(result == RS_OK || result == RS_FULL) << rs_result_name(result);
                ++seq;
                return result;
            };
            for (std::uint64_t i = 0; i < fill; ++i) emit(0);
            for (std::uint64_t i = 0; i < marks; ++i) ASSERT_EQ(rs_tracer_mark(agent.get()), RS_OK);
            bool dropped = false;
            while (!dropped && seq < fill + in_detail + 1) dropped = emit(kPayload) == RS_FULL;
            ASSERT_TRUE(dropped);
            for (int i = 0; i < 3; ++i) emit(0);  // may still fit the index window the drop left open
            // Every ring comes back (the marked detail window too: flushed),
            // then two index windows, polled often enough that a spare ring
            // always waits on free_q.
            ASSERT_EQ(rs_tracer_flush(agent.get()), RS_OK);
            for (std::uint64_t i = 0; i < in_index + 10; ++i) {
                if (i % 32 == 0) poll(controller_.get());
                ASSERT_EQ(emit(0), RS_OK);
            }
            agent.reset();
            const Trace trace = finish_and_read();
            EXPECT_TRUE(trace.report.ok()) << report_json(trace.report);
            ASSERT_EQ(trace.report.sessions.size(), 1u);
            std::uint64_t next = 0;
            const std::string problem = first_misnumbered_row(trace, next);
            ASSERT_EQ(problem, "");
            EXPECT_EQ(next, seq);
            EXPECT_EQ(trace.report.sessions[0].next_seq, seq);
        }
    }
    EXPECT_GT(cases, 0u) << "the sweep never dropped with room for an event but not for a gap record";
}

}  // namespace
