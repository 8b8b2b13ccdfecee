// The byte-message shape of a peer, for payloads of any size: what the
// scenario runner (harness/runner) drives, ringside and every peer alike.
// It extends link.hpp's word shape (same Io results, same two channels:
// 0 carries side A -> B, 1 carries B -> A):
//
//   Link(const PayloadConfig&)                 payload size and capacity, fixed per run
//     bool open(std::string& error)            main thread, before any side
//     bool attach(Side&, int side, std::string& error)   in the side's own thread
//     void detach(Side&)                       in the side's own thread
//     void close()                             main thread, after both sides
//   Side          { Sender out; Receiver in; }
//   Sender        template <class Fill> Io try_send(Fill&& fill)
//                   fill(std::byte* dst) writes exactly `payload` bytes; a
//                   zero-copy peer lets it write into the queue's own slot
//   Receiver      Io try_peek(std::span<const std::byte>& message)
//                   the oldest message, valid until release()
//                 Io release()
// A link whose waits are its own (a condition variable, a futex, ringside's
// wait strategies) says kNativeWait = true and adds
//   Receiver      Io wait_peek(std::span<const std::byte>& message, std::uint64_t timeout_ns)
//   Sender        template <class Fill> Io wait_send(Fill&& fill, std::uint64_t timeout_ns)
// returning kTimedOut when the time ran out; the others are waited for by
// the caller's spin, pause, yield or sleep loop.
//
// WordPayloadLink adapts a word link (link.hpp: the floors) to this shape
// for 8-byte payloads: the message travels as one 64-bit word.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>

#include "peers/link.hpp"

namespace ringside::peers {

struct PayloadConfig {
    std::size_t payload = 8;          // bytes per message
    std::size_t capacity_bytes = 65536;  // per direction, as ringside's ring_bytes
};

template <typename WordLink>
class WordPayloadLink {
public:
    static constexpr bool kNativeWait = requires(typename WordLink::Side side, std::uint64_t v) {
        side.in.wait_peek(v, std::uint64_t{0});
    };

    class Sender {
    public:
        template <typename Fill>
        Io try_send(Fill&& fill) {
            // Room beyond the word, so the compiler can see a writer of
            // `payload` bytes stays in bounds (open() insists on 8).
            alignas(8) std::byte staging[64];
            fill(staging);
            std::uint64_t word = 0;
            std::memcpy(&word, staging, sizeof word);
            return inner->try_send(word);
        }
        template <typename Fill>
        Io wait_send(Fill&& fill, std::uint64_t) {
            return try_send(fill);  // one message per direction: never full in ping-pong
        }
        decltype(WordLink::Side::out)* inner = nullptr;
    };

    class Receiver {
    public:
        Io try_peek(std::span<const std::byte>& message) {
            const Io io = inner->try_peek(word_);
            message = std::span<const std::byte>(reinterpret_cast<const std::byte*>(&word_), sizeof word_);
            return io;
        }
        Io wait_peek(std::span<const std::byte>& message, std::uint64_t timeout_ns)
            requires WordPayloadLink::kNativeWait
        {
            const Io io = inner->wait_peek(word_, timeout_ns);
            message = std::span<const std::byte>(reinterpret_cast<const std::byte*>(&word_), sizeof word_);
            return io;
        }
        Io release() { return inner->release(); }
        decltype(WordLink::Side::in)* inner = nullptr;

    private:
        std::uint64_t word_ = 0;
    };

    struct Side {
        Sender out;
        Receiver in;
        typename WordLink::Side word_side;
    };

    explicit WordPayloadLink(const PayloadConfig& config) : payload_(config.payload) {}
    bool open(std::string& error) {
        if (payload_ != sizeof(std::uint64_t)) {
            error = "a word link carries 8-byte messages only";
            return false;
        }
        return link_.open(error);
    }
    bool attach(Side& side, int which, std::string& error) {
        if (!link_.attach(side.word_side, which, error)) return false;
        side.out.inner = &side.word_side.out;
        side.in.inner = &side.word_side.in;
        return true;
    }
    void detach(Side& side) { link_.detach(side.word_side); }
    void close() { link_.close(); }

private:
    std::size_t payload_;
    WordLink link_;
};

}  // namespace ringside::peers
