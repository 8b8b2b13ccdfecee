// A ring side's waiting configuration as the library keeps it: the strategy
// value, how to wake the peer, and the eventfd copies it owns. Built from the
// C API's rs_wait_strategy (validated here), destroyed with its owner.
#pragma once

#include "ringside/sidecar.h"
#include "shm/layout.h"
#include "wait/park.hpp"

namespace ringside {

class WaitConfig {
public:
    WaitConfig() = default;
    ~WaitConfig() { close_fds(); }
    WaitConfig(const WaitConfig&) = delete;
    WaitConfig& operator=(const WaitConfig&) = delete;

    // Validates `options` (NULL: defaults) and takes it: duplicates its
    // eventfds, closing the ones held before. On failure nothing changes and
    // the last error names `function`.
    rs_result assign(const rs_wait_strategy* options, const char* function);

    [[nodiscard]] const WaitStrategy& strategy() const { return strategy_; }
    [[nodiscard]] const PeerWake& peer() const { return peer_; }

    // An rs_ring_wait_arm announcement is outstanding on these words.
    bool armed = false;

private:
    void close_fds();

    WaitStrategy strategy_{};
    PeerWake peer_{};
};

// The integer a caller stored in a C enum field, read without loading the
// enum type (a value outside the enum's range is then not undefined).
template <typename Enum>
int raw_enum(const Enum& field) {
    static_assert(sizeof(Enum) == sizeof(int), "C enums are int-sized here");
    int value = 0;
    __builtin_memcpy(&value, &field, sizeof value);
    return value;
}

// Checks an rs_wait_strategy without taking it.
rs_result validate_wait_strategy(const rs_wait_strategy* options, const char* function);

// The notify-line words of a ring, per direction.
inline NotifyWords data_words(layout::RingControl& control) {
    return {&control.data_sequence, &control.data_waiters};
}
inline NotifyWords space_words(layout::RingControl& control) {
    return {&control.space_sequence, &control.space_waiters};
}

}  // namespace ringside
