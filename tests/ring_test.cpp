// The SPSC ring, through both front ends (C++ Producer/Consumer over plain
// memory, and the C API over a named-shm region): wrap-around at every
// offset, full/empty edges, zero-copy, batches, re-attachment and corrupt
// shared state. Copying calls of the C API (rs_ring_read*) at the end.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <span>
#include <limits>
#include <tuple>
#include <vector>

#include "support/test_ring.hpp"
#include "support/test_support.hpp"

namespace layout = ringside::layout;
using rstest::Api;
using rstest::TestRing;

namespace {

constexpr std::uint64_t kLap4K = 4096;
constexpr std::uint8_t kFillerByte = 0xA5;  // looks like a corrupt commit word if ever misread as one

// What the test expects the ring to hold, to check every placement exactly.
struct Model {
    std::uint64_t write = 0;  // end of the last reservation
    std::uint64_t read = 0;   // everything before it is released
    std::uint64_t seed = 0;   // pattern seed of the next test record
    std::uint64_t rounds = 0;
};

struct Placed {
    std::uint64_t position;  // of the record's header
    std::uint32_t length;
    std::uint64_t seed;      // 0 = filler
    const void* pointer;
};

// Where the next record of `total` bytes goes, and whether it fits now.
struct Placement {
    std::uint64_t record;
    std::uint64_t end;
    bool fits;
};

Placement place(const TestRing& ring, const Model& model, std::uint64_t total) {
    const std::uint64_t offset = model.write & (ring.capacity - 1);
    const std::uint64_t padding = offset + total > ring.capacity ? ring.capacity - offset : 0;
    const std::uint64_t needed = padding + total + layout::kRecordHeaderBytes;  // + the terminator
    return {model.write + padding, model.write + padding + total, model.write + needed - model.read <= ring.capacity};
}

// Test record `seed` carries a window of this table: memcpy in, memcmp out
// (fast also under sanitizers, which check a memcpy as one range).
const std::uint8_t* pattern_for(std::uint64_t seed) {
    static const std::vector<std::uint8_t> table = [] {
        std::vector<std::uint8_t> bytes(3 * 65536);
        std::uint64_t state = 0x9E37'79B9'7F4A'7C15ull;
        for (std::uint8_t& byte : bytes) {
            state = state * 6364136223846793005ull + 1442695040888963407ull;
            byte = static_cast<std::uint8_t>(state >> 56);
        }
        return bytes;
    }();
    return table.data() + (seed * 8) % (2 * 65536);
}

enum class Fill { kPattern, kStale, kKeep };  // test record, filler setting 0xA5, filler keeping old bytes

// Reserves up to `count` records of `length` bytes (a reservation may only
// be refused as FULL when the model agrees there is no room), checks the
// consumer sees nothing before the commit, commits, then drains them with
// single peeks or one peek_batch and checks place, length and bytes.
// Fillers (Fill::kStale, Fill::kKeep) move the ring on; only their length is checked.
void round_trip(TestRing& ring, Model& model, std::uint32_t length, int count, Fill fill) {
    std::vector<Placed> batch;
    for (int i = 0; i < count; ++i) {
        const Placement where = place(ring, model, ring.record_total(length));
        void* pointer = nullptr;
        const rs_result reserved = ring.reserve(length, &pointer);
        if (!where.fits) {
            ASSERT_EQ(reserved, RS_FULL) << "write " << model.write << " read " << model.read << " length " << length;
            ASSERT_FALSE(batch.empty()) << "an empty ring must take any record up to max_payload";
            break;
        }
        ASSERT_EQ(reserved, RS_OK) << rstest::describe(reserved) << " at write " << model.write << " length "
                                   << length;
        ASSERT_EQ(pointer, ring.payload_at(where.record))
            << "record of " << length << " bytes at position " << where.record << " (write was " << model.write
            << ")";
        const std::uint64_t seed = fill == Fill::kPattern ? ++model.seed : 0;
        if (fill == Fill::kPattern && length != 0) std::memcpy(pointer, pattern_for(seed), length);
        if (fill == Fill::kStale) std::memset(pointer, kFillerByte, length);
        batch.push_back({where.record, length, seed, pointer});
        model.write = where.end;
    }
    auto payload_ok = [](const Placed& expected, const void* data) {
        return expected.seed == 0 || expected.length == 0 ||
               std::memcmp(data, pattern_for(expected.seed), expected.length) == 0;
    };
    rs_record record{};
    ASSERT_EQ(ring.peek(&record), RS_EMPTY) << "nothing is visible before the commit";
    ASSERT_EQ(ring.commit(), RS_OK);
    ASSERT_EQ(ring.committed_end(), model.write);

    if (model.rounds++ % 2 == 0) {
        for (const Placed& expected : batch) {
            ASSERT_EQ(ring.peek(&record), RS_OK);
            ASSERT_EQ(record.data, expected.pointer) << "peek returns the reserved bytes in place";
            ASSERT_EQ(record.length, expected.length);
            ASSERT_TRUE(payload_ok(expected, record.data)) << "payload of the record at " << expected.position;
            ASSERT_EQ(ring.release(), RS_OK);
        }
    } else {
        rs_record records[8];
        std::size_t got = 0;
        ASSERT_EQ(ring.peek_batch(records, 8, &got), RS_OK);
        ASSERT_EQ(got, batch.size());
        for (std::size_t i = 0; i < got; ++i) {
            ASSERT_EQ(records[i].data, batch[i].pointer);
            ASSERT_EQ(records[i].length, batch[i].length);
            ASSERT_TRUE(payload_ok(batch[i], records[i].data)) << "payload of the record at " << batch[i].position;
        }
        ASSERT_EQ(ring.release(), RS_OK);
    }
    model.read = model.write;
    ASSERT_EQ(ring.control->read_position, model.read);
    ASSERT_EQ(ring.peek(&record), RS_EMPTY);
}

// Moves the (drained) ring forward to absolute position `target` with filler
// records that never need padding. Fillers fill the first lap with 0xA5
// (which reads as a corrupt commit word) and later just leave old bytes.
void advance_to(TestRing& ring, Model& model, std::uint64_t target) {
    ASSERT_EQ(ring.record_align, 8u) << "fillers assume 8-byte records";
    while (model.write < target) {
        const std::uint64_t lap_end = (model.write | (ring.capacity - 1)) + 1;
        const std::uint64_t step = std::min({target - model.write, lap_end - model.write, ring.capacity / 2});
        const Fill fill = model.write < ring.capacity ? Fill::kStale : Fill::kKeep;
        ASSERT_NO_FATAL_FAILURE(
            round_trip(ring, model, static_cast<std::uint32_t>(step - layout::kRecordHeaderBytes), 1, fill));
    }
    ASSERT_EQ(model.write, target);
}

std::uint64_t round_up(std::uint64_t value, std::uint64_t multiple) { return (value + multiple - 1) / multiple * multiple; }

// ---- wrap-around -----------------------------------------------------------

constexpr std::uint32_t kMaxPayload = std::numeric_limits<std::uint32_t>::max();  // stands for the ring's own

using WrapParam = std::tuple<Api, std::uint64_t, std::uint32_t>;
class RingWrap : public testing::TestWithParam<WrapParam> {};

// For every 8-byte offset k*8 of a lap: move the ring there (one stale lap
// behind it), then push batches of 1-3 records until one has crossed the end
// of the data area or 8 records went through, checking every placement and
// every byte. So every offset starts a record once: those within a record's
// size of the end wrap behind padding, the one at capacity - total ends
// exactly there, and the records after each cover the ones that follow.
TEST_P(RingWrap, DeliversEveryRecordAcrossTheWrapAtEveryOffset) {
    const auto [api, capacity, requested] = GetParam();
    auto ring = rstest::make_test_ring(api, capacity);
    ASSERT_NE(ring, nullptr);
    const std::uint32_t length = requested == kMaxPayload ? static_cast<std::uint32_t>(ring->max_payload()) : requested;
    Model model;
    ASSERT_NO_FATAL_FAILURE(advance_to(*ring, model, capacity)) << "one full lap of stale fillers first";
    for (std::uint64_t k = 0; k < capacity / 8; ++k) {
        const std::uint64_t target = round_up(model.write, capacity) + k * 8;
        ASSERT_NO_FATAL_FAILURE(advance_to(*ring, model, target)) << "k = " << k;
        const std::uint64_t wrap = round_up(target + 1, capacity);
        int pushed = 0;
        while (model.write <= wrap && pushed < 8) {
            const int count = 1 + static_cast<int>(model.rounds % 3);
            const std::uint64_t before = model.seed;
            ASSERT_NO_FATAL_FAILURE(round_trip(*ring, model, length, count, Fill::kPattern))
                << "k = " << k << ", offset " << (target & (capacity - 1));
            pushed += static_cast<int>(model.seed - before);
        }
    }
}

std::string wrap_case_name(const testing::TestParamInfo<WrapParam>& info) {
    const Api api = std::get<0>(info.param);
    const std::uint64_t capacity = std::get<1>(info.param);
    const std::uint32_t length = std::get<2>(info.param);
    return std::string(rstest::api_name(api)) + "_Capacity" + std::to_string(capacity) + "_Payload" +
           (length == kMaxPayload ? std::string("Max") : std::to_string(length));
}

INSTANTIATE_TEST_SUITE_P(
    Sizes, RingWrap,
    testing::Combine(testing::Values(Api::kCpp, Api::kC), testing::Values(std::uint64_t{4096}, std::uint64_t{65536}),
                     testing::Values(0u, 1u, 7u, 8u, 9u, 63u, 64u, 65u, 1000u, kMaxPayload)),
    wrap_case_name);

// Records with record_align 64 start on 64-byte boundaries, across the wrap too.
TEST(RingAlignment, RecordsStartOnRecordAlignBoundariesAcrossTheWrap) {
    for (const Api api : {Api::kCpp, Api::kC}) {
        SCOPED_TRACE(rstest::api_name(api));
        auto ring = rstest::make_test_ring(api, kLap4K, 64);
        ASSERT_NE(ring, nullptr);
        Model model;
        for (const std::uint32_t length : {0u, 1u, 56u, 57u, 100u, 1000u, 2040u}) {
            for (int i = 0; i < 40; ++i) {
                ASSERT_NO_FATAL_FAILURE(round_trip(*ring, model, length, 1 + i % 3, Fill::kPattern)) << "length " << length;
            }
        }
        EXPECT_EQ(model.write % 64, 0u);
        EXPECT_GT(model.write, 4 * kLap4K) << "the ring wrapped several times";
    }
}

// Whatever geometry rs_region_create accepts must carry records: an empty
// ring takes a zero-length record and one of info.max_payload bytes (and
// the reader gets them back). A geometry that cannot must be refused at
// create time, not turn every write into RS_FULL forever.
TEST(RingAlignment, EveryAcceptedGeometryCarriesAnEmptyAndAMaxPayloadRecord) {
    for (const std::uint64_t capacity : {std::uint64_t{4096}, std::uint64_t{8192}}) {
        for (std::uint32_t align = 8; align <= 4096; align *= 2) {
            SCOPED_TRACE(testing::Message() << "capacity " << capacity << ", record_align " << align);
            rstest::Scratch scratch;
            rs_region_options options = rstest::region_options(RS_BACKING_SHM, capacity);
            options.record_align = align;
            rstest::RegionPtr region;
            const rs_result created = rstest::create_region(scratch.shm_name("align"), options, region);
            if (created != RS_OK) {
                EXPECT_EQ(created, RS_ERR_INVALID_ARGUMENT) << rstest::describe(created);
                continue;
            }
            rstest::RingPtr producer;
            rstest::RingPtr consumer;
            ASSERT_EQ(rstest::create_ring(region.get(), 0, RS_ROLE_PRODUCER, producer), RS_OK);
            ASSERT_EQ(rstest::create_ring(region.get(), 0, RS_ROLE_CONSUMER, consumer), RS_OK);
            const std::size_t max = rstest::region_info(region.get()).max_payload;
            std::vector<char> payload(max, 'p');
            for (const std::size_t length : {std::size_t{0}, max}) {
                const rs_result wrote = rs_ring_write(producer.get(), payload.data(), length);
                EXPECT_EQ(wrote, RS_OK) << "length " << length << " into an empty ring: " << rstest::describe(wrote);
                if (wrote != RS_OK) continue;
                rs_record record{};
                ASSERT_EQ(rs_ring_peek(consumer.get(), &record), RS_OK) << rstest::describe(rs_last_error_code());
                EXPECT_EQ(record.length, length);
                ASSERT_EQ(rs_ring_release(consumer.get()), RS_OK);
            }
        }
    }
}

// ---- edges, zero-copy, batches, protocol errors: both front ends -------------

class RingEdges : public testing::TestWithParam<Api> {
protected:
    std::unique_ptr<TestRing> make(std::uint64_t capacity = kLap4K) { return rstest::make_test_ring(GetParam(), capacity); }
};

TEST_P(RingEdges, AnEmptyRingPeeksEmpty) {
    auto ring = make();
    ASSERT_NE(ring, nullptr);
    rs_record record{};
    EXPECT_EQ(ring->peek(&record), RS_EMPTY);
    rs_record records[4];
    std::size_t count = 99;
    EXPECT_EQ(ring->peek_batch(records, 4, &count), RS_EMPTY);
    EXPECT_EQ(count, 0u);
}

// A record of `total` bytes needs total + 8 free bytes (the terminator), so
// exactly (capacity - 8) / total records fit when total divides the capacity.
TEST_P(RingEdges, HoldsExactlyAsManyRecordsAsFitAndOneReleaseMakesRoomForOneMore) {
    for (const std::uint32_t length : {0u, 56u, 120u, 1016u, 2040u}) {
        SCOPED_TRACE(testing::Message() << "payload " << length);
        auto ring = make();
        ASSERT_NE(ring, nullptr);
        const std::uint64_t total = ring->record_total(length);
        const std::uint64_t expected = (ring->capacity - layout::kRecordHeaderBytes) / total;
        std::vector<char> payload(length, 'x');
        std::uint64_t written = 0;
        while (ring->write(payload.data(), length) == RS_OK) ++written;
        EXPECT_EQ(written, expected);
        EXPECT_EQ(ring->write(payload.data(), length), RS_FULL) << "still full: nothing was released";
        rs_record record{};
        ASSERT_EQ(ring->peek(&record), RS_OK);
        ASSERT_EQ(ring->release(), RS_OK);
        EXPECT_EQ(ring->write(payload.data(), length), RS_OK) << "one release makes room for one record";
        EXPECT_EQ(ring->write(payload.data(), length), RS_FULL);
    }
}

// 24-byte records in a 4096-byte ring: 170 fit, ending at offset 4080. The
// next one must wrap and needs its 16 bytes of padding too, so releasing one
// record (24 bytes) is not enough and releasing two is.
TEST_P(RingEdges, ARecordThatMustWrapWaitsUntilItsPaddingIsFreeToo) {
    auto ring = make();
    ASSERT_NE(ring, nullptr);
    char payload[16] = {};
    int written = 0;
    while (ring->write(payload, sizeof payload) == RS_OK) ++written;
    ASSERT_EQ(written, 170);
    rs_record record{};
    ASSERT_EQ(ring->peek(&record), RS_OK);
    ASSERT_EQ(ring->release(), RS_OK);
    EXPECT_EQ(ring->write(payload, sizeof payload), RS_FULL) << "padding 16 + record 24 + terminator 8 > 24 free";
    ASSERT_EQ(ring->peek(&record), RS_OK);
    ASSERT_EQ(ring->release(), RS_OK);
    void* pointer = nullptr;
    ASSERT_EQ(ring->reserve(sizeof payload, &pointer), RS_OK);
    EXPECT_EQ(pointer, ring->data + layout::kRecordHeaderBytes) << "the wrapped record starts the data area";
    ASSERT_EQ(ring->commit(), RS_OK);
}

TEST_P(RingEdges, MaxPayloadPlusOneIsTooLargeAtOnceWhetherEmptyOrFull) {
    auto ring = make();
    ASSERT_NE(ring, nullptr);
    const std::size_t max = ring->max_payload();
    std::vector<char> payload(max + 1, 'm');
    void* pointer = reinterpret_cast<void*>(0x1);
    for (const std::size_t length : {max + 1, max + 8, std::size_t{ring->capacity}, std::size_t{UINT32_MAX},
                                     std::size_t{UINT32_MAX} + 1, std::numeric_limits<std::size_t>::max()}) {
        EXPECT_EQ(ring->reserve(length, &pointer), RS_ERR_TOO_LARGE) << "empty ring, length " << length;
        EXPECT_EQ(pointer, nullptr);
    }
    EXPECT_EQ(ring->write(payload.data(), max + 1), RS_ERR_TOO_LARGE);
    rs_record record{};
    EXPECT_EQ(ring->peek(&record), RS_EMPTY) << "a refused record leaves no trace";
    // Fill the ring: max + 1 is still TOO_LARGE (never FULL: waiting would hang).
    while (ring->write(payload.data(), 100) == RS_OK) {
    }
    EXPECT_EQ(ring->reserve(max + 1, &pointer), RS_ERR_TOO_LARGE) << "full ring";
    EXPECT_EQ(ring->reserve(max, &pointer), RS_FULL) << "max_payload itself only has to wait";
    // Drain: max_payload fits the empty ring.
    while (ring->peek(&record) == RS_OK) ASSERT_EQ(ring->release(), RS_OK);
    EXPECT_EQ(ring->write(payload.data(), max), RS_OK);
    ASSERT_EQ(ring->peek(&record), RS_OK);
    EXPECT_EQ(record.length, max);
}

TEST_P(RingEdges, ReserveWritesInPlaceAndPeekReadsTheSameBytesWithoutACopy) {
    auto ring = make();
    ASSERT_NE(ring, nullptr);
    void* reserved = nullptr;
    ASSERT_EQ(ring->reserve(100, &reserved), RS_OK);
    ASSERT_TRUE(ring->in_data_area(reserved, 100)) << "the reservation is inside the ring's shared data area";
    EXPECT_EQ(reserved, ring->data + layout::kRecordHeaderBytes);
    rstest::fill_pattern(reserved, 100, 7);
    ASSERT_EQ(ring->commit(), RS_OK);
    rs_record record{};
    ASSERT_EQ(ring->peek(&record), RS_OK);
    EXPECT_EQ(record.data, reserved) << "the consumer is handed the producer's bytes, not a copy";
    EXPECT_EQ(record.length, 100u);
    EXPECT_EQ(rstest::first_pattern_mismatch(record.data, 100, 7), 100u);
    rs_record again{};
    ASSERT_EQ(ring->peek(&again), RS_OK);
    EXPECT_EQ(again.data, record.data) << "peek before release returns the same record";
    ASSERT_EQ(ring->release(), RS_OK);
}

TEST_P(RingEdges, SeveralReservesThenOneCommitPublishThemAllAtOnce) {
    auto ring = make();
    ASSERT_NE(ring, nullptr);
    const std::uint32_t lengths[] = {5, 0, 64, 300, 17};
    void* pointers[5] = {};
    for (int i = 0; i < 5; ++i) {
        ASSERT_EQ(ring->reserve(lengths[i], &pointers[i]), RS_OK);
        rstest::fill_pattern(pointers[i], lengths[i], 100 + i);
        rs_record record{};
        EXPECT_EQ(ring->peek(&record), RS_EMPTY) << "consumer sees none of the batch before the commit";
    }
    rs_record records[16];
    std::size_t count = 0;
    EXPECT_EQ(ring->peek_batch(records, 16, &count), RS_EMPTY);
    ASSERT_EQ(ring->commit(), RS_OK);
    ASSERT_EQ(ring->peek_batch(records, 16, &count), RS_OK);
    ASSERT_EQ(count, 5u) << "all of the batch after the commit";
    for (int i = 0; i < 5; ++i) {
        EXPECT_EQ(records[i].data, pointers[i]);
        EXPECT_EQ(records[i].length, lengths[i]);
        EXPECT_EQ(rstest::first_pattern_mismatch(records[i].data, lengths[i], 100 + i), lengths[i]);
    }
    ASSERT_EQ(ring->release(), RS_OK);
    EXPECT_EQ(ring->control->read_position, ring->committed_end()) << "one release freed the whole batch";
    rs_record record{};
    EXPECT_EQ(ring->peek(&record), RS_EMPTY);
}

TEST_P(RingEdges, ABatchThatCrossesTheWrapIsPublishedWhole) {
    auto ring = make();
    ASSERT_NE(ring, nullptr);
    Model model;
    ASSERT_NO_FATAL_FAILURE(advance_to(*ring, model, kLap4K - 200));
    // Four 120-byte records: the second one must wrap behind padding.
    void* pointers[4] = {};
    for (int i = 0; i < 4; ++i) {
        ASSERT_EQ(ring->reserve(112, &pointers[i]), RS_OK);
        rstest::fill_pattern(pointers[i], 112, 40 + i);
    }
    EXPECT_EQ(pointers[1], ring->data + layout::kRecordHeaderBytes) << "the second record wrapped";
    rs_record records[8];
    std::size_t count = 0;
    EXPECT_EQ(ring->peek_batch(records, 8, &count), RS_EMPTY);
    ASSERT_EQ(ring->commit(), RS_OK);
    ASSERT_EQ(ring->peek_batch(records, 8, &count), RS_OK);
    ASSERT_EQ(count, 4u) << "padding is skipped, never returned";
    for (int i = 0; i < 4; ++i) {
        EXPECT_EQ(records[i].data, pointers[i]);
        EXPECT_EQ(rstest::first_pattern_mismatch(records[i].data, 112, 40 + i), 112u);
    }
    ASSERT_EQ(ring->release(), RS_OK);
}

TEST_P(RingEdges, PeekBatchThenOneReleaseFreesExactlyWhatWasPeeked) {
    auto ring = make();
    ASSERT_NE(ring, nullptr);
    for (std::uint64_t i = 0; i < 10; ++i) ASSERT_EQ(ring->write(&i, sizeof i), RS_OK);
    rs_record records[16];
    std::size_t count = 0;
    ASSERT_EQ(ring->peek_batch(records, 4, &count), RS_OK);
    ASSERT_EQ(count, 4u);
    ASSERT_EQ(ring->release(), RS_OK);
    EXPECT_EQ(ring->control->read_position, 4 * ring->record_total(8));
    EXPECT_EQ(ring->control->records_released, 4u);
    ASSERT_EQ(ring->peek_batch(records, 16, &count), RS_OK);
    ASSERT_EQ(count, 6u);
    for (std::size_t i = 0; i < count; ++i) {
        std::uint64_t value = 0;
        std::memcpy(&value, records[i].data, sizeof value);
        EXPECT_EQ(value, 4 + i);
    }
    ASSERT_EQ(ring->release(), RS_OK);
    EXPECT_EQ(ring->control->records_released, 10u);
    EXPECT_EQ(ring->committed_records(), 10u);
}

// Consumer::release_through (the sidecar hands room back part-way through a
// batch): a record before the wrap, one behind padding, then the rest.
TEST(RingPartialRelease, ReleasingAPrefixOfABatchFreesExactlyThatPrefixAcrossTheWrap) {
    rstest::PlainRing memory(kLap4K);
    ringside::Producer producer;
    ringside::Consumer consumer;
    ASSERT_EQ(producer.attach(memory.view()), ringside::RingStatus::kOk);
    ASSERT_EQ(consumer.attach(memory.view()), ringside::RingStatus::kOk);
    std::byte filler[480] = {};
    for (int i = 0; i < 8; ++i) {  // eight 488-byte records: the ring is empty at offset 3904
        ASSERT_EQ(producer.try_write(filler, sizeof filler), ringside::RingStatus::kOk);
        ringside::RecordSpan first;
        ASSERT_EQ(consumer.try_peek(first), ringside::RingStatus::kOk);
        ASSERT_EQ(consumer.release(), ringside::RingStatus::kOk);
    }
    ASSERT_EQ(memory.control().read_position, 3904u);
    // Four 120-byte records from offset 3904: the second wraps behind 72 bytes of padding.
    for (std::uint64_t i = 0; i < 4; ++i) {
        std::byte payload[112];
        std::memset(payload, static_cast<int>(i + 1), sizeof payload);
        ASSERT_EQ(producer.try_write(payload, sizeof payload), ringside::RingStatus::kOk);
    }
    ringside::RecordSpan spans[8];
    std::uint32_t count = 0;
    ASSERT_EQ(consumer.peek_batch(std::span<ringside::RecordSpan>(spans, 8), count), ringside::RingStatus::kOk);
    ASSERT_EQ(count, 4u);
    EXPECT_EQ(consumer.release_through(spans[0], 5), ringside::RingStatus::kNothingPending) << "only 4 are peeked";
    ASSERT_EQ(consumer.release_through(spans[0], 1), ringside::RingStatus::kOk);
    EXPECT_EQ(memory.control().read_position, 3904u + 120);
    ASSERT_EQ(consumer.release_through(spans[1], 1), ringside::RingStatus::kOk);
    EXPECT_EQ(memory.control().read_position, kLap4K + 120) << "the padding before the wrapped record goes with it";
    EXPECT_EQ(memory.control().records_released, 10u);
    EXPECT_EQ(static_cast<int>(spans[2].data[0]), 3) << "the records not yet released stay in place";
    ASSERT_EQ(consumer.release(), ringside::RingStatus::kOk);
    EXPECT_EQ(memory.control().read_position, kLap4K + 3 * 120);
    EXPECT_EQ(memory.control().records_released, 12u);
    EXPECT_EQ(consumer.release(), ringside::RingStatus::kNothingPending);
}

TEST_P(RingEdges, ReleaseWithoutPeekAndCommitWithoutReserveAreInvalid) {
    auto ring = make();
    ASSERT_NE(ring, nullptr);
    EXPECT_EQ(ring->release(), RS_ERR_INVALID_ARGUMENT);
    EXPECT_EQ(ring->commit(), RS_ERR_INVALID_ARGUMENT);
    ASSERT_EQ(ring->write("ab", 2), RS_OK);
    EXPECT_EQ(ring->commit(), RS_ERR_INVALID_ARGUMENT) << "the write already committed";
    rs_record record{};
    ASSERT_EQ(ring->peek(&record), RS_OK);
    ASSERT_EQ(ring->release(), RS_OK);
    EXPECT_EQ(ring->release(), RS_ERR_INVALID_ARGUMENT) << "a second release without a new peek";
    EXPECT_EQ(ring->peek(&record), RS_EMPTY);
    EXPECT_EQ(ring->release(), RS_ERR_INVALID_ARGUMENT) << "an empty peek gives nothing to release";
}

TEST_P(RingEdges, WriteAlsoPublishesEarlierReservations) {
    auto ring = make();
    ASSERT_NE(ring, nullptr);
    void* first = nullptr;
    ASSERT_EQ(ring->reserve(3, &first), RS_OK);
    std::memcpy(first, "one", 3);
    ASSERT_EQ(ring->write("two", 3), RS_OK);
    rs_record records[4];
    std::size_t count = 0;
    ASSERT_EQ(ring->peek_batch(records, 4, &count), RS_OK);
    ASSERT_EQ(count, 2u);
    EXPECT_EQ(std::memcmp(records[0].data, "one", 3), 0);
    EXPECT_EQ(std::memcmp(records[1].data, "two", 3), 0);
    ASSERT_EQ(ring->release(), RS_OK);
}

// ---- re-attachment -------------------------------------------------------

TEST_P(RingEdges, AProducerReattachedAfterAnUncommittedReserveReusesTheSpace) {
    auto ring = make();
    ASSERT_NE(ring, nullptr);
    ASSERT_EQ(ring->write("before", 6), RS_OK);
    void* abandoned = nullptr;
    ASSERT_EQ(ring->reserve(40, &abandoned), RS_OK);
    std::memset(abandoned, 'X', 40);
    ASSERT_EQ(ring->reattach_producer(), RS_OK) << "the producer goes away without committing";
    void* reused = nullptr;
    ASSERT_EQ(ring->reserve(40, &reused), RS_OK);
    EXPECT_EQ(reused, abandoned) << "the new producer writes where the uncommitted record was";
    rstest::fill_pattern(reused, 40, 5);
    ASSERT_EQ(ring->commit(), RS_OK);

    rs_record record{};
    ASSERT_EQ(ring->peek(&record), RS_OK);
    EXPECT_EQ(std::string(static_cast<const char*>(record.data), record.length), "before");
    ASSERT_EQ(ring->release(), RS_OK);
    ASSERT_EQ(ring->peek(&record), RS_OK);
    EXPECT_EQ(record.length, 40u);
    EXPECT_EQ(rstest::first_pattern_mismatch(record.data, 40, 5), 40u) << "never the abandoned 'X' record";
    ASSERT_EQ(ring->release(), RS_OK);
    EXPECT_EQ(ring->peek(&record), RS_EMPTY);
}

TEST_P(RingEdges, AProducerReattachedWithUnreadRecordsContinuesAfterThem) {
    auto ring = make();
    ASSERT_NE(ring, nullptr);
    Model model;
    ASSERT_NO_FATAL_FAILURE(advance_to(*ring, model, kLap4K + 4000)) << "unread records end just before the wrap";
    for (std::uint64_t i = 0; i < 5; ++i) ASSERT_EQ(ring->write(&i, sizeof i), RS_OK);
    ASSERT_EQ(ring->reattach_producer(), RS_OK);
    for (std::uint64_t i = 5; i < 8; ++i) ASSERT_EQ(ring->write(&i, sizeof i), RS_OK);
    EXPECT_EQ(ring->committed_records(), model.rounds + 8) << "the counter survives re-attachment";
    for (std::uint64_t i = 0; i < 8; ++i) {
        rs_record record{};
        ASSERT_EQ(ring->peek(&record), RS_OK);
        std::uint64_t value = 0;
        std::memcpy(&value, record.data, sizeof value);
        EXPECT_EQ(value, i);
        ASSERT_EQ(ring->release(), RS_OK);
    }
}

TEST_P(RingEdges, AConsumerReattachedResumesAtThePersistedReadPosition) {
    auto ring = make();
    ASSERT_NE(ring, nullptr);
    for (std::uint64_t i = 0; i < 10; ++i) ASSERT_EQ(ring->write(&i, sizeof i), RS_OK);
    auto next_value = [&](bool release) {
        rs_record record{};
        EXPECT_EQ(ring->peek(&record), RS_OK);
        std::uint64_t value = 99;
        if (record.data != nullptr) std::memcpy(&value, record.data, sizeof value);
        if (release) {
            EXPECT_EQ(ring->release(), RS_OK);
        }
        return value;
    };
    for (std::uint64_t i = 0; i < 4; ++i) EXPECT_EQ(next_value(true), i);
    EXPECT_EQ(next_value(false), 4u) << "peeked, not released";
    ASSERT_EQ(ring->reattach_consumer(), RS_OK);
    EXPECT_EQ(next_value(true), 4u) << "an unreleased record is delivered again";
    ASSERT_EQ(ring->reattach_consumer(), RS_OK);
    for (std::uint64_t i = 5; i < 10; ++i) EXPECT_EQ(next_value(true), i);
    EXPECT_EQ(ring->control->records_released, 10u);
}

// ---- corrupt shared state ------------------------------------------------

struct BogusRecord {
    const char* what;
    std::uint32_t commit;
    std::uint32_t length;
    std::uint64_t at;  // data-area offset of the corrupted record
};

// The consumer must report RS_ERR_CORRUPT (no crash, no hang, no delivery)
// for any commit word the producer could never have written.
TEST_P(RingEdges, ABogusCommitWordIsReportedCorrupt) {
    const BogusRecord table[] = {
        {"total shorter than a header", 4, 0, 0},
        {"total not a multiple of record_align", 12, 4, 0},
        {"length disagrees with total", 16, 100, 0},
        {"record larger than max_record_total", 2048 + 8, 2048, 0},
        {"record running past the end of the data area", 64, 56, 4096 - 32},
        {"padding that does not run to the end", layout::kPadFlag | 64, 0, 0},
        {"padding of zero bytes", layout::kPadFlag, 0, 4096 - 8},
        {"padding of the whole ring (a reader would go round forever)", layout::kPadFlag | 4096, 0, 0},
        {"all ones", 0xFFFF'FFFFu, 0xFFFF'FFFFu, 0},
        {"filler bytes", 0xA5A5'A5A5u, 0xA5A5'A5A5u, 0},
    };
    for (const BogusRecord& bogus : table) {
        SCOPED_TRACE(bogus.what);
        auto ring = make();
        ASSERT_NE(ring, nullptr);
        Model model;
        ASSERT_NO_FATAL_FAILURE(advance_to(*ring, model, kLap4K + bogus.at));
        auto* header = reinterpret_cast<layout::RecordHeader*>(ring->data + bogus.at);
        header->length = bogus.length;
        header->commit = bogus.commit;
        rs_record record{};
        EXPECT_EQ(ring->peek(&record), RS_ERR_CORRUPT);
        rs_record records[4];
        std::size_t count = 7;
        EXPECT_EQ(ring->peek_batch(records, 4, &count), RS_ERR_CORRUPT);
        EXPECT_EQ(count, 0u);
        EXPECT_EQ(ring->release(), RS_ERR_INVALID_ARGUMENT) << "nothing was handed out";
    }
}

TEST_P(RingEdges, ABogusRecordBehindGoodOnesIsReportedAfterTheGoodOnes) {
    auto ring = make();
    ASSERT_NE(ring, nullptr);
    ASSERT_EQ(ring->write("good", 4), RS_OK);
    ASSERT_EQ(ring->write("bad!", 4), RS_OK);
    reinterpret_cast<layout::RecordHeader*>(ring->data + 16)->commit = 24;  // length 4 needs 16
    rs_record records[4];
    std::size_t count = 0;
    ASSERT_EQ(ring->peek_batch(records, 4, &count), RS_OK) << "the good record is still delivered";
    EXPECT_EQ(count, 1u);
    ASSERT_EQ(ring->release(), RS_OK);
    rs_record record{};
    EXPECT_EQ(ring->peek(&record), RS_ERR_CORRUPT);
    EXPECT_EQ(ring->reattach_producer(), RS_ERR_CORRUPT) << "a producer cannot recover past it either";
}

TEST_P(RingEdges, AnUnalignedReadPositionIsCorruptForBothSides) {
    auto ring = make();
    ASSERT_NE(ring, nullptr);
    ring->control->read_position = 3;
    EXPECT_EQ(ring->reattach_consumer(), RS_ERR_CORRUPT);
    EXPECT_EQ(ring->reattach_producer(), RS_ERR_CORRUPT);
}

// The producer checks read_position whenever the ring looks full: a consumer
// index ahead of what was committed, or one that moved backwards, is corrupt.
TEST_P(RingEdges, AReadPositionAheadOfTheWriterOrMovingBackIsCorrupt) {
    for (const bool ahead : {true, false}) {
        SCOPED_TRACE(ahead ? "ahead of the writer" : "moved backwards");
        auto ring = make();
        ASSERT_NE(ring, nullptr);
        char payload[100] = {};
        // Release a few so the producer's cached read position is non-zero.
        while (ring->write(payload, sizeof payload) == RS_OK) {
        }
        rs_record record{};
        for (int i = 0; i < 3; ++i) {
            ASSERT_EQ(ring->peek(&record), RS_OK);
            ASSERT_EQ(ring->release(), RS_OK);
        }
        while (ring->write(payload, sizeof payload) == RS_OK) {
        }
        const std::uint64_t written = ring->committed_end();
        ring->control->read_position = ahead ? written + 1024 : 0;
        void* pointer = nullptr;
        EXPECT_EQ(ring->reserve(sizeof payload, &pointer), RS_ERR_CORRUPT);
        EXPECT_EQ(pointer, nullptr);
    }
}

// A data area full of committed-looking records and no terminator: the
// producer's recovery scan stops after one lap instead of looping forever.
TEST_P(RingEdges, ALapWithoutATerminatorIsCorruptNotAHang) {
    auto ring = make();
    ASSERT_NE(ring, nullptr);
    for (std::uint64_t offset = 0; offset < ring->capacity; offset += 8) {
        auto* header = reinterpret_cast<layout::RecordHeader*>(ring->data + offset);
        header->length = 0;
        header->commit = 8;
    }
    EXPECT_EQ(ring->reattach_producer(), RS_ERR_CORRUPT);
}

INSTANTIATE_TEST_SUITE_P(FrontEnds, RingEdges, testing::Values(Api::kCpp, Api::kC),
                         [](const testing::TestParamInfo<Api>& info) { return rstest::api_name(info.param); });

// ---- copying calls of the C API ------------------------------------------

class RingCopy : public testing::Test {
protected:
    void SetUp() override {
        ASSERT_EQ(rstest::create_region(scratch_.shm_name("copy"), rstest::region_options(RS_BACKING_SHM, 4096),
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

TEST_F(RingCopy, ReadWithoutABufferReportsTheSizeAndKeepsTheRecord) {
    ASSERT_EQ(rs_ring_write(producer_.get(), "hello world", 11), RS_OK);
    std::size_t length = 0;
    EXPECT_EQ(rs_ring_read(consumer_.get(), nullptr, 0, &length), RS_ERR_TOO_SMALL);
    EXPECT_EQ(length, 11u);
    EXPECT_STRNE(rs_last_error_message(), "");
    char small[4] = {};
    length = 0;
    EXPECT_EQ(rs_ring_read(consumer_.get(), small, sizeof small, &length), RS_ERR_TOO_SMALL);
    EXPECT_EQ(length, 11u);
    char buffer[11] = {};
    ASSERT_EQ(rs_ring_read(consumer_.get(), buffer, sizeof buffer, &length), RS_OK) << "the record was kept";
    EXPECT_EQ(length, 11u);
    EXPECT_EQ(std::memcmp(buffer, "hello world", 11), 0);
    EXPECT_EQ(rs_ring_read(consumer_.get(), buffer, sizeof buffer, &length), RS_EMPTY) << "and then released";
}

// As documented, a NULL buffer is always a size query, even for an empty
// record: the caller then reads with any non-NULL buffer.
TEST_F(RingCopy, ReadOfAZeroLengthRecordAnswersTheSizeQueryThenReadsWithAnyBuffer) {
    ASSERT_EQ(rs_ring_write(producer_.get(), nullptr, 0), RS_OK);
    std::size_t length = 99;
    EXPECT_EQ(rs_ring_read(consumer_.get(), nullptr, 0, &length), RS_ERR_TOO_SMALL);
    EXPECT_EQ(length, 0u);
    char buffer[1];
    length = 99;
    EXPECT_EQ(rs_ring_read(consumer_.get(), buffer, 0, &length), RS_OK);
    EXPECT_EQ(length, 0u);
    EXPECT_EQ(rs_ring_read(consumer_.get(), buffer, 0, &length), RS_EMPTY);
}

TEST_F(RingCopy, ReadAllocHandsOverALibraryBufferThatBufferFreeReturns) {
    const std::int64_t before = rs_debug_allocation_count();
    ASSERT_EQ(rs_ring_write(producer_.get(), "copy me", 7), RS_OK);
    ASSERT_EQ(rs_ring_write(producer_.get(), nullptr, 0), RS_OK);
    void* buffer = nullptr;
    std::size_t length = 0;
    ASSERT_EQ(rs_ring_read_alloc(consumer_.get(), &buffer, &length), RS_OK);
    ASSERT_NE(buffer, nullptr);
    EXPECT_EQ(length, 7u);
    EXPECT_EQ(std::memcmp(buffer, "copy me", 7), 0);
    EXPECT_EQ(rs_debug_allocation_count(), before + 1);
    rs_record record{};
    ASSERT_EQ(rs_ring_peek(consumer_.get(), &record), RS_OK) << "the copied record was released";
    EXPECT_EQ(record.length, 0u);
    rs_buffer_free(buffer);
    EXPECT_EQ(rs_debug_allocation_count(), before);

    ASSERT_EQ(rs_ring_read_alloc(consumer_.get(), &buffer, &length), RS_OK);
    EXPECT_EQ(length, 0u);
    rs_buffer_free(buffer);  // whatever it returned for an empty record is freed the same way
    EXPECT_EQ(rs_debug_allocation_count(), before);
    EXPECT_EQ(rs_ring_read_alloc(consumer_.get(), &buffer, &length), RS_EMPTY);
    EXPECT_EQ(buffer, nullptr);
    EXPECT_EQ(rs_debug_allocation_count(), before) << "an empty read allocates nothing";
}

}  // namespace
