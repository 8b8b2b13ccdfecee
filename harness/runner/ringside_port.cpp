// The shared part of ringside's product path (ringside_port.hpp): the
// sidecar's processor and options, its grants and counters in the runner's
// terms, the port's factory (threads: ringside_port_threads.cpp, processes:
// ringside_port_process.cpp), and the control socket's messages.
#include "runner/ringside_port.hpp"

#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>

#include "runner/ringside_host_rings.hpp"
#include "runner/ringside_ring_link.hpp"

namespace ringside::runner {
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
    g.policy = os_policy_name(sched.granted_os_policy);
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
        return start_threads_port(s, clock, codec, return_checker, allowed, abort, error);
    }
    return start_process_port(s, clock, return_checker, abort, error);
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
