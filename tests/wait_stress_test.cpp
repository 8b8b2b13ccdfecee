// Many park/wake cycles: a strict ping-pong in which every message makes
// the receiver park (futex, eventfd, hybrid with no spin), between threads
// and between processes, plus a sidecar taking a long stream of commands
// with the futex strategy. A single lost wake-up stalls one side until its
// 10 s deadline and fails the test; it can never hang it.
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <latch>
#include <string>
#include <thread>

#include "support/test_support.hpp"
#include "wait/kernel.hpp"

namespace {

using rstest::describe;
using rstest::RegionPtr;
using rstest::RingPtr;

constexpr std::uint64_t kWaitNs = 10'000'000'000ull;

rs_wait_strategy parking(rs_wait_kind kind, int own = -1, int peer = -1) {
    rs_wait_strategy s;
    rs_wait_strategy_init(&s, kind);
    s.spin_limit = 0;  // hybrid: park at once, every time
    if (kind == RS_WAIT_EVENTFD) {
        s.eventfd = own;
        s.peer_eventfd = peer;
    }
    return s;
}

std::string bounce(rs_ring_t* out, rs_ring_t* in, std::uint64_t rounds, bool first) {
    for (std::uint64_t i = 0; i < rounds; ++i) {
        if (first && rs_ring_write_wait(out, &i, sizeof i, kWaitNs) != RS_OK) return "write " + std::to_string(i);
        const rs_result waited = rs_ring_wait_readable(in, kWaitNs);
        if (waited != RS_OK) return "lost wake-up? wait " + std::to_string(i) + ": " + describe(waited);
        std::uint64_t value = 0;
        std::size_t length = 0;
        if (rs_ring_read(in, &value, sizeof value, &length) != RS_OK || value != i) return "order " + std::to_string(i);
        if (!first && rs_ring_write_wait(out, &i, sizeof i, kWaitNs) != RS_OK) return "write " + std::to_string(i);
    }
    return "";
}

class ParkWakeStress : public ::testing::TestWithParam<rs_wait_kind> {};

TEST_P(ParkWakeStress, TwoHundredThousandParkedPingPongsBetweenThreads) {
    const rs_wait_kind kind = GetParam();
    rstest::Scratch scratch;
    RegionPtr region;
    ASSERT_EQ(rstest::create_region(scratch.shm_name("stress"), rstest::region_options(RS_BACKING_SHM, 4096, 2),
                                    region),
              RS_OK);
    RingPtr a_out, b_in, b_out, a_in;
    ASSERT_EQ(rstest::create_ring(region.get(), 0, RS_ROLE_PRODUCER, a_out), RS_OK);
    ASSERT_EQ(rstest::create_ring(region.get(), 0, RS_ROLE_CONSUMER, b_in), RS_OK);
    ASSERT_EQ(rstest::create_ring(region.get(), 1, RS_ROLE_PRODUCER, b_out), RS_OK);
    ASSERT_EQ(rstest::create_ring(region.get(), 1, RS_ROLE_CONSUMER, a_in), RS_OK);
    int fds[4] = {-1, -1, -1, -1};  // ring 0 data/space, ring 1 data/space
    if (kind == RS_WAIT_EVENTFD) {
        for (int& fd : fds) ASSERT_EQ(rs_eventfd_create(&fd), RS_OK);
    }
    rs_wait_strategy s;
    ASSERT_EQ(rs_ring_set_wait_strategy(a_out.get(), &(s = parking(kind, fds[1], fds[0]))), RS_OK);
    ASSERT_EQ(rs_ring_set_wait_strategy(b_in.get(), &(s = parking(kind, fds[0], fds[1]))), RS_OK);
    ASSERT_EQ(rs_ring_set_wait_strategy(b_out.get(), &(s = parking(kind, fds[3], fds[2]))), RS_OK);
    ASSERT_EQ(rs_ring_set_wait_strategy(a_in.get(), &(s = parking(kind, fds[2], fds[3]))), RS_OK);
    constexpr std::uint64_t kRounds = 200'000;
    const ringside::KernelCallCounts before = ringside::kernel_call_counts();
    std::string a_error, b_error;
    std::latch start(2);
    std::thread b([&] {
        start.arrive_and_wait();
        b_error = bounce(b_out.get(), b_in.get(), kRounds, false);
    });
    start.arrive_and_wait();
    a_error = bounce(a_out.get(), a_in.get(), kRounds, true);
    b.join();
    EXPECT_EQ(a_error, "");
    EXPECT_EQ(b_error, "");
    const ringside::KernelCallCounts after = ringside::kernel_call_counts();
    const std::uint64_t parks = (after.futex_waits - before.futex_waits) + (after.eventfd_waits - before.eventfd_waits);
    RecordProperty("parks", std::to_string(parks));
    EXPECT_GT(parks, kRounds / 10) << "the test must really park";
    for (int fd : fds) {
        if (fd >= 0) ::close(fd);
    }
}

INSTANTIATE_TEST_SUITE_P(Parking, ParkWakeStress, ::testing::Values(RS_WAIT_FUTEX, RS_WAIT_EVENTFD, RS_WAIT_HYBRID),
                         [](const auto& info) { return std::string(rs_wait_kind_name(info.param)); });

TEST(ParkWakeStressAcrossProcesses, OneHundredThousandFutexPingPongsWithAForkedChild) {
    rstest::Scratch scratch;
    const std::string name = scratch.shm_name("xstress");
    RegionPtr region;
    ASSERT_EQ(rstest::create_region(name, rstest::region_options(RS_BACKING_SHM, 4096, 2), region), RS_OK);
    RingPtr out, in;
    ASSERT_EQ(rstest::create_ring(region.get(), 0, RS_ROLE_PRODUCER, out), RS_OK);
    ASSERT_EQ(rstest::create_ring(region.get(), 1, RS_ROLE_CONSUMER, in), RS_OK);
    rs_wait_strategy s = parking(RS_WAIT_FUTEX);
    ASSERT_EQ(rs_ring_set_wait_strategy(out.get(), &s), RS_OK);
    ASSERT_EQ(rs_ring_set_wait_strategy(in.get(), &s), RS_OK);
    constexpr std::uint64_t kRounds = 100'000;
    const pid_t child = rstest::fork_child([&] {
        rs_region_t* mine = nullptr;
        rs_ring_t* child_in = nullptr;
        rs_ring_t* child_out = nullptr;
        if (rs_region_open(name.c_str(), nullptr, &mine) != RS_OK) return 10;
        if (rs_ring_create(mine, 0, RS_ROLE_CONSUMER, &child_in) != RS_OK) return 11;
        if (rs_ring_create(mine, 1, RS_ROLE_PRODUCER, &child_out) != RS_OK) return 12;
        rs_wait_strategy w = parking(RS_WAIT_FUTEX);
        rs_ring_set_wait_strategy(child_in, &w);
        rs_ring_set_wait_strategy(child_out, &w);
        const std::string error = bounce(child_out, child_in, kRounds, false);
        rs_ring_destroy(child_in);
        rs_ring_destroy(child_out);
        rs_region_destroy(mine);
        return error.empty() ? 0 : 20;
    });
    EXPECT_EQ(bounce(out.get(), in.get(), kRounds, true), "");
    EXPECT_EQ(rstest::wait_child(child, 240'000), 0);
}

TEST(SidecarStress, AMillionCommandsThroughAFutexSidecarArriveInOrder) {
    rstest::Scratch scratch;
    RegionPtr region;
    ASSERT_EQ(rstest::create_region(scratch.shm_name("scstress"), rstest::region_options(RS_BACKING_SHM, 4096, 2),
                                    region),
              RS_OK);
    RingPtr commands;
    ASSERT_EQ(rstest::create_ring(region.get(), 0, RS_ROLE_PRODUCER, commands), RS_OK);
    rs_wait_strategy s = parking(RS_WAIT_HYBRID);
    s.spin_limit = 16;
    ASSERT_EQ(rs_ring_set_wait_strategy(commands.get(), &s), RS_OK);
    rs_sidecar_options options;
    rs_sidecar_options_init(&options);
    options.command_wait = s;
    rs_sidecar_t* sidecar = nullptr;
    ASSERT_EQ(rs_sidecar_create(region.get(), &options, &sidecar), RS_OK);
    struct Seen {
        std::atomic<std::uint64_t> next{0};
        std::atomic<bool> in_order{true};
    } seen;
    const rs_host_vtable vt{sizeof(rs_host_vtable), RS_HOST_VTABLE_ABI_VERSION, &seen,
                            [](const void* data, size_t, void* user) {
                                auto* s = static_cast<Seen*>(user);
                                std::uint64_t value = 0;
                                std::memcpy(&value, data, sizeof value);
                                if (value != s->next.load(std::memory_order_relaxed)) s->in_order = false;
                                s->next.fetch_add(1, std::memory_order_release);
                            },
                            nullptr, nullptr};
    ASSERT_EQ(rs_sidecar_start(sidecar, &vt), RS_OK);
    constexpr std::uint64_t kCommands = 1'000'000;
    for (std::uint64_t i = 0; i < kCommands; ++i) {
        ASSERT_EQ(rs_ring_write_wait(commands.get(), &i, sizeof i, kWaitNs), RS_OK) << i;
    }
    EXPECT_EQ(rs_sidecar_stop(sidecar, RS_STOP_DRAIN, kWaitNs), RS_OK);
    EXPECT_EQ(seen.next.load(), kCommands);
    EXPECT_TRUE(seen.in_order.load());
    EXPECT_EQ(rs_sidecar_destroy(sidecar), RS_OK);
}

}  // namespace
