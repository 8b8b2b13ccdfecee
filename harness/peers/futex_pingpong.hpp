// The blocking floor: a bare futex ping-pong. One 64-bit value and one
// 32-bit futex sequence word per direction, on their own lines. The sender
// stores the value, bumps the sequence (release) and always calls
// FUTEX_WAKE; the receiver sleeps in FUTEX_WAIT while the sequence is the
// one it last took. No waiter count, no spinning: the least a round trip
// through the kernel's wait queue costs. Shared (not PRIVATE) futex
// operations, as ringside's cross-process futex strategy uses. Word shape
// (link.hpp) with native waits; ping-pong only (one message per direction).
#pragma once

#include <linux/futex.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <climits>
#include <cstdint>
#include <string>

#include "peers/link.hpp"

namespace ringside::peers {

struct alignas(kFalseSharingRange) FutexSlot {
    std::atomic<std::uint32_t> sequence{0};
    std::atomic<std::uint64_t> value{0};
};

class FutexSender {
public:
    FutexSender() = default;
    explicit FutexSender(FutexSlot* slot) : slot_(slot) {}
    Io try_send(std::uint64_t value) {
        // relaxed is enough for the value: the release on the sequence publishes it.
        slot_->value.store(value, std::memory_order_relaxed);
        // SYNC: futex-publish (release), paired with the receiver's acquire.
        slot_->sequence.fetch_add(1, std::memory_order_release);
        ::syscall(SYS_futex, &slot_->sequence, FUTEX_WAKE, 1, nullptr, nullptr, 0);
        return Io::kDone;
    }

private:
    FutexSlot* slot_ = nullptr;
};

class FutexReceiver {
public:
    FutexReceiver() = default;
    explicit FutexReceiver(FutexSlot* slot) : slot_(slot) {}
    Io try_peek(std::uint64_t& value) {
        // SYNC: futex-publish (acquire).
        const std::uint32_t seen = slot_->sequence.load(std::memory_order_acquire);
        if (seen == taken_) return Io::kRetry;
        taken_ = seen;
        value = slot_->value.load(std::memory_order_relaxed);
        return Io::kDone;
    }
    // Sleeps in the kernel until a new value arrives or timeout_ns passes.
    Io wait_peek(std::uint64_t& value, std::uint64_t timeout_ns) {
        for (;;) {
            if (try_peek(value) == Io::kDone) return Io::kDone;
            const timespec timeout{static_cast<time_t>(timeout_ns / 1'000'000'000u),
                                   static_cast<long>(timeout_ns % 1'000'000'000u)};
            const long rc = ::syscall(SYS_futex, &slot_->sequence, FUTEX_WAIT, taken_, &timeout, nullptr, 0);
            if (rc != 0 && errno == ETIMEDOUT) return try_peek(value) == Io::kDone ? Io::kDone : Io::kTimedOut;
        }
    }
    Io release() { return Io::kDone; }

private:
    FutexSlot* slot_ = nullptr;
    std::uint32_t taken_ = 0;
};

class FutexPingPong {
public:
    struct Side {
        FutexSender out;
        FutexReceiver in;
    };
    bool open(std::string&) { return true; }
    bool attach(Side& side, int which, std::string&) {
        side.out = FutexSender(&slots_[which == 0 ? 0 : 1]);
        side.in = FutexReceiver(&slots_[which == 0 ? 1 : 0]);
        return true;
    }
    void detach(Side&) {}
    void close() {}

private:
    FutexSlot slots_[2];
};

}  // namespace ringside::peers
