// Flush snapshots (docs/tracer.md, "Flush on demand and on stop"): the
// controller dumps the committed prefix of the windows an idle agent still
// holds, without the agent's help, as a flight recorder does.
#include "common/log.hpp"
#include "tracer/controller.hpp"
#include "tracer/shared_fields.hpp"
#include "tracer/window_scan.hpp"

namespace ringside::trace {

// Where the rest of a window starts when a flush already dumped its prefix.
// The fields are ours, but the region is writable by the agent: a prefix
// outside the window, unaligned or for another window is ignored (the whole
// window is dumped again: the agent can only duplicate its own events).
bool TraceController::flushed_prefix(const RingView& view, const RingInfo& info, std::uint64_t start,
                                     std::uint64_t& from, std::uint64_t& first_seq) {
    const std::uint64_t window = get(info.flushed_window);
    if (window == 0 || window != get(info.window)) return false;
    const std::uint64_t position = get(info.flushed_position);
    if (position < start || position - start > view.capacity || (position & (kRecordAlign - 1)) != 0) return false;
    from = position;
    first_seq = get(info.flushed_seq);
    return true;
}

// True when every record the agent committed before the call in the lane's
// active index window and marked detail window is on disk (or on its way:
// submitted windows are drained in order first). False when the snapshot
// could not be taken now: the agent is reusing a window in place (overwrite
// oldest, it holds reuse_lock) or kept switching windows; the caller retries.
//
// Under overwrite oldest the agent may reuse its full, unsubmitted window in
// place at any moment; we hold reuse_lock for the whole snapshot, so it
// cannot then, and submits the full window instead (agent.cpp, reuse_full).
bool TraceController::snapshot_lane(std::uint32_t index) {
    LaneControl& control = region_->lane(index);
    std::atomic_ref<std::uint32_t> lock(control.reuse_lock);
    std::uint32_t expected = kReuseFree;
    // acquire: the last in-place reuse the agent finished (its unlock is a
    // release) is visible: the ring's read_position and RingInfo of the new window.
    if (!lock.compare_exchange_strong(expected, kReuseByController, std::memory_order_acquire,
                                      std::memory_order_relaxed)) {
        return false;  // the agent is reusing a window right now (or a hostile one holds the word)
    }
    const bool done = snapshot_window(index, RingKind::kIndex) && snapshot_window(index, RingKind::kDetail);
    // release: the flushed_* fields stored below are visible to an agent whose
    // CAS acquires the lock next (it reads them to count what a reuse loses).
    lock.store(kReuseFree, std::memory_order_release);
    return done;
}

// Why reading a window the agent is still writing is safe: the agent never
// rewrites a committed record while it holds the ring: it appends past the
// terminator, within one lap of the window start; a full window goes to
// submit_q, whose rings only we hand back (under work_, which we hold); an
// unmarked detail window may be recycled in place at any time, but we read
// only marked ones; and an in-place reuse needs reuse_lock, which we hold.
// So every record whose commit word we load with acquire (SYNC:
// publish-record) is complete and stays as it is until we free the ring.
//
// The one thing that can change under us is which window the ring holds (a
// ring just popped off free_q still carries its previous window's RingInfo,
// and LaneControl.active_*_ring may name a ring the agent has since
// submitted or reused for the other kind): we load
// RingInfo.window with acquire, then its kind, before (SYNC: window-open)
// and again after the scan; a record of a newer window was published after
// its kind and number, so an unchanged (kind, number) means every record we
// scanned belongs to the window we described (and its first_seq is checked
// once more after the scan, as the pair is two loads). A detail window must also
// carry mark_word(its number) in RingInfo.marked: a value another window of
// the ring left cannot match, so a recyclable (unmarked) window is never read.
bool TraceController::snapshot_window(std::uint32_t index, RingKind kind) {
    Lane& lane = lanes_[index];
    LaneControl& control = region_->lane(index);
    const auto kind_word = static_cast<std::uint32_t>(kind);
    for (std::uint32_t attempt = 0; attempt < 4; ++attempt) {
        drain_lane(index);
        sync_free_head(index);
        // acquire: pairs with the agent's release store of kNoRing after its
        // submit_q push (agent.cpp, submit), so "no active window" implies the
        // drain above or the caller's final drain sees that push.
        const std::uint32_t ring = std::atomic_ref<std::uint32_t>(kind == RingKind::kIndex ? control.active_index_ring
                                                                                         : control.active_detail_ring)
                                       .load(std::memory_order_acquire);
        // No active window of this kind: everything it held was submitted
        // (drained here or by the caller's last drain).
        if (ring >= region_->rings_per_lane() || lane.owner[ring] != Owner::kAgent) return true;
        RingInfo& info = region_->ring_info(index, ring);
        const RingView view = region_->ring_view(index, ring);
        const std::uint32_t handed_back = lane.handed_back[ring];
        // SYNC: window-open. acquire: kind, marked and first_seq of this window are visible.
        const std::uint64_t window = std::atomic_ref<std::uint64_t>(info.window).load(std::memory_order_acquire);
        if (get(info.kind) != kind_word) continue;  // a stale ring index
        // Unmarked: a flight recorder's scratch, which a flush does not keep.
        if (kind == RingKind::kDetail && get(info.marked) != mark_word(window)) return true;
        // We stored it before pushing the ring on free_q (SYNC: ring-reset);
        // only an in-place reuse moves it while the agent holds the ring.
        const std::uint64_t start = get(view.control->read_position) & ~std::uint64_t{kRecordAlign - 1};
        std::uint64_t from = start;
        std::uint64_t first_seq = get(info.first_seq);
        std::uint32_t flags = sink::kFlagFlushed | sink::kFlagPartial;
        const bool continued = flushed_prefix(view, info, start, from, first_seq);
        if (continued) flags |= sink::kFlagContinued;
        const ScannedWindow prefix = scan_window(view, kind, start, from, first_seq);
        // acquire: ordered after every commit-word load of the scan. Window
        // numbers count per kind, so the kind is part of the generation: a
        // stale ring index may name a ring that the agent now fills as a
        // window of the other kind with the same number.
        if (std::atomic_ref<std::uint64_t>(info.window).load(std::memory_order_acquire) != window ||
            get(info.kind) != kind_word) {
            continue;
        }
        if (prefix.records == 0) return true;
        // The (kind, number) pair is two loads: the first may read an old
        // window's number and the second a new window's kind (a ring that held
        // detail window 7 now opening index window 7), so first_seq may have
        // been the old window's. Having read a record of the window (acquire),
        // we see its first_seq now: if it differs, scan again.
        if (!continued && get(info.first_seq) != first_seq) continue;
        // Windows submitted before this one (while we scanned) go to the file
        // first; if this one was submitted too, the drain dumped it whole
        // (and the agent may already hold the ring again: hence the count).
        drain_lane(index);
        if (lane.owner[ring] != Owner::kAgent || lane.handed_back[ring] != handed_back) return true;
        for (std::uint32_t i = 0; i < prefix.violations; ++i) violation(index, Violation::kBadRecord);
        if (!write_window(index, ring, kind, prefix, flags)) return false;
        // flushed_window last, after zeroing it: a controller that dies in
        // between leaves no mixed set of fields for a later controller or the
        // agent to trust (the prefix is then dumped again: at least once).
        const std::uint64_t records = (continued ? get(info.flushed_records) : 0) + prefix.records;
        const std::uint64_t events = (continued ? get(info.flushed_events) : 0) + prefix.events;
        put(info.flushed_window, std::uint64_t{0});
        put(info.flushed_records, records);
        put(info.flushed_events, events);
        put(info.flushed_position, prefix.end);
        put(info.flushed_seq, prefix.next_seq);
        put(info.flushed_window, window);
        add(control.flush_snapshots, 1);
        return true;
    }
    return false;  // the agent kept switching windows: it is not idle, and it will see the request
}

}  // namespace ringside::trace
