// ringside behind the harness's Link shape (peers/link.hpp): one named shm
// region with two rings (ring 0 carries A -> B, ring 1 B -> A), driven either
// through the C++ layer (Producer/Consumer on the mapped rings) or through
// the public C API (rs_ring_write / rs_ring_peek / rs_ring_release).
// Records are 8-byte payloads (16 bytes in the ring with their header).
#pragma once

#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <span>
#include <string>

#include "peers/link.hpp"
#include "ring/consumer.hpp"
#include "ring/producer.hpp"
#include "ringside/ringside.h"
#include "ringside/sidecar.h"
#include "shm/region.hpp"

namespace ringside::micro {

using peers::Io;

inline constexpr std::uint64_t kRingCapacity = 64 * 1024;  // 4095 records of 16 bytes

// A fresh shm name per region: /ringside-micro-<pid>-<n>.
inline std::string unique_region_name() {
    static std::atomic<unsigned> counter{0};
    char name[64];
    std::snprintf(name, sizeof name, "/ringside-micro-%d-%u", static_cast<int>(::getpid()),
                  counter.fetch_add(1, std::memory_order_relaxed));
    return name;
}

inline rs_region_options region_options() {
    rs_region_options options;
    rs_region_options_init(&options);
    options.ring_count = 2;
    options.ring_capacity = kRingCapacity;
    options.prefault = 1;
    return options;
}

inline std::string last_error(const char* what) {
    return std::string(what) + ": " + rs_last_error_message();
}

// --- the C++ layer over a Region ------------------------------------------------

class RingsideCppLink {
public:
    class Sender {
    public:
        Io try_send(std::uint64_t value) {
            switch (producer.try_write(&value, sizeof value)) {
                case RingStatus::kOk: return Io::kDone;
                case RingStatus::kFull: return Io::kRetry;
                default: return Io::kFailed;
            }
        }
        // Reserves up to n records, then publishes them with one commit.
        Io send_batch(const std::uint64_t* values, std::size_t n, std::size_t& sent) {
            sent = 0;
            for (; sent < n; ++sent) {
                std::span<std::byte> span;
                const RingStatus status = producer.try_reserve(sizeof(std::uint64_t), span);
                if (status == RingStatus::kFull) break;
                if (status != RingStatus::kOk) return Io::kFailed;
                std::memcpy(span.data(), &values[sent], sizeof(std::uint64_t));
            }
            if (sent == 0) return Io::kRetry;
            return producer.commit() == RingStatus::kOk ? Io::kDone : Io::kFailed;
        }
        Producer producer;
    };

    class Receiver {
    public:
        Io try_peek(std::uint64_t& value) {
            RecordSpan span;
            const RingStatus status = consumer.try_peek(span);
            if (status == RingStatus::kEmpty) return Io::kRetry;
            if (status != RingStatus::kOk || span.length != sizeof value) return Io::kFailed;
            std::memcpy(&value, span.data, sizeof value);
            return Io::kDone;
        }
        Io peek_batch(std::uint64_t* out, std::size_t max, std::size_t& got) {
            std::uint32_t count = 0;
            got = 0;
            const RingStatus status =
                consumer.peek_batch(std::span<RecordSpan>(spans, max < kMaxBatch ? max : kMaxBatch), count);
            if (status == RingStatus::kEmpty) return Io::kRetry;
            if (status != RingStatus::kOk) return Io::kFailed;
            for (std::uint32_t i = 0; i < count; ++i) {
                if (spans[i].length != sizeof(std::uint64_t)) return Io::kFailed;
                std::memcpy(&out[i], spans[i].data, sizeof(std::uint64_t));
            }
            got = count;
            return Io::kDone;
        }
        Io release() { return consumer.release() == RingStatus::kOk ? Io::kDone : Io::kFailed; }
        Consumer consumer;

    private:
        // A member, not a local: RecordSpan's initialisers would zero 1 KiB per call.
        static constexpr std::size_t kMaxBatch = 64;
        RecordSpan spans[kMaxBatch];
    };

    struct Side {
        Sender out;
        Receiver in;
    };

    bool open(std::string& error) {
        const std::string name = unique_region_name();
        if (Region::create(name.c_str(), region_options(), &region_) != RS_OK) {
            error = last_error("Region::create");
            return false;
        }
        return true;
    }
    bool attach(Side& side, int which, std::string& error) {
        const RingView out_ring = region_->ring_view(which == 0 ? 0 : 1);
        const RingView in_ring = region_->ring_view(which == 0 ? 1 : 0);
        if (side.out.producer.attach(out_ring) != RingStatus::kOk ||
            side.in.consumer.attach(in_ring) != RingStatus::kOk) {
            error = "Producer/Consumer::attach failed on a fresh region";
            return false;
        }
        return true;
    }
    void detach(Side&) {}
    void close() {
        if (region_ != nullptr) Region::destroy(region_);
        region_ = nullptr;
    }

private:
    Region* region_ = nullptr;
};

// --- the public C API -------------------------------------------------------------

// kPeerMayPark: how each side describes its peer to rs_ring_set_wait_strategy.
// Both sides of these benchmarks spin, so `false` is the truthful setting: a
// commit or release then skips the wake-up protocol's seq_cst fence, as the
// C++ rows (which never wake anyone) do. `true` is the library default, kept
// as its own row: it shows what a peer that may park costs the publisher (the
// fence waits for the store buffer to drain into lines the peer is reading).
template <bool kPeerMayPark>
class RingsideCApiLinkT {
public:
    class Sender {
    public:
        Io try_send(std::uint64_t value) {
            const rs_result result = rs_ring_write(ring, &value, sizeof value);
            return result == RS_OK ? Io::kDone : result == RS_FULL ? Io::kRetry : Io::kFailed;
        }
        rs_ring_t* ring = nullptr;
    };

    class Receiver {
    public:
        Io try_peek(std::uint64_t& value) {
            rs_record record;
            const rs_result result = rs_ring_peek(ring, &record);
            if (result == RS_EMPTY) return Io::kRetry;
            if (result != RS_OK || record.length != sizeof value) return Io::kFailed;
            std::memcpy(&value, record.data, sizeof value);
            return Io::kDone;
        }
        Io release() { return rs_ring_release(ring) == RS_OK ? Io::kDone : Io::kFailed; }
        rs_ring_t* ring = nullptr;
    };

    struct Side {
        Sender out;
        Receiver in;
    };

    bool open(std::string& error) {
        const std::string name = unique_region_name();
        const rs_region_options options = region_options();
        if (rs_region_create(name.c_str(), &options, &region_) != RS_OK) {
            error = last_error("rs_region_create");
            return false;
        }
        return true;
    }
    bool attach(Side& side, int which, std::string& error) {
        if (rs_ring_create(region_, which == 0 ? 0 : 1, RS_ROLE_PRODUCER, &side.out.ring) != RS_OK ||
            rs_ring_create(region_, which == 0 ? 1 : 0, RS_ROLE_CONSUMER, &side.in.ring) != RS_OK) {
            error = last_error("rs_ring_create");
            detach(side);
            return false;
        }
        rs_wait_strategy strategy;
        rs_wait_strategy_init(&strategy, RS_WAIT_BUSY_SPIN);
        strategy.peer_may_park = kPeerMayPark ? 1 : 0;
        if (rs_ring_set_wait_strategy(side.out.ring, &strategy) != RS_OK ||
            rs_ring_set_wait_strategy(side.in.ring, &strategy) != RS_OK) {
            error = last_error("rs_ring_set_wait_strategy");
            detach(side);
            return false;
        }
        return true;
    }
    void detach(Side& side) {
        if (side.out.ring != nullptr) rs_ring_destroy(side.out.ring);
        if (side.in.ring != nullptr) rs_ring_destroy(side.in.ring);
        side.out.ring = nullptr;
        side.in.ring = nullptr;
    }
    void close() {
        if (region_ != nullptr) rs_region_destroy(region_);
        region_ = nullptr;
    }

private:
    rs_region_t* region_ = nullptr;
};

using RingsideCApiLink = RingsideCApiLinkT<false>;
using RingsideCApiParkableLink = RingsideCApiLinkT<true>;

}  // namespace ringside::micro
