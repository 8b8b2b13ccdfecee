// boost::lockfree::spsc_queue<std::byte> as a byte stream: the idiomatic way
// to pass variable-sized messages through boost's SPSC ring. The sender
// builds the message in a staging buffer and pushes its bytes once there is
// room for all of them (write_available); the receiver pops a whole message
// into its own buffer (read_available). Two copies per message, as any
// copying queue. Payload shape (payload_link.hpp); no native wait.
#pragma once

#include <boost/lockfree/spsc_queue.hpp>
#include <cstddef>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "peers/payload_link.hpp"

namespace ringside::peers {

class BoostSpscBytesLink {
public:
    static constexpr bool kNativeWait = false;
    using Queue = boost::lockfree::spsc_queue<std::byte>;

    class Sender {
    public:
        template <typename Fill>
        Io try_send(Fill&& fill) {
            if (queue->write_available() < staging.size()) return Io::kRetry;
            fill(staging.data());
            return queue->push(staging.data(), staging.size()) == staging.size() ? Io::kDone : Io::kFailed;
        }
        Queue* queue = nullptr;
        std::vector<std::byte> staging;
    };

    class Receiver {
    public:
        Io try_peek(std::span<const std::byte>& message) {
            if (queue->read_available() < buffer.size()) return Io::kRetry;
            if (queue->pop(buffer.data(), buffer.size()) != buffer.size()) return Io::kFailed;
            message = std::span<const std::byte>(buffer.data(), buffer.size());
            return Io::kDone;
        }
        Io release() { return Io::kDone; }
        Queue* queue = nullptr;
        std::vector<std::byte> buffer;
    };

    struct Side {
        Sender out;
        Receiver in;
    };

    explicit BoostSpscBytesLink(const PayloadConfig& config) : config_(config) {}
    bool open(std::string& error) {
        if (config_.capacity_bytes < config_.payload + 1) {
            error = "boost_spsc: capacity below one message";
            return false;
        }
        // +1: boost keeps one element free to tell full from empty.
        for (auto& channel : channels_) channel = std::make_unique<Channel>(config_.capacity_bytes + 1);
        return true;
    }
    bool attach(Side& side, int which, std::string&) {
        side.out.queue = &channels_[which == 0 ? 0 : 1]->queue;
        side.in.queue = &channels_[which == 0 ? 1 : 0]->queue;
        side.out.staging.assign(config_.payload, std::byte{0});
        side.in.buffer.assign(config_.payload, std::byte{0});
        return true;
    }
    void detach(Side&) {}
    void close() {
        for (auto& channel : channels_) channel.reset();
    }

private:
    // Each queue on its own lines, away from the other and from the heap's neighbours.
    struct alignas(kFalseSharingRange) Channel {
        explicit Channel(std::size_t capacity) : queue(capacity) {}
        Queue queue;
        char tail_pad[kFalseSharingRange];
    };
    PayloadConfig config_;
    std::unique_ptr<Channel> channels_[2];
};

}  // namespace ringside::peers
