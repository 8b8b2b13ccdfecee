// The producing side of an SPSC ring: reserve space in place, write, commit.
// Producer-thread only: one Producer per ring, used from one thread at a time.
// No syscalls, no allocation, no locks.
//
// Cost model (harness/micro/ring_bench.cpp): the producer writes into the
// cache line the consumer is polling, so every extra memory operation on the
// path delays the next record. The fast path therefore stores exactly the
// record header, the payload and the terminator, and commit() is a single
// release store: nothing else in shared memory is written per record.
#pragma once

#include <atomic>
#include <cstring>
#include <span>

#include "ring/ring_view.hpp"

namespace ringside {

// Aligned and sized to whole false-sharing ranges: a Producer's hot state
// never shares a cache line with whatever the host places next to it (the
// consumer of the same ring, say).
class alignas(layout::kFalseSharingRange) Producer {
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

    // Publishes the write position and record count for inspectors (they are
    // not maintained per record: see the cost model above). Call on detach.
    void publish_counters() {
        // relaxed is enough: inspection only; the data is published by commit words.
        std::atomic_ref<std::uint64_t>(view_.control->write_position).store(pending_, std::memory_order_relaxed);
        std::atomic_ref<std::uint64_t>(view_.control->records_committed)
            .store(committed_records_, std::memory_order_relaxed);
    }

    // Reserves `length` payload bytes and returns a writable span inside the
    // shared mapping, valid until commit(). Several reservations may be made
    // before one commit() publishes them all.
    [[nodiscard, gnu::always_inline]] RingStatus try_reserve(std::uint32_t length, std::span<std::byte>& out) {
        // Locals: stores through atomic_ref may alias *this for the compiler.
        const std::uint64_t capacity = view_.capacity;
        const std::uint64_t write = write_;
        const std::uint64_t total = view_.record_total(length);
        const std::uint64_t offset = write & (capacity - 1);
        // + one header: the terminator word after the record must be free too.
        if (length > view_.max_payload() || offset + total > capacity ||
            write + total + layout::kRecordHeaderBytes - cached_read_ > capacity) [[unlikely]] {
            return reserve_slow(length, out);
        }
        std::byte* const record = view_.data + offset;
        stage(write, record, length, static_cast<std::uint32_t>(total));
        out = std::span<std::byte>(record + layout::kRecordHeaderBytes, length);
        return RingStatus::kOk;
    }

    // Publishes every reservation since the last commit with one release
    // store: the later commit words were written when they were reserved
    // (the consumer cannot pass the first, still zero), the first one now.
    [[nodiscard, gnu::always_inline]] RingStatus commit() {
        if (write_ == pending_) [[unlikely]] return RingStatus::kNothingPending;
        // SYNC: publish-record. release: payloads, lengths, later commit words
        // and the terminator happen-before the consumer's acquire of this word.
        commit_word(view_, pending_).store(first_commit_, std::memory_order_release);
        committed_records_ += pending_records_;
        pending_ = write_;
        pending_records_ = 0;
        return RingStatus::kOk;
    }

    // Copying convenience: reserve + memcpy + commit of one record (this also
    // publishes any earlier uncommitted reservations).
    [[nodiscard, gnu::always_inline]] RingStatus try_write(const void* payload, std::uint32_t length) {
        std::span<std::byte> span;
        const RingStatus status = try_reserve(length, span);
        if (status != RingStatus::kOk) return status;
        if (length != 0) std::memcpy(span.data(), payload, length);
        return commit();
    }

    // True if a record of `length` payload bytes fits now (refreshing the
    // cached read position). Producer thread.
    [[nodiscard]] bool has_room(std::uint64_t length) {
        const std::uint64_t total = view_.record_total(length);
        const std::uint64_t offset = view_.offset_of(write_);
        const std::uint64_t padding = offset + total > view_.capacity ? view_.capacity - offset : 0;
        const std::uint64_t needed = padding + total + layout::kRecordHeaderBytes;
        if (write_ + needed - cached_read_ <= view_.capacity) return true;
        if (refresh_read() != RingStatus::kOk) return true;  // let the attempt report the corruption
        return write_ + needed - cached_read_ <= view_.capacity;
    }

    [[nodiscard]] std::uint32_t pending_records() const { return pending_records_; }
    [[nodiscard]] std::uint64_t committed_records() const { return committed_records_; }
    [[nodiscard]] std::uint64_t committed_position() const { return pending_; }
    [[nodiscard]] const RingView& view() const { return view_; }

private:
    [[nodiscard]] std::atomic_ref<std::uint64_t> read_position() const {
        return std::atomic_ref<std::uint64_t>(view_.control->read_position);
    }

    // Writes a reserved item's header and terminator. The first item of a
    // batch keeps its commit word 0 (it is published by commit()); later
    // ones get theirs now, relaxed: the consumer stops at the first.
    [[gnu::always_inline]] void stage(std::uint64_t position, std::byte* header, std::uint32_t length, std::uint32_t commit) {
        auto* record = reinterpret_cast<layout::RecordHeader*>(header);
        const std::uint64_t end = position + (commit & ~layout::kPadFlag);
        // relaxed is enough: ordered before the batch's release commit, and
        // the consumer reads this word only after acquiring that commit.
        commit_word(view_, end).store(0, std::memory_order_relaxed);
        std::atomic_ref<std::uint32_t>(record->length).store(length, std::memory_order_relaxed);
        if (position == pending_) {
            first_commit_ = commit;
        } else {
            // relaxed is enough: published by the batch's release store.
            std::atomic_ref<std::uint32_t>(record->commit).store(commit, std::memory_order_relaxed);
        }
        write_ = end;
        if ((commit & layout::kPadFlag) == 0) ++pending_records_;
    }

    // acquire: the consumer has finished reading the bytes we are about to
    // overwrite (SYNC: release-space). Checks the untrusted value.
    [[nodiscard]] RingStatus refresh_read() {
        const std::uint64_t read = read_position().load(std::memory_order_acquire);
        if (read < cached_read_ || read > pending_ || pending_ - read > view_.capacity) {
            return RingStatus::kCorrupt;
        }
        cached_read_ = read;
        return RingStatus::kOk;
    }

    // The cold half of try_reserve: too large, cached index says full, or the
    // record must wrap behind a padding record.
    [[gnu::noinline]] RingStatus reserve_slow(std::uint32_t length, std::span<std::byte>& out) {
        if (length > view_.max_payload()) return RingStatus::kTooLarge;
        const std::uint64_t total = view_.record_total(length);
        const std::uint64_t offset = view_.offset_of(write_);
        const std::uint64_t padding = offset + total > view_.capacity ? view_.capacity - offset : 0;
        const std::uint64_t needed = padding + total + layout::kRecordHeaderBytes;
        if (write_ + needed - cached_read_ > view_.capacity) {
            if (const RingStatus status = refresh_read(); status != RingStatus::kOk) return status;
            if (write_ + needed - cached_read_ > view_.capacity) return RingStatus::kFull;
        }
        if (padding != 0) {
            stage(write_, view_.data + offset, 0, layout::kPadFlag | static_cast<std::uint32_t>(padding));
        }
        const std::uint64_t record = write_;
        std::byte* const header = view_.data + view_.offset_of(record);
        stage(record, header, length, static_cast<std::uint32_t>(total));
        out = std::span<std::byte>(header + layout::kRecordHeaderBytes, length);
        return RingStatus::kOk;
    }

    RingView view_{};
    std::uint64_t write_ = 0;        // end of the last reservation
    std::uint64_t pending_ = 0;      // start of the first uncommitted reservation
    std::uint64_t cached_read_ = 0;  // last read_position seen; refreshed only when the ring looks full
    std::uint64_t committed_records_ = 0;
    std::uint32_t pending_records_ = 0;
    std::uint32_t first_commit_ = 0; // the commit word commit() will store at pending_
};

}  // namespace ringside
