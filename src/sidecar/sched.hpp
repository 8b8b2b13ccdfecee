// Scheduling of the sidecar thread: apply what was requested to the calling
// thread, then read back from the OS what was actually granted.
#pragma once

#include <cstdint>

#include "ringside/sidecar.h"

namespace ringside {

struct SchedRequest {
    rs_sched_policy policy = RS_SCHED_INHERIT;
    int priority = 0;
    int nice = 0;
    rs_on_refused on_refused = RS_REFUSED_FAIL;
    std::uint64_t cpu_mask[RS_CPU_MASK_WORDS] = {};
    char thread_name[16] = {};
};

// Validates the scheduling part of the options.
rs_result validate_sched(const rs_sidecar_options& options, const char* function);

// Applies `request` to the calling thread and fills `granted` from the OS.
// RS_ERR_PERMISSION (with a message naming the refusal) when the OS refused
// and the request says RS_REFUSED_FAIL; otherwise RS_OK, with `downgraded`,
// `refused_errno` and `refused` set when something was refused.
rs_result apply_sched(const SchedRequest& request, rs_sidecar_sched& granted);

// Reads the thread `tid`'s policy, priority, nice, affinity and (for the
// calling thread) name back from the OS into `granted`.
void read_back_sched(int tid, rs_sidecar_sched& granted);

// "SCHED_FIFO" etc.
const char* os_policy_name(int policy);

}  // namespace ringside
