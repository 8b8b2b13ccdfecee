// The consuming side of an SPSC ring: peek records in place, release them.
// Consumer-thread only: one Consumer per ring, used from one thread at a time.
// A waiting consumer polls a single word: the commit word of the next record.
#pragma once

#include <atomic>
#include <cstring>
#include <span>

#include "ring/ring_view.hpp"

namespace ringside {

struct RecordSpan {
    const std::byte* data = nullptr;
    std::uint32_t length = 0;
};

// Aligned and sized to whole false-sharing ranges, like Producer.
class alignas(layout::kFalseSharingRange) Consumer {
public:
    Consumer() = default;

    // Attaches to `view` at the persisted read position, so a restarted
    // consumer resumes where the previous one released.
    [[nodiscard]] RingStatus attach(const RingView& view) {
        view_ = view;
        // acquire: pairs with a previous consumer's release (SYNC: release-space).
        cursor_ = std::atomic_ref<std::uint64_t>(view.control->read_position).load(std::memory_order_acquire);
        released_records_ = std::atomic_ref<std::uint64_t>(view.control->records_released)
                                .load(std::memory_order_relaxed);
        peek_end_ = cursor_;
        peeked_ = 0;
        return (cursor_ & (view.record_align - 1)) == 0 ? RingStatus::kOk : RingStatus::kCorrupt;
    }

    // The oldest unreleased record, in place. Calling it again before
    // release() returns the same record. The span stays valid until release().
    [[nodiscard, gnu::always_inline]] RingStatus try_peek(RecordSpan& out) {
        const std::uint64_t position = cursor_;
        // SYNC: publish-record. acquire: the payload and length written
        // before the producer's release store are visible.
        const std::uint32_t commit = commit_word(view_, position).load(std::memory_order_acquire);
        if (commit == 0) return RingStatus::kEmpty;
        const std::uint64_t capacity = view_.capacity;
        const std::uint64_t offset = position & (capacity - 1);
        std::byte* const header = view_.data + offset;
        // relaxed is enough: ordered by the acquire above.
        const std::uint32_t length =
            std::atomic_ref<std::uint32_t>(reinterpret_cast<layout::RecordHeader*>(header)->length)
                .load(std::memory_order_relaxed);
        // The common case, checked in full: a record (padding fails the size
        // check), its size matching its length, inside the data area.
        if (view_.record_total(length) != commit || offset + commit > capacity ||
            commit > layout::max_record_total(capacity)) [[unlikely]] {
            return peek_one_slow(out);
        }
        out = RecordSpan{header + layout::kRecordHeaderBytes, length};
        peek_end_ = position + commit;
        peeked_ = 1;
        return RingStatus::kOk;
    }

    // Up to out.size() of the oldest unreleased records, in order. Returns kOk
    // with count >= 1, or kEmpty / kCorrupt with count == 0.
    [[nodiscard]] RingStatus peek_batch(std::span<RecordSpan> out, std::uint32_t& count) {
        count = 0;
        std::uint64_t position = cursor_;
        RingStatus status = RingStatus::kEmpty;
        while (count < out.size()) {
            // SYNC: publish-record. acquire: the payload and length written
            // before the producer's release store are visible.
            const std::uint32_t commit = commit_word(view_, position).load(std::memory_order_acquire);
            if (commit == 0) break;
            const DecodedRecord record = decode_record(view_, position, commit);
            if (record.status != RingStatus::kOk) {
                status = RingStatus::kCorrupt;
                break;
            }
            if (!record.padding) {
                out[count++] = RecordSpan{view_.data + view_.offset_of(position) + layout::kRecordHeaderBytes,
                                          record.length};
            }
            position += record.total;
        }
        if (count == 0) return status;
        peek_end_ = position;
        peeked_ = count;
        return RingStatus::kOk;
    }

    // Releases everything the last peek returned with one index store.
    [[nodiscard, gnu::always_inline]] RingStatus release() {
        if (peeked_ == 0) return RingStatus::kNothingPending;
        cursor_ = peek_end_;
        released_records_ += peeked_;
        peeked_ = 0;
        // relaxed is enough: statistics for the inspector only.
        std::atomic_ref<std::uint64_t>(view_.control->records_released)
            .store(released_records_, std::memory_order_relaxed);
        // SYNC: release-space. release: our reads of the payloads are done
        // before the producer may overwrite them.
        std::atomic_ref<std::uint64_t>(view_.control->read_position).store(cursor_, std::memory_order_release);
        return RingStatus::kOk;
    }

    // Releases the oldest `records` records of the last peek, `last` being the
    // last of them (a span that peek returned), and keeps the rest peeked: a
    // consumer working through a batch hands room back as it goes.
    [[nodiscard]] RingStatus release_through(const RecordSpan& last, std::uint32_t records) {
        if (records == 0 || records > peeked_) return RingStatus::kNothingPending;
        if (records == peeked_) return release();
        const std::uint64_t offset =
            static_cast<std::uint64_t>(last.data - view_.data) - layout::kRecordHeaderBytes;
        // Distance from the cursor, modulo capacity: padding may sit in between.
        const std::uint64_t position = cursor_ + ((offset - view_.offset_of(cursor_)) & (view_.capacity - 1));
        cursor_ = position + view_.record_total(last.length);
        released_records_ += records;
        peeked_ -= records;
        // relaxed is enough: statistics for the inspector only.
        std::atomic_ref<std::uint64_t>(view_.control->records_released)
            .store(released_records_, std::memory_order_relaxed);
        // SYNC: release-space. release: our reads of these payloads are done
        // before the producer may overwrite them.
        std::atomic_ref<std::uint64_t>(view_.control->read_position).store(cursor_, std::memory_order_release);
        return RingStatus::kOk;
    }

    // Copying convenience: copies the oldest record into `buffer` and releases
    // it. If the buffer is too small, returns kTooLarge, sets `length` to the
    // size needed and keeps the record.
    [[nodiscard]] RingStatus try_read(void* buffer, std::uint32_t capacity, std::uint32_t& length) {
        RecordSpan span;
        const RingStatus status = try_peek(span);
        if (status != RingStatus::kOk) return status;
        length = span.length;
        if (span.length > capacity) return RingStatus::kTooLarge;
        if (span.length != 0) std::memcpy(buffer, span.data, span.length);
        return release();
    }

    [[nodiscard]] bool has_peeked() const { return peeked_ != 0; }
    [[nodiscard]] std::uint64_t released_records() const { return released_records_; }
    [[nodiscard]] std::uint64_t cursor() const { return cursor_; }
    [[nodiscard]] const RingView& view() const { return view_; }

private:
    // Padding before the record, or a commit word that fails validation.
    [[gnu::noinline]] RingStatus peek_one_slow(RecordSpan& out) {
        std::uint32_t count = 0;
        const RingStatus status = peek_batch(std::span<RecordSpan>(&out, 1), count);
        return count == 1 ? RingStatus::kOk : status;
    }

    RingView view_{};
    std::uint64_t cursor_ = 0;    // position of the oldest unreleased record
    std::uint64_t peek_end_ = 0;  // position just past what the last peek returned
    std::uint64_t released_records_ = 0;
    std::uint32_t peeked_ = 0;
};

}  // namespace ringside
