#include "runner/ringside_host_rings.hpp"

#include <unistd.h>

#include "runner/ringside_ring_link.hpp"
#include "runner/safety.hpp"

namespace ringside::runner {
namespace {

std::string region_name(const Scenario& s) {
    static std::atomic<unsigned> counter{0};
    const std::string base = "ringside-runner." + std::to_string(::getpid()) + "." +
                             std::to_string(counter.fetch_add(1, std::memory_order_relaxed));
    return s.backing == Backing::kShm ? "/" + base : s.file_dir + "/" + base + ".region";
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

}  // namespace

std::string last_error(const char* what) { return std::string(what) + ": " + rs_last_error_message(); }

bool HostRingsPort::open_region(const int eventfds[2], std::string& error) {
    payload_ = static_cast<std::uint32_t>(s_.payload_bytes);
    name_ = region_name(s_);
    region_ = create_region(s_, name_, error);
    if (region_ == nullptr || !open_host_rings(s_, region_, commands_, events_, eventfds, error)) return false;
    dispatch_ = {sizeof dispatch_, RS_HOST_VTABLE_ABI_VERSION, this, &HostRingsPort::on_dispatched_event, nullptr,
                 nullptr};
    return true;
}

void HostRingsPort::on_dispatched_event(const void* data, std::size_t length, void* user) {
    auto* self = static_cast<HostRingsPort*>(user);
    const std::uint64_t seen = self->clock_.now();
    std::uint64_t seq = 0;
    const Verdict verdict = self->checker_.on_message(static_cast<const std::byte*>(data), length, seq);
    self->fn_(self->context_, seq, verdict, seen);
}

void HostRingsPort::close_region() {
    if (events_ != nullptr) (void)rs_ring_destroy(events_);
    if (commands_ != nullptr) (void)rs_ring_destroy(commands_);
    events_ = nullptr;
    commands_ = nullptr;
    if (region_ != nullptr) (void)rs_region_destroy(region_);
    region_ = nullptr;
    if (!name_.empty()) safety::untrack_region(name_);
}

}  // namespace ringside::runner
