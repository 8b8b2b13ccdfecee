// The slow peer: a bounded queue behind a std::mutex and a
// std::condition_variable, the way most code passes messages between
// threads. A waiting receiver sleeps in the kernel (futex), so a round trip
// pays two wake-ups.
#pragma once

#include <array>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <mutex>

namespace ringside::peers {

template <std::size_t kCapacity>
class MutexQueue {
public:
    // Any thread. False when full.
    bool push(std::uint64_t value) {
        {
            std::lock_guard<std::mutex> lock(mutex_);
            if (tail_ - head_ == kCapacity) return false;
            slots_[tail_ % kCapacity] = value;
            ++tail_;
        }
        ready_.notify_one();
        return true;
    }

    // Any thread. Waits up to `timeout` for a value; false if none came.
    bool pop_wait(std::uint64_t& value, std::chrono::nanoseconds timeout) {
        std::unique_lock<std::mutex> lock(mutex_);
        if (!ready_.wait_for(lock, timeout, [this] { return tail_ != head_; })) return false;
        value = slots_[head_ % kCapacity];
        ++head_;
        return true;
    }

private:
    std::mutex mutex_;
    std::condition_variable ready_;
    std::uint64_t head_ = 0;
    std::uint64_t tail_ = 0;
    std::array<std::uint64_t, kCapacity> slots_{};
};

}  // namespace ringside::peers
