// One pass over a window's committed records, as the controller makes it
// before it writes a byte: every header validated with the ring code's
// decode_record, never past one lap of the window, never outside the data
// area. Used to dump submitted and recovered windows and by flush snapshots
// of windows the agent still holds (controller_snapshot.cpp).
#pragma once

#include <cstdint>

#include "ring/ring_view.hpp"
#include "tracer/trace_layout.h"

namespace ringside::trace {

// What a pass over one window found.
struct ScannedWindow {
    std::uint64_t origin = 0;   // the window's start (ring position)
    std::uint64_t start = 0;    // where this pass started (origin, or where a flush snapshot ended)
    std::uint64_t end = 0;      // the first position not scanned: a zero commit word, or where validation stopped
    std::uint64_t records = 0;  // records scanned, padding not counted
    std::uint64_t events = 0;   // index: event records; detail: payload records
    std::uint64_t first_seq = 0;
    std::uint64_t last_seq = 0;
    std::uint64_t first_ts = 0;
    std::uint64_t last_ts = 0;
    std::uint64_t next_seq = 0;  // index: the sequence number after the last record scanned
    std::uint32_t violations = 0;
    bool has_seq = false;
    bool truncated = false;
};

// Walks the committed records from `start` (record-aligned, inside the
// window that begins at `origin`). Index windows number their events from
// `first_seq` (RingInfo.first_seq or RingInfo.flushed_seq: written by the
// agent or kept for it, so only reported, never trusted). kind kNone: a
// window taken back unread; only its structure is checked.
ScannedWindow scan_window(const RingView& view, RingKind kind, std::uint64_t origin, std::uint64_t start,
                          std::uint64_t first_seq);

}  // namespace ringside::trace
