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

#include "tracer/trace_region.hpp"
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
    ASSERT_EQ(rs_tracer_controller_flush(controller_.get(), 0), RS_OK);  // event 30 served the request: a new window
    ASSERT_EQ(rs_tracer_controller_flush(controller_.get(), 0), RS_OK);  // nothing new: dumps nothing
    // The first flush cut the index window and the marked detail window; the
    // second only the index window: the detail window the agent opened when
    // its next emit served the first request is not marked.
    EXPECT_EQ(lane0(controller_.get())["flush_snapshots"], 3);
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

TEST_F(tracer_Flush, FlushPutsAMarkedDetailWindowsPayloadsOnDiskWithoutTheAgent) {
    create();
    AgentPtr agent = make_agent(name_);
    ASSERT_EQ(rs_tracer_mark(agent.get()), RS_OK);
    emit_numbered(agent.get(), 0, 12, 24);
    ASSERT_EQ(rs_tracer_controller_flush(controller_.get(), 0), RS_OK);
    // On disk now, before the agent does anything else: every payload.
    expect_exactly_once_in_order(read(), 12);
    EXPECT_EQ(lane0(controller_.get())["flush_snapshots"], 2);  // the index window and the detail window
    EXPECT_EQ(lane0(controller_.get())["detail_rings_dumped"], 0);  // a cut window counts once, with its last block
    // The rest of both windows follows when the agent submits them.
    emit_numbered(agent.get(), 12, 8, 24);
    ASSERT_EQ(rs_tracer_mark(agent.get()), RS_OK);
    agent.reset();
    poll(controller_.get());
    expect_exactly_once_in_order(read(), 20);
}

TEST_F(tracer_Flush, AnUnmarkedDetailWindowIsNotKeptByAFlush) {
    create();
    AgentPtr agent = make_agent(name_);
    emit_numbered(agent.get(), 0, 6, 16);
    ASSERT_EQ(rs_tracer_controller_flush(controller_.get(), 0), RS_OK);
    const Trace trace = read();
    ASSERT_TRUE(trace.report.ok()) << report_json(trace.report);
    EXPECT_EQ(trace.report.sessions.at(0).events, 6u);
    EXPECT_EQ(trace.report.sessions.at(0).details_not_kept, 6u);
    EXPECT_EQ(lane0(controller_.get())["flush_snapshots"], 1);
}

TEST_F(tracer_Flush, AnIdleOverwriteOldestAgentIsFlushedWithoutItsHelp) {
    create(2);
    AgentPtr agent = make_agent(name_, RS_TRACER_OVERWRITE_OLDEST);
    ASSERT_EQ(rs_tracer_mark(agent.get()), RS_OK);
    emit_numbered(agent.get(), 0, 5);
    ASSERT_EQ(rs_tracer_controller_flush(controller_.get(), 5'000'000'000ull), RS_OK);
    EXPECT_EQ(lane0(controller_.get())["flush_snapshots"], 2);
    EXPECT_EQ(lane0(controller_.get())["flushes"], 0);  // the agent did not take part
    expect_exactly_once_in_order(read(), 5);
}

// Opens the controller's region as a second mapping, to play a part the
// public API does not: a controller in the middle of a snapshot, an agent in
// the middle of a reuse, or an emit that read the flush request just before
// the controller bumped it.
class SecondMapping {
public:
    explicit SecondMapping(const std::string& name) {
        EXPECT_EQ(ringside::trace::TraceRegion::open(name.c_str(), RS_BACKING_SHM,
                                                     ringside::trace::TraceRegion::Access::kReadWrite, &region_),
                  RS_OK);
    }
    ~SecondMapping() { ringside::trace::TraceRegion::destroy(region_, false); }
    SecondMapping(const SecondMapping&) = delete;
    SecondMapping& operator=(const SecondMapping&) = delete;
    void set_reuse_lock(std::uint32_t holder) {
        std::atomic_ref<std::uint32_t>(region_->lane(0).reuse_lock).store(holder, std::memory_order_release);
    }
    [[nodiscard]] std::uint32_t reuse_lock() const {
        return std::atomic_ref<std::uint32_t>(region_->lane(0).reuse_lock).load(std::memory_order_acquire);
    }
    std::atomic_ref<std::uint64_t> flush_request() { return std::atomic_ref<std::uint64_t>(region_->header().flush_request); }

private:
    ringside::trace::TraceRegion* region_ = nullptr;
};

TEST_F(tracer_Flush, AWindowReusedInPlaceAfterASnapshotLosesOnlyWhatTheSnapshotDidNotSave) {
    create(2);
    SecondMapping region(name_);
    AgentPtr agent = make_agent(name_, RS_TRACER_OVERWRITE_OLDEST);
    ASSERT_EQ(rs_tracer_mark(agent.get()), RS_OK);
    emit_numbered(agent.get(), 0, 1);  // takes the detail ring: free_q is empty from here
    for (int i = 1; i < 10; ++i) ASSERT_EQ(rs_tracer_emit(agent.get(), 7, nullptr, 0), RS_OK);
    const std::uint64_t request = region.flush_request().load();
    ASSERT_EQ(rs_tracer_controller_flush(controller_.get(), 0), RS_OK);
    EXPECT_EQ(lane0(controller_.get())["flush_snapshots"], 2);
    // As if the agent's emit had read the request just before the bump: it
    // does not submit the window it now fills, and reuses it in place.
    region.flush_request().store(request);
    for (int i = 10; i < 310; ++i) ASSERT_EQ(rs_tracer_emit(agent.get(), 7, nullptr, 0), RS_OK);
    agent.reset();
    poll(controller_.get());
    const Trace trace = read();
    ASSERT_TRUE(trace.report.ok()) << report_json(trace.report);
    const auto& session = trace.report.sessions.at(0);
    EXPECT_EQ(session.events + session.lost_explained, 310u);
    std::uint64_t overwritten = 0;
    const ringside::trace::reader::Row* first_gap = nullptr;
    for (const auto& row : trace.rows) {
        if (row.kind != RowKind::kGap) continue;
        if (first_gap == nullptr) first_gap = &row;
        EXPECT_EQ(row.cause, static_cast<std::uint32_t>(ringside::trace::DropCause::kOverwritten));
        overwritten += row.count;
    }
    ASSERT_NE(first_gap, nullptr) << "the window was never reused";
    EXPECT_EQ(first_gap->seq, 10u);  // the ten events of the snapshot are not declared lost
    EXPECT_EQ(lane0(controller_.get())["drops"]["overwritten"].get<std::uint64_t>(), overwritten);
}

TEST_F(tracer_Flush, AnOverwriteOldestAgentSubmitsAFullWindowWhileASnapshotHoldsTheReuseLock) {
    create(2);
    SecondMapping region(name_);
    AgentPtr agent = make_agent(name_, RS_TRACER_OVERWRITE_OLDEST);
    emit_numbered(agent.get(), 0, 1);  // takes the detail ring: free_q is empty from here
    region.set_reuse_lock(ringside::trace::kReuseByController);
    std::uint64_t dropped = 0;
    for (int i = 0; i < 300; ++i) dropped += rs_tracer_emit(agent.get(), 7, nullptr, 0) == RS_FULL ? 1 : 0;
    json lane = lane0(controller_.get());
    EXPECT_EQ(lane["drops"]["overwritten"], 0);  // the full window was not reused...
    EXPECT_EQ(lane["index_rings_submitted"], 1);  // ...but handed over whole
    EXPECT_EQ(lane["drops"]["no_ring"].get<std::uint64_t>(), dropped);
    EXPECT_GT(dropped, 0u);
    region.set_reuse_lock(ringside::trace::kReuseFree);
    poll(controller_.get());  // the window comes back
    for (int i = 0; i < 300; ++i) ASSERT_EQ(rs_tracer_emit(agent.get(), 7, nullptr, 0), RS_OK);
    lane = lane0(controller_.get());
    EXPECT_GT(lane["drops"]["overwritten"].get<std::uint64_t>(), 0u);  // with the lock free, it reuses
    agent.reset();
    poll(controller_.get());
    const Trace trace = read();
    ASSERT_TRUE(trace.report.ok()) << report_json(trace.report);
    EXPECT_EQ(trace.report.sessions.at(0).events + trace.report.sessions.at(0).lost_explained, 601u);
}

TEST_F(tracer_Flush, AControllerThatOpensTheRegionClearsTheReuseLockADeadControllerLeft) {
    create(2, true);
    AgentPtr agent = make_agent(name_, RS_TRACER_OVERWRITE_OLDEST);
    emit_numbered(agent.get(), 0, 1);
    {
        SecondMapping region(name_);
        region.set_reuse_lock(ringside::trace::kReuseByController);  // as if it died mid-snapshot
    }
    controller_.reset();  // keeps the region
    rs_tracer_options options = controller_options(dir_.sink(), 1, 2, kCapacity);
    options.open_existing = 1;
    controller_ = make_controller(name_, options);
    ASSERT_NE(controller_, nullptr);
    SecondMapping region(name_);
    EXPECT_EQ(region.reuse_lock(), ringside::trace::kReuseFree);
    // The agent's next emit serves the stop's flush request (its window goes
    // to submit_q, and with 2 rings that emit finds none free); once the new
    // controller hands the ring back, the agent reuses its full window in
    // place again: no emit is dropped.
    (void)rs_tracer_emit(agent.get(), 7, nullptr, 0);
    poll(controller_.get());
    for (int i = 0; i < 300; ++i) ASSERT_EQ(rs_tracer_emit(agent.get(), 7, nullptr, 0), RS_OK) << "emit " << i;
    EXPECT_GT(lane0(controller_.get())["drops"]["overwritten"].get<std::uint64_t>(), 0u);
    agent.reset();
    controller_.reset();
    ::shm_unlink(name_.c_str());  // neither controller unlinks it: the first kept it, the second did not create it
}

TEST_F(tracer_Flush, AFlushTimesOutWhileAnAgentHoldsTheReuseLockAndSucceedsOnceItLetsGo) {
    create(2);
    SecondMapping region(name_);
    AgentPtr agent = make_agent(name_, RS_TRACER_OVERWRITE_OLDEST);
    emit_numbered(agent.get(), 0, 5);
    region.set_reuse_lock(ringside::trace::kReuseByAgent);  // a hostile or stuck agent
    EXPECT_EQ(rs_tracer_controller_flush(controller_.get(), 5'000'000), RS_TIMEOUT);
    EXPECT_EQ(lane0(controller_.get())["flush_snapshots"], 0);
    region.set_reuse_lock(ringside::trace::kReuseFree);
    EXPECT_EQ(rs_tracer_controller_flush(controller_.get(), 5'000'000'000ull), RS_OK);
    EXPECT_EQ(read().report.sessions.at(0).events, 5u);
}

// A busy agent (window switches, wraps, marks) while another thread flushes
// back to back with no grace, so every flush snapshots a window being
// written. Bounded in time; the reader must find every event once, in order.
// The small-pool case keeps an overwrite-oldest agent reusing windows in
// place while the flushes snapshot them (reuse_lock).
struct RaceSetup {
    rs_tracer_policy policy;
    std::uint32_t rings;
    std::uint64_t capacity;
    const char* name;
};

void PrintTo(const RaceSetup& setup, std::ostream* out) { *out << setup.name; }

class tracer_FlushRace : public ::testing::TestWithParam<RaceSetup> {};

TEST_P(tracer_FlushRace, FlushRacingABusyAgentNeverTearsOrDuplicatesARecord) {
    const RaceSetup setup = GetParam();
    TempDir dir;
    const std::string name = shm_name("flushrace");
    ControllerPtr controller = make_controller(name, controller_options(dir.sink(), 1, setup.rings, setup.capacity));
    ASSERT_NE(controller, nullptr);
    ASSERT_EQ(rs_tracer_controller_start(controller.get()), RS_OK);
    AgentPtr agent = make_agent(name, setup.policy, 1'000'000'000ull);
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
    if (setup.policy != RS_TRACER_OVERWRITE_OLDEST) {
        EXPECT_EQ(session.events, written);
        // Every window is marked: every payload is found, also from the rest
        // of a window a snapshot cut (its context is in the block before).
        EXPECT_EQ(session.details_kept, written);
    }
    const json lane = lane0(controller.get());
    EXPECT_EQ(lane["violations"]["total"], 0);
    EXPECT_GT(lane["flush_snapshots"].get<std::uint64_t>(), 0u);
    if (setup.rings == 2) {
        EXPECT_GT(lane["drops"]["overwritten"].get<std::uint64_t>(), 0u);
    }
    std::printf("[ info ] %llu events, %llu dropped, %llu flushes, %llu snapshots\n",
                static_cast<unsigned long long>(written), static_cast<unsigned long long>(dropped),
                static_cast<unsigned long long>(flushes),
                static_cast<unsigned long long>(lane["flush_snapshots"].get<std::uint64_t>()));
}

INSTANTIATE_TEST_SUITE_P(Policies, tracer_FlushRace,
                         ::testing::Values(RaceSetup{RS_TRACER_DROP_NEWEST, 8, 1u << 16, "DropNewest"},
                                           RaceSetup{RS_TRACER_OVERWRITE_OLDEST, 8, 1u << 16, "OverwriteOldest"},
                                           RaceSetup{RS_TRACER_OVERWRITE_OLDEST, 2, 4096, "OverwriteOldestReusing"},
                                           RaceSetup{RS_TRACER_WAIT, 8, 1u << 16, "Wait"}),
                         [](const auto& info) { return std::string(info.param.name); });

}  // namespace
