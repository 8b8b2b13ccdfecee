// The controller side of the tracer: drains every lane's submit_q, writes
// each submitted window to the lane's sink files, hands the ring back on
// free_q, and recovers the rings of agents that died.
//
// Aeron's agent-runner shape: the drain thread's loop is `idle(do_work())`.
// do_work pops submit entries of all lanes and, every liveness interval,
// checks each lane's agent (pid + start time from /proc: a reused pid is
// not mistaken for the agent) and finalises CLOSED lanes. idle parks on the
// futex word in the TraceHeader's notify line (park.hpp protocol: works
// across unrelated processes, since the word lives in the shared mapping);
// an agent wakes it only after a submit and only when it is parked, so
// wake-ups never exceed submitted rings. The park's deadline is the next
// liveness check.
//
// Never trusting the agent: every submit entry is range-checked, the ring
// must be held by the agent (not on free_q, not submitted twice), every
// record of a window is validated with the ring code's decode_record before
// a byte is written, and reads never leave the ring's data area. Each
// violation is counted per lane and kind (LaneControl.violations).
//
// Threads: create/start/stop/flush/destroy from any thread (serialised by
// control_); the drain work runs under work_, taken by the drain thread per
// iteration and by flush/stop, so the lane state below has one user at a
// time. Stats read shared memory only.
#pragma once

#include <pthread.h>

#include <atomic>
#include <cstdint>
#include <mutex>

#include "tracer/index_queue.hpp"
#include "tracer/sink.hpp"
#include "tracer/trace_region.hpp"

namespace ringside::trace {

struct ScannedWindow;

struct ControllerOptions {
    rs_backing backing = RS_BACKING_SHM;
    TraceGeometry geometry;
    std::uint32_t mode = 0600;
    ClockKind clock = ClockKind::kTsc;
    bool prefault = true;
    bool open_existing = false;    // recover an existing region instead of creating one
    bool keep_on_destroy = false;
    bool sync_on_flush = true;     // fdatasync the sink files on flush and stop
    std::uint32_t liveness_interval_ms = 50;
    const char* sink_dir = nullptr;
};

class TraceController {
public:
    static rs_result create(const char* name, const ControllerOptions& options, TraceController** out);
    // RS_BUSY while the drain thread runs.
    static rs_result destroy(TraceController* controller);

    rs_result start();
    // Stops the drain thread, flushes (as flush()), recovers dead lanes,
    // syncs and closes the sinks.
    rs_result stop(std::uint64_t timeout_ns);
    // Drains now, asks live agents to submit their partial windows, waits a
    // little (kFlushGraceNs at most) for them to acknowledge, then dumps the
    // committed prefix of the active index window and marked detail window
    // of every lane that did not (snapshot_lane). On RS_OK every event
    // committed before the call is on disk (docs/tracer.md, "Flush on
    // demand"). RS_TIMEOUT if a lane's snapshot could not be taken within
    // `timeout_ns` (its agent held reuse_lock throughout).
    rs_result flush(std::uint64_t timeout_ns);
    static constexpr std::uint64_t kFlushGraceNs = 2'000'000;
    // One drain pass and liveness check on the calling thread (not started).
    std::uint32_t poll();

    rs_result stats_json(char** out) const;
    [[nodiscard]] TraceRegion& region() const { return *region_; }
    [[nodiscard]] bool running() const { return running_.load(std::memory_order_acquire); }
    [[nodiscard]] std::uint64_t sink_errors() const { return sink_errors_.load(std::memory_order_relaxed); }

    TraceController() = default;
    ~TraceController();
    TraceController(const TraceController&) = delete;
    TraceController& operator=(const TraceController&) = delete;

private:
    enum class Owner : std::uint8_t { kFreeQueue = 0, kAgent = 1, kController = 2 };
    struct Lane {
        QueuePopper submit;
        QueuePusher free;
        std::uint64_t free_acked = 0;  // free_q positions below were popped by the agent
        std::uint32_t pushed[kQueueSlots] = {};  // what we pushed, by position (never trust the slots)
        Owner owner[kMaxRingsPerLane] = {};
        std::uint32_t handed_back[kMaxRingsPerLane] = {};  // pushes on free_q per ring (flush snapshots compare)
        std::uint32_t session = 0;
        bool session_open = false;
        LaneSink sink;
    };

    static void* thread_main(void* self);
    void run();
    std::uint32_t do_work();
    void idle(std::uint32_t work);
    [[nodiscard]] bool submits_waiting() const;

    void init_lane(std::uint32_t lane);
    void adopt_lane(std::uint32_t lane);
    void reset_queues(std::uint32_t lane);
    std::uint32_t drain_lane(std::uint32_t lane);
    void process_entry(std::uint32_t lane, std::uint32_t entry);
    void sync_free_head(std::uint32_t lane);
    void take_back(std::uint32_t lane, std::uint32_t ring, RingKind kind, bool dump, std::uint32_t flags);
    bool write_window(std::uint32_t lane, std::uint32_t ring, RingKind kind, const ScannedWindow& window,
                      std::uint32_t flags);
    static bool flushed_prefix(const RingView& view, const RingInfo& info, std::uint64_t start, std::uint64_t& from,
                               std::uint64_t& first_seq);
    bool snapshot_lane(std::uint32_t lane);
    bool snapshot_window(std::uint32_t lane, RingKind kind);
    void give_back(std::uint32_t lane, std::uint32_t ring);
    void check_lanes();
    bool agent_alive(std::uint64_t claim) const;
    void recover_lane(std::uint32_t lane, std::uint32_t reason);
    LaneSink* sink_for(std::uint32_t lane);
    void ensure_session(std::uint32_t lane);
    void end_session(std::uint32_t lane, std::uint32_t reason);
    void violation(std::uint32_t lane, Violation kind);
    rs_result flush_cycle(std::uint64_t timeout_ns);
    void sync_sinks();

    // --- set at create ---
    TraceRegion* region_ = nullptr;
    Lane* lanes_ = nullptr;  // counted array
    char* sink_dir_ = nullptr;
    bool created_ = false;
    bool keep_on_destroy_ = false;
    bool sync_on_flush_ = true;
    std::uint64_t liveness_ns_ = 50'000'000;
    std::uint64_t claim_ = 0;

    // --- lifecycle ---
    std::mutex control_;
    pthread_t thread_{};
    std::atomic<bool> running_{false};
    std::atomic<bool> stop_{false};

    // --- drain state (under work_) ---
    std::mutex work_;
    std::uint64_t next_check_ns_ = 0;

    // --- counters (drain thread writes, any thread reads) ---
    std::atomic<std::uint64_t> sink_errors_{0};
    std::atomic<std::uint64_t> kicks_{0};
};

}  // namespace ringside::trace
