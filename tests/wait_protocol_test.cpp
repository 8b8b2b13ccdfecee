// The wait strategies and the park/wake protocol between two threads, under
// every strategy: streams that fill the ring (both directions of waiting),
// strict ping-pong (every message parks), timeouts, the producer that never
// enters the kernel while nobody is parked, epoll arming, fd passing.
// Every wait has a deadline: a lost wake-up fails the test, never hangs it.
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <latch>
#include <thread>

#include "support/test_support.hpp"
#include "wait/clock.hpp"
#include "wait/kernel.hpp"

namespace {

using rstest::describe;
using rstest::RegionPtr;
using rstest::RingPtr;

constexpr std::uint64_t kWaitNs = 5'000'000'000ull;  // any single wait; far above any real one

bool kind_parks(rs_wait_kind kind) {
    return kind == RS_WAIT_FUTEX || kind == RS_WAIT_EVENTFD || kind == RS_WAIT_HYBRID;
}

struct Fd {
    int fd = -1;
    Fd() { EXPECT_EQ(rs_eventfd_create(&fd), RS_OK) << describe(RS_OK); }
    ~Fd() {
        if (fd >= 0) ::close(fd);
    }
    Fd(const Fd&) = delete;
    Fd& operator=(const Fd&) = delete;
};

// One side's strategy: waits on `own` (eventfd kind) and wakes the peer on
// `peer` when the peer parks on an eventfd.
rs_wait_strategy strategy(rs_wait_kind kind, int own = -1, int peer = -1) {
    rs_wait_strategy s;
    rs_wait_strategy_init(&s, kind);
    s.sleep_ns = 20'000;  // 20 us naps keep the sleep runs short
    s.spin_limit = 64;    // hybrid: park soon, so parking is exercised
    s.peer_may_park = kind_parks(kind) ? 1 : 0;
    if (kind == RS_WAIT_EVENTFD) {
        s.eventfd = own;
        s.peer_eventfd = peer;
    }
    return s;
}

// A region with two rings and a handle for each side of each ring, all
// configured for `kind` (eventfds: one per ring direction).
struct Duplex {
    rstest::Scratch scratch;
    RegionPtr region;
    RingPtr to_b_producer, to_b_consumer, to_a_producer, to_a_consumer;
    Fd to_b_data, to_b_space, to_a_data, to_a_space;
    std::string name;

    explicit Duplex(rs_wait_kind kind, std::uint64_t capacity = 4096) {
        const rs_region_options options = rstest::region_options(RS_BACKING_SHM, capacity, 2);
        name = scratch.shm_name("duplex");
        EXPECT_EQ(rstest::create_region(name, options, region), RS_OK);
        if (!region) return;
        EXPECT_EQ(rstest::create_ring(region.get(), 0, RS_ROLE_PRODUCER, to_b_producer), RS_OK);
        EXPECT_EQ(rstest::create_ring(region.get(), 0, RS_ROLE_CONSUMER, to_b_consumer), RS_OK);
        EXPECT_EQ(rstest::create_ring(region.get(), 1, RS_ROLE_PRODUCER, to_a_producer), RS_OK);
        EXPECT_EQ(rstest::create_ring(region.get(), 1, RS_ROLE_CONSUMER, to_a_consumer), RS_OK);
        configure(to_b_producer.get(), strategy(kind, to_b_space.fd, to_b_data.fd));
        configure(to_b_consumer.get(), strategy(kind, to_b_data.fd, to_b_space.fd));
        configure(to_a_producer.get(), strategy(kind, to_a_space.fd, to_a_data.fd));
        configure(to_a_consumer.get(), strategy(kind, to_a_data.fd, to_a_space.fd));
    }

    static void configure(rs_ring_t* ring, const rs_wait_strategy& s) {
        if (ring != nullptr) {
            EXPECT_EQ(rs_ring_set_wait_strategy(ring, &s), RS_OK) << rs_last_error_message();
        }
    }
};

// Producer: writes `count` u64 sequence numbers (with `pad` extra bytes).
std::string produce(rs_ring_t* ring, std::uint64_t count, std::size_t pad) {
    std::uint8_t message[256] = {};
    for (std::uint64_t i = 0; i < count; ++i) {
        std::memcpy(message, &i, sizeof i);
        const rs_result r = rs_ring_write_wait(ring, message, sizeof i + pad, kWaitNs);
        if (r != RS_OK) return "write " + std::to_string(i) + ": " + describe(r);
    }
    return "";
}

// Consumer: reads `count` sequence numbers and checks their order.
std::string consume(rs_ring_t* ring, std::uint64_t count) {
    std::uint8_t message[256] = {};
    for (std::uint64_t i = 0; i < count; ++i) {
        const rs_result waited = rs_ring_wait_readable(ring, kWaitNs);
        if (waited != RS_OK) return "wait for record " + std::to_string(i) + ": " + describe(waited);
        std::size_t length = 0;
        const rs_result r = rs_ring_read(ring, message, sizeof message, &length);
        if (r != RS_OK) return "read " + std::to_string(i) + ": " + describe(r);
        std::uint64_t seen = 0;
        std::memcpy(&seen, message, sizeof seen);
        if (seen != i) return "record " + std::to_string(i) + " carried " + std::to_string(seen);
    }
    return "";
}

// Valgrind runs one thread at a time: two spinners then take turns by time
// slice, and every message costs one. Its preload library gives it away.
bool under_valgrind() {
    const char* preload = std::getenv("LD_PRELOAD");
    return preload != nullptr && std::strstr(preload, "vgpreload") != nullptr;
}

class WaitStrategyTest : public ::testing::TestWithParam<rs_wait_kind> {
protected:
    std::uint64_t messages(std::uint64_t fast) const {
        const rs_wait_kind kind = GetParam();
        if (kind == RS_WAIT_SLEEP) return fast / 10;  // every message may nap
        if (under_valgrind() && (kind == RS_WAIT_BUSY_SPIN || kind == RS_WAIT_SPIN_PAUSE)) return fast / 20;
        return fast;
    }
};

TEST_P(WaitStrategyTest, StreamThroughAFullRingLosesNoWakeUp) {
    Duplex d(GetParam());
    ASSERT_TRUE(d.to_b_consumer);
    const std::uint64_t count = messages(20'000);
    std::string producer_error, consumer_error;
    std::latch start(2);
    std::thread consumer([&] {
        start.arrive_and_wait();
        consumer_error = consume(d.to_b_consumer.get(), count);
    });
    start.arrive_and_wait();
    producer_error = produce(d.to_b_producer.get(), count, 56);  // 64-byte messages: a 4 KiB ring fills
    consumer.join();
    EXPECT_EQ(producer_error, "");
    EXPECT_EQ(consumer_error, "");
}

TEST_P(WaitStrategyTest, StrictPingPongLosesNoWakeUp) {
    Duplex d(GetParam());
    ASSERT_TRUE(d.to_a_consumer);
    const std::uint64_t rounds = messages(5'000);
    std::string a_error, b_error;
    std::latch start(2);
    std::thread b([&] {
        start.arrive_and_wait();
        std::uint64_t value = 0;
        for (std::uint64_t i = 0; i < rounds && b_error.empty(); ++i) {
            const rs_result waited = rs_ring_wait_readable(d.to_b_consumer.get(), kWaitNs);
            if (waited != RS_OK) {
                b_error = "b waits for ping " + std::to_string(i) + ": " + describe(waited);
                break;
            }
            std::size_t length = 0;
            if (rs_ring_read(d.to_b_consumer.get(), &value, sizeof value, &length) != RS_OK || value != i) {
                b_error = "b read ping " + std::to_string(i);
                break;
            }
            if (rs_ring_write_wait(d.to_a_producer.get(), &value, sizeof value, kWaitNs) != RS_OK) {
                b_error = "b writes pong " + std::to_string(i);
            }
        }
    });
    start.arrive_and_wait();
    for (std::uint64_t i = 0; i < rounds && a_error.empty(); ++i) {
        if (rs_ring_write_wait(d.to_b_producer.get(), &i, sizeof i, kWaitNs) != RS_OK) {
            a_error = "a writes ping " + std::to_string(i);
            break;
        }
        const rs_result waited = rs_ring_wait_readable(d.to_a_consumer.get(), kWaitNs);
        if (waited != RS_OK) {
            a_error = "a waits for pong " + std::to_string(i) + ": " + describe(waited);
            break;
        }
        std::uint64_t value = 0;
        std::size_t length = 0;
        if (rs_ring_read(d.to_a_consumer.get(), &value, sizeof value, &length) != RS_OK || value != i) {
            a_error = "a read pong " + std::to_string(i);
        }
    }
    b.join();
    EXPECT_EQ(a_error, "");
    EXPECT_EQ(b_error, "");
}

TEST_P(WaitStrategyTest, WaitOnAnEmptyRingTimesOutAfterItsDeadline) {
    Duplex d(GetParam());
    ASSERT_TRUE(d.to_b_consumer);
    const std::uint64_t start = ringside::monotonic_ns();
    EXPECT_EQ(rs_ring_wait_readable(d.to_b_consumer.get(), 20'000'000), RS_TIMEOUT);
    const std::uint64_t elapsed = ringside::monotonic_ns() - start;
    EXPECT_GE(elapsed, 20'000'000u);
    EXPECT_LT(elapsed, 2'000'000'000u) << "a 20 ms wait took " << elapsed << " ns";
    // A zero timeout tries once.
    EXPECT_EQ(rs_ring_wait_readable(d.to_b_consumer.get(), 0), RS_TIMEOUT);
    // The announcement is withdrawn on timeout: no parked waiter remains.
    rstest::RawMapping raw(rstest::Scratch::backing_path(RS_BACKING_SHM, d.name));
    ASSERT_TRUE(raw.ok());
    EXPECT_EQ(std::atomic_ref<std::uint32_t>(raw.control(0).data_waiters).load(), 0u);
}

TEST_P(WaitStrategyTest, WriteWaitOnAFullRingTimesOutThenSucceedsAfterARelease) {
    Duplex d(GetParam());
    ASSERT_TRUE(d.to_b_producer);
    std::uint8_t message[512] = {};
    while (rs_ring_write(d.to_b_producer.get(), message, sizeof message) == RS_OK) {
    }
    EXPECT_EQ(rs_ring_write_wait(d.to_b_producer.get(), message, sizeof message, 10'000'000), RS_TIMEOUT);
    std::thread releaser([&] {
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
        // Two records: the next one may need padding at the end of the area too.
        std::uint8_t buffer[512];
        std::size_t length = 0;
        for (int i = 0; i < 2; ++i) {
            EXPECT_EQ(rs_ring_read(d.to_b_consumer.get(), buffer, sizeof buffer, &length), RS_OK);
        }
    });
    EXPECT_EQ(rs_ring_write_wait(d.to_b_producer.get(), message, sizeof message, kWaitNs), RS_OK);
    releaser.join();
}

INSTANTIATE_TEST_SUITE_P(EveryStrategy, WaitStrategyTest,
                         ::testing::Values(RS_WAIT_BUSY_SPIN, RS_WAIT_SPIN_PAUSE, RS_WAIT_YIELD, RS_WAIT_SLEEP,
                                           RS_WAIT_FUTEX, RS_WAIT_EVENTFD, RS_WAIT_HYBRID),
                         [](const auto& info) { return std::string(rs_wait_kind_name(info.param)); });

// ---- the producer's fast path ------------------------------------------------

TEST(WakeProtocol, ProducerNeverEntersTheKernelWhileNobodyIsParked) {
    Duplex d(RS_WAIT_FUTEX, 1 << 20);
    ASSERT_TRUE(d.to_b_producer);
    const ringside::KernelCallCounts before = ringside::kernel_call_counts();
    std::uint64_t value = 0;
    for (int i = 0; i < 10'000; ++i) {
        ASSERT_EQ(rs_ring_write(d.to_b_producer.get(), &value, sizeof value), RS_OK);
        std::size_t length = 0;
        ASSERT_EQ(rs_ring_read(d.to_b_consumer.get(), &value, sizeof value, &length), RS_OK);
    }
    const ringside::KernelCallCounts after = ringside::kernel_call_counts();
    EXPECT_EQ(after.futex_wakes, before.futex_wakes);
    EXPECT_EQ(after.eventfd_signals, before.eventfd_signals);
    EXPECT_EQ(after.futex_waits, before.futex_waits);
}

TEST(WakeProtocol, ProducerWakesAParkedConsumerExactlyWhenItIsParked) {
    Duplex d(RS_WAIT_FUTEX);
    ASSERT_TRUE(d.to_b_consumer);
    const ringside::KernelCallCounts before = ringside::kernel_call_counts();
    std::atomic<int> result{-100};
    std::thread consumer([&] { result = rs_ring_wait_readable(d.to_b_consumer.get(), kWaitNs); });
    // Wait (bounded) until the consumer is about to sleep in the kernel.
    const std::uint64_t deadline = ringside::deadline_after(kWaitNs);
    while (ringside::kernel_call_counts().futex_waits == before.futex_waits && ringside::monotonic_ns() < deadline) {
        std::this_thread::sleep_for(std::chrono::microseconds(100));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
    const std::uint64_t value = 42;
    ASSERT_EQ(rs_ring_write(d.to_b_producer.get(), &value, sizeof value), RS_OK);
    consumer.join();
    EXPECT_EQ(result.load(), RS_OK);
    EXPECT_EQ(ringside::kernel_call_counts().futex_wakes, before.futex_wakes + 1);
}

TEST(WakeProtocol, APeerWronglyDeclaredNeverParkingIsNotWoken) {
    // Documents the configuration rule: peer_may_park = 0 while the peer
    // parks leaves it asleep until its own deadline.
    Duplex d(RS_WAIT_FUTEX);
    ASSERT_TRUE(d.to_b_producer);
    rs_wait_strategy wrong = strategy(RS_WAIT_FUTEX);
    wrong.peer_may_park = 0;
    ASSERT_EQ(rs_ring_set_wait_strategy(d.to_b_producer.get(), &wrong), RS_OK);
    const ringside::KernelCallCounts before = ringside::kernel_call_counts();
    std::atomic<int> result{-100};
    std::thread consumer([&] { result = rs_ring_wait_readable(d.to_b_consumer.get(), 50'000'000); });
    const std::uint64_t deadline = ringside::deadline_after(kWaitNs);
    while (ringside::kernel_call_counts().futex_waits == before.futex_waits && ringside::monotonic_ns() < deadline) {
        std::this_thread::sleep_for(std::chrono::microseconds(100));
    }
    const std::uint64_t value = 7;
    ASSERT_EQ(rs_ring_write(d.to_b_producer.get(), &value, sizeof value), RS_OK);
    consumer.join();
    EXPECT_EQ(ringside::kernel_call_counts().futex_wakes, before.futex_wakes);
    // It saw the record at its deadline at the latest (the final re-check).
    EXPECT_EQ(result.load(), RS_OK);
}

// ---- epoll hosts ------------------------------------------------------------------

TEST(WakeProtocol, ArmedConsumerIsWokenThroughEpollOnItsEventfd) {
    Duplex d(RS_WAIT_EVENTFD);
    ASSERT_TRUE(d.to_b_consumer);
    const int epoll = ::epoll_create1(EPOLL_CLOEXEC);
    ASSERT_GE(epoll, 0);
    epoll_event interest{};
    interest.events = EPOLLIN;
    ASSERT_EQ(::epoll_ctl(epoll, EPOLL_CTL_ADD, d.to_b_data.fd, &interest), 0);
    ASSERT_EQ(rs_ring_wait_arm(d.to_b_consumer.get(), 0), RS_EMPTY);
    EXPECT_EQ(rs_ring_wait_arm(d.to_b_consumer.get(), 0), RS_ERR_INVALID_ARGUMENT) << "armed twice";
    std::thread producer([&] {
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
        const std::uint64_t value = 9;
        EXPECT_EQ(rs_ring_write(d.to_b_producer.get(), &value, sizeof value), RS_OK);
    });
    epoll_event ready{};
    EXPECT_EQ(::epoll_wait(epoll, &ready, 1, 5000), 1);
    producer.join();
    std::uint64_t count = 0;
    EXPECT_EQ(::read(d.to_b_data.fd, &count, sizeof count), static_cast<ssize_t>(sizeof count));
    EXPECT_EQ(rs_ring_wait_disarm(d.to_b_consumer.get()), RS_OK);
    EXPECT_EQ(rs_ring_wait_disarm(d.to_b_consumer.get()), RS_ERR_INVALID_ARGUMENT);
    rs_record record{};
    EXPECT_EQ(rs_ring_peek(d.to_b_consumer.get(), &record), RS_OK);
    EXPECT_EQ(rs_ring_release(d.to_b_consumer.get()), RS_OK);
    // With a record already there, arming reports it and stays disarmed.
    const std::uint64_t value = 10;
    ASSERT_EQ(rs_ring_write(d.to_b_producer.get(), &value, sizeof value), RS_OK);
    EXPECT_EQ(rs_ring_wait_arm(d.to_b_consumer.get(), 0), RS_OK);
    EXPECT_EQ(rs_ring_wait_disarm(d.to_b_consumer.get()), RS_ERR_INVALID_ARGUMENT);
    ::close(epoll);
}

TEST(WakeProtocol, ArmedProducerReportsFullUntilRoomAppears) {
    Duplex d(RS_WAIT_EVENTFD);
    ASSERT_TRUE(d.to_b_producer);
    std::uint8_t message[512] = {};
    EXPECT_EQ(rs_ring_wait_arm(d.to_b_producer.get(), sizeof message), RS_OK) << "an empty ring has room";
    while (rs_ring_write(d.to_b_producer.get(), message, sizeof message) == RS_OK) {
    }
    ASSERT_EQ(rs_ring_wait_arm(d.to_b_producer.get(), sizeof message), RS_FULL);
    std::size_t length = 0;
    ASSERT_EQ(rs_ring_read(d.to_b_consumer.get(), message, sizeof message, &length), RS_OK);
    ASSERT_EQ(rs_ring_read(d.to_b_consumer.get(), message, sizeof message, &length), RS_OK);
    pollfd entry{d.to_b_space.fd, POLLIN, 0};
    EXPECT_EQ(::poll(&entry, 1, 5000), 1) << "the release must signal the armed producer's eventfd";
    EXPECT_EQ(rs_ring_wait_disarm(d.to_b_producer.get()), RS_OK);
    EXPECT_EQ(rs_ring_write(d.to_b_producer.get(), message, sizeof message), RS_OK);
}

// ---- options and fds ---------------------------------------------------------------

TEST(WaitOptions, RejectsUninitialisedOrInvalidStrategies) {
    Duplex d(RS_WAIT_HYBRID);
    ASSERT_TRUE(d.to_b_producer);
    rs_wait_strategy s{};
    EXPECT_EQ(rs_ring_set_wait_strategy(d.to_b_producer.get(), &s), RS_ERR_INVALID_ARGUMENT);
    EXPECT_NE(std::strstr(rs_last_error_message(), "rs_wait_strategy_init"), nullptr) << rs_last_error_message();
    rs_wait_strategy_init(&s, RS_WAIT_EVENTFD);
    EXPECT_EQ(rs_ring_set_wait_strategy(d.to_b_producer.get(), &s), RS_ERR_INVALID_ARGUMENT) << "eventfd missing";
    rs_wait_strategy_init(&s, RS_WAIT_FUTEX);
    const int unknown_kind = 99;  // what a C caller may store; not formed as an enum in C++
    std::memcpy(&s.kind, &unknown_kind, sizeof unknown_kind);
    EXPECT_EQ(rs_ring_set_wait_strategy(d.to_b_producer.get(), &s), RS_ERR_INVALID_ARGUMENT);
    rs_wait_strategy_init(&s, RS_WAIT_SLEEP);
    s.sleep_ns = 0;
    EXPECT_EQ(rs_ring_set_wait_strategy(d.to_b_producer.get(), &s), RS_ERR_INVALID_ARGUMENT);
    rs_wait_strategy_init(&s, RS_WAIT_FUTEX);
    s.peer_eventfd = 1'000'000;
    EXPECT_EQ(rs_ring_set_wait_strategy(d.to_b_producer.get(), &s), RS_ERR_INVALID_ARGUMENT) << "not an open fd";
    EXPECT_EQ(rs_ring_set_wait_strategy(d.to_b_producer.get(), nullptr), RS_OK) << "NULL restores the default";
    EXPECT_EQ(rs_ring_set_wait_strategy(nullptr, nullptr), RS_ERR_INVALID_ARGUMENT);
    EXPECT_STREQ(rs_wait_kind_name(RS_WAIT_FUTEX), "futex");
}

TEST(WaitOptions, TheLibraryKeepsItsOwnCopyOfAnEventfd) {
    Duplex d(RS_WAIT_FUTEX);
    ASSERT_TRUE(d.to_b_consumer);
    int fd = -1;
    ASSERT_EQ(rs_eventfd_create(&fd), RS_OK);
    rs_wait_strategy s = strategy(RS_WAIT_EVENTFD, fd, -1);
    ASSERT_EQ(rs_ring_set_wait_strategy(d.to_b_consumer.get(), &s), RS_OK);
    ::close(fd);  // the caller's copy: the handle still works
    EXPECT_EQ(rs_ring_wait_readable(d.to_b_consumer.get(), 1'000'000), RS_TIMEOUT);
}

TEST(FdPassing, AnEventfdSentOverAUnixSocketSignalsTheOriginal) {
    int pair[2] = {-1, -1};
    ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair), 0);
    Fd original;
    ASSERT_EQ(rs_fd_send(pair[0], original.fd), RS_OK);
    int received = -1;
    ASSERT_EQ(rs_fd_receive(pair[1], &received, kWaitNs), RS_OK);
    ASSERT_GE(received, 0);
    EXPECT_NE(received, original.fd);
    const std::uint64_t one = 1;
    ASSERT_EQ(::write(received, &one, sizeof one), static_cast<ssize_t>(sizeof one));
    std::uint64_t count = 0;
    EXPECT_EQ(::read(original.fd, &count, sizeof count), static_cast<ssize_t>(sizeof count));
    EXPECT_EQ(count, 1u);
    ::close(received);
    EXPECT_EQ(rs_fd_receive(pair[1], &received, 1'000'000), RS_TIMEOUT);
    ::close(pair[0]);
    EXPECT_EQ(rs_fd_receive(pair[1], &received, kWaitNs), RS_ERR_CLOSED);
    ::close(pair[1]);
    EXPECT_EQ(rs_fd_send(-1, 0), RS_ERR_INVALID_ARGUMENT);
    EXPECT_EQ(rs_fd_receive(0, nullptr, 0), RS_ERR_INVALID_ARGUMENT);
}

}  // namespace
