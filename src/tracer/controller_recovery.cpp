// The controller's view of agents: liveness (pid + start time), recovery of
// a dead or closed agent's rings, and the session blocks of each lane file.
#include <algorithm>

#include "common/error.hpp"
#include "common/log.hpp"
#include "common/process.hpp"
#include "tracer/controller.hpp"
#include "tracer/shared_fields.hpp"

namespace ringside::trace {
namespace {

// Alive, not a zombie (process_exited: a killed agent not yet reaped holds
// nothing), and started when the claim says (the low 32 bits of its start ticks).
bool process_matches(std::int32_t pid, std::uint32_t ticks_low) {
    if (pid <= 0 || process_exited(pid)) return false;
    const std::uint64_t ticks = process_start_ticks(pid);
    return ticks != 0 && (ticks & 0xFFFF'FFFFull) == ticks_low;
}

}  // namespace

bool TraceController::agent_alive(std::uint64_t claim) const {
    return process_matches(claim_pid(claim), claim_ticks(claim));
}

void TraceController::check_lanes() {
    for (std::uint32_t i = 0; i < region_->lanes(); ++i) {
        LaneControl& control = region_->lane(i);
        // SYNC: lane-state. acquire: the agent's submits before CLOSED are visible.
        const std::uint32_t state = std::atomic_ref<std::uint32_t>(control.state).load(std::memory_order_acquire);
        if (state == static_cast<std::uint32_t>(LaneState::kActive)) {
            const std::uint64_t claim = std::atomic_ref<std::uint64_t>(control.claim).load(std::memory_order_acquire);
            if (!agent_alive(claim)) {
                log(LogLevel::kWarn, "tracer lane %u: agent pid %d is gone: recovering its rings", i,
                    claim_pid(claim));
                recover_lane(i, static_cast<std::uint32_t>(sink::EndReason::kDied));
            }
        } else if (state == static_cast<std::uint32_t>(LaneState::kClosed)) {
            recover_lane(i, static_cast<std::uint32_t>(sink::EndReason::kClosed));
        }
    }
}

void TraceController::recover_lane(std::uint32_t index, std::uint32_t reason) {
    Lane& lane = lanes_[index];
    LaneControl& control = region_->lane(index);
    drain_lane(index);
    sync_free_head(index);
    // Every ring the agent still held, oldest window first (index windows in
    // order keep the lane's file in sequence order).
    struct Held {
        std::uint32_t ring;
        std::uint32_t kind;
        std::uint64_t window;
    };
    Held held[kMaxRingsPerLane];
    std::uint32_t count = 0;
    for (std::uint32_t ring = 0; ring < region_->rings_per_lane(); ++ring) {
        if (lane.owner[ring] != Owner::kAgent) continue;
        RingInfo& info = region_->ring_info(index, ring);
        held[count++] = Held{ring, get(info.kind), get(info.window)};
    }
    std::sort(held, held + count, [](const Held& a, const Held& b) {
        return a.kind != b.kind ? a.kind < b.kind : a.window < b.window;
    });
    std::uint32_t recovered = 0;
    for (std::uint32_t i = 0; i < count; ++i) {
        const RingKind kind = held[i].kind == static_cast<std::uint32_t>(RingKind::kDetail) ? RingKind::kDetail
                                                                                            : RingKind::kIndex;
        lane.owner[held[i].ring] = Owner::kController;
        const std::uint64_t before = get(control.records_dumped);
        take_back(index, held[i].ring, kind, true, sink::kFlagRecovered);
        if (get(control.records_dumped) != before) ++recovered;
    }
    if (reason == static_cast<std::uint32_t>(sink::EndReason::kDied)) {
        add(control.recoveries, 1);
        add(control.recovered_rings, recovered);
    }
    end_session(index, reason);
    reset_queues(index);
    put(control.active_index_ring, kNoRing);
    put(control.active_detail_ring, kNoRing);
    put(control.reuse_lock, kReuseFree);  // the agent may have died reusing a window in place
    // SYNC: lane-state. release: the reset lane is visible to the next agent
    // that claims it (it CASes the claim with acquire, then reads FREE).
    std::atomic_ref<std::uint32_t>(control.state).store(static_cast<std::uint32_t>(LaneState::kFree),
                                                        std::memory_order_release);
    std::atomic_ref<std::uint64_t>(control.claim).store(0, std::memory_order_release);
}

LaneSink* TraceController::sink_for(std::uint32_t index) {
    Lane& lane = lanes_[index];
    if (lane.sink.is_open()) return &lane.sink;
    const TraceHeader& header = region_->header();
    sink::FileHeader prototype{};
    prototype.lane = index;
    prototype.clock_kind = header.clock_kind;
    prototype.region_epoch = header.epoch;
    prototype.tsc_hz = header.tsc_hz;
    prototype.calib_tsc = header.calib_tsc;
    prototype.calib_ns = header.calib_ns;
    prototype.ring_capacity = header.ring_capacity;
    prototype.record_align = header.record_align;
    prototype.created_unix_ns = unix_ns();
    if (lane.sink.open(sink_dir_, prototype) != RS_OK) {
        sink_errors_.fetch_add(1, std::memory_order_relaxed);
        log(LogLevel::kError, "tracer lane %u: %s", index, rs_last_error_message());
        return nullptr;
    }
    return &lane.sink;
}

void TraceController::ensure_session(std::uint32_t index) {
    Lane& lane = lanes_[index];
    LaneControl& control = region_->lane(index);
    const std::uint32_t session = get(control.session);
    if (lane.session_open && lane.session == session) return;
    LaneSink* sink = sink_for(index);
    if (sink == nullptr) return;
    sink::SessionStart start{};
    start.pid = get(control.agent_pid);
    start.tid = get(control.agent_tid);
    start.start_ticks = get(control.agent_start_ticks);
    start.session = session;
    start.policy = get(control.policy);
    start.open_tsc = get(control.open_tsc);
    start.open_ns = get(control.open_ns);
    start.open_unix_ns = get(control.open_unix_ns);
    sink::BlockHeader block{};
    block.kind = static_cast<std::uint32_t>(sink::BlockKind::kSessionStart);
    block.session = session;
    block.dump_unix_ns = unix_ns();
    const iovec data{&start, sizeof start};
    if (sink->append(block, &data, 1, 0, 0) != RS_OK) {
        sink_errors_.fetch_add(1, std::memory_order_relaxed);
        return;
    }
    lane.session = session;
    lane.session_open = true;
}

void TraceController::end_session(std::uint32_t index, std::uint32_t reason) {
    Lane& lane = lanes_[index];
    LaneControl& control = region_->lane(index);
    if (get(control.session) == 0) return;  // never claimed
    ensure_session(index);
    LaneSink* sink = sink_for(index);
    if (sink == nullptr || !lane.session_open) return;
    sink::SessionEnd end{};
    end.session = lane.session;
    end.reason = reason;
    end.seq_next = get(control.seq_next);
    for (std::uint32_t i = 0; i < kDropCauses; ++i) {
        end.drops[i] = get(control.drops[i]);
        end.detail_lost[i] = get(control.detail_lost[i]);
    }
    end.index_rings_submitted = get(control.index_rings_submitted);
    end.detail_rings_kept = get(control.detail_rings_kept);
    end.detail_rings_recycled = get(control.detail_rings_recycled);
    end.bytes_written = get(control.bytes_written);
    sink::BlockHeader block{};
    block.kind = static_cast<std::uint32_t>(sink::BlockKind::kSessionEnd);
    block.session = lane.session;
    block.dump_unix_ns = unix_ns();
    const iovec data{&end, sizeof end};
    if (sink->append(block, &data, 1, 0, 0) != RS_OK) sink_errors_.fetch_add(1, std::memory_order_relaxed);
    lane.session_open = false;
}

}  // namespace ringside::trace
