// The host's half of ringside's product path, shared by both ports
// (ringside_port.hpp): the region, the host's rings (command producer, and
// for ring delivery the event consumer), and ring delivery itself
// (rs_host_dispatch_events on the host thread). Private to the runner's
// ringside port files: ringside_port_threads.cpp (the sidecar in this
// process) and ringside_port_process.cpp (the sidecar in a child).
#pragma once

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "ringside/ringside.h"
#include "runner/ringside_port.hpp"

namespace ringside::runner {

// `what: ` and the library's last error message.
std::string last_error(const char* what);

class HostRingsPort : public RingsidePort {
protected:
    HostRingsPort(const Scenario& s, const Clock& clock, SequenceChecker& checker, const std::atomic<bool>& abort)
        : s_(s), clock_(clock), checker_(checker), abort_(abort) {}

    // Names and creates the region (tracked for cleanup) and opens the
    // host's rings, with the host's eventfds (-1: none). False with `error`.
    bool open_region(const int eventfds[2], std::string& error);

    // Ring delivery, host thread: dispatches up to 64 events through
    // on_dispatched_event, waiting in slices of at most kSliceNs while
    // `wait` and the deadline has not passed. Inlined into each port's
    // receive_erased, as it was written there.
    [[gnu::always_inline]] Io dispatch_events(std::uint64_t deadline, bool wait, ReplyFn fn, void* context) {
        fn_ = fn;
        context_ = context;
        for (;;) {
            const std::uint64_t now = clock_.now();
            std::uint64_t timeout = 0;
            if (wait && deadline > now) {
                timeout = std::min<std::uint64_t>(kSliceNs, static_cast<std::uint64_t>(clock_.to_ns(static_cast<std::int64_t>(deadline - now))));
            }
            std::uint32_t dispatched = 0;
            const rs_result r = rs_host_dispatch_events(events_, &dispatch_, 64, timeout, &dispatched);
            if (r == RS_OK) return Io::kDone;
            if (r != RS_TIMEOUT) return Io::kFailed;
            if (!wait) return Io::kRetry;
            if (abort_.load(std::memory_order_relaxed)) return Io::kAborted;
            if (clock_.now() >= deadline) return Io::kTimedOut;
        }
    }

    // Destroys the host's rings and the region and stops tracking its name.
    void close_region();

    Scenario s_;
    const Clock& clock_;
    SequenceChecker& checker_;
    const std::atomic<bool>& abort_;
    std::string name_;
    rs_region_t* region_ = nullptr;
    rs_ring_t* events_ = nullptr;

private:
    // ring delivery: the host thread, inside rs_host_dispatch_events.
    static void on_dispatched_event(const void* data, std::size_t length, void* user);

    rs_host_vtable dispatch_{};
    alignas(128) ReplyFn fn_ = nullptr;  // host thread, per receive
    void* context_ = nullptr;
};

// The two ports, started (RingsidePort::start picks one): null with `error`.
std::unique_ptr<RingsidePort> start_threads_port(const Scenario& s, const Clock& clock, const MessageCodec& codec,
                                                 SequenceChecker& return_checker, const std::vector<int>& allowed,
                                                 const std::atomic<bool>& abort, std::string& error);
std::unique_ptr<RingsidePort> start_process_port(const Scenario& s, const Clock& clock,
                                                 SequenceChecker& return_checker, const std::atomic<bool>& abort,
                                                 std::string& error);

}  // namespace ringside::runner
