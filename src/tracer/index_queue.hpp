// A single-producer single-consumer queue of u32 ring indices in shared
// memory (a lane's submit_q and free_q, trace_layout.h).
//
// Why not the byte ring of src/ring/: an entry here is one fixed-size u32.
// The byte ring would spend an 8-byte record header, a terminator, padding
// at the wrap and the commit-word validation on each 4-byte entry; a slot
// array indexed by two monotonic u64 counters needs none of that, and the
// one thing the controller must check, that an untrusted index is sane, is a
// single comparison of the counters. The rigtorp shape: each side keeps its
// own index locally and a cached copy of the other side's, and touches the
// other side's line only when the cache says full (pusher) or empty (popper).
//
// The other side may be hostile or dead: a counter that moves backwards or
// runs more than a lap ahead is reported as kCorrupt, never followed, and
// every slot access is masked into the slot array.
#pragma once

#include <atomic>
#include <cstdint>

#include "tracer/trace_layout.h"

namespace ringside::trace {

enum class QueueStatus : std::uint8_t { kOk, kEmpty, kFull, kCorrupt };

// Where one queue lives: the pusher's tail, the popper's head, the slots.
struct QueueWords {
    std::uint64_t* head = nullptr;  // written by the popper
    std::uint64_t* tail = nullptr;  // written by the pusher
    std::uint32_t* slots = nullptr; // kQueueSlots entries, written by the pusher

    [[nodiscard]] std::atomic_ref<std::uint64_t> head_ref() const { return std::atomic_ref<std::uint64_t>(*head); }
    [[nodiscard]] std::atomic_ref<std::uint64_t> tail_ref() const { return std::atomic_ref<std::uint64_t>(*tail); }
    [[nodiscard]] std::atomic_ref<std::uint32_t> slot(std::uint64_t position) const {
        return std::atomic_ref<std::uint32_t>(slots[position & (kQueueSlots - 1)]);
    }
};

inline QueueWords submit_queue(LaneControl& lane) { return {&lane.submit_head, &lane.submit_tail, lane.submit_slots}; }
inline QueueWords free_queue(LaneControl& lane) { return {&lane.free_head, &lane.free_tail, lane.free_slots}; }

// Pusher side. One thread at a time.
class QueuePusher {
public:
    // Resumes at the tail in shared memory (our own index: a previous pusher
    // of this role wrote it). kCorrupt if the two counters are inconsistent.
    [[nodiscard]] QueueStatus attach(QueueWords words) {
        words_ = words;
        // relaxed is enough: our own index, written by this role only.
        tail_ = words.tail_ref().load(std::memory_order_relaxed);
        // acquire: SYNC: queue-release (the popper is done with the slots before head).
        cached_head_ = words.head_ref().load(std::memory_order_acquire);
        return consistent(cached_head_) ? QueueStatus::kOk : QueueStatus::kCorrupt;
    }

    [[nodiscard]] QueueStatus try_push(std::uint32_t value) {
        if (tail_ - cached_head_ >= kQueueSlots) {
            // acquire: SYNC: queue-release. The popper has read the slot we reuse.
            const std::uint64_t head = words_.head_ref().load(std::memory_order_acquire);
            if (head < cached_head_ || !consistent(head)) return QueueStatus::kCorrupt;
            cached_head_ = head;
            if (tail_ - cached_head_ >= kQueueSlots) return QueueStatus::kFull;
        }
        // relaxed is enough: published by the release store of tail below.
        words_.slot(tail_).store(value, std::memory_order_relaxed);
        ++tail_;
        // SYNC: queue-publish. release: the slot (and whatever the pusher
        // wrote before it, e.g. a ring's records or read_position) is visible
        // to a popper that acquires this tail.
        words_.tail_ref().store(tail_, std::memory_order_release);
        return QueueStatus::kOk;
    }

    // The position the next push fills (our own index).
    [[nodiscard]] std::uint64_t tail() const { return tail_; }
    // Loads the popper's head (acquire); kCorrupt if impossible.
    [[nodiscard]] QueueStatus load_head(std::uint64_t& head) {
        head = words_.head_ref().load(std::memory_order_acquire);  // SYNC: queue-release
        if (head < cached_head_ || !consistent(head)) return QueueStatus::kCorrupt;
        cached_head_ = head;
        return QueueStatus::kOk;
    }

private:
    [[nodiscard]] bool consistent(std::uint64_t head) const { return head <= tail_ && tail_ - head <= kQueueSlots; }

    QueueWords words_{};
    std::uint64_t tail_ = 0;
    std::uint64_t cached_head_ = 0;
};

// Popper side. One thread at a time.
class QueuePopper {
public:
    [[nodiscard]] QueueStatus attach(QueueWords words) {
        words_ = words;
        // relaxed is enough: our own index.
        head_ = words.head_ref().load(std::memory_order_relaxed);
        // acquire: SYNC: queue-publish.
        cached_tail_ = words.tail_ref().load(std::memory_order_acquire);
        return consistent(cached_tail_) ? QueueStatus::kOk : QueueStatus::kCorrupt;
    }

    [[nodiscard]] QueueStatus try_pop(std::uint32_t& value) {
        if (head_ == cached_tail_) {
            const QueueStatus status = refresh();
            if (status != QueueStatus::kOk) return status;
            if (head_ == cached_tail_) return QueueStatus::kEmpty;
        }
        // relaxed is enough: the acquire of tail ordered the slot's store before it.
        value = words_.slot(head_).load(std::memory_order_relaxed);
        ++head_;
        // SYNC: queue-release. release: our read of the slot is done before
        // the pusher may overwrite it.
        words_.head_ref().store(head_, std::memory_order_release);
        return QueueStatus::kOk;
    }

    // True when the cached tail or a fresh acquire load says an entry waits.
    [[nodiscard]] bool has_entries() {
        return head_ != cached_tail_ || (refresh() == QueueStatus::kOk && head_ != cached_tail_);
    }

    // Skips everything published (after a kCorrupt: the entries cannot be trusted).
    void skip_to(std::uint64_t tail) {
        head_ = tail;
        cached_tail_ = tail;
        words_.head_ref().store(head_, std::memory_order_release);  // SYNC: queue-release
    }
    [[nodiscard]] std::uint64_t head() const { return head_; }
    // The tail as last loaded, even when inconsistent (for skip_to after kCorrupt).
    [[nodiscard]] std::uint64_t raw_tail() const { return words_.tail_ref().load(std::memory_order_acquire); }

private:
    [[nodiscard]] bool consistent(std::uint64_t tail) const { return tail >= head_ && tail - head_ <= kQueueSlots; }

    QueueStatus refresh() {
        // acquire: SYNC: queue-publish. The slots up to tail are visible.
        const std::uint64_t tail = words_.tail_ref().load(std::memory_order_acquire);
        if (tail < cached_tail_ || !consistent(tail)) return QueueStatus::kCorrupt;
        cached_tail_ = tail;
        return QueueStatus::kOk;
    }

    QueueWords words_{};
    std::uint64_t head_ = 0;
    std::uint64_t cached_tail_ = 0;
};

}  // namespace ringside::trace
