// Every heap allocation the library makes goes through here, so a debug
// counter can prove that a test leaked nothing and that the hot path
// allocates nothing (rs_debug_allocation_count).
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <new>
#include <utility>

namespace ringside {

// relaxed is enough: a statistic, read after the threads that change it joined.
inline std::atomic<std::int64_t> g_live_allocations{0};

inline void* counted_malloc(std::size_t bytes) noexcept {
    void* memory = ::operator new(bytes == 0 ? 1 : bytes, std::nothrow);
    if (memory != nullptr) g_live_allocations.fetch_add(1, std::memory_order_relaxed);
    return memory;
}

inline void counted_free(void* memory) noexcept {
    if (memory == nullptr) return;
    g_live_allocations.fetch_sub(1, std::memory_order_relaxed);
    ::operator delete(memory);
}

// Constructs a T in counted memory; nullptr when out of memory.
template <typename T, typename... Args>
T* counted_new(Args&&... args) {
    void* memory = ::operator new(sizeof(T), std::align_val_t{alignof(T)}, std::nothrow);
    if (memory == nullptr) return nullptr;
    g_live_allocations.fetch_add(1, std::memory_order_relaxed);
    return ::new (memory) T(std::forward<Args>(args)...);
}

template <typename T>
void counted_delete(T* object) noexcept {
    if (object == nullptr) return;
    object->~T();
    g_live_allocations.fetch_sub(1, std::memory_order_relaxed);
    ::operator delete(object, std::align_val_t{alignof(T)});
}

// Copies a NUL-terminated string into counted memory.
char* counted_strdup(const char* text, std::size_t length) noexcept;

}  // namespace ringside
