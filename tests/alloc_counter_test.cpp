// The library's allocation counter (rs_debug_allocation_count) and the claim
// that the hot path allocates nothing. Every suite also checks the counter
// after each test (tests/support/allocation_guard.cpp); this one checks the
// counter itself and the hot path.
//
// The live count cannot see an allocation freed within the same call, so
// this binary also replaces the global operator new and counts every call
// made while `g_counting` is set: the hot-path loop must make none.
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <new>
#include <string>

#include "support/test_support.hpp"

// TSan's runtime defines the global operator new itself (a second definition
// does not link): under TSan only the library's own counter is checked.
#if defined(__SANITIZE_THREAD__)
#define RS_REPLACE_OPERATOR_NEW 0
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define RS_REPLACE_OPERATOR_NEW 0
#endif
#endif
#ifndef RS_REPLACE_OPERATOR_NEW
#define RS_REPLACE_OPERATOR_NEW 1
#endif

// The replacements below pair malloc with free by design.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif

namespace {

std::atomic<bool> g_counting{false};
std::atomic<std::uint64_t> g_new_calls{0};

#if RS_REPLACE_OPERATOR_NEW
void* counted_operator_new(std::size_t bytes, std::size_t alignment) {
    if (g_counting.load(std::memory_order_relaxed)) g_new_calls.fetch_add(1, std::memory_order_relaxed);
    if (bytes == 0) bytes = 1;
    if (alignment <= alignof(std::max_align_t)) return std::malloc(bytes);
    return std::aligned_alloc(alignment, (bytes + alignment - 1) / alignment * alignment);
}
#endif

}  // namespace

#if RS_REPLACE_OPERATOR_NEW
void* operator new(std::size_t bytes) {
    if (void* memory = counted_operator_new(bytes, 0)) return memory;
    throw std::bad_alloc();
}
void* operator new[](std::size_t bytes) { return ::operator new(bytes); }
void* operator new(std::size_t bytes, const std::nothrow_t&) noexcept { return counted_operator_new(bytes, 0); }
void* operator new[](std::size_t bytes, const std::nothrow_t&) noexcept { return counted_operator_new(bytes, 0); }
void* operator new(std::size_t bytes, std::align_val_t alignment) {
    if (void* memory = counted_operator_new(bytes, static_cast<std::size_t>(alignment))) return memory;
    throw std::bad_alloc();
}
void* operator new[](std::size_t bytes, std::align_val_t alignment) { return ::operator new(bytes, alignment); }
void* operator new(std::size_t bytes, std::align_val_t alignment, const std::nothrow_t&) noexcept {
    return counted_operator_new(bytes, static_cast<std::size_t>(alignment));
}
void* operator new[](std::size_t bytes, std::align_val_t alignment, const std::nothrow_t&) noexcept {
    return counted_operator_new(bytes, static_cast<std::size_t>(alignment));
}
void operator delete(void* memory) noexcept { std::free(memory); }
void operator delete[](void* memory) noexcept { std::free(memory); }
void operator delete(void* memory, std::size_t) noexcept { std::free(memory); }
void operator delete[](void* memory, std::size_t) noexcept { std::free(memory); }
void operator delete(void* memory, std::align_val_t) noexcept { std::free(memory); }
void operator delete[](void* memory, std::align_val_t) noexcept { std::free(memory); }
void operator delete(void* memory, std::size_t, std::align_val_t) noexcept { std::free(memory); }
void operator delete[](void* memory, std::size_t, std::align_val_t) noexcept { std::free(memory); }
void operator delete(void* memory, const std::nothrow_t&) noexcept { std::free(memory); }
void operator delete(void* memory, std::align_val_t, const std::nothrow_t&) noexcept { std::free(memory); }
#endif

namespace {

using rstest::describe;

class AllocationCounter : public testing::Test {
protected:
    void SetUp() override {
        ASSERT_EQ(rstest::create_region(scratch_.shm_name("alloc"), rstest::region_options(RS_BACKING_SHM, 65536),
                                        region_),
                  RS_OK);
        ASSERT_EQ(rstest::create_ring(region_.get(), 0, RS_ROLE_PRODUCER, producer_), RS_OK);
        ASSERT_EQ(rstest::create_ring(region_.get(), 0, RS_ROLE_CONSUMER, consumer_), RS_OK);
    }
    rstest::Scratch scratch_;
    rstest::RegionPtr region_;
    rstest::RingPtr producer_;
    rstest::RingPtr consumer_;
};

TEST_F(AllocationCounter, TheHotPathAllocatesNothingIn100kRoundTrips) {
    rs_ring_t* producer = producer_.get();
    rs_ring_t* consumer = consumer_.get();
    char buffer[256];
    rs_record records[8];
    std::size_t count = 0;
    std::size_t length = 0;
    auto round_trip = [&](int i) -> rs_result {
        void* data = nullptr;
        const std::size_t size = static_cast<std::size_t>(i % 200);
        if (rs_result r = rs_ring_reserve(producer, size, &data); r != RS_OK) return r;
        std::memset(data, i & 0xFF, size);
        if (rs_result r = rs_ring_commit(producer); r != RS_OK) return r;
        rs_record record{};
        if (rs_result r = rs_ring_peek(consumer, &record); r != RS_OK) return r;
        if (record.length != size) return RS_ERR_INTERNAL;
        if (rs_result r = rs_ring_release(consumer); r != RS_OK) return r;
        if (i % 8 == 0) {  // the copying and batch calls are hot-path calls too
            if (rs_result r = rs_ring_write(producer, buffer, 100); r != RS_OK) return r;
            if (rs_result r = rs_ring_write(producer, buffer, 10); r != RS_OK) return r;
            if (rs_result r = rs_ring_peek_batch(consumer, records, 1, &count); r != RS_OK) return r;
            if (rs_result r = rs_ring_release(consumer); r != RS_OK) return r;
            if (rs_result r = rs_ring_read(consumer, buffer, sizeof buffer, &length); r != RS_OK) return r;
            if (rs_ring_peek(consumer, &record) != RS_EMPTY) return RS_ERR_INTERNAL;
        }
        return RS_OK;
    };
    for (int i = 0; i < 1000; ++i) ASSERT_EQ(round_trip(i), RS_OK) << "warm-up " << i;

    const std::int64_t live_before = rs_debug_allocation_count();
    g_new_calls.store(0);
    g_counting.store(true);
    rs_result failed = RS_OK;
    int i = 0;
    for (; i < 100'000 && failed == RS_OK; ++i) failed = round_trip(i);
    g_counting.store(false);
    ASSERT_EQ(failed, RS_OK) << "at iteration " << i - 1 << ": " << describe(failed);
    EXPECT_EQ(rs_debug_allocation_count(), live_before) << "library allocations live after the loop";
    if (RS_REPLACE_OPERATOR_NEW) {
        EXPECT_EQ(g_new_calls.load(), 0u) << "operator new calls during 100k round trips (alloc+free pairs included)";
    }
}

// Errors are formatted into a thread-local buffer: reporting one never
// allocates. (Creating a handle may allocate before it fails, e.g. a ring
// create refused as BUSY; HandlesStringsAndBuffersAreCountedUntilFreed
// checks that such memory is returned.)
TEST_F(AllocationCounter, ReportingAnErrorAllocatesNothing) {
    const std::int64_t before = rs_debug_allocation_count();
    g_new_calls.store(0);
    g_counting.store(true);
    rs_region_t* region = nullptr;
    rs_ring_t* ring = nullptr;
    void* data = nullptr;
    const rs_region_options options = rstest::region_options(RS_BACKING_SHM, 65536);
    char name[64];
    std::snprintf(name, sizeof name, "/rstest-absent-%d", static_cast<int>(::getpid()));
    EXPECT_EQ(rs_region_open(name, &options, &region), RS_ERR_NOT_FOUND);
    EXPECT_EQ(rs_ring_create(nullptr, 0, RS_ROLE_PRODUCER, &ring), RS_ERR_INVALID_ARGUMENT);
    EXPECT_EQ(rs_ring_write(consumer_.get(), "x", 1), RS_ERR_INVALID_ARGUMENT);
    EXPECT_EQ(rs_ring_release(consumer_.get()), RS_ERR_INVALID_ARGUMENT);
    EXPECT_EQ(rs_ring_reserve(producer_.get(), 1 << 20, &data), RS_ERR_TOO_LARGE);
    EXPECT_EQ(rs_ring_peek(consumer_.get(), nullptr), RS_ERR_INVALID_ARGUMENT);
    EXPECT_EQ(rs_ring_commit(nullptr), RS_ERR_INVALID_ARGUMENT);
    g_counting.store(false);
    EXPECT_EQ(rs_debug_allocation_count(), before);
    if (RS_REPLACE_OPERATOR_NEW) {
        EXPECT_EQ(g_new_calls.load(), 0u) << "reporting an error allocates nothing";
    }
}

TEST_F(AllocationCounter, HandlesStringsAndBuffersAreCountedUntilFreed) {
    const std::int64_t base = rs_debug_allocation_count();
    char* json = nullptr;
    ASSERT_EQ(rs_region_stats_json(region_.get(), &json), RS_OK);
    EXPECT_EQ(rs_debug_allocation_count(), base + 1);
    rs_string_free(json);
    EXPECT_EQ(rs_debug_allocation_count(), base);

    ASSERT_EQ(rs_ring_write(producer_.get(), "abc", 3), RS_OK);
    void* buffer = nullptr;
    std::size_t length = 0;
    ASSERT_EQ(rs_ring_read_alloc(consumer_.get(), &buffer, &length), RS_OK);
    EXPECT_EQ(rs_debug_allocation_count(), base + 1);
    rs_buffer_free(buffer);
    EXPECT_EQ(rs_debug_allocation_count(), base);

    {
        rstest::RingPtr other;
        ASSERT_EQ(rstest::create_ring(region_.get(), 0, RS_ROLE_PRODUCER, other), RS_BUSY);
        EXPECT_EQ(rs_debug_allocation_count(), base) << "a refused ring create frees what it allocated";
    }
    rstest::RegionPtr missing;
    EXPECT_EQ(rstest::open_region(scratch_.shm_name("missing"), rstest::region_options(RS_BACKING_SHM), missing),
              RS_ERR_NOT_FOUND);
    EXPECT_EQ(rs_debug_allocation_count(), base) << "a failed open frees what it allocated";
}

TEST(AllocationCounterLifecycle, ARegionAndItsRingsReturnEveryAllocationOnDestroy) {
    rstest::Scratch scratch;
    const std::int64_t before = rs_debug_allocation_count();
    {
        rstest::RegionPtr region;
        ASSERT_EQ(rstest::create_region(scratch.shm_name("count"), rstest::region_options(RS_BACKING_SHM, 4096, 4),
                                        region),
                  RS_OK);
        EXPECT_GT(rs_debug_allocation_count(), before) << "a region handle is counted";
        rstest::RingPtr rings[4];
        for (std::uint32_t i = 0; i < 4; ++i) {
            ASSERT_EQ(rstest::create_ring(region.get(), i, i % 2 == 0 ? RS_ROLE_PRODUCER : RS_ROLE_CONSUMER, rings[i]),
                      RS_OK);
        }
    }
    EXPECT_EQ(rs_debug_allocation_count(), before);
}

}  // namespace
