// ringside.hpp: the C++ RAII layer over the C API. Ownership (move-only,
// destroyed once, nothing left in the library or in /dev/shm), errors
// (exceptions carry code and message, expected outcomes are returned) and
// SidecarHost (lambdas as callbacks, destruction order with a running sidecar).
//
// Suites are named raii_* so that `ctest -R raii` selects them.
#include <gtest/gtest.h>

#include <unistd.h>

#include <array>
#include <atomic>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <optional>
#include <span>
#include <string>
#include <thread>
#include <type_traits>
#include <vector>

#include "ringside/ringside.hpp"

namespace {

using namespace std::chrono_literals;
using ringside::ConsumerRing;
using ringside::Error;
using ringside::ProducerRing;
using ringside::Region;
using ringside::Sidecar;
using ringside::SidecarHost;

// ---- misuse does not compile ---------------------------------------------------------

template <typename T>
constexpr bool kMoveOnly = !std::is_copy_constructible_v<T> && !std::is_copy_assignable_v<T> &&
                           std::is_nothrow_move_constructible_v<T> && std::is_nothrow_move_assignable_v<T>;
static_assert(kMoveOnly<Region> && kMoveOnly<ProducerRing> && kMoveOnly<ConsumerRing> && kMoveOnly<Sidecar>,
              "handle classes are move-only, and moving never throws");
static_assert(!std::is_copy_constructible_v<SidecarHost> && std::is_nothrow_move_constructible_v<SidecarHost> &&
                  !std::is_move_assignable_v<SidecarHost>,
              "a SidecarHost moves (its state is heap-pinned) but is never assigned over a running one");
static_assert(std::is_nothrow_destructible_v<Region> && std::is_nothrow_destructible_v<Sidecar> &&
                  std::is_nothrow_destructible_v<SidecarHost>,
              "destructors never throw");
template <typename Ring>
concept CanPeek = requires(Ring& ring) { ring.peek(); };
template <typename Ring>
concept CanWrite = requires(Ring& ring, std::span<const std::byte> record) { ring.try_write(record); };
static_assert(CanPeek<ConsumerRing> && !CanPeek<ProducerRing>, "a producer cannot peek");
static_assert(CanWrite<ProducerRing> && !CanWrite<ConsumerRing>, "a consumer cannot write");
static_assert(!std::is_constructible_v<ProducerRing, ConsumerRing&&>, "the roles do not convert");

// ---- fixture ---------------------------------------------------------------------------

constexpr const char* kPrefix = "rstest-raii";

// Every test must give back every library allocation and leave no shm name.
class raii : public ::testing::Test {
protected:
    void SetUp() override {
        rs_clear_error();
        start_allocations_ = rs_debug_allocation_count();
    }
    void TearDown() override {
        EXPECT_EQ(rs_debug_allocation_count(), start_allocations_) << "library allocations leaked";
        const std::string mine = std::string(kPrefix) + "." + std::to_string(::getpid()) + ".";
        for (const auto& entry : std::filesystem::directory_iterator("/dev/shm")) {
            const std::string file = entry.path().filename().string();
            if (file.rfind(mine, 0) == 0) {
                ADD_FAILURE() << "left in /dev/shm: " << file;
                (void)Region::unlink("/" + file);
            }
        }
    }
    static std::string name() { return ringside::unique_shm_name(kPrefix); }
    static rs_region_options small(std::uint32_t rings = 1) {
        rs_region_options options = Region::default_options();
        options.ring_capacity = 4096;
        options.ring_count = rings;
        return options;
    }
    static bool exists(const std::string& shm_name) { return std::filesystem::exists("/dev/shm" + shm_name); }

private:
    std::int64_t start_allocations_ = 0;
};

using raii_Error = raii;
using raii_Region = raii;
using raii_Ring = raii;
using raii_Sidecar = raii;
using raii_SidecarHost = raii;

// ---- errors ----------------------------------------------------------------------------

TEST_F(raii_Error, CarriesTheCodeAndTheLibrarysMessage) {
    try {
        (void)Region::create("no-leading-slash", small());
        FAIL() << "expected ringside::Error";
    } catch (const Error& error) {
        EXPECT_EQ(error.code(), RS_ERR_INVALID_ARGUMENT);
        EXPECT_EQ(error.message(), rs_last_error_message());
        EXPECT_FALSE(error.message().empty());
        const std::string what = error.what();
        EXPECT_EQ(what.rfind("rs_region_create: ", 0), 0u) << what;
        EXPECT_NE(what.find(error.message()), std::string::npos) << what;
        EXPECT_NE(what.find("[RS_ERR_INVALID_ARGUMENT]"), std::string::npos) << what;
    }
}

TEST_F(raii_Error, CreatingATakenNameThrowsExists) {
    const std::string shm = name();
    Region first = Region::create(shm, small());
    try {
        (void)Region::create(shm, small());
        FAIL() << "expected ringside::Error";
    } catch (const Error& error) {
        EXPECT_EQ(error.code(), RS_ERR_EXISTS);
        EXPECT_FALSE(error.message().empty());
    }
    EXPECT_TRUE(first);
}

TEST_F(raii_Error, OpeningAMissingRegionThrowsNotFound) {
    try {
        (void)Region::open(name());
        FAIL() << "expected ringside::Error";
    } catch (const Error& error) {
        EXPECT_EQ(error.code(), RS_ERR_NOT_FOUND);
    }
}

TEST_F(raii_Error, ASecondProducerThrowsBusyAndTheFirstKeepsWorking) {
    Region region = Region::create(name(), small());
    ProducerRing first = ProducerRing::create(region, 0);
    try {
        (void)ProducerRing::create(region, 0);
        FAIL() << "expected ringside::Error";
    } catch (const Error& error) {
        EXPECT_EQ(error.code(), RS_BUSY);
        EXPECT_FALSE(error.message().empty());
    }
    EXPECT_TRUE(first.try_write(ringside::bytes_of("still mine")));
}

TEST_F(raii_Error, AMovedFromObjectThrowsInsteadOfCrashing) {
    Region region = Region::create(name(), small());
    Region other = std::move(region);
    EXPECT_FALSE(region);  // NOLINT(bugprone-use-after-move): the point of the test
    try {
        (void)region.info();
        FAIL() << "expected ringside::Error";
    } catch (const Error& error) {
        EXPECT_EQ(error.code(), RS_ERR_INVALID_ARGUMENT);
    }
}

// ---- ownership ---------------------------------------------------------------------------

TEST_F(raii_Region, MovedFromObjectsHoldNothingAndDestroyNothing) {
    const std::string shm = name();
    {
        Region a = Region::create(shm, small());
        rs_region_t* const handle = a.get();
        Region b = std::move(a);
        Region c;
        c = std::move(b);
        EXPECT_EQ(a.get(), nullptr);  // NOLINT(bugprone-use-after-move)
        EXPECT_EQ(b.get(), nullptr);  // NOLINT(bugprone-use-after-move)
        EXPECT_EQ(c.get(), handle);
        Region& same = c;  // a self-move, through a reference: compilers warn on a visible one
        c = std::move(same);
        EXPECT_EQ(c.get(), handle) << "a self-move keeps the handle";
        EXPECT_TRUE(exists(shm));
    }
    // A second rs_region_destroy of the same handle would have set RS_ERR_INVALID_ARGUMENT.
    EXPECT_EQ(rs_last_error_code(), RS_OK) << rs_last_error_message();
    EXPECT_FALSE(exists(shm));
}

TEST_F(raii_Region, MoveAssignmentDestroysTheTargetsOldRegionOnce) {
    const std::string first = name();
    const std::string second = name();
    Region a = Region::create(first, small());
    Region b = Region::create(second, small());
    a = std::move(b);
    EXPECT_FALSE(exists(first)) << "the old region of the target is destroyed (and unlinked) at once";
    EXPECT_TRUE(exists(second));
    EXPECT_EQ(rs_last_error_code(), RS_OK) << rs_last_error_message();
}

TEST_F(raii_Region, CloseThrowsBusyWhileARingIsAliveAndKeepsTheRegion) {
    const std::string shm = name();
    Region region = Region::create(shm, small());
    ConsumerRing ring = ConsumerRing::create(region, 0);
    try {
        region.close();
        FAIL() << "expected ringside::Error";
    } catch (const Error& error) {
        EXPECT_EQ(error.code(), RS_BUSY);
    }
    ASSERT_TRUE(region);
    EXPECT_EQ(region.info().ring_count, 1u);
    ring.close();
    EXPECT_FALSE(ring);
    region.close();
    EXPECT_FALSE(region);
    EXPECT_FALSE(exists(shm));
}

TEST_F(raii_Region, ReleasedHandleIsTheCallersToDestroy) {
    Region region = Region::create(name(), small());
    rs_region_t* raw = region.release_handle();
    EXPECT_FALSE(region);
    EXPECT_EQ(rs_region_destroy(raw), RS_OK);
}

TEST_F(raii_Region, JsonComesBackAsAStdStringAndIsFreed) {
    Region region = Region::create(name(), small(2));
    const std::string region_json = region.stats_json();
    const std::string ring_json = region.ring_stats_json(1);
    EXPECT_EQ(region_json.front(), '{');
    EXPECT_EQ(ring_json.front(), '{');
    EXPECT_NE(region_json.find("ring_count"), std::string::npos) << region_json;
    EXPECT_THROW((void)region.ring_stats_json(2), Error);
    // TearDown checks that the strings went back through rs_string_free.
}

TEST_F(raii_Region, OpenSeesTheCreatorsRegionAndUnlinkReportsAbsence) {
    const std::string shm = name();
    Region creator = Region::create(shm, small(3));
    Region opener = Region::open(shm);
    EXPECT_EQ(opener.info().ring_count, 3u);
    EXPECT_EQ(opener.info().is_creator, 0);
    EXPECT_TRUE(Region::unlink(shm));
    EXPECT_FALSE(Region::unlink(shm));
}

// ---- rings ---------------------------------------------------------------------------

TEST_F(raii_Ring, RecordsRoundTripAndExpectedOutcomesAreReturned) {
    Region region = Region::create(name(), small());
    ProducerRing producer = ProducerRing::create(region, 0);
    ConsumerRing consumer = ConsumerRing::create(region, 0);

    EXPECT_FALSE(consumer.peek().has_value()) << "EMPTY is an empty optional";
    EXPECT_FALSE(consumer.read().has_value());
    EXPECT_FALSE(consumer.wait_readable(0ns));

    ASSERT_TRUE(producer.try_write(ringside::bytes_of("one")));
    ASSERT_TRUE(producer.write_wait(ringside::bytes_of(""), 1s));
    ASSERT_TRUE(consumer.wait_readable(1s));
    const std::optional<ringside::Record> first = consumer.peek();
    ASSERT_TRUE(first.has_value());
    EXPECT_EQ(ringside::text_of(*first), "one");
    consumer.release();
    const std::optional<ringside::Record> empty = consumer.peek();
    ASSERT_TRUE(empty.has_value()) << "a zero-length record is a record, not EMPTY";
    EXPECT_TRUE(empty->empty());
    consumer.release();

    std::optional<std::span<std::byte>> room = producer.try_reserve(5);
    ASSERT_TRUE(room.has_value());
    std::memcpy(room->data(), "hello", 5);
    producer.commit();
    std::byte small_buffer[2];
    try {
        (void)consumer.read(small_buffer);
        FAIL() << "expected ringside::Error";
    } catch (const Error& error) {
        EXPECT_EQ(error.code(), RS_ERR_TOO_SMALL);
    }
    std::byte buffer[16];
    const std::optional<std::size_t> length = consumer.read(buffer);
    ASSERT_TRUE(length.has_value()) << "a too-small buffer keeps the record";
    EXPECT_EQ(ringside::text_of({buffer, *length}), "hello");
}

TEST_F(raii_Ring, AFullRingReturnsFalseAndTimesOut) {
    Region region = Region::create(name(), small());
    ProducerRing producer = ProducerRing::create(region, 0);
    const std::vector<std::byte> record(1000);
    int written = 0;
    while (producer.try_write(record)) ++written;
    EXPECT_GT(written, 0);
    EXPECT_FALSE(producer.write_wait(record, 1ms)) << "TIMEOUT is false, not an exception";
    EXPECT_FALSE(producer.try_reserve(1000).has_value());
    EXPECT_THROW((void)producer.try_write(std::vector<std::byte>(4096)), Error) << "TOO_LARGE is a failure";
}

TEST_F(raii_Ring, BatchesAndVectorReads) {
    Region region = Region::create(name(), small());
    ProducerRing producer = ProducerRing::create(region, 0);
    ConsumerRing consumer = ConsumerRing::create(region, 0);
    for (const char* text : {"a", "bb", "ccc"}) ASSERT_TRUE(producer.try_write(ringside::bytes_of(text)));
    std::array<rs_record, 2> batch{};
    ASSERT_EQ(consumer.peek_batch(batch), 2u);
    EXPECT_EQ(batch[1].length, 2u);
    consumer.release();
    const std::optional<std::vector<std::byte>> last = consumer.read();
    ASSERT_TRUE(last.has_value());
    EXPECT_EQ(ringside::text_of(*last), "ccc");
    EXPECT_EQ(consumer.peek_batch(batch), 0u);
}

TEST_F(raii_Ring, MovedRingsKeepTheirRoleAndDestroyOnce) {
    const std::string shm = name();
    {
        Region region = Region::create(shm, small());
        ProducerRing producer;
        {
            ProducerRing temporary = ProducerRing::create(region, 0);
            producer = std::move(temporary);
        }
        EXPECT_TRUE(producer.try_write(ringside::bytes_of("x"))) << "the claim moved with the object";
        EXPECT_THROW((void)ProducerRing::create(region, 0), Error) << "and is still held";
        rs_clear_error();
        // Declared after the region, the ring is destroyed first: no RS_BUSY.
    }
    EXPECT_EQ(rs_last_error_code(), RS_OK) << rs_last_error_message();
    EXPECT_FALSE(exists(shm));
}

TEST_F(raii_Ring, UniqueNamesDifferAndCarryThePid) {
    const std::string a = ringside::unique_shm_name("p");
    const std::string b = ringside::unique_shm_name("p");
    EXPECT_NE(a, b);
    EXPECT_EQ(a.rfind("/p." + std::to_string(::getpid()) + ".", 0), 0u) << a;
}

// ---- Sidecar and SidecarHost -------------------------------------------------------

struct Counter {
    std::atomic<int> events{0};
    static void on_event(const void*, std::size_t, void* user) {
        static_cast<Counter*>(user)->events.fetch_add(1, std::memory_order_relaxed);
    }
};

TEST_F(raii_Sidecar, DestructorsRunSidecarThenRingThenRegionWhileRunning) {
    const std::string shm = name();
    Counter counter;
    const rs_host_vtable vtable = {sizeof vtable, RS_HOST_VTABLE_ABI_VERSION, &counter, &Counter::on_event,
                                   nullptr, nullptr};
    {
        Region region = Region::create(shm, small(2));
        ProducerRing commands = ProducerRing::create(region, 0);
        Sidecar sidecar = Sidecar::create(region);
        sidecar.start(&vtable);
        for (int i = 0; i < 10; ++i) ASSERT_TRUE(commands.write_wait(ringside::bytes_of("cmd"), 1s));
        EXPECT_THROW(region.close(), Error) << "the region is in use";
        rs_clear_error();
        // Still running: the destructors stop and destroy it, then the ring, then the region.
    }
    EXPECT_EQ(rs_last_error_code(), RS_OK) << rs_last_error_message();
    EXPECT_FALSE(exists(shm));
}

TEST_F(raii_Sidecar, StopDrainsAndReportsStats) {
    Counter counter;
    const rs_host_vtable vtable = {sizeof vtable, RS_HOST_VTABLE_ABI_VERSION, &counter, &Counter::on_event,
                                   nullptr, nullptr};
    Region region = Region::create(name(), small(2));
    ProducerRing commands = ProducerRing::create(region, 0);
    Sidecar sidecar = Sidecar::create(region);
    EXPECT_EQ(sidecar.stats().state, RS_SIDECAR_CREATED);
    sidecar.start(&vtable);
    EXPECT_THROW(sidecar.start(&vtable), Error) << "RS_BUSY: already running";
    for (int i = 0; i < 20; ++i) ASSERT_TRUE(commands.write_wait(ringside::bytes_of("cmd"), 1s));
    ASSERT_TRUE(sidecar.stop(RS_STOP_DRAIN, 5s));
    EXPECT_EQ(counter.events.load(), 20);
    const rs_sidecar_stats stats = sidecar.stats();
    EXPECT_EQ(stats.state, RS_SIDECAR_STOPPED);
    EXPECT_EQ(stats.commands_processed, 20u);
    EXPECT_EQ(sidecar.stats_json().front(), '{');
    EXPECT_EQ(sidecar.sched().struct_size, sizeof(rs_sidecar_sched));
    sidecar.close();
    EXPECT_FALSE(sidecar);
}

TEST_F(raii_Sidecar, CloseStopsARunningSidecarThenDestroysIt) {
    Counter counter;
    const rs_host_vtable vtable = {sizeof vtable, RS_HOST_VTABLE_ABI_VERSION, &counter, &Counter::on_event,
                                   nullptr, nullptr};
    Region region = Region::create(name(), small(2));
    Sidecar sidecar = Sidecar::create(region);
    sidecar.start(&vtable);
    sidecar.close();
    EXPECT_FALSE(sidecar);
    EXPECT_EQ(rs_last_error_code(), RS_OK) << rs_last_error_message();
    region.close();  // no RS_BUSY: the sidecar has let go of it
}

TEST_F(raii_SidecarHost, ANeverStartedHostIsDestroyedCleanly) {
    const std::string shm = name();
    {
        SidecarHost host({.on_event = [](ringside::Record) {}}, {.name = shm, .region = small()});
        EXPECT_EQ(host.name(), shm);
        EXPECT_EQ(host.sidecar().stats().state, RS_SIDECAR_CREATED);
        EXPECT_EQ(host.region().info().ring_count, 2u);
    }
    EXPECT_EQ(rs_last_error_code(), RS_OK) << rs_last_error_message();
    EXPECT_FALSE(exists(shm));
}

TEST_F(raii_SidecarHost, RoundTripsCommandsThroughALambda) {
    std::vector<std::string> events;  // written by the sidecar thread, read after stop()
    SidecarHost host({.on_event = [&](ringside::Record event) { events.emplace_back(ringside::text_of(event)); }},
                     {.name = name(), .region = small(2)});
    host.start();
    for (int i = 0; i < 50; ++i) ASSERT_TRUE(host.send(ringside::bytes_of("cmd" + std::to_string(i)), 1s));
    ASSERT_TRUE(host.stop());
    ASSERT_EQ(events.size(), 50u);
    EXPECT_EQ(events.front(), "cmd0");
    EXPECT_EQ(events.back(), "cmd49");
    EXPECT_EQ(host.callback_exceptions(), 0u);
}

TEST_F(raii_SidecarHost, ACppProcessorShapesTheEvents) {
    std::vector<std::string> events;
    SidecarHost::Callbacks callbacks;
    callbacks.on_event = [&](ringside::Record event) { events.emplace_back(ringside::text_of(event)); };
    callbacks.process = [](ringside::Record command, std::span<std::byte> event) -> std::optional<std::size_t> {
        if (ringside::text_of(command) == "skip") return std::nullopt;
        const std::string reply = "re:" + std::string(ringside::text_of(command));
        std::memcpy(event.data(), reply.data(), reply.size());
        return reply.size();
    };
    SidecarHost host(std::move(callbacks), {.name = name(), .region = small(2)});
    host.start();
    for (const char* command : {"a", "skip", "b"}) ASSERT_TRUE(host.send(ringside::bytes_of(command), 1s));
    ASSERT_TRUE(host.stop());
    EXPECT_EQ(events, (std::vector<std::string>{"re:a", "re:b"}));
}

TEST_F(raii_SidecarHost, RingDeliveryDispatchesOnTheCallingThread) {
    const std::thread::id me = std::this_thread::get_id();
    int events = 0;
    bool on_my_thread = true;
    SidecarHost::Config config{.name = name(), .region = small(2)};
    config.sidecar.delivery = RS_DELIVER_RING;
    config.sidecar.max_event_bytes = 256;
    SidecarHost host({.on_event = [&](ringside::Record) {
                         ++events;
                         on_my_thread = on_my_thread && std::this_thread::get_id() == me;
                     }},
                     config);
    host.start();
    for (int i = 0; i < 8; ++i) ASSERT_TRUE(host.send(ringside::bytes_of("cmd"), 1s));
    for (int tries = 0; events < 8 && tries < 100; ++tries) (void)host.dispatch(8, 100ms);
    EXPECT_EQ(events, 8);
    EXPECT_TRUE(on_my_thread);
    ASSERT_TRUE(host.stop());
}

TEST_F(raii_SidecarHost, CallbackExceptionsAreCaughtAndCounted) {
    std::atomic<int> errors{0};
    SidecarHost host({.on_event = [](ringside::Record) { throw std::runtime_error("host bug"); },
                      .on_error = [&](rs_result, std::string_view) { errors.fetch_add(1); },
                      .process = [](ringside::Record command,
                                    std::span<std::byte> event) -> std::optional<std::size_t> {
                          if (ringside::text_of(command) == "throw") throw std::runtime_error("processor bug");
                          std::memcpy(event.data(), command.data(), command.size());
                          return command.size();
                      }},
                     {.name = name(), .region = small(2)});
    host.start();
    ASSERT_TRUE(host.send(ringside::bytes_of("ok"), 1s));
    ASSERT_TRUE(host.send(ringside::bytes_of("throw"), 1s));
    ASSERT_TRUE(host.stop());
    EXPECT_EQ(host.callback_exceptions(), 2u) << "one from on_event, one from the processor";
    EXPECT_GE(errors.load(), 1) << "the failed command reached on_error";
}

TEST_F(raii_SidecarHost, MovingARunningHostKeepsItsCallbacksValid) {
    std::atomic<int> events{0};
    std::optional<SidecarHost> moved;
    {
        SidecarHost host({.on_event = [&](ringside::Record) { events.fetch_add(1); }},
                         {.name = name(), .region = small(2)});
        host.start();
        ASSERT_TRUE(host.send(ringside::bytes_of("before"), 1s));
        moved.emplace(std::move(host));
        // The moved-from host's destructor runs here and must not stop anything.
    }
    EXPECT_EQ(rs_last_error_code(), RS_OK) << rs_last_error_message();
    ASSERT_TRUE(moved->send(ringside::bytes_of("after"), 1s));
    ASSERT_TRUE(moved->stop());
    EXPECT_EQ(events.load(), 2);
    moved.reset();
}

TEST_F(raii_SidecarHost, DestructorStopsARunningHostAndRemovesEverything) {
    const std::string shm = name();
    std::atomic<int> events{0};
    {
        SidecarHost host({.on_event = [&](ringside::Record) { events.fetch_add(1); }},
                         {.name = shm, .region = small(2)});
        host.start();
        for (int i = 0; i < 10; ++i) ASSERT_TRUE(host.send(ringside::bytes_of("cmd"), 1s));
        EXPECT_TRUE(exists(shm));
    }
    EXPECT_EQ(rs_last_error_code(), RS_OK) << rs_last_error_message();
    EXPECT_FALSE(exists(shm));
    EXPECT_LE(events.load(), 10);
}

TEST_F(raii_SidecarHost, RequiresAnEventCallback) {
    try {
        SidecarHost host({}, {.name = name()});
        FAIL() << "expected ringside::Error";
    } catch (const Error& error) {
        EXPECT_EQ(error.code(), RS_ERR_INVALID_ARGUMENT);
    }
}

}  // namespace
