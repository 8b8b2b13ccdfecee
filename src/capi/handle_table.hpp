// Opaque handles as generation-checked slots. A handle is not a pointer: it
// encodes (generation, slot, kind), so a NULL, foreign, stale or destroyed
// handle is recognised by one load and a compare instead of crashing.
// Lookup is lock-free (hot path); insert and remove take a mutex (create and
// destroy only). No heap allocation: the table is static storage.
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>

namespace ringside {

template <typename Object, std::uint32_t kSlots, std::uint8_t kKindTag>
class HandleTable {
    static_assert(kSlots < (1u << 24), "slot index has 24 bits");

public:
    // Returns the encoded handle, or 0 when the table is full.
    std::uintptr_t insert(Object* object) {
        std::lock_guard<std::mutex> lock(mutex_);
        std::uint32_t slot = 0;
        if (free_count_ > 0) {
            slot = free_slots_[--free_count_];
        } else if (never_used_ < kSlots) {
            slot = never_used_++;
        } else {
            return 0;
        }
        Slot& entry = slots_[slot];
        // relaxed is enough: only insert/remove write it, under the mutex.
        const std::uint32_t generation = entry.generation.load(std::memory_order_relaxed) + 1;  // odd = live
        entry.object = object;
        // release: `object` is visible to a lookup that sees this generation.
        entry.generation.store(generation, std::memory_order_release);
        return encode(generation, slot);
    }

    // The live object behind `handle`, or nullptr.
    Object* lookup(const void* handle) const {
        std::uint32_t generation = 0;
        std::uint32_t slot = 0;
        if (!decode(handle, generation, slot)) return nullptr;
        const Slot& entry = slots_[slot];
        // acquire: pairs with insert's release, so `object` is the one stored.
        if (entry.generation.load(std::memory_order_acquire) != generation) return nullptr;
        return entry.object;
    }

    // Invalidates `handle` and returns its object, or nullptr if not live.
    Object* remove(const void* handle) {
        std::uint32_t generation = 0;
        std::uint32_t slot = 0;
        if (!decode(handle, generation, slot)) return nullptr;
        std::lock_guard<std::mutex> lock(mutex_);
        Slot& entry = slots_[slot];
        if (entry.generation.load(std::memory_order_relaxed) != generation) return nullptr;
        Object* object = entry.object;
        entry.object = nullptr;
        // release: a later lookup of the old handle sees it dead.
        entry.generation.store(generation + 1, std::memory_order_release);
        free_slots_[free_count_++] = slot;
        return object;
    }

    // Live handles (for leak checks in tests).
    std::uint32_t live_count() const {
        std::lock_guard<std::mutex> lock(mutex_);
        return never_used_ - free_count_;
    }

private:
    struct Slot {
        std::atomic<std::uint32_t> generation{0};
        Object* object = nullptr;
    };

    static std::uintptr_t encode(std::uint32_t generation, std::uint32_t slot) {
        return (std::uintptr_t{generation} << 32) | (std::uintptr_t{slot} << 8) | kKindTag;
    }

    static bool decode(const void* handle, std::uint32_t& generation, std::uint32_t& slot) {
        const auto value = reinterpret_cast<std::uintptr_t>(handle);
        if ((value & 0xFF) != kKindTag) return false;
        generation = static_cast<std::uint32_t>(value >> 32);
        slot = static_cast<std::uint32_t>((value >> 8) & 0xFFFFFF);
        return (generation & 1u) == 1u && slot < kSlots;
    }

    Slot slots_[kSlots];
    mutable std::mutex mutex_;
    std::uint32_t free_slots_[kSlots] = {};
    std::uint32_t free_count_ = 0;
    std::uint32_t never_used_ = 0;
};

}  // namespace ringside
