// ringside-runner: runs one concrete scenario and writes its result.
// The input and output are documented in harness/runner/README.md.
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <iostream>
#include <map>
#include <sstream>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "runner/driver.hpp"
#include "runner/os_threads.hpp"
#include "runner/ringside_port.hpp"
#include "runner/run.hpp"
#include "runner/safety.hpp"

namespace {

using json = nlohmann::json;
using namespace ringside::runner;

// A flag's text as JSON: numbers and booleans as such, "a,b" lists for CPU lists, else a string.
json flag_value(const std::string& text, bool list) {
    if (list) {
        json array = json::array();
        std::stringstream items(text);
        for (std::string item; std::getline(items, item, ',');) {
            if (!item.empty()) array.push_back(json::parse(item, nullptr, false));
        }
        return array;
    }
    json parsed = json::parse(text, nullptr, false);
    if (!parsed.is_discarded() && (parsed.is_number() || parsed.is_boolean())) return parsed;
    return text;
}

void set_path(json& spec, const std::string& path, const json& value) {
    json* at = &spec;
    std::stringstream parts(path);
    std::string part;
    std::vector<std::string> keys;
    while (std::getline(parts, part, '.')) keys.push_back(part);
    for (std::size_t i = 0; i + 1 < keys.size(); ++i) {
        if (!at->contains(keys[i]) || !(*at)[keys[i]].is_object()) (*at)[keys[i]] = json::object();
        at = &(*at)[keys[i]];
    }
    (*at)[keys.back()] = value;
}

bool write_file(const std::string& path, const std::string& text) {
    std::ofstream out(path, std::ios::trunc);
    out << text;
    return static_cast<bool>(out);
}

struct Flag {
    const char* name;
    std::vector<const char*> paths;
    const char* help;
    bool list = false;
};

// Every scenario field as a flag: it overrides the same field of --spec.
const std::vector<Flag> kFlags = {
    {"--id", {"id"}, "free-text scenario id, echoed in the result"},
    {"--queue", {"queue"}, "ringside, ringside_ring, boost_spsc, moodycamel_rwq, mutex_condvar, floor_cacheline, floor_futex, tracer"},
    {"--transport", {"transport"}, "threads or processes"},
    {"--backing", {"backing"}, "shm or file"},
    {"--delivery", {"delivery"}, "vtable or ring (queue ringside)"},
    {"--payload", {"payload_bytes"}, "bytes per message (>= 8)"},
    {"--ring-bytes", {"ring_bytes"}, "ring capacity per direction (power of two; 0: automatic)"},
    {"--wait", {"host.wait.kind", "sidecar.wait.kind"}, "both sides' wait kind"},
    {"--host-wait", {"host.wait.kind"}, "busy_spin, spin_pause, yield, sleep, futex, eventfd, hybrid, native"},
    {"--sidecar-wait", {"sidecar.wait.kind"}, "the sidecar's (or echo thread's) wait kind"},
    {"--spin-limit", {"host.wait.spin_limit", "sidecar.wait.spin_limit"}, "hybrid: pause-spins before parking"},
    {"--sleep-ns", {"host.wait.sleep_ns", "sidecar.wait.sleep_ns"}, "sleep: each nap"},
    {"--host-policy", {"host.sched.policy"}, "other, fifo or rr"},
    {"--host-priority", {"host.sched.priority"}, "fifo/rr priority 1..99"},
    {"--host-nice", {"host.sched.nice"}, "other: nice -20..19"},
    {"--host-cpu", {"host.cpu"}, "the host thread's CPU"},
    {"--sidecar-policy", {"sidecar.sched.policy"}, "other, fifo or rr"},
    {"--sidecar-priority", {"sidecar.sched.priority"}, "fifo/rr priority 1..99"},
    {"--sidecar-nice", {"sidecar.sched.nice"}, "other: nice -20..19"},
    {"--sidecar-cpu", {"sidecar.cpu"}, "the sidecar's CPU"},
    {"--placement", {"placement"}, "different_cores, same_core or unpinned"},
    {"--contention-threads", {"contention.threads"}, "busy threads competing for the CPUs"},
    {"--contention-policy", {"contention.sched.policy"}, "their policy"},
    {"--contention-priority", {"contention.sched.priority"}, "their fifo/rr priority"},
    {"--contention-nice", {"contention.sched.nice"}, "their nice"},
    {"--contention-processes", {"contention.processes"}, "true: busy processes instead of threads"},
    {"--contention-cpus", {"contention.cpus"}, "their CPUs, e.g. 0,1", true},
    {"--load", {"load.mode"}, "closed, open or throughput"},
    {"--rate", {"load.rate_per_s"}, "open loop: messages per second"},
    {"--burst", {"load.burst"}, "messages sent back to back"},
    {"--count", {"count"}, "measured messages"},
    {"--duration", {"duration_s"}, "or: measure this many seconds"},
    {"--warmup", {"warmup"}, "messages before measuring"},
    {"--host-kind", {"host_kind"}, "cpp or python (the host side in Python, through the ctypes binding)"},
    {"--timeout", {"timeout_s"}, "watchdog: the whole run"},
    {"--patience", {"patience_s"}, "the longest wait for one reply"},
    {"--interval", {"interval_s"}, ".hlog interval length"},
    {"--downgrade", {"downgrade"}, "true: accept less scheduling than asked (recorded)"},
    {"--file-dir", {"file_dir"}, "directory for file-backed regions"},
};

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"ringside-runner: runs one scenario and writes a strict JSON result, a .hgrm and a .hlog "
                 "(harness/runner/README.md)"};
    std::string spec_path;
    std::string output;
    std::string clock_name;
    std::string inject;
    bool print_spec = false;
    bool validate_only = false;
    app.add_option("--spec", spec_path, "scenario JSON file ('-': stdin); flags override its fields");
    app.add_option("-o,--output", output, "result prefix: writes PREFIX.json, PREFIX.hgrm, PREFIX.hlog");
    app.add_option("--clock", clock_name, "force the clock: tsc or monotonic (default: tsc when invariant)");
    app.add_option("--inject", inject, "test mode: a deliberate fault loss:N, dup:N, corrupt:N or reorder:N, or slow:NS (spin NS ns before every send)");
    app.add_flag("--print-spec", print_spec, "print the effective scenario (defaults filled in) and exit");
    app.add_flag("--validate-only", validate_only, "check the scenario and exit: 0 valid, 2 rejected");
    std::map<std::string, std::string> given;
    for (const Flag& flag : kFlags) app.add_option(flag.name, given[flag.name], flag.help);
    CLI::App* child = app.add_subcommand("sidecar-child", "internal: the sidecar process of transport processes");
    int control_fd = -1;
    child->add_option("--control-fd", control_fd, "the control socket")->required();
    CLI11_PARSE(app, argc, argv);
    if (child->parsed()) return sidecar_child_main(control_fd);

    json spec = json::object();
    if (!spec_path.empty()) {
        std::ifstream file;
        std::istream* in = &std::cin;
        if (spec_path != "-") {
            file.open(spec_path);
            if (!file) {
                std::fprintf(stderr, "ringside-runner: cannot read %s\n", spec_path.c_str());
                return 2;
            }
            in = &file;
        }
        spec = json::parse(*in, nullptr, false);
        if (spec.is_discarded()) {
            std::fprintf(stderr, "ringside-runner: %s is not valid JSON\n", spec_path.c_str());
            return 2;
        }
    }
    for (const Flag& flag : kFlags) {
        if (app.get_option(flag.name)->count() == 0) continue;
        for (const char* path : flag.paths) set_path(spec, path, flag_value(given[flag.name], flag.list));
    }
    Scenario scenario;
    std::string error;
    if (!scenario_from_json(spec, scenario, error)) {
        std::fprintf(stderr, "ringside-runner: invalid scenario: %s\n", error.c_str());
        return 2;
    }
    RunOptions options;
    options.clock = clock_name;
    if (!inject.empty() && !parse_fault(inject, options.fault, error)) {
        std::fprintf(stderr, "ringside-runner: --inject: %s\n", error.c_str());
        return 2;
    }
    const std::vector<int> allowed = allowed_cpus();
    resolve(scenario, allowed);
    const std::vector<std::string> reasons = validate(scenario, allowed);
    if (print_spec) std::cout << scenario_to_json(scenario).dump(2) << '\n';
    if (!reasons.empty()) {
        for (const std::string& reason : reasons) std::fprintf(stderr, "ringside-runner: rejected: %s\n", reason.c_str());
        if (!output.empty()) {
            nlohmann::ordered_json rejected;
            rejected["schema"] = kResultSchema;
            rejected["status"] = "rejected";
            rejected["failures"] = reasons;
            rejected["scenario"] = scenario_to_json(scenario);
            write_file(output + ".json", rejected.dump(2) + "\n");
        }
        return 2;
    }
    if (print_spec || validate_only) return 0;

    safety::install(scenario.timeout_s);
    if (!output.empty()) safety::set_failure_output(output + ".json", scenario_to_json(scenario).dump());
    const RunResult result = run_scenario(scenario, options);
    safety::disarm();
    safety::cleanup();

    const std::string document = result.document.dump(2) + "\n";
    if (output.empty()) {
        std::cout << document;
    } else {
        bool ok = write_file(output + ".json", document);
        ok = ok && (result.hgrm.empty() || write_file(output + ".hgrm", result.hgrm));
        ok = ok && (result.hlog.empty() || write_file(output + ".hlog", result.hlog));
        ok = ok && (result.hgrm_uncorrected.empty() || write_file(output + ".uncorrected.hgrm", result.hgrm_uncorrected));
        if (!ok) {
            std::fprintf(stderr, "ringside-runner: cannot write %s.*\n", output.c_str());
            return 3;
        }
    }
    const auto& doc = result.document;
    const auto& latency = doc["latency_ns"];
    auto number = [](const nlohmann::ordered_json& value) {
        return value.is_number() ? std::to_string(value.get<std::int64_t>()) : std::string("null");
    };
    std::fprintf(stderr, "ringside-runner: %s: %s %s %s payload %llu: p50 %s ns, p99 %s ns, max %s ns, %s messages%s%s\n",
                 doc["status"].get<std::string>().c_str(), name(scenario.queue), name(scenario.transport),
                 name(scenario.load.mode), static_cast<unsigned long long>(scenario.payload_bytes),
                 latency.is_object() ? number(latency["p50_ns"]).c_str() : "null",
                 latency.is_object() ? number(latency["p99_ns"]).c_str() : "null",
                 latency.is_object() ? number(latency["max_ns"]).c_str() : "null",
                 latency.is_object() ? number(latency["count"]).c_str() : "0", output.empty() ? "" : " -> ",
                 output.empty() ? "" : (output + ".json").c_str());
    for (const auto& failure : doc["failures"]) {
        std::fprintf(stderr, "ringside-runner:   %s\n", failure.get<std::string>().c_str());
    }
    return result.exit_code;
}
