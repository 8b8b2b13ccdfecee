// The tracer's building blocks: the SPSC index queue (order, full/empty,
// untrusted counters, a cross-thread transfer) and the ring appender (the
// layout.h record format, readable by the ring's Consumer and recoverable
// by scan_committed, window limits, wrap padding, cancel).
#include <gtest/gtest.h>

#include <atomic>
#include <cstring>
#include <thread>
#include <vector>

#include "ring/consumer.hpp"
#include "support/test_support.hpp"
#include "tracer/index_queue.hpp"
#include "tracer/ring_appender.hpp"
#include "tracer_test_support.hpp"

namespace {

using namespace ringside;
using namespace ringside::trace;

struct QueueMemory {
    alignas(64) std::uint64_t head = 0;
    alignas(128) std::uint64_t tail = 0;
    std::uint32_t slots[kQueueSlots] = {};
    QueueWords words() { return {&head, &tail, slots}; }
};

TEST(tracer_IndexQueue, DeliversInOrderUntilFullThenEmpty) {
    QueueMemory memory;
    QueuePusher pusher;
    QueuePopper popper;
    ASSERT_EQ(pusher.attach(memory.words()), QueueStatus::kOk);
    ASSERT_EQ(popper.attach(memory.words()), QueueStatus::kOk);
    std::uint32_t value = 0;
    EXPECT_EQ(popper.try_pop(value), QueueStatus::kEmpty);
    for (std::uint32_t i = 0; i < kQueueSlots; ++i) ASSERT_EQ(pusher.try_push(i), QueueStatus::kOk);
    EXPECT_EQ(pusher.try_push(999), QueueStatus::kFull);
    for (std::uint32_t i = 0; i < kQueueSlots; ++i) {
        ASSERT_EQ(popper.try_pop(value), QueueStatus::kOk);
        EXPECT_EQ(value, i);
    }
    EXPECT_EQ(popper.try_pop(value), QueueStatus::kEmpty);
    EXPECT_EQ(pusher.try_push(1000), QueueStatus::kOk);  // room again after the pops
}

TEST(tracer_IndexQueue, ResumesFromTheIndicesInSharedMemory) {
    QueueMemory memory;
    QueuePusher pusher;
    ASSERT_EQ(pusher.attach(memory.words()), QueueStatus::kOk);
    for (std::uint32_t i = 0; i < 5; ++i) ASSERT_EQ(pusher.try_push(i), QueueStatus::kOk);
    QueuePopper first;
    ASSERT_EQ(first.attach(memory.words()), QueueStatus::kOk);
    std::uint32_t value = 0;
    ASSERT_EQ(first.try_pop(value), QueueStatus::kOk);
    QueuePopper second;  // a restarted popper continues after the first's pops
    ASSERT_EQ(second.attach(memory.words()), QueueStatus::kOk);
    ASSERT_EQ(second.try_pop(value), QueueStatus::kOk);
    EXPECT_EQ(value, 1u);
}

TEST(tracer_IndexQueue, ReportsCountersThatMoveImpossiblyAsCorrupt) {
    QueueMemory memory;
    QueuePusher pusher;
    QueuePopper popper;
    ASSERT_EQ(pusher.attach(memory.words()), QueueStatus::kOk);
    ASSERT_EQ(popper.attach(memory.words()), QueueStatus::kOk);
    std::uint32_t value = 0;
    memory.tail = kQueueSlots + 1;  // more published than slots
    EXPECT_EQ(popper.try_pop(value), QueueStatus::kCorrupt);
    EXPECT_FALSE(popper.has_entries());
    memory.tail = 0;
    for (std::uint32_t i = 0; i < kQueueSlots; ++i) ASSERT_EQ(pusher.try_push(i), QueueStatus::kOk);
    memory.head = kQueueSlots + 10;  // popped more than was pushed
    EXPECT_EQ(pusher.try_push(1), QueueStatus::kCorrupt);
    QueuePopper late;
    memory.head = 0;
    memory.tail = 3 * kQueueSlots;
    EXPECT_EQ(late.attach(memory.words()), QueueStatus::kCorrupt);
}

TEST(tracer_IndexQueue, TransfersEveryEntryOnceBetweenThreads) {
    QueueMemory memory;
    QueuePusher pusher;
    QueuePopper popper;
    ASSERT_EQ(pusher.attach(memory.words()), QueueStatus::kOk);
    ASSERT_EQ(popper.attach(memory.words()), QueueStatus::kOk);
    constexpr std::uint32_t kEntries = 20'000;
    std::atomic<bool> go{false};
    std::thread producer([&] {
        while (!go.load(std::memory_order_acquire)) {}
        for (std::uint32_t i = 0; i < kEntries;) {
            if (pusher.try_push(i) == QueueStatus::kOk) {
                ++i;
            } else {
                std::this_thread::yield();
            }
        }
    });
    go.store(true, std::memory_order_release);
    std::uint32_t expected = 0;
    std::uint32_t value = 0;
    while (expected < kEntries) {
        const QueueStatus status = popper.try_pop(value);
        ASSERT_NE(status, QueueStatus::kCorrupt);
        if (status == QueueStatus::kOk) {
            ASSERT_EQ(value, expected);
            ++expected;
        } else {
            std::this_thread::yield();
        }
    }
    producer.join();
}

class tracer_Appender : public ::testing::TestWithParam<std::uint32_t> {};

// Written by the appender, read by the ring's own Consumer: the same format.
TEST_P(tracer_Appender, WritesRecordsTheRingConsumerReads) {
    const std::uint32_t payload = GetParam();
    rstest::PlainRing ring(4096);
    RingAppender appender;
    std::uint64_t start = 0;
    Consumer consumer;
    ASSERT_EQ(consumer.attach(ring.view()), RingStatus::kOk);
    std::uint64_t seq = 0;
    for (int window = 0; window < 6; ++window) {  // windows start at every offset the wrap leaves
        appender.start(ring.view(), start);
        const std::uint64_t fits = trtest::records_that_fit(4096, start, record_bytes(payload));
        for (std::uint64_t i = 0; i < fits; ++i) {
            std::byte* slot = appender.try_reserve(payload);
            ASSERT_NE(slot, nullptr) << "window " << window << " record " << i;
            rstest::fill_pattern(slot, payload, seq++);
            appender.commit();
        }
        EXPECT_EQ(appender.try_reserve(payload), nullptr);  // full exactly where the model says
        EXPECT_EQ(appender.records(), fits);
        const ScanResult scan = scan_committed(ring.view(), start);
        ASSERT_EQ(scan.status, RingStatus::kOk);
        EXPECT_EQ(scan.records, fits);
        EXPECT_EQ(scan.end, appender.position());
        for (std::uint64_t i = 0; i < fits; ++i) {
            RecordSpan span;
            ASSERT_EQ(consumer.try_peek(span), RingStatus::kOk);
            ASSERT_EQ(span.length, payload);
            EXPECT_EQ(rstest::first_pattern_mismatch(span.data, payload, seq - fits + i), payload);
            ASSERT_EQ(consumer.release(), RingStatus::kOk);
        }
        RecordSpan none;
        EXPECT_EQ(consumer.try_peek(none), RingStatus::kEmpty);
        start = appender.position();
    }
}

INSTANTIATE_TEST_SUITE_P(Payloads, tracer_Appender, ::testing::Values(0u, 1u, 24u, 32u, 100u, 2032u));

TEST(tracer_AppenderWindow, CancelReusesTheSpaceAndPublishesNothing) {
    rstest::PlainRing ring(4096);
    RingAppender appender;
    appender.start(ring.view(), 4064);  // the next 48-byte record must wrap
    std::byte* slot = appender.try_reserve(40);
    ASSERT_NE(slot, nullptr);
    appender.cancel();
    EXPECT_EQ(scan_committed(ring.view(), 4064).records, 0u);
    slot = appender.try_reserve(40);
    ASSERT_NE(slot, nullptr);
    appender.commit();
    const ScanResult scan = scan_committed(ring.view(), 4064);
    EXPECT_EQ(scan.records, 1u);
    EXPECT_EQ(scan.end, 4096u + 48u);
    RingAppender idle;  // never started: reserves nothing
    EXPECT_EQ(idle.try_reserve(0), nullptr);
}

}  // namespace
