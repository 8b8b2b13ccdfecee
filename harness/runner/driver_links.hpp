// The driver's two ends for a payload link (peers/payload_link.hpp): the
// host's LinkPort (side A) and the echo loop (side B, its own thread). The
// echo side checks each message, copies it into the return channel, then
// releases it; the host stamps a reply when it sees it, then checks it.
#pragma once

#include <pthread.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <string>
#include <vector>

#include "runner/driver.hpp"
#include "runner/os_threads.hpp"

namespace ringside::runner {

// The echo thread's report; read by the host after join (or after `state`
// says ready/failed, with acquire). Written once at the end, on its own
// lines: nothing the echo thread touches per message shares a line with
// what the host thread touches.
struct alignas(128) EchoReport {
    enum : int { kStarting = 0, kReady = 1, kFailed = 2 };
    std::atomic<int> state{kStarting};
    std::string error;
    Granted granted;
    LegCounts forward;            // what the echo side received
    std::uint64_t sent = 0;       // replies it sent (the return leg's `sent`)
    std::uint64_t last_seq = 0;   // the highest number it echoed
};

template <typename Link>
class alignas(128) LinkPort {
public:
    LinkPort(Link& link, const Scenario& scenario, const Clock& clock, SequenceChecker& checker,
             const std::atomic<bool>& abort)
        : link_(link), scenario_(scenario), clock_(clock), checker_(checker), abort_(abort) {}
    bool attach(std::string& error) { return attached_ = link_.attach(side_, 0, error); }
    ~LinkPort() {
        if (attached_) link_.detach(side_);
    }

    template <typename Fill>
    Io try_send(Fill&& fill) {
        return side_.out.try_send(fill);
    }
    template <typename OnReply>
    Io receive(std::uint64_t deadline, bool wait, OnReply&& on_reply) {
        std::span<const std::byte> message;
        Io io = wait ? wait_message<Link>(side_.in, message, scenario_.host.wait, clock_, deadline, abort_)
                     : side_.in.try_peek(message);
        for (int handled = 0; io == Io::kDone; ++handled) {
            const std::uint64_t seen = clock_.now();
            std::uint64_t seq = 0;
            const Verdict verdict = checker_.on_message(message.data(), message.size(), seq);
            if (const Io released = side_.in.release(); released != Io::kDone) return released;
            on_reply(seq, verdict, seen);
            if (handled == 63) return Io::kDone;
            io = side_.in.try_peek(message);
            if (io == Io::kRetry) return Io::kDone;
        }
        return io;
    }
    [[nodiscard]] std::uint64_t max_in_flight() const { return UINT64_MAX; }

    // Tells the echo side to finish: a message numbered 0.
    Io send_stop(const MessageCodec& codec, std::uint64_t deadline) {
        auto fill = [&](std::byte* dst) { codec.write(dst, 0); };
        return wait_send<Link>(side_.out, fill, scenario_.host.wait, clock_, deadline, abort_);
    }

private:
    Link& link_;
    const Scenario& scenario_;
    const Clock& clock_;
    SequenceChecker& checker_;
    const std::atomic<bool>& abort_;
    alignas(128) typename Link::Side side_;
    bool attached_ = false;
};

// Side B of a payload link: applies the sidecar's scheduling, then echoes
// every message until the stop message or `abort`.
template <typename Link>
void run_echo(Link& link, const Scenario& s, const Clock& clock, const MessageCodec& codec,
              const std::vector<int>& allowed, const std::atomic<bool>& abort, EchoReport& report) {
    pthread_setname_np(pthread_self(), "rs-echo");
    report.granted = apply_sched(s.sidecar.sched, s.sidecar.cpu, allowed);
    typename Link::Side side;
    std::string error;
    if (!report.granted.refused.empty() && !s.downgrade) {
        report.error = "echo thread scheduling refused: " + report.granted.refused;
    } else if (!link.attach(side, 1, error)) {
        report.error = "echo side attach: " + error;
    }
    if (!report.error.empty()) {
        report.state.store(EchoReport::kFailed, std::memory_order_release);
        return;
    }
    SequenceChecker checker(codec);
    // release: the grants above are visible to the host that sees kReady.
    report.state.store(EchoReport::kReady, std::memory_order_release);
    const std::uint64_t slice = clock.from_ns(1e8);
    std::uint64_t sent = 0;
    std::uint64_t last_seq = 0;
    for (;;) {
        std::span<const std::byte> message;
        Io io = wait_message<Link>(side.in, message, s.sidecar.wait, clock, clock.now() + slice, abort);
        if (io == Io::kTimedOut) continue;  // idle: keep waiting (abort is checked inside)
        if (io == Io::kAborted) break;
        if (io != Io::kDone) {
            report.error = std::string("echo side receive: ") + peers::io_name(io);
            break;
        }
        // Checked before echoing, as ringside's processor must check a command
        // before it returns: both sides of the comparison pay the same.
        std::uint64_t seq = 0;
        const Verdict verdict = checker.on_message(message.data(), message.size(), seq);
        if (verdict == Verdict::kStop) {
            (void)side.in.release();
            break;
        }
        if (verdict != Verdict::kCorrupt) last_seq = std::max(last_seq, seq);
        auto fill = [&](std::byte* dst) {
            std::memcpy(dst, message.data(), std::min<std::size_t>(message.size(), codec.payload()));
        };
        io = wait_send<Link>(side.out, fill, s.sidecar.wait, clock, clock.now() + clock.from_ns(s.patience_s * 1e9),
                             abort);
        if (io != Io::kDone) {
            if (io != Io::kAborted) report.error = std::string("echo side send: ") + peers::io_name(io);
            break;
        }
        ++sent;
        if (side.in.release() != Io::kDone) {
            report.error = "echo side release failed";
            break;
        }
    }
    report.forward = checker.counts();
    report.sent = sent;
    report.last_seq = last_seq;
    link.detach(side);
}

}  // namespace ringside::runner
