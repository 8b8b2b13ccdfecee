// The record stream of the stress tests, and the two loops that produce and
// verify it through the C API. Record `seq` has a length derived from seq
// (8..135 bytes, and every 4099th one 1000..3999 bytes so the ring wraps
// with padding), starts with seq itself and continues with a pattern derived
// from seq. Both sides fold every payload byte into an order-sensitive
// checksum; the consumer also checks every record as it arrives.
//
// The producer switches every 1024 records between reserve+commit per
// record, batches of 1..8 reservations per commit, and rs_ring_write; the
// consumer between peek+release, peek_batch (<= 16) + one release, and
// rs_ring_read. Both back off with pause, then sched_yield, so they also
// make progress when they share one core.
#pragma once

#include <atomic>
#include <bit>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <functional>
#include <string>
#include <thread>

#include "ringside/ringside.h"

namespace rstest::stress {

inline std::uint32_t record_length(std::uint64_t seq) {
    if (seq % 4099 == 4098) return 1000 + static_cast<std::uint32_t>(seq % 3000);
    return 8 + static_cast<std::uint32_t>((seq * 0x9E37'79B9'7F4A'7C15ull) >> 57);  // 8..135
}

inline std::uint8_t pattern_base(std::uint64_t seq) {
    return static_cast<std::uint8_t>((seq * 0xD6E8'FEB8'6659'FD93ull) >> 56);
}

inline void fill_record(void* destination, std::uint64_t seq, std::uint32_t length) {
    auto* bytes = static_cast<std::uint8_t*>(destination);
    std::memcpy(bytes, &seq, sizeof seq);
    const std::uint8_t base = pattern_base(seq);
    for (std::uint32_t i = 8; i < length; ++i) bytes[i] = static_cast<std::uint8_t>(base + i * 13);
}

// "" when the record is right, else what is wrong with it.
inline std::string check_record(const void* source, std::size_t length, std::uint64_t seq) {
    const std::uint32_t expected = record_length(seq);
    if (length != expected) {
        return "record " + std::to_string(seq) + ": length " + std::to_string(length) + ", expected " +
               std::to_string(expected);
    }
    const auto* bytes = static_cast<const std::uint8_t*>(source);
    std::uint64_t got = 0;
    std::memcpy(&got, bytes, sizeof got);
    if (got != seq) return "expected record " + std::to_string(seq) + ", got sequence number " + std::to_string(got);
    const std::uint8_t base = pattern_base(seq);
    for (std::uint32_t i = 8; i < length; ++i) {
        if (bytes[i] != static_cast<std::uint8_t>(base + i * 13)) {
            return "record " + std::to_string(seq) + ": byte " + std::to_string(i) + " is wrong";
        }
    }
    return "";
}

struct Checksum {
    std::uint64_t state = 0x243F'6A88'85A3'08D3ull;
    std::uint64_t bytes = 0;

    void add(const void* data, std::size_t length) {
        const auto* p = static_cast<const std::uint8_t*>(data);
        std::size_t i = 0;
        for (; i + 8 <= length; i += 8) {
            std::uint64_t word = 0;
            std::memcpy(&word, p + i, 8);
            state = std::rotl(state ^ word, 27) * 0x9E37'79B9'7F4A'7C15ull;
        }
        std::uint64_t tail = length;
        for (; i < length; ++i) tail = (tail << 8) | p[i];
        state = std::rotl(state ^ tail, 31) * 0xC2B2'AE3D'27D4'EB4Full;
        bytes += length;
    }
};

inline void relax(unsigned& spins) {
    if (++spins < 64) {
#if defined(__x86_64__) || defined(__i386__)
        __builtin_ia32_pause();
#endif
    } else {
        std::this_thread::yield();
    }
}

struct Outcome {
    std::uint64_t records = 0;
    Checksum checksum;
    std::uint64_t waits = 0;    // times FULL (producer) or EMPTY (consumer) was seen
    std::uint64_t batches = 0;  // multi-record commits (producer) or peek_batch calls (consumer)
    std::string error;          // "" if all went well
};

// Writes records 0..count-1. Stops early when `stop` is set (the other side failed).
inline Outcome produce(rs_ring_t* ring, std::uint64_t count, const std::atomic<bool>& stop) {
    Outcome out;
    std::uint64_t& seq = out.records;  // progress, also when failing
    std::uint32_t pending = 0;  // reserved, not yet committed
    unsigned spins = 0;
    auto fail = [&](const char* what, rs_result result) {
        out.error = std::string(what) + " of record " + std::to_string(seq) + ": " + rs_result_name(result) + " " +
                    rs_last_error_message();
    };
    while (seq < count) {
        const std::uint32_t length = record_length(seq);
        const int mode = static_cast<int>((seq >> 10) % 3);
        rs_result result = RS_OK;
        if (mode == 2) {
            alignas(8) std::uint8_t copy[4096];
            fill_record(copy, seq, length);
            result = rs_ring_write(ring, copy, length);
            if (result == RS_OK) {
                out.checksum.add(copy, length);
                ++seq;
                pending = 0;  // a write also publishes earlier reservations
                spins = 0;
                continue;
            }
        } else {
            void* data = nullptr;
            result = rs_ring_reserve(ring, length, &data);
            if (result == RS_OK) {
                fill_record(data, seq, length);
                out.checksum.add(data, length);
                ++seq;
                ++pending;
                spins = 0;
                const std::uint32_t batch = mode == 0 ? 1 : 1 + static_cast<std::uint32_t>(seq % 8);
                if (pending >= batch || seq == count) {
                    if (pending > 1) ++out.batches;
                    if (rs_result r = rs_ring_commit(ring); r != RS_OK) {
                        fail("commit", r);
                        return out;
                    }
                    pending = 0;
                }
                continue;
            }
        }
        if (result != RS_FULL) {
            fail(mode == 2 ? "write" : "reserve", result);
            return out;
        }
        // Full: publish what is reserved first, or the consumer can never make room.
        if (pending > 0) {
            if (pending > 1) ++out.batches;
            if (rs_result r = rs_ring_commit(ring); r != RS_OK) {
                fail("commit", r);
                return out;
            }
            pending = 0;
        }
        ++out.waits;
        if (stop.load(std::memory_order_relaxed)) {
            out.error = "stopped at record " + std::to_string(seq) + ": the consumer gave up";
            return out;
        }
        relax(spins);
    }
    return out;
}

// Reads and checks records 0..count-1. Gives up when the ring stays empty
// past `idle_limit` and `producer_gone()` says no more can come, or when
// `stop` is set.
inline Outcome consume(rs_ring_t* ring, std::uint64_t count, const std::atomic<bool>& stop,
                       const std::function<bool()>& producer_gone,
                       std::chrono::milliseconds idle_limit = std::chrono::milliseconds(60'000)) {
    Outcome out;
    std::uint64_t& seq = out.records;  // progress, also when failing
    unsigned spins = 0;
    std::uint64_t empty_streak = 0;
    auto idle_since = std::chrono::steady_clock::now();
    alignas(8) std::uint8_t copy[4096];
    auto accept = [&](const void* data, std::size_t length) {
        if (std::string problem = check_record(data, length, seq); !problem.empty()) {
            out.error = problem;
            return false;
        }
        out.checksum.add(data, length);
        ++seq;
        return true;
    };
    while (seq < count) {
        const int mode = static_cast<int>((seq >> 10) % 3);
        rs_result result = RS_OK;
        if (mode == 0) {
            rs_record record{};
            result = rs_ring_peek(ring, &record);
            if (result == RS_OK) {
                if (!accept(record.data, record.length)) return out;
                if (rs_result r = rs_ring_release(ring); r != RS_OK) result = r;
            }
        } else if (mode == 1) {
            rs_record records[16];
            std::size_t got = 0;
            result = rs_ring_peek_batch(ring, records, 16, &got);
            if (result == RS_OK) {
                ++out.batches;
                for (std::size_t i = 0; i < got; ++i) {
                    if (!accept(records[i].data, records[i].length)) return out;
                }
                if (rs_result r = rs_ring_release(ring); r != RS_OK) result = r;
            }
        } else {
            std::size_t length = 0;
            result = rs_ring_read(ring, copy, sizeof copy, &length);
            if (result == RS_OK && !accept(copy, length)) return out;
        }
        if (result == RS_OK) {
            spins = 0;
            empty_streak = 0;
            continue;
        }
        if (result != RS_EMPTY) {
            out.error = "record " + std::to_string(seq) + ": " + rs_result_name(result) + " " + rs_last_error_message();
            return out;
        }
        ++out.waits;
        if (++empty_streak % 4096 == 0) {
            const auto now = std::chrono::steady_clock::now();
            if (empty_streak == 4096) idle_since = now;
            if (stop.load(std::memory_order_relaxed)) {
                out.error = "stopped at record " + std::to_string(seq) + ": the producer gave up";
                return out;
            }
            rs_record record{};
            if (producer_gone() && rs_ring_peek(ring, &record) == RS_EMPTY) {
                out.error = "the producer is gone after " + std::to_string(seq) + " of " + std::to_string(count) +
                            " records";
                return out;
            }
            if (now - idle_since > idle_limit) {
                out.error = "no record for " + std::to_string(idle_limit.count()) + " ms after record " +
                            std::to_string(seq);
                return out;
            }
        }
        relax(spins);
    }
    return out;
}

}  // namespace rstest::stress
