#include "runner/ringside_port.hpp"

#include <poll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <string>

#include "runner/completions.hpp"
#include "runner/ringside_ring_link.hpp"
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

std::string region_name(const Scenario& s) {
    static std::atomic<unsigned> counter{0};
    const std::string base = "ringside-runner." + std::to_string(::getpid()) + "." +
                             std::to_string(counter.fetch_add(1, std::memory_order_relaxed));
    return s.backing == Backing::kShm ? "/" + base : s.file_dir + "/" + base + ".region";
}

std::string last_error(const char* what) { return std::string(what) + ": " + rs_last_error_message(); }

const char* rs_policy_name(rs_sched_policy policy, int os_policy) {
    (void)policy;
    switch (os_policy) {
        case SCHED_OTHER: return "other";
        case SCHED_FIFO: return "fifo";
        case SCHED_RR: return "rr";
        case SCHED_BATCH: return "batch";
        case SCHED_IDLE: return "idle";
        default: return "unknown";
    }
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

// The host's rings: command producer (ring 0), and for ring delivery the event consumer (ring 1).
bool open_host_rings(const Scenario& s, rs_region_t* region, rs_ring_t*& commands, rs_ring_t*& events,
                     const int eventfds[2], std::string& error) {
    rs_wait_strategy host = library_strategy(s.host.wait, s.sidecar.wait);
    if (s.host.wait.kind == Wait::kEventfd) host.eventfd = eventfds[0];
    if (s.sidecar.wait.kind == Wait::kEventfd) host.peer_eventfd = eventfds[1];
    if (rs_ring_create(region, 0, RS_ROLE_PRODUCER, &commands) != RS_OK ||
        rs_ring_set_wait_strategy(commands, &host) != RS_OK) {
        error = last_error("command ring");
        return false;
    }
    if (s.delivery == Delivery::kRing && (rs_ring_create(region, 1, RS_ROLE_CONSUMER, &events) != RS_OK ||
                                          rs_ring_set_wait_strategy(events, &host) != RS_OK)) {
        error = last_error("event ring");
        return false;
    }
    return true;
}

rs_region_t* create_region(const Scenario& s, const std::string& name, std::string& error) {
    rs_region_options options;
    rs_region_options_init(&options);
    options.backing = s.backing == Backing::kShm ? RS_BACKING_SHM : RS_BACKING_FILE;
    options.ring_count = 2;
    options.ring_capacity = s.ring_bytes;
    rs_region_t* region = nullptr;
    safety::track_region(name, s.backing);
    if (rs_region_create(name.c_str(), &options, &region) != RS_OK) {
        error = last_error("rs_region_create");
        safety::untrack_region(name);
        return nullptr;
    }
    return region;
}

// ---------------------------------------------------------------------------
// Threads: the sidecar in this process.

class ThreadsPort final : public RingsidePort {
public:
    ThreadsPort(const Scenario& s, const Clock& clock, const MessageCodec& codec, SequenceChecker& checker,
                const std::atomic<bool>& abort)
        : s_(s), clock_(clock), checker_(checker), abort_(abort), processor_(codec) {}

    bool start(const std::vector<int>& allowed, std::string& error) {
        payload_ = static_cast<std::uint32_t>(s_.payload_bytes);
        const bool eventfds = s_.host.wait.kind == Wait::kEventfd || s_.sidecar.wait.kind == Wait::kEventfd;
        for (int& fd : eventfds_) {
            if (eventfds && rs_eventfd_create(&fd) != RS_OK) {
                error = last_error("rs_eventfd_create");
                return false;
            }
        }
        name_ = region_name(s_);
        region_ = create_region(s_, name_, error);
        if (region_ == nullptr || !open_host_rings(s_, region_, commands_, events_, eventfds_, error)) return false;
        if (s_.delivery == Delivery::kVtable) completions_ = std::make_unique<Completions>(s_.host.wait, eventfds_[0]);
        rs_sidecar_options options = sidecar_options(s_, allowed, &processor_);
        if (s_.sidecar.wait.kind == Wait::kEventfd) {
            options.command_wait.eventfd = eventfds_[1];
            options.event_wait.eventfd = eventfds_[1];
        }
        if (s_.host.wait.kind == Wait::kEventfd) {
            options.command_wait.peer_eventfd = eventfds_[0];
            options.event_wait.peer_eventfd = eventfds_[0];
        }
        if (rs_sidecar_create(region_, &options, &sidecar_) != RS_OK) {
            error = last_error("rs_sidecar_create");
            return false;
        }
        vtable_ = {sizeof vtable_, RS_HOST_VTABLE_ABI_VERSION, this, &ThreadsPort::on_sidecar_event, nullptr, nullptr};
        dispatch_ = {sizeof dispatch_, RS_HOST_VTABLE_ABI_VERSION, this, &ThreadsPort::on_dispatched_event, nullptr,
                     nullptr};
        if (rs_sidecar_start(sidecar_, s_.delivery == Delivery::kVtable ? &vtable_ : nullptr) != RS_OK) {
            error = last_error("rs_sidecar_start");
            return false;
        }
        started_ = true;
        rs_sidecar_sched sched{};
        sched.struct_size = sizeof sched;
        if (rs_sidecar_get_sched(sidecar_, &sched) != RS_OK) {
            error = last_error("rs_sidecar_get_sched");
            return false;
        }
        granted_ = granted_from(sched);
        return true;
    }

    ~ThreadsPort() override { close(); }

    void snapshot_sidecar(int slot) override { costs_[slot] = cost_of_thread(granted_.tid); }

    bool finish(std::string& error) override {
        if (sidecar_ == nullptr) return false;
        if (rs_sidecar_stop(sidecar_, RS_STOP_DRAIN, 5'000'000'000ull) != RS_OK) {
            error = last_error("rs_sidecar_stop");
            return false;
        }
        started_ = false;
        rs_sidecar_stats stats{};
        stats.struct_size = sizeof stats;
        (void)rs_sidecar_get_stats(sidecar_, &stats);
        stats_ = sidecar_stats_json(stats);
        forward_ = processor_.checker.counts();
        echoed_ = stats.events_emitted;
        echo_last_seq_ = processor_.last_seq;
        close();
        return true;
    }

protected:
    Io receive_erased(std::uint64_t deadline, bool wait, ReplyFn fn, void* context) override {
        if (completions_) {
            auto deliver = [&] {
                const std::uint64_t seen = clock_.now();
                // The number was published before on_event checked the event: a
                // bad event is counted by the return checker and fails the run.
                return completions_->take([&](std::uint32_t seq) { fn(context, seq, Verdict::kInOrder, seen); }, 64);
            };
            if (deliver() > 0) return Io::kDone;
            if (!wait) return Io::kRetry;
            const Io io = completions_->wait(clock_, deadline, abort_);
            if (io != Io::kDone) return io;
            deliver();
            return Io::kDone;
        }
        fn_ = fn;
        context_ = context;
        for (;;) {
            const std::uint64_t now = clock_.now();
            std::uint64_t timeout = 0;
            if (wait && deadline > now) {
                timeout = std::min<std::uint64_t>(kSliceNs, static_cast<std::uint64_t>(clock_.to_ns(static_cast<std::int64_t>(deadline - now))));
            }
            std::uint32_t dispatched = 0;
            const rs_result r = rs_host_dispatch_events(events_, &dispatch_, 64, timeout, &dispatched);
            if (r == RS_OK) return Io::kDone;
            if (r != RS_TIMEOUT) return Io::kFailed;
            if (!wait) return Io::kRetry;
            if (abort_.load(std::memory_order_relaxed)) return Io::kAborted;
            if (clock_.now() >= deadline) return Io::kTimedOut;
        }
    }

private:
    // v-table delivery: the sidecar thread. The number goes to the host
    // first (its low 32 bits are the whole number: runs stay below 2^32
    // messages), then the event is checked, as every host checks a reply
    // after stamping it.
    static void on_sidecar_event(const void* data, std::size_t length, void* user) {
        auto* self = static_cast<ThreadsPort*>(user);
        std::uint32_t low = 0;
        if (length >= 4) std::memcpy(&low, data, 4);
        self->completions_->push(low);
        std::uint64_t seq = 0;
        (void)self->checker_.on_message(static_cast<const std::byte*>(data), length, seq);
    }
    // ring delivery: the host thread, inside rs_host_dispatch_events.
    static void on_dispatched_event(const void* data, std::size_t length, void* user) {
        auto* self = static_cast<ThreadsPort*>(user);
        const std::uint64_t seen = self->clock_.now();
        std::uint64_t seq = 0;
        const Verdict verdict = self->checker_.on_message(static_cast<const std::byte*>(data), length, seq);
        self->fn_(self->context_, seq, verdict, seen);
    }

    void close() {
        if (sidecar_ != nullptr) {
            if (started_) (void)rs_sidecar_stop(sidecar_, RS_STOP_DISCARD, 5'000'000'000ull);
            if (rs_sidecar_destroy(sidecar_) != RS_OK) return;  // a stuck worker: leave everything mapped
            sidecar_ = nullptr;
        }
        if (events_ != nullptr) (void)rs_ring_destroy(events_);
        if (commands_ != nullptr) (void)rs_ring_destroy(commands_);
        events_ = nullptr;
        commands_ = nullptr;
        if (region_ != nullptr) (void)rs_region_destroy(region_);
        region_ = nullptr;
        if (!name_.empty()) safety::untrack_region(name_);
        for (int& fd : eventfds_) {
            if (fd >= 0) ::close(fd);
            fd = -1;
        }
    }

    Scenario s_;
    const Clock& clock_;
    SequenceChecker& checker_;
    const std::atomic<bool>& abort_;
    ProcessorState processor_;
    std::string name_;
    rs_region_t* region_ = nullptr;
    rs_ring_t* events_ = nullptr;
    rs_sidecar_t* sidecar_ = nullptr;
    bool started_ = false;
    int eventfds_[2] = {-1, -1};  // where the host / the sidecar parks (eventfd kind)
    std::unique_ptr<Completions> completions_;
    rs_host_vtable vtable_{};
    rs_host_vtable dispatch_{};
    alignas(128) ReplyFn fn_ = nullptr;  // host thread, per receive
    void* context_ = nullptr;
};

// ---------------------------------------------------------------------------
// Processes: the sidecar in a child process (sidecar_child.cpp).

class ProcessPort final : public RingsidePort {
public:
    ProcessPort(const Scenario& s, const Clock& clock, SequenceChecker& checker, const std::atomic<bool>& abort)
        : s_(s), clock_(clock), checker_(checker), abort_(abort) {}

    bool start(std::string& error) {
        payload_ = static_cast<std::uint32_t>(s_.payload_bytes);
        name_ = region_name(s_);
        region_ = create_region(s_, name_, error);
        const int no_eventfds[2] = {-1, -1};
        if (region_ == nullptr || !open_host_rings(s_, region_, commands_, events_, no_eventfds, error)) return false;
        dispatch_ = {sizeof dispatch_, RS_HOST_VTABLE_ABI_VERSION, this, &ProcessPort::on_dispatched_event, nullptr,
                     nullptr};
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
        fn_ = fn;
        context_ = context;
        for (;;) {
            const std::uint64_t now = clock_.now();
            std::uint64_t timeout = 0;
            if (wait && deadline > now) {
                timeout = std::min<std::uint64_t>(kSliceNs, static_cast<std::uint64_t>(clock_.to_ns(static_cast<std::int64_t>(deadline - now))));
            }
            std::uint32_t dispatched = 0;
            const rs_result r = rs_host_dispatch_events(events_, &dispatch_, 64, timeout, &dispatched);
            if (r == RS_OK) return Io::kDone;
            if (r != RS_TIMEOUT) return Io::kFailed;
            if (!wait) return Io::kRetry;
            if (abort_.load(std::memory_order_relaxed)) return Io::kAborted;
            if (clock_.now() >= deadline) return Io::kTimedOut;
        }
    }

private:
    static void on_dispatched_event(const void* data, std::size_t length, void* user) {
        auto* self = static_cast<ProcessPort*>(user);
        const std::uint64_t seen = self->clock_.now();
        std::uint64_t seq = 0;
        const Verdict verdict = self->checker_.on_message(static_cast<const std::byte*>(data), length, seq);
        self->fn_(self->context_, seq, verdict, seen);
    }

    void close() {
        if (child_ > 0) {
            ::kill(child_, SIGKILL);
            ::waitpid(child_, nullptr, 0);
            safety::untrack_child(child_);
            child_ = -1;
        }
        if (control_ >= 0) ::close(control_);
        control_ = -1;
        if (events_ != nullptr) (void)rs_ring_destroy(events_);
        if (commands_ != nullptr) (void)rs_ring_destroy(commands_);
        events_ = nullptr;
        commands_ = nullptr;
        if (region_ != nullptr) (void)rs_region_destroy(region_);
        region_ = nullptr;
        if (!name_.empty()) safety::untrack_region(name_);
    }

    Scenario s_;
    const Clock& clock_;
    SequenceChecker& checker_;
    const std::atomic<bool>& abort_;
    std::string name_;
    rs_region_t* region_ = nullptr;
    rs_ring_t* events_ = nullptr;
    int control_ = -1;
    pid_t child_ = -1;
    rs_host_vtable dispatch_{};
    ReplyFn fn_ = nullptr;
    void* context_ = nullptr;
};

}  // namespace

std::int32_t validating_echo(const void* command, std::size_t command_length, void* event, std::size_t event_capacity,
                             std::size_t* event_length, void* user) {
    if (command_length > event_capacity) return RS_ERR_TOO_LARGE;
    std::memcpy(event, command, command_length);
    *event_length = command_length;
    auto* state = static_cast<ProcessorState*>(user);
    std::uint64_t seq = 0;
    const Verdict verdict = state->checker.on_message(static_cast<const std::byte*>(event), command_length, seq);
    if (verdict != Verdict::kCorrupt && verdict != Verdict::kStop) state->last_seq = std::max(state->last_seq, seq);
    return RS_PROCESS_EMIT;
}

rs_sidecar_options sidecar_options(const Scenario& s, const std::vector<int>& allowed, ProcessorState* processor) {
    rs_sidecar_options options;
    rs_sidecar_options_init(&options);
    options.command_ring = 0;
    options.event_ring = 1;
    options.delivery = s.delivery == Delivery::kVtable ? RS_DELIVER_VTABLE : RS_DELIVER_RING;
    options.max_event_bytes = static_cast<std::uint32_t>(s.payload_bytes);
    options.processor = &validating_echo;
    options.processor_user = processor;
    options.command_wait = library_strategy(s.sidecar.wait, s.host.wait);
    options.event_wait = library_strategy(s.sidecar.wait, s.host.wait);
    switch (s.sidecar.sched.policy) {
        case Policy::kOther: options.policy = RS_SCHED_OTHER; break;
        case Policy::kFifo: options.policy = RS_SCHED_FIFO; break;
        case Policy::kRr: options.policy = RS_SCHED_RR; break;
    }
    options.priority = s.sidecar.sched.priority;
    options.nice = s.sidecar.sched.nice;
    options.on_refused = s.downgrade ? RS_REFUSED_DOWNGRADE : RS_REFUSED_FAIL;
    for (int cpu : s.sidecar.cpu >= 0 ? std::vector<int>{s.sidecar.cpu} : allowed) {
        options.cpu_mask[cpu / 64] |= std::uint64_t{1} << (cpu % 64);
    }
    std::snprintf(options.thread_name, sizeof options.thread_name, "rs-sidecar");
    return options;
}

Granted granted_from(const rs_sidecar_sched& sched) {
    Granted g;
    g.tid = sched.tid;
    g.policy = rs_policy_name(sched.granted_policy, sched.granted_os_policy);
    g.priority = sched.granted_priority;
    g.nice = sched.granted_nice;
    for (int cpu = 0; cpu < RS_CPU_MASK_WORDS * 64; ++cpu) {
        if ((sched.granted_cpu_mask[cpu / 64] >> (cpu % 64)) & 1u) g.cpus.push_back(cpu);
    }
    g.refused = sched.refused;
    g.refused_errno = sched.refused_errno;
    return g;
}

nlohmann::ordered_json sidecar_stats_json(const rs_sidecar_stats& stats) {
    return {{"state", rs_sidecar_state_name(stats.state)},
            {"commands_processed", stats.commands_processed},
            {"events_emitted", stats.events_emitted},
            {"events_dropped", stats.events_dropped},
            {"commands_discarded", stats.commands_discarded},
            {"processor_errors", stats.processor_errors},
            {"parks", stats.parks},
            {"last_error", rs_result_name(stats.last_error)}};
}

std::unique_ptr<RingsidePort> RingsidePort::start(const Scenario& s, const Clock& clock, const MessageCodec& codec,
                                                  SequenceChecker& return_checker, const std::vector<int>& allowed,
                                                  const std::atomic<bool>& abort, std::string& error) {
    if (s.transport == Transport::kThreads) {
        auto port = std::make_unique<ThreadsPort>(s, clock, codec, return_checker, abort);
        if (!port->start(allowed, error)) return nullptr;
        return port;
    }
    auto port = std::make_unique<ProcessPort>(s, clock, return_checker, abort);
    if (!port->start(error)) return nullptr;
    return port;
}

bool send_json(int fd, const nlohmann::json& message) {
    const std::string text = message.dump();
    return ::send(fd, text.data(), text.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(text.size());
}

bool receive_json(int fd, nlohmann::json& message, int timeout_ms, std::string& error) {
    pollfd p{fd, POLLIN, 0};
    const int ready = ::poll(&p, 1, timeout_ms);
    if (ready == 0) {
        error = "no message within " + std::to_string(timeout_ms) + " ms";
        return false;
    }
    std::string buffer(1 << 16, '\0');
    const ssize_t n = ready < 0 ? -1 : ::recv(fd, buffer.data(), buffer.size(), 0);
    if (n <= 0) {
        error = n == 0 ? "the other process closed the control socket" : std::string("recv: ") + std::strerror(errno);
        return false;
    }
    message = nlohmann::json::parse(buffer.substr(0, static_cast<std::size_t>(n)), nullptr, false);
    if (message.is_discarded()) {
        error = "unreadable control message";
        return false;
    }
    return true;
}

}  // namespace ringside::runner
