#include "sidecar/sched.hpp"

#include <pthread.h>
#include <sched.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "common/error.hpp"
#include "wait/wait_config.hpp"

namespace ringside {
namespace {

int os_policy(rs_sched_policy policy) {
    switch (policy) {
        case RS_SCHED_FIFO: return SCHED_FIFO;
        case RS_SCHED_RR: return SCHED_RR;
        default: return SCHED_OTHER;
    }
}

rs_sched_policy from_os_policy(int policy) {
    switch (policy) {
        case SCHED_FIFO: return RS_SCHED_FIFO;
        case SCHED_RR: return RS_SCHED_RR;
        default: return RS_SCHED_OTHER;
    }
}

bool mask_empty(const std::uint64_t* mask) {
    for (int i = 0; i < RS_CPU_MASK_WORDS; ++i) {
        if (mask[i] != 0) return false;
    }
    return true;
}

// Records the first refusal; later ones are appended while room remains.
void refuse(rs_sidecar_sched& granted, int err, const char* what) {
    if (granted.refused_errno == 0) granted.refused_errno = err;
    const std::size_t used = std::strlen(granted.refused);
    std::snprintf(granted.refused + used, sizeof granted.refused - used, "%s%s (%s)", used != 0 ? "; " : "", what,
                  std::strerror(err));
}

}  // namespace

const char* os_policy_name(int policy) {
    switch (policy) {
        case SCHED_OTHER: return "SCHED_OTHER";
        case SCHED_FIFO: return "SCHED_FIFO";
        case SCHED_RR: return "SCHED_RR";
        case SCHED_BATCH: return "SCHED_BATCH";
        case SCHED_IDLE: return "SCHED_IDLE";
        default: return "SCHED_UNKNOWN";
    }
}

rs_result validate_sched(const rs_sidecar_options& options, const char* function) {
    const int policy = raw_enum(options.policy);
    const int on_refused = raw_enum(options.on_refused);
    switch (policy) {
        case RS_SCHED_INHERIT: break;
        case RS_SCHED_OTHER:
            if (options.nice < -20 || options.nice > 19) {
                return fail(RS_ERR_INVALID_ARGUMENT, "%s: nice %d outside -20..19", function, options.nice);
            }
            break;
        case RS_SCHED_FIFO:
        case RS_SCHED_RR: {
            const int low = ::sched_get_priority_min(os_policy(options.policy));
            const int high = ::sched_get_priority_max(os_policy(options.policy));
            if (options.priority < low || options.priority > high) {
                return fail(RS_ERR_INVALID_ARGUMENT, "%s: priority %d outside %d..%d for %s", function,
                            options.priority, low, high, os_policy_name(os_policy(options.policy)));
            }
            break;
        }
        default:
            return fail(RS_ERR_INVALID_ARGUMENT, "%s: unknown scheduling policy %d", function, policy);
    }
    if (on_refused != RS_REFUSED_FAIL && on_refused != RS_REFUSED_DOWNGRADE) {
        return fail(RS_ERR_INVALID_ARGUMENT, "%s: unknown on_refused %d", function, on_refused);
    }
    if (::memchr(options.thread_name, 0, sizeof options.thread_name) == nullptr) {
        return fail(RS_ERR_INVALID_ARGUMENT, "%s: thread_name must be NUL-terminated within 16 bytes", function);
    }
    return RS_OK;
}

rs_result apply_sched(const SchedRequest& request, rs_sidecar_sched& granted) {
    const int tid = static_cast<int>(::gettid());
    granted.tid = tid;
    granted.requested_policy = request.policy;
    granted.requested_priority = request.priority;
    granted.requested_nice = request.nice;
    std::memcpy(granted.requested_cpu_mask, request.cpu_mask, sizeof request.cpu_mask);
    granted.downgraded = 0;
    granted.refused_errno = 0;
    granted.refused[0] = '\0';

    if (request.thread_name[0] != '\0') {
        if (const int err = ::pthread_setname_np(::pthread_self(), request.thread_name); err != 0) {
            refuse(granted, err, "thread name");
        }
    }
    if (!mask_empty(request.cpu_mask)) {
        cpu_set_t set;
        CPU_ZERO(&set);
        for (int cpu = 0; cpu < RS_CPU_MASK_WORDS * 64 && cpu < CPU_SETSIZE; ++cpu) {
            if ((request.cpu_mask[cpu / 64] >> (cpu % 64)) & 1u) CPU_SET(cpu, &set);
        }
        if (::sched_setaffinity(tid, sizeof set, &set) != 0) refuse(granted, errno, "CPU affinity");
    }
    if (request.policy == RS_SCHED_FIFO || request.policy == RS_SCHED_RR) {
        sched_param param{};
        param.sched_priority = request.priority;
        if (const int err = ::pthread_setschedparam(::pthread_self(), os_policy(request.policy), &param); err != 0) {
            char what[64];
            std::snprintf(what, sizeof what, "%s priority %d", os_policy_name(os_policy(request.policy)),
                          request.priority);
            refuse(granted, err, what);
        }
    } else if (request.policy == RS_SCHED_OTHER) {
        sched_param param{};
        if (const int err = ::pthread_setschedparam(::pthread_self(), SCHED_OTHER, &param); err != 0) {
            refuse(granted, err, "SCHED_OTHER");
        }
        // On Linux, PRIO_PROCESS with a thread id sets that thread's nice.
        if (::setpriority(PRIO_PROCESS, static_cast<id_t>(tid), request.nice) != 0) {
            char what[32];
            std::snprintf(what, sizeof what, "nice %d", request.nice);
            refuse(granted, errno, what);
        }
    }
    read_back_sched(tid, granted);
    if (granted.refused_errno == 0) return RS_OK;
    if (request.on_refused == RS_REFUSED_FAIL) {
        // EPERM/EACCES: not allowed (no CAP_SYS_NICE, RLIMIT_RTPRIO, cgroup);
        // anything else (EINVAL: no such CPU) is a request the OS cannot meet.
        const bool permission = granted.refused_errno == EPERM || granted.refused_errno == EACCES;
        return fail(permission ? RS_ERR_PERMISSION : RS_ERR_INVALID_ARGUMENT,
                    "the OS refused the sidecar's scheduling request: %s%s", granted.refused,
                    permission ? " (needs CAP_SYS_NICE or a raised RLIMIT_RTPRIO/RLIMIT_NICE; or set on_refused to "
                                 "RS_REFUSED_DOWNGRADE)"
                               : "");
    }
    granted.downgraded = 1;
    return RS_OK;
}

void read_back_sched(int tid, rs_sidecar_sched& granted) {
    const int policy = ::sched_getscheduler(tid);
    granted.granted_os_policy = policy;
    granted.granted_policy = from_os_policy(policy);
    sched_param param{};
    granted.granted_priority = ::sched_getparam(tid, &param) == 0 ? param.sched_priority : -1;
    errno = 0;
    const int nice = ::getpriority(PRIO_PROCESS, static_cast<id_t>(tid));
    granted.granted_nice = errno == 0 ? nice : 0;
    cpu_set_t set;
    CPU_ZERO(&set);
    std::memset(granted.granted_cpu_mask, 0, sizeof granted.granted_cpu_mask);
    granted.granted_cpu_count = 0;
    if (::sched_getaffinity(tid, sizeof set, &set) == 0) {
        for (int cpu = 0; cpu < RS_CPU_MASK_WORDS * 64 && cpu < CPU_SETSIZE; ++cpu) {
            if (CPU_ISSET(cpu, &set)) {
                granted.granted_cpu_mask[cpu / 64] |= std::uint64_t{1} << (cpu % 64);
                ++granted.granted_cpu_count;
            }
        }
    }
    if (tid == static_cast<int>(::gettid())) {
        ::pthread_getname_np(::pthread_self(), granted.thread_name, sizeof granted.thread_name);
    }
}

}  // namespace ringside
