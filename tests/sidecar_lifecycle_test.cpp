// The sidecar worker in one process: lifecycle (start/stop many times, stop
// before start, double stop, double destroy, destroy while running), drain
// vs discard, a stuck processor and the stop timeout, callbacks never after
// stop, the v-table ABI checks, ring delivery, status mirroring, errors, and
// a hot path that allocates nothing.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "shm/layout.h"
#include "support/test_support.hpp"
#include "wait/clock.hpp"

namespace {

using rstest::describe;
using rstest::RegionPtr;
using rstest::RingPtr;

constexpr std::uint64_t kWaitNs = 5'000'000'000ull;
constexpr std::uint64_t kStopNs = 5'000'000'000ull;

// What the host's callbacks saw. Written on the sidecar thread, read by the test.
struct Host {
    std::atomic<std::uint64_t> events{0};
    std::atomic<std::uint64_t> bytes{0};
    std::atomic<std::uint64_t> errors{0};
    std::atomic<std::uint64_t> logs{0};
    std::atomic<bool> stopped{false};            // set by the test once stop returned RS_OK
    std::atomic<std::uint64_t> after_stop{0};    // callbacks that arrived after that
    std::atomic<rs_result> last_error_code{RS_OK};
    std::atomic<std::uint64_t> last_value{0};
    rs_sidecar_t* self = nullptr;                // for the stop-from-a-callback test
    std::atomic<int> stop_from_callback{-100};
};

void on_event(const void* data, size_t length, void* user) {
    auto* host = static_cast<Host*>(user);
    if (host->stopped.load()) host->after_stop.fetch_add(1);
    if (length >= sizeof(std::uint64_t)) {
        std::uint64_t value = 0;
        std::memcpy(&value, data, sizeof value);
        host->last_value.store(value);
    }
    host->bytes.fetch_add(length);
    host->events.fetch_add(1);
}
void on_error(rs_result code, const char* message, void* user) {
    auto* host = static_cast<Host*>(user);
    if (host->stopped.load()) host->after_stop.fetch_add(1);
    EXPECT_NE(message, nullptr);
    host->last_error_code.store(code);
    host->errors.fetch_add(1);
}
void on_log(rs_log_level, const char* message, void* user) {
    auto* host = static_cast<Host*>(user);
    if (host->stopped.load()) host->after_stop.fetch_add(1);
    EXPECT_NE(message, nullptr);
    host->logs.fetch_add(1);
}

rs_host_vtable vtable_for(Host& host) {
    return rs_host_vtable{sizeof(rs_host_vtable), RS_HOST_VTABLE_ABI_VERSION, &host, on_event, on_error, on_log};
}

// A processor whose behaviour the test steers: blocks while `gate` is
// closed, fails on a marker, echoes otherwise.
struct Gate {
    std::atomic<bool> open{true};
    std::atomic<std::uint64_t> entered{0};
    std::atomic<bool> in_call{false};
};
int32_t gated_processor(const void* command, size_t length, void* event, size_t capacity, size_t* event_length,
                        void* user) {
    auto* gate = static_cast<Gate*>(user);
    gate->in_call.store(true);
    gate->entered.fetch_add(1);
    const std::uint64_t deadline = ringside::deadline_after(30'000'000'000ull);  // never wedge the suite
    while (!gate->open.load() && ringside::monotonic_ns() < deadline) {
        std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
    gate->in_call.store(false);
    if (length == 4 && std::memcmp(command, "FAIL", 4) == 0) return RS_ERR_CORRUPT;
    if (length == 4 && std::memcmp(command, "SKIP", 4) == 0) return RS_PROCESS_SKIP;
    return rs_processor_echo(command, length, event, capacity, event_length, nullptr);
}

// A region with a command ring and an event ring, the host's producer on
// the command ring, and a sidecar.
struct Fixture {
    rstest::Scratch scratch;
    std::string name;
    RegionPtr region;
    RingPtr commands;
    RingPtr events;  // ring delivery only
    rs_sidecar_t* sidecar = nullptr;
    Host host;
    Gate gate;

    explicit Fixture(rs_event_delivery delivery = RS_DELIVER_VTABLE, rs_wait_kind kind = RS_WAIT_FUTEX,
                     void (*tweak)(rs_sidecar_options&) = nullptr) {
        name = scratch.shm_name("sidecar");
        const rs_region_options region_options = rstest::region_options(RS_BACKING_SHM, 65536, 2);
        EXPECT_EQ(rstest::create_region(name, region_options, region), RS_OK);
        if (!region) return;
        EXPECT_EQ(rstest::create_ring(region.get(), 0, RS_ROLE_PRODUCER, commands), RS_OK);
        rs_wait_strategy host_wait;
        rs_wait_strategy_init(&host_wait, kind);
        EXPECT_EQ(rs_ring_set_wait_strategy(commands.get(), &host_wait), RS_OK);
        if (delivery == RS_DELIVER_RING) {
            EXPECT_EQ(rstest::create_ring(region.get(), 1, RS_ROLE_CONSUMER, events), RS_OK);
            EXPECT_EQ(rs_ring_set_wait_strategy(events.get(), &host_wait), RS_OK);
        }
        rs_sidecar_options options;
        rs_sidecar_options_init(&options);
        options.delivery = delivery;
        options.processor = gated_processor;
        options.processor_user = &gate;
        rs_wait_strategy_init(&options.command_wait, kind);
        rs_wait_strategy_init(&options.event_wait, kind);
        if (tweak != nullptr) tweak(options);
        const rs_result created = rs_sidecar_create(region.get(), &options, &sidecar);
        EXPECT_EQ(created, RS_OK) << describe(created);
        host.self = sidecar;
    }
    ~Fixture() {
        gate.open.store(true);
        if (sidecar != nullptr) {
            EXPECT_EQ(rs_sidecar_stop(sidecar, RS_STOP_DISCARD, kStopNs), RS_OK);
            EXPECT_EQ(rs_sidecar_destroy(sidecar), RS_OK) << describe(RS_OK);
        }
    }

    rs_result start() {
        const rs_host_vtable vt = vtable_for(host);
        return rs_sidecar_start(sidecar, &vt);
    }
    rs_result send(std::uint64_t value) { return rs_ring_write_wait(commands.get(), &value, sizeof value, kWaitNs); }
    rs_result send_text(const char* text) {
        return rs_ring_write_wait(commands.get(), text, std::strlen(text), kWaitNs);
    }
    rs_sidecar_stats stats() const {
        rs_sidecar_stats s{};
        s.struct_size = sizeof s;
        EXPECT_EQ(rs_sidecar_get_stats(sidecar, &s), RS_OK);
        return s;
    }
    // Waits (bounded) until `predicate` holds.
    template <typename P>
    bool eventually(P predicate, std::uint64_t timeout_ns = kWaitNs) {
        const std::uint64_t deadline = ringside::deadline_after(timeout_ns);
        while (!predicate()) {
            if (ringside::monotonic_ns() >= deadline) return false;
            std::this_thread::sleep_for(std::chrono::microseconds(100));
        }
        return true;
    }
    void destroy() {
        ASSERT_EQ(rs_sidecar_destroy(sidecar), RS_OK);
        sidecar = nullptr;
    }
};

TEST(SidecarLifecycle, EchoesEveryCommandToTheVtableInOrder) {
    Fixture f;
    ASSERT_NE(f.sidecar, nullptr);
    ASSERT_EQ(f.start(), RS_OK) << describe(RS_OK);
    for (std::uint64_t i = 1; i <= 1000; ++i) ASSERT_EQ(f.send(i), RS_OK);
    ASSERT_TRUE(f.eventually([&] { return f.host.events.load() == 1000; })) << f.host.events.load();
    EXPECT_EQ(f.host.last_value.load(), 1000u);
    EXPECT_EQ(rs_sidecar_stop(f.sidecar, RS_STOP_DRAIN, kStopNs), RS_OK);
    const rs_sidecar_stats s = f.stats();
    EXPECT_EQ(s.state, RS_SIDECAR_STOPPED);
    EXPECT_EQ(s.commands_processed, 1000u);
    EXPECT_EQ(s.events_emitted, 1000u);
    EXPECT_EQ(s.last_error, RS_OK);
    EXPECT_GE(f.host.logs.load(), 2u) << "a start and a stop line";
}

TEST(SidecarLifecycle, StartsAndStopsManyTimes) {
    Fixture f;
    ASSERT_NE(f.sidecar, nullptr);
    std::uint64_t sent = 0;
    for (int round = 0; round < 50; ++round) {
        ASSERT_EQ(f.start(), RS_OK) << "round " << round << ": " << describe(RS_OK);
        EXPECT_EQ(f.stats().state, RS_SIDECAR_RUNNING);
        for (int i = 0; i < 10; ++i) ASSERT_EQ(f.send(++sent), RS_OK);
        ASSERT_EQ(rs_sidecar_stop(f.sidecar, round % 2 == 0 ? RS_STOP_DRAIN : RS_STOP_DISCARD, kStopNs), RS_OK);
        EXPECT_EQ(f.stats().state, RS_SIDECAR_STOPPED);
    }
    const rs_sidecar_stats s = f.stats();
    EXPECT_EQ(s.commands_processed + s.commands_discarded, sent);
    EXPECT_EQ(f.host.events.load(), s.events_emitted);
}

TEST(SidecarLifecycle, StopBeforeStartAndDoubleStopAreHarmless) {
    Fixture f;
    ASSERT_NE(f.sidecar, nullptr);
    EXPECT_EQ(rs_sidecar_stop(f.sidecar, RS_STOP_DRAIN, 0), RS_OK);
    EXPECT_EQ(f.stats().state, RS_SIDECAR_CREATED);
    ASSERT_EQ(f.start(), RS_OK);
    EXPECT_EQ(f.start(), RS_BUSY) << "already running";
    EXPECT_EQ(rs_sidecar_stop(f.sidecar, RS_STOP_DRAIN, kStopNs), RS_OK);
    EXPECT_EQ(rs_sidecar_stop(f.sidecar, RS_STOP_DRAIN, kStopNs), RS_OK);
    EXPECT_EQ(rs_sidecar_stop(f.sidecar, RS_STOP_DISCARD, 0), RS_OK);
    // 3 is inside rs_stop_mode's value range (so defined in C++) but names no mode.
    EXPECT_EQ(rs_sidecar_stop(f.sidecar, static_cast<rs_stop_mode>(3), 0), RS_ERR_INVALID_ARGUMENT);
}

TEST(SidecarLifecycle, DestroyWhileRunningIsBusyAndDoubleDestroyIsInvalid) {
    Fixture f;
    ASSERT_NE(f.sidecar, nullptr);
    ASSERT_EQ(f.start(), RS_OK);
    EXPECT_EQ(rs_sidecar_destroy(f.sidecar), RS_BUSY);
    EXPECT_EQ(rs_region_destroy(f.region.get()), RS_BUSY) << "the sidecar uses the region";
    ASSERT_EQ(rs_sidecar_stop(f.sidecar, RS_STOP_DRAIN, kStopNs), RS_OK);
    rs_sidecar_t* stale = f.sidecar;
    f.destroy();
    EXPECT_EQ(rs_sidecar_destroy(stale), RS_ERR_INVALID_ARGUMENT);
    EXPECT_EQ(rs_sidecar_start(stale, nullptr), RS_ERR_INVALID_ARGUMENT);
    EXPECT_EQ(rs_sidecar_stop(stale, RS_STOP_DRAIN, 0), RS_ERR_INVALID_ARGUMENT);
    EXPECT_EQ(rs_sidecar_destroy(nullptr), RS_ERR_INVALID_ARGUMENT);
}

TEST(SidecarLifecycle, AStuckProcessorMakesStopTimeOutAndDestroyBusy) {
    Fixture f;
    ASSERT_NE(f.sidecar, nullptr);
    ASSERT_EQ(f.start(), RS_OK);
    f.gate.open.store(false);
    ASSERT_EQ(f.send(1), RS_OK);
    ASSERT_EQ(f.send(2), RS_OK);
    ASSERT_TRUE(f.eventually([&] { return f.gate.in_call.load(); }));
    const std::uint64_t begin = ringside::monotonic_ns();
    EXPECT_EQ(rs_sidecar_stop(f.sidecar, RS_STOP_DRAIN, 50'000'000), RS_TIMEOUT);
    EXPECT_GE(ringside::monotonic_ns() - begin, 50'000'000u);
    EXPECT_EQ(f.stats().state, RS_SIDECAR_STOPPING);
    EXPECT_EQ(rs_sidecar_destroy(f.sidecar), RS_BUSY) << "the stuck thread still uses the sidecar";
    EXPECT_EQ(rs_sidecar_stop(f.sidecar, RS_STOP_DRAIN, 10'000'000), RS_TIMEOUT) << "still stuck";
    const std::uint64_t events_before = f.host.events.load();
    f.gate.open.store(true);
    EXPECT_EQ(rs_sidecar_stop(f.sidecar, RS_STOP_DRAIN, kStopNs), RS_OK);
    // The stop timed out: after its call returned, the worker started no
    // further callback (command 2 was not processed, 1's event not delivered).
    EXPECT_EQ(f.host.events.load(), events_before);
    EXPECT_EQ(f.gate.entered.load(), 1u);
    EXPECT_EQ(f.stats().state, RS_SIDECAR_STOPPED);
}

// Commands queue behind a processor held at its first command; stop is
// requested; then the processor is released.
void queue_then_stop(Fixture& f, rs_stop_mode mode, int queued) {
    ASSERT_EQ(f.start(), RS_OK);
    f.gate.open.store(false);
    for (int i = 1; i <= queued; ++i) ASSERT_EQ(f.send(static_cast<std::uint64_t>(i)), RS_OK);
    ASSERT_TRUE(f.eventually([&] { return f.gate.in_call.load(); }));
    std::atomic<int> stopped{-100};
    std::thread stopper([&] { stopped = rs_sidecar_stop(f.sidecar, mode, kStopNs); });
    ASSERT_TRUE(f.eventually([&] { return f.stats().state == RS_SIDECAR_STOPPING; }));
    f.gate.open.store(true);
    stopper.join();
    EXPECT_EQ(stopped.load(), RS_OK);
}

TEST(SidecarStop, DrainProcessesEveryQueuedCommand) {
    Fixture f;
    ASSERT_NE(f.sidecar, nullptr);
    queue_then_stop(f, RS_STOP_DRAIN, 50);
    const rs_sidecar_stats s = f.stats();
    EXPECT_EQ(s.commands_processed, 50u);
    EXPECT_EQ(s.commands_discarded, 0u);
    EXPECT_EQ(f.host.events.load(), 50u);
    EXPECT_EQ(f.host.last_value.load(), 50u);
}

TEST(SidecarStop, DiscardReleasesQueuedCommandsUnprocessed) {
    Fixture f;
    ASSERT_NE(f.sidecar, nullptr);
    queue_then_stop(f, RS_STOP_DISCARD, 50);
    const rs_sidecar_stats s = f.stats();
    EXPECT_EQ(s.commands_processed, 1u) << "only the one in progress";
    EXPECT_EQ(s.commands_discarded, 49u);
    EXPECT_EQ(f.host.events.load(), 1u);
    // The ring is empty: a fresh start processes only what comes next.
    ASSERT_EQ(f.start(), RS_OK);
    ASSERT_EQ(f.send(77), RS_OK);
    ASSERT_TRUE(f.eventually([&] { return f.host.events.load() == 2; }));
    EXPECT_EQ(f.host.last_value.load(), 77u);
}

TEST(SidecarStop, NoCallbackEverArrivesAfterStopReturns) {
    Fixture f;
    ASSERT_NE(f.sidecar, nullptr);
    for (int round = 0; round < 20; ++round) {
        ASSERT_EQ(f.start(), RS_OK);
        std::atomic<bool> done{false};
        std::thread producer([&] {
            std::uint64_t value = 0;
            while (!done.load()) {
                (void)rs_ring_write(f.commands.get(), &value, sizeof value);
                ++value;
            }
        });
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
        ASSERT_EQ(rs_sidecar_stop(f.sidecar, round % 2 ? RS_STOP_DRAIN : RS_STOP_DISCARD, kStopNs), RS_OK);
        f.host.stopped.store(true);
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
        done.store(true);
        producer.join();
        EXPECT_EQ(f.host.after_stop.load(), 0u) << "round " << round;
        f.host.stopped.store(false);
    }
}

TEST(SidecarStop, StopFromInsideACallbackIsRefused) {
    Fixture f;
    ASSERT_NE(f.sidecar, nullptr);
    struct Probe {
        rs_sidecar_t* sidecar;
        std::atomic<int> result{-100};
    } probe{f.sidecar};
    rs_host_vtable vt{sizeof(rs_host_vtable), RS_HOST_VTABLE_ABI_VERSION, &probe,
                      [](const void*, size_t, void* user) {
                          auto* p = static_cast<Probe*>(user);
                          p->result = rs_sidecar_stop(p->sidecar, RS_STOP_DRAIN, 0);
                      },
                      nullptr, nullptr};
    ASSERT_EQ(rs_sidecar_start(f.sidecar, &vt), RS_OK);
    ASSERT_EQ(f.send(1), RS_OK);
    ASSERT_TRUE(f.eventually([&] { return probe.result.load() != -100; }));
    EXPECT_EQ(probe.result.load(), RS_ERR_INVALID_ARGUMENT);
}

// ---- the v-table ABI --------------------------------------------------------------

TEST(HostVtable, WrongSizeOrVersionIsRejected) {
    Fixture f;
    ASSERT_NE(f.sidecar, nullptr);
    rs_host_vtable vt = vtable_for(f.host);
    EXPECT_EQ(rs_host_vtable_check(&vt), RS_OK);
    vt.struct_size = sizeof vt - 8;
    EXPECT_EQ(rs_sidecar_start(f.sidecar, &vt), RS_ERR_VERSION_MISMATCH);
    EXPECT_NE(std::strstr(rs_last_error_message(), "struct_size"), nullptr) << rs_last_error_message();
    vt.struct_size = sizeof vt + 8;
    EXPECT_EQ(rs_sidecar_start(f.sidecar, &vt), RS_ERR_VERSION_MISMATCH);
    vt = vtable_for(f.host);
    vt.abi_version = RS_HOST_VTABLE_ABI_VERSION + 1;
    EXPECT_EQ(rs_sidecar_start(f.sidecar, &vt), RS_ERR_VERSION_MISMATCH);
    vt.abi_version = 0;
    EXPECT_EQ(rs_host_vtable_check(&vt), RS_ERR_VERSION_MISMATCH);
    EXPECT_EQ(f.stats().state, RS_SIDECAR_CREATED) << "nothing started";
}

TEST(HostVtable, OnEventIsMandatoryAndTheOthersOptional) {
    Fixture f;
    ASSERT_NE(f.sidecar, nullptr);
    rs_host_vtable vt = vtable_for(f.host);
    vt.on_event = nullptr;
    EXPECT_EQ(rs_sidecar_start(f.sidecar, &vt), RS_ERR_INVALID_ARGUMENT);
    EXPECT_EQ(rs_sidecar_start(f.sidecar, nullptr), RS_ERR_INVALID_ARGUMENT) << "vtable delivery needs a table";
    EXPECT_EQ(rs_host_vtable_check(nullptr), RS_ERR_INVALID_ARGUMENT);
    vt = vtable_for(f.host);
    vt.on_error = nullptr;
    vt.on_log = nullptr;
    ASSERT_EQ(rs_sidecar_start(f.sidecar, &vt), RS_OK);
    ASSERT_EQ(f.send_text("FAIL"), RS_OK);
    ASSERT_EQ(f.send(5), RS_OK);
    ASSERT_TRUE(f.eventually([&] { return f.host.events.load() == 1; }));
    EXPECT_EQ(f.host.errors.load(), 0u);
    EXPECT_EQ(f.host.logs.load(), 0u);
}

TEST(HostVtable, TheTableIsCopiedAtStart) {
    Fixture f;
    ASSERT_NE(f.sidecar, nullptr);
    {
        rs_host_vtable vt = vtable_for(f.host);
        ASSERT_EQ(rs_sidecar_start(f.sidecar, &vt), RS_OK);
        std::memset(&vt, 0xFF, sizeof vt);  // the host's copy is gone
    }
    ASSERT_EQ(f.send(3), RS_OK);
    ASSERT_TRUE(f.eventually([&] { return f.host.events.load() == 1; }));
}

// ---- errors, options, state ----------------------------------------------------------

TEST(SidecarErrors, AProcessorFailureReachesOnErrorAndTheStats) {
    Fixture f;
    ASSERT_NE(f.sidecar, nullptr);
    ASSERT_EQ(f.start(), RS_OK);
    ASSERT_EQ(f.send_text("FAIL"), RS_OK);
    ASSERT_EQ(f.send_text("SKIP"), RS_OK);
    ASSERT_EQ(f.send(8), RS_OK);
    ASSERT_TRUE(f.eventually([&] { return f.stats().commands_processed == 3; }));
    ASSERT_TRUE(f.eventually([&] { return f.host.events.load() == 1; }));
    const rs_sidecar_stats s = f.stats();
    EXPECT_EQ(s.processor_errors, 1u);
    EXPECT_EQ(s.last_error, RS_ERR_CORRUPT);
    EXPECT_EQ(f.host.errors.load(), 1u);
    EXPECT_EQ(f.host.last_error_code.load(), RS_ERR_CORRUPT);
    char message[256];
    ASSERT_EQ(rs_sidecar_last_error_message(f.sidecar, message, sizeof message), RS_OK);
    EXPECT_NE(std::strstr(message, "processor failed"), nullptr) << message;
    EXPECT_EQ(f.stats().state, RS_SIDECAR_RUNNING) << "a processor error does not stop the worker";
}

TEST(SidecarOptions, RejectsInvalidOptions) {
    rstest::Scratch scratch;
    RegionPtr region;
    ASSERT_EQ(rstest::create_region(scratch.shm_name("opts"), rstest::region_options(RS_BACKING_SHM, 65536, 2),
                                    region),
              RS_OK);
    rs_sidecar_t* sidecar = nullptr;
    rs_sidecar_options options{};
    EXPECT_EQ(rs_sidecar_create(region.get(), &options, &sidecar), RS_ERR_INVALID_ARGUMENT) << "not initialised";
    auto rejects = [&](void (*tweak)(rs_sidecar_options&), const char* why) {
        rs_sidecar_options o;
        rs_sidecar_options_init(&o);
        tweak(o);
        EXPECT_EQ(rs_sidecar_create(region.get(), &o, &sidecar), RS_ERR_INVALID_ARGUMENT) << why;
        EXPECT_EQ(sidecar, nullptr);
    };
    rejects([](rs_sidecar_options& o) { o.command_ring = 2; }, "command ring out of range");
    rejects([](rs_sidecar_options& o) { o.delivery = RS_DELIVER_RING; o.event_ring = 0; }, "same ring twice");
    rejects([](rs_sidecar_options& o) { o.batch = 0; }, "batch 0");
    rejects([](rs_sidecar_options& o) { o.max_event_bytes = 0; }, "no event buffer");
    rejects([](rs_sidecar_options& o) { o.delivery = RS_DELIVER_RING; o.max_event_bytes = 60000; }, "event too big");
    rejects([](rs_sidecar_options& o) { o.policy = RS_SCHED_FIFO; o.priority = 0; }, "FIFO priority 0");
    rejects([](rs_sidecar_options& o) { o.policy = RS_SCHED_OTHER; o.nice = 20; }, "nice 20");
    rejects([](rs_sidecar_options& o) { std::memset(o.thread_name, 'x', sizeof o.thread_name); }, "name unterminated");
    rejects([](rs_sidecar_options& o) { o.command_wait.check = 0; }, "wait strategy not initialised");
    rejects([](rs_sidecar_options& o) { o.on_refused = static_cast<rs_on_refused>(0); }, "on_refused");
    rejects([](rs_sidecar_options& o) {
        const int unknown = 77;  // as a C caller may store it
        std::memcpy(&o.policy, &unknown, sizeof unknown);
    }, "unknown policy");
    rejects([](rs_sidecar_options& o) {
        const int unknown = 77;
        std::memcpy(&o.delivery, &unknown, sizeof unknown);
    }, "unknown delivery");
    EXPECT_EQ(rs_sidecar_create(nullptr, nullptr, &sidecar), RS_ERR_INVALID_ARGUMENT);
    EXPECT_EQ(rs_sidecar_create(region.get(), nullptr, nullptr), RS_ERR_INVALID_ARGUMENT);
}

TEST(SidecarOptions, TheCommandRingConsumerRoleIsExclusive) {
    Fixture f;
    ASSERT_NE(f.sidecar, nullptr);
    rs_sidecar_t* second = nullptr;
    EXPECT_EQ(rs_sidecar_create(f.region.get(), nullptr, &second), RS_BUSY);
    RingPtr consumer;
    EXPECT_EQ(rstest::create_ring(f.region.get(), 0, RS_ROLE_CONSUMER, consumer), RS_BUSY);
}

TEST(SidecarStatus, StateAndCountersAreMirroredIntoTheRegionStatusBlock) {
    Fixture f;
    ASSERT_NE(f.sidecar, nullptr);
    rstest::RawMapping raw(rstest::Scratch::backing_path(RS_BACKING_SHM, f.name));
    ASSERT_TRUE(raw.ok());
    auto& status = *reinterpret_cast<ringside::layout::StatusBlock*>(raw.base() + ringside::layout::kStatusOffset);
    auto state = [&] { return std::atomic_ref<std::uint32_t>(status.sidecar_state).load(); };
    EXPECT_EQ(state(), static_cast<std::uint32_t>(RS_SIDECAR_CREATED));
    EXPECT_EQ(std::atomic_ref<std::int32_t>(status.sidecar_pid).load(), ::getpid());
    ASSERT_EQ(f.start(), RS_OK);
    EXPECT_EQ(state(), static_cast<std::uint32_t>(RS_SIDECAR_RUNNING));
    for (std::uint64_t i = 0; i < 10; ++i) ASSERT_EQ(f.send(i), RS_OK);
    ASSERT_TRUE(f.eventually([&] { return std::atomic_ref<std::uint64_t>(status.events_emitted).load() == 10; }));
    EXPECT_EQ(std::atomic_ref<std::uint64_t>(status.commands_processed).load(), 10u);
    ASSERT_EQ(rs_sidecar_stop(f.sidecar, RS_STOP_DRAIN, kStopNs), RS_OK);
    EXPECT_EQ(state(), static_cast<std::uint32_t>(RS_SIDECAR_STOPPED));
}

TEST(SidecarStatus, StatsJsonNamesStateCountersAndGrants) {
    Fixture f;
    ASSERT_NE(f.sidecar, nullptr);
    ASSERT_EQ(f.start(), RS_OK);
    ASSERT_EQ(f.send(1), RS_OK);
    ASSERT_TRUE(f.eventually([&] { return f.host.events.load() == 1; }));
    char* json = nullptr;
    ASSERT_EQ(rs_sidecar_stats_json(f.sidecar, &json), RS_OK);
    const std::string text(json);
    rs_string_free(json);
    for (const char* key : {"\"state\":\"running\"", "\"commands_processed\":1", "\"events_emitted\":1",
                            "\"granted_policy\":", "\"granted_cpus\":", "\"thread_name\":\"rs-sidecar\""}) {
        EXPECT_NE(text.find(key), std::string::npos) << key << " missing in " << text;
    }
    EXPECT_EQ(rs_sidecar_stats_json(f.sidecar, nullptr), RS_ERR_INVALID_ARGUMENT);
}

// ---- ring delivery in one process ----------------------------------------------------

TEST(SidecarRingDelivery, EventsTravelBackOnTheEventRing) {
    Fixture f(RS_DELIVER_RING);
    ASSERT_NE(f.sidecar, nullptr);
    ASSERT_EQ(rs_sidecar_start(f.sidecar, nullptr), RS_OK) << "ring delivery needs no v-table";
    const rs_host_vtable vt = vtable_for(f.host);
    std::uint64_t dispatched_total = 0;
    for (std::uint64_t i = 1; i <= 2000; ++i) {
        ASSERT_EQ(f.send(i), RS_OK);
        if (i % 100 == 0) {
            while (dispatched_total < i) {
                std::uint32_t dispatched = 0;
                ASSERT_EQ(rs_host_dispatch_events(f.events.get(), &vt, 64, kWaitNs, &dispatched), RS_OK);
                dispatched_total += dispatched;
            }
        }
    }
    EXPECT_EQ(f.host.events.load(), 2000u);
    EXPECT_EQ(f.host.last_value.load(), 2000u);
    std::uint32_t none = 7;
    EXPECT_EQ(rs_host_dispatch_events(f.events.get(), &vt, 64, 1'000'000, &none), RS_TIMEOUT);
    EXPECT_EQ(none, 0u);
    EXPECT_EQ(rs_host_dispatch_events(f.commands.get(), &vt, 64, 0, nullptr), RS_ERR_INVALID_ARGUMENT);
}

TEST(SidecarRingDelivery, AFullEventRingBlocksTheWorkerUntilTheHostReads) {
    Fixture f(RS_DELIVER_RING, RS_WAIT_HYBRID);
    ASSERT_NE(f.sidecar, nullptr);
    ASSERT_EQ(rs_sidecar_start(f.sidecar, nullptr), RS_OK);
    const rs_host_vtable vt = vtable_for(f.host);
    // 64 KiB rings, 1 KiB events: the event ring is full after ~62 of them.
    // The worker releases commands a batch (<= 32) at a time, so the command
    // ring keeps at most 80 - 32 = 48 of the first 80: all fit.
    std::vector<std::uint8_t> big(1024, 0x5A);
    for (int i = 0; i < 80; ++i) {
        ASSERT_EQ(rs_ring_write_wait(f.commands.get(), big.data(), big.size(), kWaitNs), RS_OK) << i;
    }
    ASSERT_TRUE(f.eventually([&] { return f.stats().parks > 0; })) << "the worker parks on the full event ring";
    EXPECT_LT(f.stats().events_emitted, 80u);
    std::thread dispatcher([&] {
        while (f.host.events.load() < 300) {
            std::uint32_t n = 0;
            const rs_result r = rs_host_dispatch_events(f.events.get(), &vt, 8, kWaitNs, &n);
            if (r != RS_OK) {
                ADD_FAILURE() << "dispatch: " << describe(r);
                return;
            }
        }
    });
    for (int i = 80; i < 300; ++i) {
        ASSERT_EQ(rs_ring_write_wait(f.commands.get(), big.data(), big.size(), kWaitNs), RS_OK) << i;
    }
    dispatcher.join();
    EXPECT_EQ(f.host.events.load(), 300u);
    EXPECT_EQ(f.host.bytes.load(), 300u * 1024u);
    EXPECT_EQ(f.stats().events_dropped, 0u);
}

// The worker hands room back part-way through a batch (an eighth of the ring
// at a time), so a producer of large commands does not wait for the whole
// batch. Sixteen 4000-byte commands fill the 64 KiB ring and reach the worker
// as one batch; the sixth holds the worker until the host has written a
// seventeenth, which needs room the first ones occupied.
struct HoldState {
    std::atomic<bool> more_written{false};
    std::atomic<bool> waited_in_vain{false};
};
int32_t holding_processor(const void* command, size_t length, void* event, size_t capacity, size_t* event_length,
                          void* user) {
    auto* state = static_cast<HoldState*>(user);
    if (length > 0 && static_cast<const std::uint8_t*>(command)[0] == 0xB1) {
        const std::uint64_t deadline = ringside::deadline_after(10'000'000'000ull);
        while (!state->more_written.load() && ringside::monotonic_ns() < deadline) {
            std::this_thread::sleep_for(std::chrono::microseconds(200));
        }
        if (!state->more_written.load()) state->waited_in_vain.store(true);
    }
    return rs_processor_echo(command, length, event, capacity, event_length, nullptr);
}

TEST(SidecarBatches, RoomComesBackWhileTheWorkerIsStillProcessingABatch) {
    static HoldState state;
    state.more_written.store(false);
    state.waited_in_vain.store(false);
    Fixture f(RS_DELIVER_VTABLE, RS_WAIT_FUTEX, [](rs_sidecar_options& o) {
        o.processor = holding_processor;
        o.processor_user = &state;
        o.max_event_bytes = 4096;
    });
    ASSERT_NE(f.sidecar, nullptr);
    std::vector<std::uint8_t> command(4000, 0x5A);
    for (int i = 0; i < 16; ++i) {
        command[0] = i == 5 ? 0xB1 : 0x5A;
        command[1] = static_cast<std::uint8_t>(i);
        ASSERT_EQ(rs_ring_write(f.commands.get(), command.data(), command.size()), RS_OK) << i;
    }
    command[0] = 0x5A;
    command[1] = 16;
    ASSERT_EQ(rs_ring_write(f.commands.get(), command.data(), command.size()), RS_FULL) << "sixteen fill the ring";
    ASSERT_EQ(f.start(), RS_OK);
    const rs_result written = rs_ring_write_wait(f.commands.get(), command.data(), command.size(), kWaitNs);
    state.more_written.store(true);
    EXPECT_EQ(written, RS_OK) << "the worker held the whole batch's room while it processed the batch";
    ASSERT_TRUE(f.eventually([&] { return f.host.events.load() == 17; })) << f.host.events.load();
    EXPECT_FALSE(state.waited_in_vain.load());
    EXPECT_EQ(f.host.bytes.load(), 17u * 4000u);
}

// ---- allocation -----------------------------------------------------------------------

TEST(SidecarAllocation, TheHotPathAllocatesNothing) {
    Fixture f;
    ASSERT_NE(f.sidecar, nullptr);
    ASSERT_EQ(f.start(), RS_OK);
    ASSERT_EQ(f.send(0), RS_OK);
    ASSERT_TRUE(f.eventually([&] { return f.host.events.load() == 1; }));
    const std::int64_t before = rs_debug_allocation_count();
    for (std::uint64_t i = 1; i <= 20'000; ++i) ASSERT_EQ(f.send(i), RS_OK);
    ASSERT_TRUE(f.eventually([&] { return f.host.events.load() == 20'001; }));
    EXPECT_EQ(rs_debug_allocation_count(), before);
}

TEST(SidecarAllocation, CreateAndDestroyLeaveTheCounterWhereItWas) {
    const std::int64_t before = rs_debug_allocation_count();
    {
        Fixture f(RS_DELIVER_RING);
        ASSERT_NE(f.sidecar, nullptr);
        EXPECT_GT(rs_debug_allocation_count(), before);
        ASSERT_EQ(rs_sidecar_start(f.sidecar, nullptr), RS_OK);
    }
    EXPECT_EQ(rs_debug_allocation_count(), before);
}

}  // namespace

// ---- every wait strategy on the sidecar's side ----------------------------------------

namespace {

class SidecarWaits : public ::testing::TestWithParam<rs_wait_kind> {};

TEST_P(SidecarWaits, TheWorkerServesCommandsAndStopsPromptlyUnderEveryStrategy) {
    const rs_wait_kind kind = GetParam();
    const bool parks = kind == RS_WAIT_FUTEX || kind == RS_WAIT_EVENTFD || kind == RS_WAIT_HYBRID;
    rstest::Scratch scratch;
    RegionPtr region;
    ASSERT_EQ(rstest::create_region(scratch.shm_name("waits"), rstest::region_options(RS_BACKING_SHM, 4096, 2),
                                    region),
              RS_OK);
    int command_fd = -1, space_fd = -1;  // the sidecar parks on one, the host producer on the other
    if (kind == RS_WAIT_EVENTFD) {
        ASSERT_EQ(rs_eventfd_create(&command_fd), RS_OK);
        ASSERT_EQ(rs_eventfd_create(&space_fd), RS_OK);
    }
    rs_wait_strategy host;
    rs_wait_strategy_init(&host, kind);
    host.sleep_ns = 20'000;
    host.peer_may_park = parks ? 1 : 0;
    host.eventfd = space_fd;
    host.peer_eventfd = command_fd;
    RingPtr commands;
    ASSERT_EQ(rstest::create_ring(region.get(), 0, RS_ROLE_PRODUCER, commands), RS_OK);
    ASSERT_EQ(rs_ring_set_wait_strategy(commands.get(), &host), RS_OK) << rs_last_error_message();
    rs_sidecar_options options;
    rs_sidecar_options_init(&options);
    rs_wait_strategy_init(&options.command_wait, kind);
    options.command_wait.sleep_ns = 20'000;
    options.command_wait.peer_may_park = parks ? 1 : 0;
    options.command_wait.eventfd = command_fd;
    options.command_wait.peer_eventfd = space_fd;
    rs_sidecar_t* sidecar = nullptr;
    ASSERT_EQ(rs_sidecar_create(region.get(), &options, &sidecar), RS_OK) << rs_last_error_message();
    if (command_fd >= 0) ::close(command_fd);  // the library holds its own copies
    if (space_fd >= 0) ::close(space_fd);
    Host seen;
    const rs_host_vtable vt = vtable_for(seen);
    ASSERT_EQ(rs_sidecar_start(sidecar, &vt), RS_OK);
    // 64-byte commands through a 4 KiB ring: the host waits for room too.
    std::uint8_t command[64] = {};
    for (std::uint64_t i = 1; i <= 5000; ++i) {
        std::memcpy(command, &i, sizeof i);
        ASSERT_EQ(rs_ring_write_wait(commands.get(), command, sizeof command, kWaitNs), RS_OK) << i;
    }
    const std::uint64_t deadline = ringside::deadline_after(kWaitNs);
    while (seen.events.load() < 5000 && ringside::monotonic_ns() < deadline) {
        std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
    EXPECT_EQ(seen.events.load(), 5000u);
    EXPECT_EQ(seen.last_value.load(), 5000u);
    // Idle now (parked, sleeping or spinning): stop must wake it at once.
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    const std::uint64_t begin = ringside::monotonic_ns();
    EXPECT_EQ(rs_sidecar_stop(sidecar, RS_STOP_DRAIN, kStopNs), RS_OK);
    // The idle slice is 100 ms: a stop that took that long was not a kick.
    // (Valgrind runs one thread at a time, so a spinning worker can hold the
    // stopping thread off for longer; only the result is checked there.)
    const char* preload = std::getenv("LD_PRELOAD");
    if (preload == nullptr || std::strstr(preload, "vgpreload") == nullptr) {
        EXPECT_LT(ringside::monotonic_ns() - begin, 90'000'000u) << "stop waited for an idle slice, not a kick";
    }
    EXPECT_EQ(rs_sidecar_destroy(sidecar), RS_OK);
}

INSTANTIATE_TEST_SUITE_P(EveryStrategy, SidecarWaits,
                         ::testing::Values(RS_WAIT_BUSY_SPIN, RS_WAIT_SPIN_PAUSE, RS_WAIT_YIELD, RS_WAIT_SLEEP,
                                           RS_WAIT_FUTEX, RS_WAIT_EVENTFD, RS_WAIT_HYBRID),
                         [](const auto& info) { return std::string(rs_wait_kind_name(info.param)); });

}  // namespace
