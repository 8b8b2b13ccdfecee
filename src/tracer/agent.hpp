// The agent side of the tracer: one lane, written by one thread.
//
// Every event takes a sequence number, a timestamp, one 24-byte record in the
// lane's active index ring and, when it has a payload, one record (u64 seq +
// payload) in the active detail ring. When a ring is full:
//  - index: it is submitted to the controller and a spare one is taken from
//    free_q;
//  - detail: if the window was marked (mark()) it is submitted like an index
//    ring, otherwise it is recycled on the spot (a flight recorder).
// With no spare ring the policy decides: drop the newest event, overwrite
// the oldest unsubmitted window (the full one), or wait a bounded time. An
// event whose index record or payload finds no room is dropped whole.
// Every lost event is counted by cause and leaves a gap record in the index
// stream, so a reader can explain every hole in the sequence.
//
// Thread contract: reserve/commit/emit/mark/flush from the lane's thread
// only. Signals: a handler that interrupts emit on the same thread and
// emits on the same lane gets a drop (DropCause::kReentrant, counted, no
// sequence number) instead of corrupting the lane; the drop path makes no
// system call and takes no lock, so emit may be called from a signal
// handler. A handler's emit that does not re-enter (another lane, or the
// thread was not inside emit) works normally.
//
// Hot path: no lock, no allocation, no system call (slow paths: a ring
// switch may wake the controller, one futex call at most per ring).
#pragma once

#include <atomic>
#include <cstdint>
#include <cstring>

#include "tracer/index_queue.hpp"
#include "tracer/ring_appender.hpp"
#include "tracer/trace_clock.hpp"
#include "tracer/trace_region.hpp"

namespace ringside::trace {

enum class Policy : std::uint32_t { kDropNewest = 1, kOverwriteOldest = 2, kWait = 3 };

struct AgentOptions {
    rs_backing backing = RS_BACKING_SHM;
    Policy policy = Policy::kDropNewest;
    std::uint64_t wait_timeout_ns = 1'000'000;
    std::int32_t lane = -1;  // -1: the first free lane
    bool prefault = true;
};

class TraceAgent {
public:
    static rs_result open(const char* name, const AgentOptions& options, TraceAgent** out);
    // Hands every ring back (submitted, or returned unread), marks the lane
    // CLOSED for the controller, unmaps and frees the agent.
    static void close(TraceAgent* agent);

    // Reserves an event: returns where to write its `length` payload bytes
    // (valid until commit()), or nullptr when the event was dropped (counted).
    [[nodiscard]] std::byte* reserve(std::uint32_t event_id, std::uint32_t length);
    // Publishes the reserved event. Only after a non-null reserve().
    void commit();
    // reserve + copy + commit. False when the event was dropped.
    bool emit(std::uint32_t event_id, const void* data, std::uint32_t length);
    // Marks the current detail window as worth keeping, and records a mark.
    void mark();
    // Submits the partially filled index window (and a marked detail window).
    void flush();

    [[nodiscard]] bool reserved() const { return busy_.load(std::memory_order_relaxed) && reserved_; }
    [[nodiscard]] std::uint32_t lane_index() const { return lane_index_; }
    [[nodiscard]] std::uint64_t max_payload() const { return max_payload_; }
    [[nodiscard]] TraceRegion& region() const { return *region_; }

    TraceAgent() = default;
    ~TraceAgent();
    TraceAgent(const TraceAgent&) = delete;
    TraceAgent& operator=(const TraceAgent&) = delete;

private:
    struct Gap {
        std::uint64_t first;
        std::uint64_t count;
        DropCause cause;
    };
    struct Active {
        RingAppender appender;
        std::uint32_t ring = kNoRing;
        std::uint64_t events = 0;  // events (index) or payloads (detail) in the window
        bool marked = false;
    };
    static constexpr std::uint32_t kMaxGaps = 4;

    // Slow paths (agent.cpp).
    std::byte* reentered();
    std::byte* index_slow(std::uint64_t ts);
    bool switch_index(std::uint64_t ts);
    std::byte* detail_slow(std::uint32_t total, std::uint64_t ts);
    void announce_detail_window(std::uint64_t ts);
    bool write_control(std::uint64_t ts, ControlKind kind, std::uint32_t cause, std::uint64_t first,
                       std::uint64_t value);
    std::byte* drop_event(DropCause cause);
    void serve_flush_request();
    void submit_partial_windows();
    bool obtain_ring(std::uint32_t& ring, DropCause& cause);
    bool pop_free(std::uint32_t& ring);
    void activate(Active& active, RingKind kind, std::uint32_t ring);
    void recycle(Active& active, RingKind kind);
    void begin_window(Active& active, RingKind kind);
    void submit(Active& active, SubmitAction action);
    void write_gaps(std::uint64_t ts);
    void add_gap(std::uint64_t seq, std::uint64_t count, DropCause cause);
    void wake_controller();
    bool lock_reuse();
    void unlock_reuse();
    std::uint64_t events_not_flushed(const Active& active, RingKind kind, std::uint64_t& first) const;

    void enter() {
        busy_.store(true, std::memory_order_relaxed);
        // A signal handler on this thread sees busy_ before anything below.
        std::atomic_signal_fence(std::memory_order_seq_cst);
    }
    void leave() {
        std::atomic_signal_fence(std::memory_order_seq_cst);
        busy_.store(false, std::memory_order_relaxed);
    }

    // --- hot state, the lane's thread only ---
    Active index_;
    Active detail_;
    std::uint64_t next_seq_ = 0;
    std::uint64_t bytes_ = 0;
    std::uint64_t flush_seen_ = 0;
    std::uint32_t pending_length_ = 0;
    bool detail_pending_ = false;
    bool reserved_ = false;
    std::atomic<bool> busy_{false};
    ClockKind clock_ = ClockKind::kMonotonic;
    std::uint64_t* flush_request_ = nullptr;
    LaneControl* lane_ = nullptr;

    // --- slow-path state ---
    TraceRegion* region_ = nullptr;
    std::uint32_t lane_index_ = 0;
    Policy policy_ = Policy::kDropNewest;
    std::uint64_t wait_timeout_ns_ = 0;
    std::uint64_t max_payload_ = 0;
    bool starved_ = false;  // a bounded wait ran out: drop without waiting until a ring comes back
    bool pending_mark_ = false;
    DropCause drop_cause_ = DropCause::kNone;
    std::uint64_t index_first_seq_ = 0;  // first seq the active index window covers (gaps included)
    std::uint64_t windows_[3] = {};      // windows activated, by RingKind
    Gap gaps_[kMaxGaps] = {};
    std::uint32_t gap_count_ = 0;
    QueuePusher submit_q_;
    QueuePopper free_q_;
};

// ---------------------------------------------------------------------------

// Small payloads (the common case) are copied inline with overlapping
// fixed-size moves instead of a call to memcpy.
[[gnu::always_inline]] inline void copy_payload(std::byte* to, const void* from, std::uint32_t length) {
    const auto* source = static_cast<const std::byte*>(from);
    if (length <= 16) {
        if (length >= 8) {
            std::memcpy(to, source, 8);
            std::memcpy(to + length - 8, source + length - 8, 8);
        } else if (length >= 4) {
            std::memcpy(to, source, 4);
            std::memcpy(to + length - 4, source + length - 4, 4);
        } else {
            for (std::uint32_t i = 0; i < length; ++i) to[i] = source[i];
        }
    } else if (length <= 32) {
        std::memcpy(to, source, 16);
        std::memcpy(to + length - 16, source + length - 16, 16);
    } else if (length <= 64) {
        std::memcpy(to, source, 32);
        std::memcpy(to + length - 32, source + length - 32, 32);
    } else {
        std::memcpy(to, source, length);
    }
}

[[gnu::always_inline]] inline std::byte* TraceAgent::reserve(std::uint32_t event_id, std::uint32_t length) {
    if (busy_.load(std::memory_order_relaxed)) [[unlikely]] return reentered();
    enter();
    // relaxed is enough: a flush request is advisory; we act on it when we see it.
    if (std::atomic_ref<std::uint64_t>(*flush_request_).load(std::memory_order_relaxed) != flush_seen_) [[unlikely]] {
        serve_flush_request();
    }
    const std::uint64_t ts = trace_now(clock_);
    const std::uint64_t seq = next_seq_;
    // Detail first: a detail window switch announces itself in the index
    // stream, before this event's index record.
    std::byte* detail = nullptr;
    if (length != 0) {
        detail = detail_.appender.try_reserve(length + kDetailSeqBytes);
        if (detail == nullptr) [[unlikely]] {
            detail = detail_slow(length + kDetailSeqBytes, ts);
            if (detail == nullptr) return drop_event(drop_cause_);
        }
    }
    std::byte* index = index_.appender.try_reserve(sizeof(IndexEvent));
    if (index == nullptr) [[unlikely]] {
        index = index_slow(ts);
        if (index == nullptr) {
            if (detail != nullptr) detail_.appender.cancel();
            return drop_event(drop_cause_);
        }
    }
    IndexEvent record{ts, event_id, kNoDetail};
    std::byte* payload = index;  // any non-null pointer for an empty payload
    if (detail != nullptr) {
        std::memcpy(detail, &seq, sizeof seq);
        record.detail = detail_.appender.pending_offset();
        payload = detail + kDetailSeqBytes;
        detail_pending_ = true;
    }
    std::memcpy(index, &record, sizeof record);
    next_seq_ = seq + 1;
    pending_length_ = length;
    reserved_ = true;
    return payload;
}

[[gnu::always_inline]] inline void TraceAgent::commit() {
    // Detail first: an index record is never visible before its payload.
    if (detail_pending_) {
        detail_.appender.commit();
        ++detail_.events;
        detail_pending_ = false;
    }
    index_.appender.commit();
    ++index_.events;
    bytes_ += pending_length_;
    reserved_ = false;
    // relaxed is enough: live metrics; the records carry their own publication.
    std::atomic_ref<std::uint64_t>(lane_->seq_next).store(next_seq_, std::memory_order_relaxed);
    std::atomic_ref<std::uint64_t>(lane_->bytes_written).store(bytes_, std::memory_order_relaxed);
    leave();
}

[[gnu::always_inline]] inline bool TraceAgent::emit(std::uint32_t event_id, const void* data, std::uint32_t length) {
    std::byte* payload = reserve(event_id, length);
    if (payload == nullptr) return false;
    copy_payload(payload, data, length);
    commit();
    return true;
}

}  // namespace ringside::trace
