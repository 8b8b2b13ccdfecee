// A buggy or hostile agent can lose its own data but cannot crash the
// controller or make it read or write outside the mapping; every violation
// is counted. The "agent" here is the test itself, writing the lane's shared
// memory directly. Sequential (poll-driven), so the sanitizers see no race
// the protocol does not have.
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>

#include "common/process.hpp"
#include "ring/ring_view.hpp"
#include "tracer/index_queue.hpp"
#include "tracer/ring_appender.hpp"
#include "tracer/trace_region.hpp"
#include "tracer_test_support.hpp"

namespace {

using namespace trtest;
using namespace ringside::trace;
using nlohmann::json;

constexpr std::uint64_t kCapacity = 4096;
constexpr std::uint32_t kRings = 4;

// A pid no process has (dead agents claim with it).
std::int32_t unused_pid() {
    for (std::int32_t pid = 4'000'000; pid > 1000; --pid) {
        if (::kill(pid, 0) != 0 && errno == ESRCH) return pid;
    }
    return 0;
}

class tracer_HostileAgent : public ::testing::Test {
protected:
    void SetUp() override {
        const rs_tracer_options options = controller_options(dir_.sink(), 1, kRings, kCapacity);
        controller_ = make_controller(name_, options);
        ASSERT_NE(controller_, nullptr);
        ASSERT_EQ(TraceRegion::open(name_.c_str(), RS_BACKING_SHM, TraceRegion::Access::kReadWrite, &region_), RS_OK);
        lane_ = &region_->lane(0);
    }
    void TearDown() override { TraceRegion::destroy(region_, false); }

    // Claims lane 0 the way an agent does, as `pid` (default: this process).
    void claim(std::int32_t pid = ::getpid()) {
        const std::uint64_t ticks = pid == ::getpid() ? ringside::self_start_ticks() : 1;
        lane_->claim = claim_word(pid, ticks);
        lane_->session = 1;
        lane_->agent_pid = pid;
        ASSERT_EQ(submit_.attach(submit_queue(*lane_)), QueueStatus::kOk);
        ASSERT_EQ(free_.attach(free_queue(*lane_)), QueueStatus::kOk);
        lane_->state = static_cast<std::uint32_t>(LaneState::kActive);
    }
    std::uint32_t pop_ring() {
        std::uint32_t ring = kNoRing;
        EXPECT_EQ(free_.try_pop(ring), QueueStatus::kOk);
        return ring;
    }
    // Starts a window on `ring` like an agent and appends `events` index records.
    RingAppender fill(std::uint32_t ring, std::uint64_t first_seq, std::uint64_t events) {
        const ringside::RingView view = region_->ring_view(0, ring);
        RingAppender appender;
        appender.start(view, view.control->read_position);
        RingInfo& info = region_->ring_info(0, ring);
        info.kind = static_cast<std::uint32_t>(RingKind::kIndex);
        info.window = ++windows_;
        info.first_seq = first_seq;
        for (std::uint64_t i = 0; i < events; ++i) {
            std::byte* slot = appender.try_reserve(sizeof(IndexEvent));
            EXPECT_NE(slot, nullptr);
            const IndexEvent record{1000 + i, 5, kNoDetail};
            std::memcpy(slot, &record, sizeof record);
            appender.commit();
        }
        return appender;
    }
    void submit(std::uint32_t entry) { ASSERT_EQ(submit_.try_push(entry), QueueStatus::kOk); }
    json violations() {
        char* text = nullptr;
        EXPECT_EQ(rs_tracer_controller_stats_json(controller_.get(), &text), RS_OK);
        const json stats = json::parse(text);
        rs_string_free(text);
        return stats["lanes"].at(0)["violations"];
    }
    // How many rings are on free_q now, as the agent sees it.
    std::uint64_t free_rings() { return lane_->free_tail - lane_->free_head; }

    TempDir dir_;
    std::string name_ = shm_name("hostile");
    ControllerPtr controller_;
    TraceRegion* region_ = nullptr;
    LaneControl* lane_ = nullptr;
    QueuePusher submit_;
    QueuePopper free_;
    std::uint64_t windows_ = 0;
};

TEST_F(tracer_HostileAgent, CountsMalformedAndOutOfRangeEntries) {
    claim();
    submit(submit_entry(999, SubmitAction::kDumpIndex));  // ring out of range
    submit(kEntryRingMask);                                // no action
    submit(0);                                             // no action
    submit(7u << kEntryActionShift);                       // unknown action
    submit(submit_entry(0, SubmitAction::kDumpIndex) | 0x0010'0000u);  // stray bits
    EXPECT_EQ(poll(controller_.get()), 5u);
    const json v = violations();
    EXPECT_EQ(v["ring_out_of_range"], 1);
    EXPECT_EQ(v["bad_entry"], 4);
    EXPECT_EQ(free_rings(), kRings);  // nothing was taken from the pool
}

TEST_F(tracer_HostileAgent, RefusesRingsItDoesNotHold) {
    claim();
    submit(submit_entry(2, SubmitAction::kDumpIndex));  // still on free_q: never popped
    poll(controller_.get());
    EXPECT_EQ(violations()["ring_not_held"], 1);
    const std::uint32_t ring = pop_ring();
    fill(ring, 0, 3);
    submit(submit_entry(ring, SubmitAction::kDumpIndex));
    submit(submit_entry(ring, SubmitAction::kDumpIndex));  // the same ring twice
    poll(controller_.get());
    EXPECT_EQ(violations()["ring_not_held"], 2);
    EXPECT_EQ(violations()["total"], 2);
}

TEST_F(tracer_HostileAgent, SurvivesQueueIndicesThatJump) {
    claim();
    lane_->submit_tail = lane_->submit_head + 100'000;  // more entries than slots
    poll(controller_.get());
    EXPECT_GE(violations()["queue_corrupt"].get<int>(), 1);
    lane_->submit_tail = lane_->submit_head;
    lane_->free_head = lane_->free_tail + 7;  // popped more than was pushed
    const std::uint32_t ring = 0;
    submit(submit_entry(ring, SubmitAction::kDumpIndex));
    poll(controller_.get());
    EXPECT_GE(violations()["queue_corrupt"].get<int>(), 2);
}

struct BadRecord {
    const char* name;
    std::uint32_t commit;
    std::uint32_t length;
};

class tracer_BadRecords : public tracer_HostileAgent, public ::testing::WithParamInterface<BadRecord> {};

TEST_P(tracer_BadRecords, DumpStopsBeforeTheBadRecordAndTheRingComesBackClean) {
    claim();
    const std::uint32_t ring = pop_ring();
    RingAppender appender = fill(ring, 0, 2);
    // The third record: a header no honest agent writes.
    const ringside::RingView view = region_->ring_view(0, ring);
    auto* header = reinterpret_cast<ringside::layout::RecordHeader*>(view.data + view.offset_of(appender.position()));
    header->length = GetParam().length;
    header->commit = GetParam().commit;
    submit(submit_entry(ring, SubmitAction::kDumpIndex));
    poll(controller_.get());
    EXPECT_EQ(violations()["bad_record"], 1) << GetParam().name;
    // The ring came back with a zero commit word where the next window starts.
    const std::uint32_t again = [&] {
        for (;;) {
            const std::uint32_t popped = pop_ring();
            if (popped == ring || popped == kNoRing) return popped;
        }
    }();
    ASSERT_EQ(again, ring);
    const std::uint64_t start = view.control->read_position;
    EXPECT_EQ(ringside::commit_word(view, start).load(), 0u);
    lane_->state = static_cast<std::uint32_t>(LaneState::kClosed);
    poll(controller_.get());
    const Trace trace = read_trace(dir_.sink());
    ASSERT_EQ(trace.report.sessions.size(), 1u);
    EXPECT_EQ(trace.report.sessions[0].events, 2u);  // the valid prefix
    EXPECT_TRUE(trace.report.errors.empty());
}

INSTANTIATE_TEST_SUITE_P(
    Headers, tracer_BadRecords,
    ::testing::Values(BadRecord{"misaligned", 44, 32}, BadRecord{"too_large", 4000, 3992},
                      BadRecord{"huge", 0x7FFF'FFF8u, 0x7FFF'FFF0u}, BadRecord{"length_mismatch", 40, 8},
                      BadRecord{"short_padding", ringside::layout::kPadFlag | 16, 0},
                      BadRecord{"tiny", 4, 0}),
    [](const auto& info) { return std::string(info.param.name); });

TEST_F(tracer_HostileAgent, FullLapWithoutTerminatorAndMisalignedStartAreBounded) {
    claim();
    const std::uint32_t ring = pop_ring();
    const ringside::RingView view = region_->ring_view(0, ring);
    // Every word a valid-looking empty record: a scan that trusted it would never stop.
    for (std::uint64_t offset = 0; offset < kCapacity; offset += 8) {
        auto* header = reinterpret_cast<ringside::layout::RecordHeader*>(view.data + offset);
        header->commit = 8;
        header->length = 0;
    }
    region_->ring_info(0, ring).kind = static_cast<std::uint32_t>(RingKind::kIndex);
    view.control->read_position = 12;  // not record-aligned
    submit(submit_entry(ring, SubmitAction::kDumpIndex));
    poll(controller_.get());
    const json v = violations();
    EXPECT_EQ(v["bad_position"], 1);
    EXPECT_GE(v["bad_record"].get<int>(), 1);  // 0-byte payloads in an index window
    EXPECT_EQ(free_rings(), kRings);            // the ring is back in the pool
}

TEST_F(tracer_HostileAgent, RandomGarbageNeverCrashesTheController) {
    claim();
    std::mt19937_64 random(0x5EED);
    for (int round = 0; round < 200; ++round) {
        // Scribble over the lane's queues, slots and one ring, like a wild pointer.
        auto* words = reinterpret_cast<std::uint64_t*>(&lane_->submit_head);
        const std::size_t count = (sizeof(LaneControl) - offsetof(LaneControl, submit_head)) / 8;
        for (int i = 0; i < 8; ++i) words[random() % count] = random() % 4 == 0 ? random() : random() % 512;
        const ringside::RingView view = region_->ring_view(0, static_cast<std::uint32_t>(random() % kRings));
        for (int i = 0; i < 64; ++i) {
            auto* word = reinterpret_cast<std::uint32_t*>(view.data + (random() % (kCapacity / 4)) * 4);
            *word = random() % 3 == 0 ? static_cast<std::uint32_t>(random()) : static_cast<std::uint32_t>(random() % 64);
        }
        if (random() % 4 == 0) view.control->read_position = random();
        region_->ring_info(0, static_cast<std::uint32_t>(random() % kRings)).kind = static_cast<std::uint32_t>(random() % 4);
        poll(controller_.get());
    }
    EXPECT_GT(violations()["total"].get<std::uint64_t>(), 0u);
    // A dead agent's lane is recovered and reset, whatever it left behind.
    lane_->claim = claim_word(unused_pid(), 1);
    poll(controller_.get());
    EXPECT_EQ(lane_->state, static_cast<std::uint32_t>(LaneState::kFree));
    EXPECT_EQ(free_rings(), kRings);
    const Trace trace = read_trace(dir_.sink(), false);  // whatever got written decodes without crashing
    (void)trace;
}

TEST_F(tracer_HostileAgent, DeadAgentsCommittedRecordsAreRecovered) {
    const std::int32_t dead = unused_pid();
    ASSERT_GT(dead, 0);
    claim(dead);
    const std::uint32_t first = pop_ring();
    fill(first, 0, 10);
    submit(submit_entry(first, SubmitAction::kDumpIndex));  // submitted before it died
    const std::uint32_t active = pop_ring();
    RingAppender appender = fill(active, 10, 7);  // still active when it died
    // An eighth record reserved but never committed must not appear.
    std::byte* slot = appender.try_reserve(sizeof(IndexEvent));
    ASSERT_NE(slot, nullptr);
    const IndexEvent uncommitted{1, 5, kNoDetail};
    std::memcpy(slot, &uncommitted, sizeof uncommitted);
    lane_->seq_next = 17;
    poll(controller_.get());
    EXPECT_EQ(lane_->state, static_cast<std::uint32_t>(LaneState::kFree));
    EXPECT_EQ(lane_->claim, 0u);
    EXPECT_EQ(lane_->recoveries, 1u);
    EXPECT_EQ(lane_->recovered_rings, 1u);
    const Trace trace = read_trace(dir_.sink());
    ASSERT_TRUE(trace.report.ok()) << report_json(trace.report);
    ASSERT_EQ(trace.report.sessions.size(), 1u);
    EXPECT_EQ(trace.report.sessions[0].events, 17u);
    EXPECT_EQ(trace.report.sessions[0].recovered_blocks, 1u);
    EXPECT_TRUE(trace.report.sessions[0].ended);
    EXPECT_EQ(trace.report.sessions[0].end_reason, 2u);  // died
}

TEST(tracer_ReaderInput, GarbageAndTruncatedFilesAreReportedNotFollowed) {
    TempDir dir;
    std::mt19937 random(7);
    for (int variant = 0; variant < 3; ++variant) {
        const std::string path = dir.path() + "/lane-000" + std::to_string(variant) + ".rstrace";
        std::ofstream out(path, std::ios::binary);
        std::vector<char> bytes(4096);
        for (char& byte : bytes) byte = static_cast<char>(random());
        if (variant > 0) {
            sink::FileHeader header{};
            header.magic = sink::kFileMagic;
            header.format_major = variant == 1 ? sink::kFormatMajor : 9;
            header.header_bytes = sizeof header;
            header.ring_capacity = 4096;
            std::memcpy(bytes.data(), &header, sizeof header);
        }
        out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    }
    const Trace trace = read_trace(dir.path());
    EXPECT_FALSE(trace.report.ok());
    EXPECT_EQ(trace.report.errors.size(), 3u) << report_json(trace.report);
}

}  // namespace
