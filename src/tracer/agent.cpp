// The agent's slow paths: claiming a lane, switching, recycling and
// submitting rings, the drop policies, gaps, flush, mark and close.
#include "tracer/agent.hpp"

#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>

#include "common/alloc.hpp"
#include "common/error.hpp"
#include "common/log.hpp"
#include "common/process.hpp"
#include "tracer/shared_fields.hpp"
#include "wait/park.hpp"

namespace ringside::trace {

TraceAgent::~TraceAgent() = default;

rs_result TraceAgent::open(const char* name, const AgentOptions& options, TraceAgent** out) {
    TraceRegion* region = nullptr;
    if (rs_result r = TraceRegion::open(name, options.backing, TraceRegion::Access::kReadWrite, &region); r != RS_OK) {
        return r;
    }
    if (options.lane >= 0 && static_cast<std::uint32_t>(options.lane) >= region->lanes()) {
        const std::uint32_t lanes = region->lanes();
        TraceRegion::destroy(region, false);
        return fail(RS_ERR_INVALID_ARGUMENT, "lane %d >= lane_count %u", options.lane, lanes);
    }
    auto* agent = counted_new<TraceAgent>();
    if (agent == nullptr) {
        TraceRegion::destroy(region, false);
        return fail(RS_ERR_NO_MEMORY, "out of memory opening a tracer agent");
    }
    agent->region_ = region;
    const std::int32_t pid = ::getpid();
    const std::uint64_t ticks = self_start_ticks();
    const std::uint64_t mine = claim_word(pid, ticks);
    const std::uint32_t first = options.lane >= 0 ? static_cast<std::uint32_t>(options.lane) : 0;
    const std::uint32_t last = options.lane >= 0 ? first + 1 : region->lanes();
    LaneControl* lane = nullptr;
    for (std::uint32_t index = first; index < last && lane == nullptr; ++index) {
        LaneControl& candidate = region->lane(index);
        std::uint64_t expected = 0;
        // acq_rel: we see the controller's reset of the lane (it stores
        // state FREE before it clears the claim) and publish our claim.
        if (!std::atomic_ref<std::uint64_t>(candidate.claim)
                 .compare_exchange_strong(expected, mine, std::memory_order_acq_rel, std::memory_order_relaxed)) {
            continue;
        }
        if (std::atomic_ref<std::uint32_t>(candidate.state).load(std::memory_order_acquire) !=
            static_cast<std::uint32_t>(LaneState::kFree)) {
            std::atomic_ref<std::uint64_t>(candidate.claim).store(0, std::memory_order_release);
            continue;
        }
        lane = &candidate;
        agent->lane_index_ = index;
    }
    if (lane == nullptr) {
        const std::uint32_t lanes = region->lanes();
        counted_delete(agent);
        TraceRegion::destroy(region, false);
        if (options.lane >= 0) return fail(RS_BUSY, "lane %d of tracer region '%s' is in use", options.lane, name);
        return fail(RS_BUSY, "all %u lanes of tracer region '%s' are in use", lanes, name);
    }
    agent->lane_ = lane;
    agent->policy_ = options.policy;
    agent->wait_timeout_ns_ = options.wait_timeout_ns;
    agent->max_payload_ = max_event_payload(region->ring_capacity());
    agent->clock_ = region->clock();
    agent->flush_request_ = &region->header().flush_request;
    // The agent metrics are per session: zero them word by word (relaxed:
    // an inspector may be reading them).
    for (std::uint64_t* word = &lane->seq_next; word <= &lane->detail_window; ++word) put(*word, std::uint64_t{0});
    put(lane->active_index_ring, kNoRing);
    put(lane->active_detail_ring, kNoRing);
    put(lane->session, std::atomic_ref<std::uint32_t>(lane->session).load(std::memory_order_relaxed) + 1);
    put(lane->agent_pid, pid);
    put(lane->agent_tid, static_cast<std::int32_t>(::syscall(SYS_gettid)));
    put(lane->agent_start_ticks, ticks);
    put(lane->policy, static_cast<std::uint32_t>(options.policy));
    std::uint64_t open_tsc = 0;
    std::uint64_t open_ns = 0;
    anchor_pair(agent->clock_, open_tsc, open_ns);
    put(lane->open_tsc, open_tsc);
    put(lane->open_ns, open_ns);
    put(lane->open_unix_ns, unix_ns());
    agent->flush_seen_ = std::atomic_ref<std::uint64_t>(*agent->flush_request_).load(std::memory_order_relaxed);
    put(lane->flush_ack, agent->flush_seen_);
    if (agent->submit_q_.attach(submit_queue(*lane)) != QueueStatus::kOk ||
        agent->free_q_.attach(free_queue(*lane)) != QueueStatus::kOk) {
        std::atomic_ref<std::uint64_t>(lane->claim).store(0, std::memory_order_release);
        const std::uint32_t index = agent->lane_index_;
        counted_delete(agent);
        TraceRegion::destroy(region, false);
        return fail(RS_ERR_CORRUPT, "lane %u of tracer region '%s' has inconsistent queue indices", index, name);
    }
    if (options.prefault) region->prefault_lane(agent->lane_index_);
    // SYNC: lane-state. release: the session fields above are visible to a
    // controller that acquires ACTIVE.
    std::atomic_ref<std::uint32_t>(lane->state).store(static_cast<std::uint32_t>(LaneState::kActive),
                                                      std::memory_order_release);
    log(LogLevel::kInfo, "tracer agent: pid %d claimed lane %u of '%s'", pid, agent->lane_index_, name);
    *out = agent;
    return RS_OK;
}

void TraceAgent::close(TraceAgent* agent) {
    if (agent == nullptr) return;
    if (agent->index_.ring != kNoRing) {
        agent->submit(agent->index_, agent->index_.appender.empty() ? SubmitAction::kReturn : SubmitAction::kDumpIndex);
    }
    if (agent->detail_.ring != kNoRing) {
        const bool keep = agent->detail_.marked && !agent->detail_.appender.empty();
        if (!keep && !agent->detail_.appender.empty()) add(agent->lane_->detail_rings_recycled, 1);
        agent->submit(agent->detail_, keep ? SubmitAction::kDumpDetail : SubmitAction::kReturn);
    }
    LaneControl& lane = *agent->lane_;
    put(lane.flush_ack, std::atomic_ref<std::uint64_t>(*agent->flush_request_).load(std::memory_order_relaxed));
    // SYNC: lane-state. release: every submit above is published before CLOSED.
    // No wake for the state change itself (wakes follow submits only): the
    // controller sees CLOSED at its next liveness check.
    std::atomic_ref<std::uint32_t>(lane.state).store(static_cast<std::uint32_t>(LaneState::kClosed),
                                                     std::memory_order_release);
    TraceRegion::destroy(agent->region_, false);
    counted_delete(agent);
}

std::byte* TraceAgent::reentered() {
    // A signal handler interrupted emit on this lane: touch nothing the
    // interrupted call is using. fetch_add: nested handlers may race here.
    std::atomic_ref<std::uint64_t>(lane_->drops[static_cast<std::uint32_t>(DropCause::kReentrant)])
        .fetch_add(1, std::memory_order_relaxed);
    return nullptr;
}

std::byte* TraceAgent::drop_event(DropCause cause) {
    const std::uint64_t seq = next_seq_++;
    add(lane_->drops[static_cast<std::uint32_t>(cause)], 1);
    add_gap(seq, 1, cause);
    // With an index window open, the gap goes in now, so the stream stays in
    // sequence order; otherwise, or if it finds no room (write_gaps then
    // seals the window), it waits for the next window.
    if (index_.ring != kNoRing) write_gaps(trace_now(clock_));
    put(lane_->seq_next, next_seq_);
    reserved_ = false;
    leave();
    return nullptr;
}

std::byte* TraceAgent::index_slow(std::uint64_t ts) {
    if (!switch_index(ts)) return nullptr;
    return index_.appender.try_reserve(sizeof(IndexEvent));
}

// The active index window has no room (or there is none): submit it, reuse
// it (overwrite) or drop, then open the next window with its context: the
// pending gaps and the current detail window.
bool TraceAgent::switch_index(std::uint64_t ts) {
    if (index_.ring != kNoRing) {
        std::uint32_t fresh = kNoRing;
        if (pop_free(fresh)) {
            submit(index_, SubmitAction::kDumpIndex);
            activate(index_, RingKind::kIndex, fresh);
        } else if (policy_ == Policy::kOverwriteOldest && lock_reuse()) {
            // The full window is the oldest unsubmitted data: reuse it. One gap
            // covers everything it held that is not on disk (its own gap
            // records included).
            std::uint64_t first = index_first_seq_;
            const std::uint64_t lost = events_not_flushed(index_, RingKind::kIndex, first);
            add(lane_->drops[static_cast<std::uint32_t>(DropCause::kOverwritten)], lost);
            gap_count_ = 0;
            if (next_seq_ > first) add_gap(first, next_seq_ - first, DropCause::kOverwritten);
            recycle(index_, RingKind::kIndex);
            unlock_reuse();
        } else {
            // Drop newest, bounded wait, or a flush snapshot is reading the
            // window right now (overwrite oldest): hand it over whole.
            submit(index_, SubmitAction::kDumpIndex);
        }
    }
    if (index_.ring == kNoRing) {
        std::uint32_t ring = kNoRing;
        if (!obtain_ring(ring, drop_cause_)) return false;
        activate(index_, RingKind::kIndex, ring);
    }
    write_gaps(ts);
    if (detail_.ring != kNoRing) {
        write_control(ts, ControlKind::kDetailWindow, 0, next_seq_, windows_[static_cast<std::uint32_t>(RingKind::kDetail)]);
    }
    return true;
}

// Overwrite oldest: a full window may be reused in place only while we hold
// the lane's reuse_lock, so that a flush snapshot never reads a window we
// rewrite (controller_snapshot.cpp). Never waited for: when the controller
// holds it, the caller submits the full window instead.
bool TraceAgent::lock_reuse() {
    std::uint32_t expected = kReuseFree;
    // acquire: the flushed_* fields of the controller's last snapshot (stored
    // before its release of the lock) are visible to events_not_flushed.
    return std::atomic_ref<std::uint32_t>(lane_->reuse_lock)
        .compare_exchange_strong(expected, kReuseByAgent, std::memory_order_acquire, std::memory_order_relaxed);
}

void TraceAgent::unlock_reuse() {
    // release: the reused window (read_position, RingInfo, its window number)
    // is visible to the snapshot that takes the lock next.
    std::atomic_ref<std::uint32_t>(lane_->reuse_lock).store(kReuseFree, std::memory_order_release);
}

// Events (index) or payloads (detail) of the active window that a reuse in
// place loses: all of them, less those a flush snapshot already put on disk.
// For an index window, `first` becomes the first sequence number lost. The
// controller's fields are checked against what we know of the window.
std::uint64_t TraceAgent::events_not_flushed(const Active& active, RingKind kind, std::uint64_t& first) const {
    RingInfo& info = region_->ring_info(lane_index_, active.ring);
    if (get(info.flushed_window) != windows_[static_cast<std::uint32_t>(kind)]) return active.events;
    const std::uint64_t flushed_events = get(info.flushed_events);
    const std::uint64_t flushed_seq = get(info.flushed_seq);
    if (flushed_events > active.events) return active.events;
    if (kind == RingKind::kIndex) {
        if (flushed_seq < first || flushed_seq > next_seq_) return active.events;
        first = flushed_seq;
    }
    return active.events - flushed_events;
}

std::byte* TraceAgent::detail_slow(std::uint32_t total, std::uint64_t ts) {
    if (detail_.ring != kNoRing) {
        std::uint32_t fresh = kNoRing;
        if (!detail_.marked) {
            // Flight recorder: nothing interesting happened in this window.
            add(lane_->detail_rings_recycled, 1);
            recycle(detail_, RingKind::kDetail);
        } else if (pop_free(fresh)) {
            submit(detail_, SubmitAction::kDumpDetail);
            activate(detail_, RingKind::kDetail, fresh);
        } else if (policy_ == Policy::kOverwriteOldest && lock_reuse()) {
            std::uint64_t unused = 0;
            const std::uint64_t lost = events_not_flushed(detail_, RingKind::kDetail, unused);
            add(lane_->detail_lost[static_cast<std::uint32_t>(DropCause::kOverwritten)], lost);
            recycle(detail_, RingKind::kDetail);
            unlock_reuse();
        } else {
            submit(detail_, SubmitAction::kDumpDetail);
        }
    }
    if (detail_.ring == kNoRing) {
        std::uint32_t ring = kNoRing;
        if (!obtain_ring(ring, drop_cause_)) return nullptr;
        activate(detail_, RingKind::kDetail, ring);
    }
    announce_detail_window(ts);
    return detail_.appender.try_reserve(total);
}

// A new detail window: the index stream says so before the first event
// that refers to it (a new index window carries it in its context anyway).
void TraceAgent::announce_detail_window(std::uint64_t ts) {
    const std::uint64_t window = windows_[static_cast<std::uint32_t>(RingKind::kDetail)];
    if (!write_control(ts, ControlKind::kDetailWindow, 0, next_seq_, window)) switch_index(ts);
}

// Appends one control record to the active index window; false if it has no room.
bool TraceAgent::write_control(std::uint64_t ts, ControlKind kind, std::uint32_t cause, std::uint64_t first,
                               std::uint64_t value) {
    std::byte* slot = index_.appender.try_reserve(sizeof(IndexControl));
    if (slot == nullptr) return false;
    const IndexControl record{ts, static_cast<std::uint32_t>(kind), cause, first, value};
    std::memcpy(slot, &record, sizeof record);
    index_.appender.commit();
    return true;
}

bool TraceAgent::pop_free(std::uint32_t& ring) {
    std::uint32_t value = 0;
    // A ring index out of range (a broken controller) is skipped, not used.
    for (std::uint32_t tries = 0; tries < kQueueSlots; ++tries) {
        if (free_q_.try_pop(value) != QueueStatus::kOk) return false;
        if (value < region_->rings_per_lane()) {
            ring = value;
            starved_ = false;
            return true;
        }
    }
    return false;
}

bool TraceAgent::obtain_ring(std::uint32_t& ring, DropCause& cause) {
    if (pop_free(ring)) return true;
    add(lane_->free_q_empty, 1);
    if (policy_ != Policy::kWait) {
        cause = DropCause::kNoRing;
        return false;
    }
    cause = DropCause::kWaitTimeout;
    if (starved_) return false;  // the last wait ran out: drop until a ring comes back
    const WaitStrategy strategy{WaitKind::kHybrid, 1024, 0, -1};
    const NotifyWords words{&lane_->free_sequence, &lane_->agent_waiters};
    const WaitResult result =
        wait_until(strategy, words, deadline_after(wait_timeout_ns_), [&] { return pop_free(ring); });
    if (result == WaitResult::kReady) return true;
    starved_ = true;
    return false;
}

void TraceAgent::activate(Active& active, RingKind kind, std::uint32_t ring) {
    const RingView view = region_->ring_view(lane_index_, ring);
    // relaxed is enough: the controller stored it before pushing the ring on
    // free_q, and our pop acquired that push (SYNC: ring-reset).
    const std::uint64_t start =
        std::atomic_ref<std::uint64_t>(view.control->read_position).load(std::memory_order_relaxed) &
        ~std::uint64_t{kRecordAlign - 1};
    active.appender.start(view, start);
    active.ring = ring;
    begin_window(active, kind);
}

void TraceAgent::recycle(Active& active, RingKind kind) {
    active.appender.restart();
    // We own the ring: we are its consumer too until we submit it. The
    // controller reads the window start from here (SYNC: queue-publish).
    put(active.appender.view().control->read_position, active.appender.window_start());
    begin_window(active, kind);
}

void TraceAgent::begin_window(Active& active, RingKind kind) {
    RingInfo& info = region_->ring_info(lane_index_, active.ring);
    const std::uint64_t window = ++windows_[static_cast<std::uint32_t>(kind)];
    active.events = 0;
    std::uint64_t first_seq = next_seq_;
    if (kind == RingKind::kIndex) {
        if (gap_count_ > 0) first_seq = gaps_[0].first;
        index_first_seq_ = first_seq;
        put(lane_->active_index_ring, active.ring);
        put(lane_->index_window, window);
    } else {
        active.marked = pending_mark_;
        pending_mark_ = false;
        put(lane_->active_detail_ring, active.ring);
        put(lane_->detail_window, window);
    }
    std::uint64_t tsc = 0;
    std::uint64_t ns = 0;
    anchor_pair(clock_, tsc, ns);
    put(info.kind, static_cast<std::uint32_t>(kind));
    put(info.marked, active.marked ? mark_word(window) : 0u);
    put(info.start_position, active.appender.window_start());
    put(info.first_seq, first_seq);
    put(info.open_tsc, tsc);
    put(info.open_ns, ns);
    put(info.full_tsc, std::uint64_t{0});
    put(info.full_ns, std::uint64_t{0});
    put(info.records, std::uint64_t{0});
    // SYNC: window-open. release, once per window (not per event): a flush
    // snapshot that loads this number with acquire sees the fields above.
    std::atomic_ref<std::uint64_t>(info.window).store(window, std::memory_order_release);
}

void TraceAgent::submit(Active& active, SubmitAction action) {
    RingInfo& info = region_->ring_info(lane_index_, active.ring);
    std::uint64_t tsc = 0;
    std::uint64_t ns = 0;
    anchor_pair(clock_, tsc, ns);
    put(info.full_tsc, tsc);
    put(info.full_ns, ns);
    put(info.records, active.appender.records());
    const std::uint64_t window = windows_[static_cast<std::uint32_t>(&active == &index_ ? RingKind::kIndex : RingKind::kDetail)];
    put(info.marked, active.marked ? mark_word(window) : 0u);
    layout::RingControl& control = *active.appender.view().control;
    put(control.write_position, active.appender.position());
    put(control.records_committed,
        std::atomic_ref<std::uint64_t>(control.records_committed).load(std::memory_order_relaxed) +
            active.appender.records());
    // Never full while the controller is honest: every ring is in one place.
    const bool pushed = submit_q_.try_push(submit_entry(active.ring, action)) == QueueStatus::kOk;
    if (!pushed) {
        log(LogLevel::kError, "tracer lane %u: submit_q refused ring %u: the ring is lost to the pool", lane_index_,
            active.ring);
    } else if (action == SubmitAction::kDumpIndex) {
        add(lane_->index_rings_submitted, 1);
    } else if (action == SubmitAction::kDumpDetail) {
        add(lane_->detail_rings_kept, 1);
    }
    // release: a flush snapshot that acquires kNoRing here sees the submit_q
    // push above (its drain then finds the window).
    std::atomic_ref<std::uint32_t>(&active == &index_ ? lane_->active_index_ring : lane_->active_detail_ring)
        .store(kNoRing, std::memory_order_release);
    active.ring = kNoRing;
    active.appender = RingAppender{};  // reserves nothing until the next activation
    active.events = 0;
    active.marked = false;
    if (pushed) {
        add(lane_->submits, 1);
        wake_controller();
    }
}

void TraceAgent::wake_controller() {
    const int saved_errno = errno;  // emit may run in a signal handler: leave errno as it was
    const NotifyWords words = submit_words(region_->header());
    // SYNC: park-announce (src/wait/park.hpp): our queue push is ordered
    // before the load of the waiter count; a parked controller is woken,
    // one that is about to park sees the push.
    std::atomic_thread_fence(std::memory_order_seq_cst);
    if (words.count().load(std::memory_order_relaxed) != 0) {
        add(lane_->wakes_sent, 1);
        detail::wake_parked(words, PeerWake{});
    }
    errno = saved_errno;
}

void TraceAgent::add_gap(std::uint64_t seq, std::uint64_t count, DropCause cause) {
    if (gap_count_ > 0) {
        Gap& last = gaps_[gap_count_ - 1];
        if ((last.cause == cause && last.first + last.count == seq) || gap_count_ == kMaxGaps) {
            last.count += count;
            return;
        }
    }
    gaps_[gap_count_++] = Gap{seq, count, cause};
}

void TraceAgent::write_gaps(std::uint64_t ts) {
    std::uint32_t written = 0;
    while (written < gap_count_) {
        const Gap& gap = gaps_[written];
        if (!write_control(ts, ControlKind::kGap, static_cast<std::uint32_t>(gap.cause), gap.first, gap.count)) break;
        ++written;
    }
    for (std::uint32_t i = written; i < gap_count_; ++i) gaps_[i - written] = gaps_[i];
    gap_count_ -= written;
    // A gap left pending must precede the next event in the stream, but an
    // event record (24 bytes in the ring) can fit where a gap record (40)
    // does not, and would then be read with the lost event's number. Sealed,
    // the window refuses the next reservation: reserve() goes to index_slow,
    // whose switch_index submits (or, overwriting, reuses) this window and
    // opens the next one with the pending gaps first. The hot path is as it
    // was: only its existing "full" compare sees the sealed limit.
    if (gap_count_ > 0) index_.appender.seal();
}

void TraceAgent::submit_partial_windows() {
    if (index_.ring != kNoRing && !index_.appender.empty()) submit(index_, SubmitAction::kDumpIndex);
    if (detail_.ring != kNoRing && detail_.marked && !detail_.appender.empty()) {
        submit(detail_, SubmitAction::kDumpDetail);
    }
}

void TraceAgent::serve_flush_request() {
    flush_seen_ = std::atomic_ref<std::uint64_t>(*flush_request_).load(std::memory_order_relaxed);
    submit_partial_windows();
    add(lane_->flushes, 1);
    // release: the submits above are published before the acknowledgement.
    std::atomic_ref<std::uint64_t>(lane_->flush_ack).store(flush_seen_, std::memory_order_release);
}

void TraceAgent::flush() {
    if (busy_.load(std::memory_order_relaxed)) return;  // a handler interrupted emit: nothing safe to do
    enter();
    serve_flush_request();
    leave();
}

void TraceAgent::mark() {
    if (busy_.load(std::memory_order_relaxed)) {
        reentered();
        return;
    }
    enter();
    std::uint64_t window = 0;
    if (detail_.ring != kNoRing) {
        detail_.marked = true;
        window = windows_[static_cast<std::uint32_t>(RingKind::kDetail)];
        // relaxed is enough: a flush snapshot reads it after acquiring the
        // window number and trusts only mark_word(that number).
        put(region_->ring_info(lane_index_, detail_.ring).marked, mark_word(window));
    } else {
        pending_mark_ = true;
    }
    add(lane_->marks, 1);
    const std::uint64_t ts = trace_now(clock_);
    // Without any index window the mark still applies; only its record is lost.
    if (!write_control(ts, ControlKind::kMark, 0, next_seq_, window) && switch_index(ts)) {
        write_control(ts, ControlKind::kMark, 0, next_seq_, window);
    }
    leave();
}

}  // namespace ringside::trace
