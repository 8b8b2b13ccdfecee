// moodycamel::ReaderWriterQueue (Debian's libreaderwriterqueue-dev, 1.0.6):
// the popular header-only SPSC queue. Elements are fixed-size slots; the
// sender constructs the message in place (try_emplace, so zero-copy), the
// receiver reads it in place (peek) and frees it (pop). Slots come in size
// classes, powers of four from 8 bytes: a message uses the smallest class
// that holds it, and only its own bytes are written. Capacity is the ring
// size divided by the slot size (at least 4), preallocated: try_emplace
// never allocates. Payload shape (payload_link.hpp); no native wait.
#pragma once

#include <readerwriterqueue/readerwriterqueue.h>

#include <cstddef>
#include <memory>
#include <span>
#include <string>

#include "peers/payload_link.hpp"

namespace ringside::peers {

template <std::size_t kSlotBytes>
class MoodycamelLink {
public:
    static constexpr bool kNativeWait = false;

    struct Slot {
        // Constructed in place by try_emplace: fill writes the message.
        template <typename Fill>
        explicit Slot(Fill& fill) {
            fill(bytes);
        }
        std::byte bytes[kSlotBytes];
    };
    using Queue = moodycamel::ReaderWriterQueue<Slot>;

    class Sender {
    public:
        template <typename Fill>
        Io try_send(Fill&& fill) {
            return queue->try_emplace(fill) ? Io::kDone : Io::kRetry;
        }
        Queue* queue = nullptr;
    };

    class Receiver {
    public:
        Io try_peek(std::span<const std::byte>& message) {
            const Slot* slot = queue->peek();
            if (slot == nullptr) return Io::kRetry;
            message = std::span<const std::byte>(slot->bytes, payload);
            return Io::kDone;
        }
        Io release() { return queue->pop() ? Io::kDone : Io::kFailed; }
        Queue* queue = nullptr;
        std::size_t payload = 0;
    };

    struct Side {
        Sender out;
        Receiver in;
    };

    explicit MoodycamelLink(const PayloadConfig& config) : config_(config) {}
    bool open(std::string& error) {
        if (config_.payload > kSlotBytes) {
            error = "moodycamel_rwq: payload larger than the slot";
            return false;
        }
        const std::size_t slots = config_.capacity_bytes / kSlotBytes < 4 ? 4 : config_.capacity_bytes / kSlotBytes;
        for (auto& queue : queues_) queue = std::make_unique<Queue>(slots);
        return true;
    }
    bool attach(Side& side, int which, std::string&) {
        side.out.queue = queues_[which == 0 ? 0 : 1].get();
        side.in.queue = queues_[which == 0 ? 1 : 0].get();
        side.in.payload = config_.payload;
        return true;
    }
    void detach(Side&) {}
    void close() {
        for (auto& queue : queues_) queue.reset();
    }

private:
    PayloadConfig config_;
    std::unique_ptr<Queue> queues_[2];
};

}  // namespace ringside::peers
