// Appends records to one pool ring for one window (trace_layout.h), in the
// record format and publication protocol of src/shm/layout.h: payload and
// length with plain stores, the terminator word after the record, then the
// record's commit word with release ("SYNC: publish-record"). So the
// controller reads a window with the ring code's validation (decode_record,
// scan_committed) and a crashed agent's committed records are recoverable.
//
// Why not ring/producer.hpp: a window is owned by the agent alone until it is
// submitted, so "full" is a compare against a fixed window limit (the
// consumer's index is never read), a reservation can be cancelled (an event
// whose index record finds no room after its payload was reserved), and a
// window restarts in place when it is recycled. When this was written the
// Producer also stored two counters per commit and cost 16.7 ns per event
// against 9.7 ns here; its owner has since reduced commit to one release
// store, and both now measure ~10.2 ns (rdtsc-bound, g++ 12 -O2, 2 vCPU Zen
// 5). With a cancel() added to the Producer, this class could go.
//
// Agent thread only. No syscalls, no allocation, no locks.
#pragma once

#include <atomic>
#include <cstdint>

#include "ring/ring_view.hpp"
#include "tracer/trace_layout.h"

namespace ringside::trace {

class RingAppender {
public:
    // Starts a window at `start` (the ring's read_position, a record-aligned
    // position whose commit word is 0: the terminator of the previous window).
    void start(const RingView& view, std::uint64_t start) {
        view_ = view;
        window_start_ = start;
        write_ = start;
        limit_ = start + view.capacity;
        records_ = 0;
        pending_ = false;
    }

    // Reserves one record of `length` payload bytes; returns where to write
    // the payload (valid until commit()), or nullptr when the window is full.
    // At most one reservation is pending at a time.
    [[nodiscard]] std::byte* try_reserve(std::uint32_t length) {
        const std::uint64_t total = record_bytes(length);
        const std::uint64_t offset = view_.offset_of(write_);
        if (offset + total > view_.capacity) [[unlikely]] return reserve_wrapping(length, total);
        // + 8: the terminator after the record stays inside the window.
        if (write_ + total + layout::kRecordHeaderBytes > limit_) return nullptr;
        // relaxed is enough: published by commit()'s release store.
        length_word(view_, write_).store(length, std::memory_order_relaxed);
        first_ = write_;
        first_value_ = static_cast<std::uint32_t>(total);
        record_ = write_;
        write_ += total;
        pending_ = true;
        return view_.data + offset + layout::kRecordHeaderBytes;
    }

    // Publishes the pending reservation.
    void commit() {
        // relaxed is enough: both are ordered before the release store below
        // and read by the controller only after acquiring it.
        commit_word(view_, write_).store(0, std::memory_order_relaxed);
        if (record_ != first_) {
            commit_word(view_, record_).store(static_cast<std::uint32_t>(write_ - record_), std::memory_order_relaxed);
        }
        // SYNC: publish-record. release: payload, length, terminator (and the
        // record after a padding) happen-before the controller's acquire.
        commit_word(view_, first_).store(first_value_, std::memory_order_release);
        ++records_;
        pending_ = false;
    }

    // Forgets the pending reservation: its bytes are reused by the next one.
    void cancel() {
        write_ = first_;
        pending_ = false;
    }

    // Takes no more records in this window: every try_reserve fails from now
    // on (the "full" compare against a limit at the write position), so the
    // next one goes through the owner's slow path, which submits or restarts
    // the window. What was committed stays as it is: position(), records()
    // and submitting are unchanged; start() and restart() give the next
    // window its full limit back. For a control record that found no room
    // while a smaller record would still fit: nothing may be written after
    // it in this window. Call with no reservation pending.
    void seal() { limit_ = write_; }

    // Ends the window and starts the next one in place, at the current write
    // position (the overwrite and recycle paths). Drops a pending reservation.
    void restart() { start(view_, write_); }

    [[nodiscard]] bool empty() const { return records_ == 0; }
    [[nodiscard]] bool pending() const { return pending_; }
    [[nodiscard]] std::uint64_t records() const { return records_; }
    [[nodiscard]] std::uint64_t window_start() const { return window_start_; }
    [[nodiscard]] std::uint64_t position() const { return write_; }
    // Offset of the pending record from the window start (a detail reference).
    [[nodiscard]] std::uint32_t pending_offset() const { return static_cast<std::uint32_t>(record_ - window_start_); }
    [[nodiscard]] const RingView& view() const { return view_; }

private:
    // The record does not fit before the end of the data area: a padding
    // record runs to the end, the record starts at offset 0, and commit()
    // publishes both with one release store (the padding's).
    [[nodiscard]] std::byte* reserve_wrapping(std::uint32_t length, std::uint64_t total) {
        const std::uint64_t padding = view_.capacity - view_.offset_of(write_);
        if (write_ + padding + total + layout::kRecordHeaderBytes > limit_) return nullptr;
        first_ = write_;
        first_value_ = layout::kPadFlag | static_cast<std::uint32_t>(padding);
        record_ = write_ + padding;
        // relaxed is enough: the record's commit word is published by the
        // padding's release store; until then it must not hold stale data.
        commit_word(view_, record_).store(0, std::memory_order_relaxed);
        length_word(view_, record_).store(length, std::memory_order_relaxed);
        write_ = record_ + total;
        pending_ = true;
        return view_.data + layout::kRecordHeaderBytes;
    }

    RingView view_{};
    std::uint64_t window_start_ = 0;
    std::uint64_t write_ = 0;   // end of the last reservation
    std::uint64_t limit_ = 0;   // window_start_ + capacity; write_ once sealed
    std::uint64_t first_ = 0;   // commit word published last (the padding's when wrapping)
    std::uint64_t record_ = 0;  // the pending record
    std::uint64_t records_ = 0;
    std::uint32_t first_value_ = 0;
    bool pending_ = false;
};

}  // namespace ringside::trace
