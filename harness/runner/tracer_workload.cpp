#include "runner/tracer_workload.hpp"

#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <vector>

#include "ringside/tracer.h"
#include "runner/safety.hpp"

namespace ringside::runner {
namespace {

// The drain thread of this process's controller, found by its name.
int find_drain_thread() {
    for (const auto& entry : std::filesystem::directory_iterator("/proc/self/task")) {
        std::ifstream comm(entry.path() / "comm");
        std::string name;
        std::getline(comm, name);
        if (name == "rs-tracer") return std::stoi(entry.path().filename().string());
    }
    return 0;
}

std::string last_error(const char* what) { return std::string(what) + ": " + rs_last_error_message(); }

}  // namespace

TracerRun run_tracer(const Scenario& s, const Clock& clock, Recorder& recorder,
                     const std::function<void(int, int)>& snapshot) {
    TracerRun out;
    const std::string base = "ringside-runner." + std::to_string(::getpid()) + ".tracer";
    const std::string name = "/" + base;
    const std::string sink = s.file_dir + "/" + base + ".lanes";
    rs_tracer_options options;
    rs_tracer_options_init(&options);
    options.lane_count = 1;
    options.ring_capacity = s.ring_bytes;
    options.sink_dir = sink.c_str();
    options.sync_on_flush = 0;  // the workload measures the tracer, not the disk
    rs_tracer_controller_t* controller = nullptr;
    safety::track_region(name, Backing::kShm);
    if (rs_tracer_controller_create(name.c_str(), &options, &controller) != RS_OK) {
        out.host.error = last_error("rs_tracer_controller_create");
        safety::untrack_region(name);
        return out;
    }
    rs_tracer_agent_t* agent = nullptr;
    if (rs_tracer_controller_start(controller) != RS_OK) {
        out.host.error = last_error("rs_tracer_controller_start");
    } else if (rs_tracer_open(name.c_str(), nullptr, &agent) != RS_OK) {
        out.host.error = last_error("rs_tracer_open");
    }
    // The drain thread names itself once it runs: look for a second at most.
    for (int tries = 0; tries < 1000 && out.drain_tid == 0 && agent != nullptr; ++tries) {
        out.drain_tid = find_drain_thread();
        if (out.drain_tid == 0) ::usleep(1000);
    }
    // The drain thread plays the sidecar's part: it gets the sidecar's
    // scheduling and CPU, and what was granted is read while it runs.
    if (out.drain_tid > 0) out.drain_granted = apply_sched_to(out.drain_tid, s.sidecar.sched, s.sidecar.cpu, allowed_cpus());
    if (agent != nullptr) {
        std::vector<std::byte> payload(s.payload_bytes, std::byte{0x5a});
        const bool by_count = s.count > 0;
        const std::uint64_t last = s.warmup + s.count;
        std::uint64_t seq = 0;
        auto emit = [&] {
            ++seq;
            std::memcpy(payload.data(), &seq, std::min<std::size_t>(sizeof seq, payload.size()));
            const rs_result r = rs_tracer_emit(agent, static_cast<std::uint32_t>(seq & 0xFFFF), payload.data(), payload.size());
            if (r == RS_OK) {
                ++out.accepted;
            } else if (r == RS_FULL) {
                ++out.dropped;
            } else {
                out.host.error = last_error("rs_tracer_emit");
            }
            return r == RS_OK;
        };
        safety::set_phase("warm-up");
        while (seq < s.warmup && out.host.error.empty()) (void)emit();
        safety::set_phase("measuring");
        snapshot(0, out.drain_tid);
        std::uint64_t previous = clock.now();
        out.host.measure_start = previous;
        recorder.start(previous);
        const std::uint64_t deadline = by_count ? UINT64_MAX : previous + clock.from_ns(s.duration_s * 1e9);
        while (out.host.error.empty()) {
            const bool ok = emit();
            const std::uint64_t now = clock.now();
            recorder.stamp(seq, previous, previous);
            recorder.record(seq, now);
            previous = now;
            ++out.host.measured_replies;
            if (ok) ++out.measured_accepted;
            if (by_count ? seq >= last : now >= deadline) break;
        }
        out.host.measure_end = previous;
        recorder.finish(previous);
        snapshot(1, out.drain_tid);
        safety::set_phase("stopping");
        out.host.last_seq = seq;
        out.host.transmissions = seq;
        out.host.replies = seq;
        if (rs_tracer_close(agent) != RS_OK && out.host.error.empty()) out.host.error = last_error("rs_tracer_close");
    }
    const std::uint64_t flush_start = Clock::monotonic_ns();
    if (rs_tracer_controller_flush(controller, 5'000'000'000ull) != RS_OK && out.host.error.empty()) {
        out.host.error = last_error("rs_tracer_controller_flush");
    }
    out.flush_ns = static_cast<double>(Clock::monotonic_ns() - flush_start);
    char* json = nullptr;
    if (rs_tracer_controller_stats_json(controller, &json) == RS_OK && json != nullptr) {
        out.stats = nlohmann::ordered_json::parse(json, nullptr, false);
        rs_string_free(json);
    }
    (void)rs_tracer_controller_stop(controller, 5'000'000'000ull);
    (void)rs_tracer_controller_destroy(controller);
    safety::untrack_region(name);
    std::error_code ignored;
    std::filesystem::remove_all(sink, ignored);

    // The lane's own counters against the host's.
    out.forward.sent = out.host.last_seq;
    const nlohmann::ordered_json* lane = nullptr;
    if (out.stats.is_object() && out.stats.contains("lanes") && out.stats["lanes"].is_array() &&
        !out.stats["lanes"].empty()) {
        lane = &out.stats["lanes"][0];
    }
    if (lane != nullptr) {
        const std::uint64_t attempted = lane->value("events_attempted", std::uint64_t{0});
        const std::uint64_t written = lane->value("events_written", std::uint64_t{0});
        out.forward.received = attempted;
        out.forward.lost = attempted < out.forward.sent ? out.forward.sent - attempted : 0;
        out.forward.duplicated = attempted > out.forward.sent ? attempted - out.forward.sent : 0;
        // An event the host saw accepted that the lane did not count as written (or the reverse).
        out.forward.corrupted = written > out.accepted ? written - out.accepted : out.accepted - written;
    } else if (out.host.error.empty()) {
        out.host.error = "the tracer controller's statistics have no lane";
    }
    return out;
}

}  // namespace ringside::runner
