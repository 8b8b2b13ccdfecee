// The one driver every queue runs under: the host loop (closed-loop
// ping-pong, open loop at a fixed rate, or throughput flood), written once
// against a Port, and the echo loop every peer's other side runs, written
// once against a payload link (peers/payload_link.hpp). ringside's product
// path has its own echo side (the sidecar) and its own Port
// (ringside_transport.hpp); everything else here is shared, so queues
// differ only in their type.
//
// A Port is the host's end of a round trip:
//   template <class Fill> Io try_send(Fill&& fill)       never waits; kRetry when full
//   template <class OnReply> Io receive(std::uint64_t deadline, bool wait, OnReply&& on_reply)
//       calls on_reply(seq, verdict, tick) for each reply available: tick
//       is when the host saw it (taken before validating it), verdict the
//       port's return-leg SequenceChecker's; with `wait`, first waits
//       (the host's strategy) until one arrives or the deadline tick passes.
//       kDone if it handled at least one, kRetry (nothing, no wait),
//       kTimedOut, or kFailed/kAborted.
//   std::uint64_t max_in_flight() const
#pragma once

#include <sched.h>
#include <time.h>

#include <atomic>
#include <cstdint>
#include <cstring>
#include <functional>
#include <string>

#include "peers/payload_link.hpp"
#include "runner/clock.hpp"
#include "runner/message.hpp"
#include "runner/recorder.hpp"
#include "runner/scenario.hpp"

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace ringside::runner {

using peers::Io;
using Verdict = SequenceChecker::Verdict;

// A deliberate fault, for proving that validation catches it (--inject), or
// a deliberate slowdown, for proving that a comparison catches it (kSlow:
// the host spins `seq` nanoseconds before every send, measured time included).
struct Fault {
    enum class Kind { kNone, kLoss, kDuplicate, kCorrupt, kReorder, kSlow };
    Kind kind = Kind::kNone;
    std::uint64_t seq = 0;  // the message to spoil; for kSlow the delay in ns
};
// "loss:N", "dup:N", "corrupt:N", "reorder:N" (N >= 1), "slow:NS" (NS >= 1).
bool parse_fault(const std::string& text, Fault& out, std::string& error);

// Waits by retrying `attempt` with a spin-family strategy (busy_spin,
// spin_pause, yield, sleep) until it gives something other than kRetry, the
// deadline tick passes (kTimedOut) or `abort` is set (kAborted). The clock
// and the flag are read every 256 tries when spinning, every try otherwise.
template <typename Attempt>
Io spin_wait(const WaitSpec& wait, const Clock& clock, std::uint64_t deadline, const std::atomic<bool>& abort,
             Attempt&& attempt) {
    const bool tight = wait.kind == Wait::kBusySpin || wait.kind == Wait::kSpinPause;
    for (std::uint32_t i = 1;; ++i) {
        const Io io = attempt();
        if (io != Io::kRetry) return io;
        switch (wait.kind) {
            case Wait::kSpinPause:
#if defined(__x86_64__)
                _mm_pause();
#endif
                break;
            case Wait::kYield: ::sched_yield(); break;
            case Wait::kSleep: {
                const timespec nap{static_cast<time_t>(wait.sleep_ns / 1'000'000'000u),
                                   static_cast<long>(wait.sleep_ns % 1'000'000'000u)};
                ::nanosleep(&nap, nullptr);
                break;
            }
            default: break;
        }
        if (!tight || i % 256 == 0) {
            // relaxed is enough: a flag with no data behind it.
            if (abort.load(std::memory_order_relaxed)) return Io::kAborted;
            if (clock.now() >= deadline) return Io::kTimedOut;
        }
    }
}

// Native waits are cut into slices this long, so `abort` is seen promptly.
inline constexpr std::uint64_t kSliceNs = 50'000'000;

// Waits for one message on a link's receiver, the link's way.
template <typename Link, typename Receiver>
Io wait_message(Receiver& in, std::span<const std::byte>& message, const WaitSpec& wait, const Clock& clock,
                std::uint64_t deadline, const std::atomic<bool>& abort) {
    if constexpr (Link::kNativeWait) {
        for (;;) {
            if (abort.load(std::memory_order_relaxed)) return Io::kAborted;
            const std::uint64_t now = clock.now();
            const std::uint64_t left = deadline > now ? static_cast<std::uint64_t>(clock.to_ns(static_cast<std::int64_t>(deadline - now))) : 0;
            const Io io = in.wait_peek(message, left < kSliceNs ? left : kSliceNs);
            if (io != Io::kTimedOut || left <= kSliceNs) return io;
        }
    } else {
        return spin_wait(wait, clock, deadline, abort, [&] { return in.try_peek(message); });
    }
}

template <typename Link, typename Sender, typename Fill>
Io wait_send(Sender& out, Fill&& fill, const WaitSpec& wait, const Clock& clock, std::uint64_t deadline,
             const std::atomic<bool>& abort) {
    if constexpr (Link::kNativeWait) {
        for (;;) {
            if (abort.load(std::memory_order_relaxed)) return Io::kAborted;
            const std::uint64_t now = clock.now();
            const std::uint64_t left = deadline > now ? static_cast<std::uint64_t>(clock.to_ns(static_cast<std::int64_t>(deadline - now))) : 0;
            const Io io = out.wait_send(fill, left < kSliceNs ? left : kSliceNs);
            if (io != Io::kTimedOut || left <= kSliceNs) return io;
        }
    } else {
        return spin_wait(wait, clock, deadline, abort, [&] { return out.try_send(fill); });
    }
}

// What the host loop needs besides the port.
struct HostSetup {
    const Scenario* scenario = nullptr;
    const Clock* clock = nullptr;
    const MessageCodec* codec = nullptr;
    Recorder* recorder = nullptr;
    Fault fault;
    const std::atomic<bool>* abort = nullptr;
    std::function<void()> at_measure_start;  // host thread, before the first measured send (and its stamp)
    std::function<void()> at_measure_end;    // host thread, after the last measured reply
};

struct HostOutcome {
    std::string error;                 // "" when the loop completed
    std::uint64_t last_seq = 0;        // the highest sequence number sent
    std::uint64_t transmissions = 0;   // messages put in the queue (an injected loss: none; a duplicate: two)
    std::uint64_t replies = 0;         // replies of any verdict
    std::uint64_t measured_replies = 0;
    std::uint64_t measure_start = 0;   // ticks: first measured send
    std::uint64_t measure_end = 0;     // ticks: last measured reply
};

// The host loop; see the file comment. Defined in driver_host.hpp.
template <typename Port>
HostOutcome run_host(Port& port, const HostSetup& setup);

}  // namespace ringside::runner

#include "runner/driver_host.hpp"
