// In-process v-table delivery, the host's half: on_event runs on the
// sidecar thread, validates the event and pushes (number, verdict) here; the
// host thread takes them and waits for them with its own strategy. A
// single-producer single-consumer queue of 64K entries: the published count
// is the futex word, and the host announces itself before parking.
//
//   push (sidecar thread)                   wait (host thread, parking kinds)
//   entries[n] = {seq, verdict}              waiting.store(1)
//   count.store(n + 1, release)  -- SYNC:    fence(seq_cst)          -- SYNC: park
//   fence(seq_cst)               completion  seen = count.load()
//   if waiting.load(): wake      -- SYNC:    if seen != taken: ready
//                                park        else futex_wait(count, seen)
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

class Completions {
public:
    static constexpr std::uint32_t kSlots = 1 << 16;

    // host_wait: how the host waits; eventfd: where it parks for Wait::kEventfd.
    Completions(const WaitSpec& host_wait, int eventfd) : wait_(host_wait), eventfd_(eventfd), entries_(kSlots) {
        host_parks_ = host_wait.kind == Wait::kFutex || host_wait.kind == Wait::kHybrid || host_wait.kind == Wait::kEventfd;
    }

    // Sidecar thread.
    void push(std::uint64_t seq, Verdict verdict) {
        entries_[produced_ % kSlots] = Entry{seq, verdict};
        ++produced_;
        // SYNC: completion (release), paired with take()'s acquire.
        count_.store(produced_, std::memory_order_release);
        if (!host_parks_) return;
        // SYNC: park. Orders the store above before the load of `waiting_`.
        std::atomic_thread_fence(std::memory_order_seq_cst);
        // relaxed is enough: the fence above orders it.
        if (waiting_.load(std::memory_order_relaxed) != 0) wake();
    }

    // Host thread: calls f(seq, verdict) for up to `max` entries; how many.
    template <typename F>
    int take(F&& f, int max) {
        // SYNC: completion (acquire).
        const std::uint32_t available = count_.load(std::memory_order_acquire);
        int n = 0;
        for (; taken_ != available && n < max; ++n) {
            const Entry& e = entries_[taken_ % kSlots];
            ++taken_;
            f(e.seq, e.verdict);
        }
        return n;
    }

    // Host thread: waits until an entry is there (kDone), the deadline tick
    // passes (kTimedOut) or `abort` (kAborted).
    Io wait(const Clock& clock, std::uint64_t deadline, const std::atomic<bool>& abort);

private:
    struct Entry {
        std::uint64_t seq;
        Verdict verdict;
    };
    [[nodiscard]] bool ready() const { return count_.load(std::memory_order_acquire) != taken_; }
    void wake();
    void park(std::uint32_t seen, std::uint64_t timeout_ns);

    WaitSpec wait_;
    int eventfd_;
    bool host_parks_ = false;
    std::vector<Entry> entries_;
    alignas(128) std::atomic<std::uint32_t> count_{0};   // written by the sidecar thread
    std::uint32_t produced_ = 0;                         // sidecar thread's own copy
    alignas(128) std::atomic<std::uint32_t> waiting_{0};  // written by the host thread
    std::uint32_t taken_ = 0;                            // host thread's own
    alignas(128) char tail_pad_[128] = {};
};

}  // namespace ringside::runner
