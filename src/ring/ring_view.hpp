// RingView: where one ring of a mapped region lives, plus the record rules
// both sides share (alignment, validation of what the other side wrote).
// See src/shm/layout.h for the layout and the publication protocol.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "shm/layout.h"

#if defined(RINGSIDE_FUZZ_CANARY_DROP_BOUNDS_CHECK) && !defined(RINGSIDE_FUZZ_CANARY_BUILD)
#error "RINGSIDE_FUZZ_CANARY_DROP_BOUNDS_CHECK removes a bounds check: only fuzz/'s canary target may set it"
#endif

namespace ringside {

enum class RingStatus : int {
    kOk = 0,
    kFull,           // no room now; try again after the consumer releases
    kEmpty,          // nothing committed yet
    kTooLarge,       // the record can never fit this ring
    kCorrupt,        // the other side wrote something impossible
    kNothingPending, // commit without reserve, release without peek
};

struct RingView {
    layout::RingControl* control = nullptr;
    std::byte* data = nullptr;
    std::uint64_t capacity = 0;     // power of two
    std::uint32_t record_align = 8; // power of two, >= 8

    [[nodiscard]] std::uint64_t mask() const { return capacity - 1; }
    [[nodiscard]] std::uint64_t offset_of(std::uint64_t position) const { return position & mask(); }
    [[nodiscard]] std::uint64_t record_total(std::uint64_t payload) const {
        return (layout::kRecordHeaderBytes + payload + record_align - 1) & ~std::uint64_t{record_align - 1};
    }
    [[nodiscard]] std::uint64_t max_payload() const { return layout::max_payload(capacity); }
    [[nodiscard]] layout::RecordHeader* header_at(std::uint64_t position) const {
        return reinterpret_cast<layout::RecordHeader*>(data + offset_of(position));
    }
};

// The commit word of the record at `position`. Shared memory written by the
// other process is accessed through atomic_ref only, so a racing (hostile or
// crashed) peer is a protocol error we detect, never a data race we commit.
inline std::atomic_ref<std::uint32_t> commit_word(const RingView& view, std::uint64_t position) {
    return std::atomic_ref<std::uint32_t>(view.header_at(position)->commit);
}

inline std::atomic_ref<std::uint32_t> length_word(const RingView& view, std::uint64_t position) {
    return std::atomic_ref<std::uint32_t>(view.header_at(position)->length);
}

// What one commit word says, after checking it against the ring's geometry.
struct DecodedRecord {
    RingStatus status = RingStatus::kEmpty;
    bool padding = false;
    std::uint64_t total = 0;   // bytes to advance, header included
    std::uint32_t length = 0;  // payload bytes (records only)
};

// Decodes the record at `position`. Consumer side (or a single-threaded
// scanner). `commit` is the value already loaded with acquire.
inline DecodedRecord decode_record(const RingView& view, std::uint64_t position, std::uint32_t commit) {
    DecodedRecord out;
    if (commit == 0) return out;
    const std::uint64_t offset = view.offset_of(position);
    const std::uint64_t total = commit & ~layout::kPadFlag;
    out.total = total;
    if ((commit & layout::kPadFlag) != 0) {
        // Padding always runs exactly to the end of the data area, and never
        // starts at offset 0 (a record at 0 always fits): a padding of the
        // whole ring would lead a reader round and round, never past it.
        out.padding = true;
        out.status = (offset != 0 && total == view.capacity - offset && total >= layout::kRecordHeaderBytes)
                         ? RingStatus::kOk
                         : RingStatus::kCorrupt;
        return out;
    }
    // relaxed is enough: the acquire load of `commit` ordered the plain
    // store of `length` before it (SYNC: publish-record).
    const std::uint32_t length = length_word(view, position).load(std::memory_order_relaxed);
#ifndef RINGSIDE_FUZZ_CANARY_DROP_BOUNDS_CHECK
    const bool inside = offset + total <= view.capacity;
#else
    const bool inside = true;  // the fuzz canary: this one check removed on purpose (fuzz/README.md)
#endif
    const bool valid = total >= layout::kRecordHeaderBytes && (total & (view.record_align - 1)) == 0 &&
                       total <= layout::max_record_total(view.capacity) && inside &&
                       view.record_total(length) == total;
    out.length = length;
    out.status = valid ? RingStatus::kOk : RingStatus::kCorrupt;
    return out;
}

// Walks committed records from `from` until the first uncommitted word.
// Used to recover a producer's write position and by the inspector. Single
// pass, bounded by one capacity; never follows the other side's numbers out
// of the data area. A misaligned `from` is kCorrupt.
struct ScanResult {
    RingStatus status = RingStatus::kOk;
    std::uint64_t end = 0;        // position of the first uncommitted word
    std::uint64_t records = 0;    // committed records (padding not counted)
    std::uint64_t payload_bytes = 0;
};

inline ScanResult scan_committed(const RingView& view, std::uint64_t from) {
    ScanResult result{RingStatus::kOk, from, 0, 0};
    // `from` is often the other side's read_position, straight from shared
    // memory: a misaligned one would put a record header across the end of
    // the data area (and make the atomic loads misaligned).
    if ((from & (view.record_align - 1)) != 0) {
        result.status = RingStatus::kCorrupt;
        return result;
    }
    std::uint64_t position = from;
    while (position - from < view.capacity) {
        const std::uint32_t commit = commit_word(view, position).load(std::memory_order_acquire);
        if (commit == 0) {
            result.end = position;
            return result;
        }
        const DecodedRecord record = decode_record(view, position, commit);
        if (record.status != RingStatus::kOk) {
            result.status = RingStatus::kCorrupt;
            result.end = position;
            return result;
        }
        if (!record.padding) {
            ++result.records;
            result.payload_bytes += record.length;
        }
        position += record.total;
    }
    // A full lap without a terminator: the producer always leaves one.
    result.status = RingStatus::kCorrupt;
    result.end = position;
    return result;
}

}  // namespace ringside
