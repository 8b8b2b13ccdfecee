// Two threads, one ring (64 KiB, named shm, C API): the producer writes
// RINGSIDE_STRESS_RECORDS records of varying sizes, the consumer checks the
// order and every byte of each, and both checksums must agree at the end.
// Built twice (tests/CMakeLists.txt): 10 million records under label stress
// (suite RingStress), 200 thousand under label quick (suite RingStressQuick)
// so the sanitizer builds run it too.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <latch>
#include <thread>

#include "support/stress_records.hpp"
#include "support/test_support.hpp"

#ifndef RINGSIDE_STRESS_RECORDS
#define RINGSIDE_STRESS_RECORDS 200000
#endif
#if RINGSIDE_STRESS_RECORDS >= 10000000
#define RINGSIDE_STRESS_SUITE RingStress
#else
#define RINGSIDE_STRESS_SUITE RingStressQuick
#endif

namespace {

constexpr std::uint64_t kRecords = RINGSIDE_STRESS_RECORDS;
constexpr std::uint64_t kCapacity = 64 * 1024;

TEST(RINGSIDE_STRESS_SUITE, TwoThreadsExchangeEveryRecordInOrderWithIntactBytes) {
    rstest::Scratch scratch;
    rstest::RegionPtr region;
    ASSERT_EQ(rstest::create_region(scratch.shm_name("stress"), rstest::region_options(RS_BACKING_SHM, kCapacity),
                                    region),
              RS_OK);
    rstest::RingPtr producer;
    rstest::RingPtr consumer;
    ASSERT_EQ(rstest::create_ring(region.get(), 0, RS_ROLE_PRODUCER, producer), RS_OK);
    ASSERT_EQ(rstest::create_ring(region.get(), 0, RS_ROLE_CONSUMER, consumer), RS_OK);

    std::latch start(2);
    std::atomic<bool> producer_failed{false};
    std::atomic<bool> consumer_failed{false};
    std::atomic<bool> producer_done{false};
    rstest::stress::Outcome produced;
    rstest::stress::Outcome consumed;
    const auto began = std::chrono::steady_clock::now();
    std::thread producing([&] {
        start.arrive_and_wait();
        produced = rstest::stress::produce(producer.get(), kRecords, consumer_failed);
        producer_failed.store(!produced.error.empty());
        producer_done.store(true);
    });
    std::thread consuming([&] {
        start.arrive_and_wait();
        consumed = rstest::stress::consume(consumer.get(), kRecords, producer_failed,
                                           [&] { return producer_done.load(); });
        consumer_failed.store(!consumed.error.empty());
    });
    producing.join();
    consuming.join();
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - began).count();

    EXPECT_EQ(produced.error, "");
    EXPECT_EQ(consumed.error, "");
    EXPECT_EQ(produced.records, kRecords);
    EXPECT_EQ(consumed.records, kRecords);
    EXPECT_EQ(consumed.checksum.bytes, produced.checksum.bytes);
    EXPECT_EQ(consumed.checksum.state, produced.checksum.state) << "checksums over every payload byte differ";
    EXPECT_GT(produced.batches, 0u) << "part of the run commits batches";
    EXPECT_GT(consumed.batches, 0u) << "part of the run peeks batches";
    std::printf("%llu records, %.1f MB in %.2f s (%.2f M records/s); producer saw FULL %llu times, consumer EMPTY %llu\n",
                static_cast<unsigned long long>(kRecords), produced.checksum.bytes / 1e6, seconds,
                kRecords / seconds / 1e6, static_cast<unsigned long long>(produced.waits),
                static_cast<unsigned long long>(consumed.waits));
    RecordProperty("seconds", std::to_string(seconds));
}

}  // namespace
