// The hardware floor: a message is one 8-byte word in one cache line.
// The sender stores it (release); the receiver polls it (acquire) and takes
// any value it has not seen before. No queue, no index, no capacity: valid
// only for ping-pong, where the sender never runs ahead of the receiver.
//
//   TwoLinePingPong   A -> B in one line, B -> A in another (128 B apart)
//   OneLinePingPong   both directions share one word: A writes even, B odd
#pragma once

#include <atomic>
#include <cstdint>
#include <string>

#include "peers/link.hpp"

namespace ringside::peers {

struct alignas(kFalseSharingRange) SignalWord {
    std::atomic<std::uint64_t> value{0};
};

// Stores (value << 1) | tag, so two directions can share one word.
class SignalSender {
public:
    SignalSender() = default;
    SignalSender(SignalWord* word, std::uint64_t tag) : word_(word), tag_(tag) {}
    Io try_send(std::uint64_t value) {
        // release: pairs with the receiver's acquire (the floor has no payload,
        // but a real message would, so the floor pays for the same order).
        word_->value.store((value << 1) | tag_, std::memory_order_release);
        return Io::kDone;
    }

private:
    SignalWord* word_ = nullptr;
    std::uint64_t tag_ = 0;
};

// Takes a value with the expected tag that differs from the last one taken.
class SignalReceiver {
public:
    SignalReceiver() = default;
    SignalReceiver(SignalWord* word, std::uint64_t tag) : word_(word), tag_(tag) {}
    Io try_peek(std::uint64_t& value) {
        const std::uint64_t word = word_->value.load(std::memory_order_acquire);
        if ((word & 1) != tag_ || word == last_) return Io::kRetry;
        last_ = word;
        value = word >> 1;
        return Io::kDone;
    }
    Io release() { return Io::kDone; }

private:
    SignalWord* word_ = nullptr;
    std::uint64_t tag_ = 0;
    std::uint64_t last_ = 0;  // the initial zero word is never taken
};

template <bool kOneLine>
class CacheLinePingPong {
public:
    struct Side {
        SignalSender out;
        SignalReceiver in;
    };

    bool open(std::string&) { return true; }
    bool attach(Side& side, int which, std::string&) {
        SignalWord& a_to_b = words_[0];
        SignalWord& b_to_a = kOneLine ? words_[0] : words_[1];
        if (which == 0) {
            side.out = SignalSender(&a_to_b, 0);
            side.in = SignalReceiver(&b_to_a, 1);
        } else {
            side.out = SignalSender(&b_to_a, 1);
            side.in = SignalReceiver(&a_to_b, 0);
        }
        return true;
    }
    void detach(Side&) {}
    void close() {}

private:
    SignalWord words_[2];
};

using TwoLinePingPong = CacheLinePingPong<false>;
using OneLinePingPong = CacheLinePingPong<true>;

}  // namespace ringside::peers
