// The shared-memory layout of a ringside region: the one contract between two
// processes that may be different builds. Fixed-width types only, offsets
// never addresses, and all-zero memory is a valid empty state for every
// structure below except the header's magic (a zero magic means "not ready").
//
// A region is one mapping: a header page, then `ring_count` rings, each a
// control page followed by its data area.
//
//   offset 0                      4096                    4096+4096
//   +-----------------------------+-----------------------+----------------------+---
//   | RegionHeader (256 B)        | RingControl ring 0    | ring 0 data          |
//   |  magic, version, sizes,     |  +0    producer line  |  capacity bytes,     | ... ring 1 ...
//   |  creator pid + start time,  |  +128  consumer line  |  power of two,       |
//   |  epoch, backing kind        |  +256  notify line    |  records, see below  |
//   | StatusBlock (at 256)        |  +384  claims line    |                      |
//   | zero up to 4096             |  zero up to 4096      |                      |
//   +-----------------------------+-----------------------+----------------------+---
//   ring i control = kHeaderPageBytes + i * (kRingControlBytes + capacity)
//   ring i data    = ring i control + kRingControlBytes
//
// Records inside a ring's data area (positions are absolute, monotonically
// increasing u64 byte counts; offset = position & (capacity - 1)):
//
//   +--------+-----------+-------------------+-- padding to record_align --+
//   | commit | length    | payload (length)  |                             |
//   | u32    | u32       |                   |                             |
//   +--------+-----------+-------------------+-----------------------------+
//   commit == 0                 : not yet written (the consumer waits here)
//   commit == total             : a record of `total` bytes (header included,
//                                 aligned), payload `length` bytes
//   commit == kPadFlag | total  : padding up to the end of the data area
//
// Publication ("SYNC: publish-record"): the producer writes the payload and
// `length` with plain stores, stores 0 into the commit word just past the
// record (the terminator), then stores the record's commit word with release.
// The consumer loads the commit word at its position with acquire. A waiting
// consumer therefore polls one cache line, the one the next record lands in.
// The terminator is why the producer always keeps 8 free bytes: the word at
// the write position is never stale data from an earlier lap.
//
// Space ("SYNC: release-space"): the consumer stores `read_position` with
// release after it has finished reading; the producer loads it with acquire
// before it overwrites those bytes.
//
// Bump kLayoutMajor for any change an old opener would misread; bump
// kLayoutMinor for additions in reserved space that old openers may ignore.
// tests/layout_test.cpp pins every size and offset below.
#pragma once

#include <cstddef>
#include <cstdint>

namespace ringside::layout {

inline constexpr std::uint64_t kMagic = 0x31454449'53474e52ull;  // "RNGSIDE1" little-endian
inline constexpr std::uint16_t kLayoutMajor = 1;
inline constexpr std::uint16_t kLayoutMinor = 0;

inline constexpr std::uint32_t kHeaderPageBytes = 4096;
inline constexpr std::uint32_t kRingControlBytes = 4096;
inline constexpr std::uint32_t kCacheLine = 64;
// Two lines apart: adjacent-line prefetchers pull pairs of lines.
inline constexpr std::uint32_t kFalseSharingRange = 128;

inline constexpr std::uint32_t kRecordHeaderBytes = 8;
inline constexpr std::uint32_t kPadFlag = 0x8000'0000u;
inline constexpr std::uint64_t kMinCapacity = 4096;
inline constexpr std::uint64_t kMaxCapacity = 1ull << 30;  // commit word holds totals < 2^31
inline constexpr std::uint32_t kMaxRings = 1024;

enum class BackingKind : std::uint32_t { kNamedShm = 1, kFile = 2 };

// Written once by the creator, read-only afterwards. Two cache lines.
struct RegionHeader {
    std::uint64_t magic;               // written last, with release ("SYNC: publish-header")
    std::uint16_t layout_major;
    std::uint16_t layout_minor;
    std::uint32_t header_bytes;        // sizeof(RegionHeader) as the creator knew it
    std::uint64_t total_bytes;         // the whole mapping
    std::uint64_t ring_capacity;       // data bytes per ring, power of two
    std::uint32_t ring_count;
    std::uint32_t record_align;        // power of two, >= 8
    std::uint32_t backing_kind;        // BackingKind
    std::int32_t creator_pid;
    std::uint64_t creator_start_ticks; // /proc/<pid>/stat field 22: tells a reused pid
    std::uint64_t epoch;               // random per creation: tells a re-created region
    std::uint64_t created_unix_ns;
    std::uint32_t flags;               // reserved, zero
    std::uint32_t reserved0;
    std::uint8_t reserved[176];
};

// Live, advisory state of whatever serves the region (the sidecar), for the
// inspector. Written with relaxed stores by its single owner; readers must
// treat every field as untrusted.
struct StatusBlock {
    std::uint32_t sidecar_state;       // 0 = none
    std::int32_t sidecar_pid;
    std::uint64_t commands_processed;
    std::uint64_t events_emitted;
    std::int32_t last_error;
    std::uint32_t reserved0;
    std::uint8_t reserved[96];
};

// One page per ring. Each line has exactly one writer (named per field).
struct RingControl {
    // --- producer line: written by the producer only ---
    std::uint64_t write_position;      // end of the committed records, published when the producer detaches
                                       // (not per record: inspectors walk the commit words instead)
    std::uint64_t records_committed;   // published when the producer detaches, like write_position
    std::uint8_t producer_pad[kFalseSharingRange - 16];
    // --- consumer line: written by the consumer only ---
    std::uint64_t read_position;       // SYNC: release-space
    std::uint64_t records_released;
    std::uint8_t consumer_pad[kFalseSharingRange - 16];
    // --- notify line: the park/wake protocol of the wait strategies ---
    std::uint32_t data_sequence;       // futex word: bumped by the producer when a consumer is parked
    std::uint32_t data_waiters;        // consumers parked waiting for data
    std::uint32_t space_sequence;      // futex word: bumped by the consumer when a producer is parked
    std::uint32_t space_waiters;       // producers parked waiting for space
    std::uint8_t notify_pad[kFalseSharingRange - 16];
    // --- claims line: who is attached ---
    // A claim is one 64-bit word, compare-and-swapped as a whole so that a
    // pid is never paired with another process's start time: low 32 bits the
    // holder's pid, high 32 bits the low 32 bits of its start ticks; 0 = free.
    std::uint64_t producer_claim;
    std::uint64_t producer_start_ticks;  // full start ticks, for display only
    std::uint64_t consumer_claim;
    std::uint64_t consumer_start_ticks;  // full start ticks, for display only
    std::uint8_t claims_pad[kFalseSharingRange - 32];
};

struct RecordHeader {
    std::uint32_t commit;              // SYNC: publish-record (release store / acquire load)
    std::uint32_t length;              // payload bytes, plain store before commit
};

inline constexpr std::uint64_t kStatusOffset = 256;

constexpr std::uint64_t ring_stride(std::uint64_t capacity) { return kRingControlBytes + capacity; }
constexpr std::uint64_t ring_control_offset(std::uint32_t index, std::uint64_t capacity) {
    return kHeaderPageBytes + index * ring_stride(capacity);
}
constexpr std::uint64_t ring_data_offset(std::uint32_t index, std::uint64_t capacity) {
    return ring_control_offset(index, capacity) + kRingControlBytes;
}
constexpr std::uint64_t region_bytes(std::uint32_t ring_count, std::uint64_t capacity) {
    return kHeaderPageBytes + ring_count * ring_stride(capacity);
}
// The largest record (header + payload, aligned) that can always be placed:
// a record that must wrap needs its padding plus itself plus the terminator.
constexpr std::uint64_t max_record_total(std::uint64_t capacity) { return capacity / 2; }
constexpr std::uint64_t max_payload(std::uint64_t capacity) {
    return max_record_total(capacity) - kRecordHeaderBytes;
}

static_assert(sizeof(RegionHeader) == 256, "RegionHeader is four cache lines");
static_assert(kStatusOffset + sizeof(StatusBlock) <= kHeaderPageBytes, "status block fits the header page");
static_assert(sizeof(StatusBlock) == 128, "StatusBlock is two cache lines");
static_assert(sizeof(RingControl) == 4 * kFalseSharingRange, "RingControl is four 128-byte lines");
static_assert(offsetof(RingControl, read_position) - offsetof(RingControl, write_position) >= kFalseSharingRange,
              "producer and consumer indices must live on different cache-line pairs");
static_assert(offsetof(RingControl, data_sequence) - offsetof(RingControl, read_position) >= kFalseSharingRange,
              "the notify line must not share a line with the consumer index");
static_assert(offsetof(RingControl, data_sequence) % 4 == 0 && offsetof(RingControl, space_sequence) % 4 == 0,
              "futex words must be 4-byte aligned");
static_assert(sizeof(RingControl) <= kRingControlBytes, "ring control fits its page");
static_assert(sizeof(RecordHeader) == kRecordHeaderBytes, "record header is 8 bytes");

}  // namespace ringside::layout
