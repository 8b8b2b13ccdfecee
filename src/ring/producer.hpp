// The producing side of an SPSC ring: reserve space in place, write, commit.
// Producer-thread only: one Producer per ring, used from one thread at a time.
// No syscalls, no allocation, no locks.
#pragma once

#include <atomic>
#include <cstring>
#include <span>

#include "ring/ring_view.hpp"

namespace ringside {

class Producer {
public:
    Producer() = default;

    // Attaches to `view`, recovering the write position by scanning the
    // committed records from the consumer's read position (a crashed
    // producer's reserved-but-uncommitted space is simply reused).
    [[nodiscard]] RingStatus attach(const RingView& view) {
        view_ = view;
        // acquire: pairs with the consumer's release of read_position (SYNC: release-space).
        const std::uint64_t read = read_position().load(std::memory_order_acquire);
        if ((read & (view.record_align - 1)) != 0) return RingStatus::kCorrupt;
        const ScanResult scan = scan_committed(view, read);
        if (scan.status != RingStatus::kOk) return scan.status;
        cached_read_ = read;
        write_ = scan.end;
        pending_ = scan.end;
        pending_records_ = 0;
        committed_records_ = std::atomic_ref<std::uint64_t>(view.control->records_committed)
                                 .load(std::memory_order_relaxed);
        return RingStatus::kOk;
    }

    // Reserves `length` payload bytes and returns a writable span inside the
    // shared mapping, valid until commit(). Several reservations may be made
    // before one commit() publishes them all.
    [[nodiscard]] RingStatus try_reserve(std::uint32_t length, std::span<std::byte>& out) {
        if (length > view_.max_payload()) return RingStatus::kTooLarge;
        const std::uint64_t total = view_.record_total(length);
        const std::uint64_t offset = view_.offset_of(write_);
        const std::uint64_t padding = offset + total > view_.capacity ? view_.capacity - offset : 0;
        // + one header: the terminator word after the record must be free too.
        const std::uint64_t needed = padding + total + layout::kRecordHeaderBytes;
        if (write_ + needed - cached_read_ > view_.capacity) {
            // acquire: the consumer has finished reading the bytes we are about
            // to overwrite (SYNC: release-space).
            const std::uint64_t read = read_position().load(std::memory_order_acquire);
            if (read < cached_read_ || read > pending_ || pending_ - read > view_.capacity) {
                return RingStatus::kCorrupt;
            }
            cached_read_ = read;
            if (write_ + needed - cached_read_ > view_.capacity) return RingStatus::kFull;
        }
        if (padding != 0) {
            length_word(view_, write_).store(kPaddingLength, std::memory_order_relaxed);
            write_ += padding;
            // relaxed is enough: the record's commit word is published later by
            // the release store that publishes the padding before it.
            commit_word(view_, write_).store(0, std::memory_order_relaxed);
        }
        const std::uint64_t record = write_;
        length_word(view_, record).store(length, std::memory_order_relaxed);
        write_ += total;
        // relaxed is enough: ordered before the record's release commit, and
        // the consumer reads this word only after acquiring that commit.
        commit_word(view_, write_).store(0, std::memory_order_relaxed);
        ++pending_records_;
        out = std::span<std::byte>(view_.data + view_.offset_of(record) + layout::kRecordHeaderBytes, length);
        return RingStatus::kOk;
    }

    // Publishes every reservation since the last commit with one release
    // store: the later commit words are written first (relaxed), the first
    // one last (release), so the consumer sees the whole batch or none of it.
    [[nodiscard]] RingStatus commit() {
        if (pending_records_ == 0) return RingStatus::kNothingPending;
        std::uint64_t position = pending_;
        std::uint32_t first_value = 0;
        while (position < write_) {
            const std::uint32_t length = length_word(view_, position).load(std::memory_order_relaxed);
            std::uint64_t total = 0;
            std::uint32_t value = 0;
            if (length == kPaddingLength) {
                total = view_.capacity - view_.offset_of(position);
                value = layout::kPadFlag | static_cast<std::uint32_t>(total);
            } else {
                total = view_.record_total(length);
                value = static_cast<std::uint32_t>(total);
            }
            if (position == pending_) {
                first_value = value;
            } else {
                // relaxed is enough: published by the release store below.
                commit_word(view_, position).store(value, std::memory_order_relaxed);
            }
            position += total;
        }
        // SYNC: publish-record. release: payloads, lengths, later commit words
        // and the terminator happen-before the consumer's acquire of this word.
        commit_word(view_, pending_).store(first_value, std::memory_order_release);
        committed_records_ += pending_records_;
        // relaxed is enough: these are for inspection and recovery only; the
        // data itself is published by the commit word above.
        std::atomic_ref<std::uint64_t>(view_.control->write_position).store(write_, std::memory_order_relaxed);
        std::atomic_ref<std::uint64_t>(view_.control->records_committed)
            .store(committed_records_, std::memory_order_relaxed);
        pending_ = write_;
        pending_records_ = 0;
        return RingStatus::kOk;
    }

    // Copying convenience: reserve + memcpy + commit of one record (this also
    // publishes any earlier uncommitted reservations).
    [[nodiscard]] RingStatus try_write(const void* payload, std::uint32_t length) {
        std::span<std::byte> span;
        const RingStatus status = try_reserve(length, span);
        if (status != RingStatus::kOk) return status;
        if (length != 0) std::memcpy(span.data(), payload, length);
        return commit();
    }

    [[nodiscard]] std::uint32_t pending_records() const { return pending_records_; }
    [[nodiscard]] std::uint64_t committed_records() const { return committed_records_; }
    [[nodiscard]] const RingView& view() const { return view_; }

private:
    // A padding record's length field, so commit() can tell it from a record.
    static constexpr std::uint32_t kPaddingLength = 0xFFFF'FFFFu;

    [[nodiscard]] std::atomic_ref<std::uint64_t> read_position() const {
        return std::atomic_ref<std::uint64_t>(view_.control->read_position);
    }

    RingView view_{};
    std::uint64_t write_ = 0;        // end of the last reservation
    std::uint64_t pending_ = 0;      // start of the first uncommitted reservation
    std::uint64_t cached_read_ = 0;  // last read_position seen; refreshed only when the ring looks full
    std::uint64_t committed_records_ = 0;
    std::uint32_t pending_records_ = 0;
};

}  // namespace ringside
