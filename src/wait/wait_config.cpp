#include "wait/wait_config.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>

#include "common/error.hpp"

namespace ringside {
namespace {

constexpr std::uint32_t kWaitCheck = 0x52535754u;  // "RSWT"
constexpr std::uint32_t kMaxSpinLimit = 1u << 24;

int dup_fd(int fd) { return fd < 0 ? -1 : ::fcntl(fd, F_DUPFD_CLOEXEC, 3); }

}  // namespace

rs_result validate_wait_strategy(const rs_wait_strategy* options, const char* function) {
    if (options->struct_size < sizeof(rs_wait_strategy) || options->check != kWaitCheck) {
        return fail(RS_ERR_INVALID_ARGUMENT,
                    "%s: rs_wait_strategy not initialised (struct_size %u, check 0x%x): call rs_wait_strategy_init",
                    function, options->struct_size, options->check);
    }
    const int kind = raw_enum(options->kind);
    if (kind < RS_WAIT_BUSY_SPIN || kind > RS_WAIT_HYBRID) {
        return fail(RS_ERR_INVALID_ARGUMENT, "%s: unknown wait kind %d", function, kind);
    }
    if (options->sleep_ns == 0 || options->sleep_ns > 1'000'000'000ull) {
        return fail(RS_ERR_INVALID_ARGUMENT, "%s: sleep_ns %llu outside 1..1000000000", function,
                    static_cast<unsigned long long>(options->sleep_ns));
    }
    if (options->spin_limit > kMaxSpinLimit) {
        return fail(RS_ERR_INVALID_ARGUMENT, "%s: spin_limit %u above %u", function, options->spin_limit,
                    kMaxSpinLimit);
    }
    if (options->peer_may_park != 0 && options->peer_may_park != 1) {
        return fail(RS_ERR_INVALID_ARGUMENT, "%s: peer_may_park must be 0 or 1", function);
    }
    if (options->kind == RS_WAIT_EVENTFD && options->eventfd < 0) {
        return fail(RS_ERR_INVALID_ARGUMENT, "%s: RS_WAIT_EVENTFD needs an eventfd (see rs_eventfd_create)",
                    function);
    }
    for (const int fd : {options->kind == RS_WAIT_EVENTFD ? options->eventfd : -1, options->peer_eventfd}) {
        if (fd >= 0 && ::fcntl(fd, F_GETFD) < 0) {
            return fail_errno(RS_ERR_INVALID_ARGUMENT, errno, "%s: eventfd %d is not an open descriptor", function,
                              fd);
        }
    }
    if (options->reserved != 0) return fail(RS_ERR_INVALID_ARGUMENT, "%s: reserved must be zero", function);
    return RS_OK;
}

rs_result WaitConfig::assign(const rs_wait_strategy* options, const char* function) {
    rs_wait_strategy defaults;
    if (options == nullptr) {
        rs_wait_strategy_init(&defaults, RS_WAIT_HYBRID);
        options = &defaults;
    }
    if (rs_result r = validate_wait_strategy(options, function); r != RS_OK) return r;
    const int own = options->kind == RS_WAIT_EVENTFD ? dup_fd(options->eventfd) : -1;
    const int peer = dup_fd(options->peer_eventfd);
    if ((options->kind == RS_WAIT_EVENTFD && own < 0) || (options->peer_eventfd >= 0 && peer < 0)) {
        const int err = errno;
        if (own >= 0) ::close(own);
        if (peer >= 0) ::close(peer);
        return fail_errno(RS_ERR_NO_MEMORY, err, "%s: cannot duplicate an eventfd", function);
    }
    close_fds();
    strategy_.kind = static_cast<WaitKind>(options->kind);
    strategy_.spin_limit = options->spin_limit;
    strategy_.sleep_ns = options->sleep_ns;
    strategy_.eventfd = own;
    peer_.may_park = options->peer_may_park != 0;
    peer_.eventfd = peer;
    return RS_OK;
}

void WaitConfig::close_fds() {
    if (strategy_.eventfd >= 0) ::close(strategy_.eventfd);
    if (peer_.eventfd >= 0) ::close(peer_.eventfd);
    strategy_.eventfd = -1;
    peer_.eventfd = -1;
}

}  // namespace ringside
