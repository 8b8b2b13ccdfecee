#include "sidecar/sidecar.hpp"

#include <unistd.h>

#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <cstring>

#include "common/alloc.hpp"
#include "common/error.hpp"
#include "ring/claim.hpp"
#include "wait/clock.hpp"

namespace ringside {
namespace {

// The worker parks in slices this long, so nothing it waits for can hold it
// forever even if a kick were missed (none is: see park.hpp).
constexpr std::uint64_t kIdleSliceNs = 100'000'000;

template <typename T>
void store_relaxed(T& field, T value) {
    // relaxed is enough: the status block is advisory, for inspectors.
    std::atomic_ref<T>(field).store(value, std::memory_order_relaxed);
}

}  // namespace

rs_result Sidecar::create(Region* region, const rs_sidecar_options& options, Sidecar** out) {
    const std::uint32_t rings = region->header().ring_count;
    const std::uint64_t max_payload = layout::max_payload(region->header().ring_capacity);
    const bool ring_delivery = options.delivery == RS_DELIVER_RING;
    if (options.command_ring >= rings) {
        return fail(RS_ERR_INVALID_ARGUMENT, "rs_sidecar_create: command_ring %u >= ring_count %u",
                    options.command_ring, rings);
    }
    if (ring_delivery && (options.event_ring >= rings || options.event_ring == options.command_ring)) {
        return fail(RS_ERR_INVALID_ARGUMENT,
                    "rs_sidecar_create: event_ring %u must differ from command_ring %u and be < ring_count %u",
                    options.event_ring, options.command_ring, rings);
    }
    Sidecar* self = counted_new<Sidecar>();
    if (self == nullptr) return fail(RS_ERR_NO_MEMORY, "rs_sidecar_create: out of memory");
    self->region_ = region;
    self->options_ = options;
    if (self->options_.processor == nullptr) self->options_.processor = &rs_processor_echo;
    self->ring_delivery_ = ring_delivery;
    self->status_ = &region->status();
    self->spans_ = static_cast<RecordSpan*>(counted_malloc(sizeof(RecordSpan) * options.batch));
    self->event_buffer_ = static_cast<std::byte*>(counted_malloc(options.max_event_bytes));
    if (self->spans_ == nullptr || self->event_buffer_ == nullptr) {
        counted_delete(self);
        return fail(RS_ERR_NO_MEMORY, "rs_sidecar_create: out of memory");
    }
    if (rs_result r = self->command_wait_.assign(&options.command_wait, "rs_sidecar_create (command_wait)");
        r != RS_OK) {
        counted_delete(self);
        return r;
    }
    if (rs_result r = self->event_wait_.assign(&options.event_wait, "rs_sidecar_create (event_wait)"); r != RS_OK) {
        counted_delete(self);
        return r;
    }
    SchedRequest& sched = self->sched_request_;
    sched.policy = options.policy;
    sched.priority = options.priority;
    sched.nice = options.nice;
    sched.on_refused = options.on_refused;
    std::memcpy(sched.cpu_mask, options.cpu_mask, sizeof sched.cpu_mask);
    std::memcpy(sched.thread_name, options.thread_name, sizeof sched.thread_name);

    self->command_view_ = region->ring_view(options.command_ring);
    if (rs_result r = claim_role(self->command_view_, RS_ROLE_CONSUMER, region->name(), options.command_ring);
        r != RS_OK) {
        counted_delete(self);
        return r;
    }
    if (self->consumer_.attach(self->command_view_) != RingStatus::kOk) {
        release_role(self->command_view_, RS_ROLE_CONSUMER);
        counted_delete(self);
        return fail(RS_ERR_CORRUPT, "rs_sidecar_create: command ring %u of '%s' has a misaligned read position",
                    options.command_ring, region->name());
    }
    if (ring_delivery) {
        if (max_payload < options.max_event_bytes) {
            release_role(self->command_view_, RS_ROLE_CONSUMER);
            counted_delete(self);
            return fail(RS_ERR_INVALID_ARGUMENT, "rs_sidecar_create: max_event_bytes %u exceeds the ring's %llu",
                        options.max_event_bytes, static_cast<unsigned long long>(max_payload));
        }
        self->event_view_ = region->ring_view(options.event_ring);
        if (rs_result r = claim_role(self->event_view_, RS_ROLE_PRODUCER, region->name(), options.event_ring);
            r != RS_OK) {
            release_role(self->command_view_, RS_ROLE_CONSUMER);
            counted_delete(self);
            return r;
        }
        if (self->producer_.attach(self->event_view_) != RingStatus::kOk) {
            release_role(self->event_view_, RS_ROLE_PRODUCER);
            release_role(self->command_view_, RS_ROLE_CONSUMER);
            counted_delete(self);
            return fail(RS_ERR_CORRUPT, "rs_sidecar_create: event ring %u of '%s' holds an impossible record",
                        options.event_ring, region->name());
        }
    }
    layout::StatusBlock& status = *self->status_;
    store_relaxed(status.sidecar_pid, static_cast<std::int32_t>(::getpid()));
    store_relaxed(status.commands_processed, std::uint64_t{0});
    store_relaxed(status.events_emitted, std::uint64_t{0});
    store_relaxed(status.last_error, std::int32_t{RS_OK});
    self->set_state(RS_SIDECAR_CREATED);
    *out = self;
    return RS_OK;
}

Sidecar::~Sidecar() {
    counted_free(spans_);
    counted_free(event_buffer_);
}

rs_result Sidecar::destroy(Sidecar* self) {
    {
        std::lock_guard<std::mutex> lock(self->control_);
        if (self->thread_alive_) {
            return fail(RS_BUSY,
                        "rs_sidecar_destroy: the worker thread has not been joined: call rs_sidecar_stop until it "
                        "returns RS_OK (a stuck callback keeps it alive)");
        }
    }
    release_role(self->command_view_, RS_ROLE_CONSUMER);
    if (self->ring_delivery_) release_role(self->event_view_, RS_ROLE_PRODUCER);
    store_relaxed(self->status_->sidecar_pid, std::int32_t{0});
    counted_delete(self);
    return RS_OK;
}

rs_result Sidecar::start(const rs_host_vtable* vtable) {
    std::lock_guard<std::mutex> lock(control_);
    if (thread_alive_) {
        return fail(RS_BUSY, "rs_sidecar_start: the sidecar is %s; stop it first",
                    rs_sidecar_state_name(state()));
    }
    if (vtable == nullptr && !ring_delivery_) {
        return fail(RS_ERR_INVALID_ARGUMENT, "rs_sidecar_start: RS_DELIVER_VTABLE needs a v-table");
    }
    if (vtable != nullptr) {
        if (rs_result r = rs_host_vtable_check(vtable); r != RS_OK) return r;
        vtable_ = *vtable;
    } else {
        vtable_ = rs_host_vtable{};
    }
    // relaxed is enough for these: pthread_create orders them before the thread.
    stop_requested_.store(false, std::memory_order_relaxed);
    stop_mode_.store(RS_STOP_DRAIN, std::memory_order_relaxed);
    abandoned_.store(false, std::memory_order_relaxed);
    worker_failed_.store(false, std::memory_order_relaxed);
    std::atomic_ref<std::uint32_t> startup(startup_word_);
    startup.store(static_cast<std::uint32_t>(Startup::kPending), std::memory_order_relaxed);
    if (const int err = ::pthread_create(&thread_, nullptr, &Sidecar::thread_main, this); err != 0) {
        return fail_errno(RS_ERR_NO_MEMORY, err, "rs_sidecar_start: cannot create the worker thread");
    }
    thread_alive_ = true;
    const std::uint64_t deadline = deadline_after(std::uint64_t{options_.start_timeout_ms} * 1'000'000ull);
    std::uint32_t seen = 0;
    // acquire: pairs with the worker's release; what it granted is visible.
    while ((seen = startup.load(std::memory_order_acquire)) == static_cast<std::uint32_t>(Startup::kPending) &&
           monotonic_ns() < deadline) {
        futex_wait(&startup_word_, seen, deadline);
    }
    if (seen == static_cast<std::uint32_t>(Startup::kRunning)) return RS_OK;
    if (seen == static_cast<std::uint32_t>(Startup::kFailed)) {
        ::pthread_join(thread_, nullptr);
        thread_alive_ = false;
        char message[256];
        last_error_message(message, sizeof message);
        set_state(RS_SIDECAR_FAILED);
        return fail(last_error_.load(std::memory_order_relaxed), "rs_sidecar_start: %s", message);
    }
    // The thread never reported: ask it to stop; the caller must stop() it.
    stop_requested_.store(true, std::memory_order_release);
    set_state(RS_SIDECAR_STOPPING);
    kick();
    return RS_TIMEOUT;
}

rs_result Sidecar::stop(rs_stop_mode mode, std::uint64_t timeout_ns) {
    // relaxed is enough: only the worker itself can see its own tid here.
    if (worker_tid_.load(std::memory_order_relaxed) == static_cast<int>(::gettid())) {
        return fail(RS_ERR_INVALID_ARGUMENT, "rs_sidecar_stop: called from the sidecar's own thread (a callback)");
    }
    std::lock_guard<std::mutex> lock(control_);
    if (!thread_alive_) return RS_OK;
    stop_mode_.store(mode, std::memory_order_relaxed);
    // release: the mode above is visible to the worker that sees the flag.
    stop_requested_.store(true, std::memory_order_release);
    if (state() == RS_SIDECAR_RUNNING) set_state(RS_SIDECAR_STOPPING);
    kick();
    int err = 0;
    if (timeout_ns == RS_WAIT_FOREVER) {
        err = ::pthread_join(thread_, nullptr);
    } else {
        // pthread_timedjoin_np takes CLOCK_REALTIME: convert the remaining time.
        timespec now{};
        ::clock_gettime(CLOCK_REALTIME, &now);
        const std::uint64_t now_ns =
            static_cast<std::uint64_t>(now.tv_sec) * 1'000'000'000ull + static_cast<std::uint64_t>(now.tv_nsec);
        const timespec deadline = to_timespec(now_ns + (timeout_ns > (1ull << 62) ? (1ull << 62) : timeout_ns));
        err = ::pthread_timedjoin_np(thread_, nullptr, &deadline);
    }
    if (err == ETIMEDOUT) {
        // release: the worker, once its stuck call returns, sees the flag and
        // starts no further callback.
        abandoned_.store(true, std::memory_order_release);
        kick();
        return RS_TIMEOUT;
    }
    if (err != 0) return fail_errno(RS_ERR_INTERNAL, err, "rs_sidecar_stop: joining the worker failed");
    thread_alive_ = false;
    set_state(worker_failed_.load(std::memory_order_acquire) ? RS_SIDECAR_FAILED : RS_SIDECAR_STOPPED);
    return RS_OK;
}

void* Sidecar::thread_main(void* self) {
    static_cast<Sidecar*>(self)->run();
    return nullptr;
}

void Sidecar::run() {
    worker_tid_.store(static_cast<int>(::gettid()), std::memory_order_relaxed);
    struct ClearTid {
        std::atomic<int>& tid;
        ~ClearTid() { tid.store(0, std::memory_order_relaxed); }
    } clear_tid{worker_tid_};
    rs_sidecar_sched granted{};
    granted.struct_size = sizeof granted;
    const rs_result applied = apply_sched(sched_request_, granted);
    {
        std::lock_guard<std::mutex> lock(info_);
        granted_ = granted;
    }
    std::atomic_ref<std::uint32_t> startup(startup_word_);
    if (applied != RS_OK) {
        {
            std::lock_guard<std::mutex> lock(info_);
            std::snprintf(last_error_text_, sizeof last_error_text_, "%s", rs_last_error_message());
        }
        last_error_.store(applied, std::memory_order_relaxed);
        store_relaxed(status_->last_error, static_cast<std::int32_t>(applied));
        // release: the error text and grants are visible to start().
        startup.store(static_cast<std::uint32_t>(Startup::kFailed), std::memory_order_release);
        futex_wake_all(&startup_word_);
        return;
    }
    // Not after a start that gave up waiting for us (it set STOPPING).
    if (!stop_requested()) set_state(RS_SIDECAR_RUNNING);
    startup.store(static_cast<std::uint32_t>(Startup::kRunning), std::memory_order_release);
    futex_wake_all(&startup_word_);

    log(RS_LOG_INFO, "sidecar started: tid %d, %s priority %d nice %d, %u CPU(s), waits with %s", granted.tid,
        os_policy_name(granted.granted_os_policy), granted.granted_priority, granted.granted_nice,
        granted.granted_cpu_count, rs_wait_kind_name(static_cast<rs_wait_kind>(command_wait_.strategy().kind)));
    if (granted.downgraded != 0) log(RS_LOG_WARN, "scheduling downgraded: %s", granted.refused);

    while (!stop_requested() && !worker_failed_.load(std::memory_order_relaxed)) idle(do_work());
    finish();
}

std::uint32_t Sidecar::do_work() {
    std::uint32_t count = 0;
    const RingStatus status = consumer_.peek_batch(std::span<RecordSpan>(spans_, options_.batch), count);
    if (status == RingStatus::kCorrupt) {
        worker_failed_.store(true, std::memory_order_release);
        set_state(RS_SIDECAR_FAILED);
        report_error(RS_ERR_CORRUPT, "command ring %u of '%s' holds an impossible record at position %llu",
                     options_.command_ring, region_->name(), static_cast<unsigned long long>(consumer_.cursor()));
        return 0;
    }
    if (count == 0) return 0;
    // Room goes back to the producer as soon as an eighth of the ring has been
    // processed, not after the whole batch: a producer of large records would
    // otherwise stall while the batch is processed.
    const std::uint64_t release_every = command_view_.capacity / 8;
    std::uint64_t unreleased = 0;
    std::uint32_t released = 0;
    for (std::uint32_t i = 0; i < count; ++i) {
        if (abandoned() || discarding()) {
            commands_discarded_.fetch_add(count - i, std::memory_order_relaxed);
            break;
        }
        process(spans_[i]);
        unreleased += command_view_.record_total(spans_[i].length);
        if (unreleased >= release_every && i + 1 < count) {
            (void)consumer_.release_through(spans_[i], i + 1 - released);
            released = i + 1;
            unreleased = 0;
            notify(space_words(*command_view_.control), command_wait_.peer());
        }
    }
    (void)consumer_.release();
    notify(space_words(*command_view_.control), command_wait_.peer());
    return count;
}

void Sidecar::idle(std::uint32_t work) {
    if (work != 0) return;
    std::uint64_t parked = 0;
    auto ready = [this] {
        // SYNC: publish-record (acquire), as in Consumer::peek_batch.
        return commit_word(command_view_, consumer_.cursor()).load(std::memory_order_acquire) != 0 ||
               stop_requested();
    };
    (void)wait_for(command_wait_.strategy(), data_words(*command_view_.control), kIdleSliceNs, ready, &parked);
    if (parked != 0) parks_.fetch_add(parked, std::memory_order_relaxed);
}

void Sidecar::process(const RecordSpan& command) {
    std::size_t length = 0;
    const std::int32_t outcome = options_.processor(command.data, command.length, event_buffer_,
                                                    options_.max_event_bytes, &length, options_.processor_user);
    ++local_processed_;
    commands_processed_.store(local_processed_, std::memory_order_relaxed);
    store_relaxed(status_->commands_processed, local_processed_);
    if (outcome == RS_PROCESS_EMIT) {
        if (length > options_.max_event_bytes) {
            processor_errors_.fetch_add(1, std::memory_order_relaxed);
            report_error(RS_ERR_TOO_LARGE, "processor reported a %zu-byte event; the buffer holds %u", length,
                         options_.max_event_bytes);
            return;
        }
        emit(event_buffer_, length);
    } else if (outcome != RS_PROCESS_SKIP) {
        processor_errors_.fetch_add(1, std::memory_order_relaxed);
        const rs_result code = outcome < 0 ? static_cast<rs_result>(outcome) : RS_ERR_INTERNAL;
        report_error(code, "processor failed on command #%llu (%u bytes): returned %d (%s)",
                     static_cast<unsigned long long>(local_processed_), command.length, outcome,
                     rs_result_name(code));
    }
}

void Sidecar::emit(const void* data, std::size_t length) {
    if (!ring_delivery_) {
        if (abandoned()) {
            events_dropped_.fetch_add(1, std::memory_order_relaxed);
            return;
        }
        vtable_.on_event(data, length, vtable_.user);
    } else {
        RingStatus status = producer_.try_write(data, static_cast<std::uint32_t>(length));
        while (status == RingStatus::kFull && !abandoned() && !discarding()) {
            std::uint64_t parked = 0;
            auto ready = [&] {
                status = producer_.try_write(data, static_cast<std::uint32_t>(length));
                return status != RingStatus::kFull || abandoned() || discarding();
            };
            (void)wait_for(event_wait_.strategy(), space_words(*event_view_.control), kIdleSliceNs, ready, &parked);
            if (parked != 0) parks_.fetch_add(parked, std::memory_order_relaxed);
        }
        if (status == RingStatus::kCorrupt) {
            worker_failed_.store(true, std::memory_order_release);
            set_state(RS_SIDECAR_FAILED);
            report_error(RS_ERR_CORRUPT, "event ring %u of '%s': the consumer's read position is impossible",
                         options_.event_ring, region_->name());
            return;
        }
        if (status != RingStatus::kOk) {
            events_dropped_.fetch_add(1, std::memory_order_relaxed);
            return;
        }
        notify(data_words(*event_view_.control), event_wait_.peer());
    }
    ++local_emitted_;
    events_emitted_.store(local_emitted_, std::memory_order_relaxed);
    store_relaxed(status_->events_emitted, local_emitted_);
}

void Sidecar::finish() {
    if (worker_failed_.load(std::memory_order_relaxed)) return;
    // "Already in the ring" = committed before this point: a host that keeps
    // writing cannot keep the worker draining (or discarding) forever.
    // The scan reads commit words with acquire (SYNC: publish-record) from our
    // own cursor, so it sees exactly what was committed by now; a corrupt
    // record ends it there, and the loops below report nothing further.
    const std::uint64_t end = scan_committed(command_view_, consumer_.cursor()).end;
    // Drain: process them.
    while (!abandoned() && !discarding() && consumer_.cursor() < end && do_work() != 0) {
    }
    // Discard (or what an abandoned drain left): release them unprocessed.
    std::uint64_t discarded = 0;
    while (consumer_.cursor() < end) {
        std::uint32_t count = 0;
        if (consumer_.peek_batch(std::span<RecordSpan>(spans_, options_.batch), count) != RingStatus::kOk) break;
        discarded += count;
        (void)consumer_.release();
    }
    if (discarded != 0) {
        commands_discarded_.fetch_add(discarded, std::memory_order_relaxed);
        notify(space_words(*command_view_.control), command_wait_.peer());
    }
    log(RS_LOG_INFO, "sidecar stopping: %llu command(s) processed, %llu event(s) emitted, %llu discarded",
        static_cast<unsigned long long>(local_processed_), static_cast<unsigned long long>(local_emitted_),
        static_cast<unsigned long long>(commands_discarded_.load(std::memory_order_relaxed)));
}

void Sidecar::kick() {
    wake_unconditionally(data_words(*command_view_.control), command_wait_.strategy().eventfd);
    if (ring_delivery_) wake_unconditionally(space_words(*event_view_.control), event_wait_.strategy().eventfd);
}

void Sidecar::set_state(rs_sidecar_state state) {
    state_.store(state, std::memory_order_release);
    store_relaxed(status_->sidecar_state, static_cast<std::uint32_t>(state));
}

void Sidecar::report_error(rs_result code, const char* format, ...) {
    char text[256];
    va_list args;
    va_start(args, format);
    std::vsnprintf(text, sizeof text, format, args);
    va_end(args);
    {
        std::lock_guard<std::mutex> lock(info_);
        std::memcpy(last_error_text_, text, sizeof text);
    }
    last_error_.store(code, std::memory_order_relaxed);
    store_relaxed(status_->last_error, static_cast<std::int32_t>(code));
    if (vtable_.on_error != nullptr && !abandoned()) vtable_.on_error(code, text, vtable_.user);
}

void Sidecar::log(rs_log_level level, const char* format, ...) {
    if (vtable_.on_log == nullptr || abandoned()) return;
    char text[256];
    va_list args;
    va_start(args, format);
    std::vsnprintf(text, sizeof text, format, args);
    va_end(args);
    vtable_.on_log(level, text, vtable_.user);
}

void Sidecar::stats(rs_sidecar_stats& out) const {
    out.state = state();
    out.commands_processed = commands_processed_.load(std::memory_order_relaxed);
    out.events_emitted = events_emitted_.load(std::memory_order_relaxed);
    out.events_dropped = events_dropped_.load(std::memory_order_relaxed);
    out.commands_discarded = commands_discarded_.load(std::memory_order_relaxed);
    out.processor_errors = processor_errors_.load(std::memory_order_relaxed);
    out.parks = parks_.load(std::memory_order_relaxed);
    out.last_error = last_error_.load(std::memory_order_relaxed);
    out.reserved = 0;
}

void Sidecar::sched(rs_sidecar_sched& out) const {
    std::lock_guard<std::mutex> lock(info_);
    out = granted_;
    out.struct_size = sizeof out;
    if (out.tid == 0) {  // never started: the request is all there is
        out.requested_policy = sched_request_.policy;
        out.requested_priority = sched_request_.priority;
        out.requested_nice = sched_request_.nice;
        std::memcpy(out.requested_cpu_mask, sched_request_.cpu_mask, sizeof out.requested_cpu_mask);
    }
}

void Sidecar::last_error_message(char* buffer, std::size_t capacity) const {
    if (capacity == 0) return;
    std::lock_guard<std::mutex> lock(info_);
    std::snprintf(buffer, capacity, "%s", last_error_text_);
}

}  // namespace ringside
