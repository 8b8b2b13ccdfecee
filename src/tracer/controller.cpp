// The controller: lane setup and adoption, the drain loop, window dumps,
// liveness and recovery. Stats live in trace_stats.cpp.
#include "tracer/controller.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <new>

#include "common/alloc.hpp"
#include "common/error.hpp"
#include "common/log.hpp"
#include "common/process.hpp"
#include "ring/ring_view.hpp"
#include "tracer/trace_clock.hpp"
#include "tracer/trace_stats.hpp"
#include "wait/park.hpp"

namespace ringside::trace {
namespace {

std::uint64_t unix_ns() {
    timespec now{};
    ::clock_gettime(CLOCK_REALTIME, &now);
    return static_cast<std::uint64_t>(now.tv_sec) * 1'000'000'000ull + static_cast<std::uint64_t>(now.tv_nsec);
}

template <typename T>
T get(T& field) {
    // relaxed is enough for fields published by an acquire we already did
    // (queue pop, lane state) or that are advisory; all are untrusted.
    return std::atomic_ref<T>(field).load(std::memory_order_relaxed);
}

template <typename T>
void put(T& field, T value) {
    std::atomic_ref<T>(field).store(value, std::memory_order_relaxed);
}

void add(std::uint64_t& field, std::uint64_t n) { put(field, get(field) + n); }

NotifyWords submit_words(TraceHeader& header) { return {&header.submit_sequence, &header.controller_waiters}; }
NotifyWords free_words(LaneControl& lane) { return {&lane.free_sequence, &lane.agent_waiters}; }

// Alive, not a zombie, and started when the claim says: one read of
// /proc/<pid>/stat (field 3 is the state, field 22 the start time).
bool process_matches(std::int32_t pid, std::uint32_t ticks_low) {
    if (pid <= 0) return false;
    char path[64];
    std::snprintf(path, sizeof path, "/proc/%d/stat", pid);
    const int fd = ::open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return false;
    char text[1024];
    const ssize_t got = ::read(fd, text, sizeof text - 1);
    ::close(fd);
    if (got <= 0) return false;
    text[got] = '\0';
    // The command name (field 2) may hold spaces and ')': skip to the last ')'.
    const char* cursor = std::strrchr(text, ')');
    if (cursor == nullptr || cursor[1] != ' ') return false;
    const char state = cursor[2];
    if (state == 'Z' || state == 'X' || state == 'x') return false;
    cursor += 2;
    for (int field = 3; field < 22; ++field) {
        cursor = std::strchr(cursor, ' ');
        if (cursor == nullptr) return false;
        ++cursor;
    }
    return (std::strtoull(cursor, nullptr, 10) & 0xFFFF'FFFFull) == ticks_low;
}

}  // namespace

// What a pass over one window found.
struct TraceController::Window {
    std::uint64_t start = 0;
    std::uint64_t end = 0;
    std::uint64_t records = 0;
    std::uint64_t first_seq = 0;
    std::uint64_t last_seq = 0;
    std::uint64_t first_ts = 0;
    std::uint64_t last_ts = 0;
    std::uint32_t violations = 0;
    bool has_seq = false;
    bool truncated = false;
};

namespace {

// Walks a window's committed records with the ring code's validation, never
// past one lap and never outside the data area. Index windows number their
// events from `first_seq` (RingInfo.first_seq: untrusted, only reported).
void scan_window(const RingView& view, RingKind kind, std::uint64_t start, std::uint64_t first_seq, auto& window) {
    window.start = start;
    std::uint64_t position = start;
    std::uint64_t seq = first_seq;
    for (;;) {
        if (position - start + layout::kRecordHeaderBytes > view.capacity) {
            window.truncated = true;  // no terminator within a lap: the agent always leaves one
            break;
        }
        // SYNC: publish-record. acquire: the payload written before the
        // agent's release store is visible.
        const std::uint32_t commit = commit_word(view, position).load(std::memory_order_acquire);
        if (commit == 0) break;
        const DecodedRecord record = decode_record(view, position, commit);
        if (record.status != RingStatus::kOk ||
            position + record.total - start + layout::kRecordHeaderBytes > view.capacity) {
            ++window.violations;
            window.truncated = true;
            break;
        }
        if (!record.padding) {
            ++window.records;
            const std::byte* payload = view.data + view.offset_of(position) + layout::kRecordHeaderBytes;
            std::uint64_t ts = 0;
            bool event = false;
            if (kind == RingKind::kNone) {
                // A window taken back unread: only its structure matters.
            } else if (kind == RingKind::kIndex) {
                if (record.length == sizeof(IndexEvent)) {
                    IndexEvent index{};
                    std::memcpy(&index, payload, sizeof index);
                    ts = index.timestamp;
                    event = true;
                } else if (record.length == sizeof(IndexControl)) {
                    IndexControl control{};
                    std::memcpy(&control, payload, sizeof control);
                    if (control.kind == static_cast<std::uint32_t>(ControlKind::kGap) && control.first == seq) {
                        seq += control.value;
                    }
                } else {
                    ++window.violations;
                }
            } else if (record.length < kDetailSeqBytes) {
                ++window.violations;
            } else {
                std::memcpy(&seq, payload, sizeof seq);
                event = true;
            }
            if (event) {
                if (!window.has_seq) {
                    if (kind == RingKind::kDetail) window.first_seq = seq;
                    window.first_ts = ts;
                    window.has_seq = true;
                }
                window.last_seq = seq;
                window.last_ts = ts;
                if (kind == RingKind::kIndex) ++seq;
            }
        }
        position += record.total;
    }
    if (kind == RingKind::kIndex) window.first_seq = first_seq;
    window.end = position;
}

}  // namespace

TraceController::~TraceController() {
    if (lanes_ != nullptr) {
        for (std::uint32_t i = 0; i < region_->lanes(); ++i) lanes_[i].~Lane();
        counted_free(lanes_);
    }
    counted_free(sink_dir_);
}

rs_result TraceController::create(const char* name, const ControllerOptions& options, TraceController** out) {
    if (options.sink_dir == nullptr || options.sink_dir[0] == '\0') {
        return fail(RS_ERR_INVALID_ARGUMENT, "the controller needs a sink directory");
    }
    if (::mkdir(options.sink_dir, 0755) != 0 && errno != EEXIST) {
        return fail_errno(result_from_errno(errno), errno, "cannot create the sink directory '%s'", options.sink_dir);
    }
    struct stat info {};
    if (::stat(options.sink_dir, &info) != 0 || !S_ISDIR(info.st_mode)) {
        return fail(RS_ERR_INVALID_ARGUMENT, "sink directory '%s' is not a directory", options.sink_dir);
    }
    auto* controller = counted_new<TraceController>();
    char* dir = counted_strdup(options.sink_dir, std::strlen(options.sink_dir));
    if (controller == nullptr || dir == nullptr) {
        counted_delete(controller);
        counted_free(dir);
        return fail(RS_ERR_NO_MEMORY, "out of memory creating a tracer controller");
    }
    controller->sink_dir_ = dir;
    controller->keep_on_destroy_ = options.keep_on_destroy;
    controller->sync_on_flush_ = options.sync_on_flush;
    controller->liveness_ns_ = std::uint64_t{options.liveness_interval_ms} * 1'000'000ull;
    controller->claim_ = claim_word(::getpid(), self_start_ticks());
    TraceRegion* region = nullptr;
    rs_result result = RS_OK;
    if (options.open_existing) {
        result = TraceRegion::open(name, options.backing, TraceRegion::Access::kReadWrite, &region);
    } else {
        result = TraceRegion::create(name, options.backing, options.geometry, options.mode, options.clock,
                                     options.prefault, &region);
        controller->created_ = result == RS_OK;
    }
    if (result != RS_OK) {
        counted_delete(controller);
        return result;
    }
    controller->region_ = region;
    const std::uint32_t lanes = region->lanes();
    controller->lanes_ = static_cast<Lane*>(counted_malloc(sizeof(Lane) * lanes));
    if (controller->lanes_ == nullptr) {
        TraceRegion::destroy(region, controller->created_);
        controller->region_ = nullptr;
        counted_delete(controller);
        return fail(RS_ERR_NO_MEMORY, "out of memory for %u lanes", lanes);
    }
    for (std::uint32_t i = 0; i < lanes; ++i) ::new (&controller->lanes_[i]) Lane();

    TraceHeader& header = region->header();
    std::atomic_ref<std::uint64_t> claim(header.controller_claim);
    std::uint64_t holder = claim.load(std::memory_order_acquire);
    if (holder != 0 && holder != controller->claim_ && controller->agent_alive(holder)) {
        destroy(controller);
        return fail(RS_BUSY, "tracer region '%s' is served by a live controller (pid %d)", name, claim_pid(holder));
    }
    // acq_rel: we see the previous controller's last writes and publish ours.
    if (!claim.compare_exchange_strong(holder, controller->claim_, std::memory_order_acq_rel)) {
        destroy(controller);
        return fail(RS_BUSY, "tracer region '%s': another controller claimed it concurrently", name);
    }
    put(header.controller_pid, static_cast<std::int32_t>(::getpid()));
    put(header.controller_start_ticks, self_start_ticks());
    for (std::uint32_t i = 0; i < lanes; ++i) {
        if (options.open_existing) {
            controller->adopt_lane(i);
        } else {
            controller->init_lane(i);
        }
    }
    if (!options.open_existing) region->publish();
    *out = controller;
    return RS_OK;
}

rs_result TraceController::destroy(TraceController* controller) {
    if (controller->running()) return fail(RS_BUSY, "the tracer controller is running: stop it first");
    if (controller->region_ != nullptr) {
        for (std::uint32_t i = 0; controller->lanes_ != nullptr && i < controller->region_->lanes(); ++i) {
            controller->lanes_[i].sink.close();
        }
        std::uint64_t mine = controller->claim_;
        std::atomic_ref<std::uint64_t>(controller->region_->header().controller_claim)
            .compare_exchange_strong(mine, 0, std::memory_order_acq_rel);
        const bool unlink_name = controller->created_ && !controller->keep_on_destroy_;
        TraceRegion* region = controller->region_;
        // Lanes are destroyed with the controller, which still reads the geometry.
        for (std::uint32_t i = 0; controller->lanes_ != nullptr && i < region->lanes(); ++i) {
            controller->lanes_[i].~Lane();
        }
        counted_free(controller->lanes_);
        controller->lanes_ = nullptr;
        controller->region_ = nullptr;
        TraceRegion::destroy(region, unlink_name);
    }
    counted_delete(controller);
    return RS_OK;
}

// ---- lanes -------------------------------------------------------------------

void TraceController::init_lane(std::uint32_t index) {
    Lane& lane = lanes_[index];
    LaneControl& control = region_->lane(index);
    (void)lane.submit.attach(submit_queue(control));
    (void)lane.free.attach(free_queue(control));
    put(control.active_index_ring, kNoRing);
    put(control.active_detail_ring, kNoRing);
    for (std::uint32_t ring = 0; ring < region_->rings_per_lane(); ++ring) give_back(index, ring);
}

// A controller that opens an existing region rebuilds who holds each ring
// from the queues: on free_q -> free; flagged by a crashed controller ->
// ours, to finish; anything else -> the agent (alive, or recovered later).
void TraceController::adopt_lane(std::uint32_t index) {
    Lane& lane = lanes_[index];
    LaneControl& control = region_->lane(index);
    const std::uint32_t rings = region_->rings_per_lane();
    std::fill(lane.owner, lane.owner + rings, Owner::kAgent);
    lane.session = get(control.session);
    if (lane.submit.attach(submit_queue(control)) != QueueStatus::kOk ||
        lane.free.attach(free_queue(control)) != QueueStatus::kOk) {
        violation(index, Violation::kQueueCorrupt);
        return;  // the rings stay with the agent until its lane is recovered and the queues reset
    }
    std::uint64_t head = 0;
    (void)lane.free.load_head(head);
    lane.free_acked = head;
    for (std::uint64_t position = head; position < lane.free.tail(); ++position) {
        const std::uint32_t ring = get(control.free_slots[position & (kQueueSlots - 1)]);
        lane.pushed[position & (kQueueSlots - 1)] = ring;
        if (ring < rings) lane.owner[ring] = Owner::kFreeQueue;
    }
    for (std::uint32_t ring = 0; ring < rings; ++ring) {
        if (get(region_->ring_info(index, ring).controller_holds) != 0) {
            const auto kind = static_cast<RingKind>(get(region_->ring_info(index, ring).kind));
            lane.owner[ring] = Owner::kController;
            take_back(index, ring, kind == RingKind::kDetail ? RingKind::kDetail : RingKind::kIndex, true,
                      sink::kFlagRecovered);
        }
    }
}

// Only when no agent holds the lane: both queues emptied, every ring on free_q.
void TraceController::reset_queues(std::uint32_t index) {
    Lane& lane = lanes_[index];
    LaneControl& control = region_->lane(index);
    const std::uint64_t submit_end = std::max(get(control.submit_head), get(control.submit_tail));
    const std::uint64_t free_end = std::max(get(control.free_head), get(control.free_tail));
    put(control.submit_head, submit_end);
    put(control.submit_tail, submit_end);
    put(control.free_head, free_end);
    put(control.free_tail, free_end);
    (void)lane.submit.attach(submit_queue(control));
    (void)lane.free.attach(free_queue(control));
    lane.free_acked = free_end;
    for (std::uint32_t ring = 0; ring < region_->rings_per_lane(); ++ring) {
        lane.owner[ring] = Owner::kController;
        give_back(index, ring);
    }
}

void TraceController::violation(std::uint32_t index, Violation kind) {
    add(region_->lane(index).violations[static_cast<std::uint32_t>(kind)], 1);
    log(LogLevel::kWarn, "tracer lane %u: agent violation %u", index, static_cast<std::uint32_t>(kind));
}

// ---- the drain -------------------------------------------------------------

std::uint32_t TraceController::poll() {
    if (running()) return 0;  // the drain thread owns the work
    std::lock_guard<std::mutex> lock(work_);
    const std::uint32_t work = do_work();
    check_lanes();
    return work;
}

std::uint32_t TraceController::do_work() {
    std::uint32_t work = 0;
    for (std::uint32_t i = 0; i < region_->lanes(); ++i) work += drain_lane(i);
    const std::uint64_t now = monotonic_ns();
    if (now >= next_check_ns_) {
        check_lanes();
        next_check_ns_ = now + liveness_ns_;
    }
    return work;
}

std::uint32_t TraceController::drain_lane(std::uint32_t index) {
    Lane& lane = lanes_[index];
    std::uint32_t work = 0;
    std::uint32_t entry = 0;
    // Bounded: a hostile agent that keeps pushing cannot keep us here.
    for (std::uint32_t n = 0; n < kQueueSlots; ++n) {
        const QueueStatus status = lane.submit.try_pop(entry);
        if (status == QueueStatus::kEmpty) break;
        if (status == QueueStatus::kCorrupt) {
            violation(index, Violation::kQueueCorrupt);
            break;  // entries cannot be trusted; the lane's queues are reset when its agent is gone
        }
        process_entry(index, entry);
        ++work;
    }
    return work;
}

void TraceController::process_entry(std::uint32_t index, std::uint32_t entry) {
    Lane& lane = lanes_[index];
    const std::uint32_t action = entry >> kEntryActionShift;
    const std::uint32_t ring = entry & kEntryRingMask;
    if ((entry & ~(kEntryRingMask | (0xFu << kEntryActionShift))) != 0 ||
        action < static_cast<std::uint32_t>(SubmitAction::kDumpIndex) ||
        action > static_cast<std::uint32_t>(SubmitAction::kReturn)) {
        violation(index, Violation::kBadEntry);
        return;
    }
    if (ring >= region_->rings_per_lane()) {
        violation(index, Violation::kRingOutOfRange);
        return;
    }
    if (lane.owner[ring] != Owner::kAgent) sync_free_head(index);
    if (lane.owner[ring] != Owner::kAgent) {
        violation(index, Violation::kRingNotHeld);
        return;
    }
    const auto submit_action = static_cast<SubmitAction>(action);
    const RingKind kind = submit_action == SubmitAction::kDumpDetail ? RingKind::kDetail
                          : submit_action == SubmitAction::kDumpIndex ? RingKind::kIndex
                                                                      : RingKind::kNone;
    if (submit_action != SubmitAction::kReturn &&
        get(region_->ring_info(index, ring).kind) != static_cast<std::uint32_t>(kind)) {
        violation(index, Violation::kBadRingInfo);  // counted; the entry's action decides
    }
    lane.owner[ring] = Owner::kController;
    put(region_->ring_info(index, ring).controller_holds, 1u);
    take_back(index, ring, kind, submit_action != SubmitAction::kReturn, 0);
}

// Rings the agent popped off free_q since we last looked are now its own.
void TraceController::sync_free_head(std::uint32_t index) {
    Lane& lane = lanes_[index];
    std::uint64_t head = 0;
    if (lane.free.load_head(head) != QueueStatus::kOk) {
        violation(index, Violation::kQueueCorrupt);
        return;
    }
    for (std::uint64_t position = lane.free_acked; position < head; ++position) {
        const std::uint32_t ring = lane.pushed[position & (kQueueSlots - 1)];
        if (lane.owner[ring] == Owner::kFreeQueue) lane.owner[ring] = Owner::kAgent;
    }
    lane.free_acked = head;
}

// Dumps (or just skips) the ring's window, resets the ring for its next
// window and puts it back on free_q.
void TraceController::take_back(std::uint32_t index, std::uint32_t ring, RingKind kind, bool dump,
                                std::uint32_t flags) {
    const RingView view = region_->ring_view(index, ring);
    LaneControl& control = region_->lane(index);
    // acquire: SYNC: ring-reset / the agent's recycle; also ordered by the
    // queue pop that handed us the ring.
    std::uint64_t start = std::atomic_ref<std::uint64_t>(view.control->read_position).load(std::memory_order_acquire);
    if ((start & (kRecordAlign - 1)) != 0) {
        violation(index, Violation::kBadPosition);
        start &= ~std::uint64_t{kRecordAlign - 1};
    }
    Window window;
    scan_window(view, kind, start, get(region_->ring_info(index, ring).first_seq), window);
    for (std::uint32_t i = 0; i < window.violations; ++i) violation(index, Violation::kBadRecord);
    if (dump && window.records > 0) {
        write_window(index, ring, kind, window, flags);
    } else if (!dump) {
        add(control.rings_returned, 1);
    }
    // The next window starts where this one ended, on a zero commit word.
    if (window.truncated) commit_word(view, window.end).store(0, std::memory_order_relaxed);
    put(view.control->records_released, get(view.control->records_released) + window.records);
    // SYNC: ring-reset. release: with the free_q push below, the agent that
    // pops this ring sees the new start and its zero commit word.
    std::atomic_ref<std::uint64_t>(view.control->read_position).store(window.end, std::memory_order_release);
    give_back(index, ring);
}

void TraceController::write_window(std::uint32_t index, std::uint32_t ring, RingKind kind, const Window& window,
                                   std::uint32_t flags) {
    LaneControl& control = region_->lane(index);
    RingInfo& info = region_->ring_info(index, ring);
    const RingView view = region_->ring_view(index, ring);
    LaneSink* sink = sink_for(index);
    if (sink == nullptr) return;
    ensure_session(index);
    if (kind == RingKind::kDetail && get(info.marked) != 0) flags |= sink::kFlagMarked;
    sink::BlockHeader block{};
    block.kind = static_cast<std::uint32_t>(kind == RingKind::kIndex ? sink::BlockKind::kIndexWindow
                                                                     : sink::BlockKind::kDetailWindow);
    block.flags = flags;
    block.session = lanes_[index].session;
    block.ring = ring;
    block.window = get(info.window);
    block.records = window.records;
    block.first_seq = window.first_seq;
    block.last_seq = window.last_seq;
    block.first_ts = window.first_ts;
    block.last_ts = window.last_ts;
    block.open_tsc = get(info.open_tsc);
    block.open_ns = get(info.open_ns);
    block.full_ns = (flags & sink::kFlagRecovered) != 0 ? 0 : get(info.full_ns);
    block.dump_unix_ns = unix_ns();
    block.violations = window.violations;
    const std::uint64_t bytes = window.end - window.start;
    const std::uint64_t offset = view.offset_of(window.start);
    const std::uint64_t first = std::min(bytes, view.capacity - offset);
    // Written straight from the shared mapping: no copy.
    const iovec data[2] = {{view.data + offset, first}, {view.data, bytes - first}};
    const TraceHeader& header = region_->header();
    const auto clock = static_cast<ClockKind>(header.clock_kind);
    std::uint64_t first_ns = block.open_ns;
    std::uint64_t last_ns = block.full_ns != 0 ? block.full_ns : block.open_ns;
    if (kind == RingKind::kIndex && window.has_seq) {
        first_ns = to_monotonic_ns(clock, header.tsc_hz, block.open_tsc, block.open_ns, window.first_ts);
        last_ns = to_monotonic_ns(clock, header.tsc_hz, block.open_tsc, block.open_ns, window.last_ts);
    }
    if (sink->append(block, data, bytes > first ? 2 : 1, first_ns, last_ns) != RS_OK) {
        sink_errors_.fetch_add(1, std::memory_order_relaxed);
        log(LogLevel::kError, "tracer lane %u: %s", index, rs_last_error_message());
        return;
    }
    add(kind == RingKind::kIndex ? control.index_rings_dumped : control.detail_rings_dumped, 1);
    add(control.records_dumped, window.records);
    add(control.dump_bytes, bytes);
    const std::uint64_t now = monotonic_ns();
    if (block.full_ns != 0 && now >= block.full_ns && now - block.full_ns < 3'600'000'000'000ull) {
        const std::uint64_t latency = now - block.full_ns;
        add(control.dump_latency_ns_total, latency);
        put(control.dump_latency_ns_last, latency);
        if (latency > get(control.dump_latency_ns_max)) put(control.dump_latency_ns_max, latency);
    }
    add(info.dumps, 1);
}

void TraceController::give_back(std::uint32_t index, std::uint32_t ring) {
    Lane& lane = lanes_[index];
    LaneControl& control = region_->lane(index);
    put(region_->ring_info(index, ring).controller_holds, 0u);
    const std::uint64_t position = lane.free.tail();
    const QueueStatus status = lane.free.try_push(ring);
    if (status != QueueStatus::kOk) {
        // Only a corrupt head (a hostile agent) can refuse: the ring stays
        // ours until the lane's queues are reset.
        violation(index, Violation::kQueueCorrupt);
        return;
    }
    lane.pushed[position & (kQueueSlots - 1)] = ring;
    lane.owner[ring] = Owner::kFreeQueue;
    // A bounded-wait agent may be parked on free_q (park.hpp protocol).
    const NotifyWords words = free_words(control);
    std::atomic_thread_fence(std::memory_order_seq_cst);  // SYNC: park-announce
    if (words.count().load(std::memory_order_relaxed) != 0) detail::wake_parked(words, PeerWake{});
}

// ---- liveness, sessions, recovery ---------------------------------------------

bool TraceController::agent_alive(std::uint64_t claim) const {
    return process_matches(claim_pid(claim), claim_ticks(claim));
}

void TraceController::check_lanes() {
    for (std::uint32_t i = 0; i < region_->lanes(); ++i) {
        LaneControl& control = region_->lane(i);
        // SYNC: lane-state. acquire: the agent's submits before CLOSED are visible.
        const std::uint32_t state = std::atomic_ref<std::uint32_t>(control.state).load(std::memory_order_acquire);
        if (state == static_cast<std::uint32_t>(LaneState::kActive)) {
            const std::uint64_t claim = std::atomic_ref<std::uint64_t>(control.claim).load(std::memory_order_acquire);
            if (!agent_alive(claim)) {
                log(LogLevel::kWarn, "tracer lane %u: agent pid %d is gone: recovering its rings", i,
                    claim_pid(claim));
                recover_lane(i, static_cast<std::uint32_t>(sink::EndReason::kDied));
            }
        } else if (state == static_cast<std::uint32_t>(LaneState::kClosed)) {
            recover_lane(i, static_cast<std::uint32_t>(sink::EndReason::kClosed));
        }
    }
}

void TraceController::recover_lane(std::uint32_t index, std::uint32_t reason) {
    Lane& lane = lanes_[index];
    LaneControl& control = region_->lane(index);
    drain_lane(index);
    sync_free_head(index);
    // Every ring the agent still held, oldest window first (index windows in
    // order keep the lane's file in sequence order).
    struct Held {
        std::uint32_t ring;
        std::uint32_t kind;
        std::uint64_t window;
    };
    Held held[kMaxRingsPerLane];
    std::uint32_t count = 0;
    for (std::uint32_t ring = 0; ring < region_->rings_per_lane(); ++ring) {
        if (lane.owner[ring] != Owner::kAgent) continue;
        RingInfo& info = region_->ring_info(index, ring);
        held[count++] = Held{ring, get(info.kind), get(info.window)};
    }
    std::sort(held, held + count, [](const Held& a, const Held& b) {
        return a.kind != b.kind ? a.kind < b.kind : a.window < b.window;
    });
    std::uint32_t recovered = 0;
    for (std::uint32_t i = 0; i < count; ++i) {
        const RingKind kind = held[i].kind == static_cast<std::uint32_t>(RingKind::kDetail) ? RingKind::kDetail
                                                                                            : RingKind::kIndex;
        lane.owner[held[i].ring] = Owner::kController;
        const std::uint64_t before = get(control.records_dumped);
        take_back(index, held[i].ring, kind, true, sink::kFlagRecovered);
        if (get(control.records_dumped) != before) ++recovered;
    }
    if (reason == static_cast<std::uint32_t>(sink::EndReason::kDied)) {
        add(control.recoveries, 1);
        add(control.recovered_rings, recovered);
    }
    end_session(index, reason);
    reset_queues(index);
    put(control.active_index_ring, kNoRing);
    put(control.active_detail_ring, kNoRing);
    // SYNC: lane-state. release: the reset lane is visible to the next agent
    // that claims it (it CASes the claim with acquire, then reads FREE).
    std::atomic_ref<std::uint32_t>(control.state).store(static_cast<std::uint32_t>(LaneState::kFree),
                                                        std::memory_order_release);
    std::atomic_ref<std::uint64_t>(control.claim).store(0, std::memory_order_release);
}

LaneSink* TraceController::sink_for(std::uint32_t index) {
    Lane& lane = lanes_[index];
    if (lane.sink.is_open()) return &lane.sink;
    const TraceHeader& header = region_->header();
    sink::FileHeader prototype{};
    prototype.lane = index;
    prototype.clock_kind = header.clock_kind;
    prototype.region_epoch = header.epoch;
    prototype.tsc_hz = header.tsc_hz;
    prototype.calib_tsc = header.calib_tsc;
    prototype.calib_ns = header.calib_ns;
    prototype.ring_capacity = header.ring_capacity;
    prototype.record_align = header.record_align;
    prototype.created_unix_ns = unix_ns();
    if (lane.sink.open(sink_dir_, prototype) != RS_OK) {
        sink_errors_.fetch_add(1, std::memory_order_relaxed);
        log(LogLevel::kError, "tracer lane %u: %s", index, rs_last_error_message());
        return nullptr;
    }
    return &lane.sink;
}

void TraceController::ensure_session(std::uint32_t index) {
    Lane& lane = lanes_[index];
    LaneControl& control = region_->lane(index);
    const std::uint32_t session = get(control.session);
    if (lane.session_open && lane.session == session) return;
    LaneSink* sink = sink_for(index);
    if (sink == nullptr) return;
    sink::SessionStart start{};
    start.pid = get(control.agent_pid);
    start.tid = get(control.agent_tid);
    start.start_ticks = get(control.agent_start_ticks);
    start.session = session;
    start.policy = get(control.policy);
    start.open_tsc = get(control.open_tsc);
    start.open_ns = get(control.open_ns);
    start.open_unix_ns = get(control.open_unix_ns);
    sink::BlockHeader block{};
    block.kind = static_cast<std::uint32_t>(sink::BlockKind::kSessionStart);
    block.session = session;
    block.dump_unix_ns = unix_ns();
    const iovec data{&start, sizeof start};
    if (sink->append(block, &data, 1, 0, 0) != RS_OK) {
        sink_errors_.fetch_add(1, std::memory_order_relaxed);
        return;
    }
    lane.session = session;
    lane.session_open = true;
}

void TraceController::end_session(std::uint32_t index, std::uint32_t reason) {
    Lane& lane = lanes_[index];
    LaneControl& control = region_->lane(index);
    if (get(control.session) == 0) return;  // never claimed
    ensure_session(index);
    LaneSink* sink = sink_for(index);
    if (sink == nullptr || !lane.session_open) return;
    sink::SessionEnd end{};
    end.session = lane.session;
    end.reason = reason;
    end.seq_next = get(control.seq_next);
    for (std::uint32_t i = 0; i < kDropCauses; ++i) {
        end.drops[i] = get(control.drops[i]);
        end.detail_lost[i] = get(control.detail_lost[i]);
    }
    end.index_rings_submitted = get(control.index_rings_submitted);
    end.detail_rings_kept = get(control.detail_rings_kept);
    end.detail_rings_recycled = get(control.detail_rings_recycled);
    end.bytes_written = get(control.bytes_written);
    sink::BlockHeader block{};
    block.kind = static_cast<std::uint32_t>(sink::BlockKind::kSessionEnd);
    block.session = lane.session;
    block.dump_unix_ns = unix_ns();
    const iovec data{&end, sizeof end};
    if (sink->append(block, &data, 1, 0, 0) != RS_OK) sink_errors_.fetch_add(1, std::memory_order_relaxed);
    lane.session_open = false;
}

// ---- thread, flush, stop -------------------------------------------------------

rs_result TraceController::start() {
    std::lock_guard<std::mutex> lock(control_);
    if (running()) return fail(RS_BUSY, "the tracer controller is already running");
    stop_.store(false, std::memory_order_relaxed);
    running_.store(true, std::memory_order_release);
    // The drain thread blocks every signal it can (the mask is inherited at
    // creation), so process-directed signals reach the application's
    // threads, never a library thread.
    sigset_t all;
    sigset_t previous;
    sigfillset(&all);
    ::pthread_sigmask(SIG_SETMASK, &all, &previous);
    const int err = ::pthread_create(&thread_, nullptr, &TraceController::thread_main, this);
    ::pthread_sigmask(SIG_SETMASK, &previous, nullptr);
    if (err != 0) {
        running_.store(false, std::memory_order_release);
        return fail_errno(RS_ERR_NO_MEMORY, err, "cannot start the tracer drain thread");
    }
    put(region_->header().controller_running, 1u);
    return RS_OK;
}

void* TraceController::thread_main(void* self) {
    ::pthread_setname_np(::pthread_self(), "rs-tracer");
    static_cast<TraceController*>(self)->run();
    return nullptr;
}

void TraceController::run() {
    // acquire: pairs with stop()'s release.
    while (!stop_.load(std::memory_order_acquire)) {
        std::uint32_t work = 0;
        {
            std::lock_guard<std::mutex> lock(work_);
            work = do_work();
        }
        idle(work);
    }
}

// Reads shared memory only (the lane state is under work_, which we do not hold).
bool TraceController::submits_waiting() const {
    for (std::uint32_t i = 0; i < region_->lanes(); ++i) {
        LaneControl& control = region_->lane(i);
        // acquire: SYNC: queue-publish (re-read under work_ when we drain).
        if (std::atomic_ref<std::uint64_t>(control.submit_tail).load(std::memory_order_acquire) !=
            std::atomic_ref<std::uint64_t>(control.submit_head).load(std::memory_order_relaxed)) {
            return true;
        }
    }
    return false;
}

void TraceController::idle(std::uint32_t work) {
    if (work != 0) return;
    TraceHeader& header = region_->header();
    const WaitStrategy strategy{WaitKind::kFutex, 0, 0, -1};
    std::uint64_t parked = 0;
    const WaitResult result = wait_until(
        strategy, submit_words(header), next_check_ns_,
        [this] { return stop_.load(std::memory_order_acquire) || submits_waiting(); }, &parked);
    if (parked == 0) return;
    if (stop_.load(std::memory_order_acquire)) {
        kicks_.fetch_add(1, std::memory_order_relaxed);
    } else if (result == WaitResult::kReady) {
        add(header.wakeups, 1);
    } else {
        add(header.timer_wakeups, 1);
    }
}

void TraceController::sync_sinks() {
    for (std::uint32_t i = 0; i < region_->lanes(); ++i) {
        if (lanes_[i].sink.sync() != RS_OK) sink_errors_.fetch_add(1, std::memory_order_relaxed);
    }
}

rs_result TraceController::flush_cycle(std::uint64_t timeout_ns) {
    TraceHeader& header = region_->header();
    std::uint64_t target = 0;
    {
        std::lock_guard<std::mutex> lock(work_);
        target = get(header.flush_request) + 1;
        // Agents compare it on every emit (relaxed): advisory, acted on when seen.
        put(header.flush_request, target);
    }
    const std::uint64_t deadline = deadline_after(timeout_ns);
    bool acknowledged = false;
    for (;;) {
        {
            std::lock_guard<std::mutex> lock(work_);
            for (std::uint32_t i = 0; i < region_->lanes(); ++i) drain_lane(i);
            acknowledged = true;
            for (std::uint32_t i = 0; i < region_->lanes() && acknowledged; ++i) {
                LaneControl& control = region_->lane(i);
                const bool active = std::atomic_ref<std::uint32_t>(control.state).load(std::memory_order_acquire) ==
                                    static_cast<std::uint32_t>(LaneState::kActive);
                // acquire: the agent's submits are published before its acknowledgement.
                if (active && std::atomic_ref<std::uint64_t>(control.flush_ack).load(std::memory_order_acquire) <
                                  target) {
                    acknowledged = false;
                }
            }
        }
        if (acknowledged || monotonic_ns() >= deadline) break;
        const timespec nap{0, 200'000};
        ::nanosleep(&nap, nullptr);
    }
    std::lock_guard<std::mutex> lock(work_);
    for (std::uint32_t i = 0; i < region_->lanes(); ++i) drain_lane(i);
    check_lanes();
    if (sync_on_flush_) sync_sinks();
    add(header.flushes_served, 1);
    return acknowledged ? RS_OK : RS_TIMEOUT;
}

rs_result TraceController::flush(std::uint64_t timeout_ns) {
    std::lock_guard<std::mutex> lock(control_);
    return flush_cycle(timeout_ns);
}

rs_result TraceController::stop(std::uint64_t timeout_ns) {
    std::lock_guard<std::mutex> lock(control_);
    if (running()) {
        // release: pairs with run()'s acquire.
        stop_.store(true, std::memory_order_release);
        wake_unconditionally(submit_words(region_->header()), -1);
        ::pthread_join(thread_, nullptr);
        running_.store(false, std::memory_order_release);
        put(region_->header().controller_running, 0u);
    }
    const rs_result result = flush_cycle(timeout_ns);
    std::lock_guard<std::mutex> work(work_);
    for (std::uint32_t i = 0; i < region_->lanes(); ++i) lanes_[i].sink.close();
    return result;
}

rs_result TraceController::stats_json(char** out) const {
    JsonOut json;
    json.begin_object();
    region_json(json, *region_);
    json.field("running", running())
        .field("sink_dir", sink_dir_)
        .field("sink_errors", sink_errors_.load(std::memory_order_relaxed))
        .field("kicks", kicks_.load(std::memory_order_relaxed));
    lanes_json(json, *region_);
    json.end_object();
    *out = json.finish();
    return *out != nullptr ? RS_OK : fail(RS_ERR_NO_MEMORY, "tracer controller stats: out of memory");
}

}  // namespace ringside::trace
