// The two peers of a crash trial and what they share with the driver.
//
// A record's payload is self-checking: a 16-byte head (sequence number,
// payload length, checksum) and a body derived from the sequence number. A
// record that was cut off mid-write (a half-written record) fails the
// checksum; one delivered twice or skipped breaks the sequence.
//
// The Board is an anonymous MAP_SHARED page set up by the driver before it
// forks the peers: each peer announces there where it is (its phase) and how
// far it got, so the driver knows what was committed and delivered by a
// process it then SIGKILLs. Every field has one writer (named per field).
#pragma once

#include <atomic>
#include <cstdint>
#include <string>

namespace ringside::faults {

inline constexpr std::uint32_t kRecordHeadBytes = 16;

enum class Phase : std::uint32_t {
    kIdle = 0,
    kStarted,    // attached, about to write (or read)
    kFilling,    // producer: between reserve and commit
    kCommitted,  // producer: commit returned
    kParked,     // producer: stopped on purpose between reserve and commit
    kWaiting,    // ring full (producer) or empty (consumer)
    kDone,       // finished normally
};

struct Board {
    // --- producer: written by the producer child only ---
    std::atomic<std::uint32_t> producer_phase;
    std::atomic<std::uint64_t> attempted_end;  // exclusive end of the sequences reserved so far
    std::atomic<std::uint64_t> committed_end;  // exclusive end of the sequences whose commit returned
    // --- consumer: written by the consumer child only ---
    std::atomic<std::uint32_t> consumer_phase;
    std::atomic<std::uint64_t> delivered_end;  // exclusive end of the sequences it checked (before release)
    std::atomic<std::uint64_t> half_written;   // records whose checksum or length failed
    std::atomic<std::uint64_t> out_of_order;   // records whose sequence was not the next one
    // --- driver: written before the fork, read-only afterwards ---
    std::uint64_t start_seq;
    std::uint64_t park_at;      // sequence at which the producer parks mid-record; UINT64_MAX: never
    std::uint64_t max_records;  // producer stops after this many; UINT64_MAX: until killed
    std::uint64_t seed;
};
static_assert(std::atomic<std::uint64_t>::is_always_lock_free, "the board is shared between processes");

struct RecordCheck {
    bool intact = false;     // length and checksum agree with the body
    std::uint64_t seq = 0;
};

// Fills `payload` (length >= kRecordHeadBytes) for sequence `seq`.
void fill_record(void* payload, std::uint32_t length, std::uint64_t seq);
// Checks a delivered payload.
RecordCheck check_record(const void* payload, std::size_t length);

// Child bodies: return the exit code. `region` is a file-backed region path.
int producer_main(const std::string& region, Board& board);
int consumer_main(const std::string& region, Board& board);

}  // namespace ringside::faults
