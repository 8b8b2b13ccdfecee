// ringside's product path as a driver Port (driver.hpp):
//
//   host thread --reserve/commit--> [command ring 0] --> sidecar (library worker thread)
//        ^                                                   | processor: validating echo
//        +-- v-table on_event (threads)  or  [event ring 1] <+
//
// threads:   the sidecar runs in this process. delivery vtable: on_event
//            runs on the sidecar thread; it validates the event and hands
//            its number to the host thread through a completion queue
//            (Completions below), which the host waits on with its own
//            strategy. delivery ring: the host takes events from ring 1
//            with rs_host_dispatch_events.
// processes: the runner re-executes itself as `ringside-runner sidecar-child`;
//            the child opens the region by name and runs the sidecar with
//            ring delivery. A SOCK_SEQPACKET pair carries the spec, the
//            child's grants, cost snapshots and the stop request (one JSON
//            object per message). Once the child has mapped the region the
//            parent unlinks its name: nothing can be left behind, even after
//            SIGKILL.
// Files: this interface and what both sides share (ringside_port.cpp);
// the host's region, rings and ring delivery, common to both ports
// (ringside_host_rings.*); threads (ringside_port_threads.cpp); processes
// (ringside_port_process.cpp, the child: sidecar_child.cpp).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <type_traits>
#include <vector>

#include <nlohmann/json.hpp>

#include "ringside/ringside.h"
#include "runner/clock.hpp"
#include "runner/driver.hpp"
#include "runner/os_threads.hpp"
#include "runner/scenario.hpp"

namespace ringside::runner {

// The processor every ringside sidecar runs: copies the command into the
// event, then checks it (sequence and checksum) before returning.
struct alignas(128) ProcessorState {
    explicit ProcessorState(const MessageCodec& codec) : checker(codec) {}
    SequenceChecker checker;
    std::uint64_t last_seq = 0;
};
std::int32_t validating_echo(const void* command, std::size_t command_length, void* event, std::size_t event_capacity,
                             std::size_t* event_length, void* user);

// The sidecar's options for this scenario (delivery, waits, scheduling, CPUs).
rs_sidecar_options sidecar_options(const Scenario& s, const std::vector<int>& allowed, ProcessorState* processor);
// rs_sidecar_get_sched in the runner's terms.
Granted granted_from(const rs_sidecar_sched& sched);
nlohmann::ordered_json sidecar_stats_json(const rs_sidecar_stats& stats);

class RingsidePort {
public:
    // Creates the region and the host's rings, starts the sidecar (thread or
    // child process) and waits until it reports its grants. Null with `error`.
    static std::unique_ptr<RingsidePort> start(const Scenario& s, const Clock& clock, const MessageCodec& codec,
                                               SequenceChecker& return_checker, const std::vector<int>& allowed,
                                               const std::atomic<bool>& abort, std::string& error);
    virtual ~RingsidePort() = default;

    // --- Port ---
    template <typename Fill>
    Io try_send(Fill&& fill) {
        void* slot = nullptr;
        const rs_result r = rs_ring_reserve(commands_, payload_, &slot);
        if (r == RS_FULL) return Io::kRetry;
        if (r != RS_OK) return Io::kFailed;
        fill(static_cast<std::byte*>(slot));
        return rs_ring_commit(commands_) == RS_OK ? Io::kDone : Io::kFailed;
    }
    template <typename OnReply>
    Io receive(std::uint64_t deadline, bool wait, OnReply&& on_reply) {
        using Fn = std::remove_reference_t<OnReply>;
        auto call = [](void* context, std::uint64_t seq, Verdict verdict, std::uint64_t tick) {
            (*static_cast<Fn*>(context))(seq, verdict, tick);
        };
        return receive_erased(deadline, wait, call, const_cast<void*>(static_cast<const void*>(&on_reply)));
    }
    [[nodiscard]] virtual std::uint64_t max_in_flight() const { return UINT64_MAX; }

    // --- the sidecar side ---
    [[nodiscard]] const Granted& sidecar_granted() const { return granted_; }
    // Takes a cost snapshot of the sidecar's worker thread into slot 0 (start) or 1 (end).
    virtual void snapshot_sidecar(int slot) = 0;
    // Stops the sidecar (drain) and collects its counters; false with `error`.
    virtual bool finish(std::string& error) = 0;
    [[nodiscard]] ThreadCost sidecar_cost(int slot) const { return costs_[slot]; }
    [[nodiscard]] const LegCounts& forward() const { return forward_; }
    [[nodiscard]] std::uint64_t echoed() const { return echoed_; }
    [[nodiscard]] std::uint64_t echo_last_seq() const { return echo_last_seq_; }
    [[nodiscard]] const nlohmann::ordered_json& sidecar_stats() const { return stats_; }

protected:
    using ReplyFn = void (*)(void* context, std::uint64_t seq, Verdict verdict, std::uint64_t tick);
    virtual Io receive_erased(std::uint64_t deadline, bool wait, ReplyFn fn, void* context) = 0;

    rs_ring_t* commands_ = nullptr;
    std::uint32_t payload_ = 0;
    Granted granted_;
    ThreadCost costs_[2];
    LegCounts forward_;
    std::uint64_t echoed_ = 0;
    std::uint64_t echo_last_seq_ = 0;
    nlohmann::ordered_json stats_;
};

// `ringside-runner sidecar-child --control-fd N`: the child's whole life.
int sidecar_child_main(int control_fd);

// One JSON object per SOCK_SEQPACKET message.
bool send_json(int fd, const nlohmann::json& message);
bool receive_json(int fd, nlohmann::json& message, int timeout_ms, std::string& error);

}  // namespace ringside::runner
