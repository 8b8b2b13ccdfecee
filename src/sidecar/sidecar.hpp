// The sidecar: a worker thread owned by the library that consumes commands
// from one ring of a region, runs the host's processor on each, and emits
// the results (v-table on_event in process, or an event ring for any
// process). Aeron's agent runner in shape: the loop is `idle(do_work())`.
//
// Threads: create/start/stop/destroy from any host thread (serialised by
// control_); the worker thread runs run() and is the only writer of the
// counters, the consumer of the command ring and the producer of the event
// ring. Stop is a flag (release) read by the worker (acquire) plus a kick of
// the words the worker may be parked on.
#pragma once

#include <pthread.h>

#include <atomic>
#include <cstdint>
#include <mutex>

#include "ring/consumer.hpp"
#include "ring/producer.hpp"
#include "ringside/sidecar.h"
#include "shm/region.hpp"
#include "sidecar/sched.hpp"
#include "wait/wait_config.hpp"

namespace ringside {

class Sidecar {
public:
    // Validates `options`, claims the rings, allocates the buffers (all
    // counted). On failure nothing is left claimed or allocated.
    static rs_result create(Region* region, const rs_sidecar_options& options, Sidecar** out);
    // RS_BUSY while the thread has not been joined; otherwise releases the
    // rings and frees the object.
    static rs_result destroy(Sidecar* sidecar);

    rs_result start(const rs_host_vtable* vtable);
    rs_result stop(rs_stop_mode mode, std::uint64_t timeout_ns);

    // Started and not yet joined.
    [[nodiscard]] bool thread_alive() {
        std::lock_guard<std::mutex> lock(control_);
        return thread_alive_;
    }
    [[nodiscard]] rs_sidecar_state state() const { return state_.load(std::memory_order_acquire); }
    void stats(rs_sidecar_stats& out) const;
    void sched(rs_sidecar_sched& out) const;
    void last_error_message(char* buffer, std::size_t capacity) const;
    [[nodiscard]] Region* region() const { return region_; }
    [[nodiscard]] const rs_sidecar_options& options() const { return options_; }

    Sidecar() = default;
    ~Sidecar();
    Sidecar(const Sidecar&) = delete;
    Sidecar& operator=(const Sidecar&) = delete;

private:
    enum class Startup : std::uint32_t { kPending = 0, kRunning = 1, kFailed = 2 };

    static void* thread_main(void* self);
    void run();
    std::uint32_t do_work();
    void idle(std::uint32_t work);
    void process(const RecordSpan& command);
    void emit(const void* data, std::size_t length);
    void finish();
    [[nodiscard]] bool stop_requested() const { return stop_requested_.load(std::memory_order_acquire); }
    [[nodiscard]] bool discarding() const {
        return stop_requested() && stop_mode_.load(std::memory_order_relaxed) == RS_STOP_DISCARD;
    }
    [[nodiscard]] bool abandoned() const { return abandoned_.load(std::memory_order_acquire); }
    void kick();
    void set_state(rs_sidecar_state state);
    void report_error(rs_result code, const char* format, ...) __attribute__((format(printf, 3, 4)));
    void log(rs_log_level level, const char* format, ...) __attribute__((format(printf, 3, 4)));

    // --- set at create, read-only afterwards ---
    Region* region_ = nullptr;
    rs_sidecar_options options_{};
    layout::StatusBlock* status_ = nullptr;
    RingView command_view_{};
    RingView event_view_{};
    bool ring_delivery_ = false;
    RecordSpan* spans_ = nullptr;   // `batch` entries, counted
    std::byte* event_buffer_ = nullptr;  // max_event_bytes, counted
    WaitConfig command_wait_;
    WaitConfig event_wait_;
    SchedRequest sched_request_;

    // --- host threads: lifecycle ---
    std::mutex control_;
    pthread_t thread_{};
    bool thread_alive_ = false;  // created and not yet joined (under control_)
    std::atomic<rs_sidecar_state> state_{RS_SIDECAR_CREATED};

    // --- host -> worker signals ---
    alignas(layout::kFalseSharingRange) std::atomic<bool> stop_requested_{false};
    std::atomic<rs_stop_mode> stop_mode_{RS_STOP_DRAIN};
    std::atomic<bool> abandoned_{false};  // a stop timed out: no further callbacks
    std::uint32_t startup_word_ = 0;      // Startup, futex word (atomic_ref)
    rs_host_vtable vtable_{};             // copied at start, before the thread exists

    // --- worker-owned (the worker's own lines) ---
    alignas(layout::kFalseSharingRange) Consumer consumer_;
    Producer producer_;
    std::uint64_t local_processed_ = 0;
    std::uint64_t local_emitted_ = 0;

    // --- worker -> readers: relaxed counters ---
    alignas(layout::kFalseSharingRange) std::atomic<std::uint64_t> commands_processed_{0};
    std::atomic<std::uint64_t> events_emitted_{0};
    std::atomic<std::uint64_t> events_dropped_{0};
    std::atomic<std::uint64_t> commands_discarded_{0};
    std::atomic<std::uint64_t> processor_errors_{0};
    std::atomic<std::uint64_t> parks_{0};
    std::atomic<rs_result> last_error_{RS_OK};
    std::atomic<bool> worker_failed_{false};
    std::atomic<int> worker_tid_{0};  // while run() runs: refuses stop() from a callback

    // --- rarely written, read by any thread (under info_) ---
    mutable std::mutex info_;
    rs_sidecar_sched granted_{};
    char last_error_text_[256] = {};
};

}  // namespace ringside
