// ringside-trace: tracer utilities. `inspect` prints a tracer region's live
// metrics (per lane: events, drops by cause, rings submitted and dumped,
// free_q empty, wake-ups, dump latency, violations) as text or JSON,
// without claiming anything: it maps the region read-only.
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <cstdio>
#include <string>

#include "ringside/tracer.h"

namespace {

using nlohmann::json;

void print_text(const json& report) {
    std::printf("tracer region %s (%s): %llu lane(s) x %llu ring(s) x %llu bytes, clock %s\n",
                report["name"].get<std::string>().c_str(), report["backing"].get<std::string>().c_str(),
                report["lane_count"].get<unsigned long long>(), report["rings_per_lane"].get<unsigned long long>(),
                report["ring_capacity"].get<unsigned long long>(), report["clock"].get<std::string>().c_str());
    std::printf("  controller pid %lld, %s, %llu wake-ups, %llu timer wake-ups, %llu flushes\n",
                report["controller_pid"].get<long long>(),
                report["controller_running"].get<bool>() ? "running" : "not running",
                report["controller_wakeups"].get<unsigned long long>(),
                report["controller_timer_wakeups"].get<unsigned long long>(),
                report["flushes_served"].get<unsigned long long>());
    for (const json& lane : report["lanes"]) {
        const json& drops = lane["drops"];
        std::printf("  lane %llu %s session %llu pid %lld: %llu events (%llu bytes), drops no_ring %llu overwritten "
                    "%llu wait_timeout %llu reentrant %llu\n",
                    lane["lane"].get<unsigned long long>(), lane["state"].get<std::string>().c_str(),
                    lane["session"].get<unsigned long long>(), lane["agent_pid"].get<long long>(),
                    lane["events_written"].get<unsigned long long>(), lane["bytes_written"].get<unsigned long long>(),
                    drops["no_ring"].get<unsigned long long>(), drops["overwritten"].get<unsigned long long>(),
                    drops["wait_timeout"].get<unsigned long long>(), drops["reentrant"].get<unsigned long long>());
        std::printf("    rings: index submitted %llu dumped %llu, detail kept %llu dumped %llu recycled %llu, "
                    "free_q empty %llu, wakes sent %llu, dump latency avg %llu ns max %llu ns, violations %llu\n",
                    lane["index_rings_submitted"].get<unsigned long long>(),
                    lane["index_rings_dumped"].get<unsigned long long>(),
                    lane["detail_rings_kept"].get<unsigned long long>(),
                    lane["detail_rings_dumped"].get<unsigned long long>(),
                    lane["detail_rings_recycled"].get<unsigned long long>(),
                    lane["free_q_empty"].get<unsigned long long>(), lane["wakes_sent"].get<unsigned long long>(),
                    lane["dump_latency_ns_avg"].get<unsigned long long>(),
                    lane["dump_latency_ns_max"].get<unsigned long long>(),
                    lane["violations"]["total"].get<unsigned long long>());
    }
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"ringside tracer utilities."};
    app.require_subcommand(1);
    auto* inspect = app.add_subcommand("inspect", "print a tracer region's live metrics");
    std::string name;
    std::string backing = "shm";
    bool as_json = false;
    inspect->add_option("name", name, "shm name (/name) or file path")->required();
    inspect->add_option("--backing", backing, "shm or file")->check(CLI::IsMember({"shm", "file"}));
    inspect->add_flag("--json", as_json, "print JSON instead of text");
    CLI11_PARSE(app, argc, argv);

    char* text = nullptr;
    const rs_result r = rs_tracer_inspect_json(name.c_str(), backing == "file" ? RS_BACKING_FILE : RS_BACKING_SHM, &text);
    if (r != RS_OK) {
        std::fprintf(stderr, "ringside-trace inspect: %s: %s\n", rs_result_name(r), rs_last_error_message());
        return r == RS_ERR_NOT_FOUND ? 3 : 2;
    }
    const json report = json::parse(text);
    rs_string_free(text);
    if (as_json) {
        std::printf("%s\n", report.dump(2).c_str());
    } else {
        print_text(report);
    }
    return 0;
}
