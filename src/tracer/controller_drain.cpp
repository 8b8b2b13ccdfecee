// The controller's drain: lane setup and adoption, submit entries checked
// and dumped, rings handed back. Liveness, recovery and sessions are in
// controller_recovery.cpp.
#include <algorithm>
#include <cstring>

#include "common/error.hpp"
#include "common/log.hpp"
#include "ring/ring_view.hpp"
#include "tracer/controller.hpp"
#include "tracer/shared_fields.hpp"
#include "tracer/trace_clock.hpp"
#include "tracer/window_scan.hpp"
#include "wait/park.hpp"

namespace ringside::trace {

// ---- lanes -------------------------------------------------------------------

void TraceController::init_lane(std::uint32_t index) {
    Lane& lane = lanes_[index];
    LaneControl& control = region_->lane(index);
    (void)lane.submit.attach(submit_queue(control));
    (void)lane.free.attach(free_queue(control));
    put(control.active_index_ring, kNoRing);
    put(control.active_detail_ring, kNoRing);
    for (std::uint32_t ring = 0; ring < region_->rings_per_lane(); ++ring) give_back(index, ring);
}

// A controller that opens an existing region rebuilds who holds each ring
// from the queues: on free_q -> free; flagged by a crashed controller ->
// ours, to finish; anything else -> the agent (alive, or recovered later).
void TraceController::adopt_lane(std::uint32_t index) {
    Lane& lane = lanes_[index];
    LaneControl& control = region_->lane(index);
    const std::uint32_t rings = region_->rings_per_lane();
    std::fill(lane.owner, lane.owner + rings, Owner::kAgent);
    lane.session = get(control.session);
    // A controller that crashed during a flush snapshot left reuse_lock
    // taken: the agent could never reuse a window in place again. relaxed is
    // enough: our snapshots take the lock with acquire anyway.
    std::uint32_t crashed_snapshot = kReuseByController;
    std::atomic_ref<std::uint32_t>(control.reuse_lock)
        .compare_exchange_strong(crashed_snapshot, kReuseFree, std::memory_order_relaxed);
    if (lane.submit.attach(submit_queue(control)) != QueueStatus::kOk ||
        lane.free.attach(free_queue(control)) != QueueStatus::kOk) {
        violation(index, Violation::kQueueCorrupt);
        return;  // the rings stay with the agent until its lane is recovered and the queues reset
    }
    std::uint64_t head = 0;
    (void)lane.free.load_head(head);
    lane.free_acked = head;
    for (std::uint64_t position = head; position < lane.free.tail(); ++position) {
        const std::uint32_t ring = get(control.free_slots[position & (kQueueSlots - 1)]);
        lane.pushed[position & (kQueueSlots - 1)] = ring;
        if (ring < rings) lane.owner[ring] = Owner::kFreeQueue;
    }
    for (std::uint32_t ring = 0; ring < rings; ++ring) {
        if (get(region_->ring_info(index, ring).controller_holds) != 0) {
            const auto kind = static_cast<RingKind>(get(region_->ring_info(index, ring).kind));
            lane.owner[ring] = Owner::kController;
            take_back(index, ring, kind == RingKind::kDetail ? RingKind::kDetail : RingKind::kIndex, true,
                      sink::kFlagRecovered);
        }
    }
}

// Only when no agent holds the lane: both queues emptied, every ring on free_q.
void TraceController::reset_queues(std::uint32_t index) {
    Lane& lane = lanes_[index];
    LaneControl& control = region_->lane(index);
    const std::uint64_t submit_end = std::max(get(control.submit_head), get(control.submit_tail));
    const std::uint64_t free_end = std::max(get(control.free_head), get(control.free_tail));
    put(control.submit_head, submit_end);
    put(control.submit_tail, submit_end);
    put(control.free_head, free_end);
    put(control.free_tail, free_end);
    (void)lane.submit.attach(submit_queue(control));
    (void)lane.free.attach(free_queue(control));
    lane.free_acked = free_end;
    for (std::uint32_t ring = 0; ring < region_->rings_per_lane(); ++ring) {
        lane.owner[ring] = Owner::kController;
        give_back(index, ring);
    }
}

void TraceController::violation(std::uint32_t index, Violation kind) {
    add(region_->lane(index).violations[static_cast<std::uint32_t>(kind)], 1);
    log(LogLevel::kWarn, "tracer lane %u: agent violation %u", index, static_cast<std::uint32_t>(kind));
}

// ---- the drain -------------------------------------------------------------

std::uint32_t TraceController::poll() {
    if (running()) return 0;  // the drain thread owns the work
    std::lock_guard<std::mutex> lock(work_);
    next_check_ns_ = 0;  // and check every lane's agent now
    return do_work();
}

std::uint32_t TraceController::do_work() {
    std::uint32_t work = 0;
    for (std::uint32_t i = 0; i < region_->lanes(); ++i) work += drain_lane(i);
    const std::uint64_t now = monotonic_ns();
    if (now >= next_check_ns_) {
        check_lanes();
        next_check_ns_ = now + liveness_ns_;
    }
    return work;
}

std::uint32_t TraceController::drain_lane(std::uint32_t index) {
    Lane& lane = lanes_[index];
    std::uint32_t work = 0;
    std::uint32_t entry = 0;
    // Bounded: a hostile agent that keeps pushing cannot keep us here.
    for (std::uint32_t n = 0; n < kQueueSlots; ++n) {
        const QueueStatus status = lane.submit.try_pop(entry);
        if (status == QueueStatus::kEmpty) break;
        if (status == QueueStatus::kCorrupt) {
            violation(index, Violation::kQueueCorrupt);
            break;  // entries cannot be trusted; the lane's queues are reset when its agent is gone
        }
        process_entry(index, entry);
        ++work;
    }
    return work;
}

void TraceController::process_entry(std::uint32_t index, std::uint32_t entry) {
    Lane& lane = lanes_[index];
    const std::uint32_t action = entry >> kEntryActionShift;
    const std::uint32_t ring = entry & kEntryRingMask;
    if ((entry & ~(kEntryRingMask | (0xFu << kEntryActionShift))) != 0 ||
        action < static_cast<std::uint32_t>(SubmitAction::kDumpIndex) ||
        action > static_cast<std::uint32_t>(SubmitAction::kReturn)) {
        violation(index, Violation::kBadEntry);
        return;
    }
    if (ring >= region_->rings_per_lane()) {
        violation(index, Violation::kRingOutOfRange);
        return;
    }
    if (lane.owner[ring] != Owner::kAgent) sync_free_head(index);
    if (lane.owner[ring] != Owner::kAgent) {
        violation(index, Violation::kRingNotHeld);
        return;
    }
    const auto submit_action = static_cast<SubmitAction>(action);
    const RingKind kind = submit_action == SubmitAction::kDumpDetail ? RingKind::kDetail
                          : submit_action == SubmitAction::kDumpIndex ? RingKind::kIndex
                                                                      : RingKind::kNone;
    if (submit_action != SubmitAction::kReturn &&
        get(region_->ring_info(index, ring).kind) != static_cast<std::uint32_t>(kind)) {
        violation(index, Violation::kBadRingInfo);  // counted; the entry's action decides
    }
    lane.owner[ring] = Owner::kController;
    put(region_->ring_info(index, ring).controller_holds, 1u);
    take_back(index, ring, kind, submit_action != SubmitAction::kReturn, 0);
}

// Rings the agent popped off free_q since we last looked are now its own.
void TraceController::sync_free_head(std::uint32_t index) {
    Lane& lane = lanes_[index];
    std::uint64_t head = 0;
    if (lane.free.load_head(head) != QueueStatus::kOk) {
        violation(index, Violation::kQueueCorrupt);
        return;
    }
    for (std::uint64_t position = lane.free_acked; position < head; ++position) {
        const std::uint32_t ring = lane.pushed[position & (kQueueSlots - 1)];
        if (lane.owner[ring] == Owner::kFreeQueue) lane.owner[ring] = Owner::kAgent;
    }
    lane.free_acked = head;
}

// Dumps (or just skips) the ring's window, resets the ring for its next
// window and puts it back on free_q.
void TraceController::take_back(std::uint32_t index, std::uint32_t ring, RingKind kind, bool dump,
                                std::uint32_t flags) {
    const RingView view = region_->ring_view(index, ring);
    LaneControl& control = region_->lane(index);
    // acquire: SYNC: ring-reset / the agent's recycle; also ordered by the
    // queue pop that handed us the ring.
    std::uint64_t start = std::atomic_ref<std::uint64_t>(view.control->read_position).load(std::memory_order_acquire);
    if ((start & (kRecordAlign - 1)) != 0) {
        violation(index, Violation::kBadPosition);
        start &= ~std::uint64_t{kRecordAlign - 1};
    }
    RingInfo& info = region_->ring_info(index, ring);
    // A flush already dumped the window's committed prefix: dump the rest.
    std::uint64_t from = start;
    std::uint64_t first_seq = get(info.first_seq);
    std::uint64_t flushed_records = 0;
    if (dump && flushed_prefix(view, info, start, from, first_seq)) {
        flushed_records = get(info.flushed_records);
        flags |= sink::kFlagContinued;
    }
    const ScannedWindow window = scan_window(view, kind, start, from, first_seq);
    for (std::uint32_t i = 0; i < window.violations; ++i) violation(index, Violation::kBadRecord);
    if (dump && window.records > 0) {
        write_window(index, ring, kind, window, flags);
    } else if (dump && flushed_records > 0) {
        // The whole window was on disk already.
        add(kind == RingKind::kIndex ? control.index_rings_dumped : control.detail_rings_dumped, 1);
    } else if (!dump) {
        add(control.rings_returned, 1);
    }
    // The next window starts where this one ended, on a zero commit word.
    if (window.truncated) commit_word(view, window.end).store(0, std::memory_order_relaxed);
    put(view.control->records_released, get(view.control->records_released) + flushed_records + window.records);
    // SYNC: ring-reset. release: with the free_q push below, the agent that
    // pops this ring sees the new start and its zero commit word.
    std::atomic_ref<std::uint64_t>(view.control->read_position).store(window.end, std::memory_order_release);
    give_back(index, ring);
}

bool TraceController::write_window(std::uint32_t index, std::uint32_t ring, RingKind kind, const ScannedWindow& window,
                                   std::uint32_t flags) {
    LaneControl& control = region_->lane(index);
    RingInfo& info = region_->ring_info(index, ring);
    const RingView view = region_->ring_view(index, ring);
    LaneSink* sink = sink_for(index);
    if (sink == nullptr) return false;
    ensure_session(index);
    if (kind == RingKind::kDetail && get(info.marked) != 0) flags |= sink::kFlagMarked;
    sink::BlockHeader block{};
    block.kind = static_cast<std::uint32_t>(kind == RingKind::kIndex ? sink::BlockKind::kIndexWindow
                                                                     : sink::BlockKind::kDetailWindow);
    block.flags = flags;
    block.session = lanes_[index].session;
    block.ring = ring;
    block.window = get(info.window);
    block.records = window.records;
    block.first_seq = window.first_seq;
    block.last_seq = window.last_seq;
    block.first_ts = window.first_ts;
    block.last_ts = window.last_ts;
    block.open_tsc = get(info.open_tsc);
    block.open_ns = get(info.open_ns);
    block.full_ns = (flags & sink::kFlagRecovered) != 0 ? 0 : get(info.full_ns);
    block.dump_unix_ns = unix_ns();
    block.violations = window.violations;
    block.window_offset = window.start - window.origin;
    const std::uint64_t bytes = window.end - window.start;
    const std::uint64_t offset = view.offset_of(window.start);
    const std::uint64_t first = std::min(bytes, view.capacity - offset);
    // Written straight from the shared mapping: no copy.
    const iovec data[2] = {{view.data + offset, first}, {view.data, bytes - first}};
    const TraceHeader& header = region_->header();
    const auto clock = static_cast<ClockKind>(header.clock_kind);
    std::uint64_t first_ns = block.open_ns;
    std::uint64_t last_ns = block.full_ns != 0 ? block.full_ns : block.open_ns;
    if (kind == RingKind::kIndex && window.has_seq) {
        first_ns = to_monotonic_ns(clock, header.tsc_hz, block.open_tsc, block.open_ns, window.first_ts);
        last_ns = to_monotonic_ns(clock, header.tsc_hz, block.open_tsc, block.open_ns, window.last_ts);
    }
    if (sink->append(block, data, bytes > first ? 2 : 1, first_ns, last_ns) != RS_OK) {
        sink_errors_.fetch_add(1, std::memory_order_relaxed);
        log(LogLevel::kError, "tracer lane %u: %s", index, rs_last_error_message());
        return false;
    }
    // A flush snapshot is part of a window: the window counts once, with its last block.
    if ((flags & sink::kFlagFlushed) == 0) {
        add(kind == RingKind::kIndex ? control.index_rings_dumped : control.detail_rings_dumped, 1);
    }
    add(control.records_dumped, window.records);
    add(control.dump_bytes, bytes);
    const std::uint64_t now = monotonic_ns();
    if (block.full_ns != 0 && now >= block.full_ns && now - block.full_ns < 3'600'000'000'000ull) {
        const std::uint64_t latency = now - block.full_ns;
        add(control.dump_latency_ns_total, latency);
        put(control.dump_latency_ns_last, latency);
        if (latency > get(control.dump_latency_ns_max)) put(control.dump_latency_ns_max, latency);
    }
    add(info.dumps, 1);
    return true;
}

void TraceController::give_back(std::uint32_t index, std::uint32_t ring) {
    Lane& lane = lanes_[index];
    LaneControl& control = region_->lane(index);
    RingInfo& info = region_->ring_info(index, ring);
    put(info.controller_holds, 0u);
    put(info.flushed_window, std::uint64_t{0});
    put(info.flushed_position, std::uint64_t{0});
    put(info.flushed_seq, std::uint64_t{0});
    put(info.flushed_records, std::uint64_t{0});
    put(info.flushed_events, std::uint64_t{0});
    const std::uint64_t position = lane.free.tail();
    const QueueStatus status = lane.free.try_push(ring);
    if (status != QueueStatus::kOk) {
        // Only a corrupt head (a hostile agent) can refuse: the ring stays
        // ours until the lane's queues are reset.
        violation(index, Violation::kQueueCorrupt);
        return;
    }
    lane.pushed[position & (kQueueSlots - 1)] = ring;
    lane.owner[ring] = Owner::kFreeQueue;
    ++lane.handed_back[ring];
    // A bounded-wait agent may be parked on free_q (park.hpp protocol).
    const NotifyWords words = free_words(control);
    std::atomic_thread_fence(std::memory_order_seq_cst);  // SYNC: park-announce
    if (words.count().load(std::memory_order_relaxed) != 0) detail::wake_parked(words, PeerWake{});
}

}  // namespace ringside::trace
