// ringside's port with the sidecar in this process (ringside_port.hpp):
// the library's worker thread echoes; delivery vtable hands each event's
// number to the host thread through a completion queue, delivery ring
// leaves the events on ring 1 for the host to dispatch.
#include <unistd.h>

#include <cstring>

#include "runner/completions.hpp"
#include "runner/ringside_host_rings.hpp"

namespace ringside::runner {
namespace {

class ThreadsPort final : public HostRingsPort {
public:
    ThreadsPort(const Scenario& s, const Clock& clock, const MessageCodec& codec, SequenceChecker& checker,
                const std::atomic<bool>& abort)
        : HostRingsPort(s, clock, checker, abort), processor_(codec) {}

    bool start(const std::vector<int>& allowed, std::string& error) {
        const bool eventfds = s_.host.wait.kind == Wait::kEventfd || s_.sidecar.wait.kind == Wait::kEventfd;
        for (int& fd : eventfds_) {
            if (eventfds && rs_eventfd_create(&fd) != RS_OK) {
                error = last_error("rs_eventfd_create");
                return false;
            }
        }
        if (!open_region(eventfds_, error)) return false;
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
        return dispatch_events(deadline, wait, fn, context);
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

    void close() {
        if (sidecar_ != nullptr) {
            if (started_) (void)rs_sidecar_stop(sidecar_, RS_STOP_DISCARD, 5'000'000'000ull);
            if (rs_sidecar_destroy(sidecar_) != RS_OK) return;  // a stuck worker: leave everything mapped
            sidecar_ = nullptr;
        }
        close_region();
        for (int& fd : eventfds_) {
            if (fd >= 0) ::close(fd);
            fd = -1;
        }
    }

    ProcessorState processor_;  // the sidecar thread's, on lines of its own
    rs_sidecar_t* sidecar_ = nullptr;
    bool started_ = false;
    int eventfds_[2] = {-1, -1};  // where the host / the sidecar parks (eventfd kind)
    std::unique_ptr<Completions> completions_;
    rs_host_vtable vtable_{};
};

}  // namespace

std::unique_ptr<RingsidePort> start_threads_port(const Scenario& s, const Clock& clock, const MessageCodec& codec,
                                                 SequenceChecker& return_checker, const std::vector<int>& allowed,
                                                 const std::atomic<bool>& abort, std::string& error) {
    auto port = std::make_unique<ThreadsPort>(s, clock, codec, return_checker, abort);
    if (!port->start(allowed, error)) return nullptr;
    return port;
}

}  // namespace ringside::runner
