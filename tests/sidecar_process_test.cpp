// Across processes: the wake-up protocol between a parent and a forked child
// that opens the region by name (futex words in shared memory, eventfds
// inherited or passed over a Unix socket), a sidecar serving another
// process through the event ring, and SCHED_FIFO refused once CAP_SYS_NICE
// is dropped (the test binary re-executed under setpriv).
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "support/test_support.hpp"

namespace {

using rstest::describe;
using rstest::RegionPtr;
using rstest::RingPtr;

constexpr std::uint64_t kWaitNs = 5'000'000'000ull;

rs_wait_strategy strategy(rs_wait_kind kind, int own, int peer) {
    rs_wait_strategy s;
    rs_wait_strategy_init(&s, kind);
    s.spin_limit = 64;
    s.peer_may_park = (kind == RS_WAIT_FUTEX || kind == RS_WAIT_EVENTFD || kind == RS_WAIT_HYBRID) ? 1 : 0;
    if (kind == RS_WAIT_EVENTFD) {
        s.eventfd = own;
        s.peer_eventfd = peer;
    }
    return s;
}

// The child's half of a ping-pong: opens the region by name, consumes ring 0
// and answers each value on ring 1. Returns 0 on success (no gtest here).
int echo_child(const std::string& name, rs_wait_kind kind, int fds[4], std::uint64_t rounds) {
    rs_region_t* region = nullptr;
    if (rs_region_open(name.c_str(), nullptr, &region) != RS_OK) return 10;
    rs_ring_t* in = nullptr;
    rs_ring_t* out = nullptr;
    if (rs_ring_create(region, 0, RS_ROLE_CONSUMER, &in) != RS_OK) return 11;
    if (rs_ring_create(region, 1, RS_ROLE_PRODUCER, &out) != RS_OK) return 12;
    // fds: 0 = ring 0 data, 1 = ring 0 space, 2 = ring 1 data, 3 = ring 1 space
    rs_wait_strategy in_wait = strategy(kind, fds[0], fds[1]);
    rs_wait_strategy out_wait = strategy(kind, fds[3], fds[2]);
    if (rs_ring_set_wait_strategy(in, &in_wait) != RS_OK) return 13;
    if (rs_ring_set_wait_strategy(out, &out_wait) != RS_OK) return 14;
    for (std::uint64_t i = 0; i < rounds; ++i) {
        if (rs_ring_wait_readable(in, kWaitNs) != RS_OK) return 20;  // a lost wake-up ends here
        std::uint64_t value = 0;
        std::size_t length = 0;
        if (rs_ring_read(in, &value, sizeof value, &length) != RS_OK || value != i) return 21;
        if (rs_ring_write_wait(out, &value, sizeof value, kWaitNs) != RS_OK) return 22;
    }
    rs_ring_destroy(in);
    rs_ring_destroy(out);
    return rs_region_destroy(region) == RS_OK ? 0 : 30;
}

// The parent's half. Returns "" or what went wrong.
std::string ping(rs_ring_t* out, rs_ring_t* in, std::uint64_t rounds) {
    for (std::uint64_t i = 0; i < rounds; ++i) {
        if (rs_ring_write_wait(out, &i, sizeof i, kWaitNs) != RS_OK) return "write " + std::to_string(i);
        const rs_result waited = rs_ring_wait_readable(in, kWaitNs);
        if (waited != RS_OK) return "wait for echo " + std::to_string(i) + ": " + describe(waited);
        std::uint64_t value = 0;
        std::size_t length = 0;
        if (rs_ring_read(in, &value, sizeof value, &length) != RS_OK || value != i) return "echo " + std::to_string(i);
    }
    return "";
}

class CrossProcessWait : public ::testing::TestWithParam<rs_wait_kind> {};

TEST_P(CrossProcessWait, PingPongWithAForkedChildLosesNoWakeUp) {
    const rs_wait_kind kind = GetParam();
    rstest::Scratch scratch;
    const std::string name = scratch.shm_name("xproc");
    RegionPtr region;
    ASSERT_EQ(rstest::create_region(name, rstest::region_options(RS_BACKING_SHM, 4096, 2), region), RS_OK);
    RingPtr out, in;
    ASSERT_EQ(rstest::create_ring(region.get(), 0, RS_ROLE_PRODUCER, out), RS_OK);
    ASSERT_EQ(rstest::create_ring(region.get(), 1, RS_ROLE_CONSUMER, in), RS_OK);
    int fds[4] = {-1, -1, -1, -1};  // inherited by the child across fork
    if (kind == RS_WAIT_EVENTFD) {
        for (int& fd : fds) ASSERT_EQ(rs_eventfd_create(&fd), RS_OK);
    }
    rs_wait_strategy out_wait = strategy(kind, fds[1], fds[0]);
    rs_wait_strategy in_wait = strategy(kind, fds[2], fds[3]);
    ASSERT_EQ(rs_ring_set_wait_strategy(out.get(), &out_wait), RS_OK);
    ASSERT_EQ(rs_ring_set_wait_strategy(in.get(), &in_wait), RS_OK);
    constexpr std::uint64_t kRounds = 3000;
    const pid_t child = rstest::fork_child([&] { return echo_child(name, kind, fds, kRounds); });
    EXPECT_EQ(ping(out.get(), in.get(), kRounds), "");
    EXPECT_EQ(rstest::wait_child(child, 60'000), 0);
    for (int fd : fds) {
        if (fd >= 0) ::close(fd);
    }
}

INSTANTIATE_TEST_SUITE_P(ParkingAndSpinning, CrossProcessWait,
                         ::testing::Values(RS_WAIT_FUTEX, RS_WAIT_EVENTFD, RS_WAIT_HYBRID, RS_WAIT_SPIN_PAUSE),
                         [](const auto& info) { return std::string(rs_wait_kind_name(info.param)); });

TEST(CrossProcessWait, EventfdsPassedOverAUnixSocketWakeTheOtherProcess) {
    rstest::Scratch scratch;
    const std::string name = scratch.shm_name("xfd");
    RegionPtr region;
    ASSERT_EQ(rstest::create_region(name, rstest::region_options(RS_BACKING_SHM, 4096, 2), region), RS_OK);
    int pair[2] = {-1, -1};
    ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair), 0);
    constexpr std::uint64_t kRounds = 1000;
    const pid_t child = rstest::fork_child([&] {
        ::close(pair[0]);
        int fds[4] = {-1, -1, -1, -1};
        for (int& fd : fds) {
            if (rs_fd_receive(pair[1], &fd, kWaitNs) != RS_OK) return 40;
        }
        return echo_child(name, RS_WAIT_EVENTFD, fds, kRounds);
    });
    ::close(pair[1]);
    int fds[4] = {-1, -1, -1, -1};
    for (int& fd : fds) {
        ASSERT_EQ(rs_eventfd_create(&fd), RS_OK);
        ASSERT_EQ(rs_fd_send(pair[0], fd), RS_OK);
    }
    RingPtr out, in;
    ASSERT_EQ(rstest::create_ring(region.get(), 0, RS_ROLE_PRODUCER, out), RS_OK);
    ASSERT_EQ(rstest::create_ring(region.get(), 1, RS_ROLE_CONSUMER, in), RS_OK);
    rs_wait_strategy out_wait = strategy(RS_WAIT_EVENTFD, fds[1], fds[0]);
    rs_wait_strategy in_wait = strategy(RS_WAIT_EVENTFD, fds[2], fds[3]);
    ASSERT_EQ(rs_ring_set_wait_strategy(out.get(), &out_wait), RS_OK);
    ASSERT_EQ(rs_ring_set_wait_strategy(in.get(), &in_wait), RS_OK);
    EXPECT_EQ(ping(out.get(), in.get(), kRounds), "");
    EXPECT_EQ(rstest::wait_child(child, 60'000), 0);
    for (int fd : fds) ::close(fd);
    ::close(pair[0]);
}

// ---- a sidecar serving another process -----------------------------------------

TEST(CrossProcessSidecar, ASidecarInAChildServesTheParentThroughTheEventRing) {
    rstest::Scratch scratch;
    const std::string name = scratch.shm_name("xsidecar");
    RegionPtr region;
    ASSERT_EQ(rstest::create_region(name, rstest::region_options(RS_BACKING_SHM, 65536, 2), region), RS_OK);
    rstest::Pipe ready, quit;
    constexpr std::uint64_t kCommands = 5000;
    const pid_t child = rstest::fork_child([&] {
        rs_region_t* mine = nullptr;
        if (rs_region_open(name.c_str(), nullptr, &mine) != RS_OK) return 10;
        rs_sidecar_options options;
        rs_sidecar_options_init(&options);
        options.delivery = RS_DELIVER_RING;
        options.processor = rs_processor_timestamp;
        rs_wait_strategy_init(&options.command_wait, RS_WAIT_FUTEX);
        rs_wait_strategy_init(&options.event_wait, RS_WAIT_FUTEX);
        rs_sidecar_t* sidecar = nullptr;
        if (rs_sidecar_create(mine, &options, &sidecar) != RS_OK) return 11;
        if (rs_sidecar_start(sidecar, nullptr) != RS_OK) return 12;
        const char go = 'g';
        if (!ready.send(&go, 1)) return 13;
        char stop = 0;
        if (!quit.receive(&stop, 1, 60'000)) return 14;
        if (rs_sidecar_stop(sidecar, RS_STOP_DRAIN, kWaitNs) != RS_OK) return 15;
        rs_sidecar_stats stats{};
        stats.struct_size = sizeof stats;
        rs_sidecar_get_stats(sidecar, &stats);
        if (stats.commands_processed != kCommands || stats.events_emitted != kCommands) return 16;
        if (rs_sidecar_destroy(sidecar) != RS_OK) return 17;
        return rs_region_destroy(mine) == RS_OK ? 0 : 18;
    });
    char go = 0;
    ASSERT_TRUE(ready.receive(&go, 1, 30'000)) << "the child's sidecar did not start";
    RingPtr commands, events;
    ASSERT_EQ(rstest::create_ring(region.get(), 0, RS_ROLE_PRODUCER, commands), RS_OK);
    ASSERT_EQ(rstest::create_ring(region.get(), 1, RS_ROLE_CONSUMER, events), RS_OK);
    rs_wait_strategy futex;
    rs_wait_strategy_init(&futex, RS_WAIT_FUTEX);
    ASSERT_EQ(rs_ring_set_wait_strategy(commands.get(), &futex), RS_OK);
    ASSERT_EQ(rs_ring_set_wait_strategy(events.get(), &futex), RS_OK);
    struct Seen {
        std::uint64_t count = 0;
        bool in_order = true;
        bool stamped = true;
    } seen;
    const rs_host_vtable vt{sizeof(rs_host_vtable), RS_HOST_VTABLE_ABI_VERSION, &seen,
                            [](const void* data, size_t length, void* user) {
                                auto* s = static_cast<Seen*>(user);
                                std::uint64_t stamp = 0, value = 0;
                                if (length != 16) {
                                    s->in_order = false;
                                    return;
                                }
                                std::memcpy(&stamp, data, 8);
                                std::memcpy(&value, static_cast<const char*>(data) + 8, 8);
                                s->stamped = s->stamped && stamp != 0;
                                s->in_order = s->in_order && value == s->count;
                                ++s->count;
                            },
                            nullptr, nullptr};
    for (std::uint64_t i = 0; i < kCommands; ++i) {
        ASSERT_EQ(rs_ring_write_wait(commands.get(), &i, sizeof i, kWaitNs), RS_OK) << i;
        if (i % 16 == 15) {
            while (seen.count <= i) {
                ASSERT_EQ(rs_host_dispatch_events(events.get(), &vt, 64, kWaitNs, nullptr), RS_OK) << i;
            }
        }
    }
    while (seen.count < kCommands) {
        ASSERT_EQ(rs_host_dispatch_events(events.get(), &vt, 64, kWaitNs, nullptr), RS_OK);
    }
    EXPECT_TRUE(seen.in_order);
    EXPECT_TRUE(seen.stamped);
    // What another process's inspector sees: the status block.
    rstest::RawMapping raw(rstest::Scratch::backing_path(RS_BACKING_SHM, name));
    ASSERT_TRUE(raw.ok());
    auto& status = *reinterpret_cast<ringside::layout::StatusBlock*>(raw.base() + ringside::layout::kStatusOffset);
    EXPECT_EQ(std::atomic_ref<std::uint32_t>(status.sidecar_state).load(), static_cast<std::uint32_t>(RS_SIDECAR_RUNNING));
    EXPECT_EQ(std::atomic_ref<std::int32_t>(status.sidecar_pid).load(), child);
    EXPECT_EQ(std::atomic_ref<std::uint64_t>(status.events_emitted).load(), kCommands);
    const char stop = 's';
    ASSERT_TRUE(quit.send(&stop, 1));
    EXPECT_EQ(rstest::wait_child(child, 60'000), 0);
    EXPECT_EQ(std::atomic_ref<std::uint32_t>(status.sidecar_state).load(), static_cast<std::uint32_t>(RS_SIDECAR_STOPPED));
}

// ---- SCHED_FIFO without CAP_SYS_NICE ------------------------------------------------

constexpr const char* kChildEnv = "RINGSIDE_SCHED_CHILD";

// Runs only inside the re-executed binary (see the next test).
TEST(SchedWithoutCapSysNice, ChildSide) {
    if (std::getenv(kChildEnv) == nullptr) GTEST_SKIP() << "runs only when re-executed under setpriv";
    // RLIMIT_RTPRIO could grant FIFO without the capability: lower it to 0
    // (always allowed).
    rlimit none{0, 0};
    ASSERT_EQ(::setrlimit(RLIMIT_RTPRIO, &none), 0);
    rstest::Scratch scratch;
    RegionPtr region;
    ASSERT_EQ(rstest::create_region(scratch.shm_name("nocap"), rstest::region_options(RS_BACKING_SHM, 65536, 2),
                                    region),
              RS_OK);
    rs_sidecar_options options;
    rs_sidecar_options_init(&options);
    rs_wait_strategy_init(&options.command_wait, RS_WAIT_FUTEX);
    options.policy = RS_SCHED_FIFO;
    options.priority = 10;
    const rs_host_vtable vt{sizeof(rs_host_vtable), RS_HOST_VTABLE_ABI_VERSION, nullptr,
                            [](const void*, size_t, void*) {}, nullptr, nullptr};
    // Fail mode: start returns the error and leaves no thread.
    rs_sidecar_t* sidecar = nullptr;
    ASSERT_EQ(rs_sidecar_create(region.get(), &options, &sidecar), RS_OK);
    EXPECT_EQ(rs_sidecar_start(sidecar, &vt), RS_ERR_PERMISSION);
    EXPECT_NE(std::strstr(rs_last_error_message(), "SCHED_FIFO"), nullptr) << rs_last_error_message();
    EXPECT_NE(std::strstr(rs_last_error_message(), "CAP_SYS_NICE"), nullptr) << rs_last_error_message();
    EXPECT_EQ(rs_sidecar_destroy(sidecar), RS_OK);
    // Downgrade mode: it runs, as SCHED_OTHER, and says so.
    options.on_refused = RS_REFUSED_DOWNGRADE;
    ASSERT_EQ(rs_sidecar_create(region.get(), &options, &sidecar), RS_OK);
    ASSERT_EQ(rs_sidecar_start(sidecar, &vt), RS_OK);
    rs_sidecar_sched s{};
    s.struct_size = sizeof s;
    ASSERT_EQ(rs_sidecar_get_sched(sidecar, &s), RS_OK);
    EXPECT_EQ(s.requested_policy, RS_SCHED_FIFO);
    EXPECT_EQ(s.granted_policy, RS_SCHED_OTHER);
    EXPECT_EQ(::sched_getscheduler(s.tid), SCHED_OTHER);
    EXPECT_EQ(s.downgraded, 1);
    EXPECT_EQ(s.refused_errno, EPERM);
    EXPECT_NE(std::strstr(s.refused, "SCHED_FIFO priority 10"), nullptr) << s.refused;
    EXPECT_EQ(rs_sidecar_stop(sidecar, RS_STOP_DRAIN, kWaitNs), RS_OK);
    EXPECT_EQ(rs_sidecar_destroy(sidecar), RS_OK);
}

TEST(SchedWithoutCapSysNice, FifoIsRefusedAndTheDowngradeRecorded) {
    if (std::getenv(kChildEnv) != nullptr) GTEST_SKIP() << "the child runs ChildSide only";
    const char* candidates[] = {"/usr/bin/setpriv", "/bin/setpriv"};
    const char* setpriv = nullptr;
    for (const char* path : candidates) {
        if (::access(path, X_OK) == 0) setpriv = path;
    }
    if (setpriv == nullptr) GTEST_SKIP() << "setpriv (util-linux) is not installed: cannot drop CAP_SYS_NICE";
    char self[4096] = {};
    const ssize_t n = ::readlink("/proc/self/exe", self, sizeof self - 1);
    ASSERT_GT(n, 0);
    // Can setpriv drop the capability here at all (it needs CAP_SETPCAP)?
    const std::string probe = std::string(setpriv) + " --inh-caps=-sys_nice --bounding-set=-sys_nice true 2>&1";
    if (std::system(probe.c_str()) != 0) GTEST_SKIP() << "setpriv cannot drop CAP_SYS_NICE in this environment";
    const std::string command = std::string(kChildEnv) + "=1 " + setpriv +
                                " --inh-caps=-sys_nice --bounding-set=-sys_nice " + self +
                                " --gtest_filter=SchedWithoutCapSysNice.ChildSide 2>&1";
    FILE* pipe = ::popen(command.c_str(), "r");
    ASSERT_NE(pipe, nullptr);
    std::string output;
    char buffer[512];
    while (std::fgets(buffer, sizeof buffer, pipe) != nullptr) output += buffer;
    const int status = ::pclose(pipe);
    ASSERT_TRUE(WIFEXITED(status)) << output;
    EXPECT_EQ(WEXITSTATUS(status), 0) << output;
    EXPECT_NE(output.find("[  PASSED  ] 1 test"), std::string::npos) << output;
    EXPECT_EQ(output.find("SKIPPED"), std::string::npos) << output;
}

}  // namespace
