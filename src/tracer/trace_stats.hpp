// The tracer's metrics as JSON, read from shared memory with relaxed loads
// (snapshots: both sides keep running; every field is display-only).
// Shared by the controller's stats, the agent's stats and the inspector.
#pragma once

#include <cstdint>

#include "tracer/json_out.hpp"
#include "tracer/trace_region.hpp"

namespace ringside::trace {

// Geometry, clock and the controller's header counters (no enclosing braces).
void region_json(JsonOut& json, const TraceRegion& region);
// One lane as an object (with an optional key when inside an object).
void lane_json(JsonOut& json, const TraceRegion& region, std::uint32_t lane);
// "lanes": every lane that has ever been claimed.
void lanes_json(JsonOut& json, const TraceRegion& region);

}  // namespace ringside::trace
