#include "hostile/hostile.hpp"

#include <dirent.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <span>
#include <sstream>
#include <thread>

#include "common/process.hpp"
#include "ring/consumer.hpp"
#include "ring/producer.hpp"
#include "ringside/ringside.h"
#include "ringside/sidecar.h"
#include "ringside/tracer.h"
#include "tracer/index_queue.hpp"
#include "tracer/ring_appender.hpp"
#include "tracer/trace_layout.h"

namespace rshostile {
namespace {

using namespace ringside;
namespace tr = ringside::trace;

constexpr std::uint64_t kCapacity = 4096;
constexpr std::uint32_t kLanes = 2;
constexpr std::uint32_t kTraceRings = 4;

// ---- randomness, time ----------------------------------------------------------

struct Rng {
    std::uint64_t state;
    std::uint64_t next() {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        return state;
    }
    std::uint32_t below(std::uint32_t n) { return static_cast<std::uint32_t>(next() % n); }
    bool chance(std::uint32_t percent) { return below(100) < percent; }
};

double now_s() {
    timespec t{};
    ::clock_gettime(CLOCK_MONOTONIC, &t);
    return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_nsec) * 1e-9;
}

void pause_us(std::uint32_t us) {
    timespec t{0, static_cast<long>(us) * 1000};
    ::nanosleep(&t, nullptr);
}

// ---- the watchdog: a victim call that never returns ends the process -------------

// Victim thread -> watchdog thread. The heartbeat, the peer's pid and the
// mode are read for a decision and a message only, never to reach data the
// writer published: relaxed is enough for them. g_watching ends the watch
// (release/acquire, so the watchdog stops after the last round's work).
std::atomic<std::uint64_t> g_heartbeat{0};
std::atomic<bool> g_watching{false};
std::atomic<pid_t> g_peer{0};
std::atomic<int> g_mode{0};

void beat() {
    // relaxed is enough: the watchdog only needs to see the counter move.
    g_heartbeat.fetch_add(1, std::memory_order_relaxed);
}

void watchdog() {
    std::uint64_t last = 0;
    double since = now_s();
    // acquire: pairs with the release store that ends the session.
    while (g_watching.load(std::memory_order_acquire)) {
        pause_us(50'000);
        const std::uint64_t beat_now = g_heartbeat.load(std::memory_order_relaxed);
        if (beat_now != last) {
            last = beat_now;
            since = now_s();
        } else if (now_s() - since > kCallLimitS) {
            std::fprintf(stderr, "hostile: FAILURE: a %s call did not return within %.0f s (spinning on hostile data?)\n",
                         mode_name(static_cast<Mode>(g_mode.load(std::memory_order_relaxed))), kCallLimitS);
            if (const pid_t peer = g_peer.load(std::memory_order_relaxed); peer > 0) ::kill(peer, SIGKILL);
            std::_Exit(3);
        }
    }
}

// ---- where the shared mapping is ---------------------------------------------------

// The address range of this process's mapping of /dev/shm/<name>.
bool find_mapping(const std::string& name, std::byte*& base, std::uint64_t& bytes) {
    std::ifstream maps("/proc/self/maps");
    std::string line;
    const std::string path = "/dev/shm" + name;
    while (std::getline(maps, line)) {
        if (line.size() < path.size() || line.compare(line.size() - path.size(), path.size(), path) != 0) continue;
        unsigned long long first = 0, last = 0;
        if (std::sscanf(line.c_str(), "%llx-%llx", &first, &last) != 2) continue;
        base = reinterpret_cast<std::byte*>(first);
        bytes = last - first;
        return true;
    }
    return false;
}

// ---- the peer's mutations ------------------------------------------------------------

template <typename T>
void poke(T& field, T value) {
    // relaxed is enough: the peer is hostile; the victim must cope with any order.
    std::atomic_ref<T>(field).store(value, std::memory_order_relaxed);
}

std::uint64_t interesting(Rng& rng, std::uint64_t current, std::uint64_t capacity) {
    switch (rng.below(12)) {
        case 0: return 0;
        case 1: return rng.next();
        case 2: return current + 8 * (1 + rng.below(64));
        case 3: return current - 8 * (1 + rng.below(64));
        case 4: return current + capacity + 8 * rng.below(4);
        case 5: return current + 1 + rng.below(7);  // misaligned
        case 6: return ~std::uint64_t{0} - rng.below(16);
        case 7: return capacity - 8 * rng.below(3);
        case 8: return std::uint64_t{1} << rng.below(64);
        case 9: return current ^ (std::uint64_t{1} << rng.below(64));
        case 10: return current * 2;
        default: return current;
    }
}

std::uint32_t interesting_commit(Rng& rng, std::uint64_t offset, std::uint64_t capacity) {
    switch (rng.below(9)) {
        case 0: return static_cast<std::uint32_t>(rng.next());
        case 1: return layout::kPadFlag | static_cast<std::uint32_t>(capacity - offset);
        case 2: return layout::kPadFlag | static_cast<std::uint32_t>(8 * rng.below(1024));
        case 3: return static_cast<std::uint32_t>(8 * (1 + rng.below(static_cast<std::uint32_t>(capacity / 8))));
        case 4: return static_cast<std::uint32_t>(capacity - offset + 8);
        case 5: return static_cast<std::uint32_t>(capacity / 2 + 8);
        case 6: return 0x7FFF'FFF8u;
        case 7: return 1 + rng.below(7);
        default: return 16;
    }
}

void mutate_region_header(Rng& rng, layout::RegionHeader& header) {
    switch (rng.below(6)) {
        case 0: poke(header.ring_capacity, interesting(rng, header.ring_capacity, kCapacity)); break;
        case 1: poke(header.ring_count, static_cast<std::uint32_t>(rng.next())); break;
        case 2: poke(header.record_align, static_cast<std::uint32_t>(interesting(rng, 8, 64))); break;
        case 3: poke(header.total_bytes, rng.next()); break;
        case 4: poke(header.magic, rng.next()); break;
        default: poke(header.layout_major, static_cast<std::uint16_t>(rng.next())); break;
    }
}

void mutate_record(Rng& rng, const RingView& view, std::uint64_t near) {
    const std::uint64_t position = rng.chance(50) ? near : rng.below(static_cast<std::uint32_t>(view.capacity / 8)) * 8;
    const std::uint64_t offset = position & (view.capacity - 1) & ~std::uint64_t{7};  // the peer's own stores stay aligned
    auto* header = reinterpret_cast<layout::RecordHeader*>(view.data + offset);
    if (rng.chance(30)) {
        // A well-formed header (length matching the size) whose size may run
        // past the end of the data area: only the bounds check refuses it.
        const auto total = static_cast<std::uint32_t>(8 * (1 + rng.below(static_cast<std::uint32_t>(view.capacity / 16))));
        poke(header->length, total - 8);
        poke(header->commit, total);
    } else if (rng.chance(60)) {
        poke(header->commit, interesting_commit(rng, offset, view.capacity));
    } else {
        poke(header->length, static_cast<std::uint32_t>(interesting(rng, header->length, view.capacity)));
    }
}

// The peer of a ring: a correct producer (or consumer) part of the time, a
// vandal the rest. Runs in the forked child until killed; no heap use.
[[noreturn]] void ring_peer(Mode victim, std::byte* base, std::uint64_t seed) {
    Rng rng{seed | 1};
    // Some rounds are mostly correct (the victim gets deep into the protocol
    // before something breaks), some are mostly vandalism.
    static constexpr std::uint32_t kCorrect[] = {99, 95, 80, 55};
    const std::uint32_t correct = kCorrect[rng.below(4)];
    auto& header = *reinterpret_cast<layout::RegionHeader*>(base);
    RingView view;
    view.control = reinterpret_cast<layout::RingControl*>(base + layout::ring_control_offset(0, kCapacity));
    view.data = base + layout::ring_data_offset(0, kCapacity);
    view.capacity = kCapacity;
    view.record_align = 8;
    Producer producer;
    Consumer consumer;
    bool attached = false;
    std::byte payload[512];
    std::memset(payload, 0xA5, sizeof payload);
    for (std::uint64_t step = 0;; ++step) {
        if (rng.chance(correct)) {
            if (victim == Mode::kConsumer) {
                if (!attached) attached = producer.attach(view) == RingStatus::kOk;
                if (attached && producer.try_write(payload, rng.below(sizeof payload)) == RingStatus::kCorrupt) {
                    attached = false;
                }
            } else {
                if (!attached) attached = consumer.attach(view) == RingStatus::kOk;
                RecordSpan span;
                if (attached && consumer.try_peek(span) == RingStatus::kOk) (void)consumer.release();
                if (attached && rng.chance(5)) attached = false;
            }
        } else {
            const std::uint64_t read = view.control->read_position;
            switch (rng.below(10)) {
                case 0: mutate_region_header(rng, header); break;
                case 1: case 2: poke(view.control->read_position, interesting(rng, read, kCapacity)); break;
                case 3: poke(view.control->write_position, interesting(rng, read, kCapacity)); break;
                case 4: poke(view.control->records_released, rng.next()); break;
                default: mutate_record(rng, view, victim == Mode::kConsumer ? read : producer.committed_position()); break;
            }
        }
        if (step % 4 == 0) pause_us(rng.below(40));
    }
}

// A hostile agent on lane 0 of a tracer region: claims the lane as itself
// (alive, so the controller keeps serving it), submits real windows part of
// the time, and vandalises queues, slots, ring infos, records and state.
[[noreturn]] void agent_peer(std::byte* base, std::uint64_t seed) {
    Rng rng{seed | 1};
    static constexpr std::uint32_t kCorrect[] = {95, 80, 45};
    const std::uint32_t correct = kCorrect[rng.below(3)];
    auto& header = *reinterpret_cast<tr::TraceHeader*>(base);
    auto& lane = *reinterpret_cast<tr::LaneControl*>(base + tr::lane_control_offset(0));
    const std::uint64_t claim = tr::claim_word(::getpid(), self_start_ticks());
    poke(lane.agent_pid, static_cast<std::int32_t>(::getpid()));
    poke(lane.session, lane.session + 1);
    poke(lane.claim, claim);
    // SYNC: lane-state. release: the claim before ACTIVE (what a real agent does).
    std::atomic_ref<std::uint32_t>(lane.state).store(static_cast<std::uint32_t>(tr::LaneState::kActive),
                                                     std::memory_order_release);
    auto view_of = [&](std::uint32_t ring) {
        const std::uint64_t offset = tr::ring_control_offset(kLanes, kTraceRings, kCapacity, 0, ring % kTraceRings);
        RingView view;
        view.control = reinterpret_cast<layout::RingControl*>(base + offset);
        view.data = base + offset + tr::kRingControlBytes;
        view.capacity = kCapacity;
        view.record_align = tr::kRecordAlign;
        return view;
    };
    auto info_of = [&](std::uint32_t ring) -> tr::RingInfo& {
        const std::uint64_t offset = tr::ring_control_offset(kLanes, kTraceRings, kCapacity, 0, ring % kTraceRings);
        return *reinterpret_cast<tr::RingInfo*>(base + offset + tr::kRingInfoOffset);
    };
    tr::QueuePopper free_q;
    tr::QueuePusher submit_q;
    (void)free_q.attach(tr::free_queue(lane));
    (void)submit_q.attach(tr::submit_queue(lane));
    std::uint64_t window = 0;
    std::uint64_t seq = 0;
    for (std::uint64_t step = 0;; ++step) {
        if (rng.chance(correct)) {
            std::uint32_t ring = 0;
            if (free_q.try_pop(ring) == tr::QueueStatus::kOk) {
                const RingView view = view_of(ring);
                tr::RingAppender appender;
                appender.start(view, view.control->read_position & ~std::uint64_t{7});
                tr::RingInfo& info = info_of(ring);
                poke(info.kind, static_cast<std::uint32_t>(tr::RingKind::kIndex));
                poke(info.window, ++window);
                poke(info.first_seq, seq);
                const std::uint32_t events = rng.below(200);
                for (std::uint32_t i = 0; i < events; ++i) {
                    std::byte* slot = appender.try_reserve(sizeof(tr::IndexEvent));
                    if (slot == nullptr) break;
                    const tr::IndexEvent event{seq++, 7, tr::kNoDetail};
                    std::memcpy(slot, &event, sizeof event);
                    appender.commit();
                }
                if (rng.chance(30)) mutate_record(rng, view, view.control->read_position + 24 * rng.below(events + 1));
                (void)submit_q.try_push(tr::submit_entry(ring, tr::SubmitAction::kDumpIndex));
            } else if (rng.chance(20)) {
                (void)free_q.attach(tr::free_queue(lane));  // resynchronise after a reset of the lane
                (void)submit_q.attach(tr::submit_queue(lane));
            }
        } else {
            const std::uint32_t ring = rng.below(kTraceRings + 2);
            switch (rng.below(12)) {
                case 0: poke(lane.submit_slots[rng.below(tr::kQueueSlots)], static_cast<std::uint32_t>(rng.next())); break;
                case 1: poke(lane.submit_slots[lane.submit_tail % tr::kQueueSlots],
                             tr::submit_entry(rng.below(kTraceRings * 2), static_cast<tr::SubmitAction>(rng.below(5))));
                    poke(lane.submit_tail, lane.submit_tail + 1);
                    break;
                case 2: poke(lane.submit_tail, interesting(rng, lane.submit_tail, tr::kQueueSlots)); break;
                case 3: poke(lane.free_head, interesting(rng, lane.free_head, tr::kQueueSlots)); break;
                case 4: poke(info_of(ring).kind, rng.below(4)); break;
                case 5: poke(info_of(ring).controller_holds, rng.below(3)); break;
                case 6: poke(view_of(ring).control->read_position,
                             interesting(rng, view_of(ring).control->read_position, kCapacity));
                    break;
                case 7: mutate_record(rng, view_of(ring), view_of(ring).control->read_position); break;
                case 8: poke(header.lane_count, static_cast<std::uint32_t>(rng.next()));
                    poke(header.ring_capacity, interesting(rng, kCapacity, kCapacity));
                    break;
                case 9: poke(lane.state, rng.chance(50) ? rng.below(4) : static_cast<std::uint32_t>(tr::LaneState::kActive)); break;
                case 10: poke(info_of(ring).first_seq, rng.next()); break;
                default: poke(lane.claim, rng.chance(80) ? claim : rng.next()); break;
            }
        }
        if (step % 4 == 0) pause_us(rng.below(40));
    }
}

pid_t start_peer(Mode mode, std::byte* base, std::uint64_t seed) {
    const pid_t parent = ::getpid();
    const pid_t pid = ::fork();
    if (pid == 0) {
        // Dies with the victim, even when the victim crashes (the proof that it can).
        ::prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (::getppid() != parent) ::_exit(0);
        if (mode == Mode::kController) agent_peer(base, seed);
        ring_peer(mode, base, seed);
    }
    g_peer.store(pid, std::memory_order_relaxed);
    return pid;
}

void stop_peer(pid_t pid) {
    if (pid <= 0) return;
    ::kill(pid, SIGKILL);
    int status = 0;
    ::waitpid(pid, &status, 0);
    g_peer.store(0, std::memory_order_relaxed);
}

// ---- the victims -------------------------------------------------------------------

class Round {
public:
    Round(Summary& summary, Mode mode, std::uint64_t seed, double deadline)
        : summary_(summary), mode_(mode), rng_{seed | 1}, seed_(seed), deadline_(deadline) {
        std::snprintf(name_, sizeof name_, "/rshostile.%d.%llu", static_cast<int>(::getpid()),
                      static_cast<unsigned long long>(seed % 1'000'000));
    }

    void run() {
        g_mode.store(static_cast<int>(mode_), std::memory_order_relaxed);
        if (mode_ == Mode::kController) {
            controller_round();
        } else {
            ring_round();
        }
        ++summary_.modes[static_cast<int>(mode_)].rounds;
    }

private:
    void fail(const std::string& what) {
        summary_.failures.push_back(std::string(mode_name(mode_)) + " (seed " + std::to_string(seed_) + "): " + what);
    }
    rs_result call(rs_result r) {
        beat();
        ++summary_.modes[static_cast<int>(mode_)].operations;
        return r;
    }
    bool expected(rs_result r, const char* function) {
        if (r >= 0 || r == RS_ERR_TOO_SMALL || r == RS_ERR_TOO_LARGE) return true;
        if (r == RS_ERR_CORRUPT) {
            ++summary_.modes[static_cast<int>(mode_)].corrupt_reported;
            return false;  // reported: the side stops
        }
        fail(std::string(function) + " returned " + rs_result_name(r) + ": " + rs_last_error_message());
        return false;
    }
    void inside(const void* pointer, std::size_t length, const char* what) {
        const auto* first = static_cast<const std::byte*>(pointer);
        if (first < data_ || first + length > data_ + kCapacity) fail(std::string(what) + " returned a span outside the data area");
        volatile std::uint8_t sum = 0;
        for (std::size_t i = 0; i < length; ++i) sum = sum + static_cast<std::uint8_t>(first[i]);
    }

    void ring_round() {
        rs_region_options options;
        rs_region_options_init(&options);
        options.ring_capacity = kCapacity;
        rs_region_t* region = nullptr;
        if (rs_region_create(name_, &options, &region) != RS_OK) return fail(std::string("region create: ") + rs_last_error_message());
        std::byte* base = nullptr;
        std::uint64_t bytes = 0;
        if (!find_mapping(name_, base, bytes)) {
            (void)rs_region_destroy(region);
            return fail("the region's mapping is not in /proc/self/maps");
        }
        data_ = base + layout::ring_data_offset(0, kCapacity);
        const rs_role role = mode_ == Mode::kConsumer ? RS_ROLE_CONSUMER : RS_ROLE_PRODUCER;
        const pid_t peer = start_peer(mode_, base, seed_ * 7919);
        pause_us(rng_.below(2000));  // let the peer move first, sometimes
        rs_ring_t* ring = nullptr;
        bool alive = expected(call(rs_ring_create(region, 0, role, &ring)), "rs_ring_create");
        char buffer[kCapacity];
        while (alive && now_s() < deadline_) {
            if (rng_.chance(3)) reopen();
            alive = mode_ == Mode::kConsumer ? consume_once(ring, region, buffer) : produce_once(ring, region);
            if (alive && rng_.chance(2) && mode_ == Mode::kProducer) {  // re-attach: scans from the peer's read position
                if (call(rs_ring_destroy(ring)) != RS_OK) fail("destroy of a live producer failed");
                ring = nullptr;
                alive = expected(call(rs_ring_create(region, 0, role, &ring)), "rs_ring_create");
            }
        }
        stop_peer(peer);
        // Stopped (corrupt) or not: the handles must go away cleanly.
        if (ring != nullptr && call(rs_ring_destroy(ring)) != RS_OK) fail(std::string("ring destroy: ") + rs_last_error_message());
        if (call(rs_region_destroy(region)) != RS_OK) fail(std::string("region destroy: ") + rs_last_error_message());
    }

    // A second handle opened while the peer rewrites the header: it must be
    // refused, or work with the geometry it validated (rings past the real
    // ring count refused, whatever the shared header says by then).
    void reopen() {
        rs_region_options options;
        rs_region_options_init(&options);
        options.prefault = 0;
        rs_region_t* second = nullptr;
        const rs_result opened = call(rs_region_open(name_, &options, &second));
        if (opened != RS_OK) {
            if (opened != RS_ERR_CORRUPT && opened != RS_ERR_VERSION_MISMATCH && opened != RS_BUSY) {
                fail(std::string("rs_region_open returned ") + rs_result_name(opened) + ": " + rs_last_error_message());
            }
            return;
        }
        pause_us(rng_.below(200));  // the peer gets to rewrite the header now
        for (std::uint32_t index = 0; index < 3; ++index) {
            rs_ring_t* ring = nullptr;
            const rs_role role = mode_ == Mode::kConsumer ? RS_ROLE_PRODUCER : RS_ROLE_CONSUMER;
            const rs_result r = call(rs_ring_create(second, index, role, &ring));
            if (r == RS_OK) {
                if (index != 0) fail("rs_ring_create accepted a ring index past the region's ring count");
                char* json = nullptr;
                if (call(rs_ring_stats_json(ring, &json)) == RS_OK) rs_string_free(json);
                if (call(rs_ring_destroy(ring)) != RS_OK) fail("destroy of a second handle's ring failed");
            } else if (index != 0 && r != RS_ERR_INVALID_ARGUMENT) {
                fail(std::string("rs_ring_create past the ring count returned ") + rs_result_name(r));
            }
        }
        if (call(rs_region_destroy(second)) != RS_OK) fail(std::string("second handle destroy: ") + rs_last_error_message());
    }

    bool consume_once(rs_ring_t* ring, rs_region_t* region, char* buffer) {
        rs_record records[8];
        std::size_t count = 0;
        std::size_t length = 0;
        void* copy = nullptr;
        char* json = nullptr;
        switch (rng_.below(7)) {
            case 0: case 1: {
                const rs_result r = call(rs_ring_peek(ring, &records[0]));
                if (r == RS_OK) {
                    inside(records[0].data, records[0].length, "rs_ring_peek");
                    return expected(call(rs_ring_release(ring)), "rs_ring_release");
                }
                return expected(r, "rs_ring_peek");
            }
            case 2: {
                const rs_result r = call(rs_ring_peek_batch(ring, records, 8, &count));
                if (r != RS_OK) return expected(r, "rs_ring_peek_batch");
                for (std::size_t i = 0; i < count; ++i) inside(records[i].data, records[i].length, "rs_ring_peek_batch");
                return expected(call(rs_ring_release(ring)), "rs_ring_release");
            }
            case 3: return expected(call(rs_ring_read(ring, buffer, kCapacity, &length)), "rs_ring_read");
            case 4: {
                const rs_result r = call(rs_ring_read_alloc(ring, &copy, &length));
                rs_buffer_free(copy);
                return expected(r, "rs_ring_read_alloc");
            }
            case 5: {
                const rs_result r = call(rng_.chance(50) ? rs_ring_stats_json(ring, &json) : rs_region_ring_stats_json(region, 0, &json));
                rs_string_free(json);
                return expected(r, "stats json");
            }
            default: return expected(call(rs_ring_wait_readable(ring, 20'000)), "rs_ring_wait_readable");
        }
    }

    bool produce_once(rs_ring_t* ring, rs_region_t* region) {
        const std::size_t length = rng_.chance(5) ? kCapacity : rng_.below(600);
        void* out = nullptr;
        char* json = nullptr;
        static const char kPayload[kCapacity] = {};
        switch (rng_.below(5)) {
            case 0: case 1: {
                const rs_result r = call(rs_ring_reserve(ring, length, &out));
                if (r == RS_OK) {
                    inside(out, length, "rs_ring_reserve");
                    std::memset(out, 0x3C, length);
                    return expected(call(rs_ring_commit(ring)), "rs_ring_commit");
                }
                return expected(r, "rs_ring_reserve");
            }
            case 2: return expected(call(rs_ring_write(ring, kPayload, length)), "rs_ring_write");
            case 3: return expected(call(rs_ring_write_wait(ring, kPayload, length, 20'000)), "rs_ring_write_wait");
            default: {
                const rs_result r = call(rng_.chance(50) ? rs_ring_stats_json(ring, &json) : rs_region_ring_stats_json(region, 0, &json));
                rs_string_free(json);
                return expected(r, "stats json");
            }
        }
    }

    void controller_round() {
        char sink[128];
        std::snprintf(sink, sizeof sink, "/tmp/rshostile.%d.sink", static_cast<int>(::getpid()));
        rs_tracer_options options;
        rs_tracer_options_init(&options);
        options.lane_count = kLanes;
        options.rings_per_lane = kTraceRings;
        options.ring_capacity = kCapacity;
        options.sink_dir = sink;
        options.clock = RS_TRACER_CLOCK_MONOTONIC;
        options.liveness_interval_ms = 1;
        options.sync_on_flush = 0;
        rs_tracer_controller_t* controller = nullptr;
        if (rs_tracer_controller_create(name_, &options, &controller) != RS_OK) {
            return fail(std::string("controller create: ") + rs_last_error_message());
        }
        std::byte* base = nullptr;
        std::uint64_t bytes = 0;
        if (!find_mapping(name_, base, bytes)) {
            (void)rs_tracer_controller_destroy(controller);
            return fail("the tracer region's mapping is not in /proc/self/maps");
        }
        auto violations = [&] {
            std::uint64_t total = 0;
            for (std::uint32_t l = 0; l < kLanes; ++l) {
                auto& lane = *reinterpret_cast<tr::LaneControl*>(base + tr::lane_control_offset(l));
                for (std::uint32_t k = 1; k < tr::kViolationKinds; ++k) {
                    // relaxed is enough: counters the controller (this process, same thread) wrote.
                    total += std::atomic_ref<std::uint64_t>(lane.violations[k]).load(std::memory_order_relaxed);
                }
            }
            return total;
        };
        const pid_t peer = start_peer(mode_, base, seed_ * 7919);
        const bool threaded = rng_.chance(30);
        if (threaded && call(rs_tracer_controller_start(controller)) != RS_OK) fail("controller start failed");
        while (now_s() < deadline_) {
            std::uint32_t work = 0;
            char* json = nullptr;
            switch (rng_.below(threaded ? 2 : 4)) {
                case 0: (void)expected(call(rs_tracer_controller_stats_json(controller, &json)), "stats json"); break;
                case 1: (void)expected(call(rs_tracer_controller_flush(controller, 50'000)), "rs_tracer_controller_flush"); break;
                default: (void)expected(call(rs_tracer_controller_poll(controller, &work)), "rs_tracer_controller_poll"); break;
            }
            rs_string_free(json);
            if (threaded) pause_us(200);
        }
        stop_peer(peer);
        // The dead agent's lane is recovered with whatever it left behind.
        std::uint32_t work = 0;
        if (threaded) {
            if (call(rs_tracer_controller_stop(controller, 1'000'000)) < 0) fail(std::string("stop: ") + rs_last_error_message());
        } else {
            for (int i = 0; i < 3; ++i) (void)expected(call(rs_tracer_controller_poll(controller, &work)), "poll after the agent died");
        }
        summary_.modes[static_cast<int>(mode_)].corrupt_reported += violations();
        // A dump that left the mapping would not fault: writev() returns
        // EFAULT. The controller counts that as a sink error.
        char* json = nullptr;
        if (rs_tracer_controller_stats_json(controller, &json) == RS_OK) {
            const char* field = std::strstr(json, "\"sink_errors\":");
            if (field == nullptr || std::strtoull(field + 14, nullptr, 10) != 0) {
                fail("the controller's dumps failed (sink_errors != 0: a write from outside the mapping?)");
            }
        }
        rs_string_free(json);
        if (call(rs_tracer_controller_destroy(controller)) != RS_OK) fail(std::string("controller destroy: ") + rs_last_error_message());
        if (DIR* dir = ::opendir(sink)) {
            while (const dirent* entry = ::readdir(dir)) {
                if (entry->d_name[0] != '.') ::unlink((std::string(sink) + "/" + entry->d_name).c_str());
            }
            ::closedir(dir);
            ::rmdir(sink);
        }
    }

    Summary& summary_;
    Mode mode_;
    Rng rng_;
    std::uint64_t seed_;
    double deadline_;
    char name_[96] = {};
    std::byte* data_ = nullptr;
};

}  // namespace

const char* mode_name(Mode mode) {
    switch (mode) {
        case Mode::kConsumer: return "ring consumer";
        case Mode::kProducer: return "ring producer";
        case Mode::kController: return "tracer controller";
    }
    return "?";
}

Summary run(const Options& options) {
    Summary summary;
    const double start = now_s();
    const double end = start + options.seconds;
    // release: pairs with the watchdog's acquire loads of the flag.
    g_watching.store(true, std::memory_order_release);
    std::thread dog(watchdog);
    std::uint64_t round = 0;
    do {
        const int mode = options.only_mode >= 0 ? options.only_mode : static_cast<int>(round % kModes);
        const std::uint64_t seed = options.seed * 1'000'003 + round;
        const double deadline = std::min(end, now_s() + options.round_ms / 1000.0);
        Round(summary, static_cast<Mode>(mode), seed, deadline).run();
        if (options.verbose) {
            std::fprintf(stderr, "hostile: round %llu (%s) done, %zu failures\n", static_cast<unsigned long long>(round),
                         mode_name(static_cast<Mode>(mode)), summary.failures.size());
        }
        ++round;
    } while (now_s() < end || round < static_cast<std::uint64_t>(options.only_mode >= 0 ? 1 : kModes));
    g_watching.store(false, std::memory_order_release);
    dog.join();
    for (const ModeSummary& mode : summary.modes) {
        summary.rounds += mode.rounds;
        summary.operations += mode.operations;
        summary.corrupt_reported += mode.corrupt_reported;
    }
    summary.seconds = now_s() - start;
    return summary;
}

std::string to_json(const Summary& summary, const Options& options) {
    std::ostringstream out;
    out << "{\"seed\": " << options.seed << ", \"seconds\": " << summary.seconds << ", \"rounds\": " << summary.rounds
        << ", \"operations\": " << summary.operations << ", \"corrupt_reported\": " << summary.corrupt_reported
        << ", \"modes\": {";
    for (int m = 0; m < kModes; ++m) {
        const ModeSummary& mode = summary.modes[m];
        out << (m == 0 ? "" : ", ") << '"' << mode_name(static_cast<Mode>(m)) << "\": {\"rounds\": " << mode.rounds
            << ", \"operations\": " << mode.operations << ", \"corrupt_reported\": " << mode.corrupt_reported << '}';
    }
    out << "}, \"failures\": [";
    for (std::size_t i = 0; i < summary.failures.size(); ++i) {
        std::string text;
        for (const char c : summary.failures[i]) {
            if (c == '"' || c == '\\') text += '\\';
            text += (static_cast<unsigned char>(c) < 0x20) ? ' ' : c;
        }
        out << (i == 0 ? "" : ", ") << '"' << text << '"';
    }
    out << "]}\n";
    return out.str();
}

}  // namespace rshostile
