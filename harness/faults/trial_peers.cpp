#include "faults/trial_peers.hpp"

#include <sched.h>
#include <time.h>

#include <chrono>
#include <cstring>
#include <random>

#include "ringside/ringside.h"

namespace ringside::faults {
namespace {

using Clock = std::chrono::steady_clock;

// A peer that outlives its driver (which would kill it) gives up after this.
constexpr auto kPeerLifetime = std::chrono::seconds(30);

std::uint64_t mix(std::uint64_t value) {
    value += 0x9E37'79B9'7F4A'7C15ull;
    value = (value ^ (value >> 30)) * 0xBF58'476D'1CE4'E5B9ull;
    value = (value ^ (value >> 27)) * 0x94D0'49BB'1331'11EBull;
    return value ^ (value >> 31);
}

std::uint32_t checksum(std::uint64_t seq, std::uint32_t length, const unsigned char* body, std::size_t bytes) {
    std::uint64_t hash = 0xCBF2'9CE4'8422'2325ull ^ mix(seq) ^ (std::uint64_t{length} << 32);
    for (std::size_t i = 0; i < bytes; ++i) hash = (hash ^ body[i]) * 0x0000'0100'0000'01B3ull;
    return static_cast<std::uint32_t>(hash ^ (hash >> 32));
}

void spin_for_ns(std::uint64_t ns) {
    const auto until = Clock::now() + std::chrono::nanoseconds(ns);
    while (Clock::now() < until) {
    }
}

// Opens the region and attaches `role`, retrying while the previous holder's
// claim is still live (it is being reaped).
rs_result attach(const std::string& path, rs_role role, rs_region_t** region, rs_ring_t** ring) {
    rs_region_options options;
    rs_region_options_init(&options);
    options.backing = RS_BACKING_FILE;
    options.prefault = 0;
    rs_result result = rs_region_open(path.c_str(), &options, region);
    if (result != RS_OK) return result;
    const auto deadline = Clock::now() + std::chrono::seconds(5);
    while ((result = rs_ring_create(*region, 0, role, ring)) == RS_BUSY && Clock::now() < deadline) sched_yield();
    if (result != RS_OK) rs_region_destroy(*region);
    return result;
}

}  // namespace

void fill_record(void* payload, std::uint32_t length, std::uint64_t seq) {
    auto* bytes = static_cast<unsigned char*>(payload);
    std::uint64_t state = mix(seq);
    for (std::uint32_t i = kRecordHeadBytes; i < length; ++i) {
        bytes[i] = static_cast<unsigned char>(state >> ((i & 7) * 8));
        if ((i & 7) == 7) state = mix(state);
    }
    const std::uint32_t sum = checksum(seq, length, bytes + kRecordHeadBytes, length - kRecordHeadBytes);
    std::memcpy(bytes, &seq, 8);
    std::memcpy(bytes + 8, &length, 4);
    std::memcpy(bytes + 12, &sum, 4);
}

RecordCheck check_record(const void* payload, std::size_t length) {
    RecordCheck out;
    if (length < kRecordHeadBytes) return out;
    const auto* bytes = static_cast<const unsigned char*>(payload);
    std::uint32_t said_length = 0;
    std::uint32_t sum = 0;
    std::memcpy(&out.seq, bytes, 8);
    std::memcpy(&said_length, bytes + 8, 4);
    std::memcpy(&sum, bytes + 12, 4);
    out.intact = said_length == length &&
                 sum == checksum(out.seq, said_length, bytes + kRecordHeadBytes, length - kRecordHeadBytes);
    return out;
}

// Writes records start_seq, start_seq + 1, ... in batches of 1..4 reservations
// per commit, with random pauses between records and between reserve and
// commit, so a SIGKILL lands anywhere. The board is updated around each
// commit: attempted_end before the first reserve of a batch, committed_end
// after commit returned. Stores are release so that the driver, which reads
// them with acquire while deciding when to kill, sees a consistent pair; after
// waitpid() everything the child stored is visible anyway.
int producer_main(const std::string& region_path, Board& board) {
    rs_region_t* region = nullptr;
    rs_ring_t* ring = nullptr;
    if (attach(region_path, RS_ROLE_PRODUCER, &region, &ring) != RS_OK) return 10;
    rs_region_info info;
    info.struct_size = sizeof info;
    rs_region_get_info(region, &info);
    const std::uint32_t largest = static_cast<std::uint32_t>(std::min<std::uint64_t>(info.max_payload, 700));
    std::mt19937_64 rng(board.seed);
    std::uniform_int_distribution<std::uint32_t> length_of(kRecordHeadBytes, largest);
    std::uniform_int_distribution<std::uint32_t> batch_of(1, 4);
    std::uniform_int_distribution<std::uint32_t> percent(0, 99);
    std::uniform_int_distribution<std::uint64_t> pause_ns(0, 20'000);
    const auto give_up = Clock::now() + kPeerLifetime;
    board.producer_phase.store(static_cast<std::uint32_t>(Phase::kStarted), std::memory_order_release);
    std::uint64_t seq = board.start_seq;
    const std::uint64_t end = board.max_records == UINT64_MAX ? UINT64_MAX : board.start_seq + board.max_records;
    while (seq < end && Clock::now() < give_up) {
        const std::uint64_t batch = std::min<std::uint64_t>(batch_of(rng), end - seq);
        // release: pairs with the driver's acquire (it reports how far the producer got).
        board.attempted_end.store(seq + batch, std::memory_order_release);
        board.producer_phase.store(static_cast<std::uint32_t>(Phase::kFilling), std::memory_order_release);
        std::uint64_t reserved = 0;
        while (reserved < batch) {
            const std::uint32_t length = length_of(rng);
            void* slot = nullptr;
            const rs_result result = rs_ring_reserve(ring, length, &slot);
            if (result == RS_FULL) break;
            if (result != RS_OK) return 11;
            // Half the record now, the rest after a possible pause: a kill in
            // between leaves a reserved, half-filled, uncommitted record.
            fill_record(slot, length, seq + reserved);
            if (seq + reserved == board.park_at) {
                std::memset(static_cast<unsigned char*>(slot) + length / 2, 0xEE, length - length / 2);
                board.producer_phase.store(static_cast<std::uint32_t>(Phase::kParked), std::memory_order_release);
                while (Clock::now() < give_up) ::sched_yield();  // until the driver kills us
                return 12;
            }
            if (percent(rng) < 20) spin_for_ns(pause_ns(rng));
            ++reserved;
        }
        if (reserved == 0) {
            board.producer_phase.store(static_cast<std::uint32_t>(Phase::kWaiting), std::memory_order_release);
            ::sched_yield();
            continue;
        }
        if (rs_ring_commit(ring) != RS_OK) return 13;
        seq += reserved;
        board.committed_end.store(seq, std::memory_order_release);
        board.producer_phase.store(static_cast<std::uint32_t>(Phase::kCommitted), std::memory_order_release);
        if (percent(rng) < 10) spin_for_ns(pause_ns(rng));
    }
    rs_ring_destroy(ring);
    rs_region_destroy(region);
    board.producer_phase.store(static_cast<std::uint32_t>(Phase::kDone), std::memory_order_release);
    return seq == end ? 0 : 14;
}

// Reads from the persisted read position, checks each record and releases it
// (with random pauses between peek and release, so a kill lands between
// them), until the producer is done and the ring is empty.
int consumer_main(const std::string& region_path, Board& board) {
    rs_region_t* region = nullptr;
    rs_ring_t* ring = nullptr;
    if (attach(region_path, RS_ROLE_CONSUMER, &region, &ring) != RS_OK) return 20;
    std::mt19937_64 rng(board.seed ^ 0xC0C0);
    std::uniform_int_distribution<std::uint32_t> percent(0, 99);
    std::uniform_int_distribution<std::uint64_t> pause_ns(0, 30'000);
    const auto give_up = Clock::now() + kPeerLifetime;
    std::uint64_t next = board.start_seq;
    // release (like every phase store): the driver acquires phases while it decides when to kill.
    board.consumer_phase.store(static_cast<std::uint32_t>(Phase::kStarted), std::memory_order_release);
    while (Clock::now() < give_up) {
        rs_record records[8];
        std::size_t count = 0;
        const rs_result result = rs_ring_peek_batch(ring, records, 8, &count);
        if (result == RS_EMPTY) {
            // acquire: the producer's last commit happened before it said done.
            if (board.producer_phase.load(std::memory_order_acquire) == static_cast<std::uint32_t>(Phase::kDone)) {
                if (rs_ring_peek_batch(ring, records, 8, &count) == RS_EMPTY) break;
            } else {
                // relaxed is enough: a progress note nobody synchronises on.
                board.consumer_phase.store(static_cast<std::uint32_t>(Phase::kWaiting), std::memory_order_relaxed);
                ::sched_yield();
                continue;
            }
        } else if (result != RS_OK) {
            return 21;
        }
        for (std::size_t i = 0; i < count; ++i) {
            const RecordCheck check = check_record(records[i].data, records[i].length);
            // relaxed is enough for both counters: the driver reads them after reaping us.
            if (!check.intact) {
                board.half_written.fetch_add(1, std::memory_order_relaxed);
            } else if (check.seq != next) {
                board.out_of_order.fetch_add(1, std::memory_order_relaxed);
                next = check.seq + 1;
            } else {
                ++next;
            }
        }
        // release: the driver reads it with acquire after the kill (and after waitpid).
        board.delivered_end.store(next, std::memory_order_release);
        if (percent(rng) < 20) spin_for_ns(pause_ns(rng));
        if (rs_ring_release(ring) != RS_OK) return 22;
    }
    rs_ring_destroy(ring);
    rs_region_destroy(region);
    board.consumer_phase.store(static_cast<std::uint32_t>(Phase::kDone), std::memory_order_release);
    return 0;
}

}  // namespace ringside::faults
