// Pins the tracer's shared layout (trace_layout.h), its file format
// (sink_format.h) and its public structs (tracer.h). When one of these
// fails, the layout or format changed: bump kTraceMajor / kFormatMajor (or
// the minor for additions in reserved space) and update the numbers here.
#include <gtest/gtest.h>

#include <cstddef>

#include "ringside/tracer.h"
#include "tracer/sink_format.h"
#include "tracer/trace_layout.h"

namespace {

using namespace ringside::trace;

TEST(tracer_Layout, VersionsAndMagics) {
    EXPECT_EQ(kTraceMajor, 2);
    EXPECT_EQ(kTraceMinor, 0);
    EXPECT_EQ(std::string(reinterpret_cast<const char*>(&kTraceMagic), 8), "RSTRACE1");
    EXPECT_EQ(std::string(reinterpret_cast<const char*>(&sink::kFileMagic), 8), "RSTRACEF");
    EXPECT_EQ(std::string(reinterpret_cast<const char*>(&sink::kIndexFileMagic), 8), "RSTRACEX");
    EXPECT_EQ(std::string(reinterpret_cast<const char*>(&sink::kBlockMagic), 4), "BLK1");
    EXPECT_EQ(sink::kFormatMajor, 1);
}

TEST(tracer_Layout, HeaderPage) {
    EXPECT_EQ(sizeof(TraceHeader), 640u);
    EXPECT_EQ(offsetof(TraceHeader, magic), 0u);
    EXPECT_EQ(offsetof(TraceHeader, layout_major), 8u);
    EXPECT_EQ(offsetof(TraceHeader, total_bytes), 16u);
    EXPECT_EQ(offsetof(TraceHeader, ring_capacity), 24u);
    EXPECT_EQ(offsetof(TraceHeader, lane_count), 32u);
    EXPECT_EQ(offsetof(TraceHeader, rings_per_lane), 36u);
    EXPECT_EQ(offsetof(TraceHeader, clock_kind), 48u);
    EXPECT_EQ(offsetof(TraceHeader, epoch), 64u);
    EXPECT_EQ(offsetof(TraceHeader, tsc_hz), 80u);
    EXPECT_EQ(offsetof(TraceHeader, calib_ns), 96u);
    EXPECT_EQ(offsetof(TraceHeader, controller_claim), 256u);
    EXPECT_EQ(offsetof(TraceHeader, wakeups), 280u);
    EXPECT_EQ(offsetof(TraceHeader, flush_request), 384u);
    EXPECT_EQ(offsetof(TraceHeader, submit_sequence), 512u);
    EXPECT_EQ(offsetof(TraceHeader, controller_waiters), 516u);
}

TEST(tracer_Layout, LaneControlPage) {
    EXPECT_LE(sizeof(LaneControl), kLaneControlBytes);
    EXPECT_EQ(offsetof(LaneControl, claim), 0u);
    EXPECT_EQ(offsetof(LaneControl, state), 8u);
    EXPECT_EQ(offsetof(LaneControl, flush_ack), 64u);
    EXPECT_EQ(offsetof(LaneControl, reuse_lock), 72u);
    EXPECT_EQ(offsetof(LaneControl, seq_next), 128u);
    EXPECT_EQ(offsetof(LaneControl, drops), 168u);
    EXPECT_EQ(offsetof(LaneControl, detail_lost), 208u);
    EXPECT_EQ(offsetof(LaneControl, active_index_ring), 280u);
    EXPECT_EQ(offsetof(LaneControl, detail_window), 296u);
    EXPECT_EQ(offsetof(LaneControl, submits), 304u);
    EXPECT_EQ(offsetof(LaneControl, index_rings_dumped), 384u);
    EXPECT_EQ(offsetof(LaneControl, flush_snapshots), 528u);
    EXPECT_EQ(offsetof(LaneControl, violations), 464u);
    EXPECT_EQ(offsetof(LaneControl, submit_head), 640u);
    EXPECT_EQ(offsetof(LaneControl, submit_tail), 768u);
    EXPECT_EQ(offsetof(LaneControl, free_head), 896u);
    EXPECT_EQ(offsetof(LaneControl, free_tail), 1024u);
    EXPECT_EQ(offsetof(LaneControl, free_sequence), 1152u);
    EXPECT_EQ(offsetof(LaneControl, submit_slots), 1280u);
    EXPECT_EQ(offsetof(LaneControl, free_slots), 1280u + 4 * kQueueSlots);
    EXPECT_EQ(sizeof(LaneControl), 1280u + 8 * kQueueSlots);
}

TEST(tracer_Layout, RingPagesAndRecords) {
    EXPECT_EQ(sizeof(RingInfo), 256u);
    EXPECT_EQ(offsetof(RingInfo, window), 8u);
    EXPECT_EQ(offsetof(RingInfo, records), 64u);
    EXPECT_EQ(offsetof(RingInfo, controller_holds), 128u);
    EXPECT_EQ(offsetof(RingInfo, flushed_window), 144u);
    EXPECT_EQ(offsetof(RingInfo, flushed_records), 168u);
    EXPECT_EQ(offsetof(RingInfo, flushed_events), 176u);
    EXPECT_EQ(kRingInfoOffset, 512u);
    EXPECT_EQ(sizeof(IndexEvent), 16u);
    EXPECT_EQ(offsetof(IndexEvent, event_id), 8u);
    EXPECT_EQ(offsetof(IndexEvent, detail), 12u);
    EXPECT_EQ(record_bytes(sizeof(IndexEvent)), 24u);  // an event's bytes in the ring and the sink
    EXPECT_EQ(sizeof(IndexControl), 32u);
    EXPECT_EQ(offsetof(IndexControl, kind), 8u);
    EXPECT_EQ(offsetof(IndexControl, first), 16u);
    EXPECT_EQ(offsetof(IndexControl, value), 24u);
    EXPECT_EQ(record_bytes(sizeof(IndexControl)), 40u);
    EXPECT_EQ(kNoDetail, 0xFFFF'FFFFu);
    EXPECT_EQ(kDetailSeqBytes, 8u);
    EXPECT_EQ(max_event_payload(1u << 20), (1u << 19) - 16);
    // lanes x rings x (control page + data)
    EXPECT_EQ(trace_region_bytes(1, 16, 1u << 20), 4096u + 4096u + 16u * (4096u + (1u << 20)));
    EXPECT_EQ(ring_control_offset(2, 4, 4096, 1, 2), 4096u * 3 + (1u * 4 + 2) * 8192u);
    EXPECT_EQ(submit_entry(5, SubmitAction::kDumpDetail), 0x2000'0005u);
    EXPECT_EQ(claim_word(0x1234, 0xABCD'0000'0042ull), 0x0000'1234'0000'0042ull);
    EXPECT_EQ(claim_pid(claim_word(77, 9)), 77);
}

TEST(tracer_Layout, SinkFormat) {
    EXPECT_EQ(sizeof(sink::FileHeader), 128u);
    EXPECT_EQ(offsetof(sink::FileHeader, lane), 16u);
    EXPECT_EQ(offsetof(sink::FileHeader, region_epoch), 24u);
    EXPECT_EQ(offsetof(sink::FileHeader, tsc_hz), 32u);
    EXPECT_EQ(offsetof(sink::FileHeader, ring_capacity), 56u);
    EXPECT_EQ(sizeof(sink::BlockHeader), 128u);
    EXPECT_EQ(offsetof(sink::BlockHeader, data_bytes), 16u);
    EXPECT_EQ(offsetof(sink::BlockHeader, session), 24u);
    EXPECT_EQ(offsetof(sink::BlockHeader, window), 32u);
    EXPECT_EQ(offsetof(sink::BlockHeader, first_seq), 48u);
    EXPECT_EQ(offsetof(sink::BlockHeader, open_tsc), 80u);
    EXPECT_EQ(offsetof(sink::BlockHeader, checksum), 116u);
    EXPECT_EQ(offsetof(sink::BlockHeader, window_offset), 120u);
    EXPECT_EQ(sizeof(sink::SessionStart), 64u);
    EXPECT_EQ(sizeof(sink::SessionEnd), 128u);
    EXPECT_EQ(offsetof(sink::SessionEnd, seq_next), 8u);
    EXPECT_EQ(offsetof(sink::SessionEnd, drops), 16u);
    EXPECT_EQ(sizeof(sink::IndexFileHeader), 64u);
    EXPECT_EQ(sizeof(sink::TimeIndexEntry), 64u);
    EXPECT_EQ(offsetof(sink::TimeIndexEntry, first_ns), 48u);
    // FNV-1a 32 of "a", the checksum's definition.
    EXPECT_EQ(sink::fnv1a("a", 1), 0xE40C292Cu);
}

TEST(tracer_Layout, PublicStructs) {
    EXPECT_EQ(sizeof(rs_tracer_options), 64u);
    EXPECT_EQ(offsetof(rs_tracer_options, ring_capacity), 24u);
    EXPECT_EQ(offsetof(rs_tracer_options, sink_dir), 32u);
    EXPECT_EQ(alignof(rs_tracer_options), 8u);
    EXPECT_EQ(sizeof(rs_tracer_agent_options), 32u);
    EXPECT_EQ(offsetof(rs_tracer_agent_options, wait_timeout_ns), 16u);
    EXPECT_EQ(RS_TRACER_MAX_EVENT_ID, kFirstReservedEventId - 1);
}

}  // namespace
