// libFuzzer target: the record rules both sides share (ring_view.hpp
// decode_record, scan_committed) and the consumer and producer built on them,
// over a ring whose data area is whatever the input says. The data area is a
// heap block of exactly `capacity` bytes (ASan reports any byte past it) and
// every span a side hands out is checked against it independently of the
// code under test. Built twice: as is, and as the canary with one bounds
// check removed (RINGSIDE_FUZZ_CANARY_DROP_BOUNDS_CHECK), which must crash.
//
// Input: u8 capacity selector, u8 alignment selector, u64 start position,
// u8 operations budget, then the data area's bytes (zero-filled after).
#include <algorithm>
#include <cstring>
#include <memory>
#include <span>

#include "fuzz_input.hpp"
#include "ring/consumer.hpp"
#include "ring/producer.hpp"

namespace {

using namespace ringside;

std::uint64_t g_sink = 0;  // payload bytes are summed into it, so every byte is read

void touch(const std::byte* data, std::size_t length) {
    for (std::size_t i = 0; i < length; ++i) g_sink += static_cast<std::uint8_t>(data[i]);
}

void expect_inside(const RingView& view, const void* pointer, std::size_t length) {
    const auto* first = static_cast<const std::byte*>(pointer);
    if (first < view.data || first + length > view.data + view.capacity) rsfuzz::broken("a span leaves the data area");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* bytes, std::size_t size) {
    rsfuzz::Input input(bytes, size);
    const std::uint64_t capacity = std::uint64_t{64} << (input.byte() % 7);  // 64 .. 4096
    const std::uint32_t align = std::min<std::uint32_t>(8u << (input.byte() % 4), static_cast<std::uint32_t>(capacity / 4));
    const std::uint64_t start = input.take<std::uint64_t>();
    const std::uint32_t budget = input.byte();

    auto data = std::make_unique<std::byte[]>(capacity);
    auto control = std::make_unique<layout::RingControl>();
    std::size_t length = 0;
    const std::uint8_t* image = input.rest(length);
    std::memcpy(data.get(), image, std::min<std::size_t>(length, capacity));
    control->read_position = start;

    RingView view;
    view.control = control.get();
    view.data = data.get();
    view.capacity = capacity;
    view.record_align = align;

    // Every record header decoded in place: what decode_record accepts lies inside.
    for (std::uint64_t offset = 0; offset + layout::kRecordHeaderBytes <= capacity; offset += align) {
        // relaxed is enough: one thread, no other writer.
        const std::uint32_t commit = commit_word(view, offset).load(std::memory_order_relaxed);
        const DecodedRecord record = decode_record(view, offset, commit);
        // Reading every payload byte of an accepted record: ASan reports a
        // record that runs past the heap block (no mirror of the checks here).
        if (record.status == RingStatus::kOk && !record.padding) {
            touch(data.get() + offset + layout::kRecordHeaderBytes, record.length);
        }
    }

    const ScanResult scan = scan_committed(view, start);
    if (scan.status == RingStatus::kOk && scan.end - start >= capacity) rsfuzz::broken("scan_committed accepted a full lap");

    // The consumer, from the persisted position: peek, read every byte, release.
    Consumer consumer;
    if (consumer.attach(view) == RingStatus::kOk) {
        for (std::uint32_t step = 0; step <= budget; ++step) {
            RecordSpan spans[4];
            std::uint32_t count = 0;
            RingStatus status;
            if (step % 2 == 0) {
                status = consumer.try_peek(spans[0]);
                count = status == RingStatus::kOk ? 1 : 0;
            } else {
                status = consumer.peek_batch(std::span<RecordSpan>(spans), count);
            }
            if (status != RingStatus::kOk) break;
            for (std::uint32_t i = 0; i < count; ++i) {
                expect_inside(view, spans[i].data, spans[i].length);
                touch(spans[i].data, spans[i].length);
            }
            if (consumer.release() != RingStatus::kOk) rsfuzz::broken("release after a peek failed");
        }
    }

    // The producer recovers its position from the same bytes, then writes.
    Producer producer;
    if (producer.attach(view) == RingStatus::kOk) {
        std::byte payload[64] = {};
        for (std::uint32_t step = 0; step <= budget; ++step) {
            std::span<std::byte> span;
            const auto want = static_cast<std::uint32_t>((step * 13 + budget) % (capacity / 2));
            if (producer.try_reserve(want, span) != RingStatus::kOk) break;
            expect_inside(view, span.data(), span.size());
            std::memcpy(span.data(), payload, std::min(span.size(), sizeof payload));
            (void)producer.commit();
        }
    }
    return 0;
}
