// boost::lockfree::spsc_queue<std::uint64_t> with a compile-time capacity:
// the common off-the-shelf SPSC ring. push/pop copy the value; the indices
// are re-read from the other side's line on every call (boost 1.74 keeps no
// cached copy), which is the cost ringside's cached indices avoid.
#pragma once

#include <boost/lockfree/spsc_queue.hpp>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "peers/link.hpp"

namespace ringside::peers {

template <std::size_t kCapacity>
class BoostSpscLink {
public:
    using Queue = boost::lockfree::spsc_queue<std::uint64_t, boost::lockfree::capacity<kCapacity>>;

    class Sender {
    public:
        Sender() = default;
        explicit Sender(Queue* queue) : queue_(queue) {}
        Io try_send(std::uint64_t value) { return queue_->push(value) ? Io::kDone : Io::kRetry; }
        Io send_batch(const std::uint64_t* values, std::size_t n, std::size_t& sent) {
            sent = queue_->push(values, n);
            return sent != 0 ? Io::kDone : Io::kRetry;
        }

    private:
        Queue* queue_ = nullptr;
    };

    class Receiver {
    public:
        Receiver() = default;
        explicit Receiver(Queue* queue) : queue_(queue) {}
        Io try_peek(std::uint64_t& value) { return queue_->pop(value) ? Io::kDone : Io::kRetry; }
        Io peek_batch(std::uint64_t* out, std::size_t max, std::size_t& got) {
            got = queue_->pop(out, max);
            return got != 0 ? Io::kDone : Io::kRetry;
        }
        Io release() { return Io::kDone; }

    private:
        Queue* queue_ = nullptr;
    };

    struct Side {
        Sender out;
        Receiver in;
    };

    bool open(std::string&) {
        for (auto& channel : channels_) channel = std::make_unique<Channel>();
        return true;
    }
    bool attach(Side& side, int which, std::string&) {
        Queue* a_to_b = &channels_[0]->queue;
        Queue* b_to_a = &channels_[1]->queue;
        side.out = Sender(which == 0 ? a_to_b : b_to_a);
        side.in = Receiver(which == 0 ? b_to_a : a_to_b);
        return true;
    }
    void detach(Side&) {}
    void close() {
        for (auto& channel : channels_) channel.reset();
    }

private:
    // Each queue on its own lines, away from the other and from the heap's neighbours.
    struct alignas(kFalseSharingRange) Channel {
        Queue queue;
        char tail_pad[kFalseSharingRange];
    };
    std::unique_ptr<Channel> channels_[2];
};

}  // namespace ringside::peers
