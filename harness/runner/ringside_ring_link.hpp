// ringside's bare rings in the peers' payload shape (peers/payload_link.hpp),
// through the public C API: one region with two rings (ring 0 carries side
// A -> B, ring 1 B -> A). The sender reserves the record in the ring and the
// message is written straight into it (zero copy), then commits; the
// receiver peeks the record in place and releases it. Waiting is ringside's
// own: each handle carries its side's wait strategy, configured with the
// peer's class so that publishing wakes a parked peer.
#pragma once

#include <cstdint>
#include <mutex>
#include <span>
#include <string>
#include <utility>

#include "peers/payload_link.hpp"
#include "ringside/ringside.h"
#include "runner/scenario.hpp"

namespace ringside::runner {

using peers::Io;

// The library's strategy for one side, told whether its peer may park.
rs_wait_strategy library_strategy(const WaitSpec& own, const WaitSpec& peer);
rs_wait_kind library_kind(Wait wait);

class RingsideRingLink {
public:
    static constexpr bool kNativeWait = true;

    struct Config {
        peers::PayloadConfig payload;
        std::string name;     // shm name or file path
        Backing backing = Backing::kShm;
        WaitSpec waits[2];    // side A (host), side B (echo)
    };

    class Sender {
    public:
        template <typename Fill>
        Io try_send(Fill&& fill) {
            void* slot = nullptr;
            const rs_result r = rs_ring_reserve(ring, payload, &slot);
            if (r == RS_FULL) return Io::kRetry;
            if (r != RS_OK) return Io::kFailed;
            fill(static_cast<std::byte*>(slot));
            return rs_ring_commit(ring) == RS_OK ? Io::kDone : Io::kFailed;
        }
        template <typename Fill>
        Io wait_send(Fill&& fill, std::uint64_t timeout_ns) {
            void* slot = nullptr;
            const rs_result r = rs_ring_reserve_wait(ring, payload, &slot, timeout_ns);
            if (r == RS_TIMEOUT) return Io::kTimedOut;
            if (r != RS_OK) return Io::kFailed;
            fill(static_cast<std::byte*>(slot));
            return rs_ring_commit(ring) == RS_OK ? Io::kDone : Io::kFailed;
        }
        rs_ring_t* ring = nullptr;
        std::size_t payload = 0;
    };

    class Receiver {
    public:
        Io try_peek(std::span<const std::byte>& message) {
            rs_record record{};
            const rs_result r = rs_ring_peek(ring, &record);
            if (r == RS_EMPTY) return Io::kRetry;
            if (r != RS_OK) return Io::kFailed;
            message = std::span<const std::byte>(static_cast<const std::byte*>(record.data), record.length);
            return Io::kDone;
        }
        // Tries first, as a host would: the wait call reads the clock for its deadline.
        Io wait_peek(std::span<const std::byte>& message, std::uint64_t timeout_ns) {
            if (const Io io = try_peek(message); io != Io::kRetry) return io;
            const rs_result r = rs_ring_wait_readable(ring, timeout_ns);
            if (r == RS_TIMEOUT) return Io::kTimedOut;
            if (r != RS_OK) return Io::kFailed;
            return try_peek(message);
        }
        Io release() { return rs_ring_release(ring) == RS_OK ? Io::kDone : Io::kFailed; }
        rs_ring_t* ring = nullptr;
    };

    struct Side {
        Sender out;
        Receiver in;
    };

    explicit RingsideRingLink(Config config) : config_(std::move(config)) {}
    bool open(std::string& error);
    bool attach(Side& side, int which, std::string& error);
    void detach(Side& side);
    void close();

private:
    Config config_;
    rs_region_t* region_ = nullptr;
    std::mutex eventfd_mutex_;  // the two sides attach in their own threads
    int eventfds_[2] = {-1, -1};  // eventfd kind: where side 0 / side 1 parks
};

}  // namespace ringside::runner
