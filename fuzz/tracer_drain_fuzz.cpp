// libFuzzer target: the tracer controller's drain against an agent whose
// every move comes from the input. Each input gets a fresh controller (one
// lane, four 4 KiB rings) and plays a hostile agent on lane 0 through a
// second mapping: real windows submitted, raw submit entries, queue counters,
// record headers, window starts, ring infos, lane state and claim, with
// polls in between and at the end (the agent is then declared dead, so its
// lane is recovered with whatever it left). The controller must never touch
// memory outside its guarded mapping, never hang, and destroy cleanly.
//
// Input: a sequence of (u8 op, operands) until it runs out.
#include <dirent.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "common/process.hpp"
#include "fuzz_input.hpp"
#include "ringside/tracer.h"
#include "tracer/index_queue.hpp"
#include "tracer/ring_appender.hpp"
#include "tracer/trace_region.hpp"

namespace {

using namespace ringside;
using namespace ringside::trace;

constexpr std::uint32_t kRings = 4;
constexpr std::uint64_t kCapacity = 4096;

const std::string& scratch() {
    // Never destroyed: the cleanup at exit still needs it.
    static const std::string& dir = *new std::string([] {
        const char* tmp = std::getenv("TMPDIR");
        std::string pattern = std::string(tmp != nullptr && tmp[0] != '\0' ? tmp : "/tmp") + "/rsfuzz.drain.XXXXXX";
        if (::mkdtemp(pattern.data()) == nullptr) std::abort();
        return pattern;
    }());
    return dir;
}

void empty_sink(const std::string& sink) {
    if (DIR* dir = ::opendir(sink.c_str())) {
        while (const dirent* entry = ::readdir(dir)) {
            if (entry->d_name[0] != '.') ::unlink((sink + "/" + entry->d_name).c_str());
        }
        ::closedir(dir);
    }
}

struct Cleanup {
    ~Cleanup() {
        empty_sink(scratch() + "/sink");
        ::rmdir((scratch() + "/sink").c_str());
        ::rmdir(scratch().c_str());
    }
} g_cleanup;

std::uint64_t my_claim() {
    static const std::uint64_t claim = claim_word(::getpid(), self_start_ticks());
    return claim;
}

// The agent's stores. release: like a real agent's publishing stores, so what
// it wrote before (records, ring infos) is ordered before each (the
// controller runs on this thread anyway, in poll()).
template <typename T>
void poke(T& field, T value) {
    std::atomic_ref<T>(field).store(value, std::memory_order_release);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* bytes, std::size_t size) {
    rsfuzz::Input in(bytes, size);
    char name[64];
    std::snprintf(name, sizeof name, "/rsfuzz.drain.%d", static_cast<int>(::getpid()));
    const std::string sink = scratch() + "/sink";
    rs_tracer_options options;
    rs_tracer_options_init(&options);
    options.lane_count = 1;
    options.rings_per_lane = kRings;
    options.ring_capacity = kCapacity;
    options.sink_dir = sink.c_str();
    options.clock = RS_TRACER_CLOCK_MONOTONIC;
    options.prefault = 0;
    options.sync_on_flush = 0;
    rs_tracer_controller_t* controller = nullptr;
    if (rs_tracer_controller_create(name, &options, &controller) != RS_OK) rsfuzz::broken("controller create failed");
    TraceRegion* region = nullptr;
    if (TraceRegion::open(name, RS_BACKING_SHM, TraceRegion::Access::kReadWrite, &region) != RS_OK) {
        rsfuzz::broken("second mapping of the tracer region failed");
    }
    LaneControl& lane = region->lane(0);
    poke(lane.agent_pid, static_cast<std::int32_t>(::getpid()));
    poke(lane.session, 1u);
    poke(lane.claim, my_claim());
    poke(lane.state, static_cast<std::uint32_t>(LaneState::kActive));
    QueuePopper free_q;
    QueuePusher submit_q;
    (void)free_q.attach(free_queue(lane));
    (void)submit_q.attach(submit_queue(lane));
    std::uint64_t seq = 0;
    std::uint32_t work = 0;
    for (int step = 0; step < 256 && !in.empty(); ++step) {
        const std::uint8_t op = in.byte();
        const std::uint32_t ring = in.byte() % (kRings + 1);  // one past the end, sometimes
        const RingView view = region->ring_view(0, ring % kRings);
        RingInfo& info = region->ring_info(0, ring % kRings);
        switch (op % 10) {
            case 0: case 1: {  // a real window, maybe damaged after the fact
                std::uint32_t popped = 0;
                if (free_q.try_pop(popped) != QueueStatus::kOk || popped >= kRings) break;
                const RingView window = region->ring_view(0, popped);
                RingAppender appender;
                appender.start(window, window.control->read_position & ~std::uint64_t{7});
                RingInfo& window_info = region->ring_info(0, popped);
                poke(window_info.kind, static_cast<std::uint32_t>(RingKind::kIndex));
                poke(window_info.first_seq, seq);
                const std::uint32_t events = in.byte();
                for (std::uint32_t i = 0; i < events; ++i) {
                    std::byte* slot = appender.try_reserve(sizeof(IndexEvent));
                    if (slot == nullptr) break;
                    const IndexEvent event{seq++, 1, kNoDetail};
                    std::memcpy(slot, &event, sizeof event);
                    appender.commit();
                }
                const auto action = static_cast<SubmitAction>(1 + in.byte() % 3);
                (void)submit_q.try_push(submit_entry(popped, action));
                break;
            }
            case 2: {  // a raw submit entry
                // relaxed is enough: the agent's own counter.
                const std::uint64_t tail = std::atomic_ref<std::uint64_t>(lane.submit_tail).load(std::memory_order_relaxed);
                poke(lane.submit_slots[tail % kQueueSlots], in.take<std::uint32_t>());
                poke(lane.submit_tail, tail + 1);
                break;
            }
            case 3: poke(lane.submit_tail, in.take<std::uint64_t>()); break;
            case 4: poke(lane.free_head, in.take<std::uint64_t>()); break;
            case 5: {  // a record header anywhere in a ring
                const std::uint64_t offset = (in.take<std::uint16_t>() % kCapacity) & ~std::uint64_t{3};
                poke(*reinterpret_cast<std::uint32_t*>(view.data + offset), in.take<std::uint32_t>());
                break;
            }
            case 6: poke(view.control->read_position, in.take<std::uint64_t>()); break;
            case 7: {
                poke(info.kind, static_cast<std::uint32_t>(in.byte() % 4));
                poke(info.controller_holds, static_cast<std::uint32_t>(in.byte() % 2));
                poke(info.first_seq, in.take<std::uint64_t>());
                break;
            }
            case 8: {  // lane state and claim
                const std::uint8_t how = in.byte();
                poke(lane.state, static_cast<std::uint32_t>(how % 4));
                if ((how & 0x10) != 0) poke(lane.claim, (how & 0x20) != 0 ? in.take<std::uint64_t>() : my_claim());
                (void)free_q.attach(free_queue(lane));
                (void)submit_q.attach(submit_queue(lane));
                break;
            }
            default:
                if (rs_tracer_controller_poll(controller, &work) != RS_OK) rsfuzz::broken("poll failed");
                break;
        }
    }
    if (rs_tracer_controller_poll(controller, &work) != RS_OK) rsfuzz::broken("poll failed");
    // The agent dies: its lane is recovered from whatever it left.
    poke(lane.claim, claim_word(0x7FFF'FFF0, 1));
    poke(lane.state, static_cast<std::uint32_t>(LaneState::kActive));
    if (rs_tracer_controller_poll(controller, &work) != RS_OK) rsfuzz::broken("poll failed");
    // A dump from outside the mapping would not fault (writev() returns
    // EFAULT): the controller counts it as a sink error.
    char* json = nullptr;
    if (rs_tracer_controller_stats_json(controller, &json) != RS_OK) rsfuzz::broken("stats failed");
    const char* field = std::strstr(json, "\"sink_errors\":");
    if (field == nullptr || std::strtoull(field + 14, nullptr, 10) != 0) rsfuzz::broken("a dump failed (EFAULT?)");
    rs_string_free(json);
    TraceRegion::destroy(region, false);
    if (rs_tracer_controller_destroy(controller) != RS_OK) rsfuzz::broken("controller destroy failed");
    empty_sink(sink);
    return 0;
}
