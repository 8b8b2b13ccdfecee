#include "runner/completions.hpp"

#include <time.h>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace ringside::runner {

void Completions::wake() {
    if (wait_.kind == Wait::kEventfd) {
        const std::uint64_t one = 1;
        (void)!::write(eventfd_, &one, sizeof one);
    } else {
        ::syscall(SYS_futex, &count_, FUTEX_WAKE_PRIVATE, 1, nullptr, nullptr, 0);
    }
}

void Completions::park(std::uint32_t seen, std::uint64_t timeout_ns) {
    if (wait_.kind == Wait::kEventfd) {
        pollfd fd{eventfd_, POLLIN, 0};
        const int ms = static_cast<int>((timeout_ns + 999'999) / 1'000'000);
        if (::poll(&fd, 1, ms) > 0) {
            std::uint64_t drained;
            (void)!::read(eventfd_, &drained, sizeof drained);
        }
        return;
    }
    const timespec timeout{static_cast<time_t>(timeout_ns / 1'000'000'000u), static_cast<long>(timeout_ns % 1'000'000'000u)};
    ::syscall(SYS_futex, &count_, FUTEX_WAIT_PRIVATE, seen, &timeout, nullptr, 0);
}

Io Completions::wait(const Clock& clock, std::uint64_t deadline, const std::atomic<bool>& abort) {
    if (!host_parks_) {
        return spin_wait(wait_, clock, deadline, abort, [&] { return ready() ? Io::kDone : Io::kRetry; });
    }
    if (wait_.kind == Wait::kHybrid) {
        for (std::uint32_t i = 0; i < wait_.spin_limit; ++i) {
            if (ready()) return Io::kDone;
#if defined(__x86_64__)
            _mm_pause();
#endif
        }
    }
    for (;;) {
        if (ready()) return Io::kDone;
        // relaxed is enough: a flag with no data behind it.
        if (abort.load(std::memory_order_relaxed)) return Io::kAborted;
        const std::uint64_t now = clock.now();
        if (now >= deadline) return Io::kTimedOut;
        const auto left = static_cast<std::uint64_t>(clock.to_ns(static_cast<std::int64_t>(deadline - now)));
        // SYNC: park (see the header).
        waiting_.store(1, std::memory_order_relaxed);
        std::atomic_thread_fence(std::memory_order_seq_cst);
        const std::uint32_t seen = count_.load(std::memory_order_relaxed);
        if (seen == taken_ && !ready()) park(seen, left < kSliceNs ? left : kSliceNs);
        waiting_.store(0, std::memory_order_relaxed);
    }
}

}  // namespace ringside::runner
