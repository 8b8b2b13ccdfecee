// run_host(): the host loop of driver.hpp, for every queue.
//
// Sequence numbers are assigned in send order (1, 2, ...); the first
// `warmup` are excluded from every figure, the measured window starts with
// the next one. Each message is stamped with its intended and actual send
// time just before the send; its reply is timed when the host thread sees
// it. Closed loop: send `burst`, wait for every reply, repeat. Open loop:
// the k-th burst is due at start + k * burst / rate, sent late if the host
// fell behind (the intended time still counts: coordinated omission
// corrected); between sends the host takes replies until the next due time.
// Throughput: send whenever there is room and fewer than max_in_flight are
// unanswered, take replies in between.
#pragma once

#include <algorithm>

#include "runner/driver.hpp"

namespace ringside::runner {

template <typename Port>
HostOutcome run_host(Port& port, const HostSetup& setup) {
    const Scenario& s = *setup.scenario;
    const Clock& clock = *setup.clock;
    const MessageCodec& codec = *setup.codec;
    Recorder& recorder = *setup.recorder;
    const std::atomic<bool>& abort = *setup.abort;
    const Fault& fault = setup.fault;
    HostOutcome out;

    const std::uint64_t patience = clock.from_ns(s.patience_s * 1e9);
    const bool by_count = s.count > 0;
    const std::uint64_t last_step = s.warmup + s.count;
    const std::uint64_t window = std::min<std::uint64_t>(Recorder::max_in_flight(), port.max_in_flight());
    std::uint64_t step = 0;  // messages assigned a number so far
    bool measuring = false;
    bool sending_done = false;
    std::uint64_t measure_deadline = UINT64_MAX;

    auto on_reply = [&](std::uint64_t seq, Verdict verdict, std::uint64_t done) {
        ++out.replies;
        if (verdict != Verdict::kInOrder && verdict != Verdict::kGap && verdict != Verdict::kLate) return;
        if (seq <= s.warmup || !measuring) return;
        recorder.record(seq, done);
        ++out.measured_replies;
        out.measure_end = done;
    };
    // Moves the run between warm-up, measuring and done; true while sending goes on.
    auto advance = [&]() -> bool {
        if (sending_done) return false;
        if (!measuring && step >= s.warmup) {
            if (setup.at_measure_start) setup.at_measure_start();
            measuring = true;
            out.measure_start = clock.now();
            recorder.start(out.measure_start);
            if (!by_count) measure_deadline = out.measure_start + clock.from_ns(s.duration_s * 1e9);
        }
        if (measuring && (by_count ? step >= last_step : clock.now() >= measure_deadline)) sending_done = true;
        return !sending_done;
    };
    auto sequence_of = [&](std::uint64_t n) {
        if (fault.kind == Fault::Kind::kReorder && n == fault.seq) return n + 1;
        if (fault.kind == Fault::Kind::kReorder && n == fault.seq + 1) return n - 1;
        return n;
    };
    // Takes replies (waiting until `deadline` if `wait`); false (and out.error)
    // when it failed, or when nothing came and `late_is_error`.
    auto take = [&](std::uint64_t deadline, bool wait, bool late_is_error) -> bool {
        const Io io = port.receive(deadline, wait, on_reply);
        if (io == Io::kDone || io == Io::kRetry || (io == Io::kTimedOut && !late_is_error)) return true;
        out.error = io == Io::kTimedOut ? "no reply within patience_s (" + std::to_string(s.patience_s) + " s): " +
                                              std::to_string(out.transmissions - out.replies) +
                                              " unanswered, last sequence number " + std::to_string(out.last_seq)
                                        : std::string("receiving replies: ") + peers::io_name(io);
        return false;
    };
    // Sends message `seq` (once, twice or not at all, as the fault says).
    // intended 0: now (closed loop, throughput), so both stamps are one clock read.
    // blocking: waits for room, taking replies meanwhile; otherwise kRetry when full.
    auto transmit = [&](std::uint64_t seq, std::uint64_t intended, bool blocking) -> Io {
        const bool faulty = fault.kind != Fault::Kind::kNone && fault.kind != Fault::Kind::kReorder &&
                            fault.kind != Fault::Kind::kSlow && seq == fault.seq;
        const int copies = faulty && fault.kind == Fault::Kind::kLoss ? 0 : faulty && fault.kind == Fault::Kind::kDuplicate ? 2 : 1;
        const bool corrupt = faulty && fault.kind == Fault::Kind::kCorrupt;
        auto fill = [&](std::byte* dst) {
            codec.write(dst, seq);
            if (corrupt) dst[codec.payload() - 1] ^= std::byte{0x5a};
        };
        auto stamp = [&] {
            const std::uint64_t now = clock.now();
            recorder.stamp(seq, intended == 0 ? now : intended, now);
        };
        stamp();
        if (fault.kind == Fault::Kind::kSlow) {
            const std::uint64_t until = clock.now() + clock.from_ns(static_cast<double>(fault.seq));
            while (clock.now() < until) {
            }
        }
        for (int copy = 0; copy < copies; ++copy) {
            const std::uint64_t deadline = clock.now() + patience;
            for (;;) {
                const Io io = port.try_send(fill);
                if (io == Io::kDone) break;
                if (io != Io::kRetry) return io;
                if (!blocking && copy == 0) return Io::kRetry;
                if (abort.load(std::memory_order_relaxed)) return Io::kAborted;
                if (!take(clock.now(), false, false)) return Io::kFailed;
                if (clock.now() >= deadline) return Io::kTimedOut;
                stamp();
            }
            ++out.transmissions;
        }
        out.last_seq = std::max(out.last_seq, seq);
        return Io::kDone;
    };
    auto failed_send = [&](Io io) {
        out.error = std::string("sending: ") + peers::io_name(io);
        return out;
    };

    if (s.load.mode == LoadMode::kClosed) {
        while (advance()) {
            const bool warm = !measuring;
            for (std::uint32_t b = 0; b < s.load.burst; ++b) {
                if (warm && step >= s.warmup) break;  // the warm-up ends: measure from a fresh round
                if (!warm && by_count && step >= last_step) break;
                ++step;
                if (const Io io = transmit(sequence_of(step), 0, true); io != Io::kDone) {
                    return failed_send(io);
                }
            }
            while (out.replies < out.transmissions) {
                if (!take(clock.now() + patience, true, true)) return out;
            }
        }
    } else if (s.load.mode == LoadMode::kOpen) {
        const double period_ns = 1e9 * s.load.burst / s.load.rate_per_s;
        const std::uint64_t t0 = clock.now();
        for (std::uint64_t slot = 0;;) {
            if (abort.load(std::memory_order_relaxed)) return failed_send(Io::kAborted);
            if (!advance()) {
                if (out.replies >= out.transmissions) break;
                if (!take(clock.now() + patience, true, true)) return out;
                continue;
            }
            const std::uint64_t due = t0 + clock.from_ns(static_cast<double>(slot) * period_ns);
            if (clock.now() < due) {
                if (!take(due, true, false)) return out;
                continue;
            }
            for (std::uint32_t b = 0; b < s.load.burst && advance(); ++b) {
                while (out.transmissions - out.replies >= window) {
                    if (!take(clock.now() + patience, true, true)) return out;
                }
                ++step;
                if (const Io io = transmit(sequence_of(step), due, true); io != Io::kDone) return failed_send(io);
            }
            ++slot;
        }
    } else {
        for (;;) {
            if (abort.load(std::memory_order_relaxed)) return failed_send(Io::kAborted);
            bool sent = false;
            while (out.transmissions - out.replies < window && advance()) {
                const Io io = transmit(sequence_of(step + 1), 0, false);
                if (io == Io::kRetry) break;
                if (io != Io::kDone) return failed_send(io);
                ++step;
                sent = true;
            }
            if (sending_done && out.replies >= out.transmissions) break;
            if (!sent && !sending_done && out.replies >= out.transmissions) {
                // Full with nothing in flight: the echo side has replied but not
                // yet released the command. Wait for room, not for a reply.
                if (const Io io = transmit(sequence_of(step + 1), 0, true); io != Io::kDone) return failed_send(io);
                ++step;
                continue;
            }
            if (!take(sent ? clock.now() : clock.now() + patience, !sent, !sent)) return out;
        }
    }
    if (setup.at_measure_end) setup.at_measure_end();
    recorder.finish(out.measure_end);
    return out;
}

}  // namespace ringside::runner
