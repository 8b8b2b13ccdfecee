#include "faults/controller_trial.hpp"

#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <functional>
#include <nlohmann/json.hpp>
#include <thread>

#include "ringside/tracer.h"
#include "tracer/trace_reader.hpp"

namespace ringside::faults {
namespace {

using Clock = std::chrono::steady_clock;
namespace reader = ringside::trace::reader;

pid_t spawn(const std::function<int()>& body) {
    std::fflush(nullptr);
    const pid_t pid = ::fork();
    if (pid != 0) return pid;
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    ::_exit(body());
}

int reap(pid_t pid) {
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    return WIFSIGNALED(status) ? 128 + WTERMSIG(status) : WEXITSTATUS(status);
}

rs_tracer_options controller_options(const std::string& sink) {
    rs_tracer_options options;
    rs_tracer_options_init(&options);
    options.backing = RS_BACKING_FILE;
    options.lane_count = 1;
    options.rings_per_lane = 8;
    options.ring_capacity = 1u << 16;
    options.sink_dir = sink.c_str();
    options.sync_on_flush = 0;
    return options;
}

// Events the agent attempted, from the region (0 when it cannot be read).
std::uint64_t events_attempted(const std::string& region) {
    char* text = nullptr;
    if (rs_tracer_inspect_json(region.c_str(), RS_BACKING_FILE, &text) != RS_OK) return 0;
    const nlohmann::json report = nlohmann::json::parse(text, nullptr, false);
    rs_string_free(text);
    if (!report.is_object() || !report.contains("lanes") || report["lanes"].empty()) return 0;
    return report["lanes"][0].value("events_attempted", std::uint64_t{0});
}

// The agent: 16-byte events whose payload starts with their sequence number.
int agent_main(const std::string& region) {
    rs_tracer_agent_options options;
    rs_tracer_agent_options_init(&options);
    options.backing = RS_BACKING_FILE;
    rs_tracer_agent_t* agent = nullptr;
    for (int attempt = 0; rs_tracer_open(region.c_str(), &options, &agent) != RS_OK; ++attempt) {
        if (attempt > 3000) return 30;
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    const auto give_up = Clock::now() + std::chrono::seconds(30);
    std::uint64_t payload[2] = {0, 0xC0FFEE};
    for (std::uint64_t seq = 0; Clock::now() < give_up; ++seq) {
        payload[0] = seq;
        const rs_result result = rs_tracer_emit(agent, 1, payload, sizeof payload);
        if (result != RS_OK && result != RS_FULL) return 31;
        if ((seq & 1023) == 1023) std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
    return 32;
}

}  // namespace

ControllerTrial controller_trial(const std::string& folder, std::mt19937_64& rng) {
    ControllerTrial out;
    const std::string region = folder + "/trace.rstrace";
    const std::string sink = folder + "/sink";
    std::filesystem::create_directories(sink);
    const pid_t controller = spawn([&] {
        rs_tracer_options options = controller_options(sink);
        rs_tracer_controller_t* handle = nullptr;
        if (rs_tracer_controller_create(region.c_str(), &options, &handle) != RS_OK) return 20;
        if (rs_tracer_controller_start(handle) != RS_OK) return 21;
        for (;;) ::pause();
    });
    const pid_t agent = spawn([&] { return agent_main(region); });
    // Let events flow, then kill the controller; the agent writes on for a
    // while into rings nobody drains, then dies too.
    const auto deadline = Clock::now() + std::chrono::seconds(10);
    while (events_attempted(region) == 0 && Clock::now() < deadline) std::this_thread::yield();
    std::this_thread::sleep_for(std::chrono::microseconds(rng() % 20'000));
    ::kill(controller, SIGKILL);
    const int controller_code = reap(controller);
    out.killed = controller_code == 128 + SIGKILL;
    std::this_thread::sleep_for(std::chrono::microseconds(rng() % 5'000));
    ::kill(agent, SIGKILL);
    const int agent_code = reap(agent);
    if (controller_code != 128 + SIGKILL || agent_code != 128 + SIGKILL) {
        out.failure = "controller exit " + std::to_string(controller_code) + ", agent exit " + std::to_string(agent_code);
    }
    out.attempted = events_attempted(region);

    // A new controller takes over the dead one's claim and dumps what remains.
    rs_tracer_options options = controller_options(sink);
    options.open_existing = 1;
    rs_tracer_controller_t* later = nullptr;
    if (rs_tracer_controller_create(region.c_str(), &options, &later) != RS_OK) {
        out.failure = std::string("a new controller cannot open the region: ") + rs_last_error_message();
    } else {
        std::uint32_t work = 0;
        for (int pass = 0; pass < 4; ++pass) rs_tracer_controller_poll(later, &work);
        rs_tracer_controller_stop(later, 0);
        rs_tracer_controller_destroy(later);
    }
    reader::Report report;
    reader::Options read_options;
    read_options.payloads = true;
    std::uint64_t bad_payloads = 0;
    for (const std::string& file : reader::lane_files(sink)) {
        reader::read_lane_file(
            file, read_options,
            [&](const reader::Row& row) {
                if (row.kind != reader::RowKind::kEvent || row.detail != reader::DetailStatus::kKept) return;
                std::uint64_t seq = 0;
                if (row.payload.size() != 16) {
                    ++bad_payloads;
                    return;
                }
                std::memcpy(&seq, row.payload.data(), sizeof seq);
                if (seq != row.seq) ++bad_payloads;
            },
            report);
    }
    std::uint64_t next_seq = 0;
    for (const auto& session : report.sessions) {
        out.delivered += session.events;
        out.duplicated += session.duplicates;
        out.dropped_by_policy += session.lost_explained;
        out.lost += session.lost_unexplained;
        out.out_of_order += session.out_of_order;
        next_seq = std::max(next_seq, session.next_seq);
    }
    out.half_written = bad_payloads;
    // Every attempted event is dumped or explained (+1: the agent died between
    // an event's commit and its count).
    if (next_seq < out.attempted) out.lost += out.attempted - next_seq;
    if (out.failure.empty() && (out.lost != 0 || out.out_of_order != 0 || bad_payloads != 0 || next_seq > out.attempted + 1)) {
        out.failure = "controller trial: " + std::to_string(out.lost) + " lost, " + std::to_string(out.out_of_order) +
                      " out of order, " + std::to_string(bad_payloads) + " bad payloads, next_seq " +
                      std::to_string(next_seq) + " for " + std::to_string(out.attempted) + " attempted";
    }
    std::error_code error;
    std::filesystem::remove_all(sink, error);
    std::filesystem::remove(region, error);
    return out;
}

}  // namespace ringside::faults
