// rs_wait_*, rs_ring_*_wait, arm/disarm, eventfd creation and passing.
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "capi/objects.hpp"
#include "common/error.hpp"
#include "wait/clock.hpp"

using namespace ringside;

namespace {

RingHandle* side_from(const rs_ring_t* handle, rs_role role, const char* function) {
    RingHandle* ring = ring_from(handle, function);
    if (ring != nullptr && ring->role != role) {
        fail(RS_ERR_INVALID_ARGUMENT, "%s: this handle is the ring's %s", function,
             ring->role == RS_ROLE_PRODUCER ? "producer" : "consumer");
        return nullptr;
    }
    return ring;
}

rs_result waited(WaitResult result) { return result == WaitResult::kReady ? RS_OK : RS_TIMEOUT; }

}  // namespace

extern "C" {

void rs_wait_strategy_init(rs_wait_strategy* strategy, rs_wait_kind kind) {
    if (strategy == nullptr) {
        fail(RS_ERR_INVALID_ARGUMENT, "rs_wait_strategy_init: strategy is NULL");
        return;
    }
    std::memset(strategy, 0, sizeof *strategy);
    strategy->struct_size = sizeof *strategy;
    strategy->check = 0x52535754u;  // "RSWT"
    strategy->kind = kind;
    strategy->spin_limit = 4096;
    strategy->sleep_ns = 1'000'000;
    strategy->peer_may_park = 1;
    strategy->eventfd = -1;
    strategy->peer_eventfd = -1;
}

const char* rs_wait_kind_name(rs_wait_kind kind) {
    switch (kind) {
        case RS_WAIT_BUSY_SPIN: return "busy_spin";
        case RS_WAIT_SPIN_PAUSE: return "spin_pause";
        case RS_WAIT_YIELD: return "yield";
        case RS_WAIT_SLEEP: return "sleep";
        case RS_WAIT_FUTEX: return "futex";
        case RS_WAIT_EVENTFD: return "eventfd";
        case RS_WAIT_HYBRID: return "hybrid";
    }
    return "unknown";
}

rs_result rs_ring_set_wait_strategy(rs_ring_t* handle, const rs_wait_strategy* strategy) {
    RingHandle* ring = ring_from(handle, "rs_ring_set_wait_strategy");
    if (ring == nullptr) return RS_ERR_INVALID_ARGUMENT;
    if (ring->wait.armed) {
        return fail(RS_ERR_INVALID_ARGUMENT, "rs_ring_set_wait_strategy: disarm first (rs_ring_wait_disarm)");
    }
    return ring->wait.assign(strategy, "rs_ring_set_wait_strategy");
}

rs_result rs_ring_wait_readable(rs_ring_t* handle, uint64_t timeout_ns) {
    RingHandle* ring = side_from(handle, RS_ROLE_CONSUMER, "rs_ring_wait_readable");
    if (ring == nullptr) return RS_ERR_INVALID_ARGUMENT;
    RingStatus status = RingStatus::kEmpty;
    auto ready = [&] {
        RecordSpan span;
        status = ring->consumer.try_peek(span);
        return status != RingStatus::kEmpty;
    };
    const WaitResult result = wait_for(ring->wait.strategy(), data_words(*ring->consumer.view().control),
                                         timeout_ns, ready);
    if (result == WaitResult::kReady && status != RingStatus::kOk) {
        return ring_result(status, *ring, "rs_ring_wait_readable");
    }
    return waited(result);
}

rs_result rs_ring_write_wait(rs_ring_t* handle, const void* data, size_t length, uint64_t timeout_ns) {
    RingHandle* ring = side_from(handle, RS_ROLE_PRODUCER, "rs_ring_write_wait");
    if (ring == nullptr) return RS_ERR_INVALID_ARGUMENT;
    if (data == nullptr && length != 0) return fail(RS_ERR_INVALID_ARGUMENT, "rs_ring_write_wait: data is NULL");
    if (length > UINT32_MAX) return ring_result(RingStatus::kTooLarge, *ring, "rs_ring_write_wait");
    RingStatus status = RingStatus::kFull;
    auto ready = [&] {
        status = ring->producer.try_write(data, static_cast<std::uint32_t>(length));
        return status != RingStatus::kFull;
    };
    const WaitResult result = wait_for(ring->wait.strategy(), space_words(*ring->producer.view().control),
                                         timeout_ns, ready);
    if (result == WaitResult::kTimeout) return RS_TIMEOUT;
    if (status == RingStatus::kOk) notify_peer(*ring);
    return ring_result(status, *ring, "rs_ring_write_wait");
}

rs_result rs_ring_reserve_wait(rs_ring_t* handle, size_t length, void** out_data, uint64_t timeout_ns) {
    RingHandle* ring = side_from(handle, RS_ROLE_PRODUCER, "rs_ring_reserve_wait");
    if (ring == nullptr) return RS_ERR_INVALID_ARGUMENT;
    if (out_data == nullptr) return fail(RS_ERR_INVALID_ARGUMENT, "rs_ring_reserve_wait: out_data is NULL");
    *out_data = nullptr;
    if (length > UINT32_MAX) return ring_result(RingStatus::kTooLarge, *ring, "rs_ring_reserve_wait");
    RingStatus status = RingStatus::kFull;
    std::span<std::byte> span;
    auto ready = [&] {
        status = ring->producer.try_reserve(static_cast<std::uint32_t>(length), span);
        return status != RingStatus::kFull;
    };
    const WaitResult result = wait_for(ring->wait.strategy(), space_words(*ring->producer.view().control),
                                         timeout_ns, ready);
    if (result == WaitResult::kTimeout) return RS_TIMEOUT;
    if (status == RingStatus::kOk) *out_data = span.data();
    return ring_result(status, *ring, "rs_ring_reserve_wait");
}

rs_result rs_ring_wait_arm(rs_ring_t* handle, size_t length) {
    RingHandle* ring = ring_from(handle, "rs_ring_wait_arm");
    if (ring == nullptr) return RS_ERR_INVALID_ARGUMENT;
    if (ring->wait.armed) return fail(RS_ERR_INVALID_ARGUMENT, "rs_ring_wait_arm: already armed");
    const bool consumer = ring->role == RS_ROLE_CONSUMER;
    if (!consumer) {
        if (ring->producer.pending_records() != 0) {
            return fail(RS_ERR_INVALID_ARGUMENT, "rs_ring_wait_arm: commit the pending reservations first");
        }
        if (length > ring->producer.view().max_payload()) return ring_result(RingStatus::kTooLarge, *ring, "rs_ring_wait_arm");
    }
    layout::RingControl& control = consumer ? *ring->consumer.view().control : *ring->producer.view().control;
    const NotifyWords words = consumer ? data_words(control) : space_words(control);
    // SYNC: park-announce, as in park_loop (src/wait/park.hpp).
    words.count().fetch_add(1, std::memory_order_seq_cst);
    std::atomic_thread_fence(std::memory_order_seq_cst);
    bool ready = false;
    if (consumer) {
        RecordSpan span;
        const RingStatus status = ring->consumer.try_peek(span);
        if (status == RingStatus::kCorrupt) {
            words.count().fetch_sub(1, std::memory_order_relaxed);
            return ring_result(status, *ring, "rs_ring_wait_arm");
        }
        ready = status == RingStatus::kOk;
    } else {
        ready = ring->producer.has_room(length);
    }
    if (ready) {
        words.count().fetch_sub(1, std::memory_order_relaxed);
        return RS_OK;
    }
    ring->wait.armed = true;
    return consumer ? RS_EMPTY : RS_FULL;
}

rs_result rs_ring_wait_disarm(rs_ring_t* handle) {
    RingHandle* ring = ring_from(handle, "rs_ring_wait_disarm");
    if (ring == nullptr) return RS_ERR_INVALID_ARGUMENT;
    if (!ring->wait.armed) return fail(RS_ERR_INVALID_ARGUMENT, "rs_ring_wait_disarm: not armed");
    const bool consumer = ring->role == RS_ROLE_CONSUMER;
    layout::RingControl& control = consumer ? *ring->consumer.view().control : *ring->producer.view().control;
    (consumer ? data_words(control) : space_words(control)).count().fetch_sub(1, std::memory_order_relaxed);
    ring->wait.armed = false;
    return RS_OK;
}

rs_result rs_eventfd_create(int* out_fd) {
    if (out_fd == nullptr) return fail(RS_ERR_INVALID_ARGUMENT, "rs_eventfd_create: out_fd is NULL");
    *out_fd = -1;
    const int fd = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (fd < 0) return fail_errno(RS_ERR_NO_MEMORY, errno, "rs_eventfd_create: eventfd failed");
    *out_fd = fd;
    return RS_OK;
}

rs_result rs_fd_send(int unix_socket, int fd) {
    if (unix_socket < 0 || fd < 0) return fail(RS_ERR_INVALID_ARGUMENT, "rs_fd_send: negative descriptor");
    char byte = 'F';
    iovec io{&byte, 1};
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
    msghdr message{};
    message.msg_iov = &io;
    message.msg_iovlen = 1;
    message.msg_control = control;
    message.msg_controllen = sizeof control;
    cmsghdr* header = CMSG_FIRSTHDR(&message);
    header->cmsg_level = SOL_SOCKET;
    header->cmsg_type = SCM_RIGHTS;
    header->cmsg_len = CMSG_LEN(sizeof(int));
    std::memcpy(CMSG_DATA(header), &fd, sizeof fd);
    ssize_t sent = 0;
    do {
        sent = ::sendmsg(unix_socket, &message, MSG_NOSIGNAL);
    } while (sent < 0 && errno == EINTR);
    if (sent != 1) {
        const int err = errno;
        return fail_errno(err == EPIPE ? RS_ERR_CLOSED : RS_ERR_INVALID_ARGUMENT, err,
                          "rs_fd_send: sendmsg on socket %d failed", unix_socket);
    }
    return RS_OK;
}

rs_result rs_fd_receive(int unix_socket, int* out_fd, uint64_t timeout_ns) {
    if (out_fd == nullptr) return fail(RS_ERR_INVALID_ARGUMENT, "rs_fd_receive: out_fd is NULL");
    *out_fd = -1;
    if (unix_socket < 0) return fail(RS_ERR_INVALID_ARGUMENT, "rs_fd_receive: negative socket");
    const std::uint64_t deadline = deadline_after(timeout_ns);
    for (;;) {
        pollfd entry{unix_socket, POLLIN, 0};
        timespec timeout{};
        if (deadline != kNoDeadline) {
            const std::uint64_t now = monotonic_ns();
            timeout = to_timespec(deadline > now ? deadline - now : 0);
        }
        const int ready = ::ppoll(&entry, 1, deadline == kNoDeadline ? nullptr : &timeout, nullptr);
        if (ready < 0 && errno == EINTR) continue;
        if (ready < 0) return fail_errno(RS_ERR_INVALID_ARGUMENT, errno, "rs_fd_receive: poll failed");
        if (ready == 0) return RS_TIMEOUT;
        break;
    }
    char byte = 0;
    iovec io{&byte, 1};
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
    msghdr message{};
    message.msg_iov = &io;
    message.msg_iovlen = 1;
    message.msg_control = control;
    message.msg_controllen = sizeof control;
    ssize_t got = 0;
    do {
        got = ::recvmsg(unix_socket, &message, MSG_CMSG_CLOEXEC);
    } while (got < 0 && errno == EINTR);
    if (got == 0) return fail(RS_ERR_CLOSED, "rs_fd_receive: the peer closed the socket");
    if (got < 0) return fail_errno(RS_ERR_INVALID_ARGUMENT, errno, "rs_fd_receive: recvmsg failed");
    for (cmsghdr* header = CMSG_FIRSTHDR(&message); header != nullptr; header = CMSG_NXTHDR(&message, header)) {
        if (header->cmsg_level == SOL_SOCKET && header->cmsg_type == SCM_RIGHTS &&
            header->cmsg_len == CMSG_LEN(sizeof(int))) {
            std::memcpy(out_fd, CMSG_DATA(header), sizeof *out_fd);
            return RS_OK;
        }
    }
    return fail(RS_ERR_CORRUPT, "rs_fd_receive: a message arrived without a descriptor%s",
                (message.msg_flags & MSG_CTRUNC) != 0 ? " (control data truncated)" : "");
}

}  // extern "C"
