#include "support/test_ring.hpp"

#include <algorithm>
#include <span>

#include "support/test_support.hpp"

namespace rstest {
namespace {

namespace layout = ringside::layout;
using ringside::RingStatus;

rs_result to_result(RingStatus status) {
    switch (status) {
        case RingStatus::kOk: return RS_OK;
        case RingStatus::kFull: return RS_FULL;
        case RingStatus::kEmpty: return RS_EMPTY;
        case RingStatus::kTooLarge: return RS_ERR_TOO_LARGE;
        case RingStatus::kCorrupt: return RS_ERR_CORRUPT;
        case RingStatus::kNothingPending: return RS_ERR_INVALID_ARGUMENT;
    }
    return RS_ERR_INTERNAL;
}

class CppRing final : public TestRing {
public:
    CppRing(std::uint64_t ring_capacity, std::uint32_t align) : memory_(ring_capacity, align) {
        data = memory_.view().data;
        control = memory_.view().control;
        capacity = ring_capacity;
        record_align = align;
        EXPECT_EQ(producer_.attach(memory_.view()), RingStatus::kOk);
        EXPECT_EQ(consumer_.attach(memory_.view()), RingStatus::kOk);
    }

    rs_result reserve(std::size_t length, void** out) override {
        *out = nullptr;
        if (length > UINT32_MAX) return RS_ERR_TOO_LARGE;
        std::span<std::byte> span;
        const RingStatus status = producer_.try_reserve(static_cast<std::uint32_t>(length), span);
        if (status == RingStatus::kOk) *out = span.data();
        return to_result(status);
    }
    rs_result commit() override { return to_result(producer_.commit()); }
    rs_result write(const void* bytes, std::size_t length) override {
        if (length > UINT32_MAX) return RS_ERR_TOO_LARGE;
        return to_result(producer_.try_write(bytes, static_cast<std::uint32_t>(length)));
    }
    rs_result peek(rs_record* out) override {
        ringside::RecordSpan span;
        const RingStatus status = consumer_.try_peek(span);
        if (status == RingStatus::kOk) *out = rs_record{span.data, span.length};
        return to_result(status);
    }
    rs_result peek_batch(rs_record* out, std::size_t max, std::size_t* count) override {
        ringside::RecordSpan spans[64];
        std::uint32_t got = 0;
        const RingStatus status = consumer_.peek_batch(std::span(spans, std::min<std::size_t>(max, 64)), got);
        for (std::uint32_t i = 0; i < got; ++i) out[i] = rs_record{spans[i].data, spans[i].length};
        *count = got;
        return to_result(status);
    }
    rs_result release() override { return to_result(consumer_.release()); }
    rs_result reattach_producer() override {
        producer_ = ringside::Producer{};
        return to_result(producer_.attach(memory_.view()));
    }
    rs_result reattach_consumer() override {
        consumer_ = ringside::Consumer{};
        return to_result(consumer_.attach(memory_.view()));
    }

private:
    PlainRing memory_;
    ringside::Producer producer_;
    ringside::Consumer consumer_;
};

class CRing final : public TestRing {
public:
    CRing(std::uint64_t ring_capacity, std::uint32_t align) {
        name_ = scratch_.shm_name("ring");
        rs_region_options options = region_options(RS_BACKING_SHM, ring_capacity);
        options.record_align = align;
        options.prefault = 0;
        if (const rs_result r = create_region(name_, options, region_); r != RS_OK) {
            ADD_FAILURE() << "rs_region_create: " << describe(r);
            return;
        }
        EXPECT_EQ(create_ring(region_.get(), 0, RS_ROLE_PRODUCER, producer_), RS_OK);
        EXPECT_EQ(create_ring(region_.get(), 0, RS_ROLE_CONSUMER, consumer_), RS_OK);
        // The library's own mapping of the region: the only one in this process.
        const auto ranges = mappings_of(Scratch::backing_path(RS_BACKING_SHM, name_));
        if (ranges.empty()) {
            ADD_FAILURE() << "no mapping of " << name_ << " in /proc/self/maps";
            return;
        }
        std::uintptr_t base = ranges.front().first;
        for (const auto& range : ranges) base = std::min(base, range.first);
        auto* bytes = reinterpret_cast<std::byte*>(base);
        data = bytes + layout::ring_data_offset(0, ring_capacity);
        control = reinterpret_cast<layout::RingControl*>(bytes + layout::ring_control_offset(0, ring_capacity));
        capacity = ring_capacity;
        record_align = align;
    }

    rs_result reserve(std::size_t length, void** out) override { return rs_ring_reserve(producer_.get(), length, out); }
    rs_result commit() override { return rs_ring_commit(producer_.get()); }
    rs_result write(const void* bytes, std::size_t length) override {
        return rs_ring_write(producer_.get(), bytes, length);
    }
    rs_result peek(rs_record* out) override { return rs_ring_peek(consumer_.get(), out); }
    rs_result peek_batch(rs_record* out, std::size_t max, std::size_t* count) override {
        return rs_ring_peek_batch(consumer_.get(), out, max, count);
    }
    rs_result release() override { return rs_ring_release(consumer_.get()); }
    rs_result reattach_producer() override {
        producer_.reset();
        return create_ring(region_.get(), 0, RS_ROLE_PRODUCER, producer_);
    }
    rs_result reattach_consumer() override {
        consumer_.reset();
        return create_ring(region_.get(), 0, RS_ROLE_CONSUMER, consumer_);
    }

private:
    // Destroyed in reverse: rings, then the region, then the leftover check.
    Scratch scratch_;
    std::string name_;
    RegionPtr region_;
    RingPtr producer_;
    RingPtr consumer_;
};

}  // namespace

namespace {

// Failures recorded so far in the running test.
int failures_so_far() {
    const ::testing::TestInfo* test = ::testing::UnitTest::GetInstance()->current_test_info();
    if (test == nullptr) return 0;
    const ::testing::TestResult& result = *test->result();
    int failed = 0;
    for (int i = 0; i < result.total_part_count(); ++i) {
        if (result.GetTestPartResult(i).failed()) ++failed;
    }
    return failed;
}

}  // namespace

std::unique_ptr<TestRing> make_test_ring(Api api, std::uint64_t capacity, std::uint32_t record_align) {
    // Only a failure while setting up this ring refuses it: one recorded
    // earlier in the test (say by a previous ring's teardown) is reported
    // already and must not fail every later make() of a table-driven test.
    const int failures_before = failures_so_far();
    std::unique_ptr<TestRing> ring;
    if (api == Api::kCpp) {
        ring = std::make_unique<CppRing>(capacity, record_align);
    } else {
        ring = std::make_unique<CRing>(capacity, record_align);
    }
    if (ring->data == nullptr || failures_so_far() != failures_before) return nullptr;
    return ring;
}

const char* api_name(Api api) { return api == Api::kCpp ? "Cpp" : "CApi"; }

}  // namespace rstest
