// `ringside-runner sidecar-child --control-fd N`: the sidecar side of a
// two-process scenario (see ringside_port.hpp). Started only by the runner
// itself; every message on the control socket is one JSON object:
//   parent -> child  {"scenario": {...}, "region": "<name>"}   first
//   child -> parent  {"ready": true, "pid": P, "granted": {...}} or {"error": "..."}
//   parent -> child  {"cmd": "snapshot", "slot": 0|1}  -> {"snapshot": slot, "cost": {...}}
//   parent -> child  {"cmd": "stop"}  -> {"final": {"forward": {...}, "echoed": N, "last_seq": N, "stats": {...}}}
// The child dies with its parent (PR_SET_PDEATHSIG), runs under its own
// watchdog, and exits when the control socket closes.
#include <unistd.h>

#include "runner/ringside_port.hpp"
#include "runner/safety.hpp"

namespace ringside::runner {
namespace {

nlohmann::json leg_json(const LegCounts& c) {
    return {{"received", c.received}, {"lost", c.lost}, {"duplicated", c.duplicated},
            {"reordered", c.reordered}, {"corrupted", c.corrupted}};
}

nlohmann::json granted_message(const Granted& g) {
    return {{"tid", g.tid}, {"policy", g.policy}, {"priority", g.priority}, {"nice", g.nice},
            {"cpus", g.cpus}, {"refused", g.refused}, {"refused_errno", g.refused_errno}};
}

int fail(int fd, const std::string& message) {
    (void)send_json(fd, {{"error", message}});
    return 1;
}

}  // namespace

int sidecar_child_main(int fd) {
    nlohmann::json hello;
    std::string error;
    if (!receive_json(fd, hello, 10'000, error)) return fail(fd, error);
    Scenario s;
    if (!hello.contains("scenario") || !scenario_from_json(hello["scenario"], s, error)) {
        return fail(fd, "bad scenario: " + error);
    }
    const std::string name = hello.value("region", std::string());
    safety::install(s.timeout_s);
    const MessageCodec codec(s.payload_bytes);
    ProcessorState processor(codec);
    rs_region_options region_options;
    rs_region_options_init(&region_options);
    region_options.backing = s.backing == Backing::kShm ? RS_BACKING_SHM : RS_BACKING_FILE;
    rs_region_t* region = nullptr;
    if (rs_region_open(name.c_str(), &region_options, &region) != RS_OK) {
        return fail(fd, std::string("rs_region_open: ") + rs_last_error_message());
    }
    const rs_sidecar_options options = sidecar_options(s, allowed_cpus(), &processor);
    rs_sidecar_t* sidecar = nullptr;
    if (rs_sidecar_create(region, &options, &sidecar) != RS_OK) {
        const std::string why = std::string("rs_sidecar_create: ") + rs_last_error_message();
        (void)rs_region_destroy(region);
        return fail(fd, why);
    }
    if (rs_sidecar_start(sidecar, nullptr) != RS_OK) {
        const std::string why = std::string("rs_sidecar_start: ") + rs_last_error_message();
        (void)rs_sidecar_destroy(sidecar);
        (void)rs_region_destroy(region);
        return fail(fd, why);
    }
    rs_sidecar_sched sched{};
    sched.struct_size = sizeof sched;
    (void)rs_sidecar_get_sched(sidecar, &sched);
    const Granted granted = granted_from(sched);
    (void)send_json(fd, {{"ready", true}, {"pid", ::getpid()}, {"granted", granted_message(granted)}});

    int status = 1;
    for (;;) {
        nlohmann::json command;
        if (!receive_json(fd, command, -1, error)) break;  // the parent is gone: stop
        const std::string what = command.value("cmd", std::string());
        if (what == "snapshot") {
            (void)send_json(fd, {{"snapshot", command.value("slot", 0)}, {"cost", cost_to_json(cost_of_thread(granted.tid))}});
        } else if (what == "stop") {
            if (rs_sidecar_stop(sidecar, RS_STOP_DRAIN, 5'000'000'000ull) != RS_OK) {
                (void)send_json(fd, {{"error", std::string("rs_sidecar_stop: ") + rs_last_error_message()}});
                break;
            }
            rs_sidecar_stats stats{};
            stats.struct_size = sizeof stats;
            (void)rs_sidecar_get_stats(sidecar, &stats);
            (void)send_json(fd, {{"final",
                                  {{"forward", leg_json(processor.checker.counts())},
                                   {"echoed", stats.events_emitted},
                                   {"last_seq", processor.last_seq},
                                   {"stats", sidecar_stats_json(stats)}}}});
            status = 0;
            break;
        }
    }
    (void)rs_sidecar_stop(sidecar, RS_STOP_DISCARD, 1'000'000'000ull);
    (void)rs_sidecar_destroy(sidecar);
    (void)rs_region_destroy(region);
    safety::disarm();
    return status;
}

}  // namespace ringside::runner
