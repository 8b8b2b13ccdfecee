// ringside_micro: issue-2 performance evidence. Two threads pinned to two
// CPUs pass 8-byte records through ringside and through comparison peers:
//   RoundTrip/<row>   A sends a sequence number on channel 0, B echoes it on
//                     channel 1, A waits for the echo. Time per round trip.
//   Throughput/<row>  A sends records as fast as it can, B drains and checks
//                     the order. Records per second (manual timing of whole
//                     batches, including the wait for B to drain each batch).
// Run every row interleaved in one process and compare ratios, never
// absolute times across runs: harness/micro/compare_floor.py does that.
// --quick divides every row's fixed iteration count by 100 (smoke tests).
#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "micro/bench_threads.hpp"
#include "micro/ringside_links.hpp"
#include "peers/boost_spsc.hpp"
#include "peers/cacheline_pingpong.hpp"
#include "peers/mutex_queue.hpp"

namespace ringside::micro {
namespace {

using Clock = std::chrono::steady_clock;

constexpr int kRoundTripIterations = 100'000;
constexpr int kRoundTripWarmup = 2'000;
constexpr int kSlowRoundTripIterations = 1'000;  // the mutex peer: ~50 us each
constexpr std::uint64_t kRecordsPerIteration = 1 << 16;
constexpr int kThroughputIterations = 32;
// --quick (smoke tests): every row's iteration count divided by this, at least 1.
constexpr int kQuickDivisor = 100;
int g_iteration_divisor = 1;

constexpr std::size_t kBoostCapacity = 4096;  // = ringside's 64 KiB of 16-byte records
constexpr std::size_t kBatch = 32;

using BoostLink = peers::BoostSpscLink<kBoostCapacity>;

int iterations(int full) { return full / g_iteration_divisor > 0 ? full / g_iteration_divisor : 1; }

// Round trips are also timed in batches of this many (one clock read per
// batch): the median batch is immune to the preemptions and host stalls
// that swing the mean of a repetition on this shared machine.
constexpr int kRoundTripBatch = 64;

double median(std::vector<double> values) {
    if (values.empty()) return 0.0;
    const auto middle = values.begin() + static_cast<std::ptrdiff_t>(values.size() / 2);
    std::nth_element(values.begin(), middle, values.end());
    return *middle;
}

// Runs the benchmark loop, one call of `one` (true: a good round trip) per
// iteration, timing batches of kRoundTripBatch; reports the median batch as
// the counter rt_median_ns. False if a round trip failed.
template <typename One>
bool timed_round_trips(benchmark::State& state, One&& one) {
    std::vector<double> batch_ns;
    batch_ns.reserve(static_cast<std::size_t>(state.max_iterations / kRoundTripBatch + 1));
    bool ok = true;
    int in_batch = 0;
    Clock::time_point batch_start = Clock::now();
    for (auto _ : state) {
        ok = one();
        if (!ok) break;
        if (++in_batch == kRoundTripBatch) {
            const Clock::time_point now = Clock::now();
            batch_ns.push_back(std::chrono::duration<double, std::nano>(now - batch_start).count() / kRoundTripBatch);
            batch_start = now;
            in_batch = 0;
        }
    }
    if (!batch_ns.empty()) state.counters["rt_median_ns"] = median(std::move(batch_ns));
    return ok;
}

const Clock::time_point g_process_start = Clock::now();

// When this run started, in seconds since the process started: with random
// interleaving it lets compare_floor.py pair each row's run with the nearest
// run of the row it is compared with (the host's speed drifts over seconds).
void stamp_start(benchmark::State& state) {
    state.counters["t_start_s"] = std::chrono::duration<double>(Clock::now() - g_process_start).count();
}

// Side B's start: pin, attach, say ready. False (and b_state = kFailed) on failure.
template <typename Link>
bool start_side_b(Link& link, typename Link::Side& side, Control& control) {
    std::string error;
    if (!pin_current_thread(g_cpus.b)) {
        error = "cannot pin side B to CPU " + std::to_string(g_cpus.b);
    } else if (link.attach(side, 1, error)) {
        control.b_state.store(Control::kReady, std::memory_order_release);
        return true;
    }
    control.b_error = error;
    control.b_state.store(Control::kFailed, std::memory_order_release);
    control.abort.store(true, std::memory_order_relaxed);
    return false;
}

inline void fail_side_b(Control& control, const std::string& why) {
    control.b_error = why;
    control.b_state.store(Control::kFailed, std::memory_order_release);
    control.abort.store(true, std::memory_order_relaxed);
}

// Side A's start: pin, attach, wait for B. Returns "" or why it failed.
template <typename Link>
std::string start_side_a(Link& link, typename Link::Side& side, Control& control) {
    std::string error;
    if (!link.attach(side, 0, error)) return error;
    const Io io = spin(
        [&] {
            const int b = control.b_state.load(std::memory_order_acquire);
            if (b != Control::kStarting) return b == Control::kReady ? Io::kDone : Io::kFailed;
            // B starts on our CPU (it inherits our affinity) and moves itself:
            // under SCHED_FIFO it would never run there unless we yield.
            std::this_thread::yield();
            return Io::kRetry;
        },
        control.abort);
    return io == Io::kDone ? std::string() : "side B did not start";
}

// Stops side B, joins it and reports the first failure of either side.
template <typename Link>
void finish(benchmark::State& state, Link& link, typename Link::Side& side, Control& control, std::thread& peer,
            std::string failure) {
    if (failure.empty()) {
        const Io io = spin([&] { return side.out.try_send(kStop); }, control.abort);
        if (io != Io::kDone) failure = describe("sending stop", io);
    }
    if (!failure.empty()) control.abort.store(true, std::memory_order_relaxed);
    peer.join();
    link.detach(side);
    link.close();
    if (control.b_state.load(std::memory_order_acquire) == Control::kFailed) {
        failure = "side B: " + control.b_error + (failure.empty() ? "" : "; side A: " + failure);
    }
    if (!failure.empty() && !state.error_occurred()) state.SkipWithError(failure.c_str());
}

// --- round trip -----------------------------------------------------------------

template <typename Link>
void echo_side(Link& link, Control& control) {
    typename Link::Side side;
    if (!start_side_b(link, side, control)) return;
    for (;;) {
        std::uint64_t value = 0;
        Io io = spin([&] { return side.in.try_peek(value); }, control.abort);
        // Echo first, release after: the release is not on the critical path.
        if (io == Io::kDone) io = spin([&] { return side.out.try_send(value); }, control.abort);
        if (io == Io::kDone) io = side.in.release();
        if (io != Io::kDone) {
            if (io != Io::kAborted) fail_side_b(control, describe("echo", io));
            break;
        }
        if (value == kStop) break;
    }
    link.detach(side);
}

template <typename Link>
void BM_RoundTrip(benchmark::State& state) {
    stamp_start(state);
    if (!pin_current_thread(g_cpus.a)) return state.SkipWithError("cannot pin side A");
    Link link;
    std::string failure;
    if (!link.open(failure)) return state.SkipWithError(failure.c_str());
    Control control;
    std::thread peer([&] { echo_side(link, control); });
    typename Link::Side side;
    failure = start_side_a(link, side, control);

    std::uint64_t seq = 0;
    auto round_trip = [&]() -> Io {
        ++seq;
        Io io = spin([&] { return side.out.try_send(seq); }, control.abort);
        if (io != Io::kDone) return io;
        std::uint64_t echo = 0;
        io = spin([&] { return side.in.try_peek(echo); }, control.abort);
        if (io != Io::kDone) return io;
        if (echo != seq) return Io::kFailed;
        return side.in.release();
    };
    for (int i = 0; failure.empty() && i < kRoundTripWarmup; ++i) {
        if (const Io io = round_trip(); io != Io::kDone) failure = describe("warm-up round trip", io);
    }
    if (failure.empty()) {
        Io io = Io::kDone;
        if (!timed_round_trips(state, [&] { return (io = round_trip()) == Io::kDone; })) {
            failure = describe("round trip", io);
        }
    }
    finish(state, link, side, control, peer, failure);
}

// The mutex + condition variable peer blocks instead of spinning, so it has
// its own loop; everything else matches BM_RoundTrip.
void BM_RoundTripMutex(benchmark::State& state) {
    using Queue = peers::MutexQueue<64>;
    stamp_start(state);
    if (!pin_current_thread(g_cpus.a)) return state.SkipWithError("cannot pin side A");
    auto a_to_b = std::make_unique<Queue>();
    auto b_to_a = std::make_unique<Queue>();
    Control control;
    std::thread peer([&] {
        if (!pin_current_thread(g_cpus.b)) return fail_side_b(control, "cannot pin side B");
        for (;;) {
            std::uint64_t value = 0;
            if (!a_to_b->pop_wait(value, kPatience)) return fail_side_b(control, "echo: timed out");
            if (!b_to_a->push(value)) return fail_side_b(control, "echo: queue full");
            if (value == kStop) return;
        }
    });
    std::string failure;
    std::uint64_t seq = 0;
    auto round_trip = [&] {
        std::uint64_t echo = 0;
        return a_to_b->push(++seq) && b_to_a->pop_wait(echo, kPatience) && echo == seq;
    };
    for (int i = 0; failure.empty() && i < kRoundTripWarmup / 10; ++i) {
        if (!round_trip()) failure = "warm-up round trip failed";
    }
    if (failure.empty()) {
        if (!timed_round_trips(state, round_trip)) failure = "round trip failed or timed out";
    }
    // A failed side A may leave B waiting up to kPatience; the stop wakes it at once.
    a_to_b->push(kStop);
    peer.join();
    if (control.b_state.load(std::memory_order_acquire) == Control::kFailed) failure = control.b_error;
    if (!failure.empty()) state.SkipWithError(failure.c_str());
}

// --- throughput -----------------------------------------------------------------

// Side B of the throughput rows: takes records one by one (kBatchSize == 1,
// try_peek) or in batches (peek_batch), checks their order, and publishes
// the last record of every iteration's batch in control.drained.
template <typename Link, std::size_t kBatchSize>
void drain_side(Link& link, Control& control) {
    typename Link::Side side;
    if (!start_side_b(link, side, control)) return;
    std::uint64_t expected = 1;
    std::uint64_t empty_polls = 0;
    std::uint64_t values[kBatchSize];
    for (bool stop = false; !stop;) {
        std::size_t got = 1;
        Io io;
        if constexpr (kBatchSize == 1) {
            io = spin([&] { return side.in.try_peek(values[0]); }, control.abort, &empty_polls);
        } else {
            io = spin([&] { return side.in.peek_batch(values, kBatchSize, got); }, control.abort, &empty_polls);
        }
        if (io == Io::kDone) io = side.in.release();
        if (io != Io::kDone) {
            if (io != Io::kAborted) fail_side_b(control, describe("drain", io));
            break;
        }
        for (std::size_t i = 0; i < got; ++i) {
            if (values[i] == kStop) {
                stop = true;
                break;
            }
            if (values[i] != expected) {
                fail_side_b(control, "drain: record " + std::to_string(values[i]) + " where " +
                                         std::to_string(expected) + " was due");
                stop = true;
                break;
            }
            // release: pairs with side A's acquire; nothing rides on it but the count.
            if (expected % kRecordsPerIteration == 0) control.drained.store(expected, std::memory_order_release);
            ++expected;
        }
    }
    control.b_empty_polls = empty_polls;  // read by side A after the join
    link.detach(side);
}

// Sends records seq+1 .. seq+count, one by one or in batches.
template <std::size_t kBatchSize, typename Sender>
Io send_records(Sender& out, std::uint64_t& seq, std::uint64_t count, const std::atomic<bool>& abort,
                std::uint64_t& full_retries) {
    const std::uint64_t last = seq + count;
    if constexpr (kBatchSize == 1) {
        while (seq < last) {
            ++seq;
            if (const Io io = spin([&] { return out.try_send(seq); }, abort, &full_retries); io != Io::kDone) {
                return io;
            }
        }
    } else {
        std::uint64_t values[kBatchSize];
        while (seq < last) {
            const std::size_t n = last - seq < kBatchSize ? static_cast<std::size_t>(last - seq) : kBatchSize;
            for (std::size_t i = 0; i < n; ++i) values[i] = seq + 1 + i;
            std::size_t sent = 0;
            const Io io = spin([&] { return out.send_batch(values, n, sent); }, abort, &full_retries);
            if (io != Io::kDone) {
                return io;
            }
            seq += sent;
        }
    }
    return Io::kDone;
}

template <typename Link, std::size_t kBatchSize>
void BM_Throughput(benchmark::State& state) {
    stamp_start(state);
    if (!pin_current_thread(g_cpus.a)) return state.SkipWithError("cannot pin side A");
    Link link;
    std::string failure;
    if (!link.open(failure)) return state.SkipWithError(failure.c_str());
    Control control;
    std::thread peer([&] { drain_side<Link, kBatchSize>(link, control); });
    typename Link::Side side;
    failure = start_side_a(link, side, control);

    std::uint64_t seq = 0;
    std::uint64_t full_retries = 0;
    auto one_batch = [&]() -> Io {
        Io io = send_records<kBatchSize>(side.out, seq, kRecordsPerIteration, control.abort, full_retries);
        if (io != Io::kDone) return io;
        return spin(
            [&] { return control.drained.load(std::memory_order_acquire) == seq ? Io::kDone : Io::kRetry; },
            control.abort);
    };
    if (failure.empty()) {
        if (const Io io = one_batch(); io != Io::kDone) failure = describe("warm-up batch", io);
    }
    if (failure.empty()) {
        std::vector<double> batch_seconds;
        batch_seconds.reserve(static_cast<std::size_t>(state.max_iterations));
        for (auto _ : state) {
            const Clock::time_point start = Clock::now();
            const Io io = one_batch();
            const Clock::time_point end = Clock::now();
            if (io != Io::kDone) {
                failure = describe("batch", io);
                break;
            }
            batch_seconds.push_back(std::chrono::duration<double>(end - start).count());
            state.SetIterationTime(batch_seconds.back());
        }
        state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(kRecordsPerIteration));
        // The median batch, immune to a preempted or stalled batch (see kRoundTripBatch).
        if (!batch_seconds.empty()) {
            state.counters["median_Mrec_per_s"] =
                static_cast<double>(kRecordsPerIteration) / median(std::move(batch_seconds)) / 1e6;
        }
    }
    finish(state, link, side, control, peer, failure);
    // Who waited for whom, per record sent (warm-up batch included): tries
    // that found the channel full (A) or empty (B).
    const double records = static_cast<double>(seq);
    if (records > 0) {
        state.counters["full_retries_per_record"] = static_cast<double>(full_retries) / records;
        state.counters["empty_polls_per_record"] = static_cast<double>(control.b_empty_polls) / records;
    }
}

void register_benchmarks() {
    auto round_trip = [](const char* name, auto* function, int full_count) {
        benchmark::RegisterBenchmark(name, function)->Iterations(iterations(full_count))->UseRealTime();
    };
    round_trip("RoundTrip/floor_two_lines", BM_RoundTrip<peers::TwoLinePingPong>, kRoundTripIterations);
    round_trip("RoundTrip/floor_one_line", BM_RoundTrip<peers::OneLinePingPong>, kRoundTripIterations);
    round_trip("RoundTrip/ringside_cpp", BM_RoundTrip<RingsideCppLink>, kRoundTripIterations);
    round_trip("RoundTrip/ringside_capi", BM_RoundTrip<RingsideCApiLink>, kRoundTripIterations);
    round_trip("RoundTrip/boost_spsc", BM_RoundTrip<BoostLink>, kRoundTripIterations);
    round_trip("RoundTrip/mutex_condvar", BM_RoundTripMutex, kSlowRoundTripIterations);

    auto throughput = [](const char* name, auto* function) {
        benchmark::RegisterBenchmark(name, function)
            ->Iterations(iterations(kThroughputIterations))
            ->UseManualTime()
            ->Unit(benchmark::kMillisecond);
    };
    throughput("Throughput/ringside_cpp", BM_Throughput<RingsideCppLink, 1>);
    throughput("Throughput/ringside_cpp_batch32", BM_Throughput<RingsideCppLink, kBatch>);
    throughput("Throughput/ringside_capi", BM_Throughput<RingsideCApiLink, 1>);
    throughput("Throughput/ringside_capi_parkable", BM_Throughput<RingsideCApiParkableLink, 1>);
    throughput("Throughput/boost_spsc", BM_Throughput<BoostLink, 1>);
    throughput("Throughput/boost_spsc_bulk32", BM_Throughput<BoostLink, kBatch>);
}

}  // namespace
}  // namespace ringside::micro

int main(int argc, char** argv) {
    using namespace ringside::micro;
    // Our one flag, taken out before Google Benchmark sees the arguments.
    int kept = 1;
    for (int i = 1; i < argc; ++i) {
        if (std::strcmp(argv[i], "--quick") == 0) {
            g_iteration_divisor = kQuickDivisor;
        } else {
            argv[kept++] = argv[i];
        }
    }
    argc = kept;
    benchmark::Initialize(&argc, argv);
    if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
    const std::vector<int> cpus = allowed_cpus();
    if (cpus.size() < 2) {
        std::fprintf(stderr,
                     "ringside_micro: the two sides need two CPUs to be pinned to, this process may use %zu; "
                     "skipping every benchmark\n",
                     cpus.size());
        return 0;
    }
    g_cpus = CpuPair{cpus[0], cpus[1]};
    benchmark::AddCustomContext("ringside_micro_cpus", std::to_string(g_cpus.a) + "," + std::to_string(g_cpus.b));
    benchmark::AddCustomContext("ringside_micro_payload_bytes", "8");
    benchmark::AddCustomContext("ringside_micro_ring_capacity_bytes", std::to_string(kRingCapacity));
    benchmark::AddCustomContext("ringside_micro_boost_capacity", std::to_string(kBoostCapacity));
    benchmark::AddCustomContext("ringside_micro_records_per_iteration", std::to_string(kRecordsPerIteration));
    register_benchmarks();
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    return 0;
}
