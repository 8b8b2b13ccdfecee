#include "tracer/trace_stats.hpp"

#include <atomic>

#include "common/process.hpp"

namespace ringside::trace {
namespace {

template <typename T>
T load(const T& field) {
    // relaxed is enough: a display snapshot of fields other processes write.
    return std::atomic_ref<T>(const_cast<T&>(field)).load(std::memory_order_relaxed);
}

const char* state_name(std::uint32_t state) {
    switch (static_cast<LaneState>(state)) {
        case LaneState::kFree: return "free";
        case LaneState::kActive: return "active";
        case LaneState::kClosed: return "closed";
    }
    return "unknown";
}

constexpr const char* kCauseNames[kDropCauses] = {"none", "no_ring", "overwritten", "wait_timeout", "reentrant"};
constexpr const char* kViolationNames[kViolationKinds] = {"none",          "bad_entry",  "ring_out_of_range",
                                                          "ring_not_held", "queue_corrupt", "bad_record",
                                                          "bad_position",  "bad_ring_info"};

}  // namespace

void region_json(JsonOut& json, const TraceRegion& region) {
    const TraceHeader& header = region.header();
    json.field("name", region.name())
        .field("backing", region.backing() == RS_BACKING_FILE ? "file" : "shm")
        .field("layout_major", std::uint64_t{header.layout_major})
        .field("layout_minor", std::uint64_t{header.layout_minor})
        .field("total_bytes", header.total_bytes)
        .field("lane_count", std::uint64_t{header.lane_count})
        .field("rings_per_lane", std::uint64_t{header.rings_per_lane})
        .field("ring_capacity", header.ring_capacity)
        .field("clock", header.clock_kind == static_cast<std::uint32_t>(ClockKind::kTsc) ? "tsc" : "monotonic")
        .field("tsc_hz", header.tsc_hz)
        .field("epoch", header.epoch)
        .field("controller_pid", std::int64_t{load(header.controller_pid)})
        .field("controller_running", load(header.controller_running) != 0)
        .field("controller_wakeups", load(header.wakeups))
        .field("controller_timer_wakeups", load(header.timer_wakeups))
        .field("flushes_served", load(header.flushes_served))
        .field("flush_request", load(header.flush_request));
}

void lane_json(JsonOut& json, const TraceRegion& region, std::uint32_t index) {
    const LaneControl& lane = region.lane(index);
    const std::uint64_t claim = load(lane.claim);
    std::uint64_t dropped = 0;
    for (std::uint32_t cause = 1; cause < kDropCauses; ++cause) {
        if (cause != static_cast<std::uint32_t>(DropCause::kReentrant)) dropped += load(lane.drops[cause]);
    }
    const std::uint64_t seq_next = load(lane.seq_next);
    const std::uint64_t dumped = load(lane.index_rings_dumped) + load(lane.detail_rings_dumped);
    // Recovered windows were never submitted: they have no latency.
    const std::uint64_t recovered = load(lane.recovered_rings);
    const std::uint64_t timed = dumped > recovered ? dumped - recovered : 0;
    json.begin_object()
        .field("lane", std::uint64_t{index})
        .field("state", state_name(load(lane.state)))
        .field("session", std::uint64_t{load(lane.session)})
        .field("agent_pid", std::int64_t{load(lane.agent_pid)})
        .field("agent_tid", std::int64_t{load(lane.agent_tid)})
        .field("agent_alive", claim != 0 && process_alive(claim_pid(claim), 0))
        .field("policy", std::uint64_t{load(lane.policy)})
        .field("reuse_lock", std::uint64_t{load(lane.reuse_lock)})  // 1 agent reusing a window, 2 a snapshot
        .field("events_attempted", seq_next)
        .field("events_written", seq_next >= dropped ? seq_next - dropped : 0)
        .field("bytes_written", load(lane.bytes_written))
        .field("submits", load(lane.submits))
        .field("index_rings_submitted", load(lane.index_rings_submitted))
        .field("detail_rings_kept", load(lane.detail_rings_kept))
        .field("detail_rings_recycled", load(lane.detail_rings_recycled))
        .field("free_q_empty", load(lane.free_q_empty))
        .field("wakes_sent", load(lane.wakes_sent))
        .field("marks", load(lane.marks))
        .field("flushes", load(lane.flushes))
        .field("active_index_ring", std::int64_t{load(lane.active_index_ring) == kNoRing
                                                     ? -1
                                                     : std::int64_t{load(lane.active_index_ring)}})
        .field("active_detail_ring", std::int64_t{load(lane.active_detail_ring) == kNoRing
                                                      ? -1
                                                      : std::int64_t{load(lane.active_detail_ring)}})
        .field("index_window", load(lane.index_window))
        .field("detail_window", load(lane.detail_window));
    json.begin_object("drops");
    for (std::uint32_t cause = 1; cause < kDropCauses; ++cause) json.field(kCauseNames[cause], load(lane.drops[cause]));
    json.end_object().begin_object("detail_lost");
    for (std::uint32_t cause = 1; cause < kDropCauses; ++cause) {
        json.field(kCauseNames[cause], load(lane.detail_lost[cause]));
    }
    json.end_object()
        .field("index_rings_dumped", load(lane.index_rings_dumped))
        .field("detail_rings_dumped", load(lane.detail_rings_dumped))
        .field("rings_returned", load(lane.rings_returned))
        .field("records_dumped", load(lane.records_dumped))
        .field("dump_bytes", load(lane.dump_bytes))
        .field("dump_latency_ns_avg", timed == 0 ? 0 : load(lane.dump_latency_ns_total) / timed)
        .field("dump_latency_ns_max", load(lane.dump_latency_ns_max))
        .field("dump_latency_ns_last", load(lane.dump_latency_ns_last))
        .field("recoveries", load(lane.recoveries))
        .field("recovered_rings", load(lane.recovered_rings))
        .field("flush_snapshots", load(lane.flush_snapshots));
    json.begin_object("violations");
    std::uint64_t total = 0;
    for (std::uint32_t kind = 1; kind < kViolationKinds; ++kind) {
        total += load(lane.violations[kind]);
        json.field(kViolationNames[kind], load(lane.violations[kind]));
    }
    json.field("total", total).end_object().end_object();
}

void lanes_json(JsonOut& json, const TraceRegion& region) {
    json.begin_array("lanes");
    for (std::uint32_t i = 0; i < region.lanes(); ++i) {
        const LaneControl& lane = region.lane(i);
        if (load(lane.session) == 0 && load(lane.state) == 0) continue;
        lane_json(json, region, i);
    }
    json.end_array();
}

}  // namespace ringside::trace
