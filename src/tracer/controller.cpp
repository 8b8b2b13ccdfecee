// The controller's lifecycle: create (or adopt) a region, the drain thread,
// flush, stop, destroy and stats. The drain itself (lanes, dumps, liveness,
// recovery) is in controller_drain.cpp.
#include "tracer/controller.hpp"

#include <signal.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <new>

#include "common/alloc.hpp"
#include "common/error.hpp"
#include "common/process.hpp"
#include "tracer/shared_fields.hpp"
#include "tracer/trace_stats.hpp"
#include "wait/park.hpp"

namespace ringside::trace {

TraceController::~TraceController() {
    if (lanes_ != nullptr) {
        for (std::uint32_t i = 0; i < region_->lanes(); ++i) lanes_[i].~Lane();
        counted_free(lanes_);
    }
    counted_free(sink_dir_);
}

rs_result TraceController::create(const char* name, const ControllerOptions& options, TraceController** out) {
    if (options.sink_dir == nullptr || options.sink_dir[0] == '\0') {
        return fail(RS_ERR_INVALID_ARGUMENT, "the controller needs a sink directory");
    }
    if (::mkdir(options.sink_dir, 0755) != 0 && errno != EEXIST) {
        return fail_errno(result_from_errno(errno), errno, "cannot create the sink directory '%s'", options.sink_dir);
    }
    struct stat info {};
    if (::stat(options.sink_dir, &info) != 0 || !S_ISDIR(info.st_mode)) {
        return fail(RS_ERR_INVALID_ARGUMENT, "sink directory '%s' is not a directory", options.sink_dir);
    }
    auto* controller = counted_new<TraceController>();
    char* dir = counted_strdup(options.sink_dir, std::strlen(options.sink_dir));
    if (controller == nullptr || dir == nullptr) {
        counted_delete(controller);
        counted_free(dir);
        return fail(RS_ERR_NO_MEMORY, "out of memory creating a tracer controller");
    }
    controller->sink_dir_ = dir;
    controller->keep_on_destroy_ = options.keep_on_destroy;
    controller->sync_on_flush_ = options.sync_on_flush;
    controller->liveness_ns_ = std::uint64_t{options.liveness_interval_ms} * 1'000'000ull;
    controller->claim_ = claim_word(::getpid(), self_start_ticks());
    TraceRegion* region = nullptr;
    rs_result result = RS_OK;
    if (options.open_existing) {
        result = TraceRegion::open(name, options.backing, TraceRegion::Access::kReadWrite, &region);
    } else {
        result = TraceRegion::create(name, options.backing, options.geometry, options.mode, options.clock,
                                     options.prefault, &region);
        controller->created_ = result == RS_OK;
    }
    if (result != RS_OK) {
        counted_delete(controller);
        return result;
    }
    controller->region_ = region;
    const std::uint32_t lanes = region->lanes();
    controller->lanes_ = static_cast<Lane*>(counted_malloc(sizeof(Lane) * lanes));
    if (controller->lanes_ == nullptr) {
        TraceRegion::destroy(region, controller->created_);
        controller->region_ = nullptr;
        counted_delete(controller);
        return fail(RS_ERR_NO_MEMORY, "out of memory for %u lanes", lanes);
    }
    for (std::uint32_t i = 0; i < lanes; ++i) ::new (&controller->lanes_[i]) Lane();

    TraceHeader& header = region->header();
    std::atomic_ref<std::uint64_t> claim(header.controller_claim);
    std::uint64_t holder = claim.load(std::memory_order_acquire);
    if (holder != 0 && holder != controller->claim_ && controller->agent_alive(holder)) {
        destroy(controller);
        return fail(RS_BUSY, "tracer region '%s' is served by a live controller (pid %d)", name, claim_pid(holder));
    }
    // acq_rel: we see the previous controller's last writes and publish ours.
    if (!claim.compare_exchange_strong(holder, controller->claim_, std::memory_order_acq_rel)) {
        destroy(controller);
        return fail(RS_BUSY, "tracer region '%s': another controller claimed it concurrently", name);
    }
    put(header.controller_pid, static_cast<std::int32_t>(::getpid()));
    put(header.controller_start_ticks, self_start_ticks());
    for (std::uint32_t i = 0; i < lanes; ++i) {
        if (options.open_existing) {
            controller->adopt_lane(i);
        } else {
            controller->init_lane(i);
        }
    }
    if (!options.open_existing) region->publish();
    *out = controller;
    return RS_OK;
}

rs_result TraceController::destroy(TraceController* controller) {
    if (controller->running()) return fail(RS_BUSY, "the tracer controller is running: stop it first");
    if (controller->region_ != nullptr) {
        for (std::uint32_t i = 0; controller->lanes_ != nullptr && i < controller->region_->lanes(); ++i) {
            controller->lanes_[i].sink.close();
        }
        std::uint64_t mine = controller->claim_;
        std::atomic_ref<std::uint64_t>(controller->region_->header().controller_claim)
            .compare_exchange_strong(mine, 0, std::memory_order_acq_rel);
        const bool unlink_name = controller->created_ && !controller->keep_on_destroy_;
        TraceRegion* region = controller->region_;
        // Lanes are destroyed with the controller, which still reads the geometry.
        for (std::uint32_t i = 0; controller->lanes_ != nullptr && i < region->lanes(); ++i) {
            controller->lanes_[i].~Lane();
        }
        counted_free(controller->lanes_);
        controller->lanes_ = nullptr;
        controller->region_ = nullptr;
        TraceRegion::destroy(region, unlink_name);
    }
    counted_delete(controller);
    return RS_OK;
}

// ---- thread, flush, stop -------------------------------------------------------

rs_result TraceController::start() {
    std::lock_guard<std::mutex> lock(control_);
    if (running()) return fail(RS_BUSY, "the tracer controller is already running");
    stop_.store(false, std::memory_order_relaxed);
    running_.store(true, std::memory_order_release);
    // The drain thread blocks every signal it can (the mask is inherited at
    // creation), so process-directed signals reach the application's
    // threads, never a library thread.
    sigset_t all;
    sigset_t previous;
    sigfillset(&all);
    ::pthread_sigmask(SIG_SETMASK, &all, &previous);
    const int err = ::pthread_create(&thread_, nullptr, &TraceController::thread_main, this);
    ::pthread_sigmask(SIG_SETMASK, &previous, nullptr);
    if (err != 0) {
        running_.store(false, std::memory_order_release);
        return fail_errno(RS_ERR_NO_MEMORY, err, "cannot start the tracer drain thread");
    }
    put(region_->header().controller_running, 1u);
    return RS_OK;
}

void* TraceController::thread_main(void* self) {
    ::pthread_setname_np(::pthread_self(), "rs-tracer");
    static_cast<TraceController*>(self)->run();
    return nullptr;
}

void TraceController::run() {
    // acquire: pairs with stop()'s release.
    while (!stop_.load(std::memory_order_acquire)) {
        std::uint32_t work = 0;
        {
            std::lock_guard<std::mutex> lock(work_);
            work = do_work();
        }
        idle(work);
    }
}

// Reads shared memory only (the lane state is under work_, which we do not hold).
bool TraceController::submits_waiting() const {
    for (std::uint32_t i = 0; i < region_->lanes(); ++i) {
        LaneControl& control = region_->lane(i);
        // acquire: SYNC: queue-publish (re-read under work_ when we drain).
        if (std::atomic_ref<std::uint64_t>(control.submit_tail).load(std::memory_order_acquire) !=
            std::atomic_ref<std::uint64_t>(control.submit_head).load(std::memory_order_relaxed)) {
            return true;
        }
    }
    return false;
}

void TraceController::idle(std::uint32_t work) {
    if (work != 0) return;
    TraceHeader& header = region_->header();
    const WaitStrategy strategy{WaitKind::kFutex, 0, 0, -1};
    std::uint64_t parked = 0;
    const WaitResult result = wait_until(
        strategy, submit_words(header), next_check_ns_,
        [this] { return stop_.load(std::memory_order_acquire) || submits_waiting(); }, &parked);
    if (parked == 0) return;
    if (stop_.load(std::memory_order_acquire)) {
        kicks_.fetch_add(1, std::memory_order_relaxed);
    } else if (result == WaitResult::kReady) {
        add(header.wakeups, 1);
    } else {
        add(header.timer_wakeups, 1);
    }
}

void TraceController::sync_sinks() {
    for (std::uint32_t i = 0; i < region_->lanes(); ++i) {
        if (lanes_[i].sink.sync() != RS_OK) sink_errors_.fetch_add(1, std::memory_order_relaxed);
    }
}

// Ask, wait a little, then snapshot (docs/tracer.md, "Flush on demand"): a
// lane is done when its agent acknowledged (its partial windows were
// submitted and are drained below) or when snapshot_lane dumped the
// committed prefix of its active index window and marked detail window. A
// snapshot that could not be taken (the agent was reusing a window in place
// or kept switching windows) is retried every 200 us until `timeout_ns`.
rs_result TraceController::flush_cycle(std::uint64_t timeout_ns) {
    TraceHeader& header = region_->header();
    std::uint64_t target = 0;
    {
        std::lock_guard<std::mutex> lock(work_);
        target = get(header.flush_request) + 1;
        // Agents compare it on every emit (relaxed): advisory, acted on when seen.
        put(header.flush_request, target);
    }
    const std::uint64_t deadline = deadline_after(timeout_ns);
    const std::uint64_t grace = deadline_after(std::min(timeout_ns, kFlushGraceNs));
    bool done = false;
    bool covered[kMaxLanes] = {};
    for (;;) {
        {
            std::lock_guard<std::mutex> lock(work_);
            for (std::uint32_t i = 0; i < region_->lanes(); ++i) drain_lane(i);
            const bool snapshot_now = monotonic_ns() >= grace;
            done = true;
            for (std::uint32_t i = 0; i < region_->lanes(); ++i) {
                LaneControl& control = region_->lane(i);
                const bool active = std::atomic_ref<std::uint32_t>(control.state).load(std::memory_order_acquire) ==
                                    static_cast<std::uint32_t>(LaneState::kActive);
                // acquire: the agent's submits are published before its acknowledgement.
                if (!active || covered[i] ||
                    std::atomic_ref<std::uint64_t>(control.flush_ack).load(std::memory_order_acquire) >= target) {
                    continue;
                }
                if (snapshot_now) covered[i] = snapshot_lane(i);
                if (!covered[i]) done = false;
            }
        }
        if (done || monotonic_ns() >= deadline) break;
        const timespec nap{0, 200'000};
        ::nanosleep(&nap, nullptr);
    }
    std::lock_guard<std::mutex> lock(work_);
    for (std::uint32_t i = 0; i < region_->lanes(); ++i) drain_lane(i);
    check_lanes();
    if (sync_on_flush_) sync_sinks();
    add(header.flushes_served, 1);
    return done ? RS_OK : RS_TIMEOUT;
}

rs_result TraceController::flush(std::uint64_t timeout_ns) {
    std::lock_guard<std::mutex> lock(control_);
    return flush_cycle(timeout_ns);
}

rs_result TraceController::stop(std::uint64_t timeout_ns) {
    std::lock_guard<std::mutex> lock(control_);
    if (running()) {
        // release: pairs with run()'s acquire.
        stop_.store(true, std::memory_order_release);
        wake_unconditionally(submit_words(region_->header()), -1);
        ::pthread_join(thread_, nullptr);
        running_.store(false, std::memory_order_release);
        put(region_->header().controller_running, 0u);
    }
    const rs_result result = flush_cycle(timeout_ns);
    std::lock_guard<std::mutex> work(work_);
    for (std::uint32_t i = 0; i < region_->lanes(); ++i) lanes_[i].sink.close();
    return result;
}

rs_result TraceController::stats_json(char** out) const {
    JsonOut json;
    json.begin_object();
    region_json(json, *region_);
    json.field("running", running())
        .field("sink_dir", sink_dir_)
        .field("sink_errors", sink_errors_.load(std::memory_order_relaxed))
        .field("kicks", kicks_.load(std::memory_order_relaxed));
    lanes_json(json, *region_);
    json.end_object();
    *out = json.finish();
    return *out != nullptr ? RS_OK : fail(RS_ERR_NO_MEMORY, "tracer controller stats: out of memory");
}

}  // namespace ringside::trace
