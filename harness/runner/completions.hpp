// In-process v-table delivery, the host's half: on_event runs on the
// sidecar thread and pushes the event's number here, then validates the
// event (the host stamps a reply when it sees it, before any check, on every
// path); the host thread takes the numbers, waiting with its own strategy.
// A single-producer single-consumer queue of 64K slots; each slot carries
// its own publication word, so a waiting host polls exactly the line the
// next number lands in (one cache-line transfer per event, as a ring).
//
//   push (sidecar thread)                     take (host thread)
//   slot.seq = seq                            if slot.lap.load(acquire) == taken + 1:
//   slot.lap.store(n + 1, release) -- SYNC:      read slot.seq
//                                     completion
// Parking hosts (futex, hybrid, eventfd) also need a count to sleep on:
//   count.store(n + 1, release)                waiting.store(1)
//   fence(seq_cst)                  -- SYNC:   fence(seq_cst)
//   if waiting.load(): wake            park    if count.load() == taken: futex_wait(count, taken)
// One of the two sees the other's store (store-buffering with a fence on
// each side), and a wake between the load and futex_wait makes futex_wait
// return at once (the word changed). No wake-up is lost.
#pragma once

#include <linux/futex.h>
#include <poll.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <vector>

#include "runner/driver.hpp"

namespace ringside::runner {

class alignas(128) Completions {
public:
    static constexpr std::uint32_t kSlots = 1 << 16;

    // host_wait: how the host waits; eventfd: where it parks for Wait::kEventfd.
    Completions(const WaitSpec& host_wait, int eventfd) : wait_(host_wait), eventfd_(eventfd), slots_(kSlots) {
        host_parks_ = host_wait.kind == Wait::kFutex || host_wait.kind == Wait::kHybrid || host_wait.kind == Wait::kEventfd;
    }

    // Sidecar thread.
    void push(std::uint32_t seq) {
        Slot& slot = slots_[produced_ % kSlots];
        slot.seq = seq;
        ++produced_;
        // SYNC: completion (release), paired with take()'s acquire.
        slot.lap.store(produced_, std::memory_order_release);
        if (!host_parks_) return;
        count_.store(produced_, std::memory_order_release);
        // SYNC: park. Orders the store above before the load of `waiting_`.
        std::atomic_thread_fence(std::memory_order_seq_cst);
        // relaxed is enough: the fence above orders it.
        if (waiting_.load(std::memory_order_relaxed) != 0) wake();
    }

    // Host thread: calls f(seq) for up to `max` numbers; how many.
    template <typename F>
    int take(F&& f, int max) {
        int n = 0;
        for (; n < max && ready(); ++n) {
            const std::uint32_t seq = slots_[taken_ % kSlots].seq;
            ++taken_;
            f(seq);
        }
        return n;
    }

    // Host thread: waits until an entry is there (kDone), the deadline tick
    // passes (kTimedOut) or `abort` (kAborted).
    Io wait(const Clock& clock, std::uint64_t deadline, const std::atomic<bool>& abort);

private:
    struct Slot {
        std::atomic<std::uint32_t> lap{0};  // n + 1 once the n-th number is in `seq`
        std::uint32_t seq = 0;
    };
    [[nodiscard]] bool ready() const {
        // SYNC: completion (acquire).
        return slots_[taken_ % kSlots].lap.load(std::memory_order_acquire) == taken_ + 1;
    }
    void wake();
    void park(std::uint32_t seen, std::uint64_t timeout_ns);

    WaitSpec wait_;
    int eventfd_;
    bool host_parks_ = false;
    std::vector<Slot> slots_;
    alignas(128) std::atomic<std::uint32_t> count_{0};   // parking hosts only: written by the sidecar thread
    std::uint32_t produced_ = 0;                         // sidecar thread's own copy
    alignas(128) std::atomic<std::uint32_t> waiting_{0};  // written by the host thread
    std::uint32_t taken_ = 0;                            // host thread's own
};

}  // namespace ringside::runner
