#include "ring/claim.hpp"

#include <unistd.h>

#include <atomic>

#include "common/error.hpp"
#include "common/log.hpp"
#include "common/process.hpp"

namespace ringside {
namespace {

struct ClaimFields {
    std::atomic_ref<std::int32_t> pid;
    std::atomic_ref<std::uint64_t> start_ticks;
};

ClaimFields fields_for(const RingView& view, rs_role role) {
    layout::RingControl& control = *view.control;
    if (role == RS_ROLE_PRODUCER) {
        return {std::atomic_ref<std::int32_t>(control.producer_pid),
                std::atomic_ref<std::uint64_t>(control.producer_start_ticks)};
    }
    return {std::atomic_ref<std::int32_t>(control.consumer_pid),
            std::atomic_ref<std::uint64_t>(control.consumer_start_ticks)};
}

const char* role_name(rs_role role) { return role == RS_ROLE_PRODUCER ? "producer" : "consumer"; }

}  // namespace

rs_result claim_role(const RingView& view, rs_role role, const char* region_name, std::uint32_t index) {
    ClaimFields claim = fields_for(view, role);
    const std::int32_t self = ::getpid();
    // acquire: a holder's start_ticks store is visible once we see its pid.
    std::int32_t holder = claim.pid.load(std::memory_order_acquire);
    for (int attempt = 0; attempt < 4; ++attempt) {
        if (holder == self) {
            return fail(RS_BUSY, "ring %u of region '%s' already has a %s in this process", index, region_name,
                        role_name(role));
        }
        // relaxed is enough: paired through the pid's acquire above.
        if (holder != 0 && process_alive(holder, claim.start_ticks.load(std::memory_order_relaxed))) {
            return fail(RS_BUSY, "ring %u of region '%s' already has a %s: live process %d", index, region_name,
                        role_name(role), holder);
        }
        // Free, or held by a dead process: take it. acq_rel: we see the
        // previous holder's writes and publish our claim.
        const std::int32_t previous = holder;
        if (claim.pid.compare_exchange_strong(holder, self, std::memory_order_acq_rel, std::memory_order_acquire)) {
            claim.start_ticks.store(self_start_ticks(), std::memory_order_relaxed);
            if (previous != 0) {
                log(LogLevel::kWarn, "ring %u of region '%s': took over the %s role from dead process %d", index,
                    region_name, role_name(role), previous);
            }
            return RS_OK;
        }
    }
    return fail(RS_BUSY, "ring %u of region '%s': the %s role is being claimed concurrently", index, region_name,
                role_name(role));
}

void release_role(const RingView& view, rs_role role) {
    ClaimFields claim = fields_for(view, role);
    std::int32_t self = ::getpid();
    claim.start_ticks.store(0, std::memory_order_relaxed);
    // release: our last accesses to the ring happen-before the next claimer's acquire.
    claim.pid.compare_exchange_strong(self, 0, std::memory_order_release, std::memory_order_relaxed);
}

}  // namespace ringside
