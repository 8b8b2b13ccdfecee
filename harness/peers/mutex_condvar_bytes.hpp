// mutex_queue.hpp's peer for messages of any size: a bounded ring of
// fixed-size slots behind a std::mutex, with one condition variable per
// direction of waiting (not empty, not full). The sender builds the message
// in a staging buffer and copies it in under the lock; the receiver copies
// it out under the lock. A waiting side sleeps in the kernel (futex), so a
// round trip pays two wake-ups. Payload shape (payload_link.hpp), native waits.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstring>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <vector>

#include "peers/payload_link.hpp"

namespace ringside::peers {

class MutexCondvarBytesLink {
public:
    static constexpr bool kNativeWait = true;

    struct alignas(kFalseSharingRange) Channel {
        Channel(std::size_t payload, std::size_t slots) : payload(payload), slots(slots), ring(payload * slots) {}
        std::mutex mutex;
        std::condition_variable not_empty;
        std::condition_variable not_full;
        std::size_t payload;
        std::size_t slots;
        std::size_t head = 0;  // messages taken
        std::size_t tail = 0;  // messages put
        std::vector<std::byte> ring;
    };

    class Sender {
    public:
        template <typename Fill>
        Io try_send(Fill&& fill) {
            return wait_send(fill, 0);
        }
        template <typename Fill>
        Io wait_send(Fill&& fill, std::uint64_t timeout_ns) {
            fill(staging.data());
            {
                std::unique_lock<std::mutex> lock(channel->mutex);
                auto room = [this] { return channel->tail - channel->head < channel->slots; };
                if (!room() && (timeout_ns == 0 ||
                                !channel->not_full.wait_for(lock, std::chrono::nanoseconds(timeout_ns), room))) {
                    return timeout_ns == 0 ? Io::kRetry : Io::kTimedOut;
                }
                std::memcpy(&channel->ring[(channel->tail % channel->slots) * channel->payload], staging.data(),
                            channel->payload);
                ++channel->tail;
            }
            channel->not_empty.notify_one();
            return Io::kDone;
        }
        Channel* channel = nullptr;
        std::vector<std::byte> staging;
    };

    class Receiver {
    public:
        Io try_peek(std::span<const std::byte>& message) { return wait_peek(message, 0); }
        Io wait_peek(std::span<const std::byte>& message, std::uint64_t timeout_ns) {
            {
                std::unique_lock<std::mutex> lock(channel->mutex);
                auto ready = [this] { return channel->tail != channel->head; };
                if (!ready() && (timeout_ns == 0 ||
                                 !channel->not_empty.wait_for(lock, std::chrono::nanoseconds(timeout_ns), ready))) {
                    return timeout_ns == 0 ? Io::kRetry : Io::kTimedOut;
                }
                std::memcpy(buffer.data(), &channel->ring[(channel->head % channel->slots) * channel->payload],
                            channel->payload);
                ++channel->head;
            }
            channel->not_full.notify_one();
            message = std::span<const std::byte>(buffer.data(), buffer.size());
            return Io::kDone;
        }
        Io release() { return Io::kDone; }
        Channel* channel = nullptr;
        std::vector<std::byte> buffer;
    };

    struct Side {
        Sender out;
        Receiver in;
    };

    explicit MutexCondvarBytesLink(const PayloadConfig& config) : config_(config) {}
    bool open(std::string&) {
        const std::size_t slots = config_.capacity_bytes / config_.payload < 2 ? 2 : config_.capacity_bytes / config_.payload;
        for (auto& channel : channels_) channel = std::make_unique<Channel>(config_.payload, slots);
        return true;
    }
    bool attach(Side& side, int which, std::string&) {
        side.out.channel = channels_[which == 0 ? 0 : 1].get();
        side.in.channel = channels_[which == 0 ? 1 : 0].get();
        side.out.staging.assign(config_.payload, std::byte{0});
        side.in.buffer.assign(config_.payload, std::byte{0});
        return true;
    }
    void detach(Side&) {}
    void close() {
        for (auto& channel : channels_) channel.reset();
    }

private:
    PayloadConfig config_;
    std::unique_ptr<Channel> channels_[2];
};

}  // namespace ringside::peers
