// ringside's port with the sidecar in a child process (ringside_port.hpp,
// sidecar_child.cpp): the runner re-executes itself as `ringside-runner
// sidecar-child`, hands it the scenario and the region's name over a
// SOCK_SEQPACKET pair, and takes its events from ring 1.
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstring>

#include "runner/ringside_host_rings.hpp"
#include "runner/safety.hpp"

namespace ringside::runner {
namespace {

// This program's path, to start the sidecar child with. Read through
// readlink, not exec'd as "/proc/self/exe": under valgrind that link names
// valgrind's tool, which then fails to load as its own client, while
// valgrind answers readlink with the client's path.
std::string own_executable() {
    char path[4096];
    const ssize_t length = ::readlink("/proc/self/exe", path, sizeof path - 1);
    if (length <= 0) return "/proc/self/exe";
    return std::string(path, static_cast<std::size_t>(length));
}

Granted granted_from_message(const nlohmann::json& j) {
    Granted g;
    g.tid = j.value("tid", 0);
    g.policy = j.value("policy", std::string("unknown"));
    g.priority = j.value("priority", 0);
    g.nice = j.value("nice", 0);
    g.cpus = j.value("cpus", std::vector<int>{});
    g.refused = j.value("refused", std::string());
    g.refused_errno = j.value("refused_errno", 0);
    return g;
}

class ProcessPort final : public HostRingsPort {
public:
    ProcessPort(const Scenario& s, const Clock& clock, SequenceChecker& checker, const std::atomic<bool>& abort)
        : HostRingsPort(s, clock, checker, abort) {}

    bool start(std::string& error) {
        const int no_eventfds[2] = {-1, -1};
        if (!open_region(no_eventfds, error)) return false;
        int pair[2];
        if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair) != 0) {
            error = std::string("socketpair: ") + std::strerror(errno);
            return false;
        }
        control_ = pair[0];
        child_ = safety::fork_exec({own_executable(), "sidecar-child", "--control-fd", "3"}, pair[1], error);
        ::close(pair[1]);
        if (child_ < 0) return false;
        if (!send_json(control_, {{"scenario", scenario_to_json(s_)}, {"region", name_}})) {
            error = "cannot send the scenario to the sidecar process";
            return false;
        }
        nlohmann::json ready;
        const int wait_ms = static_cast<int>(std::min(30.0, s_.timeout_s) * 1000);
        if (!receive_json(control_, ready, wait_ms, error)) {
            error = "sidecar process: " + error;
            return false;
        }
        if (!ready.value("ready", false)) {
            error = "sidecar process: " + ready.value("error", std::string("did not start"));
            return false;
        }
        granted_ = granted_from_message(ready["granted"]);
        // Both sides have it mapped: the name is no longer needed, and gone it cannot leak.
        (void)rs_region_unlink(name_.c_str(), s_.backing == Backing::kShm ? RS_BACKING_SHM : RS_BACKING_FILE);
        safety::untrack_region(name_);
        return true;
    }

    ~ProcessPort() override { close(); }

    void snapshot_sidecar(int slot) override {
        // Asynchronous: the reply is read in finish(), so the run is not held up.
        (void)send_json(control_, {{"cmd", "snapshot"}, {"slot", slot}});
    }

    bool finish(std::string& error) override {
        if (!send_json(control_, {{"cmd", "stop"}})) {
            error = "cannot ask the sidecar process to stop";
            return false;
        }
        for (;;) {
            nlohmann::json reply;
            if (!receive_json(control_, reply, 10'000, error)) {
                error = "sidecar process: " + error;
                return false;
            }
            if (reply.contains("snapshot")) {
                const int slot = reply.value("snapshot", 0);
                if (slot == 0 || slot == 1) costs_[slot] = cost_from_json(reply["cost"]);
                continue;
            }
            if (reply.contains("error")) {
                error = "sidecar process: " + reply.value("error", std::string());
                return false;
            }
            const nlohmann::json& final = reply["final"];
            const nlohmann::json& f = final["forward"];
            forward_.received = f.value("received", std::uint64_t{0});
            forward_.lost = f.value("lost", std::uint64_t{0});
            forward_.duplicated = f.value("duplicated", std::uint64_t{0});
            forward_.reordered = f.value("reordered", std::uint64_t{0});
            forward_.corrupted = f.value("corrupted", std::uint64_t{0});
            echoed_ = final.value("echoed", std::uint64_t{0});
            echo_last_seq_ = final.value("last_seq", std::uint64_t{0});
            stats_ = final["stats"];
            break;
        }
        int status = 0;
        for (int i = 0; i < 500 && ::waitpid(child_, &status, WNOHANG) == 0; ++i) ::usleep(10'000);
        const bool exited = WIFEXITED(status) && WEXITSTATUS(status) == 0;
        safety::untrack_child(child_);
        child_ = -1;
        close();
        if (!exited) error = "sidecar process did not exit cleanly";
        return exited;
    }

protected:
    Io receive_erased(std::uint64_t deadline, bool wait, ReplyFn fn, void* context) override {
        return dispatch_events(deadline, wait, fn, context);
    }

private:
    void close() {
        if (child_ > 0) {
            ::kill(child_, SIGKILL);
            ::waitpid(child_, nullptr, 0);
            safety::untrack_child(child_);
            child_ = -1;
        }
        if (control_ >= 0) ::close(control_);
        control_ = -1;
        close_region();
    }

    int control_ = -1;
    pid_t child_ = -1;
};

}  // namespace

std::unique_ptr<RingsidePort> start_process_port(const Scenario& s, const Clock& clock,
                                                 SequenceChecker& return_checker, const std::atomic<bool>& abort,
                                                 std::string& error) {
    auto port = std::make_unique<ProcessPort>(s, clock, return_checker, abort);
    if (!port->start(error)) return nullptr;
    return port;
}

}  // namespace ringside::runner
