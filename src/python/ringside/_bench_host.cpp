// _bench_host.cpp - the C++ twin of ringside.driver.python_host_round_trip,
// built and run by bench.py: the same command -> sidecar (echo) -> event
// round trip through ringside.hpp's SidecarHost, one in flight at a time.
//
//   usage: _bench_host vtable|ring WAIT_KIND PAYLOAD_BYTES COUNT WARMUP
//   prints one JSON object: {"round_trip_ns": {"min": .., "p50": .., ...}, ...}
//
// vtable: on_event runs on the sidecar thread and bumps a counter; the host
// spins on it (busy_spin) or sleeps on it with std::atomic::wait (futex).
// ring: the host waits in rs_host_dispatch_events with the same strategy.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include <ringside/ringside.hpp>

namespace {

using namespace std::chrono_literals;

rs_wait_kind parse_kind(const std::string& name) {
    for (int kind = RS_WAIT_BUSY_SPIN; kind <= RS_WAIT_HYBRID; ++kind) {
        if (name == rs_wait_kind_name(static_cast<rs_wait_kind>(kind))) return static_cast<rs_wait_kind>(kind);
    }
    throw ringside::Error(RS_ERR_INVALID_ARGUMENT, "unknown wait kind " + name, "_bench_host");
}

rs_wait_strategy strategy(rs_wait_kind kind) {
    rs_wait_strategy s;
    rs_wait_strategy_init(&s, kind);
    return s;
}

std::int64_t at(const std::vector<std::int64_t>& sorted, double fraction) {
    const auto index = static_cast<std::size_t>(fraction * static_cast<double>(sorted.size() - 1) + 0.5);
    return sorted[std::min(index, sorted.size() - 1)];
}

}  // namespace

int main(int argc, char** argv) try {
    if (argc != 6) {
        std::fprintf(stderr, "usage: %s vtable|ring WAIT_KIND PAYLOAD_BYTES COUNT WARMUP\n", argv[0]);
        return 2;
    }
    const bool ring = std::strcmp(argv[1], "ring") == 0;
    const rs_wait_kind kind = parse_kind(argv[2]);
    const std::size_t size = std::strtoull(argv[3], nullptr, 10);
    const std::size_t count = std::strtoull(argv[4], nullptr, 10);
    const std::size_t warmup = std::strtoull(argv[5], nullptr, 10);

    std::atomic<std::uint32_t> events{0};
    std::uint64_t bad = 0;  // sidecar thread (vtable) or this thread (ring); read after stop
    ringside::SidecarHost::Config config;
    config.region.ring_capacity = 1u << 20;
    config.sidecar.delivery = ring ? RS_DELIVER_RING : RS_DELIVER_VTABLE;
    config.sidecar.command_wait = strategy(kind);
    config.sidecar.event_wait = strategy(kind);
    config.sidecar.max_event_bytes = static_cast<std::uint32_t>(std::max<std::size_t>(4096, size));
    std::snprintf(config.sidecar.thread_name, sizeof config.sidecar.thread_name, "%s", "rs-cpp-bench");
    ringside::SidecarHost host({.on_event =
                                    [&](ringside::Record event) {
                                        if (event.size() != size) ++bad;
                                        // release: the host's acquire sees `bad` with the count.
                                        events.fetch_add(1, std::memory_order_release);
                                        if (!ring && kind != RS_WAIT_BUSY_SPIN) events.notify_one();
                                    }},
                               config);
    host.commands().set_wait_strategy(strategy(kind));
    if (ring) host.events().set_wait_strategy(strategy(kind));
    host.start();

    const std::vector<std::byte> payload(size);
    std::vector<std::int64_t> samples;
    samples.reserve(count);
    for (std::uint32_t i = 0; i < warmup + count; ++i) {
        const auto begin = std::chrono::steady_clock::now();
        if (!host.send(payload, 5s)) throw ringside::Error(RS_TIMEOUT, "command ring full for 5 s", "_bench_host");
        if (ring) {
            if (host.dispatch(1, 5s) != 1) throw ringside::Error(RS_TIMEOUT, "no event for 5 s", "_bench_host");
        } else if (kind == RS_WAIT_BUSY_SPIN) {
            while (events.load(std::memory_order_acquire) != i + 1) {
            }
        } else {
            for (std::uint32_t seen = events.load(std::memory_order_acquire); seen != i + 1;
                 seen = events.load(std::memory_order_acquire)) {
                events.wait(seen, std::memory_order_acquire);
            }
        }
        const auto end = std::chrono::steady_clock::now();
        if (i >= warmup) samples.push_back(std::chrono::duration_cast<std::chrono::nanoseconds>(end - begin).count());
    }
    if (!host.stop()) throw ringside::Error(RS_TIMEOUT, "stop", "_bench_host");
    if (bad != 0 || events.load() != warmup + count) {
        throw ringside::Error(RS_ERR_INTERNAL, "lost or malformed events", "_bench_host");
    }
    std::sort(samples.begin(), samples.end());
    double sum = 0;
    for (const std::int64_t s : samples) sum += static_cast<double>(s);
    std::printf("{\"host\": \"cpp\", \"delivery\": \"%s\", \"wait\": \"%s\", \"payload_size\": %zu, \"count\": %zu, "
                "\"round_trip_ns\": {\"min\": %lld, \"p50\": %lld, \"p90\": %lld, \"p99\": %lld, \"max\": %lld, "
                "\"mean\": %.0f}}\n",
                argv[1], argv[2], size, count, static_cast<long long>(samples.front()),
                static_cast<long long>(at(samples, 0.5)), static_cast<long long>(at(samples, 0.9)),
                static_cast<long long>(at(samples, 0.99)), static_cast<long long>(samples.back()),
                sum / static_cast<double>(samples.size()));
    return 0;
} catch (const ringside::Error& error) {
    std::fprintf(stderr, "_bench_host: %s\n", error.what());
    return 1;
}
