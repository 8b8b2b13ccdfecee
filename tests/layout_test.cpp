// Pins the shared layout (src/shm/layout.h) and the public C structs.
//
// IF A TEST IN THIS FILE FAILS, the bytes two processes agree on have moved.
// Do not just update the numbers: bump layout::kLayoutMajor for any change an
// old opener would misread (kLayoutMinor only for additions in reserved space
// that old openers may ignore), then update the numbers here. For the public
// structs (PublicStructs suite), a change breaks the C ABI: grow structs only
// at the end, behind struct_size.
#include <gtest/gtest.h>
#include <time.h>
#include <unistd.h>

#include <cstddef>
#include <cstring>
#include <type_traits>

#include "common/process.hpp"
#include "shm/layout.h"
#include "support/test_support.hpp"

namespace layout = ringside::layout;
using rstest::RegionPtr;
using rstest::Scratch;

namespace {

template <typename T>
constexpr bool kSharedSafe = std::is_standard_layout_v<T> && std::is_trivially_copyable_v<T>;

TEST(Layout, ConstantsAreTheOnesTheFormatDefines) {
    EXPECT_EQ(layout::kMagic, 0x3145'4449'5347'4e52ull);
    char magic_text[9] = {};
    std::memcpy(magic_text, &layout::kMagic, 8);  // little-endian: the bytes spell it
    EXPECT_STREQ(magic_text, "RNGSIDE1");
    EXPECT_EQ(layout::kLayoutMajor, 1);
    EXPECT_EQ(layout::kLayoutMinor, 0);
    EXPECT_EQ(layout::kHeaderPageBytes, 4096u);
    EXPECT_EQ(layout::kRingControlBytes, 4096u);
    EXPECT_EQ(layout::kRecordHeaderBytes, 8u);
    EXPECT_EQ(layout::kPadFlag, 0x8000'0000u);
    EXPECT_EQ(layout::kMinCapacity, 4096u);
    EXPECT_EQ(layout::kMaxCapacity, 1ull << 30);
    EXPECT_EQ(layout::kMaxRings, 1024u);
    EXPECT_EQ(layout::kStatusOffset, 256u);
    EXPECT_EQ(static_cast<std::uint32_t>(layout::BackingKind::kNamedShm), 1u);
    EXPECT_EQ(static_cast<std::uint32_t>(layout::BackingKind::kFile), 2u);
}

TEST(Layout, RegionHeaderFieldsSitAtTheirPinnedOffsets) {
    using H = layout::RegionHeader;
    static_assert(kSharedSafe<H>);
    EXPECT_EQ(sizeof(H), 256u);
    EXPECT_EQ(alignof(H), 8u);
    EXPECT_EQ(offsetof(H, magic), 0u);
    EXPECT_EQ(offsetof(H, layout_major), 8u);
    EXPECT_EQ(offsetof(H, layout_minor), 10u);
    EXPECT_EQ(offsetof(H, header_bytes), 12u);
    EXPECT_EQ(offsetof(H, total_bytes), 16u);
    EXPECT_EQ(offsetof(H, ring_capacity), 24u);
    EXPECT_EQ(offsetof(H, ring_count), 32u);
    EXPECT_EQ(offsetof(H, record_align), 36u);
    EXPECT_EQ(offsetof(H, backing_kind), 40u);
    EXPECT_EQ(offsetof(H, creator_pid), 44u);
    EXPECT_EQ(offsetof(H, creator_start_ticks), 48u);
    EXPECT_EQ(offsetof(H, epoch), 56u);
    EXPECT_EQ(offsetof(H, created_unix_ns), 64u);
    EXPECT_EQ(offsetof(H, flags), 72u);
    EXPECT_EQ(offsetof(H, reserved0), 76u);
    EXPECT_EQ(offsetof(H, reserved), 80u);
    EXPECT_EQ(sizeof(H::reserved), 176u);
}

TEST(Layout, StatusBlockFieldsSitAtTheirPinnedOffsets) {
    using S = layout::StatusBlock;
    static_assert(kSharedSafe<S>);
    EXPECT_EQ(sizeof(S), 128u);
    EXPECT_EQ(alignof(S), 8u);
    EXPECT_EQ(offsetof(S, sidecar_state), 0u);
    EXPECT_EQ(offsetof(S, sidecar_pid), 4u);
    EXPECT_EQ(offsetof(S, commands_processed), 8u);
    EXPECT_EQ(offsetof(S, events_emitted), 16u);
    EXPECT_EQ(offsetof(S, last_error), 24u);
    EXPECT_EQ(offsetof(S, reserved0), 28u);
    EXPECT_EQ(offsetof(S, reserved), 32u);
    EXPECT_EQ(layout::kStatusOffset % alignof(S), 0u);
    EXPECT_LE(layout::kStatusOffset + sizeof(S), layout::kHeaderPageBytes);
    EXPECT_GE(layout::kStatusOffset, sizeof(layout::RegionHeader));
}

TEST(Layout, RingControlKeepsEachWriterOnItsOwnLinePair) {
    using C = layout::RingControl;
    static_assert(kSharedSafe<C>);
    EXPECT_EQ(sizeof(C), 512u);
    EXPECT_EQ(alignof(C), 8u);
    // producer line
    EXPECT_EQ(offsetof(C, write_position), 0u);
    EXPECT_EQ(offsetof(C, records_committed), 8u);
    EXPECT_EQ(offsetof(C, producer_pad), 16u);
    // consumer line
    EXPECT_EQ(offsetof(C, read_position), 128u);
    EXPECT_EQ(offsetof(C, records_released), 136u);
    EXPECT_EQ(offsetof(C, consumer_pad), 144u);
    // notify line (futex words: 4-byte aligned)
    EXPECT_EQ(offsetof(C, data_sequence), 256u);
    EXPECT_EQ(offsetof(C, data_waiters), 260u);
    EXPECT_EQ(offsetof(C, space_sequence), 264u);
    EXPECT_EQ(offsetof(C, space_waiters), 268u);
    EXPECT_EQ(offsetof(C, notify_pad), 272u);
    // claims line
    EXPECT_EQ(offsetof(C, producer_claim), 384u);
    EXPECT_EQ(offsetof(C, producer_start_ticks), 392u);
    EXPECT_EQ(offsetof(C, consumer_claim), 400u);
    EXPECT_EQ(offsetof(C, consumer_start_ticks), 408u);
    EXPECT_EQ(offsetof(C, claims_pad), 416u);
    EXPECT_LE(sizeof(C), layout::kRingControlBytes);
}

TEST(Layout, RecordHeaderIsCommitThenLength) {
    using R = layout::RecordHeader;
    static_assert(kSharedSafe<R>);
    EXPECT_EQ(sizeof(R), 8u);
    EXPECT_EQ(alignof(R), 4u);
    EXPECT_EQ(offsetof(R, commit), 0u);
    EXPECT_EQ(offsetof(R, length), 4u);
}

struct Geometry {
    std::uint32_t ring_count;
    std::uint64_t capacity;
    std::uint64_t last_control;  // ring_control_offset(ring_count - 1)
    std::uint64_t last_data;     // ring_data_offset(ring_count - 1)
    std::uint64_t total;         // region_bytes
    std::uint64_t max_payload;
};

TEST(Layout, OffsetsAndSizesFollowFromRingCountAndCapacity) {
    const Geometry table[] = {
        {1, 4096, 4096, 8192, 12288, 2040},
        {2, 4096, 12288, 16384, 20480, 2040},
        {3, 65536, 4096 + 2 * 69632, 4096 + 2 * 69632 + 4096, 4096 + 3 * 69632, 32760},
        {1, 1ull << 20, 4096, 8192, 4096 + 4096 + (1ull << 20), (1ull << 19) - 8},
        {1024, 1ull << 30, 4096 + 1023 * (4096 + (1ull << 30)), 4096 + 1023 * (4096 + (1ull << 30)) + 4096,
         4096 + 1024 * (4096 + (1ull << 30)), (1ull << 29) - 8},
    };
    for (const Geometry& g : table) {
        SCOPED_TRACE(testing::Message() << g.ring_count << " rings of " << g.capacity << " bytes");
        EXPECT_EQ(layout::ring_control_offset(0, g.capacity), layout::kHeaderPageBytes);
        EXPECT_EQ(layout::ring_data_offset(0, g.capacity), 2u * 4096u);
        EXPECT_EQ(layout::ring_control_offset(g.ring_count - 1, g.capacity), g.last_control);
        EXPECT_EQ(layout::ring_data_offset(g.ring_count - 1, g.capacity), g.last_data);
        EXPECT_EQ(layout::region_bytes(g.ring_count, g.capacity), g.total);
        EXPECT_EQ(layout::ring_data_offset(g.ring_count - 1, g.capacity) + g.capacity, g.total)
            << "the last ring's data area ends the region";
        EXPECT_EQ(layout::max_payload(g.capacity), g.max_payload);
        EXPECT_EQ(layout::ring_data_offset(g.ring_count - 1, g.capacity) % 4096, 0u) << "data areas are page-aligned";
    }
}

// ---- the public C structs: the ABI of ringside.h ----

TEST(PublicStructs, RegionOptionsKeepsItsSizeAndFieldOffsets) {
    EXPECT_EQ(sizeof(rs_region_options), 56u);
    EXPECT_EQ(alignof(rs_region_options), 8u);
    EXPECT_EQ(offsetof(rs_region_options, struct_size), 0u);
    EXPECT_EQ(offsetof(rs_region_options, check), 4u);
    EXPECT_EQ(offsetof(rs_region_options, backing), 8u);
    EXPECT_EQ(offsetof(rs_region_options, ring_count), 12u);
    EXPECT_EQ(offsetof(rs_region_options, ring_capacity), 16u);
    EXPECT_EQ(offsetof(rs_region_options, record_align), 24u);
    EXPECT_EQ(offsetof(rs_region_options, mode), 28u);
    EXPECT_EQ(offsetof(rs_region_options, keep_on_destroy), 32u);
    EXPECT_EQ(offsetof(rs_region_options, prefault), 36u);
    EXPECT_EQ(offsetof(rs_region_options, lock_memory), 40u);
    EXPECT_EQ(offsetof(rs_region_options, huge_pages), 44u);
    EXPECT_EQ(offsetof(rs_region_options, flush_interval_ms), 48u);
    EXPECT_EQ(sizeof(rs_backing), 4u);
    EXPECT_EQ(sizeof(rs_role), 4u);
    EXPECT_EQ(sizeof(rs_result), 4u);
}

TEST(PublicStructs, RegionInfoAndRecordKeepTheirSizeAndFieldOffsets) {
    EXPECT_EQ(sizeof(rs_region_info), 80u);
    EXPECT_EQ(alignof(rs_region_info), 8u);
    EXPECT_EQ(offsetof(rs_region_info, struct_size), 0u);
    EXPECT_EQ(offsetof(rs_region_info, layout_major), 4u);
    EXPECT_EQ(offsetof(rs_region_info, layout_minor), 6u);
    EXPECT_EQ(offsetof(rs_region_info, total_bytes), 8u);
    EXPECT_EQ(offsetof(rs_region_info, ring_capacity), 16u);
    EXPECT_EQ(offsetof(rs_region_info, max_payload), 24u);
    EXPECT_EQ(offsetof(rs_region_info, ring_count), 32u);
    EXPECT_EQ(offsetof(rs_region_info, record_align), 36u);
    EXPECT_EQ(offsetof(rs_region_info, backing), 40u);
    EXPECT_EQ(offsetof(rs_region_info, creator_pid), 44u);
    EXPECT_EQ(offsetof(rs_region_info, creator_alive), 48u);
    EXPECT_EQ(offsetof(rs_region_info, is_creator), 52u);
    EXPECT_EQ(offsetof(rs_region_info, epoch), 56u);
    EXPECT_EQ(offsetof(rs_region_info, prefaulted), 64u);
    EXPECT_EQ(offsetof(rs_region_info, memory_locked), 68u);
    EXPECT_EQ(offsetof(rs_region_info, huge_pages), 72u);
    EXPECT_EQ(offsetof(rs_region_info, reserved), 76u);

    EXPECT_EQ(sizeof(rs_record), 16u);
    EXPECT_EQ(alignof(rs_record), 8u);
    EXPECT_EQ(offsetof(rs_record, data), 0u);
    EXPECT_EQ(offsetof(rs_record, length), 8u);
}

TEST(PublicStructs, LayoutVersionOfTheCApiIsTheLayoutHeaders) {
    std::uint16_t major = 0;
    std::uint16_t minor = 0;
    rs_layout_version(&major, &minor);
    EXPECT_EQ(major, layout::kLayoutMajor);
    EXPECT_EQ(minor, layout::kLayoutMinor);
}

// ---- a freshly created region, read through a second, raw mapping ----

std::uint64_t unix_ns_now() {
    timespec now{};
    ::clock_gettime(CLOCK_REALTIME, &now);
    return static_cast<std::uint64_t>(now.tv_sec) * 1'000'000'000ull + static_cast<std::uint64_t>(now.tv_nsec);
}

bool all_zero(const std::byte* bytes, std::size_t length) {
    for (std::size_t i = 0; i < length; ++i) {
        if (bytes[i] != std::byte{0}) return false;
    }
    return true;
}

class FreshRegion : public testing::TestWithParam<rs_backing> {};

TEST_P(FreshRegion, HeaderHoldsWhatTheCreatorWasAskedForAndEverythingElseIsZero) {
    Scratch scratch;
    const rs_backing backing = GetParam();
    const std::string name = scratch.name(backing, "fresh");
    rs_region_options options = rstest::region_options(backing, 8192, 3);
    options.record_align = 16;
    const std::uint64_t before = unix_ns_now();
    RegionPtr region;
    ASSERT_EQ(rstest::create_region(name, options, region), RS_OK) << rstest::describe(rs_last_error_code());
    const std::uint64_t after = unix_ns_now();

    rstest::RawMapping raw(Scratch::backing_path(backing, name));
    ASSERT_TRUE(raw.ok());
    ASSERT_EQ(raw.size(), layout::region_bytes(3, 8192)) << "the backing is exactly the region";
    const layout::RegionHeader& h = raw.header();
    EXPECT_EQ(h.magic, layout::kMagic);
    EXPECT_EQ(h.layout_major, layout::kLayoutMajor);
    EXPECT_EQ(h.layout_minor, layout::kLayoutMinor);
    EXPECT_EQ(h.header_bytes, sizeof(layout::RegionHeader));
    EXPECT_EQ(h.total_bytes, layout::region_bytes(3, 8192));
    EXPECT_EQ(h.ring_capacity, 8192u);
    EXPECT_EQ(h.ring_count, 3u);
    EXPECT_EQ(h.record_align, 16u);
    EXPECT_EQ(h.backing_kind, static_cast<std::uint32_t>(backing == RS_BACKING_FILE ? layout::BackingKind::kFile
                                                                                    : layout::BackingKind::kNamedShm));
    EXPECT_EQ(h.creator_pid, ::getpid());
    EXPECT_EQ(h.creator_start_ticks, ringside::process_start_ticks(::getpid()));
    EXPECT_NE(h.creator_start_ticks, 0u);
    EXPECT_NE(h.epoch, 0u);
    EXPECT_GE(h.created_unix_ns, before);
    EXPECT_LE(h.created_unix_ns, after);
    EXPECT_EQ(h.flags, 0u);
    EXPECT_EQ(h.reserved0, 0u);
    EXPECT_TRUE(all_zero(reinterpret_cast<const std::byte*>(h.reserved), sizeof h.reserved));
    EXPECT_TRUE(all_zero(raw.base() + layout::kStatusOffset, layout::kHeaderPageBytes - layout::kStatusOffset))
        << "status block and the rest of the header page start zero";
    for (std::uint32_t ring = 0; ring < 3; ++ring) {
        EXPECT_TRUE(all_zero(reinterpret_cast<const std::byte*>(&raw.control(ring)), layout::kRingControlBytes))
            << "ring " << ring << " control page is the all-zero empty state";
        EXPECT_TRUE(all_zero(raw.data(ring), 8192)) << "ring " << ring << " data area starts zero";
    }

    // The C API reports the same header.
    const rs_region_info info = rstest::region_info(region.get());
    EXPECT_EQ(info.total_bytes, h.total_bytes);
    EXPECT_EQ(info.epoch, h.epoch);
    EXPECT_EQ(info.max_payload, layout::max_payload(8192));
    EXPECT_EQ(info.is_creator, 1);
    EXPECT_EQ(info.creator_alive, 1);
}

TEST_P(FreshRegion, EachCreationGetsItsOwnEpoch) {
    Scratch scratch;
    const rs_backing backing = GetParam();
    const rs_region_options options = rstest::region_options(backing, 4096);
    RegionPtr first;
    RegionPtr second;
    ASSERT_EQ(rstest::create_region(scratch.name(backing, "a"), options, first), RS_OK);
    ASSERT_EQ(rstest::create_region(scratch.name(backing, "b"), options, second), RS_OK);
    EXPECT_NE(rstest::region_info(first.get()).epoch, rstest::region_info(second.get()).epoch);
}

INSTANTIATE_TEST_SUITE_P(Backings, FreshRegion, testing::Values(RS_BACKING_SHM, RS_BACKING_FILE),
                         [](const testing::TestParamInfo<rs_backing>& info) {
                             return std::string(info.param == RS_BACKING_SHM ? "Shm" : "File");
                         });

}  // namespace
