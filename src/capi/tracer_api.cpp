// rs_tracer_*: the tracer's C API (tracer.h): controller create/start/stop/
// flush/stats, agent open/emit/reserve/commit/mark/flush/close, inspection.
#include <cstring>
#include <mutex>

#include "capi/handle_table.hpp"
#include "common/alloc.hpp"
#include "common/error.hpp"
#include "ringside/tracer.h"
#include "tracer/agent.hpp"
#include "tracer/controller.hpp"
#include "tracer/trace_stats.hpp"

using namespace ringside;
using namespace ringside::trace;

namespace {

constexpr std::uint32_t kOptionsCheck = 0x5253544Fu;       // "RSTO"
constexpr std::uint32_t kAgentOptionsCheck = 0x52535441u;  // "RSTA"

using AgentTable = HandleTable<TraceAgent, 4096, 0xD7>;
using ControllerTable = HandleTable<TraceController, 256, 0xE9>;

// Constant-initialised: the hot path's lookup pays no guard check.
constinit AgentTable g_agents;
constinit ControllerTable g_controllers;
// Create and destroy of controllers are serialised (never the hot path).
constinit std::mutex g_controller_lifecycle;

[[gnu::cold, gnu::noinline]] void bad_agent(const char* function) {
    fail(RS_ERR_INVALID_ARGUMENT, "%s: agent handle is NULL, invalid or closed", function);
}

// On the hot path: one generation check, inline; the failure is out of line.
[[gnu::always_inline]] inline TraceAgent* agent_from(const rs_tracer_agent_t* handle, const char* function) {
    TraceAgent* agent = g_agents.lookup(handle);
    if (agent == nullptr) [[unlikely]] bad_agent(function);
    return agent;
}

TraceController* controller_from(const rs_tracer_controller_t* handle, const char* function) {
    TraceController* controller = g_controllers.lookup(handle);
    if (controller == nullptr) {
        fail(RS_ERR_INVALID_ARGUMENT, "%s: controller handle is NULL, invalid or destroyed", function);
    }
    return controller;
}

bool is_power_of_two(std::uint64_t value) { return value != 0 && (value & (value - 1)) == 0; }

rs_result validate(const rs_tracer_options& options) {
    if (options.struct_size < sizeof(rs_tracer_options) || options.check != kOptionsCheck) {
        return fail(RS_ERR_INVALID_ARGUMENT,
                    "rs_tracer_options not initialised (struct_size %u, check 0x%x): call rs_tracer_options_init",
                    options.struct_size, options.check);
    }
    // Enums from callers are read as ints before they are checked.
    int backing = 0;
    int clock = 0;
    std::memcpy(&backing, &options.backing, sizeof backing);
    std::memcpy(&clock, &options.clock, sizeof clock);
    if (backing != RS_BACKING_SHM && backing != RS_BACKING_FILE) {
        return fail(RS_ERR_INVALID_ARGUMENT, "unknown backing %d", backing);
    }
    if (options.sink_dir == nullptr || options.sink_dir[0] == '\0') {
        return fail(RS_ERR_INVALID_ARGUMENT, "rs_tracer_options.sink_dir is required");
    }
    if (options.liveness_interval_ms < 1 || options.liveness_interval_ms > 60'000) {
        return fail(RS_ERR_INVALID_ARGUMENT, "liveness_interval_ms %u outside 1..60000", options.liveness_interval_ms);
    }
    if (options.open_existing != 0) return RS_OK;  // the geometry comes from the region
    if (options.lane_count < 1 || options.lane_count > kMaxLanes) {
        return fail(RS_ERR_INVALID_ARGUMENT, "lane_count %u outside 1..%u", options.lane_count, kMaxLanes);
    }
    if (options.rings_per_lane < kMinRingsPerLane || options.rings_per_lane > kMaxRingsPerLane) {
        return fail(RS_ERR_INVALID_ARGUMENT, "rings_per_lane %u outside %u..%u", options.rings_per_lane,
                    kMinRingsPerLane, kMaxRingsPerLane);
    }
    if (!is_power_of_two(options.ring_capacity) || options.ring_capacity < layout::kMinCapacity ||
        options.ring_capacity > layout::kMaxCapacity) {
        return fail(RS_ERR_INVALID_ARGUMENT, "ring_capacity %llu must be a power of two in %llu..%llu",
                    static_cast<unsigned long long>(options.ring_capacity),
                    static_cast<unsigned long long>(layout::kMinCapacity),
                    static_cast<unsigned long long>(layout::kMaxCapacity));
    }
    if (clock != RS_TRACER_CLOCK_TSC && clock != RS_TRACER_CLOCK_MONOTONIC) {
        return fail(RS_ERR_INVALID_ARGUMENT, "unknown clock %d", clock);
    }
    if ((options.mode & ~0777u) != 0) return fail(RS_ERR_INVALID_ARGUMENT, "mode 0%o has bits outside 0777", options.mode);
    return RS_OK;
}

rs_result validate(const rs_tracer_agent_options& options) {
    if (options.struct_size < sizeof(rs_tracer_agent_options) || options.check != kAgentOptionsCheck) {
        return fail(RS_ERR_INVALID_ARGUMENT,
                    "rs_tracer_agent_options not initialised (struct_size %u, check 0x%x): call "
                    "rs_tracer_agent_options_init",
                    options.struct_size, options.check);
    }
    int backing = 0;
    int policy = 0;
    std::memcpy(&backing, &options.backing, sizeof backing);
    std::memcpy(&policy, &options.policy, sizeof policy);
    if (backing != RS_BACKING_SHM && backing != RS_BACKING_FILE) {
        return fail(RS_ERR_INVALID_ARGUMENT, "unknown backing %d", backing);
    }
    if (policy < RS_TRACER_DROP_NEWEST || policy > RS_TRACER_WAIT) {
        return fail(RS_ERR_INVALID_ARGUMENT, "unknown policy %d", policy);
    }
    if (options.lane < -1) return fail(RS_ERR_INVALID_ARGUMENT, "lane %d: use -1 or a lane index", options.lane);
    return RS_OK;
}

[[gnu::cold, gnu::noinline]] rs_result emit_error(TraceAgent& agent, std::uint32_t event_id, const void* data, std::size_t length,
                     const char* function) {
    if (event_id > RS_TRACER_MAX_EVENT_ID) {
        return fail(RS_ERR_INVALID_ARGUMENT, "%s: event id 0x%x is reserved (above RS_TRACER_MAX_EVENT_ID)", function,
                    event_id);
    }
    if (length > agent.max_payload()) {
        return fail(RS_ERR_TOO_LARGE, "%s: payload of %zu bytes exceeds the maximum of %llu", function, length,
                    static_cast<unsigned long long>(agent.max_payload()));
    }
    (void)data;
    return fail(RS_ERR_INVALID_ARGUMENT, "%s: data is NULL", function);
}

}  // namespace

extern "C" {

void rs_tracer_options_init(rs_tracer_options* options) {
    if (options == nullptr) {
        fail(RS_ERR_INVALID_ARGUMENT, "rs_tracer_options_init: options is NULL");
        return;
    }
    std::memset(options, 0, sizeof *options);
    options->struct_size = sizeof *options;
    options->check = kOptionsCheck;
    options->backing = RS_BACKING_SHM;
    options->lane_count = 4;
    options->rings_per_lane = 16;
    options->mode = 0600;
    options->ring_capacity = 1u << 20;
    options->clock = RS_TRACER_CLOCK_TSC;
    options->liveness_interval_ms = 50;
    options->prefault = 1;
    options->sync_on_flush = 1;
}

rs_result rs_tracer_controller_create(const char* name, const rs_tracer_options* options,
                                      rs_tracer_controller_t** out) {
    if (out == nullptr) return fail(RS_ERR_INVALID_ARGUMENT, "rs_tracer_controller_create: out is NULL");
    *out = nullptr;
    if (options == nullptr) return fail(RS_ERR_INVALID_ARGUMENT, "rs_tracer_controller_create: options is NULL");
    if (rs_result r = validate(*options); r != RS_OK) return r;
    ControllerOptions internal;
    internal.backing = options->backing;
    internal.geometry = TraceGeometry{options->lane_count, options->rings_per_lane, options->ring_capacity};
    internal.mode = options->mode;
    internal.clock = options->clock == RS_TRACER_CLOCK_TSC ? ClockKind::kTsc : ClockKind::kMonotonic;
    internal.prefault = options->prefault != 0;
    internal.open_existing = options->open_existing != 0;
    internal.keep_on_destroy = options->keep_on_destroy != 0;
    internal.sync_on_flush = options->sync_on_flush != 0;
    internal.liveness_interval_ms = options->liveness_interval_ms;
    internal.sink_dir = options->sink_dir;
    std::lock_guard<std::mutex> lock(g_controller_lifecycle);
    TraceController* controller = nullptr;
    if (rs_result r = TraceController::create(name, internal, &controller); r != RS_OK) return r;
    const std::uintptr_t handle = g_controllers.insert(controller);
    if (handle == 0) {
        TraceController::destroy(controller);
        return fail(RS_ERR_NO_MEMORY, "rs_tracer_controller_create: too many controllers are open");
    }
    *out = reinterpret_cast<rs_tracer_controller_t*>(handle);
    return RS_OK;
}

rs_result rs_tracer_controller_start(rs_tracer_controller_t* handle) {
    TraceController* controller = controller_from(handle, "rs_tracer_controller_start");
    if (controller == nullptr) return RS_ERR_INVALID_ARGUMENT;
    return controller->start();
}

rs_result rs_tracer_controller_stop(rs_tracer_controller_t* handle, uint64_t timeout_ns) {
    TraceController* controller = controller_from(handle, "rs_tracer_controller_stop");
    if (controller == nullptr) return RS_ERR_INVALID_ARGUMENT;
    return controller->stop(timeout_ns);
}

rs_result rs_tracer_controller_flush(rs_tracer_controller_t* handle, uint64_t timeout_ns) {
    TraceController* controller = controller_from(handle, "rs_tracer_controller_flush");
    if (controller == nullptr) return RS_ERR_INVALID_ARGUMENT;
    return controller->flush(timeout_ns);
}

rs_result rs_tracer_controller_poll(rs_tracer_controller_t* handle, uint32_t* work) {
    TraceController* controller = controller_from(handle, "rs_tracer_controller_poll");
    if (controller == nullptr) return RS_ERR_INVALID_ARGUMENT;
    if (controller->running()) return fail(RS_BUSY, "rs_tracer_controller_poll: the drain thread is running");
    const std::uint32_t done = controller->poll();
    if (work != nullptr) *work = done;
    return RS_OK;
}

rs_result rs_tracer_controller_destroy(rs_tracer_controller_t* handle) {
    std::lock_guard<std::mutex> lock(g_controller_lifecycle);
    TraceController* controller = controller_from(handle, "rs_tracer_controller_destroy");
    if (controller == nullptr) return RS_ERR_INVALID_ARGUMENT;
    if (controller->running()) return fail(RS_BUSY, "rs_tracer_controller_destroy: the controller is running");
    g_controllers.remove(handle);
    return TraceController::destroy(controller);
}

rs_result rs_tracer_controller_stats_json(rs_tracer_controller_t* handle, char** out_json) {
    if (out_json == nullptr) return fail(RS_ERR_INVALID_ARGUMENT, "rs_tracer_controller_stats_json: out_json is NULL");
    *out_json = nullptr;
    TraceController* controller = controller_from(handle, "rs_tracer_controller_stats_json");
    if (controller == nullptr) return RS_ERR_INVALID_ARGUMENT;
    return controller->stats_json(out_json);
}

rs_result rs_tracer_inspect_json(const char* name, rs_backing backing, char** out_json) {
    if (out_json == nullptr) return fail(RS_ERR_INVALID_ARGUMENT, "rs_tracer_inspect_json: out_json is NULL");
    *out_json = nullptr;
    TraceRegion* region = nullptr;
    if (rs_result r = TraceRegion::open(name, backing, TraceRegion::Access::kReadOnly, &region); r != RS_OK) return r;
    JsonOut json;
    json.begin_object();
    region_json(json, *region);
    lanes_json(json, *region);
    json.end_object();
    TraceRegion::destroy(region, false);
    *out_json = json.finish();
    return *out_json != nullptr ? RS_OK : fail(RS_ERR_NO_MEMORY, "rs_tracer_inspect_json: out of memory");
}

void rs_tracer_agent_options_init(rs_tracer_agent_options* options) {
    if (options == nullptr) {
        fail(RS_ERR_INVALID_ARGUMENT, "rs_tracer_agent_options_init: options is NULL");
        return;
    }
    std::memset(options, 0, sizeof *options);
    options->struct_size = sizeof *options;
    options->check = kAgentOptionsCheck;
    options->backing = RS_BACKING_SHM;
    options->policy = RS_TRACER_DROP_NEWEST;
    options->wait_timeout_ns = 1'000'000;
    options->lane = -1;
    options->prefault = 1;
}

rs_result rs_tracer_open(const char* name, const rs_tracer_agent_options* options, rs_tracer_agent_t** out) {
    if (out == nullptr) return fail(RS_ERR_INVALID_ARGUMENT, "rs_tracer_open: out is NULL");
    *out = nullptr;
    rs_tracer_agent_options defaults;
    if (options == nullptr) {
        rs_tracer_agent_options_init(&defaults);
        options = &defaults;
    }
    if (rs_result r = validate(*options); r != RS_OK) return r;
    AgentOptions internal;
    internal.backing = options->backing;
    internal.policy = static_cast<Policy>(options->policy);
    internal.wait_timeout_ns = options->wait_timeout_ns;
    internal.lane = options->lane;
    internal.prefault = options->prefault != 0;
    TraceAgent* agent = nullptr;
    if (rs_result r = TraceAgent::open(name, internal, &agent); r != RS_OK) return r;
    const std::uintptr_t handle = g_agents.insert(agent);
    if (handle == 0) {
        TraceAgent::close(agent);
        return fail(RS_ERR_NO_MEMORY, "rs_tracer_open: too many agents are open");
    }
    *out = reinterpret_cast<rs_tracer_agent_t*>(handle);
    return RS_OK;
}

rs_result rs_tracer_close(rs_tracer_agent_t* handle) {
    TraceAgent* agent = agent_from(handle, "rs_tracer_close");
    if (agent == nullptr) return RS_ERR_INVALID_ARGUMENT;
    if (agent->reserved()) return fail(RS_BUSY, "rs_tracer_close: a reservation is pending: commit it first");
    if (g_agents.remove(handle) == nullptr) {
        return fail(RS_ERR_INVALID_ARGUMENT, "rs_tracer_close: agent closed concurrently");
    }
    TraceAgent::close(agent);
    return RS_OK;
}

rs_result rs_tracer_emit(rs_tracer_agent_t* handle, uint32_t event_id, const void* data, size_t length) {
    TraceAgent* agent = agent_from(handle, "rs_tracer_emit");
    if (agent == nullptr) [[unlikely]] return RS_ERR_INVALID_ARGUMENT;
    if (event_id > RS_TRACER_MAX_EVENT_ID || length > agent->max_payload() || (data == nullptr && length != 0))
        [[unlikely]] {
        return emit_error(*agent, event_id, data, length, "rs_tracer_emit");
    }
    return agent->emit(event_id, data, static_cast<std::uint32_t>(length)) ? RS_OK : RS_FULL;
}

rs_result rs_tracer_reserve(rs_tracer_agent_t* handle, uint32_t event_id, size_t length, void** out_data) {
    TraceAgent* agent = agent_from(handle, "rs_tracer_reserve");
    if (agent == nullptr) [[unlikely]] return RS_ERR_INVALID_ARGUMENT;
    if (out_data == nullptr) return fail(RS_ERR_INVALID_ARGUMENT, "rs_tracer_reserve: out_data is NULL");
    *out_data = nullptr;
    if (event_id > RS_TRACER_MAX_EVENT_ID || length > agent->max_payload()) [[unlikely]] {
        return emit_error(*agent, event_id, out_data, length, "rs_tracer_reserve");
    }
    if (agent->reserved()) return fail(RS_BUSY, "rs_tracer_reserve: a reservation is pending: commit it first");
    std::byte* payload = agent->reserve(event_id, static_cast<std::uint32_t>(length));
    if (payload == nullptr) return RS_FULL;
    *out_data = payload;
    return RS_OK;
}

rs_result rs_tracer_commit(rs_tracer_agent_t* handle) {
    TraceAgent* agent = agent_from(handle, "rs_tracer_commit");
    if (agent == nullptr) [[unlikely]] return RS_ERR_INVALID_ARGUMENT;
    if (!agent->reserved()) return fail(RS_ERR_INVALID_ARGUMENT, "rs_tracer_commit: nothing reserved");
    agent->commit();
    return RS_OK;
}

rs_result rs_tracer_mark(rs_tracer_agent_t* handle) {
    TraceAgent* agent = agent_from(handle, "rs_tracer_mark");
    if (agent == nullptr) return RS_ERR_INVALID_ARGUMENT;
    agent->mark();
    return RS_OK;
}

rs_result rs_tracer_flush(rs_tracer_agent_t* handle) {
    TraceAgent* agent = agent_from(handle, "rs_tracer_flush");
    if (agent == nullptr) return RS_ERR_INVALID_ARGUMENT;
    agent->flush();
    return RS_OK;
}

rs_result rs_tracer_max_payload(rs_tracer_agent_t* handle, size_t* out_bytes) {
    TraceAgent* agent = agent_from(handle, "rs_tracer_max_payload");
    if (agent == nullptr) return RS_ERR_INVALID_ARGUMENT;
    if (out_bytes == nullptr) return fail(RS_ERR_INVALID_ARGUMENT, "rs_tracer_max_payload: out_bytes is NULL");
    *out_bytes = agent->max_payload();
    return RS_OK;
}

rs_result rs_tracer_agent_lane(rs_tracer_agent_t* handle, uint32_t* out_lane) {
    TraceAgent* agent = agent_from(handle, "rs_tracer_agent_lane");
    if (agent == nullptr) return RS_ERR_INVALID_ARGUMENT;
    if (out_lane == nullptr) return fail(RS_ERR_INVALID_ARGUMENT, "rs_tracer_agent_lane: out_lane is NULL");
    *out_lane = agent->lane_index();
    return RS_OK;
}

rs_result rs_tracer_agent_stats_json(rs_tracer_agent_t* handle, char** out_json) {
    if (out_json == nullptr) return fail(RS_ERR_INVALID_ARGUMENT, "rs_tracer_agent_stats_json: out_json is NULL");
    *out_json = nullptr;
    TraceAgent* agent = agent_from(handle, "rs_tracer_agent_stats_json");
    if (agent == nullptr) return RS_ERR_INVALID_ARGUMENT;
    JsonOut json;
    lane_json(json, agent->region(), agent->lane_index());
    *out_json = json.finish();
    return *out_json != nullptr ? RS_OK : fail(RS_ERR_NO_MEMORY, "rs_tracer_agent_stats_json: out of memory");
}

}  // extern "C"
