// One SPSC ring driven through either of its two front ends, so a ring test
// can run unchanged against both:
//   kCpp: ringside::Producer / Consumer on a RingView over plain zeroed memory
//   kC:   the C API (rs_ring_*) on ring 0 of a fresh named-shm region
// Every call returns an rs_result (C++ statuses are mapped to the C codes).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <ostream>
#include <string>

#include "ringside/ringside.h"
#include "ring/ring_view.hpp"
#include "shm/layout.h"

namespace rstest {

enum class Api { kCpp, kC };

class TestRing {
public:
    virtual ~TestRing() = default;

    // Producer side.
    virtual rs_result reserve(std::size_t length, void** out) = 0;
    virtual rs_result commit() = 0;
    virtual rs_result write(const void* data, std::size_t length) = 0;
    // Consumer side.
    virtual rs_result peek(rs_record* out) = 0;
    virtual rs_result peek_batch(rs_record* out, std::size_t max, std::size_t* count) = 0;
    virtual rs_result release() = 0;
    // Detach the side and attach a fresh one (C: destroy + create the handle).
    virtual rs_result reattach_producer() = 0;
    virtual rs_result reattach_consumer() = 0;

    // Where the ring lives in this process: the shared bytes themselves.
    std::byte* data = nullptr;
    ringside::layout::RingControl* control = nullptr;
    std::uint64_t capacity = 0;
    std::uint32_t record_align = 8;

    [[nodiscard]] std::uint64_t max_payload() const { return ringside::layout::max_payload(capacity); }
    [[nodiscard]] std::uint64_t record_total(std::uint64_t payload) const {
        return (ringside::layout::kRecordHeaderBytes + payload + record_align - 1) & ~std::uint64_t{record_align - 1};
    }
    [[nodiscard]] bool in_data_area(const void* pointer, std::size_t length) const {
        const auto* first = static_cast<const std::byte*>(pointer);
        return first >= data && first + length <= data + capacity;
    }
    // What the producer has committed, as inspectors see it: the producer
    // keeps no per-record counters in shared memory, so walk the commit
    // words from the consumer's read position.
    [[nodiscard]] ringside::ScanResult scan() const {
        ringside::RingView view;
        view.control = control;
        view.data = data;
        view.capacity = capacity;
        view.record_align = record_align;
        return ringside::scan_committed(view, control->read_position);
    }
    [[nodiscard]] std::uint64_t committed_end() const { return scan().end; }
    [[nodiscard]] std::uint64_t committed_records() const { return control->records_released + scan().records; }
    // The payload address of a record whose header starts at `position`.
    [[nodiscard]] const std::byte* payload_at(std::uint64_t position) const {
        return data + (position & (capacity - 1)) + ringside::layout::kRecordHeaderBytes;
    }
};

// Returns nullptr (after recording a test failure) if the ring cannot be set up.
std::unique_ptr<TestRing> make_test_ring(Api api, std::uint64_t capacity, std::uint32_t record_align = 8);

const char* api_name(Api api);
// So gtest prints "Cpp"/"CApi" for a parameter instead of its bytes.
inline void PrintTo(Api api, std::ostream* out) { *out << api_name(api); }

}  // namespace rstest
