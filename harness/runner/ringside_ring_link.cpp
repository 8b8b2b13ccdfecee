#include "runner/ringside_ring_link.hpp"

#include <unistd.h>

#include "runner/safety.hpp"

namespace ringside::runner {

rs_wait_kind library_kind(Wait wait) {
    switch (wait) {
        case Wait::kBusySpin: return RS_WAIT_BUSY_SPIN;
        case Wait::kSpinPause: return RS_WAIT_SPIN_PAUSE;
        case Wait::kYield: return RS_WAIT_YIELD;
        case Wait::kSleep: return RS_WAIT_SLEEP;
        case Wait::kFutex: return RS_WAIT_FUTEX;
        case Wait::kEventfd: return RS_WAIT_EVENTFD;
        case Wait::kHybrid:
        case Wait::kNative: return RS_WAIT_HYBRID;
    }
    return RS_WAIT_HYBRID;
}

rs_wait_strategy library_strategy(const WaitSpec& own, const WaitSpec& peer) {
    rs_wait_strategy strategy;
    rs_wait_strategy_init(&strategy, library_kind(own.kind));
    strategy.spin_limit = own.spin_limit;
    strategy.sleep_ns = own.sleep_ns;
    // The peer parks (futex, eventfd, hybrid) or it does not: publishing
    // skips the wake-up check entirely when it never parks.
    strategy.peer_may_park = (peer.kind == Wait::kFutex || peer.kind == Wait::kEventfd || peer.kind == Wait::kHybrid);
    return strategy;
}

bool RingsideRingLink::open(std::string& error) {
    rs_region_options options;
    rs_region_options_init(&options);
    options.backing = config_.backing == Backing::kShm ? RS_BACKING_SHM : RS_BACKING_FILE;
    options.ring_count = 2;
    options.ring_capacity = config_.payload.capacity_bytes;
    safety::track_region(config_.name, config_.backing);
    if (rs_region_create(config_.name.c_str(), &options, &region_) != RS_OK) {
        error = std::string("rs_region_create: ") + rs_last_error_message();
        safety::untrack_region(config_.name);
        return false;
    }
    return true;
}

bool RingsideRingLink::attach(Side& side, int which, std::string& error) {
    const std::uint32_t out_ring = which == 0 ? 0 : 1;
    if (rs_ring_create(region_, out_ring, RS_ROLE_PRODUCER, &side.out.ring) != RS_OK ||
        rs_ring_create(region_, 1 - out_ring, RS_ROLE_CONSUMER, &side.in.ring) != RS_OK) {
        error = std::string("rs_ring_create: ") + rs_last_error_message();
        detach(side);
        return false;
    }
    side.out.payload = config_.payload.payload;
    // Side `which` waits with its own strategy; its peer is the other side.
    rs_wait_strategy own = library_strategy(config_.waits[which], config_.waits[1 - which]);
    int eventfds[2] = {-1, -1};
    if (config_.waits[which].kind == Wait::kEventfd || config_.waits[1 - which].kind == Wait::kEventfd) {
        // In one process each handle parks on its own eventfd and writes the
        // peer handle's: the pairs are made once, in open order.
        std::lock_guard<std::mutex> lock(eventfd_mutex_);
        for (int i = 0; i < 2; ++i) {
            if (eventfds_[i] < 0 && rs_eventfd_create(&eventfds_[i]) != RS_OK) {
                error = std::string("rs_eventfd_create: ") + rs_last_error_message();
                detach(side);
                return false;
            }
            eventfds[i] = eventfds_[i];
        }
    }
    // eventfds_[k]: where side k parks (both its rings' waits).
    if (config_.waits[which].kind == Wait::kEventfd) own.eventfd = eventfds[which];
    if (config_.waits[1 - which].kind == Wait::kEventfd) own.peer_eventfd = eventfds[1 - which];
    if (rs_ring_set_wait_strategy(side.out.ring, &own) != RS_OK ||
        rs_ring_set_wait_strategy(side.in.ring, &own) != RS_OK) {
        error = std::string("rs_ring_set_wait_strategy: ") + rs_last_error_message();
        detach(side);
        return false;
    }
    return true;
}

void RingsideRingLink::detach(Side& side) {
    if (side.out.ring != nullptr) (void)rs_ring_destroy(side.out.ring);
    if (side.in.ring != nullptr) (void)rs_ring_destroy(side.in.ring);
    side.out.ring = nullptr;
    side.in.ring = nullptr;
}

void RingsideRingLink::close() {
    if (region_ != nullptr) (void)rs_region_destroy(region_);
    region_ = nullptr;
    safety::untrack_region(config_.name);
    for (int& fd : eventfds_) {
        if (fd >= 0) ::close(fd);
        fd = -1;
    }
}

}  // namespace ringside::runner
