#include "runner/python_host.hpp"

#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <algorithm>
#include <cstring>
#include <fstream>
#include <vector>

#include "runner/ringside_port.hpp"
#include "runner/safety.hpp"

#ifndef RINGSIDE_PYTHON_SOURCE
#define RINGSIDE_PYTHON_SOURCE ""
#endif
#ifndef RINGSIDE_PYTHON_LIBRARY
#define RINGSIDE_PYTHON_LIBRARY ""
#endif
#ifndef RINGSIDE_PYTHON_PRELOAD
#define RINGSIDE_PYTHON_PRELOAD ""
#endif

namespace ringside::runner {
namespace {

const char* fault_kind(Fault::Kind kind) {
    switch (kind) {
        case Fault::Kind::kLoss: return "loss";
        case Fault::Kind::kDuplicate: return "dup";
        case Fault::Kind::kCorrupt: return "corrupt";
        case Fault::Kind::kReorder: return "reorder";
        default: return nullptr;
    }
}

// The child's environment: the binding's source tree on PYTHONPATH, this
// build's libringside.so unless RINGSIDE_LIBRARY says otherwise, and in an
// ASan build the ASan runtime preloaded (leak checks off: the interpreter's
// own allocations are not ours). Set in this process: fork_exec inherits it.
void prepare_environment() {
    std::string path = RINGSIDE_PYTHON_SOURCE;
    if (const char* old = std::getenv("PYTHONPATH"); old != nullptr && *old != '\0') path += std::string(":") + old;
    ::setenv("PYTHONPATH", path.c_str(), 1);
    ::setenv("RINGSIDE_LIBRARY", RINGSIDE_PYTHON_LIBRARY, 0);
    if (*RINGSIDE_PYTHON_PRELOAD != '\0') {
        ::setenv("LD_PRELOAD", RINGSIDE_PYTHON_PRELOAD, 1);
        std::string asan = "detect_leaks=0";
        if (const char* old = std::getenv("ASAN_OPTIONS"); old != nullptr && *old != '\0') asan = std::string(old) + ":" + asan;
        ::setenv("ASAN_OPTIONS", asan.c_str(), 1);
    }
}

std::string python_path() {
    const char* chosen = std::getenv("RINGSIDE_PYTHON");
    return chosen != nullptr && *chosen != '\0' ? chosen : "/usr/bin/python3";
}

LegCounts back_from(const nlohmann::json& j) {
    LegCounts c;
    c.received = j.value("received", std::uint64_t{0});
    c.lost = j.value("lost", std::uint64_t{0});
    c.duplicated = j.value("duplicated", std::uint64_t{0});
    c.reordered = j.value("reordered", std::uint64_t{0});
    c.corrupted = j.value("corrupted", std::uint64_t{0});
    return c;
}

// Reads the samples file: (seq, sent_ns, reply_ns) triples, in reply order.
bool record_samples(const std::string& path, Recorder& recorder, PythonHostRun& out) {
    std::ifstream file(path, std::ios::binary | std::ios::ate);
    if (!file) return false;
    const auto bytes = static_cast<std::size_t>(file.tellg());
    file.seekg(0);
    std::vector<std::uint64_t> triples(bytes / sizeof(std::uint64_t));
    file.read(reinterpret_cast<char*>(triples.data()), static_cast<std::streamsize>(triples.size() * sizeof(std::uint64_t)));
    if (!file || triples.size() % 3 != 0) return false;
    recorder.start(out.host.measure_start);
    for (std::size_t i = 0; i < triples.size(); i += 3) {
        recorder.stamp(triples[i], triples[i + 1], triples[i + 1]);
        recorder.record(triples[i], triples[i + 2]);
    }
    recorder.finish(std::max(out.host.measure_end, out.host.measure_start));
    return true;
}

class Child {
public:
    ~Child() {
        if (control_ >= 0) ::close(control_);
        if (pid_ > 0) {
            int status = 0;
            // The child exits once the socket closes; the watchdog bounds a hang.
            ::waitpid(pid_, &status, 0);
            safety::untrack_child(pid_);
        }
    }
    bool start(std::string& error) {
        int pair[2];
        if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair) != 0) {
            error = std::string("socketpair: ") + std::strerror(errno);
            return false;
        }
        control_ = pair[0];
        prepare_environment();
        pid_ = safety::fork_exec({python_path(), "-m", "ringside.runner_host", "--control-fd", "3"}, pair[1], error);
        ::close(pair[1]);
        return pid_ > 0;
    }
    [[nodiscard]] int control() const { return control_; }

private:
    int control_ = -1;
    pid_t pid_ = -1;
};

}  // namespace

std::string python_host_unavailable() {
    if (std::string(RINGSIDE_PYTHON_LIBRARY).empty()) return "this runner was built without the Python host";
#if defined(__SANITIZE_THREAD__)
    return "the Python host cannot run in a TSan build (the interpreter would load an instrumented library without its runtime)";
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
    return "the Python host cannot run in a TSan build (the interpreter would load an instrumented library without its runtime)";
#endif
#endif
    return "";
}

PythonHostRun run_python_host(const Scenario& s, const Fault& fault, const Clock& clock, Recorder& recorder) {
    PythonHostRun out;
    std::string error;
    Child child;
    if (!child.start(error)) {
        out.host.error = "starting the Python host: " + error;
        return out;
    }
    const std::string samples = "/tmp/ringside-runner." + std::to_string(::getpid()) + ".python-samples";
    nlohmann::json hello = {{"scenario", scenario_to_json(s)}, {"samples", samples}, {"fault", nullptr}};
    if (fault.kind != Fault::Kind::kNone) {
        if (fault_kind(fault.kind) == nullptr) {
            out.host.error = "this fault cannot be injected into a Python host";
            return out;
        }
        hello["fault"] = {{"kind", fault_kind(fault.kind)}, {"seq", fault.seq}};
    }
    const int fd = child.control();
    nlohmann::json ready;
    if (!send_json(fd, hello) || !receive_json(fd, ready, static_cast<int>(std::min(60.0, s.timeout_s) * 1000), error)) {
        out.host.error = "the Python host did not start: " + error;
        return out;
    }
    if (!ready.value("ready", false)) {
        out.host.error = ready.value("error", std::string("the Python host did not start"));
        return out;
    }
    out.host_granted = read_granted(ready.value("host_tid", 0));
    out.host_granted.refused = ready.value("host_refused", std::string());
    out.sidecar_granted = read_granted(ready.value("sidecar_tid", 0));
    out.have_granted = true;
    out.timer_cost_ns = ready.value("timer_cost_ns", 0.0);
    out.record_cost_ns = ready.value("record_cost_ns", 0.0);
    safety::set_phase("measuring (Python host)");
    nlohmann::json done;
    const int patience_ms = static_cast<int>(s.timeout_s * 1000);
    if (!send_json(fd, {{"cmd", "run"}}) || !receive_json(fd, done, patience_ms, error)) {
        out.host.error = "the Python host: " + error;
        return out;
    }
    (void)send_json(fd, {{"cmd", "exit"}});
    safety::set_phase("stopping");
    if (!done.contains("done")) {
        out.host.error = done.value("error", std::string("the Python host ended without a report"));
        return out;
    }
    const nlohmann::json& r = done["done"];
    if (r.contains("error") && r["error"].is_string()) out.host.error = r["error"].get<std::string>();
    out.host.last_seq = r.value("last_seq", std::uint64_t{0});
    out.host.transmissions = r.value("transmissions", std::uint64_t{0});
    out.host.replies = r.value("replies", std::uint64_t{0});
    out.host.measured_replies = r.value("measured", std::uint64_t{0});
    out.host.measure_start = clock.from_ns(r.value("measure_start_ns", 0.0));
    out.host.measure_end = clock.from_ns(r.value("measure_end_ns", 0.0));
    out.measure_epoch_s = r.value("start_epoch_s", 0.0);
    const std::uint64_t processed = r["forward"].value("received", std::uint64_t{0});
    out.forward.sent = out.host.last_seq;
    out.forward.received = processed;
    out.forward.lost = processed < out.host.last_seq ? out.host.last_seq - processed : 0;
    out.forward.duplicated = processed > out.host.last_seq ? processed - out.host.last_seq : 0;
    out.back = back_from(r["return"]);
    out.back.sent = r.value("echoed", std::uint64_t{0});
    for (int slot = 0; slot < 2; ++slot) {
        out.host_cost[slot] = cost_from_json(r["cost"]["host"][slot]);
        out.sidecar_cost[slot] = cost_from_json(r["cost"]["sidecar"][slot]);
    }
    out.python = r.value("python", std::string());
    out.sidecar_stats = r.value("sidecar_stats", nlohmann::json(nullptr));
    if (!record_samples(samples, recorder, out) && out.host.error.empty()) {
        out.host.error = "unreadable samples from the Python host (" + samples + ")";
    }
    ::unlink(samples.c_str());
    return out;
}

}  // namespace ringside::runner
