#include "wait/park.hpp"

namespace ringside::detail {

void wake_parked(NotifyWords words, const PeerWake& peer) {
    // SYNC: wake-sequence. release: a waiter that reads the bumped value also
    // sees what we published; a waiter about to futex_wait on the old value
    // returns at once.
    words.seq().fetch_add(1, std::memory_order_release);
    if (peer.eventfd >= 0) {
        eventfd_signal(peer.eventfd);
    } else {
        futex_wake_all(words.sequence);
    }
}

}  // namespace ringside::detail

namespace ringside {

void wake_unconditionally(NotifyWords words, int eventfd) {
    words.seq().fetch_add(1, std::memory_order_release);
    futex_wake_all(words.sequence);
    if (eventfd >= 0) eventfd_signal(eventfd);
}

}  // namespace ringside
