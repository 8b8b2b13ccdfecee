// ringside-tracer-controller: creates (or, with --recover, reopens) a tracer
// region and runs its controller until SIGINT or SIGTERM, then stops it
// (asking live agents to flush) and prints its stats as JSON.
#include <CLI/CLI.hpp>
#include <signal.h>

#include <cstdio>
#include <string>

#include "ringside/tracer.h"

int main(int argc, char** argv) {
    CLI::App app{"Runs a ringside tracer controller until SIGINT/SIGTERM."};
    std::string name;
    std::string backing = "shm";
    std::string sink_dir;
    std::string clock = "tsc";
    rs_tracer_options options;
    rs_tracer_options_init(&options);
    std::uint32_t lanes = options.lane_count;
    std::uint32_t rings = options.rings_per_lane;
    std::uint64_t capacity = options.ring_capacity;
    std::uint32_t liveness_ms = options.liveness_interval_ms;
    std::uint64_t stop_timeout_ms = 1000;
    bool recover = false;
    bool keep = false;
    app.add_option("name", name, "shm name (/name) or file path of the tracer region")->required();
    app.add_option("--sink-dir", sink_dir, "directory for lane-NNNN.rstrace/.rstidx")->required();
    app.add_option("--backing", backing, "shm or file")->check(CLI::IsMember({"shm", "file"}));
    app.add_option("--lanes", lanes, "lanes (producing threads), 1..256");
    app.add_option("--rings", rings, "rings per lane, 2..256");
    app.add_option("--ring-capacity", capacity, "bytes per ring, power of two");
    app.add_option("--clock", clock, "tsc or monotonic")->check(CLI::IsMember({"tsc", "monotonic"}));
    app.add_option("--liveness-ms", liveness_ms, "agent liveness check interval");
    app.add_option("--stop-timeout-ms", stop_timeout_ms, "how long stop waits for live agents to flush");
    app.add_flag("--recover", recover, "open an existing region (after a crash) instead of creating one");
    app.add_flag("--keep", keep, "leave the region's name behind on exit");
    CLI11_PARSE(app, argc, argv);

    options.backing = backing == "file" ? RS_BACKING_FILE : RS_BACKING_SHM;
    options.lane_count = lanes;
    options.rings_per_lane = rings;
    options.ring_capacity = capacity;
    options.clock = clock == "tsc" ? RS_TRACER_CLOCK_TSC : RS_TRACER_CLOCK_MONOTONIC;
    options.liveness_interval_ms = liveness_ms;
    options.open_existing = recover ? 1 : 0;
    options.keep_on_destroy = keep ? 1 : 0;
    options.sink_dir = sink_dir.c_str();

    // Blocked before any thread exists, so every thread inherits the mask
    // and sigwait below is the only taker.
    sigset_t signals;
    sigemptyset(&signals);
    sigaddset(&signals, SIGINT);
    sigaddset(&signals, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &signals, nullptr);

    rs_tracer_controller_t* controller = nullptr;
    if (rs_result r = rs_tracer_controller_create(name.c_str(), &options, &controller); r != RS_OK) {
        std::fprintf(stderr, "ringside-tracer-controller: %s: %s\n", rs_result_name(r), rs_last_error_message());
        return 2;
    }
    if (rs_result r = rs_tracer_controller_start(controller); r != RS_OK) {
        std::fprintf(stderr, "ringside-tracer-controller: %s: %s\n", rs_result_name(r), rs_last_error_message());
        rs_tracer_controller_destroy(controller);
        return 2;
    }
    std::fprintf(stderr, "ringside-tracer-controller: serving '%s', sink '%s'\n", name.c_str(), sink_dir.c_str());
    int received = 0;
    sigwait(&signals, &received);
    const rs_result stopped = rs_tracer_controller_stop(controller, stop_timeout_ms * 1'000'000ull);
    char* stats = nullptr;
    if (rs_tracer_controller_stats_json(controller, &stats) == RS_OK) {
        std::printf("%s\n", stats);
        rs_string_free(stats);
    }
    rs_tracer_controller_destroy(controller);
    if (stopped != RS_OK) {
        std::fprintf(stderr, "ringside-tracer-controller: stop: %s\n", rs_result_name(stopped));
        return stopped == RS_TIMEOUT ? 0 : 1;
    }
    return 0;
}
