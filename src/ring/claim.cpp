#include "ring/claim.hpp"

#include <signal.h>
#include <unistd.h>

#include <cerrno>

#include <atomic>

#include "common/error.hpp"
#include "common/log.hpp"
#include "common/process.hpp"

namespace ringside {
namespace {

struct ClaimFields {
    std::atomic_ref<std::uint64_t> claim;
    std::atomic_ref<std::uint64_t> start_ticks;
};

ClaimFields fields_for(const RingView& view, rs_role role) {
    layout::RingControl& control = *view.control;
    if (role == RS_ROLE_PRODUCER) {
        return {std::atomic_ref<std::uint64_t>(control.producer_claim),
                std::atomic_ref<std::uint64_t>(control.producer_start_ticks)};
    }
    return {std::atomic_ref<std::uint64_t>(control.consumer_claim),
            std::atomic_ref<std::uint64_t>(control.consumer_start_ticks)};
}

const char* role_name(rs_role role) { return role == RS_ROLE_PRODUCER ? "producer" : "consumer"; }

std::uint64_t make_claim(std::int32_t pid, std::uint64_t start_ticks) {
    return (start_ticks << 32) | static_cast<std::uint32_t>(pid);
}

}  // namespace

// A claim's holder is alive when its pid exists and started at the recorded
// time (the low 32 bits of the start ticks tell a reused pid).
bool claim_holder_alive(std::uint64_t claim) {
    const std::int32_t pid = claim_pid(claim);
    if (pid <= 0) return false;
    if (::kill(pid, 0) != 0 && errno == ESRCH) return false;
    if (process_exited(pid)) return false;
    const std::uint64_t ticks = process_start_ticks(pid);
    // No readable /proc: the pid exists, so it may be the holder. Never steal.
    if (ticks == 0) return true;
    return (ticks & 0xFFFF'FFFFu) == (claim >> 32);
}

rs_result claim_role(const RingView& view, rs_role role, const char* region_name, std::uint32_t index) {
    ClaimFields fields = fields_for(view, role);
    const std::int32_t self_pid = ::getpid();
    const std::uint64_t self_ticks = self_start_ticks();
    const std::uint64_t self = make_claim(self_pid, self_ticks);
    // acquire: see the previous holder's last accesses (released in release_role).
    std::uint64_t holder = fields.claim.load(std::memory_order_acquire);
    for (int attempt = 0; attempt < 4; ++attempt) {
        if (claim_pid(holder) == self_pid) {
            return fail(RS_BUSY, "ring %u of region '%s' already has a %s in this process", index, region_name,
                        role_name(role));
        }
        if (holder != 0 && claim_holder_alive(holder)) {
            return fail(RS_BUSY, "ring %u of region '%s' already has a %s: live process %d", index, region_name,
                        role_name(role), claim_pid(holder));
        }
        // Free, or held by a dead process: take it. Both pid and start time
        // change in one CAS, so a racer that loses re-reads a consistent
        // claim naming the (live) winner. acq_rel: we see the previous
        // holder's writes and publish our claim.
        const std::uint64_t previous = holder;
        if (fields.claim.compare_exchange_strong(holder, self, std::memory_order_acq_rel,
                                                 std::memory_order_acquire)) {
            // relaxed is enough: display only; liveness uses the claim word.
            fields.start_ticks.store(self_ticks, std::memory_order_relaxed);
            if (previous != 0) {
                log(LogLevel::kWarn, "ring %u of region '%s': took over the %s role from dead process %d", index,
                    region_name, role_name(role), claim_pid(previous));
            }
            return RS_OK;
        }
    }
    return fail(RS_BUSY, "ring %u of region '%s': the %s role is being claimed concurrently", index, region_name,
                role_name(role));
}

void release_role(const RingView& view, rs_role role) {
    ClaimFields fields = fields_for(view, role);
    std::uint64_t self = make_claim(::getpid(), self_start_ticks());
    // release: our last accesses to the ring happen-before the next claimer's acquire.
    if (fields.claim.compare_exchange_strong(self, 0, std::memory_order_release, std::memory_order_relaxed)) {
        fields.start_ticks.store(0, std::memory_order_relaxed);
    }
}

}  // namespace ringside
