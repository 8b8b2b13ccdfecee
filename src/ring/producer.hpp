// The producing side of an SPSC ring: reserve space in place, write, commit.
// Producer-thread only: one Producer per ring, used from one thread at a time.
// No syscalls, no allocation, no locks.
//
// Cost model (harness/micro/ring_bench.cpp): the producer writes into the
// cache lines the consumer is polling. A store to a line the consumer holds
// waits for ownership, and x86 commits stores in program order, so every
// store behind it -- even one to this object, in L1 -- queues in the store
// buffer. When the buffer is full the producer stalls. Throughput therefore
// follows the number of stores per record, wherever they go: try_write()
// stores the terminator, the length, the payload, the commit word and one
// member (write_), and nothing else. Counting records would be one more store
// per record: the record counts are derived from the commit words instead
// (publish_counters(), rs_ring_stats). Measured: harness/micro/compare_floor.py.
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
        pending_bytes_ = 0;
        pending_records_ = 0;
        return RingStatus::kOk;
    }

    // Publishes the write position and the committed record count for
    // inspectors (not maintained per record: see the cost model above). The
    // count is what the consumer released plus what a walk of the commit words
    // finds unread. Call on detach.
    void publish_counters() {
        // relaxed is enough: inspection only; the data is published by commit words.
        std::atomic_ref<std::uint64_t>(view_.control->write_position)
            .store(committed_position(), std::memory_order_relaxed);
        // acquire: the released count and position that go together (SYNC: release-space).
        const std::uint64_t read = read_position().load(std::memory_order_acquire);
        const std::uint64_t released =
            std::atomic_ref<std::uint64_t>(view_.control->records_released).load(std::memory_order_relaxed);
        const ScanResult unread = scan_committed(view_, read);
        if (unread.status != RingStatus::kOk) return;  // leave the last published count
        std::atomic_ref<std::uint64_t>(view_.control->records_committed)
            .store(released + unread.records, std::memory_order_relaxed);
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
        if (pending_bytes_ == 0) [[unlikely]] return RingStatus::kNothingPending;
        // SYNC: publish-record. release: payloads, lengths, later commit words
        // and the terminator happen-before the consumer's acquire of this word.
        commit_word(view_, write_ - pending_bytes_).store(static_cast<std::uint32_t>(first_commit_), std::memory_order_release);
        pending_bytes_ = 0;
        pending_records_ = 0;
        return RingStatus::kOk;
    }

    // Copying convenience: reserve + memcpy + commit of one record (this also
    // publishes any earlier uncommitted reservations). The common case -- no
    // reservation pending, room known, no wrap -- is written out here with
    // the fewest stores (see the cost model above).
    [[nodiscard, gnu::always_inline]] RingStatus try_write(const void* payload, std::uint32_t length) {
        // Locals: stores through atomic_ref may alias *this for the compiler.
        const std::uint64_t capacity = view_.capacity;
        const std::uint64_t write = write_;
        const std::uint64_t total = view_.record_total(length);
        const std::uint64_t offset = write & (capacity - 1);
        if (pending_bytes_ != 0 || length > view_.max_payload() || offset + total > capacity ||
            write + total + layout::kRecordHeaderBytes - cached_read_ > capacity) [[unlikely]] {
            return write_slow(payload, length);
        }
        auto* const record = reinterpret_cast<layout::RecordHeader*>(view_.data + offset);
        const std::uint64_t end = write + total;
        // relaxed is enough: the terminator and the length are ordered before
        // the release store of the commit word, and the consumer reads them
        // only after acquiring it.
        commit_word(view_, end).store(0, std::memory_order_relaxed);
        std::atomic_ref<std::uint32_t>(record->length).store(length, std::memory_order_relaxed);
        copy_payload(reinterpret_cast<std::byte*>(record) + layout::kRecordHeaderBytes, payload, length);
        // SYNC: publish-record. release: the payload, the length and the
        // terminator happen-before the consumer's acquire of this word.
        std::atomic_ref<std::uint32_t>(record->commit).store(static_cast<std::uint32_t>(total), std::memory_order_release);
        write_ = end;
        return RingStatus::kOk;
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

    [[nodiscard]] std::uint32_t pending_records() const { return static_cast<std::uint32_t>(pending_records_); }
    [[nodiscard]] std::uint64_t committed_position() const { return write_ - pending_bytes_; }
    [[nodiscard]] const RingView& view() const { return view_; }

private:
    // memcpy, with payloads of up to 16 bytes copied inline: through the C
    // API the length is not a constant, and a call to memcpy costs stack
    // stores (see the cost model above). Two overlapping moves cover 4..16.
    [[gnu::always_inline]] static void copy_payload(std::byte* to, const void* from, std::uint32_t length) {
        const auto* source = static_cast<const std::byte*>(from);
        if (length >= 8 && length <= 16) {
            std::uint64_t head;
            std::uint64_t tail;
            std::memcpy(&head, source, 8);
            std::memcpy(&tail, source + length - 8, 8);
            std::memcpy(to, &head, 8);
            std::memcpy(to + length - 8, &tail, 8);
        } else if (length >= 4 && length < 8) {
            std::uint32_t head;
            std::uint32_t tail;
            std::memcpy(&head, source, 4);
            std::memcpy(&tail, source + length - 4, 4);
            std::memcpy(to, &head, 4);
            std::memcpy(to + length - 4, &tail, 4);
        } else if (length != 0) {
            std::memcpy(to, source, length);
        }
    }

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
        if (pending_bytes_ == 0) {
            first_commit_ = commit;
        } else {
            // relaxed is enough: published by the batch's release store.
            std::atomic_ref<std::uint32_t>(record->commit).store(commit, std::memory_order_relaxed);
        }
        write_ = end;
        pending_bytes_ += end - position;
        if ((commit & layout::kPadFlag) == 0) ++pending_records_;
    }

    // acquire: the consumer has finished reading the bytes we are about to
    // overwrite (SYNC: release-space). Checks the untrusted value.
    [[nodiscard]] RingStatus refresh_read() {
        const std::uint64_t read = read_position().load(std::memory_order_acquire);
        const std::uint64_t committed = committed_position();
        if (read < cached_read_ || read > committed || committed - read > view_.capacity) {
            return RingStatus::kCorrupt;
        }
        cached_read_ = read;
        return RingStatus::kOk;
    }

    // try_write when a reservation is pending, the ring looks full, the
    // record must wrap or is too large: the general path.
    [[gnu::noinline]] RingStatus write_slow(const void* payload, std::uint32_t length) {
        std::span<std::byte> span;
        const RingStatus status = try_reserve(length, span);
        if (status != RingStatus::kOk) return status;
        if (length != 0) std::memcpy(span.data(), payload, length);
        return commit();
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

    // All 64-bit: a 32-bit member could alias the 32-bit shared words for the
    // compiler, which would then reload and re-store it around every store.
    RingView view_{};
    std::uint64_t write_ = 0;          // end of the last reservation
    std::uint64_t pending_bytes_ = 0;  // reserved, not yet committed; they start at write_ - pending_bytes_
    std::uint64_t cached_read_ = 0;    // last read_position seen; refreshed only when the ring looks full
    std::uint64_t pending_records_ = 0;
    std::uint64_t first_commit_ = 0;   // the commit word commit() will store at write_ - pending_bytes_
};

}  // namespace ringside
