// ringside_sidecar_bench: issue-3 performance evidence (Google Benchmark).
//
//   Dispatch/direct, Dispatch/vtable
//       one call of an on_event-shaped function, direct vs through a copied
//       rs_host_vtable (what the sidecar does). Target: within 2 ns.
//   RoundTrip/cacheline_floor vs RoundTrip/sidecar_spin
//       host -> sidecar -> v-table -> host with busy-spin on both sides
//       (peer_may_park = 0), against two threads bouncing a word through two
//       cache lines. Target: sidecar <= 1.25x the floor.
//   RoundTrip/futex_floor vs RoundTrip/sidecar_futex
//       the same with the futex strategy, against two threads that always
//       FUTEX_WAKE / FUTEX_WAIT. Target: sidecar <= 1.2x the floor.
//   RoundTrip/sidecar_spin_ring
//       busy-spin with events back on the event ring (the cross-process
//       path), for reference.
// The host side runs on the first allowed CPU, the peer (thread or sidecar)
// on the last one. Every spin is bounded (5 s): a stall is an error row.
// Compare rows of one run, run with --benchmark_enable_random_interleaving.
#include <benchmark/benchmark.h>
#include <linux/futex.h>
#include <pthread.h>
#include <sched.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <climits>
#include <cstdint>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "ringside/ringside.h"
#include "wait/clock.hpp"
#include "wait/park.hpp"

namespace {

constexpr std::uint64_t kPatienceNs = 5'000'000'000ull;
constexpr std::size_t kLine = 128;

int g_host_cpu = 0;
int g_peer_cpu = 0;

void pick_cpus() {
    cpu_set_t set;
    CPU_ZERO(&set);
    sched_getaffinity(0, sizeof set, &set);
    int first = -1, last = -1;
    for (int cpu = 0; cpu < CPU_SETSIZE; ++cpu) {
        if (!CPU_ISSET(cpu, &set)) continue;
        if (first < 0) first = cpu;
        last = cpu;
    }
    g_host_cpu = first < 0 ? 0 : first;
    g_peer_cpu = last < 0 ? 0 : last;
}

bool pin(int cpu) {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    return pthread_setaffinity_np(pthread_self(), sizeof set, &set) == 0;
}

// Spins until `done()`; false after kPatienceNs (the clock is read rarely).
template <typename Done>
bool spin_until(Done&& done) {
    std::uint64_t deadline = 0;
    for (std::uint64_t i = 1;; ++i) {
        if (done()) return true;
        if ((i & 0xFFFF) == 0) {
            const std::uint64_t now = ringside::monotonic_ns();
            if (deadline == 0) {
                deadline = now + kPatienceNs;
            } else if (now > deadline) {
                return false;
            }
        }
    }
}

// Per-round-trip time that a preemption cannot drag: the loop reads the
// clock once per kBatch round trips, and the reported `rt_median_ns` is the
// median batch divided by kBatch. On a machine shared with other work (a
// spinning side loses its CPU for whole time slices) the mean that Google
// Benchmark reports swings by 10x; the median batch does not.
class BatchClock {
public:
    static constexpr std::uint64_t kBatch = 64;
    explicit BatchClock(std::int64_t iterations) { stamps_.reserve(static_cast<std::size_t>(iterations / kBatch) + 2); }
    void tick() {
        if (count_++ % kBatch == 0) stamps_.push_back(ringside::monotonic_ns());
    }
    void report(benchmark::State& state) {
        if (stamps_.size() < 2) return;
        std::vector<std::uint64_t> batches;
        for (std::size_t i = 1; i < stamps_.size(); ++i) batches.push_back(stamps_[i] - stamps_[i - 1]);
        std::nth_element(batches.begin(), batches.begin() + batches.size() / 2, batches.end());
        state.counters["rt_median_ns"] = static_cast<double>(batches[batches.size() / 2]) / kBatch;
    }

private:
    std::vector<std::uint64_t> stamps_;
    std::uint64_t count_ = 0;
};

// ---- dispatch ---------------------------------------------------------------

struct Sink {
    std::uint64_t bytes = 0;
};

__attribute__((noinline)) void on_event_direct(const void* data, size_t length, void* user) {
    auto* sink = static_cast<Sink*>(user);
    sink->bytes += length + *static_cast<const std::uint8_t*>(data);
}

void BM_DispatchDirect(benchmark::State& state) {
    Sink sink;
    std::uint8_t event[8] = {1};
    for (auto _ : state) {
        on_event_direct(event, sizeof event, &sink);
        benchmark::ClobberMemory();
    }
    benchmark::DoNotOptimize(sink.bytes);
}

void BM_DispatchVtable(benchmark::State& state) {
    Sink sink;
    std::uint8_t event[8] = {1};
    const rs_host_vtable host{sizeof(rs_host_vtable), RS_HOST_VTABLE_ABI_VERSION, &sink, on_event_direct, nullptr,
                              nullptr};
    if (rs_host_vtable_check(&host) != RS_OK) state.SkipWithError(rs_last_error_message());
    rs_host_vtable copy = host;  // the sidecar calls through its copy
    benchmark::DoNotOptimize(&copy);
    for (auto _ : state) {
        benchmark::DoNotOptimize(copy.on_event);  // an opaque, indirect call
        copy.on_event(event, sizeof event, copy.user);
        benchmark::ClobberMemory();
    }
    benchmark::DoNotOptimize(sink.bytes);
}

// ---- floors -----------------------------------------------------------------

struct alignas(kLine) Word {
    std::atomic<std::uint64_t> value{0};
};
struct alignas(kLine) FutexWord {
    std::uint32_t value = 0;
};

// A -> B on one line, B -> A on another; B echoes what it sees.
void BM_CacheLineFloor(benchmark::State& state) {
    Word ping, pong;
    std::atomic<bool> stop{false};
    std::atomic<bool> b_failed{false};
    std::thread b([&] {
        pin(g_peer_cpu);
        std::uint64_t seen = 0;
        while (!stop.load(std::memory_order_relaxed)) {
            std::uint64_t value = 0;
            if (!spin_until([&] {
                    value = ping.value.load(std::memory_order_acquire);
                    return value != seen || stop.load(std::memory_order_relaxed);
                })) {
                b_failed = true;
                return;
            }
            seen = value;
            pong.value.store(value, std::memory_order_release);
        }
    });
    pin(g_host_cpu);
    std::uint64_t sequence = 0;
    BatchClock clock(state.max_iterations);
    for (auto _ : state) {
        clock.tick();
        ++sequence;
        ping.value.store(sequence, std::memory_order_release);
        if (!spin_until([&] { return pong.value.load(std::memory_order_acquire) == sequence; })) {
            state.SkipWithError("cache-line floor: no echo within 5 s");
            break;
        }
    }
    clock.report(state);
    stop = true;
    ping.value.store(~std::uint64_t{0}, std::memory_order_release);
    b.join();
    if (b_failed) state.SkipWithError("cache-line floor: side B stalled");
}

long futex(std::uint32_t* word, int op, std::uint32_t value, const timespec* timeout) {
    return syscall(SYS_futex, word, op, value, timeout, nullptr, 0);
}

// Always FUTEX_WAKE after a store, always FUTEX_WAIT while the word is
// unchanged: the kernel's floor for a parked ping-pong (shared futexes, as
// across processes).
void BM_FutexFloor(benchmark::State& state) {
    FutexWord ping, pong;
    std::atomic<bool> stop{false};
    std::atomic<bool> b_failed{false};
    auto wait_for_change = [](FutexWord& word, std::uint32_t old, const std::atomic<bool>& quit) {
        const std::uint64_t deadline = ringside::deadline_after(kPatienceNs);
        for (;;) {
            const std::uint32_t now = std::atomic_ref<std::uint32_t>(word.value).load(std::memory_order_acquire);
            if (now != old || quit.load(std::memory_order_relaxed)) return true;
            if (ringside::monotonic_ns() > deadline) return false;
            const timespec slice{0, 100'000'000};
            futex(&word.value, FUTEX_WAIT, old, &slice);
        }
    };
    std::thread b([&] {
        pin(g_peer_cpu);
        std::uint32_t seen = 0;
        while (!stop.load(std::memory_order_relaxed)) {
            if (!wait_for_change(ping, seen, stop)) {
                b_failed = true;
                return;
            }
            seen = std::atomic_ref<std::uint32_t>(ping.value).load(std::memory_order_acquire);
            std::atomic_ref<std::uint32_t>(pong.value).store(seen, std::memory_order_release);
            futex(&pong.value, FUTEX_WAKE, INT_MAX, nullptr);
        }
    });
    pin(g_host_cpu);
    std::uint32_t sequence = 0;
    std::atomic<bool> never{false};
    BatchClock clock(state.max_iterations);
    for (auto _ : state) {
        clock.tick();
        const std::uint32_t old = sequence++;
        std::atomic_ref<std::uint32_t>(ping.value).store(sequence, std::memory_order_release);
        futex(&ping.value, FUTEX_WAKE, INT_MAX, nullptr);
        if (!wait_for_change(pong, old, never)) {
            state.SkipWithError("futex floor: no echo within 5 s");
            break;
        }
    }
    clock.report(state);
    stop = true;
    std::atomic_ref<std::uint32_t>(ping.value).fetch_add(1);
    futex(&ping.value, FUTEX_WAKE, INT_MAX, nullptr);
    b.join();
    if (b_failed) state.SkipWithError("futex floor: side B stalled");
}

// ---- the sidecar ----------------------------------------------------------------

// What the host's on_event publishes: the last echoed value, and (futex
// rows) the park/wake words of the host waiting for it.
struct alignas(kLine) HostInbox {
    std::uint64_t value = 0;  // atomic_ref
    alignas(kLine) std::uint32_t sequence = 0;
    std::uint32_t waiters = 0;
    bool may_park = false;
};

void inbox_event(const void* data, size_t, void* user) {
    auto* inbox = static_cast<HostInbox*>(user);
    std::uint64_t value = 0;
    std::memcpy(&value, data, sizeof value);
    std::atomic_ref<std::uint64_t>(inbox->value).store(value, std::memory_order_release);
    // The same protocol the library uses: no syscall unless the host parked.
    ringside::notify({&inbox->sequence, &inbox->waiters}, ringside::PeerWake{inbox->may_park, -1});
}

enum class Row { kSpin, kFutex, kSpinRing };

void BM_Sidecar(benchmark::State& state, Row row) {
    const bool futex_row = row == Row::kFutex;
    const bool ring_row = row == Row::kSpinRing;
    const rs_wait_kind kind = futex_row ? RS_WAIT_FUTEX : RS_WAIT_BUSY_SPIN;
    char name[64];
    std::snprintf(name, sizeof name, "/rs-bench-sidecar-%d", static_cast<int>(getpid()));
    rs_region_options region_options;
    rs_region_options_init(&region_options);
    region_options.ring_count = 2;
    region_options.ring_capacity = 1 << 16;
    rs_region_t* region = nullptr;
    if (rs_region_create(name, &region_options, &region) != RS_OK) {
        state.SkipWithError(rs_last_error_message());
        return;
    }
    rs_wait_strategy wait;
    rs_wait_strategy_init(&wait, kind);
    wait.peer_may_park = futex_row ? 1 : 0;
    rs_ring_t* commands = nullptr;
    rs_ring_t* events = nullptr;
    (void)rs_ring_create(region, 0, RS_ROLE_PRODUCER, &commands);
    (void)rs_ring_set_wait_strategy(commands, &wait);
    if (ring_row) {
        (void)rs_ring_create(region, 1, RS_ROLE_CONSUMER, &events);
        (void)rs_ring_set_wait_strategy(events, &wait);
    }
    rs_sidecar_options options;
    rs_sidecar_options_init(&options);
    options.delivery = ring_row ? RS_DELIVER_RING : RS_DELIVER_VTABLE;
    options.command_wait = wait;
    options.event_wait = wait;
    options.cpu_mask[g_peer_cpu / 64] = std::uint64_t{1} << (g_peer_cpu % 64);
    HostInbox inbox;
    inbox.may_park = futex_row;
    const rs_host_vtable vt{sizeof(rs_host_vtable), RS_HOST_VTABLE_ABI_VERSION, &inbox, inbox_event, nullptr,
                            nullptr};
    rs_sidecar_t* sidecar = nullptr;
    if (rs_sidecar_create(region, &options, &sidecar) != RS_OK || rs_sidecar_start(sidecar, &vt) != RS_OK) {
        state.SkipWithError(rs_last_error_message());
    } else {
        pin(g_host_cpu);
        ringside::WaitStrategy host_wait;
        host_wait.kind = futex_row ? ringside::WaitKind::kFutex : ringside::WaitKind::kBusySpin;
        std::uint64_t sequence = 0;
        std::uint64_t echoed = 0;
        BatchClock clock(state.max_iterations);
        for (auto _ : state) {
            clock.tick();
            ++sequence;
            if (rs_ring_write(commands, &sequence, sizeof sequence) != RS_OK) {
                state.SkipWithError("command ring full");
                break;
            }
            bool ok = false;
            if (ring_row) {
                ok = spin_until([&] {
                    std::size_t length = 0;
                    return rs_ring_read(events, &echoed, sizeof echoed, &length) == RS_OK;
                }) && echoed == sequence;
            } else {
                auto arrived = [&] {
                    return std::atomic_ref<std::uint64_t>(inbox.value).load(std::memory_order_acquire) == sequence;
                };
                ok = ringside::wait_until(host_wait, {&inbox.sequence, &inbox.waiters},
                                          ringside::deadline_after(kPatienceNs), arrived) ==
                     ringside::WaitResult::kReady;
            }
            if (!ok) {
                state.SkipWithError("no event within 5 s");
                break;
            }
        }
        clock.report(state);
        (void)rs_sidecar_stop(sidecar, RS_STOP_DISCARD, kPatienceNs);
    }
    if (sidecar != nullptr) (void)rs_sidecar_destroy(sidecar);
    if (events != nullptr) (void)rs_ring_destroy(events);
    (void)rs_ring_destroy(commands);
    (void)rs_region_destroy(region);
}

}  // namespace

BENCHMARK(BM_DispatchDirect)->Name("Dispatch/direct");
BENCHMARK(BM_DispatchVtable)->Name("Dispatch/vtable");
BENCHMARK(BM_CacheLineFloor)->Name("RoundTrip/cacheline_floor")->Iterations(200'000)->UseRealTime();
BENCHMARK_CAPTURE(BM_Sidecar, spin, Row::kSpin)->Name("RoundTrip/sidecar_spin")->Iterations(200'000)->UseRealTime();
BENCHMARK_CAPTURE(BM_Sidecar, spin_ring, Row::kSpinRing)
    ->Name("RoundTrip/sidecar_spin_ring")
    ->Iterations(200'000)
    ->UseRealTime();
BENCHMARK(BM_FutexFloor)->Name("RoundTrip/futex_floor")->Iterations(20'000)->UseRealTime();
BENCHMARK_CAPTURE(BM_Sidecar, futex, Row::kFutex)->Name("RoundTrip/sidecar_futex")->Iterations(20'000)->UseRealTime();

int main(int argc, char** argv) {
    pick_cpus();
    benchmark::Initialize(&argc, argv);
    if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
    benchmark::AddCustomContext("host_cpu", std::to_string(g_host_cpu));
    benchmark::AddCustomContext("peer_cpu", std::to_string(g_peer_cpu));
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    return 0;
}
