// Wait strategies as values, and the park/wake protocol that makes the
// parking ones lose no wake-up, within a process or across processes.
//
// The words live in the ring's notify line (layout.h): one (sequence,
// waiters) pair per direction. data_*: the consumer waits for records, the
// producer wakes it. space_*: the producer waits for room, the consumer
// wakes it. Both are plain u32 in shared memory, reached only through
// std::atomic_ref, so no access in the protocol is a plain one.
//
// Waiter (wait_until, parking kinds), per attempt:
//   seq = sequence.load(acquire)              -- SYNC: wake-sequence
//   waiters.fetch_add(1, seq_cst)             -- SYNC: park-announce
//   atomic_thread_fence(seq_cst)
//   if ready():  waiters.fetch_sub(1); done   (ready() re-reads the ring:
//                                              the commit word / read_position)
//   futex_wait(&sequence, seq, deadline)      (or wait on the eventfd)
//   waiters.fetch_sub(1); loop
//
// Waker (notify, after publishing its commit or release with release order):
//   atomic_thread_fence(seq_cst)              -- SYNC: park-announce
//   if (waiters.load(relaxed) != 0) {
//       sequence.fetch_add(1, release)        -- SYNC: wake-sequence
//       futex_wake(&sequence, all)            (or write the peer's eventfd)
//   }
//
// Why no wake-up is lost: the waiter's announce-then-check and the waker's
// publish-then-check are the store-buffering pattern, with a seq_cst fence
// on each side between the store and the load. So at least one side sees
// the other's store: either the waiter's ready() sees the new record (it does
// not sleep), or the waker sees waiters != 0 (it wakes). If the waker's wake
// comes after the waiter read `seq` but before it entered futex_wait, the
// sequence bump makes futex_wait return at once (the word no longer equals
// `seq`); an eventfd keeps its count until read, to the same effect.
//
// Why the fast path is cheap: with nobody parked, the waker pays a fence
// and one load of a line that stays shared in its cache; it never enters
// the kernel. When the peer never parks (spin, pause, yield, sleep) the
// waker is configured with peer_may_park = false and skips even the fence.
// A cross-process side must therefore be configured with its peer's class.
//
// A waiter that dies while parked leaves `waiters` non-zero: the waker then
// wakes needlessly (a syscall per publish), which costs time, never
// correctness.
#pragma once

#include <atomic>
#include <cstdint>

#include "wait/clock.hpp"
#include "wait/kernel.hpp"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif
#include <sched.h>

namespace ringside {

enum class WaitKind : std::uint8_t {
    kBusySpin = 1,
    kSpinPause = 2,
    kYield = 3,
    kSleep = 4,
    kFutex = 5,
    kEventfd = 6,
    kHybrid = 7,
};

[[nodiscard]] constexpr bool parks(WaitKind kind) {
    return kind == WaitKind::kFutex || kind == WaitKind::kEventfd || kind == WaitKind::kHybrid;
}

// How one side waits. A plain value: copy it freely (fds are borrowed here;
// WaitConfig in ring_wait.hpp owns them).
struct WaitStrategy {
    WaitKind kind = WaitKind::kHybrid;
    std::uint32_t spin_limit = 4096;     // hybrid: pause-spins before parking
    std::uint64_t sleep_ns = 1'000'000;  // sleep: each nap
    int eventfd = -1;                    // eventfd: where this side parks
};

// How one side wakes its peer after publishing.
struct PeerWake {
    bool may_park = true;  // false only when the peer's strategy never parks
    int eventfd = -1;      // the peer parks on this eventfd; -1: on the futex
};

static_assert(std::atomic_ref<std::uint32_t>::required_alignment <= 4 &&
                  std::atomic_ref<std::uint32_t>::is_always_lock_free,
              "the futex words are 4-byte aligned u32 in shared memory: atomic_ref must be lock-free on them");

// One direction's pair of words in a ring's notify line.
struct NotifyWords {
    std::uint32_t* sequence = nullptr;
    std::uint32_t* waiters = nullptr;

    [[nodiscard]] std::atomic_ref<std::uint32_t> seq() const { return std::atomic_ref<std::uint32_t>(*sequence); }
    [[nodiscard]] std::atomic_ref<std::uint32_t> count() const { return std::atomic_ref<std::uint32_t>(*waiters); }
};

enum class WaitResult : std::uint8_t { kReady, kTimeout };

inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
    _mm_pause();
#elif defined(__aarch64__)
    asm volatile("yield" ::: "memory");
#endif
}

// Wakes the peer if it announced itself parked. Called by the side that
// just published (producer after commit: data words; consumer after
// release: space words). No syscall unless someone is parked.
inline void notify(NotifyWords words, const PeerWake& peer);

// Kicks whoever waits on `words`, parked or not: used by stop requests and
// tests, never on the hot path.
void wake_unconditionally(NotifyWords words, int eventfd);

// Waits until ready() returns true or the deadline passes. ready() is the
// side's non-blocking attempt (peek, reserve, write) and may be called many
// times; it must read the ring with acquire. `parked` (may be null) counts
// the times this call slept in the kernel.
template <typename Ready>
[[nodiscard]] WaitResult wait_until(const WaitStrategy& strategy, NotifyWords words, std::uint64_t deadline_ns,
                                    Ready&& ready, std::uint64_t* parked = nullptr);

// wait_until with a timeout: ready() is tried first, and the clock is read
// (deadline = now + timeout_ns) only when the caller is about to wait, so a
// call that finds its record or room at once costs no clock read.
template <typename Ready>
[[nodiscard]] WaitResult wait_for(const WaitStrategy& strategy, NotifyWords words, std::uint64_t timeout_ns,
                                  Ready&& ready, std::uint64_t* parked = nullptr) {
    if (ready()) return WaitResult::kReady;
    return wait_until(strategy, words, deadline_after(timeout_ns), ready, parked);
}

// ---------------------------------------------------------------------------

namespace detail {
void wake_parked(NotifyWords words, const PeerWake& peer);  // out of line: the cold half of notify()

template <typename Ready>
WaitResult park_loop(const WaitStrategy& strategy, NotifyWords words, std::uint64_t deadline_ns, Ready& ready,
                     std::uint64_t* parked) {
    for (;;) {
        // SYNC: wake-sequence. acquire: a waker's bump we observe carries its
        // publication, so the ready() below sees the record that bump announced.
        const std::uint32_t seq = words.seq().load(std::memory_order_acquire);
        // SYNC: park-announce. seq_cst RMW + fence: the store-buffering pair
        // with the waker's fence; one of us sees the other's store.
        words.count().fetch_add(1, std::memory_order_seq_cst);
        std::atomic_thread_fence(std::memory_order_seq_cst);
        if (ready()) {
            // relaxed is enough: a stale count only costs the waker a spare wake.
            words.count().fetch_sub(1, std::memory_order_relaxed);
            return WaitResult::kReady;
        }
        if (monotonic_ns() >= deadline_ns) {
            words.count().fetch_sub(1, std::memory_order_relaxed);
            return WaitResult::kTimeout;
        }
        if (strategy.kind == WaitKind::kEventfd) {
            eventfd_wait(strategy.eventfd, deadline_ns);
        } else {
            futex_wait(words.sequence, seq, deadline_ns);
        }
        words.count().fetch_sub(1, std::memory_order_relaxed);
        if (parked != nullptr) ++*parked;
        if (ready()) return WaitResult::kReady;
        if (monotonic_ns() >= deadline_ns) return WaitResult::kTimeout;
    }
}
}  // namespace detail

inline void notify(NotifyWords words, const PeerWake& peer) {
    if (!peer.may_park) return;
    // SYNC: park-announce. Orders our publication (already stored with
    // release) before the load of `waiters`: see the header comment.
    std::atomic_thread_fence(std::memory_order_seq_cst);
    // relaxed is enough: the fence above does the ordering.
    if (words.count().load(std::memory_order_relaxed) != 0) detail::wake_parked(words, peer);
}

template <typename Ready>
WaitResult wait_until(const WaitStrategy& strategy, NotifyWords words, std::uint64_t deadline_ns, Ready&& ready,
                      std::uint64_t* parked) {
    if (ready()) return WaitResult::kReady;
    // Reading the clock costs ~20 ns: spinners look at it every 256 tries.
    constexpr std::uint32_t kClockEvery = 256;
    switch (strategy.kind) {
        case WaitKind::kBusySpin:
        case WaitKind::kSpinPause:
            for (std::uint32_t i = 1;; ++i) {
                if (strategy.kind == WaitKind::kSpinPause) cpu_relax();
                if (ready()) return WaitResult::kReady;
                if (i % kClockEvery == 0 && monotonic_ns() >= deadline_ns) return WaitResult::kTimeout;
            }
        case WaitKind::kYield:
            for (;;) {
                ::sched_yield();
                if (ready()) return WaitResult::kReady;
                if (monotonic_ns() >= deadline_ns) return WaitResult::kTimeout;
            }
        case WaitKind::kSleep:
            for (;;) {
                const std::uint64_t now = monotonic_ns();
                if (now >= deadline_ns) return ready() ? WaitResult::kReady : WaitResult::kTimeout;
                const timespec nap = to_timespec(deadline_ns - now < strategy.sleep_ns ? deadline_ns - now
                                                                                        : strategy.sleep_ns);
                ::nanosleep(&nap, nullptr);
                if (ready()) return WaitResult::kReady;
            }
        case WaitKind::kHybrid:
            for (std::uint32_t i = 1; i <= strategy.spin_limit; ++i) {
                cpu_relax();
                if (ready()) return WaitResult::kReady;
                if (i % kClockEvery == 0 && monotonic_ns() >= deadline_ns) return WaitResult::kTimeout;
            }
            return detail::park_loop(strategy, words, deadline_ns, ready, parked);
        case WaitKind::kFutex:
        case WaitKind::kEventfd:
            return detail::park_loop(strategy, words, deadline_ns, ready, parked);
    }
    return WaitResult::kTimeout;
}

}  // namespace ringside
