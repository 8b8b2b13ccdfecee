// Decoding and verification of the tracer's lane files (sink_format.h), for
// ringside-trace-read and the tests. Not part of the C API: a plain C++
// library (ringside_trace_reader) with std containers, never linked into the
// hot path. Trusts nothing it reads: every block and record is
// bounds-checked, and a bad one is reported, never followed.
#pragma once

#include <cstdint>
#include <cstdio>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "tracer/sink_format.h"
#include "tracer/trace_layout.h"

namespace ringside::trace::reader {

enum class RowKind { kEvent, kGap, kMark };
enum class DetailStatus { kNone, kKept, kNotKept, kBad };

const char* cause_name(std::uint32_t cause);
const char* detail_name(DetailStatus status);

// One decoded index record.
struct Row {
    RowKind kind = RowKind::kEvent;
    std::uint32_t lane = 0;
    std::uint32_t session = 0;
    std::uint64_t seq = 0;        // implicit for events; gap: first lost; mark: the next event's seq
    std::uint64_t ts = 0;         // trace clock
    std::uint64_t ts_ns = 0;      // CLOCK_MONOTONIC ns
    std::uint32_t event_id = 0;
    std::uint32_t length = 0;     // payload bytes: 0 without a payload; known only when the detail is kept
    std::uint64_t count = 0;      // gap: events lost
    std::uint32_t cause = 0;      // gap: DropCause
    std::uint32_t detail_window = 0;  // the detail window of an event with a payload; mark: the window marked
    std::uint32_t detail_offset = 0;
    DetailStatus detail = DetailStatus::kNone;
    std::vector<std::uint8_t> payload;  // with Options::payloads and a kept detail
};

struct Gap {
    std::uint64_t first = 0;
    std::uint64_t count = 0;
    std::string cause;            // a DropCause name, "dropped_at_end", or "unexplained"
};

// What one agent session of one lane proved.
struct SessionReport {
    std::uint32_t lane = 0;
    std::uint32_t session = 0;
    std::uint64_t events = 0;
    std::uint64_t first_seq = 0;
    std::uint64_t next_seq = 0;   // one past the highest sequence accounted for
    std::uint64_t duplicates = 0;
    std::uint64_t out_of_order = 0;
    std::uint64_t marks = 0;
    std::uint64_t lost_explained = 0;
    std::uint64_t lost_unexplained = 0;
    std::uint64_t details_kept = 0;
    std::uint64_t details_not_kept = 0;
    std::uint64_t details_bad = 0;
    std::uint64_t recovered_blocks = 0;
    bool ended = false;           // a SessionEnd block closed it
    std::uint32_t end_reason = 0;
    std::uint64_t end_seq_next = 0;
    std::vector<Gap> gaps;
    [[nodiscard]] bool ok() const { return duplicates == 0 && out_of_order == 0 && lost_unexplained == 0 && details_bad == 0; }
};

struct Report {
    std::vector<SessionReport> sessions;
    std::vector<std::string> errors;  // corrupt blocks, bad records, unreadable files
    std::uint64_t blocks = 0;
    [[nodiscard]] bool ok() const;
};

struct Options {
    bool payloads = false;
    std::optional<std::uint64_t> from_ns;  // only index blocks overlapping [from_ns, to_ns] (via .rstidx)
    std::optional<std::uint64_t> to_ns;
};

// Reads one lane file (lane-NNNN.rstrace), calling `on_row` (may be empty)
// for each index record in file order, and appends to `report`.
bool read_lane_file(const std::string& path, const Options& options, const std::function<void(const Row&)>& on_row,
                    Report& report);

// Every lane-*.rstrace in `dir`, in lane order.
std::vector<std::string> lane_files(const std::string& dir);

std::string report_json(const Report& report);

}  // namespace ringside::trace::reader
