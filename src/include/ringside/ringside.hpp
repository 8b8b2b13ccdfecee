// ringside.hpp - the C++ layer: move-only RAII handles over the C API
// (ringside.h, sidecar.h). Header-only; it calls nothing but rs_* functions,
// so it works against the shared library (ringside::core).
//
//   Region         rs_region_t, created or opened by name
//   ProducerRing   the producer side of one ring   } separate types: calling a
//   ConsumerRing   the consumer side of one ring   } consumer function on a producer does not compile
//   Sidecar        rs_sidecar_t, the worker thread
//   SidecarHost    a region with a command and an event ring, a sidecar, and a
//                  v-table built from C++ callables
//
// Rules:
//  - Failures (rs_result < 0, and RS_BUSY where an object could not be made)
//    throw ringside::Error carrying the code and the library's message.
//    Expected outcomes are returned: FULL and TIMEOUT as `false`, EMPTY as an
//    empty std::optional.
//  - Every handle class is move-only. A destructor is noexcept and calls the
//    C destroy function once; a moved-from object holds nothing and destroys
//    nothing. Destroy in the order sidecar, rings, region: declare them in
//    creation order (region, rings, sidecar) and C++ destroys them right. A
//    region whose rings are still alive cannot be destroyed (RS_BUSY): its
//    destructor then leaves it mapped until the process exits; close() throws.
//    A Sidecar's destructor stops it (RS_STOP_DISCARD) before destroying it:
//    declare it after whatever its v-table uses.
//  - Thread contracts are those of the C API: a ring object is used by one
//    thread at a time; Region, Sidecar and SidecarHost's control functions
//    (start, stop) from any thread.
#pragma once

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "ringside/ringside.h"

namespace ringside {

// A failed rs_* call: the code and the library's last-error message for it.
// what() is "<function>: <message> [RS_ERR_...]".
class Error : public std::runtime_error {
public:
    Error(rs_result code, const std::string& message, std::string_view function = {})
        : std::runtime_error(describe(code, message, function)), code_(code), message_(message) {}
    [[nodiscard]] rs_result code() const noexcept { return code_; }
    // The library's message alone.
    [[nodiscard]] const std::string& message() const noexcept { return message_; }

private:
    static std::string describe(rs_result code, const std::string& message, std::string_view function) {
        std::string text;
        if (!function.empty() && message.compare(0, function.size(), function) != 0) {
            text.append(function).append(": ");
        }
        return text.append(message).append(" [").append(rs_result_name(code)).append("]");
    }

    rs_result code_;
    std::string message_;
};

// Timeouts: a std::chrono duration; zero tries once; wait_forever has no deadline.
inline constexpr std::chrono::nanoseconds wait_forever = std::chrono::nanoseconds::max();
inline constexpr std::chrono::nanoseconds default_stop_timeout = std::chrono::seconds(5);

// Views of text as bytes and back, for payloads that are strings.
inline std::span<const std::byte> bytes_of(std::string_view text) noexcept {
    return std::as_bytes(std::span<const char>(text.data(), text.size()));
}
inline std::string_view text_of(std::span<const std::byte> bytes) noexcept {
    return {reinterpret_cast<const char*>(bytes.data()), bytes.size()};
}

// "/<prefix>.<pid>.<n>": a shm name no other process or earlier call uses.
inline std::string unique_shm_name(std::string_view prefix) {
    static std::atomic<std::uint32_t> counter{0};
    // relaxed is enough: only uniqueness matters, not order.
    const std::uint32_t n = counter.fetch_add(1, std::memory_order_relaxed);
    return "/" + std::string(prefix) + "." + std::to_string(::getpid()) + "." + std::to_string(n);
}

namespace detail {

// Throws Error for `code`, with this thread's last-error message when it
// belongs to this failure (copied at once: it is valid until the next rs_ call).
[[noreturn]] inline void raise(rs_result code, const char* function) {
    std::string message = rs_last_error_message();
    if (message.empty() || rs_last_error_code() != code) message = "failed";
    throw Error(code, message, function);
}
inline rs_result check(rs_result result, const char* function) {
    if (result < 0) raise(result, function);
    return result;
}
inline std::uint64_t timeout_ns(std::chrono::nanoseconds timeout) noexcept {
    if (timeout == wait_forever) return RS_WAIT_FOREVER;
    return timeout.count() <= 0 ? 0 : static_cast<std::uint64_t>(timeout.count());
}

// A JSON string the library allocated: freed with rs_string_free, copied out.
struct StringFree {
    void operator()(char* text) const noexcept { rs_string_free(text); }
};
template <typename Fn>
std::string json(Fn&& call, const char* function) {
    char* raw = nullptr;
    const rs_result result = call(&raw);
    std::unique_ptr<char, StringFree> owned(raw);
    check(result, function);
    return owned ? std::string(owned.get()) : std::string();
}

inline rs_result stop_and_destroy(rs_sidecar_t* sidecar) noexcept {
    // After a stop that timed out the thread still runs: destroy then
    // returns RS_BUSY and the library keeps the sidecar (freeing it would crash).
    (void)rs_sidecar_stop(sidecar, RS_STOP_DISCARD, timeout_ns(default_stop_timeout));
    return rs_sidecar_destroy(sidecar);
}

// One owned C handle: move-only, destroyed once, null when moved from.
template <typename T, rs_result (*Destroy)(T*)>
class Handle {
public:
    Handle() noexcept = default;
    explicit Handle(T* handle) noexcept : handle_(handle) {}
    Handle(Handle&& other) noexcept : handle_(std::exchange(other.handle_, nullptr)) {}
    Handle& operator=(Handle&& other) noexcept {
        if (this != &other) {
            reset();
            handle_ = std::exchange(other.handle_, nullptr);
        }
        return *this;
    }
    Handle(const Handle&) = delete;
    Handle& operator=(const Handle&) = delete;
    ~Handle() { reset(); }

    [[nodiscard]] T* get() const noexcept { return handle_; }
    [[nodiscard]] T* release() noexcept { return std::exchange(handle_, nullptr); }
    void reset() noexcept {
        if (T* handle = std::exchange(handle_, nullptr)) (void)Destroy(handle);
    }
    // Destroys now and throws on failure; RS_BUSY keeps the handle for a retry.
    void close(const char* function) {
        if (handle_ == nullptr) return;
        const rs_result result = Destroy(handle_);
        if (result != RS_BUSY) handle_ = nullptr;
        if (result != RS_OK) raise(result, function);
    }

private:
    T* handle_ = nullptr;
};

}  // namespace detail

class Region {
public:
    [[nodiscard]] static rs_region_options default_options() noexcept {
        rs_region_options options;
        rs_region_options_init(&options);
        return options;
    }
    // Creates a new region (RS_ERR_EXISTS if the name is taken).
    static Region create(const std::string& name, const rs_region_options& options = default_options()) {
        rs_region_t* handle = nullptr;
        if (const rs_result r = rs_region_create(name.c_str(), &options, &handle); r != RS_OK) {
            detail::raise(r, "rs_region_create");
        }
        return Region(handle);
    }
    // Opens a region another handle or process created (RS_BUSY if its creator is not finished).
    static Region open(const std::string& name, const rs_region_options& options = default_options()) {
        rs_region_t* handle = nullptr;
        if (const rs_result r = rs_region_open(name.c_str(), &options, &handle); r != RS_OK) {
            detail::raise(r, "rs_region_open");
        }
        return Region(handle);
    }
    // Removes a name left behind (e.g. by a crash): false if there was none.
    static bool unlink(const std::string& name, rs_backing backing = RS_BACKING_SHM) {
        const rs_result r = rs_region_unlink(name.c_str(), backing);
        if (r == RS_ERR_NOT_FOUND) return false;
        detail::check(r, "rs_region_unlink");
        return true;
    }

    Region() noexcept = default;

    [[nodiscard]] rs_region_info info() const {
        rs_region_info info{};
        info.struct_size = sizeof info;
        detail::check(rs_region_get_info(get(), &info), "rs_region_get_info");
        return info;
    }
    [[nodiscard]] std::string stats_json() const {
        return detail::json([&](char** out) { return rs_region_stats_json(get(), out); }, "rs_region_stats_json");
    }
    [[nodiscard]] std::string ring_stats_json(std::uint32_t index) const {
        return detail::json([&](char** out) { return rs_region_ring_stats_json(get(), index, out); },
                            "rs_region_ring_stats_json");
    }
    void flush() { detail::check(rs_region_flush(get()), "rs_region_flush"); }
    // Destroys now; throws Error(RS_BUSY) and keeps the region while rings or a sidecar use it.
    void close() { handle_.close("rs_region_destroy"); }

    [[nodiscard]] rs_region_t* get() const noexcept { return handle_.get(); }
    // Gives up ownership: the caller destroys the handle with rs_region_destroy.
    [[nodiscard]] rs_region_t* release_handle() noexcept { return handle_.release(); }
    explicit operator bool() const noexcept { return get() != nullptr; }

private:
    explicit Region(rs_region_t* handle) noexcept : handle_(handle) {}
    detail::Handle<rs_region_t, rs_region_destroy> handle_;
};

// What the two sides of a ring share. Not made on its own.
class RingBase {
public:
    [[nodiscard]] std::string stats_json() const {
        return detail::json([&](char** out) { return rs_ring_stats_json(get(), out); }, "rs_ring_stats_json");
    }
    // How the waiting calls wait and how this side wakes its peer. Ring-owning thread.
    void set_wait_strategy(const rs_wait_strategy& strategy) {
        detail::check(rs_ring_set_wait_strategy(get(), &strategy), "rs_ring_set_wait_strategy");
    }
    void close() { handle_.close("rs_ring_destroy"); }

    [[nodiscard]] rs_ring_t* get() const noexcept { return handle_.get(); }
    [[nodiscard]] rs_ring_t* release_handle() noexcept { return handle_.release(); }
    explicit operator bool() const noexcept { return get() != nullptr; }

protected:
    RingBase() noexcept = default;
    RingBase(Region& region, std::uint32_t index, rs_role role) {
        rs_ring_t* handle = nullptr;
        if (const rs_result r = rs_ring_create(region.get(), index, role, &handle); r != RS_OK) {
            detail::raise(r, "rs_ring_create");
        }
        handle_ = detail::Handle<rs_ring_t, rs_ring_destroy>(handle);
    }

private:
    detail::Handle<rs_ring_t, rs_ring_destroy> handle_;
};

// The producer side. Every function: the ring-owning thread only.
class ProducerRing : public RingBase {
public:
    // Attaches as ring `index`'s producer (Error RS_BUSY if a live owner holds it).
    static ProducerRing create(Region& region, std::uint32_t index) { return ProducerRing(region, index); }
    ProducerRing() noexcept = default;

    // Copies `record` in and commits it; false if the ring is full now.
    [[nodiscard]] bool try_write(std::span<const std::byte> record) {
        return detail::check(rs_ring_write(get(), record.data(), record.size()), "rs_ring_write") == RS_OK;
    }
    // Waits for room with the ring's wait strategy; false on timeout.
    [[nodiscard]] bool write_wait(std::span<const std::byte> record, std::chrono::nanoseconds timeout) {
        const rs_result r = rs_ring_write_wait(get(), record.data(), record.size(), detail::timeout_ns(timeout));
        return detail::check(r, "rs_ring_write_wait") == RS_OK;
    }
    // Room for `length` bytes inside shared memory, valid until commit(); empty if full now.
    [[nodiscard]] std::optional<std::span<std::byte>> try_reserve(std::size_t length) {
        void* data = nullptr;
        if (detail::check(rs_ring_reserve(get(), length, &data), "rs_ring_reserve") != RS_OK) return std::nullopt;
        return std::span<std::byte>(static_cast<std::byte*>(data), length);
    }
    [[nodiscard]] std::optional<std::span<std::byte>> reserve_wait(std::size_t length,
                                                                   std::chrono::nanoseconds timeout) {
        void* data = nullptr;
        const rs_result r = rs_ring_reserve_wait(get(), length, &data, detail::timeout_ns(timeout));
        if (detail::check(r, "rs_ring_reserve_wait") != RS_OK) return std::nullopt;
        return std::span<std::byte>(static_cast<std::byte*>(data), length);
    }
    // Publishes every reservation since the last commit at once.
    void commit() { detail::check(rs_ring_commit(get()), "rs_ring_commit"); }

private:
    ProducerRing(Region& region, std::uint32_t index) : RingBase(region, index, RS_ROLE_PRODUCER) {}
};

// A record in place, inside shared memory: valid until ConsumerRing::release().
using Record = std::span<const std::byte>;

// The consumer side. Every function: the ring-owning thread only.
class ConsumerRing : public RingBase {
public:
    static ConsumerRing create(Region& region, std::uint32_t index) { return ConsumerRing(region, index); }
    ConsumerRing() noexcept = default;

    // The oldest unreleased record (the same one until release()); empty if none.
    [[nodiscard]] std::optional<Record> peek() {
        rs_record record{};
        if (detail::check(rs_ring_peek(get(), &record), "rs_ring_peek") != RS_OK) return std::nullopt;
        return Record(static_cast<const std::byte*>(record.data), record.length);
    }
    // Up to out.size() oldest records; how many (0 if none).
    [[nodiscard]] std::size_t peek_batch(std::span<rs_record> out) {
        std::size_t count = 0;
        const rs_result r = rs_ring_peek_batch(get(), out.data(), out.size(), &count);
        return detail::check(r, "rs_ring_peek_batch") == RS_OK ? count : 0;
    }
    // Releases everything the last peek returned.
    void release() { detail::check(rs_ring_release(get()), "rs_ring_release"); }
    // Waits with the ring's wait strategy until a record can be peeked; false on timeout.
    [[nodiscard]] bool wait_readable(std::chrono::nanoseconds timeout) {
        const rs_result r = rs_ring_wait_readable(get(), detail::timeout_ns(timeout));
        return detail::check(r, "rs_ring_wait_readable") == RS_OK;
    }
    // Copies the oldest record into `buffer` and releases it: its length, or
    // empty if none. Error RS_ERR_TOO_SMALL (record kept) if it does not fit.
    [[nodiscard]] std::optional<std::size_t> read(std::span<std::byte> buffer) {
        std::size_t length = 0;
        const rs_result r = rs_ring_read(get(), buffer.data(), buffer.size(), &length);
        if (detail::check(r, "rs_ring_read") != RS_OK) return std::nullopt;
        return length;
    }
    // Copies the oldest record into a new vector and releases it; empty if none.
    [[nodiscard]] std::optional<std::vector<std::byte>> read() {
        const std::optional<Record> record = peek();
        if (!record) return std::nullopt;
        std::vector<std::byte> copy(record->begin(), record->end());
        release();
        return copy;
    }

private:
    ConsumerRing(Region& region, std::uint32_t index) : RingBase(region, index, RS_ROLE_CONSUMER) {}
};

// The worker thread. It attaches the consumer side of the command ring (and
// for RING delivery the producer side of the event ring) of a region.
class Sidecar {
public:
    [[nodiscard]] static rs_sidecar_options default_options() noexcept {
        rs_sidecar_options options;
        rs_sidecar_options_init(&options);
        return options;
    }
    static Sidecar create(Region& region, const rs_sidecar_options& options = default_options()) {
        rs_sidecar_t* handle = nullptr;
        if (const rs_result r = rs_sidecar_create(region.get(), &options, &handle); r != RS_OK) {
            detail::raise(r, "rs_sidecar_create");
        }
        return Sidecar(handle);
    }
    Sidecar() noexcept = default;

    // Starts the thread. The caller keeps `vtable`'s functions and user
    // pointer valid until stop() returns true (NULL is fine for RING delivery).
    // Every result but RS_OK throws, RS_TIMEOUT included: the thread did not
    // report in time and may still exist, so stop() (or the destructor) joins it.
    void start(const rs_host_vtable* vtable) {
        if (const rs_result r = rs_sidecar_start(get(), vtable); r != RS_OK) detail::raise(r, "rs_sidecar_start");
    }
    // Stops and joins: true when no callback will run again, false on timeout
    // (a callback has not returned; call stop again). Never from inside a callback.
    [[nodiscard]] bool stop(rs_stop_mode mode = RS_STOP_DRAIN, std::chrono::nanoseconds timeout = default_stop_timeout) {
        return detail::check(rs_sidecar_stop(get(), mode, detail::timeout_ns(timeout)), "rs_sidecar_stop") == RS_OK;
    }
    [[nodiscard]] rs_sidecar_stats stats() const {
        rs_sidecar_stats stats{};
        stats.struct_size = sizeof stats;
        detail::check(rs_sidecar_get_stats(get(), &stats), "rs_sidecar_get_stats");
        return stats;
    }
    [[nodiscard]] rs_sidecar_sched sched() const {
        rs_sidecar_sched sched{};
        sched.struct_size = sizeof sched;
        detail::check(rs_sidecar_get_sched(get(), &sched), "rs_sidecar_get_sched");
        return sched;
    }
    [[nodiscard]] std::string stats_json() const {
        return detail::json([&](char** out) { return rs_sidecar_stats_json(get(), out); }, "rs_sidecar_stats_json");
    }
    [[nodiscard]] std::string last_error_message() const {
        char buffer[512] = {};
        detail::check(rs_sidecar_last_error_message(get(), buffer, sizeof buffer), "rs_sidecar_last_error_message");
        return buffer;
    }
    // Stops (RS_STOP_DISCARD, default_stop_timeout) and destroys now, as the
    // destructor does; Error(RS_BUSY), handle kept, if the stop timed out.
    void close() { handle_.close("rs_sidecar_destroy"); }

    [[nodiscard]] rs_sidecar_t* get() const noexcept { return handle_.get(); }
    [[nodiscard]] rs_sidecar_t* release_handle() noexcept { return handle_.release(); }
    explicit operator bool() const noexcept { return get() != nullptr; }

private:
    explicit Sidecar(rs_sidecar_t* handle) noexcept : handle_(handle) {}
    // The destructor stops (RS_STOP_DISCARD, default_stop_timeout), then destroys.
    detail::Handle<rs_sidecar_t, detail::stop_and_destroy> handle_;
};

// RING delivery, host side: waits at most `timeout` for events on `events`,
// calls vtable.on_event for up to `max_events` of them on this thread and
// releases them; how many (0 on timeout).
inline std::uint32_t dispatch_events(ConsumerRing& events, const rs_host_vtable& vtable, std::uint32_t max_events,
                                     std::chrono::nanoseconds timeout) {
    std::uint32_t dispatched = 0;
    const rs_result r =
        rs_host_dispatch_events(events.get(), &vtable, max_events, detail::timeout_ns(timeout), &dispatched);
    detail::check(r, "rs_host_dispatch_events");
    return dispatched;
}

// ---- SidecarHost -------------------------------------------------------------

// The host of the seeds' design: owns a region with a command ring and an
// event ring, builds the v-table from C++ callables, starts and stops the
// sidecar. Init in the constructor, start(), send()/try_send(), stop(),
// dispose in the destructor.
//
//   ringside::SidecarHost host({.on_event = [&](ringside::Record e) { ... }});
//   host.start();
//   (void)host.send(ringside::bytes_of("hello"), std::chrono::seconds(1));
//   (void)host.stop();
//
// Pinning: the C callbacks are static trampolines whose user pointer is the
// address of a heap block (State) holding the callables. The block never
// moves, so a SidecarHost may be moved, even while its sidecar runs, without
// the sidecar thread ever seeing a dangling pointer; the block is freed only
// after the sidecar is joined. If the destructor's stop times out (a callback
// or processor has not returned), the thread may still use the block and the
// region: the destructor then leaks them on purpose rather than free memory
// a running thread uses.
//
// Callbacks run on the sidecar thread (VTABLE delivery, the default) or on
// the thread calling dispatch() (RING delivery). An exception thrown by a
// callback cannot cross the C frames: it is caught, counted in
// callback_exceptions(), and a throwing processor fails that command
// (RS_ERR_INTERNAL, reported to on_error).
struct SidecarHostCallbacks {
    std::function<void(Record event)> on_event{};  // required
    std::function<void(rs_result code, std::string_view message)> on_error{};
    std::function<void(rs_log_level level, std::string_view message)> on_log{};
    // Writes the event for `command` into `event` and returns its length, or
    // empty for no event. Unset: the options' processor (default echo).
    std::function<std::optional<std::size_t>(Record command, std::span<std::byte> event)> process{};
};

struct SidecarHostConfig {
    std::string name{};  // shm name; empty: unique_shm_name("ringside-host")
    // ring_count is raised to hold the sidecar's command and event rings.
    rs_region_options region = Region::default_options();
    // processor and processor_user are replaced when a process callback is set.
    rs_sidecar_options sidecar = Sidecar::default_options();
    std::chrono::nanoseconds stop_timeout = default_stop_timeout;  // the destructor's stop
};

class SidecarHost {
public:
    using Callbacks = SidecarHostCallbacks;
    using Config = SidecarHostConfig;

    explicit SidecarHost(Callbacks callbacks, Config config = {})
        : state_(std::make_unique<State>(std::move(callbacks))), stop_timeout_(config.stop_timeout) {
        if (!state_->callbacks.on_event) throw Error(RS_ERR_INVALID_ARGUMENT, "on_event is required", "SidecarHost");
        name_ = config.name.empty() ? unique_shm_name("ringside-host") : std::move(config.name);
        rs_sidecar_options& options = config.sidecar;
        const std::uint32_t rings = std::max(options.command_ring, options.event_ring) + 1;
        config.region.ring_count = std::max(config.region.ring_count, rings);
        if (state_->callbacks.process) {
            options.processor = &State::process;
            options.processor_user = state_.get();
        }
        // Each member is complete before the next is made: if one throws,
        // the ones already made are destroyed in reverse order.
        region_ = Region::create(name_, config.region);
        commands_ = ProducerRing::create(region_, options.command_ring);
        sidecar_ = Sidecar::create(region_, options);
        if (options.delivery == RS_DELIVER_RING) events_ = ConsumerRing::create(region_, options.event_ring);
    }
    SidecarHost(SidecarHost&&) noexcept = default;
    // Assigning would free the target's State before its sidecar is stopped.
    SidecarHost& operator=(SidecarHost&&) = delete;

    ~SidecarHost() {
        if (!sidecar_) return;  // moved from
        const rs_result stopped = rs_sidecar_stop(sidecar_.get(), RS_STOP_DISCARD, detail::timeout_ns(stop_timeout_));
        if (stopped != RS_OK) {
            // Not joined (timed out, or destroyed from inside one of its own
            // callbacks): a callback may still use State and the region, so leak them.
            (void)sidecar_.release_handle();
            (void)events_.release_handle();
            (void)commands_.release_handle();
            (void)region_.release_handle();
            (void)state_.release();
        }
        // Otherwise members go in reverse order: sidecar, rings, region, State.
    }

    // Starts the sidecar thread with the v-table. Throws as Sidecar::start.
    void start() { sidecar_.start(&state_->vtable); }
    // Stops and joins: true when no callback will run again, false on timeout.
    [[nodiscard]] bool stop(rs_stop_mode mode = RS_STOP_DRAIN, std::chrono::nanoseconds timeout = default_stop_timeout) {
        return sidecar_.stop(mode, timeout);
    }

    // Sends a command (copied into the command ring). One thread at a time.
    [[nodiscard]] bool try_send(std::span<const std::byte> command) { return commands_.try_write(command); }
    [[nodiscard]] bool send(std::span<const std::byte> command, std::chrono::nanoseconds timeout) {
        return commands_.write_wait(command, timeout);
    }
    // RING delivery: runs on_event for up to `max_events` waiting events on
    // this thread, waiting at most `timeout` for the first; how many.
    std::uint32_t dispatch(std::uint32_t max_events, std::chrono::nanoseconds timeout) {
        return dispatch_events(events_, state_->vtable, max_events, timeout);
    }

    [[nodiscard]] const std::string& name() const noexcept { return name_; }
    [[nodiscard]] Region& region() noexcept { return region_; }
    [[nodiscard]] Sidecar& sidecar() noexcept { return sidecar_; }
    [[nodiscard]] ProducerRing& commands() noexcept { return commands_; }
    [[nodiscard]] ConsumerRing& events() noexcept { return events_; }  // RING delivery only
    [[nodiscard]] std::uint64_t callback_exceptions() const noexcept {
        // relaxed is enough: a counter, read after stop() joined the thread.
        return state_ ? state_->exceptions.load(std::memory_order_relaxed) : 0;
    }

private:
    struct State {
        explicit State(Callbacks c) : callbacks(std::move(c)) {
            vtable = {sizeof vtable, RS_HOST_VTABLE_ABI_VERSION, this, &on_event,
                      callbacks.on_error ? &on_error : nullptr, callbacks.on_log ? &on_log : nullptr};
        }
        void caught() noexcept { exceptions.fetch_add(1, std::memory_order_relaxed); }

        static void on_event(const void* data, std::size_t length, void* user) noexcept {
            auto* self = static_cast<State*>(user);
            try {
                self->callbacks.on_event(Record(static_cast<const std::byte*>(data), length));
            } catch (...) {
                self->caught();
            }
        }
        static void on_error(rs_result code, const char* message, void* user) noexcept {
            auto* self = static_cast<State*>(user);
            try {
                self->callbacks.on_error(code, message != nullptr ? message : "");
            } catch (...) {
                self->caught();
            }
        }
        static void on_log(rs_log_level level, const char* message, void* user) noexcept {
            auto* self = static_cast<State*>(user);
            try {
                self->callbacks.on_log(level, message != nullptr ? message : "");
            } catch (...) {
                self->caught();
            }
        }
        static std::int32_t process(const void* command, std::size_t command_length, void* event,
                                    std::size_t event_capacity, std::size_t* event_length, void* user) noexcept {
            auto* self = static_cast<State*>(user);
            try {
                const std::optional<std::size_t> length =
                    self->callbacks.process(Record(static_cast<const std::byte*>(command), command_length),
                                            std::span<std::byte>(static_cast<std::byte*>(event), event_capacity));
                if (!length) return RS_PROCESS_SKIP;
                if (*length > event_capacity) return RS_ERR_TOO_LARGE;
                *event_length = *length;
                return RS_PROCESS_EMIT;
            } catch (...) {
                self->caught();
                return RS_ERR_INTERNAL;
            }
        }

        Callbacks callbacks;
        rs_host_vtable vtable{};
        std::atomic<std::uint64_t> exceptions{0};
    };

    // Declared so that C++ destroys them sidecar first, then the rings, the
    // region, and State last (nothing calls into it once the sidecar is gone).
    std::unique_ptr<State> state_;
    std::chrono::nanoseconds stop_timeout_;
    std::string name_;
    Region region_;
    ProducerRing commands_;
    ConsumerRing events_;
    Sidecar sidecar_;
};

}  // namespace ringside
