// Invalid calls of the C API, as tables. Each call must return the expected
// code, never crash, and leave a non-empty rs_last_error_message() with
// rs_last_error_code() equal to what it returned.
//   - HandleMatrix: every function taking a handle x every kind of bad handle
//     (NULL, destroyed, another kind's handle, made-up values).
//   - ArgumentTable: every function of ringside.h with a bad argument, wrong
//     role, bad size, index or uninitialised options.
// Plus the error channel itself: per thread, cleared by rs_clear_error, and
// rs_result_name for every value.
#include <gtest/gtest.h>

#include <climits>
#include <cstring>
#include <functional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "support/c_callers.h"
#include "support/test_support.hpp"

using rstest::describe;

namespace {

template <typename T>
T* forge(std::uintptr_t value) {
    return reinterpret_cast<T*>(value);
}

// A made-up handle that carries the right kind tag, an odd ("live")
// generation and a slot in range: only the generation check rejects it.
constexpr std::uintptr_t forged(std::uint8_t tag) {
    return (std::uintptr_t{0x7FFF'FFF1} << 32) | (std::uintptr_t{1000} << 8) | tag;
}

struct Row {
    std::string what;
    std::function<rs_result()> call;
    rs_result expected;
    std::string message_part;  // "" = any non-empty message
};

void check_row(const Row& row) {
    SCOPED_TRACE(row.what);
    rs_clear_error();
    const rs_result result = row.call();
    EXPECT_EQ(result, row.expected) << "got " << describe(result);
    EXPECT_EQ(rs_last_error_code(), row.expected);
    const std::string message = rs_last_error_message();
    EXPECT_FALSE(message.empty()) << "no last-error message";
    if (!row.message_part.empty()) {
        EXPECT_NE(message.find(row.message_part), std::string::npos) << "message: " << message;
    }
}

void noop_event(const void*, size_t, void*) {}

// A live region with both sides of ring 0, and handles that used to be live.
class CApiInvalidCalls : public testing::Test {
protected:
    void SetUp() override {
        ASSERT_EQ(rstest::create_region(scratch_.shm_name("live"), rstest::region_options(RS_BACKING_SHM, 4096, 2),
                                        region_),
                  RS_OK);
        ASSERT_EQ(rstest::create_ring(region_.get(), 0, RS_ROLE_PRODUCER, producer_), RS_OK);
        ASSERT_EQ(rstest::create_ring(region_.get(), 0, RS_ROLE_CONSUMER, consumer_), RS_OK);
        rs_region_t* region = nullptr;
        const std::string dead_name = scratch_.shm_name("dead");
        const rs_region_options options = rstest::region_options(RS_BACKING_SHM, 4096);
        ASSERT_EQ(rs_region_create(dead_name.c_str(), &options, &region), RS_OK);
        ASSERT_EQ(rs_region_destroy(region), RS_OK);
        dead_region_ = region;
        rs_ring_t* ring = nullptr;
        ASSERT_EQ(rs_ring_create(region_.get(), 1, RS_ROLE_CONSUMER, &ring), RS_OK);
        ASSERT_EQ(rs_ring_destroy(ring), RS_OK);
        dead_ring_ = ring;
        rs_sidecar_t* sidecar = nullptr;
        ASSERT_EQ(rs_sidecar_create(region_.get(), nullptr, &sidecar), RS_BUSY)
            << "ring 0's consumer is taken: a sidecar cannot attach";
        rs_sidecar_options sidecar_options;
        rs_sidecar_options_init(&sidecar_options);
        sidecar_options.command_ring = 1;
        ASSERT_EQ(rs_sidecar_create(region_.get(), &sidecar_options, &sidecar), RS_OK) << describe(rs_last_error_code());
        ASSERT_EQ(rs_sidecar_destroy(sidecar), RS_OK);
        dead_sidecar_ = sidecar;
    }

    rs_region_t* region() const { return region_.get(); }
    rs_ring_t* producer() const { return producer_.get(); }
    rs_ring_t* consumer() const { return consumer_.get(); }

    rstest::Scratch scratch_;
    rstest::RegionPtr region_;
    rstest::RingPtr producer_;
    rstest::RingPtr consumer_;
    rs_region_t* dead_region_ = nullptr;
    rs_ring_t* dead_ring_ = nullptr;
    rs_sidecar_t* dead_sidecar_ = nullptr;
};

// ---- every handle-taking function x every kind of bad handle -----------------

template <typename Handle>
struct BadHandle {
    const char* what;
    Handle* handle;
};

TEST_F(CApiInvalidCalls, EveryFunctionRejectsEveryKindOfBadHandle) {
    int stack_object = 0;
    const std::vector<BadHandle<rs_region_t>> bad_regions = {
        {"NULL", nullptr},
        {"destroyed region", dead_region_},
        {"ring handle cast to a region", reinterpret_cast<rs_region_t*>(producer())},
        {"made-up 0x1", forge<rs_region_t>(0x1)},
        {"made-up 0xdeadbeef", forge<rs_region_t>(0xdead'beef)},
        {"made-up with the region tag", forge<rs_region_t>(forged(0xA1))},
        {"address of a stack object", reinterpret_cast<rs_region_t*>(&stack_object)},
    };
    const std::vector<BadHandle<rs_ring_t>> bad_rings = {
        {"NULL", nullptr},
        {"destroyed ring", dead_ring_},
        {"region handle cast to a ring", reinterpret_cast<rs_ring_t*>(region())},
        {"made-up 0x1", forge<rs_ring_t>(0x1)},
        {"made-up with the ring tag", forge<rs_ring_t>(forged(0xB3))},
        {"address of a stack object", reinterpret_cast<rs_ring_t*>(&stack_object)},
    };
    const std::vector<BadHandle<rs_sidecar_t>> bad_sidecars = {
        {"NULL", nullptr},
        {"destroyed sidecar", dead_sidecar_},
        {"region handle cast to a sidecar", reinterpret_cast<rs_sidecar_t*>(region())},
        {"ring handle cast to a sidecar", reinterpret_cast<rs_sidecar_t*>(consumer())},
        {"made-up with the sidecar tag", forge<rs_sidecar_t>(forged(0xC5))},
    };

    rs_region_info info{};
    info.struct_size = sizeof info;
    char* json = nullptr;
    rs_ring_t* ring_out = nullptr;
    rs_sidecar_t* sidecar_out = nullptr;
    void* data = nullptr;
    rs_record records[4];
    std::size_t count = 0;
    std::size_t length = 0;
    char buffer[16];
    rs_host_vtable vtable = {sizeof vtable, RS_HOST_VTABLE_ABI_VERSION, nullptr, noop_event, nullptr, nullptr};
    std::uint32_t dispatched = 0;
    rs_sidecar_sched sched{};
    sched.struct_size = sizeof sched;
    rs_sidecar_stats stats{};
    stats.struct_size = sizeof stats;

    using RegionCall = std::function<rs_result(rs_region_t*)>;
    const std::vector<std::pair<const char*, RegionCall>> region_calls = {
        {"rs_region_destroy", [](rs_region_t* r) { return rs_region_destroy(r); }},
        {"rs_region_flush", [](rs_region_t* r) { return rs_region_flush(r); }},
        {"rs_region_stats_json", [&](rs_region_t* r) { return rs_region_stats_json(r, &json); }},
        {"rs_region_ring_stats_json", [&](rs_region_t* r) { return rs_region_ring_stats_json(r, 0, &json); }},
        {"rs_region_get_info", [&](rs_region_t* r) { return rs_region_get_info(r, &info); }},
        {"rs_ring_create", [&](rs_region_t* r) { return rs_ring_create(r, 1, RS_ROLE_PRODUCER, &ring_out); }},
        {"rs_sidecar_create", [&](rs_region_t* r) { return rs_sidecar_create(r, nullptr, &sidecar_out); }},
    };
    using RingCall = std::function<rs_result(rs_ring_t*)>;
    const std::vector<std::pair<const char*, RingCall>> ring_calls = {
        {"rs_ring_destroy", [](rs_ring_t* r) { return rs_ring_destroy(r); }},
        {"rs_ring_reserve", [&](rs_ring_t* r) { return rs_ring_reserve(r, 8, &data); }},
        {"rs_ring_commit", [](rs_ring_t* r) { return rs_ring_commit(r); }},
        {"rs_ring_write", [](rs_ring_t* r) { return rs_ring_write(r, "x", 1); }},
        {"rs_ring_peek", [&](rs_ring_t* r) { return rs_ring_peek(r, &records[0]); }},
        {"rs_ring_peek_batch", [&](rs_ring_t* r) { return rs_ring_peek_batch(r, records, 4, &count); }},
        {"rs_ring_release", [](rs_ring_t* r) { return rs_ring_release(r); }},
        {"rs_ring_read", [&](rs_ring_t* r) { return rs_ring_read(r, buffer, sizeof buffer, &length); }},
        {"rs_ring_read_alloc", [&](rs_ring_t* r) { return rs_ring_read_alloc(r, &data, &length); }},
        {"rs_ring_stats_json", [&](rs_ring_t* r) { return rs_ring_stats_json(r, &json); }},
        {"rs_ring_set_wait_strategy", [](rs_ring_t* r) { return rs_ring_set_wait_strategy(r, nullptr); }},
        {"rs_ring_wait_readable", [](rs_ring_t* r) { return rs_ring_wait_readable(r, 0); }},
        {"rs_ring_write_wait", [](rs_ring_t* r) { return rs_ring_write_wait(r, "x", 1, 0); }},
        {"rs_ring_reserve_wait", [&](rs_ring_t* r) { return rs_ring_reserve_wait(r, 8, &data, 0); }},
        {"rs_ring_wait_arm", [](rs_ring_t* r) { return rs_ring_wait_arm(r, 8); }},
        {"rs_ring_wait_disarm", [](rs_ring_t* r) { return rs_ring_wait_disarm(r); }},
        {"rs_host_dispatch_events",
         [&](rs_ring_t* r) { return rs_host_dispatch_events(r, &vtable, 4, 0, &dispatched); }},
    };
    using SidecarCall = std::function<rs_result(rs_sidecar_t*)>;
    const std::vector<std::pair<const char*, SidecarCall>> sidecar_calls = {
        {"rs_sidecar_start", [&](rs_sidecar_t* s) { return rs_sidecar_start(s, &vtable); }},
        {"rs_sidecar_stop", [](rs_sidecar_t* s) { return rs_sidecar_stop(s, RS_STOP_DRAIN, 0); }},
        {"rs_sidecar_destroy", [](rs_sidecar_t* s) { return rs_sidecar_destroy(s); }},
        {"rs_sidecar_get_sched", [&](rs_sidecar_t* s) { return rs_sidecar_get_sched(s, &sched); }},
        {"rs_sidecar_get_stats", [&](rs_sidecar_t* s) { return rs_sidecar_get_stats(s, &stats); }},
        {"rs_sidecar_last_error_message",
         [&](rs_sidecar_t* s) { return rs_sidecar_last_error_message(s, buffer, sizeof buffer); }},
        {"rs_sidecar_stats_json", [&](rs_sidecar_t* s) { return rs_sidecar_stats_json(s, &json); }},
    };

    for (const auto& function : region_calls) {
        for (const auto& bad : bad_regions) {
            check_row({std::string(function.first) + "(" + bad.what + ")", [&] { return function.second(bad.handle); },
                       RS_ERR_INVALID_ARGUMENT, function.first});
        }
    }
    for (const auto& function : ring_calls) {
        for (const auto& bad : bad_rings) {
            check_row({std::string(function.first) + "(" + bad.what + ")", [&] { return function.second(bad.handle); },
                       RS_ERR_INVALID_ARGUMENT, function.first});
        }
    }
    for (const auto& function : sidecar_calls) {
        for (const auto& bad : bad_sidecars) {
            check_row({std::string(function.first) + "(" + bad.what + ")", [&] { return function.second(bad.handle); },
                       RS_ERR_INVALID_ARGUMENT, function.first});
        }
    }
    EXPECT_EQ(json, nullptr);
    EXPECT_EQ(ring_out, nullptr);
    EXPECT_EQ(sidecar_out, nullptr);
    // None of it touched the live handles: they still work.
    ASSERT_EQ(rs_ring_write(producer(), "still alive", 11), RS_OK);
    ASSERT_EQ(rs_ring_read(consumer(), buffer, sizeof buffer, &length), RS_OK);
    EXPECT_EQ(length, 11u);
    EXPECT_EQ(rstest::region_info(region()).ring_count, 2u);
}

// ---- bad arguments, roles, sizes and indices --------------------------------

rs_region_options valid_options() { return rstest::region_options(RS_BACKING_SHM, 4096); }

template <typename Change>
rs_region_options options_with(Change change) {
    rs_region_options options = valid_options();
    change(options);
    return options;
}

TEST_F(CApiInvalidCalls, EveryFunctionRejectsBadArgumentsWithTheRightCode) {
    const std::string fresh = scratch_.shm_name("never-created");
    const char* name = fresh.c_str();
    rs_region_t* region_out = nullptr;
    rs_ring_t* ring_out = nullptr;
    void* data = nullptr;
    rs_record record{};
    rs_record records[4];
    std::size_t count = 0;
    std::size_t length = 0;
    char* json = nullptr;
    auto create = [&](rs_region_options options) {
        return [&, options] { return rs_region_create(name, &options, &region_out); };
    };
    auto open = [&](rs_region_options options) {
        return [&, options] { return rs_region_open(name, &options, &region_out); };
    };
    rs_region_options zeroed;
    std::memset(&zeroed, 0, sizeof zeroed);
    const std::string long_path(5000, 'p');

    const std::vector<Row> table = {
        // rs_region_options_init (void: the error is all it can report)
        {"rs_region_options_init(NULL)", [] { rs_region_options_init(nullptr); return rs_last_error_code(); },
         RS_ERR_INVALID_ARGUMENT, "rs_region_options_init"},
        // rs_region_create
        {"create: out NULL", [&] { return rs_region_create(name, nullptr, nullptr); }, RS_ERR_INVALID_ARGUMENT, "out"},
        {"create: name NULL", [&] { return rs_region_create(nullptr, nullptr, &region_out); }, RS_ERR_INVALID_ARGUMENT, "name"},
        {"create: options all zero (not initialised)", create(zeroed), RS_ERR_INVALID_ARGUMENT, "rs_region_options_init"},
        {"create: options with a wrong check value", create(options_with([](auto& o) { o.check = 0x1234; })),
         RS_ERR_INVALID_ARGUMENT, "rs_region_options_init"},
        {"create: options struct_size too small", create(options_with([](auto& o) { o.struct_size = 8; })),
         RS_ERR_INVALID_ARGUMENT, "struct_size"},
        {"create: backing 0", create(options_with([](auto& o) { o.backing = static_cast<rs_backing>(0); })),
         RS_ERR_INVALID_ARGUMENT, "backing"},
        {"create: backing 3", create(options_with([](auto& o) { o.backing = static_cast<rs_backing>(3); })),
         RS_ERR_INVALID_ARGUMENT, "backing"},
        {"create: ring_count 0", create(options_with([](auto& o) { o.ring_count = 0; })), RS_ERR_INVALID_ARGUMENT, "ring_count"},
        {"create: ring_count 1025", create(options_with([](auto& o) { o.ring_count = 1025; })), RS_ERR_INVALID_ARGUMENT,
         "ring_count"},
        {"create: capacity 0", create(options_with([](auto& o) { o.ring_capacity = 0; })), RS_ERR_INVALID_ARGUMENT,
         "ring_capacity"},
        {"create: capacity not a power of two", create(options_with([](auto& o) { o.ring_capacity = 3 * 4096; })),
         RS_ERR_INVALID_ARGUMENT, "ring_capacity"},
        {"create: capacity below 4 KiB", create(options_with([](auto& o) { o.ring_capacity = 2048; })),
         RS_ERR_INVALID_ARGUMENT, "ring_capacity"},
        {"create: capacity above 1 GiB", create(options_with([](auto& o) { o.ring_capacity = 1ull << 31; })),
         RS_ERR_INVALID_ARGUMENT, "ring_capacity"},
        {"create: record_align 0", create(options_with([](auto& o) { o.record_align = 0; })), RS_ERR_INVALID_ARGUMENT,
         "record_align"},
        {"create: record_align 4", create(options_with([](auto& o) { o.record_align = 4; })), RS_ERR_INVALID_ARGUMENT,
         "record_align"},
        {"create: record_align 12", create(options_with([](auto& o) { o.record_align = 12; })), RS_ERR_INVALID_ARGUMENT,
         "record_align"},
        {"create: record_align 8192", create(options_with([](auto& o) { o.record_align = 8192; o.ring_capacity = 1 << 20; })),
         RS_ERR_INVALID_ARGUMENT, "record_align"},
        {"create: record_align above a quarter of the capacity",
         create(options_with([](auto& o) { o.record_align = 2048; })), RS_ERR_INVALID_ARGUMENT, "record_align"},
        {"create: mode with bits outside 0777", create(options_with([](auto& o) { o.mode = 04600; })),
         RS_ERR_INVALID_ARGUMENT, "mode"},
        {"create: flush_interval_ms on shm", create(options_with([](auto& o) { o.flush_interval_ms = 10; })),
         RS_ERR_INVALID_ARGUMENT, "flush_interval_ms"},
        {"create: shm name without '/'", [&] { return rs_region_create(name + 1, nullptr, &region_out); },
         RS_ERR_INVALID_ARGUMENT, "'/'"},
        {"create: file path of 5000 bytes",
         [&] {
             const rs_region_options file = options_with([](auto& o) { o.backing = RS_BACKING_FILE; });
             return rs_region_create(long_path.c_str(), &file, &region_out);
         },
         RS_ERR_INVALID_ARGUMENT, "path"},
        // rs_region_open
        {"open: out NULL", [&] { return rs_region_open(name, nullptr, nullptr); }, RS_ERR_INVALID_ARGUMENT, "out"},
        {"open: name NULL", [&] { return rs_region_open(nullptr, nullptr, &region_out); }, RS_ERR_INVALID_ARGUMENT, "name"},
        {"open: options all zero", open(zeroed), RS_ERR_INVALID_ARGUMENT, "rs_region_options_init"},
        {"open: backing 3", open(options_with([](auto& o) { o.backing = static_cast<rs_backing>(3); })),
         RS_ERR_INVALID_ARGUMENT, "backing"},
        {"open: a name nobody created", [&] { return rs_region_open(name, nullptr, &region_out); }, RS_ERR_NOT_FOUND, name},
        // rs_region_unlink
        {"unlink: name NULL", [] { return rs_region_unlink(nullptr, RS_BACKING_SHM); }, RS_ERR_INVALID_ARGUMENT, "name"},
        {"unlink: backing 0", [&] { return rs_region_unlink(name, static_cast<rs_backing>(0)); }, RS_ERR_INVALID_ARGUMENT,
         "backing"},
        {"unlink: a name nobody created", [&] { return rs_region_unlink(name, RS_BACKING_SHM); }, RS_ERR_NOT_FOUND, name},
        // rs_region_get_info, rs_region_stats_json, rs_region_ring_stats_json
        {"get_info: info NULL", [&] { return rs_region_get_info(region(), nullptr); }, RS_ERR_INVALID_ARGUMENT, "info"},
        {"get_info: struct_size 0 (not set)",
         [&] {
             rs_region_info info{};
             return rs_region_get_info(region(), &info);
         },
         RS_ERR_INVALID_ARGUMENT, "struct_size"},
        {"get_info: struct_size one byte short",
         [&] {
             rs_region_info info{};
             info.struct_size = sizeof info - 1;
             return rs_region_get_info(region(), &info);
         },
         RS_ERR_INVALID_ARGUMENT, "struct_size"},
        {"region_stats_json: out NULL", [&] { return rs_region_stats_json(region(), nullptr); }, RS_ERR_INVALID_ARGUMENT,
         "out_json"},
        {"region_ring_stats_json: out NULL", [&] { return rs_region_ring_stats_json(region(), 0, nullptr); },
         RS_ERR_INVALID_ARGUMENT, "out_json"},
        {"region_ring_stats_json: index == ring_count", [&] { return rs_region_ring_stats_json(region(), 2, &json); },
         RS_ERR_INVALID_ARGUMENT, "index"},
        {"region_ring_stats_json: index UINT32_MAX",
         [&] { return rs_region_ring_stats_json(region(), UINT32_MAX, &json); }, RS_ERR_INVALID_ARGUMENT, "index"},
        // rs_ring_create
        {"ring_create: out NULL", [&] { return rs_ring_create(region(), 1, RS_ROLE_PRODUCER, nullptr); },
         RS_ERR_INVALID_ARGUMENT, "out"},
        {"ring_create: role 0", [&] { return rs_ring_create(region(), 1, static_cast<rs_role>(0), &ring_out); },
         RS_ERR_INVALID_ARGUMENT, "role"},
        {"ring_create: role 3", [&] { return rs_ring_create(region(), 1, static_cast<rs_role>(3), &ring_out); },
         RS_ERR_INVALID_ARGUMENT, "role"},
        {"ring_create: index == ring_count", [&] { return rs_ring_create(region(), 2, RS_ROLE_PRODUCER, &ring_out); },
         RS_ERR_INVALID_ARGUMENT, "index"},
        {"ring_create: index UINT32_MAX",
         [&] { return rs_ring_create(region(), UINT32_MAX, RS_ROLE_CONSUMER, &ring_out); }, RS_ERR_INVALID_ARGUMENT,
         "index"},
        // producer calls: bad arguments
        {"reserve: out_data NULL", [&] { return rs_ring_reserve(producer(), 8, nullptr); }, RS_ERR_INVALID_ARGUMENT,
         "out_data"},
        {"reserve: larger than max_payload", [&] { return rs_ring_reserve(producer(), 2041, &data); }, RS_ERR_TOO_LARGE,
         "2040"},
        {"reserve: SIZE_MAX", [&] { return rs_ring_reserve(producer(), SIZE_MAX, &data); }, RS_ERR_TOO_LARGE, ""},
        {"commit: nothing reserved", [&] { return rs_ring_commit(producer()); }, RS_ERR_INVALID_ARGUMENT, "reserve first"},
        {"write: data NULL with length 5", [&] { return rs_ring_write(producer(), nullptr, 5); }, RS_ERR_INVALID_ARGUMENT,
         "data"},
        {"write: larger than max_payload", [&] { return rs_ring_write(producer(), "x", 4096); }, RS_ERR_TOO_LARGE, ""},
        {"write: SIZE_MAX", [&] { return rs_ring_write(producer(), "x", SIZE_MAX); }, RS_ERR_TOO_LARGE, ""},
        // consumer calls: bad arguments
        {"peek: out NULL", [&] { return rs_ring_peek(consumer(), nullptr); }, RS_ERR_INVALID_ARGUMENT, "out"},
        {"peek_batch: out NULL", [&] { return rs_ring_peek_batch(consumer(), nullptr, 4, &count); },
         RS_ERR_INVALID_ARGUMENT, "out"},
        {"peek_batch: max 0", [&] { return rs_ring_peek_batch(consumer(), records, 0, &count); }, RS_ERR_INVALID_ARGUMENT,
         "max"},
        {"peek_batch: count NULL", [&] { return rs_ring_peek_batch(consumer(), records, 4, nullptr); },
         RS_ERR_INVALID_ARGUMENT, "count"},
        {"release: nothing peeked", [&] { return rs_ring_release(consumer()); }, RS_ERR_INVALID_ARGUMENT, "peek first"},
        {"read: length NULL", [&] { return rs_ring_read(consumer(), nullptr, 0, nullptr); }, RS_ERR_INVALID_ARGUMENT,
         "length"},
        {"read_alloc: out_buffer NULL", [&] { return rs_ring_read_alloc(consumer(), nullptr, &length); },
         RS_ERR_INVALID_ARGUMENT, "out_buffer"},
        {"read_alloc: length NULL", [&] { return rs_ring_read_alloc(consumer(), &data, nullptr); },
         RS_ERR_INVALID_ARGUMENT, "length"},
        {"ring_stats_json: out NULL", [&] { return rs_ring_stats_json(consumer(), nullptr); }, RS_ERR_INVALID_ARGUMENT,
         "out_json"},
        // producer calls on the consumer handle
        {"reserve on a consumer", [&] { return rs_ring_reserve(consumer(), 8, &data); }, RS_ERR_INVALID_ARGUMENT, "consumer"},
        {"commit on a consumer", [&] { return rs_ring_commit(consumer()); }, RS_ERR_INVALID_ARGUMENT, "consumer"},
        {"write on a consumer", [&] { return rs_ring_write(consumer(), "x", 1); }, RS_ERR_INVALID_ARGUMENT, "consumer"},
        {"write_wait on a consumer", [&] { return rs_ring_write_wait(consumer(), "x", 1, 0); }, RS_ERR_INVALID_ARGUMENT,
         "consumer"},
        {"reserve_wait on a consumer", [&] { return rs_ring_reserve_wait(consumer(), 8, &data, 0); },
         RS_ERR_INVALID_ARGUMENT, "consumer"},
        // consumer calls on the producer handle
        {"peek on a producer", [&] { return rs_ring_peek(producer(), &record); }, RS_ERR_INVALID_ARGUMENT, "producer"},
        {"peek_batch on a producer", [&] { return rs_ring_peek_batch(producer(), records, 4, &count); },
         RS_ERR_INVALID_ARGUMENT, "producer"},
        {"release on a producer", [&] { return rs_ring_release(producer()); }, RS_ERR_INVALID_ARGUMENT, "producer"},
        {"read on a producer", [&] { return rs_ring_read(producer(), nullptr, 0, &length); }, RS_ERR_INVALID_ARGUMENT,
         "producer"},
        {"read_alloc on a producer", [&] { return rs_ring_read_alloc(producer(), &data, &length); },
         RS_ERR_INVALID_ARGUMENT, "producer"},
        {"wait_readable on a producer", [&] { return rs_ring_wait_readable(producer(), 0); }, RS_ERR_INVALID_ARGUMENT,
         "producer"},
    };
    for (const Row& row : table) check_row(row);
    EXPECT_EQ(region_out, nullptr);
    EXPECT_EQ(ring_out, nullptr);
    EXPECT_EQ(json, nullptr);
    EXPECT_EQ(count, 0u);
    EXPECT_FALSE(rstest::Scratch::exists(RS_BACKING_SHM, fresh)) << "no failed create left its name behind";
}

TEST_F(CApiInvalidCalls, AFailedCallNullsTheOutHandleItWasGiven) {
    rs_region_t* region = forge<rs_region_t>(0x5A5A);
    EXPECT_EQ(rs_region_open(scratch_.shm_name("absent").c_str(), nullptr, &region), RS_ERR_NOT_FOUND);
    EXPECT_EQ(region, nullptr);
    region = forge<rs_region_t>(0x5A5A);
    const rs_region_options zeroed{};
    EXPECT_EQ(rs_region_create(scratch_.shm_name("x").c_str(), &zeroed, &region), RS_ERR_INVALID_ARGUMENT);
    EXPECT_EQ(region, nullptr);
    rs_ring_t* ring = forge<rs_ring_t>(0x5A5A);
    EXPECT_EQ(rs_ring_create(this->region(), 0, RS_ROLE_PRODUCER, &ring), RS_BUSY);
    EXPECT_EQ(ring, nullptr);
    char* json = reinterpret_cast<char*>(0x5A5A);
    EXPECT_EQ(rs_ring_stats_json(nullptr, &json), RS_ERR_INVALID_ARGUMENT);
    EXPECT_EQ(json, nullptr);
}

// Handles are generation-checked slots: after a destroy, the slot is reused
// by the next ring, and the old handle must not reach the new ring.
TEST_F(CApiInvalidCalls, AStaleHandleNeverReachesTheObjectNowInItsSlot) {
    rs_ring_t* old_handle = nullptr;
    ASSERT_EQ(rs_ring_create(region(), 1, RS_ROLE_PRODUCER, &old_handle), RS_OK);
    ASSERT_EQ(rs_ring_destroy(old_handle), RS_OK);
    rstest::RingPtr fresh;
    ASSERT_EQ(rstest::create_ring(region(), 1, RS_ROLE_PRODUCER, fresh), RS_OK);
    EXPECT_NE(fresh.get(), old_handle);
    EXPECT_EQ(rs_ring_write(old_handle, "x", 1), RS_ERR_INVALID_ARGUMENT);
    EXPECT_EQ(rs_ring_destroy(old_handle), RS_ERR_INVALID_ARGUMENT) << "double destroy";
    EXPECT_EQ(rs_ring_write(fresh.get(), "x", 1), RS_OK) << "the new ring was not destroyed through the old handle";
}

// ---- the error channel ----------------------------------------------------------

TEST(CApiErrors, ClearErrorForgetsTheLastError) {
    EXPECT_EQ(rs_ring_commit(nullptr), RS_ERR_INVALID_ARGUMENT);
    EXPECT_STRNE(rs_last_error_message(), "");
    EXPECT_EQ(rs_last_error_code(), RS_ERR_INVALID_ARGUMENT);
    rs_clear_error();
    EXPECT_STREQ(rs_last_error_message(), "");
    EXPECT_EQ(rs_last_error_code(), RS_OK);
}

TEST(CApiErrors, ErrorsArePerThread) {
    rs_clear_error();
    EXPECT_EQ(rs_region_flush(nullptr), RS_ERR_INVALID_ARGUMENT);
    const std::string mine = rs_last_error_message();
    ASSERT_FALSE(mine.empty());

    std::string seen_before;
    rs_result code_before = RS_ERR_INTERNAL;
    std::string theirs;
    std::thread other([&] {
        seen_before = rs_last_error_message();
        code_before = rs_last_error_code();
        EXPECT_EQ(rs_ring_peek(nullptr, nullptr), RS_ERR_INVALID_ARGUMENT);
        theirs = rs_last_error_message();
    });
    other.join();
    EXPECT_EQ(seen_before, "") << "a new thread does not see this thread's error";
    EXPECT_EQ(code_before, RS_OK);
    EXPECT_NE(theirs.find("rs_ring_peek"), std::string::npos) << theirs;
    EXPECT_EQ(rs_last_error_message(), mine) << "the other thread's error did not overwrite this one";
    EXPECT_EQ(rs_last_error_code(), RS_ERR_INVALID_ARGUMENT);
    rs_clear_error();
}

TEST(CApiErrors, ResultNameNamesEveryResultAndSomethingForUnknownOnes) {
    const std::pair<rs_result, const char*> names[] = {
        {RS_OK, "RS_OK"},
        {RS_FULL, "RS_FULL"},
        {RS_EMPTY, "RS_EMPTY"},
        {RS_TIMEOUT, "RS_TIMEOUT"},
        {RS_BUSY, "RS_BUSY"},
        {RS_ERR_INVALID_ARGUMENT, "RS_ERR_INVALID_ARGUMENT"},
        {RS_ERR_TOO_LARGE, "RS_ERR_TOO_LARGE"},
        {RS_ERR_TOO_SMALL, "RS_ERR_TOO_SMALL"},
        {RS_ERR_NOT_FOUND, "RS_ERR_NOT_FOUND"},
        {RS_ERR_EXISTS, "RS_ERR_EXISTS"},
        {RS_ERR_VERSION_MISMATCH, "RS_ERR_VERSION_MISMATCH"},
        {RS_ERR_CORRUPT, "RS_ERR_CORRUPT"},
        {RS_ERR_PERMISSION, "RS_ERR_PERMISSION"},
        {RS_ERR_CLOSED, "RS_ERR_CLOSED"},
        {RS_ERR_NO_MEMORY, "RS_ERR_NO_MEMORY"},
        {RS_ERR_INTERNAL, "RS_ERR_INTERNAL"},
    };
    std::set<std::string> known;
    for (const auto& [result, name] : names) {
        EXPECT_STREQ(rs_result_name(result), name);
        known.insert(name);
    }
    EXPECT_EQ(known.size(), 16u);
    // In range of the enum's values in C++ (-16..15); the rest come from C below.
    for (const int unknown : {5, 15, -12, -16}) {
        const char* name = rs_result_name(static_cast<rs_result>(unknown));
        ASSERT_NE(name, nullptr) << unknown;
        EXPECT_STRNE(name, "") << unknown;
        EXPECT_EQ(known.count(name), 0u) << unknown << " must not be named like a known result";
    }
}

// A C caller may put any int into an enum argument or field (in C, an enum
// object holds any value of its compatible integer type). The library is
// C++, where loading such a value from an enum without a fixed underlying
// type is undefined behaviour: it must treat these as plain integers.
// Passes in release builds either way; the asan preset (UBSan,
// -fsanitize=enum) fails it while the library loads them as enums.
TEST(CApiErrors, OutOfRangeEnumValuesFromCAreRejectedWithoutUndefinedBehaviour) {
    rstest::Scratch scratch;
    const std::string name = scratch.shm_name("enum");
    for (const int backing : {9, 1000, -1}) {
        SCOPED_TRACE(testing::Message() << "backing " << backing);
        rs_region_t* region = nullptr;
        EXPECT_EQ(rstest_c_create_with_backing(name.c_str(), backing, &region), RS_ERR_INVALID_ARGUMENT);
        EXPECT_EQ(region, nullptr);
        EXPECT_EQ(rstest_c_open_with_backing(name.c_str(), backing, &region), RS_ERR_INVALID_ARGUMENT);
        EXPECT_EQ(rstest_c_unlink_with_backing(name.c_str(), backing), RS_ERR_INVALID_ARGUMENT);
    }
    rstest::RegionPtr region;
    ASSERT_EQ(rstest::create_region(name, rstest::region_options(RS_BACKING_SHM, 4096), region), RS_OK);
    for (const int role : {9, -1, 1 << 20}) {
        rs_ring_t* ring = nullptr;
        EXPECT_EQ(rstest_c_ring_create_with_role(region.get(), role, &ring), RS_ERR_INVALID_ARGUMENT) << role;
        EXPECT_EQ(ring, nullptr);
    }
    for (const int unknown : {99, -1000, INT_MAX, INT_MIN}) {
        const char* result_name = rstest_c_result_name(unknown);
        ASSERT_NE(result_name, nullptr) << unknown;
        EXPECT_STRNE(result_name, "") << unknown;
        EXPECT_EQ(std::string(result_name).rfind("RS_ERR_", 0), std::string::npos) << unknown;
    }
}

TEST(CApiErrors, InfallibleFunctionsAcceptNullWithoutCrashing) {
    rs_string_free(nullptr);
    rs_buffer_free(nullptr);
    rs_layout_version(nullptr, nullptr);
    std::uint16_t major = 0;
    rs_layout_version(&major, nullptr);
    EXPECT_EQ(major, 1);
    ASSERT_NE(rs_version_string(), nullptr);
    EXPECT_STREQ(rs_version_string(), "0.1.0");
    EXPECT_GE(rs_debug_allocation_count(), 0);
}

}  // namespace
